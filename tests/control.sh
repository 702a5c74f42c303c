#!/usr/bin/env bash
# tests/control.sh - what a CI smoke test does with uva_container: start in
# the background, wait until really ready, test, read the logs, run a
# command inside, stop; plus readiness that never lies, names, --rm,
# -p PORT alone, NOTIFY_SOCKET and who may talk to a manager.  Helpers
# from tests/lib.sh: check, check_eq, expect_fail, wait_for, as_user,
# own, no_user_procs, port_free, WORK, UVA, IS_ROOT, PY.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CDIR=$WORK/control
mkdir -p "$CDIR"
own "$CDIR"
CTL() { timeout -s KILL 60 "${AS_USER[@]}" "$UVA" "$@"; }
ps_names() { CTL ps --format json | $PY -c 'import json,sys; print(" ".join(sorted(c["name"] + ":" + c["state"] for c in json.load(sys.stdin))))'; }
RUNDIR=$WORK/state/uva_container/run

# ---- the CI author's script, as a test ----
CTL --print-default-spec >"$CDIR/default.spec"
own "$CDIR"
out=$(CTL up -d "$CDIR/default.spec" 2>&1); rc=$?
check_eq "up -d: returns 0 once every container is ready" "$rc" 0
# No retry: when up -d has returned, both ports answer at once.
check "up -d: both ports answer as soon as it returned" \
  bash -c 'curl -sf -o /dev/null http://127.0.0.1:18080/ && curl -sf -o /dev/null http://127.0.0.1:28080/'
check_eq "ps lists a and b, ready" "$(ps_names)" "a:ready b:ready"
out=$(CTL ps)
check "ps: the table names the published port and the spec file" \
  bash -c 'grep -q "^a  *ready  *127.0.0.1:18080->8080/tcp" <<<"$1" && grep -q "default.spec" <<<"$1"' _ "$out"
curl -s -o /dev/null http://127.0.0.1:18080/ci-probe
check "logs a shows the request" wait_for 50 bash -c '"$@" logs a | grep -q "GET /ci-probe"' _ "${AS_USER[@]}" "$UVA"
check "logs --tail 1 shows one line" bash -c '[ "$("$@" logs --tail 1 a | wc -l)" = 1 ]' _ "${AS_USER[@]}" "$UVA"
out=$(CTL exec a -- cat /tmp/http_recorder.log 2>&1)
check "exec a -- cat /tmp/http_recorder.log shows the request" grep -q "/ci-probe" <<<"$out"
CTL exec b -- sh -c 'exit 9'; rc=$?
check_eq "exec b -- sh -c 'exit 9' returns 9" "$rc" 9
out=$(CTL exec -e FOO=bar -w /tmp a -- sh -c 'echo "$FOO $(pwd) $HOSTNAME"' 2>&1)
check_eq "exec -e and -w" "$out" "bar /tmp a"
out=$(echo piped-in | CTL exec -i a -- cat 2>&1)
check_eq "exec -i: stdin reaches the command" "$out" piped-in
out=$(CTL exec a -- sh -c 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status | tr -s "\t" " " | tr "\n" " "' 2>&1)
check_eq "exec: the app's confinement (no capabilities, no_new_privs, seccomp)" "$out" "CapEff: 0000000000000000 NoNewPrivs: 1 Seccomp: 2 "
app=$(CTL ps --format json | $PY -c 'import json,sys; print([c["manager_pid"] for c in json.load(sys.stdin)][0])')
inner_net=$(CTL exec a -- readlink /proc/self/ns/net)
apps_net=$(for i in $(tr ' ' '\n' <"/proc/$app/task/$app/children"); do
  a=$(tr -d ' ' <"/proc/$i/task/$i/children" 2>/dev/null)
  [ -n "$a" ] && tr '\0' '\n' <"/proc/$a/environ" 2>/dev/null | grep -qx HOSTNAME=a && readlink "/proc/$a/ns/net"
done)
check_eq "exec: in the app's own network namespace" "$inner_net" "$apps_net"
CTL exec a -- /nonexistent 2>/dev/null; rc=$?
check_eq "exec of a missing command: 127" "$rc" 127
out=$(as_user $PY "$ROOT/tests/pty_drive.py" -- "$UVA" exec -it a -- sh -c 'tty; stty size; exit 5')
check "exec -it: a pty of the caller's size, and the status" \
  bash -c 'grep -q "^/dev/pts/" <<<"$1" && grep -q "^33 101" <<<"$1" && grep -qx "STATUS=5" <<<"$1" && grep -qx MODE-RESTORED <<<"$1"' _ "$out"
if [ $IS_ROOT = 1 ]; then
  # Another user.  Root may connect through the 0700 directory (uva_container
  # itself, as root, refuses a directory of the user's first), so the
  # manager's own SO_PEERCRED check is what must refuse it: a raw
  # connection as root gets the refusal before it asks anything.
  out=$($PY -c 'import socket,struct,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.settimeout(10); s.connect(sys.argv[1])
m=s.recv(65536); t=struct.unpack("I", m[:4])[0]
print(t, m[80:].decode())' "$RUNDIR/a.sock" 2>&1)
  check "another user (root) is refused by the manager itself (SO_PEERCRED)" \
    bash -c '[[ $1 == "5 refused: this manager serves only its own user" ]]' _ "$out"
  out=$(timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups env -i XDG_STATE_HOME="$WORK/state" "$UVA" exec a -- true 2>&1); rc=$?
  check "exec from an unprivileged other user: refused by the directory (rc=$rc)" \
    bash -c '[ "$1" != 0 ] && grep -q "ermission denied" <<<"$2"' _ "$rc" "$out"
else
  skipped "another user refused by SO_PEERCRED (needs root to be another user)"
  skipped "exec from an unprivileged other user (needs root)"
fi
check "control directory: mode 0700" bash -c '[ "$(stat -c %a "$1")" = 700 ]' _ "$RUNDIR"
# One socket per manager: a.sock and b.sock are links to it (no inode per
# container, ctlserver.c), with one record, and nothing else is there.
check "one control socket for a manager's containers: a.sock and b.sock one inode, one record" \
  bash -c 'i=$(stat -c %i "$1/a.sock") && [ "$i" = "$(stat -c %i "$1/b.sock")" ] && [ "$(stat -c %h "$1/a.sock")" = 2 ] && [ "$(ls -A "$1" | LC_ALL=C sort | tr "\n" " ")" = ".$i.id a.sock b.sock " ]' _ "$RUNDIR"
out=$(CTL down "$CDIR/default.spec" 2>&1); rc=$?
check_eq "down: exit 0 ($out)" "$rc" 0
nothing_left() { no_user_procs && for p in "$@"; do port_free "$p" || return 1; done; }
check "down leaves no socket in the control directory" bash -c '[ -z "$(ls -A "$1")" ]' _ "$RUNDIR"
check "down leaves no process and frees the ports" nothing_left 18080 28080
CTL down "$CDIR/default.spec" 2>/dev/null; rc=$?
check_eq "down again: nothing to do, exit 0" "$rc" 0

# ---- never ready ----
cat >"$CDIR/never.spec" <<'EOF'
[container never]
command = python3 -m http.server 8080
publish = 127.0.0.1:18091:9090
EOF
own "$CDIR"
expect_fail "up -d of a never-ready container fails in --wait-timeout, naming it and what it waits for" \
  "never is not ready after 2 s (waiting for port 9090 to listen inside)" \
  as_user "$UVA" up -d --wait-timeout 2 "$CDIR/never.spec"
check "never ready: nothing left (port free, no socket)" \
  bash -c '[ ! -e "$1/never.sock" ]' _ "$RUNDIR"
check "never ready: no process, port free" nothing_left 18091
printf '[container quick]\ncommand = sh -c "exit 3"\npublish = 127.0.0.1:18092:8080\n' >"$CDIR/quick.spec"
own "$CDIR"
expect_fail "up -d of a container that exits before it is ready fails at once, naming it" \
  "container quick: sh ended (status 3) before it was ready" \
  as_user "$UVA" up -d "$CDIR/quick.spec"

# ---- readiness that never lies: refused (not reset) until the app listens ----
"${AS_USER[@]}" "$UVA" run -p 18093:8080 --name late -- sh -c 'sleep 2; exec python3 -m http.server 8080' >"$CDIR/late.out" 2>&1 &
MGR=$!
wait_for 100 test -S "$RUNDIR/late.sock"
curl -s -o /dev/null http://127.0.0.1:18093/; rc=$?
check_eq "before the app listens, a connection is refused (curl rc 7, not 56)" "$rc" 7
curl -s -o /dev/null --retry-connrefused --retry 30 --retry-delay 1 http://127.0.0.1:18093/; rc=$?
check_eq "curl --retry-connrefused then gets its answer" "$rc" 0
CTL stop late >/dev/null
wait "$MGR"; rc=$?; MGR=
check_eq "stop of a foreground run: it ends with the app's SIGTERM status" "$rc" 143

# ---- run -d: names, -p PORT alone, --rm, a slow shutdown ----
CTL run -d -- sleep 100 >/dev/null & CTL run -d -- sleep 100 >/dev/null; wait
n1=$(CTL ps --format json | $PY -c 'import json,sys; print(" ".join(sorted(c["name"] for c in json.load(sys.stdin))))')
check "two run -d at once without --name: two containers, unique names" \
  bash -c 'set -- $1; [ $# = 2 ] && [ "$1" != "$2" ] && [[ $1 == run-* && $2 == run-* ]]' _ "$n1"
read -ra names <<<"$n1"
CTL stop "${names[@]}" >/dev/null
check "stop NAME NAME: both gone" nothing_left
out=$(CTL run -d -p 8080 --name anyport -- python3 -m http.server 8080 2>/dev/null)
port=$(CTL ps --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["ports"][0].split("->")[0].rsplit(":",1)[1])')
check "-p 8080 alone: a free host port, shown by ps, answering" \
  bash -c '[ "$1" -gt 1024 ] && curl -sf -o /dev/null "http://127.0.0.1:$1/"' _ "$port"
CTL stop anyport >/dev/null
rmname=$(CTL run -d --rm -- sleep 100)
check "run -d prints the generated name" test -d "$WORK/state/uva_container/$rmname"
CTL stop "$rmname" >/dev/null
check "--rm: its state is gone after stop" wait_for 50 test ! -e "$WORK/state/uva_container/$rmname"
CTL run -d --name pg --stop-timeout 10 -- sh -c 'trap "sleep 5; echo clean-shutdown; exit 0" TERM; echo up; while :; do sleep 0.1; done' >/dev/null
CTL stop pg 2>"$CDIR/pg.err" >/dev/null
check "a postgres-like app that needs 5 s to stop is not killed (stop-timeout 10)" \
  bash -c '"$@" logs pg | grep -q clean-shutdown' _ "${AS_USER[@]}" "$UVA"
check "... and nothing was killed" bash -c '! grep -q "did not stop" "$1"' _ "$CDIR/pg.err"
expect_fail "stop of an unknown container: one line" "no container nope is running" \
  as_user "$UVA" stop nope
expect_fail "exec in an unknown container: one line" "no container nope is running" \
  as_user "$UVA" exec nope -- true
expect_fail "run -d -t is refused" "takes no -i or -t" as_user "$UVA" run -d -t -- true

# ---- logs -f ends with the container ----
CTL run -d --name talker -- sh -c 'for i in 1 2 3; do echo line-$i; sleep 0.3; done; sleep 1' >/dev/null
out=$(CTL logs -f talker)
check_eq "logs -f follows until the container ends" "$out" "$(printf 'line-1\nline-2\nline-3')"

# ---- a manager killed with SIGKILL: its socket is detected and cleaned ----
CTL run -d --name victim -- sleep 100 >/dev/null
mgr=$(CTL ps --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["manager_pid"])')
helper=""
for k in $(tr ' ' '\n' <"/proc/$mgr/task/$mgr/children"); do
  [ "$(readlink "/proc/$k/ns/user")" = "$(readlink "/proc/$mgr/ns/user")" ] && helper=$k
done
kill -STOP "$helper" 2>/dev/null # the clean-up helper, so that only the client can clean
kill -KILL "$mgr"
wait_for 50 bash -c "! kill -0 $mgr 2>/dev/null || grep -q '^State:.*Z' /proc/$mgr/status"
# Not expect_fail: the stopped helper is still there.
out=$(CTL exec victim -- true 2>&1); rc=$?
check "a dead manager's container: not running (rc=$rc)" \
  bash -c '[ "$1" = 1 ] && [ "$2" = "uva_container: no container victim is running (uva_container ps lists them)" ]' _ "$rc" "$out"
check "... and its socket was removed" test ! -e "$RUNDIR/victim.sock"
kill -KILL "$helper" 2>/dev/null
check "nothing left after the control tests" wait_for 50 nothing_left

# ---- a planted control socket (issue 22): a client trusts only its own manager ----
# The planter (tests/plant_peer.py) listens at run/victim.sock as a process
# of the same user would, or an app whose workdir covers the control
# directory (refused now: tests/paths.sh); it counts every fd it is handed.
PLANT=$CDIR/plant.report
as_user mkdir -p -m 0700 "$RUNDIR"
"${AS_USER[@]}" $PY "$ROOT/tests/plant_peer.py" "$RUNDIR/victim.sock" "$PLANT" 2>/dev/null &
PL=$!
wait_for 50 grep -qs LISTENING "$PLANT"
out=$(echo secret-stdin | CTL exec -i victim -- true 2>&1); rc=$?
check "exec to a planted socket: refused in one line (rc=$rc: $out)" \
  bash -c '[ "$1" != 0 ] && grep -q "refusing the control socket of victim" <<<"$2" && [ "$(grep -c . <<<"$2")" = 1 ]' _ "$rc" "$out"
check "exec to a planted socket: nothing sent, no fd handed, nothing written to our stdout" \
  bash -c '! grep -q GOT "$1" && ! grep -q PWNED <<<"$2"' _ "$PLANT" "$out"
out=$(CTL stop victim 2>&1); rc=$?
check "stop of a planted socket: refused in one line, nothing sent (rc=$rc)" \
  bash -c '[ "$1" != 0 ] && grep -q "refusing the control socket of victim" <<<"$2" && ! grep -q GOT "$3"' _ "$rc" "$out" "$PLANT"
out=$(CTL ps 2>&1); rc=$?
check "ps: a planted socket is not listed, said in one line, nothing sent" \
  bash -c '! grep -q "^victim " <<<"$1" && [ "$(grep -c "refusing the control socket of victim" <<<"$1")" = 1 ] && ! grep -q GOT "$2"' _ "$out" "$PLANT"
printf '[container victim]\ncommand = true\n' >"$CDIR/victim.spec"
own "$CDIR"
out=$(CTL down "$CDIR/victim.spec" 2>&1); rc=$?
check "down of a spec naming a planted socket: refused in one line, nothing sent (rc=$rc: $out)" \
  bash -c '[ "$1" = 1 ] && grep -q "refusing the control socket of victim" <<<"$2" && [ "$(grep -c . <<<"$2")" = 1 ] && ! grep -q GOT "$3"' _ "$rc" "$out" "$PLANT"
# The planter also forges the record a manager writes (a same-user process
# can; an app cannot reach the directory): its pid, this very socket.
ino=$(stat -c %i "$RUNDIR/victim.sock")
dev=$($PY -c 'import os,sys; print(os.stat(sys.argv[1]).st_dev)' "$RUNDIR/victim.sock")
printf 'uva_container-ctl %s %s %s\n' "$PL" "$dev" "$ino" >"$RUNDIR/.$ino.id"
chmod 0600 "$RUNDIR/.$ino.id"; own "$RUNDIR/.$ino.id"
out=$(CTL exec victim -- true 2>&1); rc=$?
check "exec to a planted socket with a forged record: refused, its pid does not run uva_container (rc=$rc: $out)" \
  bash -c '[ "$1" != 0 ] && grep -q "refusing the control socket of victim.*not uva_container" <<<"$2" && ! grep -q GOT "$3"' _ "$rc" "$out" "$PLANT"
kill "$PL" 2>/dev/null; wait "$PL" 2>/dev/null
rm -f "$RUNDIR/victim.sock" "$RUNDIR/.$ino.id"
# A real manager's record: written before its socket appears, removed after.
CTL run -d --name trusted -- sleep 100 >/dev/null
tino=$(stat -c %i "$RUNDIR/trusted.sock" 2>/dev/null)
check "a manager records its socket's inode and its pid, readable only by you" \
  bash -c '[ "$(stat -c %a "$1")" = 600 ] && read -r tag pid _ ino <"$1" && [ "$tag" = uva_container-ctl ] && [ "$ino" = "$2" ] && [ "$(readlink "/proc/$pid/exe")" = "$3" ]' \
  _ "$RUNDIR/.$tino.id" "$tino" "$UVA"
check_eq "exec in the real manager's container still works" "$(CTL exec trusted -- echo inside 2>&1)" inside
# From inside, neither its own control socket nor another container's can
# be reached: not by path (mount namespace), not among the unix sockets of
# its network namespace (/proc/net/unix, abstract names included).
CTL run -d --name other -- sleep 100 >/dev/null
PROBE='import socket, sys
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:  # "@NAME": the abstract name NAME
        s.connect("\0" + p[1:] if p.startswith("@") else p); print("REACHED", p)
    except OSError as e:
        print("errno", e.errno, p)
for line in open("/proc/net/unix").read().splitlines()[1:]:
    f = line.split()
    if len(f) < 8:
        continue
    addr = "\0" + f[7][1:] if f[7].startswith("@") else f[7]
    for kind in (socket.SOCK_SEQPACKET, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_UNIX, kind)
        try:
            s.connect(addr); print("REACHED", f[7])
        except OSError:
            pass'
out=$(CTL exec trusted -- python3 -c "$PROBE" "$RUNDIR/trusted.sock" "$RUNDIR/other.sock" "@$RUNDIR/trusted.sock" 2>&1)
check "an app reaches neither its own nor another container's control socket (by path: ENOENT; none in its network namespace)" \
  bash -c '! grep -q REACHED <<<"$1" && [ "$(grep -c "^errno 2 " <<<"$1")" = 2 ] && [ "$(grep -c "^errno 111 " <<<"$1")" = 1 ]' _ "$out"
CTL stop other >/dev/null
CTL stop trusted >/dev/null
check "its record is gone with its socket" wait_for 50 bash -c '[ ! -e "$1/trusted.sock" ] && [ ! -e "$1/.$2.id" ]' _ "$RUNDIR" "$tino"

# ---- NOTIFY_SOCKET with up -d ----
NS2=$CDIR/notify2.sock
"${AS_USER[@]}" $PY -c 'import socket,sys
s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(60)
for _ in range(2):
    print(s.recv(256).decode(), flush=True)' "$NS2" >"$CDIR/notify2.out" 2>&1 &
NPID=$!
wait_for 50 test -S "$NS2"
printf '[container nt]\ncommand = python3 -m http.server 8080\npublish = 127.0.0.1:18094:8080\n' >"$CDIR/nt.spec"
own "$CDIR"
timeout 60 "${AS_USER[@]}" NOTIFY_SOCKET="$NS2" "$UVA" up -d "$CDIR/nt.spec" >/dev/null 2>&1
check "NOTIFY_SOCKET: READY=1 once up -d is ready" wait_for 50 grep -qx READY=1 "$CDIR/notify2.out"
CTL down "$CDIR/nt.spec"
check "NOTIFY_SOCKET: STOPPING=1 at down" wait_for 50 grep -qx STOPPING=1 "$CDIR/notify2.out"
wait "$NPID" 2>/dev/null
# The part ends well; its last wait must not make its status.
true
