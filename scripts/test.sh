#!/usr/bin/env bash
# The one test command: formatting, lints, then every test of the workspace.
# Works on a fresh clone: it installs what it needs (rustfmt and clippy components)
# when the toolchain lacks them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust with rustup (https://rustup.rs) first" >&2
    exit 1
fi
for component in rustfmt clippy; do
    if ! rustup component list --installed 2>/dev/null | grep -q "^${component}"; then
        rustup component add "$component"
    fi
done

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
# A throwaway PostgreSQL cluster (installed from the distribution's packages when
# missing) for the tests that run the server on PostgreSQL; stopped at the end.
echo "== PostgreSQL for the tests (scripts/postgres.sh)"
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tsd-pg.XXXXXX")
trap 'bash scripts/postgres.sh stop "$PG_DIR"' EXIT
TSD_TEST_POSTGRES=$(bash scripts/postgres.sh start "$PG_DIR")
export TSD_TEST_POSTGRES
echo "   $TSD_TEST_POSTGRES"

# Chromium and its WebDriver for the admin console's browser test (Debian's
# packages), installed when missing.
if ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing chromium and chromium-driver (the console's browser test)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }
    else
        echo "chromedriver not found: apt-get install chromium chromium-driver (the console's browser test needs them)" >&2
        exit 1
    fi
fi

# Firefox (Debian's firefox-esr) and geckodriver (not packaged by Debian; built
# from crates.io once, into ~/.cargo/bin) for the console's Firefox run.
if ! command -v firefox-esr >/dev/null 2>&1 && ! command -v firefox >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing firefox-esr (the console's browser test)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q firefox-esr >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q firefox-esr >/dev/null; }
    else
        echo "firefox not found: apt-get install firefox-esr (the console's browser test needs it)" >&2
        exit 1
    fi
fi
if ! command -v geckodriver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/geckodriver" ]; then
    echo "== installing geckodriver (cargo install; the console's Firefox run)"
    cargo install --locked geckodriver --version 0.37.1 --quiet
fi

# fusermount3 (Debian's fuse3) for the power-cut tests' lossy file system; they
# fail with what is missing when FUSE cannot be mounted, never pass without it.
if ! command -v fusermount3 >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "== installing fuse3 (the power-cut tests mount a FUSE file system)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q fuse3 >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fuse3 >/dev/null; }
    else
        echo "fusermount3 not found: apt-get install fuse3 (the power-cut tests need it, and /dev/fuse, as root)" >&2
        exit 1
    fi
fi

echo "== cargo test (cli/tests/windows.rs builds tsd.exe and runs it under Wine: scripts/windows.sh)"
cargo test --workspace --locked
echo "== tsd without the server (--no-default-features): the PC-side build still compiles"
cargo build --locked -p tsd-cli --no-default-features

# An outside HTTP client against a live server: schemathesis (pinned, PyPI, in its
# own virtual environment) generates valid and invalid requests from
# docs/openapi.yaml; any failure fails the suite. Bounded: 45 s per credential kind.
echo "== schemathesis against a live tsd-server (integration key, device token, 1C exchange user)"
cargo build --locked -p tsd-server
bash scripts/schemathesis.sh target/debug/tsd-server 45

# The Kotlin half, on this machine's JVM against the host-built library: the bridge
# with its test-only entry points, the runtime wrapper against a real tsd-server,
# the operator's screens (state holders) driven through a working day against the
# server and the `tsd` command's exchange folder, and the Android shell compiled
# against the real framework jar and converted to DEX.
echo "== cargo build -p tsd-jni --features testing (host .so for the JVM tests)"
cargo build --locked -p tsd-jni --features testing
cargo build --locked -p tsd-server -p tsd-cli
if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
    echo "Maven and a JDK (17+) are needed for the Kotlin tests: apt-get install maven openjdk-17-jdk" >&2
    exit 1
fi
echo "== mvn test (android/: runtime and screens on the JVM, app against android-all, dex check)"
mvn -B -q -f android/pom.xml test \
    -Dtsd.native.lib="$PWD/target/debug/libtsd_jni.so" \
    -Dtsd.server.bin="$PWD/target/debug/tsd-server" \
    -Dtsd.cli.bin="$PWD/target/debug/tsd"
echo "== aapt2: the app manifest links against the Android framework resources"
bash scripts/check-manifest.sh

# The Debian package: built, linted, installed with dpkg -i, its unit verified, its
# binaries run (the server as the service's user), purged. Needs root (the test
# machines are throwaway).
echo "== the Debian package (scripts/test-deb.sh)"
bash scripts/test-deb.sh
