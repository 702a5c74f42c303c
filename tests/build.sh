# tests/build.sh - the build and the install, sourced by tests/run.sh (it
# uses run.sh's check, expect_fail, as_user, $WORK and $ROOT).  A copy of
# the sources is built under $WORK, so the checkout's own build is never
# touched, at -O0 to keep it quick.
TREE=$WORK/tree
mkdir -p "$TREE"
cp -r "$ROOT/Makefile" "$ROOT/src" "$ROOT/http_recorder.py" "$ROOT/uva_container.1" \
  "$ROOT/completions" "$TREE/"
tmake() { make -s -C "$TREE" CFLAGS=-O0 -j2 "$@" >"$WORK/tree.log" 2>&1 || { sed 's/^/#   /' "$WORK/tree.log"; return 1; }; }
# README's order: build with the default PREFIX, then install elsewhere.
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
rm -rf "$TREE" "$PFX" "$STAGE" "$WORK/lonely"
