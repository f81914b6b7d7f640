#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: installed from the distribution's
# packages when missing, its own data folder in a temporary directory, its own
# port on 127.0.0.1, trust authentication, stopped (and deleted) by `stop`.
#
#   scripts/postgres.sh start DIR   prints the cluster's URL (postgres://tsd@127.0.0.1:PORT/postgres)
#   scripts/postgres.sh stop DIR
#
# The PostgreSQL tests read the URL from TSD_TEST_POSTGRES; scripts/test.sh starts
# one cluster for the whole run.
set -euo pipefail

bin_dir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

ensure_installed() {
    if bin_dir >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "PostgreSQL is not installed: installing it from the distribution's packages" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
            || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    fi
    bin_dir >/dev/null || {
        echo "PostgreSQL is not installed and could not be installed here: apt-get install postgresql" >&2
        exit 1
    }
}

# Runs a command as the cluster's owner: PostgreSQL refuses to run as root.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir=$1
    ensure_installed
    local bin
    bin=$(bin_dir)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$dir"
        chmod 700 "$dir"
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U tsd -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    local port
    port=$(free_port)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB" start >&2 || {
        cat "$dir/server.log" >&2
        exit 1
    }
    echo "postgres://tsd@127.0.0.1:$port/postgres"
}

stop() {
    local dir=$1
    local bin
    bin=$(bin_dir) || return 0
    if [ -d "$dir/data" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) start "$2" ;;
    stop) stop "$2" ;;
    *)
        echo "usage: $0 start|stop DIR" >&2
        exit 2
        ;;
esac
