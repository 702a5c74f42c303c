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
# nginx, redis and PostgreSQL are test apps run inside containers (and by
# `make compat` on the host, as the test user), not services: policy-rc.d
# keeps Debian from starting nginx on port 80, redis on 6379 and a
# PostgreSQL cluster on 5432 of the runner at install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# Nor is a "main" cluster created for PostgreSQL: the compat tests make
# their own with initdb.  postgresql-common reads this drop-in
# (createcluster.conf: include_dir createcluster.d) in postgresql-15's
# postinst.
mkdir -p /etc/postgresql-common/createcluster.d
echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/uva-no-main-cluster.conf
apt-get install -y --no-install-recommends \
  build-essential pkg-config libslirp-dev libglib2.0-dev dpkg-dev \
  python3 curl iproute2 util-linux procps ca-certificates groff-base \
  clang libclang-rt-14-dev nginx-light wrk uidmap \
  clang-format cppcheck shellcheck \
  libpython3.11-testsuite redis-server redis-tools postgresql-15 postgresql-client-15

# dpkg-dev (dpkg-shlibdeps) builds the package (make deb);
# clang and its libFuzzer runtime build the fuzz targets (make fuzz);
# nginx-light and wrk are the load test's server and client; uidmap's
# newuidmap/newgidmap are what `--userns auto` runs (tests/run-cmd.sh);
# clang-format, cppcheck and shellcheck are the static gates (make lint,
# tests/gates.sh; gcc -fanalyzer comes with build-essential's gcc 12);
# libpython3.11-testsuite (CPython's regression tests), redis-server and
# redis-tools, postgresql-15 and its client are what tests/compat.sh and
# `make compat` run on the host and in containers.
# Browser and terminal end-to-end tests (tests/e2e): Chromium, tmux, Node.js,
# playwright-core.
tests/e2e/install-deps.sh
# `uva_container kube` (tests/kube.sh): podman for `podman kube play`, and
# the Kubernetes schema validator (kubernetes-models, pinned).
tests/kube/install-deps.sh

if [ ! -c /dev/net/tun ]; then
  modprobe tun 2>/dev/null || true
fi
chmod 0666 /dev/net/tun
