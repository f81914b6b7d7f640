#!/usr/bin/env bash
# Readies the Windows build of the PC side for its test (cli/tests/windows.rs runs
# this itself): tsd.exe for x86_64-pc-windows-gnu, linked by Debian's mingw-w64,
# and a Wine prefix to run it in. Installs what is missing (the rustup target,
# gcc-mingw-w64-x86-64, wine). Idempotent: a second run only checks.
#
# Prints, on standard output, what the test needs:
#   exe=PATH      tsd.exe
#   prefix=DIR    the Wine prefix (WINEPREFIX)
#   tools=DIR     test stand-ins built for Windows (adb.exe)
# Everything else goes to standard error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
target=x86_64-pc-windows-gnu

apt_install() {
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing $* (the Windows build and its test)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
    else
        echo "missing: apt-get install $* (the Windows build and its test)" >&2
        exit 1
    fi
}
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || apt_install gcc-mingw-w64-x86-64
command -v wine >/dev/null 2>&1 || apt_install wine wine64
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    echo "== rustup target add $target" >&2
    rustup target add "$target" >&2
fi

# Its own target folder: the test runs this while `cargo test` may hold target/.
# The PC build leaves the server out (--no-default-features), as it ships.
echo "== cargo build -p tsd-cli --target $target" >&2
CARGO_TARGET_DIR="$root/target/windows" cargo build --locked -q -p tsd-cli --no-default-features --target "$target" >&2
exe="$root/target/windows/$target/debug/tsd.exe"

tools="$root/target/windows/tools"
mkdir -p "$tools"
if [ ! -f "$tools/bcryptprimitives.dll" ] || [ scripts/wine/bcryptprimitives.c -nt "$tools/bcryptprimitives.dll" ]; then
    x86_64-w64-mingw32-gcc -O2 -shared -o "$tools/bcryptprimitives.dll" \
        scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -ladvapi32
fi
if [ ! -f "$tools/adb.exe" ] || [ scripts/wine/fake-adb.c -nt "$tools/adb.exe" ]; then
    x86_64-w64-mingw32-gcc -O2 -municode -o "$tools/adb.exe" scripts/wine/fake-adb.c
fi

prefix="$root/target/windows/wine"
if [ ! -f "$prefix/system.reg" ]; then
    echo "== wineboot (a new Wine prefix, once)" >&2
    WINEPREFIX="$prefix" WINEDEBUG=-all wineboot -i >/dev/null 2>&1 || true
    WINEPREFIX="$prefix" wineserver -w || true
fi
# Rust's standard library needs ProcessPrng (bcryptprimitives.dll, in every
# Windows 10/11); Debian 12's Wine 8 lacks it. See scripts/wine/bcryptprimitives.c.
cp "$tools/bcryptprimitives.dll" "$prefix/drive_c/windows/system32/bcryptprimitives.dll"

echo "exe=$exe"
echo "prefix=$prefix"
echo "tools=$tools"
