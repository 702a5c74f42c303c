#!/usr/bin/env bash
# tests/lifecycle.sh - what scripts and CI rely on: one-shot `up` jobs
# give an honest exit status, the stop signal and its timeout are the
# container's, and systemd's notify protocol is spoken.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_site

LDIR=$WORK/lifecycle
mkdir -p "$LDIR"
printf '[container j1]\ncommand = true\nnetwork = none\n\n[container j2]\ncommand = true\nnetwork = none\n' >"$LDIR/ok.spec"
printf '[container j1]\ncommand = sh -c "exit 3"\nnetwork = none\n\n[container j2]\ncommand = sh -c "sleep 0.5; exit 4"\nnetwork = none\n' >"$LDIR/fail.spec"
own "$LDIR"
up_out "$LDIR/ok.spec" >/dev/null; rc=$?
check_eq "up: two one-shot jobs that both succeed exit 0" "$rc" 0
up_out "$LDIR/fail.spec" >/dev/null; rc=$?
check_eq "up: one-shot jobs: the first failing app's status" "$rc" 3
up_out --exit-code-from j2 "$LDIR/fail.spec" >/dev/null; rc=$?
check_eq "up --exit-code-from j2: that app's status" "$rc" 4
expect_fail "up --exit-code-from an unknown container is refused" "no such container" \
  as_user "$UVA" up --exit-code-from nope "$LDIR/ok.spec"

# A database-like app that needs 3 s to shut down is not killed by the
# default stop timeout (10 s); stop-timeout = 1 kills it, saying so.
cat >"$LDIR/slow.spec" <<SPEC_EOF
[container slow]
command = sh -c 'trap "sleep 3; echo clean-shutdown; exit 0" TERM; echo up; while :; do sleep 0.1; done'
network = none
SPEC_EOF
sed 's/^network = none$/network = none\nstop-timeout = 1/' "$LDIR/slow.spec" >"$LDIR/slow1.spec"
cat >"$LDIR/quit.spec" <<SPEC_EOF
[container q]
command = sh -c 'trap "echo got-QUIT; exit 0" QUIT; trap "echo got-TERM; exit 1" TERM; echo up; while :; do sleep 0.1; done'
network = none
stop-signal = SIGQUIT
SPEC_EOF
own "$LDIR"
for f in slow slow1 quit; do
  "${AS_USER[@]}" "$UVA" up "$LDIR/$f.spec" >"$LDIR/$f.out" 2>&1 &
  MGR=$!
  wait_for 100 grep -q " | up" "$LDIR/$f.out"
  kill -INT "$MGR"; wait "$MGR"; MGR=
done
check "up: a slow shutdown (3 s) is not killed by the default 10 s stop timeout" \
  bash -c 'grep -q "slow | clean-shutdown" "$1" && ! grep -q "did not stop" "$1"' _ "$LDIR/slow.out"
check "up: stop-timeout = 1 kills it after 1 s, and says so" \
  bash -c '! grep -q "clean-shutdown" "$1" && grep -q "slow did not stop in 1 s" "$1"' _ "$LDIR/slow1.out"
check "up: stop-signal = SIGQUIT is what the app gets" \
  bash -c 'grep -q "q | got-QUIT" "$1" && ! grep -q got-TERM "$1"' _ "$LDIR/quit.out"
printf '[container q]\ncommand = true\nstop-signal = STOP\n' >"$LDIR/stop.spec"
own "$LDIR"
expect_fail "stop-signal STOP is refused" 'stop signal "STOP" is not one of' \
  as_user "$UVA" up "$LDIR/stop.spec"
expect_fail "run --stop-timeout x is refused" 'stop timeout "x" is not a number' \
  as_user "$UVA" run --stop-timeout x -- true

# NOTIFY_SOCKET (systemd-run --user -p Type=notify): READY=1 once every
# container is ready, STOPPING=1 at the stop.  Ready means answering only
# with ready-http (up); `run` has no probe and is ready once the app has
# started (the man page), which is why this is an `up`: a `run` here saw
# its READY=1 while python was still starting, under load.
NSOCK=$LDIR/notify.sock
printf '[container n]\ncommand = %s -m http.server 8000\nworkdir = %s\npublish = 127.0.0.1:19071:8000\nready-http = true\n' \
  "$PY" "$WORK/site" >"$LDIR/notify.spec"
own "$LDIR"
"${AS_USER[@]}" "$PY" -c 'import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(60)
for _ in range(2):
    print(s.recv(256).decode(), flush=True)' "$NSOCK" >"$LDIR/notify.out" 2>&1 &
NL=$!
wait_for 50 test -S "$NSOCK"
"${AS_USER[@]}" NOTIFY_SOCKET="$NSOCK" "$UVA" up "$LDIR/notify.spec" >"$LDIR/n.out" 2>&1 &
MGR=$!
check "NOTIFY_SOCKET: READY=1 once the app answers" wait_for 150 grep -qx "READY=1" "$LDIR/notify.out"
# At once, no retry: READY=1 said it answers.
page=$(curl -sS -m 5 http://127.0.0.1:19071/page.txt 2>&1)
check "NOTIFY_SOCKET: ... and not before it answers ($page)" grep -q "site file" <<<"$page"
kill -INT "$MGR"; wait "$MGR"; MGR=
check "NOTIFY_SOCKET: STOPPING=1 at the stop" wait_for 50 grep -qx "STOPPING=1" "$LDIR/notify.out"
kill "$NL" 2>/dev/null; wait "$NL" 2>/dev/null

# run: a new name each time, so two at once do not meet; --rm and rm.
S=$WORK/state/uva_container
"${AS_USER[@]}" "$UVA" run --network none -- sh -c 'echo one; sleep 30' >"$LDIR/r1.out" 2>&1 &
R1=$!
"${AS_USER[@]}" "$UVA" run --network none -- sh -c 'echo two; sleep 30' >"$LDIR/r2.out" 2>&1 &
R2=$!
check "run: two at once without --name both start" \
  wait_for 100 bash -c "grep -q one '$LDIR/r1.out' && grep -q two '$LDIR/r2.out'"
kill -INT "$R1" "$R2"; wait "$R1"; wait "$R2"
out=$(run_out --rm --name gone --network none -- sh -c 'touch /app/f /tmp/g; echo ran')
check_eq "run --rm: the app ran" "$out" ran
check "run --rm: its state directory is removed" wait_for 50 test ! -e "$S/gone"
run_out --name kept --network none -- sh -c 'touch /app/f /tmp/g' >/dev/null
check "run without --rm keeps its state" [ -e "$S/kept/www/f" -a -e "$S/kept/tmp/g" ]
"${AS_USER[@]}" "$UVA" run --name busy --network none -- sh -c 'echo up; sleep 30' >"$LDIR/busy.out" 2>&1 &
MGR=$!
wait_for 100 grep -q up "$LDIR/busy.out"
out=$(timeout 30 "${AS_USER[@]}" "$UVA" rm busy 2>&1); rc=$?
check "rm of a running container is refused in one line (rc=$rc)" \
  bash -c '[ "$1" = 1 ] && [ "$2" = "uva_container: container busy is running: stop it first" ] && [ -e "$3" ]' _ "$rc" "$out" "$S/busy"
kill -INT "$MGR"; wait "$MGR"; MGR=
out=$(timeout 30 "${AS_USER[@]}" "$UVA" rm kept busy 2>&1); rc=$?
check "rm NAME...: removes stopped containers' state (rc=$rc)" [ $rc = 0 -a ! -e "$S/kept" -a ! -e "$S/busy" ]
expect_fail "rm of an unknown container is named" "no container nosuch" as_user "$UVA" rm nosuch

# A port nothing listens on, or ready-http that gets no answer: said every
# few seconds, not silence.
printf '[container w]\ncommand = sleep 30\npublish = 127.0.0.1:19072:9\nready-http = true\n' >"$LDIR/wait.spec"
printf '[container w]\ncommand = python3 -c "import socket,time; s=socket.socket(); s.bind((\x27127.0.0.1\x27, 9009)); s.listen(); time.sleep(30)"\npublish = 127.0.0.1:19072:9009\nready-http = /health\n' >"$LDIR/mute.spec"
own "$LDIR"
"${AS_USER[@]}" "$UVA" up "$LDIR/wait.spec" >"$LDIR/wait.out" 2>&1 &
MGR=$!
check "readiness: a port nothing listens on inside: says what it awaits" \
  wait_for 150 grep -q "^uva_container: w: still waiting for port 9 to listen inside, [0-9]* s so far" "$LDIR/wait.out"
kill -INT "$MGR"; wait "$MGR"; MGR=
"${AS_USER[@]}" "$UVA" up "$LDIR/mute.spec" >"$LDIR/mute.out" 2>&1 &
MGR=$!
check "ready-http=/health: a probe that gets no answer says what it awaits" \
  wait_for 150 grep -q "^uva_container: w: still waiting for an HTTP answer from http://127.0.0.1:19072/health (port 9009 inside)" "$LDIR/mute.out"
kill -INT "$MGR"; wait "$MGR"; MGR=

# Nothing of the user outlives uva_container (foreground, --rm, -d and
# stop): its clean-up helper is reaped by the manager, not left to pid 1.
# The commands run under a subreaper that never reaps what is reparented
# to it (PR_SET_CHILD_SUBREAPER, as a CI runner whose pid 1 is a shell):
# whatever is left is seen there at once, alive or a zombie.  Right after
# the last command the state directory is removed (rm -rf), as a script
# would; nothing may recreate it.
cat >"$LDIR/reaper.py" <<'PY'
import ctypes, os, subprocess, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
state, cmds = sys.argv[1], sys.argv[2:]
for c in " ".join(cmds).split(" ;; "):
    subprocess.run(c.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
rm = subprocess.run(["rm", "-rf", state]).returncode
kids = []
for t in os.listdir("/proc/self/task"):
    with open(f"/proc/self/task/{t}/children") as f:
        kids += f.read().split()
left = []
for k in kids:
    try:
        with open(f"/proc/{k}/stat") as f:
            left.append(f.read().rsplit(") ", 1)[1].split()[0])
    except OSError:
        pass
print(f"rm={rm} left={','.join(left) or 'none'}")
PY
own "$LDIR"
reaped_case() { # description, expected "left", command line (";;" between)
  local d=$1 want=$2 st=$LDIR/st.$RANDOM out
  shift 2
  mkdir -p "$st" && own "$st"
  out=$(timeout -s KILL 60 "${AS_USER[@]}" XDG_STATE_HOME="$st" "$PY" "$LDIR/reaper.py" "$st" "$@" 2>&1)
  check_eq "$d: state removed at once, processes left over" "$out" "rm=0 left=$want"
  check "$d: no process of the user at once" no_user_procs
  check "$d: nothing recreated the state" [ ! -e "$st" ]
}
reaped_case "run -- true" none "$UVA" run --network none -- true
reaped_case "run --rm -- true" none "$UVA" run --rm --name rmd --network none -- true
# -d: the manager is a daemon, reparented to the subreaper: its zombie,
# and nothing else, once stop has returned.
reaped_case "run -d, then stop" Z "$UVA" run -d --name det --network none -- sleep 30 ";;" "$UVA" stop det
printf '[container dn]\ncommand = sleep 30\nnetwork = none\n' >"$LDIR/down.spec"
own "$LDIR/down.spec"
reaped_case "up -d, then down" Z "$UVA" up -d "$LDIR/down.spec" ";;" "$UVA" down "$LDIR/down.spec"
