#!/bin/sh
# tests/kube/install-deps.sh - install what tests/kube.sh needs on a fresh
# Debian 12, as root (called by ci/prepare-runner.sh).  Safe to run again.
#  - podman, and what rootless `podman kube play` needs offline: runc
#    (crun 1.8 refuses a cgroup v1/v2 hybrid host: "cgroups in hybrid mode
#    not supported"), slirp4netns (the Pods' network), catatonit (podman
#    builds its pause image from it, locally, instead of pulling one),
#    uidmap (newuidmap for the user's subordinate ids);
#  - python3-yaml: a second, YAML 1.1 reader for the round-trip test;
#  - Node.js with npm, then kubernetes-models and yaml (versions pinned in
#    tests/kube/package.json) into tests/kube/node_modules: the schema
#    validator.  After this the tests need no network.
set -eu

kube=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (apt-get install)" >&2
  exit 1
fi

pkgs="podman runc slirp4netns catatonit uidmap python3-yaml"
# Debian 12 ships npm as its own package; a nodejs from elsewhere (e.g. with
# npm built in) conflicts with it, so only ask for what is missing.
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"

export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $pkgs

npm install --prefix "$kube" --no-package-lock --no-audit --no-fund
test -f "$kube/node_modules/kubernetes-models/package.json"
test -f "$kube/node_modules/yaml/package.json"
echo "install-deps.sh: done ($(podman --version))"
