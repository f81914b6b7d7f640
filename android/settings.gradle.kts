// The device build: Gradle + Android Gradle Plugin + cargo-ndk. NOT run on the
// development machine of this repository (no Android SDK/NDK or Google Maven there);
// the Maven build (pom.xml) compiles and tests the same sources on the JVM instead.
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}
dependencyResolutionManagement {
    repositories {
        google()
        mavenCentral()
    }
}
rootProject.name = "tsd-android"
include(":runtime", ":screens", ":app")
