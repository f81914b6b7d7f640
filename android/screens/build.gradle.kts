// ru.tsd.screens: the operator's screens as plain Kotlin state holders (no Android
// imports; tested on the JVM by the Maven build). An Android library only because
// it depends on :runtime, which carries the native library.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "ru.tsd.screens"
    compileSdk = 34
    defaultConfig { minSdk = 24 }
    sourceSets["main"].java.srcDirs("src/main/kotlin")
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    kotlinOptions { jvmTarget = "1.8" }
}

dependencies {
    api(project(":runtime"))
}
