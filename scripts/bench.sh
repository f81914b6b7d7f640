#!/usr/bin/env bash
# Benchmarks (not tests): builds the release binary, generates a 1,000,000-product
# catalog, measures import, lookups, durable scans and size, prints a table and
# writes docs/benchmarks.md. Takes a few minutes and ~2 GB of disk under target/.
# Pass --products N for a smaller run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p tsd-cli
exec ./target/release/tsd dev bench --work target/bench --report docs/benchmarks.md "$@"
