#!/usr/bin/env bash
# Builds the Android app for devices: the Rust library for arm64-v8a, armeabi-v7a
# and x86_64 with cargo-ndk (profile release-jni), then the APK with Gradle and the
# Android Gradle Plugin. Needs a workstation with the Android SDK (ANDROID_HOME),
# the NDK (ANDROID_NDK_HOME), Gradle 8, and Google's Maven repository.
# NOT run on this repository's development machine, which has none of those; there
# `scripts/test.sh` compiles and tests the same sources on the JVM instead.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${ANDROID_HOME:?set ANDROID_HOME to the Android SDK}"
: "${ANDROID_NDK_HOME:?set ANDROID_NDK_HOME to the Android NDK}"
command -v cargo-ndk >/dev/null 2>&1 || cargo install cargo-ndk
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android

# The Gradle build runs cargo-ndk itself before packaging (android/runtime/build.gradle.kts).
(cd android && gradle --no-daemon :app:assembleRelease)
ls -l android/app/build/outputs/apk/release/
