#!/usr/bin/env bash
# An outside HTTP client against a live tsd-server: schemathesis (pinned, from
# PyPI, in a virtual environment of its own under target/) generates requests —
# valid and invalid — from docs/openapi.yaml and checks every answer against it:
# no 5xx, statuses and bodies as documented, invalid input refused. It runs three
# times: the integration routes with an integration key, the device routes with a
# device token, the 1C exchange with a 1C user's Basic credentials, each bounded by
# --max-time. Exit status non-zero on any failure.
#
#   bash scripts/schemathesis.sh [SERVER_BIN] [SECONDS_PER_RUN]
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER=${1:-target/debug/tsd-server}
SECONDS_PER_RUN=${2:-60}
VERSION=4.32.5
VENV=target/schemathesis-venv

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 needs its venv module installed.
        SUDO=""
        [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        $SUDO apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-venv >/dev/null
        rm -rf "$VENV"
        python3 -m venv "$VENV" || {
            echo "schemathesis: python3 -m venv failed even with python3-venv installed" >&2
            exit 1
        }
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$VERSION"
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

data="$work/srv"
printf 'product_id,code,name,unit,weighted,marked,packaging_id,packaging_name,factor,barcode\n%s\n%s\n%s\n' \
    "P1,A-1,Молоко,шт,0,0,,,,4601234567893" \
    "P1,A-1,Молоко,шт,0,0,box,Коробка 12 шт,12,14601234567890" \
    "P2,A-2,Кефир,шт,0,0,,,,4601234567909" >"$work/catalog.csv"
"$SERVER" --data "$data" catalog publish "$work/catalog.csv" >/dev/null
key=$("$SERVER" --data "$data" key new)
token=$("$SERVER" --data "$data" device add st-1)
printf '{"id":"T-1","type":"picking","lines":[{"product":"P1","qty":2}]}\n' >"$work/tasks.jsonl"
onec_password=$("$SERVER" --data "$data" 1c user exchange)
"$SERVER" --data "$data" tasks add --device st-1 "$work/tasks.jsonl" >/dev/null

mkfifo "$work/ready"
"$SERVER" --data "$data" serve --listen 127.0.0.1:0 >"$work/ready" 2>"$work/server.log" &
server_pid=$!
read -r line <"$work/ready"
url=${line#listening on }
# Keep the pipe drained so the server never blocks on its standard output.
cat "$work/ready" >/dev/null &

# One worker: Python 3.11's ast module (Hypothesis describes strategies with it) is
# not safe to use from two threads at once ("AST constructor recursion depth
# mismatch"), which made parallel runs fail on the tool, not on the server.
run() {
    local name=$1
    shift
    echo "== schemathesis ($name) against $url"
    "$VENV/bin/schemathesis" --config-file schemathesis.toml run docs/openapi.yaml --url "$url" \
        --checks all --exclude-checks ignored_auth \
        --max-time "$SECONDS_PER_RUN" --workers 1 --seed 20261128 \
        --request-timeout 10 --suppress-health-check all \
        --report junit --report-junit-path "target/schemathesis-$name.xml" "$@" || {
        echo "schemathesis ($name): failures above; server log:" >&2
        tail -n 20 "$work/server.log" >&2
        return 1
    }
}

status=0
run integration -H "Authorization: Bearer $key" --exclude-path-regex '^/(v1/(device/|enroll)|1c/)' || status=1
run device -H "Authorization: Bearer $token" --include-path-regex '^/v1/(device/|enroll|hello)' || status=1
basic=$(printf 'exchange:%s' "$onec_password" | base64 -w0)
run 1c -H "Authorization: Basic $basic" --include-path-regex '^/1c/' || status=1
exit $status
