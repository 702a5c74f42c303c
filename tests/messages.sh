#!/usr/bin/env bash
# tests/messages.sh - messages a new user meets.
# Each is one line naming the cause and the fix.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Usage errors: one line and status 2, not 26 lines of usage.
usage_line() { # description, expected regex, args...
  local d=$1 want=$2 out rc; shift 2
  out=$(as_user "$UVA" "$@" 2>&1); rc=$?
  if [ $rc = 2 ] && [ "$(grep -c . <<<"$out")" = 1 ] && grep -q -- "$want" <<<"$out"; then
    ok "$d"
  else
    not_ok "$d (rc=$rc): $(head -3 <<<"$out")"
  fi
}
usage_line "usage: up without FILE is one line naming FILE and --help" \
  "up: no FILE given .*see uva_container --help" up
usage_line "usage: an unknown command is one line naming it and --help" \
  "unknown command 'bogus'.*see uva_container --help" bogus
usage_line "usage: check with an argument is one line" \
  "check takes no arguments.*see uva_container --help" check extra
usage_line "usage: run with an unknown option is one line naming run --help" \
  "run: Unknown option --bogus; see uva_container run --help" run --bogus -- true
check "--help says what happens as root and that a later run as you is safe" \
  bash -c "'$UVA' --help | grep -q '^As root: .*refuses' && '$UVA' --help | grep -q 'never leaves a root-owned file'"
if [ "$IS_ROOT" = 1 ]; then
  # sudo -E: root with the user's state directory is refused before it
  # creates anything, and the user's next run works.
  out=$(XDG_STATE_HOME="$WORK/state" HOME="$THOME" timeout 30 "$UVA" run --network none -- true 2>&1); rc=$?
  check "root with the user's state directory is refused in one line (rc=$rc)" \
    bash -c '[ "$1" != 0 ] && [ "$(grep -c . <<<"$2")" = 1 ] && grep -q "not to root" <<<"$2"' _ "$rc" "$out"
  check "the refused root run left nothing of root's in the user's state" \
    bash -c "[ -z \"\$(find '$WORK/state' -uid 0)\" ]"
  out=$(as_user "$UVA" run --network none -- true 2>&1); rc=$?
  check "the user's next run works (rc=$rc)" [ $rc = 0 ]
else
  skipped "root with the user's state directory (needs root)"
fi

# A port held by another uva_container of this user is named as such,
# by run and by check.
HOUT=$WORK/holder.out
# Its app never listens, so the port is bound and in no socket table
# (fwd.c listens once the app does): the managers are asked.
"${AS_USER[@]}" "$UVA" run --name holder -p 127.0.0.1:18080:8000 -- sleep 60 >"$HOUT" 2>&1 &
MGR=$!
if wait_for 100 test -S "$WORK/state/uva_container/run/holder.sock"; then
  # Not expect_fail: the holder is meant to stay alive.
  out=$(as_user "$UVA" run --network none -p 127.0.0.1:18080:8000 -- true 2>&1); rc=$?
  check "a port held by another uva_container of yours names it and its pid (rc=$rc)" \
    bash -c '[ "$1" = 1 ] && [ "$(grep -c . <<<"$2")" = 1 ] && grep -qF "port 127.0.0.1:18080: it is already in use by another uva_container of yours (pid $3); stop it" <<<"$2"' _ "$rc" "$out" "$MGR"
  out=$(as_user "$UVA" check 2>&1)
  check "check: a default port held by uva_container names it" \
    grep -q "^FAIL  port 127.0.0.1:18080 .*held by another uva_container of yours (pid $MGR)" <<<"$out"
else
  not_ok "a manager holding 18080 started: $(cat "$HOUT")"
fi
kill -INT "$MGR"; wait "$MGR"; MGR=
wait_for 20 no_user_procs

# User namespaces refused by a seccomp filter (a container-based CI
# runner), with no sysctl to blame: the message says what to change.
cp "$ROOT/tests/no_userns_seccomp.py" "$WORK/no_userns_seccomp.py"
chmod 0755 "$WORK/no_userns_seccomp.py"
expect_fail "a seccomp filter refusing user namespaces: run on the host, or allow CLONE_NEWUSER" \
  "no sysctl explains it: this process runs under a seccomp filter.*allow CLONE_NEWUSER .*seccomp=unconfined" \
  as_user "$WORK/no_userns_seccomp.py" "$UVA" run --network none -- true
out=$(as_user "$WORK/no_userns_seccomp.py" "$UVA" check 2>&1)
check "check: a seccomp filter refusing user namespaces is a FAIL with the fix" \
  grep -q "^FAIL  user namespaces .*seccomp=unconfined" <<<"$out"

# HOME=/nonexistent (a typical CI user) and no XDG_STATE_HOME: the fix is
# XDG_STATE_HOME.
expect_fail "HOME=/nonexistent without XDG_STATE_HOME names XDG_STATE_HOME as the fix" \
  "state directory /nonexistent/.local/state/uva_container: .*; set XDG_STATE_HOME to a directory of yours (e.g. XDG_STATE_HOME=/tmp/state uva_container" \
  as_user env -u XDG_STATE_HOME HOME=/nonexistent "$UVA" run --network none -- true

# A volume whose host path is missing: named as a volume, with the fix
# (podman refuses it too; docker would create it as root).
n_before=$(find "$WORK/state/uva_container" -maxdepth 1 -name 'run-*' 2>/dev/null | wc -l)
expect_fail "run -v with a missing host path names the volume and the fix" \
  "volume /nonexistent-uva-vol:/data: the host path /nonexistent-uva-vol does not exist; create it first" \
  as_user "$UVA" run --network none -v /nonexistent-uva-vol:/data -- true
# Nothing ran: the name it made up leaves no STATE/run-XXXXXXXX behind.
check_eq "... and leaves no state directory of a made-up name behind" \
  "$(find "$WORK/state/uva_container" -maxdepth 1 -name 'run-*' 2>/dev/null | wc -l)" "$n_before"
# "run" is the control directory's name in the state directory.
expect_fail "--name run is reserved, in one line" \
  'container name "run" is reserved' \
  as_user "$UVA" run --network none --name run -- true

# No /dev/net/tun node (a tmpfs over /dev/net in a mount namespace of this
# test only): besides modprobe, --network none still publishes ports.
if [ "$IS_ROOT" = 1 ]; then
  expect_fail "a missing /dev/net/tun names modprobe and --network none" \
    "modprobe tun.*--network none .*still publishes ports" \
    unshare -m --propagation private bash -c "mount -t tmpfs none /dev/net && as_user '$UVA' run -- true"
else
  skipped "a missing /dev/net/tun node (needs root to arrange)"
fi

# A checkout whose path holds ':' and ';': --print-default-spec prints a
# spec that `up` runs.
ODD="$WORK/we:ird;dir"
mkdir -p "$ODD"
cp "$UVA" "$ODD/uva_container"
cp -p "$WORK/http_recorder.py" "$ODD/"
[ "$IS_ROOT" = 1 ] && chown -R "$TUID:$TGID" "$ODD"
as_user "$ODD/uva_container" --print-default-spec >"$WORK/odd.spec" 2>&1
check "--print-default-spec escapes ':' and ';' in the recorder's path" \
  grep -qxF "volume=$WORK/we\\:ird\\;dir/http_recorder.py:/opt/uva/http_recorder.py:ro" "$WORK/odd.spec"
OOUT=$WORK/odd.out
"${AS_USER[@]}" "$ODD/uva_container" up "$WORK/odd.spec" >"$OOUT" 2>&1 &
MGR=$!
check "up of that printed spec starts both containers" \
  wait_for 300 grep -q "press Ctrl-C to stop" "$OOUT"
check "and a serves on 18080" bash -c "curl -s -m 5 http://127.0.0.1:18080/ | grep -q hello-from-a.txt"
kill -INT "$MGR"; wait "$MGR"; MGR=
wait_for 20 no_user_procs

out=$(as_user "$UVA" check 2>&1)
check "check: reports the running kernel against the oldest that runs the default" \
  grep -qF "OK    kernel                       $(uname -r) (the default needs 5.12)" <<<"$out"
