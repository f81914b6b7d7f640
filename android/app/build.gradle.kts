plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "ru.tsd.app"
    compileSdk = 34
    defaultConfig {
        applicationId = "ru.tsd.app"
        minSdk = 24
        targetSdk = 34
        versionCode = 1
        versionName = "0.1.0"
    }
    sourceSets["main"].java.srcDirs("src/main/kotlin")
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    kotlinOptions { jvmTarget = "1.8" }
    packaging { jniLibs.keepDebugSymbols += "**/libtsd_jni.so" }
    buildTypes {
        release {
            // R8 shrinks the app; runtime/consumer-rules.pro keeps what libtsd_jni finds by name.
            isMinifyEnabled = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"))
        }
    }
}

dependencies {
    implementation(project(":screens"))
}
