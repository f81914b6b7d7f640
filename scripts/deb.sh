#!/usr/bin/env bash
# Builds the Debian package of tsd-server (with tsd): release binaries, manual
# pages and shell completions generated from the commands' definitions, the
# systemd unit and default settings (server/debian/), packed by cargo-deb
# (installed from crates.io when missing). Prints the .deb's path on standard
# output.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-deb >/dev/null 2>&1; then
    echo "== installing cargo-deb (cargo install)" >&2
    cargo install --locked cargo-deb --version 3.8.0 --quiet >&2
fi
echo "== cargo build --release -p tsd-server -p tsd-cli" >&2
cargo build --locked --release -q -p tsd-server -p tsd-cli >&2

assets=target/release/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions" "$assets/bin"
# The release profile keeps line tables for profiling; the package does not.
for bin in tsd tsd-server; do
    strip --strip-all -o "$assets/bin/$bin" "target/release/$bin"
done
target/release/tsd --quiet dev man "$assets/man" >&2
target/release/tsd-server --quiet man "$assets/man" >&2
gzip -9n "$assets"/man/*.1
for bin in tsd tsd-server; do
    "target/release/$bin" completions bash >"$assets/completions/$bin.bash"
    "target/release/$bin" completions zsh >"$assets/completions/_$bin"
    "target/release/$bin" completions fish >"$assets/completions/$bin.fish"
done

echo "== cargo deb -p tsd-server" >&2
mkdir -p target/debian
cargo deb --locked -p tsd-server --no-build --output target/debian/ | tail -n 1
