#!/usr/bin/env bash
# Benchmarks (not tests): builds the release binaries, generates a 1,000,000-product
# catalog, measures import, lookups (also from Kotlin through JNI), durable scans,
# packages, deltas and a full HTTP sync, prints a table and writes
# docs/benchmarks.md. Takes several minutes and ~2 GB of disk under target/.
# Pass --products N for a smaller run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p tsd-cli
# The shipping Android library profile, built for the host (and `tsd` with the same
# profile, so the JNI comparison runs the same compiled Rust on both sides).
cargo build --profile release-jni --locked -p tsd-jni -p tsd-cli
(cd android && mvn -B -q -pl runtime test-compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt)
export TSD_JNI_LIB="$PWD/target/release-jni/libtsd_jni.so"
export TSD_JNI_TSD="$PWD/target/release-jni/tsd"
export TSD_JVM_CLASSPATH="$PWD/android/runtime/target/classes:$PWD/android/runtime/target/test-classes:$(cat android/runtime/target/classpath.txt)"
./target/release/tsd dev bench --work target/bench --report docs/benchmarks.md "$@"
# Barcode parsing alone, per code over a realistic mix (the hot path's first step).
{
    echo
    echo "## Barcode parsing"
    echo
    echo "\`cargo run --release -p tsd-core --example parse_bench\` (200,000 parses over EAN-13 with and without"
    echo "\`]E0\`, ITF-14, EAN-8, a weight label, GS1-128 with batch and expiry, a marking code, internal labels,"
    echo "a bad check digit): $(cargo run -q --release --locked -p tsd-core --example parse_bench)."
} >>docs/benchmarks.md
# CommerceML: the same million products as 1C exports them for a site (import.xml,
# base-unit barcodes and Пересчет packagings), imported like the CSV above.
products=1000000
for arg in "$@"; do [ "${prev:-}" = "--products" ] && products=$arg; prev=$arg; done
rm -rf target/bench-cml && mkdir -p target/bench-cml
./target/release/tsd --json dev gen-catalog --products "$products" --seed 1 --out target/bench-cml/gen --commerceml >/dev/null
cml=$(./target/release/tsd --db target/bench-cml/db --json import target/bench-cml/gen/import.xml)
csv=$(./target/release/tsd --db target/bench-cml/db-csv --json import target/bench-cml/gen/catalog.csv)
field() { python3 -c "import json,sys; d=json.loads(sys.argv[1]); print($2)" "$1"; }
{
    echo
    echo "## Catalog files as 1C exports them"
    echo
    echo "\`tsd import\` of the generator's catalog ($products products), whole process, this machine:"
    echo
    echo "| file | time | rate | peak RSS |"
    echo "|---|---|---|---|"
    echo "| catalog.csv ($(field "$csv" "d['rows']") rows) | $(field "$csv" "round(d['seconds'],1)") s | $(field "$csv" "int(d['rows_per_second'])") rows/s | $(field "$csv" "d['peak_rss_kib']//1024") MiB |"
    echo "| import.xml, CommerceML 2.08 ($(field "$cml" "d['products']['added']") products, $(field "$cml" "d['barcodes']['added']") barcodes) | $(field "$cml" "round(d['seconds'],1)") s | $(field "$cml" "int(d['rows_per_second'])") products/s | $(field "$cml" "d['peak_rss_kib']//1024") MiB |"
} >>docs/benchmarks.md
rm -rf target/bench-cml
# The fleet: tsd-server loadgen, SQLite vs PostgreSQL, one instance vs two (about
# 20 minutes; scripts/bench-fleet.sh alone reruns just this part).
bash scripts/bench-fleet.sh >>docs/benchmarks.md
