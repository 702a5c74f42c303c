#!/bin/sh
# tests/e2e/install-deps.sh - install what tests/e2e/run.sh needs on a fresh
# Debian 12, as root: Debian's Chromium (the browser is never downloaded by
# playwright), tmux, curl, Node.js with npm, then the npm package
# playwright-core (version pinned in tests/e2e/package.json) into
# tests/e2e/node_modules.  Safe to run again.
set -eu

e2e=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps.sh: run as root (apt-get install)" >&2
  exit 1
fi

pkgs="chromium tmux curl"
# Debian 12 ships npm as its own package; a nodejs from elsewhere (e.g. with
# npm built in) conflicts with it, so only ask for what is missing.
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"

export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y $pkgs

npm install --prefix "$e2e" --no-package-lock --no-audit --no-fund
test -f "$e2e/node_modules/playwright-core/package.json"
echo "install-deps.sh: done ($(chromium --version 2>/dev/null | head -n1))"
