#!/usr/bin/env bash
# tests/up.sh - `up`: a spec file with three containers, errors in spec
# files, and the printed default spec run with up.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# ---- `up`: a spec file, three containers ----
SPEC=$WORK/three.spec
for i in 1 2 3; do
  cat >>"$SPEC" <<SPEC_EOF
[container web$i]
command = $PY -m http.server 8000
publish = 127.0.0.1:1808$i:8000
ready-http = true
seed-file = I-am-web$i.txt

SPEC_EOF
done
[ "$IS_ROOT" = 1 ] && chown "$TUID:$TGID" "$SPEC"
UOUT=$WORK/up.out
"${AS_USER[@]}" "$UVA" up "$SPEC" >"$UOUT" 2>&1 &
MGR=$!
if wait_for 300 grep -q "press Ctrl-C to stop" "$UOUT"; then
  ok "up: three containers ready"
else
  not_ok "up: three containers ready"; sed 's/^/#   /' "$UOUT"
fi
for i in 1 2 3; do
  l=$(curl -s -m 5 "http://127.0.0.1:1808$i/")
  check "up: 1808$i lists web$i's own file only" bash -c 'grep -q "I-am-web$1.txt" <<<"$2" && [ "$(grep -c I-am-web <<<"$2")" = 1 ]' _ "$i" "$l"
done
kill -INT "$MGR"; wait "$MGR"; rc=$?; MGR=
check_eq "up: SIGINT exits 0" "$rc" 0
check "up: no process left" wait_for 20 no_user_procs
printf '[container a]\ncommand=x\ncolor=red\n' >"$WORK/bad.spec"
expect_fail "up: an unknown key names file and line" "bad.spec:3: unknown key \"color\"" as_user "$UVA" up "$WORK/bad.spec"
expect_fail "up: a missing spec file is named" "nope.spec" as_user "$UVA" up "$WORK/nope.spec"

# The default is literally the printed spec: `up` of it behaves the same.
"${AS_USER[@]}" "$UVA" --print-default-spec >"$WORK/default.spec"
check "--print-default-spec prints both containers" bash -c "grep -q '^\[container a\]' '$WORK/default.spec' && grep -q '^publish=127.0.0.1:28080:8080' '$WORK/default.spec'"
check "--print-default-spec shows the recorder's PYTHONUNBUFFERED=1 in its env" bash -c "[ \$(grep -cxE 'env=PYTHONUNBUFFERED=1;?' '$WORK/default.spec') = 2 ]"
# A file of its own: the shell truncates a reused one only once the job
# runs, and the first run's "press Ctrl-C" could be read before that.
DOUT=$WORK/up-default.out
"${AS_USER[@]}" "$UVA" up "$WORK/default.spec" >"$DOUT" 2>&1 &
MGR=$!
wait_for 300 grep -q "press Ctrl-C to stop" "$DOUT" || diag <"$DOUT"
check "up of the printed default serves a on 18080" bash -c "curl -s -m 5 http://127.0.0.1:18080/ | grep -q hello-from-a.txt"
kill -INT "$MGR"; wait "$MGR"; MGR=


# A soft RLIMIT_NOFILE far below what N containers need (about nine fds
# each in the manager): the manager raises its own soft limit to the hard
# one before the first container, and each app still gets the caller's.
# Before, 168 containers under the usual 1024 failed "Too many open files".
NSPEC=$WORK/nofile.spec
: >"$NSPEC"
for i in $(seq 1 12); do
  printf '[container n%d]\ncommand = sh -c "ulimit -Sn; exec sleep 60"\n\n' "$i" >>"$NSPEC"
done
[ "$IS_ROOT" = 1 ] && chown "$TUID:$TGID" "$NSPEC"
NOUT=$WORK/nofile.out
prlimit --nofile=40:4096 "${AS_USER[@]}" "$UVA" up "$NSPEC" >"$NOUT" 2>&1 &
MGR=$!
wait_for 300 grep -q "press Ctrl-C to stop" "$NOUT" || diag <"$NOUT"
check "up of 12 containers under a soft fd limit of 40: all start, each app keeps the caller's 40" \
  wait_for 100 bash -c '[ "$(grep -cE "^n[0-9]+ +\| 40$" "$1")" = 12 ]' _ "$NOUT"
kill -INT "$MGR"; wait "$MGR"; MGR=
check "up (fd limit): no process left" wait_for 20 no_user_procs
