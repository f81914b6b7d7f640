// ru.tsd.runtime as an Android library: the Kotlin wrapper plus the Rust library
// built for each device ABI by cargo-ndk (https://github.com/bbqsrc/cargo-ndk):
//   cargo install cargo-ndk && rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "ru.tsd.runtime"
    compileSdk = 34
    defaultConfig {
        minSdk = 24
        // R8 keeps what libtsd_jni finds by name (see the file).
        consumerProguardFiles("consumer-rules.pro")
    }
    sourceSets["main"].java.srcDirs("src/main/kotlin")
    sourceSets["main"].jniLibs.srcDirs(layout.buildDirectory.dir("jniLibs"))
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    kotlinOptions { jvmTarget = "1.8" }
}

val cargoNdk by tasks.registering(Exec::class) {
    description = "Builds libtsd_jni.so for the device ABIs with cargo-ndk (profile release-jni)."
    workingDir = rootDir.parentFile
    commandLine(
        "cargo", "ndk",
        "-t", "arm64-v8a", "-t", "armeabi-v7a", "-t", "x86_64",
        "--platform", "24",
        "-o", layout.buildDirectory.dir("jniLibs").get().asFile.absolutePath,
        "build", "--profile", "release-jni", "-p", "tsd-jni",
    )
}
tasks.named("preBuild") { dependsOn(cargoNdk) }

dependencies {
    // org.json is part of the Android platform; nothing else is needed.
}
