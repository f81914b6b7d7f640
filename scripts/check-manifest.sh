#!/usr/bin/env bash
# Links the app's manifest with aapt2 against the Android framework resources
# (Debian's android-framework-res), so a wrong attribute, permission or component
# declaration fails here rather than on a device. Installs aapt and the framework
# resources from Debian's packages when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

FRAMEWORK=/usr/share/android-framework-res/framework-res.apk
if ! command -v aapt2 >/dev/null 2>&1 || [ ! -f "$FRAMEWORK" ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q aapt android-framework-res >/dev/null
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
aapt2 link --manifest android/app/src/main/AndroidManifest.xml -I "$FRAMEWORK" \
    --min-sdk-version 24 --target-sdk-version 34 -o "$out/app.apk"
# The linked manifest must still declare what the shell relies on, and every
# component it names must be a class the Kotlin build produced.
dump=$(aapt2 dump xmltree --file AndroidManifest.xml "$out/app.apk")
for needed in android.permission.BIND_JOB_SERVICE android.permission.ACCESS_NETWORK_STATE android.permission.INTERNET; do
    if ! grep -q "\"$needed\"" <<<"$dump"; then
        echo "check-manifest: $needed is missing from the linked manifest" >&2
        exit 1
    fi
done
for component in TsdApp MainActivity SettingsActivity ScanReceiver SyncJobService; do
    if ! grep -q "=\".$component\"" <<<"$dump"; then
        echo "check-manifest: .$component is not declared" >&2
        exit 1
    fi
    if [ -d android/app/target/classes ] && [ ! -f "android/app/target/classes/ru/tsd/app/$component.class" ]; then
        echo "check-manifest: the manifest names .$component but no such class was compiled" >&2
        exit 1
    fi
done
echo "check-manifest: AndroidManifest.xml links against $(basename "$FRAMEWORK")"
