#!/usr/bin/env bash
# The fleet benchmark (not a test): `tsd-server loadgen` against the release server
# on loopback — SQLite vs PostgreSQL, one instance vs two — at 10,000, 50,000 and
# 100,000 simulated terminals syncing every 5 minutes plus 2,000 online lookups a
# second; the ceiling (the sync rate where p99 passes 1 s or errors appear); the
# morning after a publish (1,000 terminals at once). Prints a Markdown section for
# docs/benchmarks.md on standard output (scripts/bench.sh appends it); progress on
# standard error. Takes about 25 minutes. PostgreSQL: a throwaway cluster
# (scripts/postgres.sh), stopped at the end.
#   scripts/bench-fleet.sh [--seconds N]     length of each run (default 60)
#   scripts/bench-fleet.sh --goal-only        only the goal's load, three rounds (~10 min)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
goal_only=0
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) seconds=$2; shift 2 ;;
        --goal-only) goal_only=1; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
cargo build --release --locked -p tsd-server >&2
bin=$PWD/target/release/tsd-server
work=$PWD/target/bench-fleet
rm -rf "$work" && mkdir -p "$work"
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/tsd-bench-pg.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    bash scripts/postgres.sh stop "$pg_dir"
}
serve_pid=""
serve_url=""
trap cleanup EXIT
pg=$(bash scripts/postgres.sh start "$pg_dir")
createdb() { psql -q "$pg" -c "CREATE DATABASE $1" >/dev/null; echo "${pg%/*}/$1"; }

# serve NAME DATA [DATABASE]: starts an instance; sets $serve_pid and $serve_url
# (not in a subshell: the pid must reach `stop_all`).
serve() {
    local log=$work/$1.log
    shift
    local data=$1 db=${2:-}
    if [ -n "$db" ]; then
        "$bin" --data "$data" --database "$db" --database-pool 32 serve --listen 127.0.0.1:0 >"$log" 2>&1 &
    else
        "$bin" --data "$data" serve --listen 127.0.0.1:0 >"$log" 2>&1 &
    fi
    serve_pid=$!
    pids+=("$serve_pid")
    for _ in $(seq 100); do
        grep -q "listening on" "$log" 2>/dev/null && break
        sleep 0.1
    done
    serve_url=$(sed -n 's/^listening on //p' "$log" | head -1)
}

stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}

# run LABEL TERMINALS INSTANCES BACKEND [extra loadgen args]: one configuration.
run() {
    local label=$1 terminals=$2 instances=$3 backend=$4
    shift 4
    local admin=$work/$label/admin db="" args=()
    mkdir -p "$work/$label"
    if [ "$backend" = postgresql ]; then db=$(createdb "b_${label//-/_}"); fi
    local dbargs=()
    [ -n "$db" ] && dbargs=(--database "$db")
    # The fleet is set up first (devices, catalog), then the instances start.
    "$bin" --data "$admin" "${dbargs[@]}" loadgen --url http://127.0.0.1:9 --terminals "$terminals" --duration-secs 0 >/dev/null
    for i in $(seq "$instances"); do
        local data=$admin
        [ "$backend" = postgresql ] && data=$work/$label/instance-$i
        serve "$label-$i" "$data" "$db"
        args+=(--url "$serve_url" --server-pid "$serve_pid")
    done
    echo "== $label: $terminals terminals, $instances instance(s), $backend $*" >&2
    "$bin" --data "$admin" "${dbargs[@]}" loadgen "${args[@]}" --terminals "$terminals" \
        --duration-secs "$seconds" "$@" >"$work/$label.json"
    stop_all
}

for n in 10000 50000; do
    [ "$goal_only" = 1 ] && break
    run "sqlite-1-$n-a" "$n" 1 sqlite --lookups-per-sec 2000
    run "postgresql-1-$n-a" "$n" 1 postgresql --lookups-per-sec 2000
done
# The goal's load three times, the storages taking turns: on a shared 2-core
# machine one run's p99 can be several times another's (a checkpoint, a
# neighbour), so the table gives the median run and the three p99s.
for round in a b c; do
    run "sqlite-1-100000-$round" 100000 1 sqlite --lookups-per-sec 2000
    run "postgresql-1-100000-$round" 100000 1 postgresql --lookups-per-sec 2000
    run "postgresql-2-100000-$round" 100000 2 postgresql --lookups-per-sec 2000
done
# The ceiling: 100,000 terminals syncing ever more often, no lookups, until p99
# passes 1 s or a request fails.
for interval in 150 100 75 50; do
    [ "$goal_only" = 1 ] && break
    run "ceiling-sqlite-$interval" 100000 1 sqlite --interval-secs "$interval"
    ok=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(int(r["sync_latency"]["p99_ms"] < 1000 and not r["errors"]))' "$work/ceiling-sqlite-$interval.json")
    [ "$ok" = 1 ] || break
done
for interval in 150 100 75 50; do
    [ "$goal_only" = 1 ] && break
    run "ceiling-postgresql-$interval" 100000 1 postgresql --interval-secs "$interval"
    ok=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(int(r["sync_latency"]["p99_ms"] < 1000 and not r["errors"]))' "$work/ceiling-postgresql-$interval.json")
    [ "$ok" = 1 ] || break
done
if [ "$goal_only" = 0 ]; then
    run "morning-sqlite" 1000 1 sqlite --morning 1000
    run "morning-postgresql" 1000 2 postgresql --morning 1000
fi

python3 - "$work" "$seconds" <<'EOF'
import glob, json, os, sys
work, seconds = sys.argv[1], sys.argv[2]
def load(label):
    p = os.path.join(work, label + ".json")
    return json.load(open(p)) if os.path.exists(p) else None
def cpu(r):
    return " + ".join(f"{p['cores']:.2f} cores, {p['peak_rss_mib']:.0f} MiB" for p in r["server"])
def errors(r):
    return sum(r["errors"].values()) if r["errors"] else 0
print()
print("## A fleet on one machine (`tsd-server loadgen`)")
print()
print(f"`scripts/bench-fleet.sh`: the release server on loopback and the load generator on the same 2 cores, "
      f"{seconds} s per run. Each simulated terminal has its own token and syncs every 5 minutes "
      "(hello, 0–2 documents of 5–50 scans, offer, a delta for one in twenty, tasks, status); "
      "lookups at 2,000/s from the terminals that are scanning (one code a second each). Latency counted from when a sync was due (open loop). "
      "\"lost\" = documents the server acknowledged minus documents it holds.")
print()
print("| storage | instances | terminals | syncs/s | sync p50 / p99 / p99.9 (median run) | p99 of each run | lookups/s | lookup p99 | errors | lost | server CPU, peak RSS |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for label in ["sqlite-1-10000", "postgresql-1-10000", "sqlite-1-50000", "postgresql-1-50000",
              "sqlite-1-100000", "postgresql-1-100000", "postgresql-2-100000"]:
    runs = [r for r in (load(f"{label}-{k}") for k in "abc") if r]
    if not runs:
        continue
    runs.sort(key=lambda r: r["sync_latency"]["p99_ms"])
    r = runs[len(runs) // 2]
    backend, inst, n = label.split("-")
    s = r["sync_latency"]
    p99s = " / ".join(f"{x['sync_latency']['p99_ms']:.0f}" for x in runs)
    print(f"| {backend} | {inst} | {int(n):,} | {r['syncs_per_sec']:.0f} | {s['p50_ms']:.0f} / {s['p99_ms']:.0f} / {s['p999_ms']:.0f} ms "
          f"| {p99s} ms | {r['lookups_per_sec']:.0f} | {r['lookup_latency']['p99_ms']:.0f} ms | {sum(errors(x) for x in runs)} "
          f"| {sum(x['documents_acknowledged'] - x['documents_on_server'] for x in runs)} | {cpu(r)} |")
print()
print("The ceiling: 100,000 terminals syncing more often each run, no lookups, until p99 passes 1 s or a request fails:")
print()
print("| storage | sync every | syncs/s | sync p50 / p99 | errors | server CPU |")
print("|---|---|---|---|---|---|")
for backend in ["sqlite", "postgresql"]:
    for interval in [150, 100, 75, 50]:
        r = load(f"ceiling-{backend}-{interval}")
        if not r:
            continue
        s = r["sync_latency"]
        print(f"| {backend} | {interval} s | {r['syncs_per_sec']:.0f} | {s['p50_ms']:.0f} / {s['p99_ms']:.0f} ms | {errors(r)} | {cpu(r)} |")
print()
print("The morning after a publish: a new version, then 1,000 terminals ask at once "
      "(nine in ten one version behind: the delta; one in ten holding nothing: the snapshot):")
print()
print("| storage | instances | all hold it after | deltas / snapshots | bytes served | errors |")
print("|---|---|---|---|---|---|")
for label, backend, inst in [("morning-sqlite", "sqlite", 1), ("morning-postgresql", "postgresql", 2)]:
    r = load(label)
    if not r:
        continue
    d, sn = r["downloads"]
    print(f"| {backend} | {inst} | {r['sync_latency']['max_ms'] / 1000:.1f} s | {d} / {sn} | {r['package_bytes'] / 1e6:.1f} MB | {errors(r)} |")
EOF
