#!/usr/bin/env bash
# tests/build.sh - the build and the install.  A copy of
# the sources is built under $WORK, so the checkout's own build is never
# touched, at -O0 to keep it quick.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TREE=$WORK/tree
mkdir -p "$TREE"
cp -r "$ROOT/Makefile" "$ROOT/src" "$ROOT/http_recorder.py" "$ROOT/uva_container.1" \
  "$ROOT/completions" "$ROOT/packaging" "$ROOT/contrib" "$TREE/"
tmake() { make -s -C "$TREE" CFLAGS=-O0 -j2 "$@" >"$WORK/tree.log" 2>&1 || { sed 's/^/#   /' "$WORK/tree.log"; return 1; }; }
# docs/usage.md's order: build with the default PREFIX, then install elsewhere.
PFX=$WORK/prefix
if tmake && tmake install PREFIX="$PFX"; then
  spec=$(as_user "$PFX/bin/uva_container" --print-default-spec 2>&1)
  check "make && make install PREFIX=DIR: the installed binary finds DIR/share/uva_container/http_recorder.py" \
    grep -q "^volume=$PFX/share/uva_container/http_recorder.py:" <<<"$spec"
  check "make install PREFIX=DIR rebuilds with DIR's DATADIR compiled in" \
    grep -q "$PFX/share/uva_container" "$PFX/bin/uva_container"
else
  not_ok "make && make install PREFIX=DIR in a copy of the tree"
fi
# A tree installed with DESTDIR and used where it lies: DATADIR (/opt/...)
# does not exist, BINDIR/../share/uva_container does.
STAGE=$WORK/stage
if tmake install DESTDIR="$STAGE" PREFIX=/opt/uvah15-nowhere; then
  spec=$(as_user "$STAGE/opt/uvah15-nowhere/bin/uva_container" --print-default-spec 2>&1)
  check "an installed binary finds http_recorder.py in ../share/uva_container beside it" \
    grep -q "^volume=$STAGE/opt/uvah15-nowhere/share/uva_container/http_recorder.py:" <<<"$spec"
else
  not_ok "make install DESTDIR= in a copy of the tree"
fi
mkdir -p "$WORK/lonely"
cp "$TREE/uva_container" "$WORK/lonely/"
expect_fail "a binary without http_recorder.py names every path it tried and the fix" \
  "http_recorder.py not found (tried $WORK/lonely/http_recorder.py, $WORK/share/uva_container/http_recorder.py, /opt/uvah15-nowhere/share/uva_container/http_recorder.py): .*make install PREFIX=" \
  as_user "$WORK/lonely/uva_container" --print-default-spec

# ---- make deb: a package Debian's tools accept ----
# The install runs only as root in CI (tests/all.sh, `make check-all`, sets
# UVA_TEST_DEB=1): elsewhere it would touch the machine's package set.
DEBDIR=$WORK/deb
if ! command -v dpkg-deb >/dev/null || ! command -v dpkg-shlibdeps >/dev/null; then
  skipped "make deb (no dpkg-deb or dpkg-shlibdeps: sudo apt-get install dpkg-dev)"
elif ! tmake deb DEB_OUT="$DEBDIR"; then
  not_ok "make deb"
else
  DEB=$(echo "$DEBDIR"/uva-container_*.deb)
  info=$(dpkg-deb --info "$DEB" 2>&1)
  check "make deb: dpkg-deb --info reads Package, Version, Architecture, Maintainer, Description" \
    bash -c 'for f in "Package: uva-container" "Version: [0-9]" "Architecture: $(dpkg --print-architecture)" "Maintainer: ." "Description: ."; do grep -q "^ $f" <<<"$1" || exit 1; done' _ "$info"
  check "make deb: Depends names the libslirp and GLib packages" \
    bash -c 'grep "^ Depends:" <<<"$1" | grep -q "libslirp0 (>= " && grep "^ Depends:" <<<"$1" | grep -q "libglib2.0-0 (>= "' _ "$info"
  check "make deb: binary, recorder, man page, completion and copyright in place" \
    bash -c 'c=$(dpkg-deb --contents "$1" | awk "{print \$NF}"); for f in ./usr/bin/uva_container ./usr/share/uva_container/http_recorder.py ./usr/share/man/man1/uva_container.1.gz ./usr/share/bash-completion/completions/uva_container ./usr/share/doc/uva-container/copyright; do grep -qx "$f" <<<"$c" || exit 1; done' _ "$DEB"
  if command -v lintian >/dev/null; then
    check "make deb: lintian finds no error" bash -c "! lintian --no-tag-display-limit '$DEB' 2>&1 | grep '^E:'"
  else
    skipped "lintian on the .deb (lintian not installed)"
  fi
  if [ "$IS_ROOT" != 1 ] || [ "${UVA_TEST_DEB:-}" != 1 ]; then
    skipped "apt-get install of the .deb (only as root in CI: UVA_TEST_DEB=1, set by make check-all)"
  else
    # One run at a time: another run's install or removal of the package
    # would change /usr/bin/uva_container under this one.
    exec 9>/run/lock/uva-test-deb.lock
    if ! flock -w 900 9; then
      not_ok "apt-get install of the .deb: another run held /run/lock/uva-test-deb.lock for 15 min"
    elif dpkg -s uva-container >/dev/null 2>&1; then
      skipped "apt-get install of the .deb (uva-container is installed here already; the test would remove it)"
    else
      # Readable by _apt, which apt uses to read local files.
      install -D -m 0644 "$DEB" "/tmp/uvadeb.$$/$(basename "$DEB")"
      chmod 0755 "/tmp/uvadeb.$$"
      apt_log=$WORK/apt.log
      if DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        -o DPkg::Lock::Timeout=120 "/tmp/uvadeb.$$/$(basename "$DEB")" >"$apt_log" 2>&1; then
        ok "apt-get install ./uva-container_*.deb"
        check "the installed /usr/bin/uva_container --version runs as the test user" \
          bash -c "$AS_USER_Q /usr/bin/uva_container --version | grep -q '^uva_container '"
        out=$(as_user /usr/bin/uva_container check 2>&1); rc=$?
        check "the installed binary's check passes, finding /usr/share/uva_container/http_recorder.py (rc=$rc)" \
          bash -c '[ "$1" = 0 ] && grep -q "^OK    http_recorder.py + python3 */usr/share/uva_container/http_recorder.py" <<<"$2"' _ "$rc" "$out"
      else
        not_ok "apt-get install ./uva-container_*.deb: $(tail -3 "$apt_log")"
      fi
      DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -o DPkg::Lock::Timeout=120 uva-container >>"$apt_log" 2>&1
      check "apt-get remove uva-container leaves it uninstalled and /usr/bin/uva_container gone" \
        bash -c '! dpkg -s uva-container >/dev/null 2>&1 && [ ! -e /usr/bin/uva_container ]'
      rm -rf "/tmp/uvadeb.$$"
    fi
    exec 9>&-
  fi
fi
rm -rf "$TREE" "$PFX" "$STAGE" "$WORK/lonely" "$DEBDIR"
