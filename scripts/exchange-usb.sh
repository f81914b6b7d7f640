#!/usr/bin/env bash
# Moves exchange-folder files between this PC and a terminal on a USB cable (adb).
#
#   scripts/exchange-usb.sh --serial ID [--folder DIR] [--remote PATH]
#
# DIR (default ./exchange) is the PC side's exchange root, the one
# `tsd exchange put-catalog/put-tasks/collect --folder DIR` use. PATH is the
# terminal app's exchange root (default below). One run:
#   1. pull: every finished document in PATH/from-device/ that the PC has not
#      collected yet → DIR/from-device/ (copied as NAME.part, then renamed);
#   2. push: every file in DIR/to-device/ (packages and acks) → PATH/to-device/
#      (pushed as NAME.part, renamed on the device), then moved to DIR/sent/;
#   3. clean: a document whose ack has been pushed is removed from
#      PATH/from-device/ (the terminal takes it out of its outbox at its next sync).
# Re-running is harmless: packages are applied once by id, documents collected once.
# The RDP variant needs no script: point --folder of `tsd exchange` at the
# redirected drive that the terminal's shell maps to its exchange root.
set -euo pipefail

ADB=${ADB:-adb}
serial=""
folder="exchange"
remote="/sdcard/Android/data/ru.tsd.app/files/exchange"
while [ $# -gt 0 ]; do
  case "$1" in
    --serial) serial="$2"; shift 2 ;;
    --folder) folder="$2"; shift 2 ;;
    --remote) remote="$2"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "exchange-usb: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$serial" ] || { echo "exchange-usb: --serial ID is required (see: $ADB devices)" >&2; exit 2; }

dev() { "$ADB" -s "$serial" "$@"; }
# File names are checked the way the runtime checks them: no paths, no surprises.
safe() { [[ "$1" =~ ^[A-Za-z0-9_-][A-Za-z0-9._-]*$ ]]; }

mkdir -p "$folder/to-device" "$folder/from-device" "$folder/archive" "$folder/sent"
dev shell mkdir -p "$remote/to-device" "$remote/from-device" >/dev/null

pulled=0; pushed=0; cleaned=0
for name in $(dev shell ls "$remote/from-device" | tr -d '\r'); do
  safe "$name" || { echo "exchange-usb: skipping unsafe name $name" >&2; continue; }
  case "$name" in *.part|*.reason.txt) continue ;; esac
  # Collected before (in archive/) or waiting to be collected: not again.
  [ -e "$folder/archive/$name" ] || [ -e "$folder/from-device/$name" ] && continue
  dev pull "$remote/from-device/$name" "$folder/from-device/$name.part" >/dev/null
  sync "$folder/from-device/$name.part" 2>/dev/null || true
  mv "$folder/from-device/$name.part" "$folder/from-device/$name"
  pulled=$((pulled + 1))
done

for path in "$folder"/to-device/*; do
  [ -f "$path" ] || continue
  name=$(basename "$path")
  case "$name" in *.part) continue ;; esac
  safe "$name" || { echo "exchange-usb: skipping unsafe name $name" >&2; continue; }
  dev push "$path" "$remote/to-device/$name.part" >/dev/null
  dev shell mv "$remote/to-device/$name.part" "$remote/to-device/$name" >/dev/null
  mv "$path" "$folder/sent/$name"
  pushed=$((pushed + 1))
done

for ack in "$folder"/sent/doc-*.ack; do
  [ -f "$ack" ] || continue
  doc="$(basename "$ack" .ack).tsdpkg"
  if dev shell ls "$remote/from-device/$doc" >/dev/null 2>&1; then
    dev shell rm -f "$remote/from-device/$doc" >/dev/null
    cleaned=$((cleaned + 1))
  fi
done

echo "exchange-usb: pulled $pulled, pushed $pushed, cleaned $cleaned (device $serial, $remote)"
