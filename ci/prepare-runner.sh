#!/usr/bin/env bash
# ci/prepare-runner.sh - make a fresh Debian 12 machine ready to build and
# test uva_container.  Run as root; safe to run again.
#
# Runner preparation, not product behaviour: uva_container itself never
# needs root.  Two things a CI runner lacks that a Debian/Ubuntu desktop has:
#  - the build and test packages below;
#  - /dev/net/tun at mode 0666.  Debian and Ubuntu ship it 0666 through udev
#    (/usr/lib/udev/rules.d/50-udev-default.rules: KERNEL=="tun",
#    MODE="0666"); some VM images create it 0600 without udev.  We restore
#    the distribution default so that an unprivileged user can open it.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  build-essential pkg-config libslirp-dev libglib2.0-dev \
  python3 curl iproute2 util-linux procps ca-certificates groff-base \
  clang libclang-rt-14-dev

# clang and its libFuzzer runtime build the fuzz targets (make fuzz).
# Browser and terminal end-to-end tests (tests/e2e): Chromium, tmux, Node.js,
# playwright-core.
tests/e2e/install-deps.sh

if [ ! -c /dev/net/tun ]; then
  modprobe tun 2>/dev/null || true
fi
chmod 0666 /dev/net/tun
