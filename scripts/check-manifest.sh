#!/usr/bin/env bash
# Links the app's manifest and resources with aapt2 against the Android framework
# resources (Debian's android-framework-res), so a wrong attribute, permission,
# resource reference or component declaration fails here rather than on a device.
# The source manifest is in the form the Android Gradle Plugin 8 takes (no
# package=, no <uses-sdk>); like AGP's manifest merger, this script supplies the
# package (the Gradle namespace) and the SDK levels itself. Installs aapt and the
# framework resources from Debian's packages when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

MANIFEST=android/app/src/main/AndroidManifest.xml
FRAMEWORK=/usr/share/android-framework-res/framework-res.apk
if ! command -v aapt2 >/dev/null 2>&1 || [ ! -f "$FRAMEWORK" ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q aapt android-framework-res >/dev/null
fi

# AGP 8 refuses a source manifest that sets these.
if perl -0777 -ne 's/<!--.*?-->//gs; exit(/<manifest\b[^>]*\bpackage=|<uses-sdk/ ? 0 : 1)' "$MANIFEST"; then
    echo "check-manifest: $MANIFEST sets package= or <uses-sdk>; they belong in app/build.gradle.kts (AGP 8)" >&2
    exit 1
fi
gradle_value() { sed -n "s/^ *$1 = \"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" android/app/build.gradle.kts | head -1; }
NAMESPACE=$(gradle_value namespace)
MIN_SDK=$(gradle_value minSdk)
TARGET_SDK=$(gradle_value targetSdk)
VERSION_CODE=$(gradle_value versionCode)
VERSION_NAME=$(gradle_value versionName)
for v in NAMESPACE MIN_SDK TARGET_SDK VERSION_CODE VERSION_NAME; do
    if [ -z "${!v}" ]; then
        echo "check-manifest: could not read $v from android/app/build.gradle.kts" >&2
        exit 1
    fi
done

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
sed "s|<manifest |<manifest package=\"$NAMESPACE\" |" "$MANIFEST" >"$out/AndroidManifest.xml"
aapt2 compile --dir android/app/src/main/res -o "$out/res.zip"
aapt2 link --manifest "$out/AndroidManifest.xml" -I "$FRAMEWORK" -R "$out/res.zip" \
    --min-sdk-version "$MIN_SDK" --target-sdk-version "$TARGET_SDK" \
    --version-code "$VERSION_CODE" --version-name "$VERSION_NAME" -o "$out/app.apk"
# The linked manifest must still declare what the shell relies on, and every
# component it names must be a class the Kotlin build produced.
dump=$(aapt2 dump xmltree --file AndroidManifest.xml "$out/app.apk")
for needed in android.permission.BIND_JOB_SERVICE android.permission.ACCESS_NETWORK_STATE android.permission.INTERNET; do
    if ! grep -q "\"$needed\"" <<<"$dump"; then
        echo "check-manifest: $needed is missing from the linked manifest" >&2
        exit 1
    fi
done
if ! grep -q "networkSecurityConfig" <<<"$dump"; then
    echo "check-manifest: the network security config is not linked" >&2
    exit 1
fi
for component in TsdApp MainActivity SyncJobService InstallResultReceiver; do
    if ! grep -q "=\".$component\"" <<<"$dump"; then
        echo "check-manifest: .$component is not declared" >&2
        exit 1
    fi
    if [ -d android/app/target/classes ] && [ ! -f "android/app/target/classes/ru/tsd/app/$component.class" ]; then
        echo "check-manifest: the manifest names .$component but no such class was compiled" >&2
        exit 1
    fi
done
echo "check-manifest: AndroidManifest.xml ($NAMESPACE, SDK $MIN_SDK..$TARGET_SDK) and res/ link against $(basename "$FRAMEWORK")"
