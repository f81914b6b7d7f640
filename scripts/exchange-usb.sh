#!/usr/bin/env bash
# Moves exchange-folder files between this PC and a terminal on a USB cable (adb):
#
#   scripts/exchange-usb.sh --serial ID [--folder DIR] [--remote PATH]
#                           [--server URL --token T [--ca FILE] [--pin SHA256]]
#
# The work is done by `tsd exchange usb` (see `tsd exchange usb --help`); this
# wrapper stays for the habits and scripts built on it. TSD names the binary
# (default: tsd on PATH), ADB the adb binary.
set -euo pipefail
exec "${TSD:-tsd}" exchange usb "$@"
