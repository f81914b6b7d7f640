#!/usr/bin/env bash
# The Debian package, checked as an admin would meet it: built (scripts/deb.sh),
# its contents listed and checked, lintian, installed with dpkg -i (this runs as
# root on a throwaway test machine), the unit verified by systemd-analyze against
# the installed files, the installed binaries run — the server as the service's
# user with the service's settings — and the package purged again.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "scripts/test-deb.sh installs a package: run it as root (on a throwaway machine)" >&2
    exit 1
fi
need() {
    command -v "$1" >/dev/null 2>&1 && return
    echo "== installing $2 (the package test)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; }
}
need lintian lintian
need adduser adduser
need man man-db
need systemd-analyze systemd
need curl curl

deb=$(bash scripts/deb.sh)
echo "== $deb"
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

echo "== dpkg-deb --contents"
listing=$(dpkg-deb --contents "$deb" | awk '{print $1, $2, $NF}')
for want in \
    "-rwxr-xr-x 0/0 ./usr/bin/tsd-server" \
    "-rwxr-xr-x 0/0 ./usr/bin/tsd" \
    "./usr/lib/systemd/system/tsd-server.service" \
    "./etc/tsd-server/tsd-server.env" \
    "./usr/share/man/man1/tsd.1.gz" \
    "./usr/share/man/man1/tsd-server.1.gz" \
    "./usr/share/man/man1/tsd-server-serve.1.gz" \
    "./usr/share/man/man1/tsd-exchange-put-catalog.1.gz" \
    "./usr/share/man/man1/tsd-kept-server-set.1.gz" \
    "./usr/share/bash-completion/completions/tsd" \
    "./usr/share/bash-completion/completions/tsd-server" \
    "./usr/share/zsh/vendor-completions/_tsd" \
    "./usr/share/fish/vendor_completions.d/tsd-server.fish" \
    "./usr/share/doc/tsd-server/copyright"; do
    grep -qF -- "$want" <<<"$listing" || fail "the package lacks $want"
done
dpkg-deb --field "$deb" Depends | grep -q adduser || fail "Depends lacks adduser"
dpkg-deb --info "$deb" conffiles | grep -qx "/etc/tsd-server/tsd-server.env" || fail "the settings are not a conffile"
echo "   $(grep -c . <<<"$listing") entries, $(grep -c 'man1/.*\.1\.gz' <<<"$listing") manual pages"

echo "== lintian (errors fail)"
lintian --fail-on error --suppress-tags initial-upload-closes-no-bugs "$deb" 2>&1 | grep -v "root privileges" || true
lintian --fail-on error "$deb" >/dev/null 2>&1 || fail "lintian reports errors (above)"

echo "== dpkg -i"
dpkg --purge tsd-server >/dev/null 2>&1 || true
rm -rf /var/lib/tsd-server
trap 'dpkg --purge tsd-server >/dev/null 2>&1 || true; rm -rf /var/lib/tsd-server' EXIT
dpkg -i "$deb" >/dev/null
id tsd-server >/dev/null || fail "no user tsd-server"
[ "$(stat -c %U:%G:%a /var/lib/tsd-server)" = "tsd-server:tsd-server:750" ] \
    || fail "/var/lib/tsd-server is $(stat -c %U:%G:%a /var/lib/tsd-server)"
[ "$(stat -c %G:%a /etc/tsd-server/tsd-server.env)" = "tsd-server:640" ] \
    || fail "the settings are $(stat -c %G:%a /etc/tsd-server/tsd-server.env)"

echo "== systemd-analyze verify (the installed unit)"
systemd-analyze verify /usr/lib/systemd/system/tsd-server.service

echo "== the installed binaries"
/usr/bin/tsd-server --version
/usr/bin/tsd --help | head -n 1
man -w tsd-server-serve >/dev/null || fail "man tsd-server-serve finds no page"
# tsd-server(1) is the server's page, not `tsd server`'s (that is tsd-kept-server(1)).
zcat "$(man -w tsd-server)" | grep -q "Reference sync server" || fail "man tsd-server is not the server's page"
bash -c 'source /usr/share/bash-completion/completions/tsd && complete -p tsd' >/dev/null \
    || fail "the installed bash completions do not load"

# As the service runs it: its user, its settings (on a free loopback port).
settings() {
    grep -v '^#' /etc/tsd-server/tsd-server.env | grep -v '^$'
    echo TSD_LISTEN=127.0.0.1:0
    echo TSD_ADMIN_LISTEN=127.0.0.1:0
    echo TSD_METRICS_LISTEN=127.0.0.1:0
}
as_service() {
    # shellcheck disable=SC2046
    runuser -u tsd-server -- env $(settings) "$@"
}
log=$(mktemp)
as_service /usr/bin/tsd-server serve >"$log" 2>&1 &
pid=$!
url=""
for _ in $(seq 1 100); do
    url=$(sed -n 's/^listening on //p' "$log")
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "tsd-server serve ended"; }
    sleep 0.1
done
[ -n "$url" ] || fail "tsd-server serve never said where it listens: $(cat "$log")"
curl -fsS "$url/healthz" >/dev/null || fail "$url/healthz"
# The container's health check (Dockerfile) is this command.
as_service /usr/bin/tsd-server health --listen "${url#http://}" || fail "tsd-server health on $url"
kill "$pid"
wait "$pid" || true
[ -f /var/lib/tsd-server/server.db ] || fail "the service kept no server.db in /var/lib/tsd-server"
[ "$(stat -c %U /var/lib/tsd-server/server.db)" = tsd-server ] || fail "server.db is not the service user's"
echo "   served $url as tsd-server, data in /var/lib/tsd-server"
as_service /usr/bin/tsd-server doctor || fail "tsd-server doctor on the installed service's data"

echo "== dpkg --purge"
dpkg --purge tsd-server >/dev/null
[ ! -e /usr/bin/tsd-server ] || fail "purge left /usr/bin/tsd-server"
echo "package ok"
