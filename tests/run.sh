#!/usr/bin/env bash
# tests/run.sh - the whole suite: GTest unit tests, then integration tests
# that run uva_container as a NON-ROOT user from a copy of the tree under
# /tmp.  Run by `make check`.
#
# As root (CI): creates the user $UVA_TEST_USER (default uvatest) if missing,
# runs every case, including those that need root to arrange a bad
# environment (/dev/net/tun at 0600, python3 hidden), and runs the
# integration part in a network namespace of its own (`unshare --net`), so
# the fixed ports 18080/28080 cannot collide with anything else on the
# machine.  As an ordinary user: runs as that user; the root-only cases are
# reported as skipped.
#
# Prints "ok N - ..." / "not ok N - ..." and ends with "N passed, N failed".
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${UVA_BIN:-$ROOT/uva_container}
UNIT=${UVA_UNIT:-$ROOT/build/unit}
HOOKS_BIN=${UVA_HOOKS_BIN:-$ROOT/build/uva_container-hooks}
TUSER=${UVA_TEST_USER:-uvatest}

pass=0 fail=0 skip=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }
skipped() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n - # SKIP $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }
summary() { echo "$pass passed, $fail failed, $skip skipped"; [ "$fail" -eq 0 ]; }

if [ "${UVA_IN_NETNS:-}" != 1 ]; then
  # ---- unit tests ----
  if [ -x "$UNIT" ]; then
    tap=$("$UNIT" --tap 2>&1)
    while IFS= read -r line; do
      case $line in
        "ok "*) ok "unit: ${line#ok * }" ;;
        "not ok "*) not_ok "unit: ${line#not ok * }" ;;
      esac
    done <<<"$tap"
    # A crash mid-run must not pass silently: the plan line counts.
    planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$tap")
    ran=$(grep -c '^ok ' <<<"$tap")
    check "unit: all $planned planned tests ran and passed" [ "${planned:-0}" -gt 0 -a "$ran" = "$planned" ]
  else
    not_ok "unit test binary $UNIT missing (run make check)"
  fi

  if [ "$(id -u)" = 0 ]; then
    id "$TUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TUSER" || {
      not_ok "creating test user $TUSER"; summary; exit 1; }
    # The integration part, in a network namespace made for it; its own
    # "ok" lines continue our numbering and its counts come back in a file.
    counts=$(mktemp)
    UVA_IN_NETNS=1 UVA_N0=$n UVA_COUNTS=$counts UVA_BIN=$BIN \
      unshare --net -- bash "$0"
    read -r n2 p2 f2 s2 <"$counts" || { n2=$n p2=0 f2=1 s2=0; echo "not ok - integration part died"; }
    rm -f "$counts"
    n=$n2 pass=$((pass + p2)) fail=$((fail + f2)) skip=$((skip + s2))
    summary
    exit $?
  fi
fi

# ---- integration tests ----------------------------------------------------
n=${UVA_N0:-$n}
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1
if [ $IS_ROOT = 1 ]; then
  ip link set lo up
  TUID=$(id -u "$TUSER") TGID=$(id -g "$TUSER")
  THOME=$(getent passwd "$TUSER" | cut -d: -f6)
else
  TUID=$(id -u) TGID=$(id -g) THOME=$HOME
fi

WORK=$(mktemp -d /tmp/uva-test.XXXXXX)
cp "$BIN" "$WORK/uva_container"
cp "$HOOKS_BIN" "$WORK/uva_container-hooks" 2>/dev/null
cp -p "$ROOT/http_recorder.py" "$WORK/http_recorder.py"
mkdir -p "$WORK/state"
[ $IS_ROOT = 1 ] && chown -R "$TUID:$TGID" "$WORK"
PY=/usr/bin/python3

# The prefix that runs a command as the test user.  setpriv and env exec
# (no fork), so $! of a background "${AS_USER[@]}" cmd is cmd's own pid.
if [ $IS_ROOT = 1 ]; then
  AS_USER=(setpriv --reuid="$TUID" --regid="$TGID" --init-groups
    env -i HOME="$THOME" PATH=/usr/local/bin:/usr/bin:/bin
    XDG_STATE_HOME="$WORK/state")
else
  AS_USER=(env XDG_STATE_HOME="$WORK/state")
fi
[ -n "${ASAN_OPTIONS:-}" ] && AS_USER+=("ASAN_OPTIONS=$ASAN_OPTIONS")
[ -n "${UBSAN_OPTIONS:-}" ] && AS_USER+=("UBSAN_OPTIONS=$UBSAN_OPTIONS")
AS_USER_Q=$(printf '%q ' "${AS_USER[@]}")
as_user() { eval "$AS_USER_Q"' "$@"'; }

MGR= OUT=
cleanup() {
  [ -n "$MGR" ] && kill -KILL "$MGR" 2>/dev/null
  [ $IS_ROOT = 1 ] && chmod 0666 /dev/net/tun 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Bounded polling, never a fixed sleep: waits up to $1 tenths of a second
# for the command to succeed.
wait_for() {
  local tenths=$1; shift
  for ((i = 0; i < tenths; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
# What the tests start, alive: a manager (by its path) or anything in a
# user namespace other than ours (an init or an app).  Not "every process of
# the user": run as that user, the suite itself would count.
user_procs() {
  local p count=0 self_ns ns
  self_ns=$(readlink /proc/self/ns/user)
  for p in $(ps -u "$TUID" -o pid=,stat= | awk '$2 !~ /^Z/ {print $1}'); do
    ns=$(readlink "/proc/$p/ns/user" 2>/dev/null) || continue # gone already
    if [ "$ns" != "$self_ns" ] ||
      tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^$WORK/uva_container"; then
      count=$((count + 1))
    fi
  done
  echo $count
}
no_user_procs() { [ "$(user_procs)" = 0 ]; }
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  OUT=$WORK/out.$RANDOM
  "${AS_USER[@]}" "$WORK/uva_container" >"$OUT" 2>&1 &
  MGR=$!
  wait_for 300 grep -q "press Ctrl-C to stop" "$OUT"
}
stop_int() {
  kill -INT "$MGR"
  local t0=$SECONDS
  wait "$MGR"; local rc=$?
  MGR=
  [ $rc = 0 ] && [ $((SECONDS - t0)) -le 5 ]
}
init_pids() { tr ' ' '\n' <"/proc/$MGR/task/$MGR/children" | grep .; }
app_of() { # container name -> host pid of its app
  local i a
  for i in $(init_pids); do
    a=$(tr -d ' ' <"/proc/$i/task/$i/children")
    tr '\0' '\n' <"/proc/$a/environ" | grep -qx "HOSTNAME=$1" && { echo "$a"; return; }
  done
}
in_ns() { # pid, command...: run inside the container's namespaces
  local p=$1; shift
  as_user nsenter -t "$p" -U -n -u -m --preserve-credentials "$@"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
export -f in_ns as_user port_open
export IS_ROOT TUID TGID THOME WORK AS_USER_Q

echo "# integration: $WORK (as uid $TUID)"
check "--help exits 0 and explains the default" \
  bash -c "'$WORK/uva_container' --help | grep -q 18080"
check "--version names libslirp" bash -c "'$WORK/uva_container' --version | grep -q 'libslirp'"
check "the man page renders without a groff warning" \
  bash -c "command -v groff >/dev/null && [ -z \"\$(groff -ww -man -z '$ROOT/uva_container.1' 2>&1)\" ]"
DEST=$WORK/dest
make -s -C "$ROOT" install DESTDIR="$DEST" PREFIX=/usr/local >/dev/null 2>&1
check "make install DESTDIR= puts binary, recorder, man page and completion in place" \
  bash -c "cd '$DEST/usr/local' && [ -x bin/uva_container -a -x share/uva_container/http_recorder.py -a -f share/man/man1/uva_container.1 -a -f share/bash-completion/completions/uva_container ]"
make -s -C "$ROOT" uninstall DESTDIR="$DEST" PREFIX=/usr/local >/dev/null 2>&1
check "make uninstall removes them" bash -c "[ -z \"\$(find '$DEST' -type f)\" ]"
check "bash completion offers the port drivers" bash -c "source '$ROOT/completions/uva_container.bash'; COMP_WORDS=(uva_container run --port-driver ''); COMP_CWORD=3; _uva_container; [ \"\${COMPREPLY[*]}\" = 'splice slirp' ]"
check "bash completion knows --pids-limit (offering unlimited) and --shm-size" bash -c "source '$ROOT/completions/uva_container.bash'; COMP_WORDS=(uva_container run --pids-limit ''); COMP_CWORD=3; _uva_container; [ \"\${COMPREPLY[*]}\" = unlimited ] || exit 1; COMP_WORDS=(uva_container run --shm); COMP_CWORD=2; _uva_container; [ \"\${COMPREPLY[*]}\" = --shm-size ]"
check "bash completion offers the --userns modes" bash -c "source '$ROOT/completions/uva_container.bash'; COMP_WORDS=(uva_container run --userns ''); COMP_CWORD=3; _uva_container; [ \"\${COMPREPLY[*]}\" = 'single auto' ]"
as_user "$WORK/uva_container" bogus >/dev/null 2>&1
check "an unexpected argument exits 2" [ $? = 2 ]

if ! start; then
  not_ok "both containers ready"; cat "$OUT"
  summary; exit 1
fi
ok "both containers ready (checkout under /tmp, as a non-root user)"
A=$(app_of a) B=$(app_of b)
check "both apps found" [ -n "$A" -a -n "$B" ]
LA=$WORK/state/uva_container/a/tmp/http_recorder.log
LB=$WORK/state/uva_container/b/tmp/http_recorder.log
check "the readiness probe wrote nothing to the logs" [ ! -e "$LA" -a ! -e "$LB" ]
# A loop that wakes itself (a GLib source whose check always says yes, or
# one that re-registers its fds at every iteration) burns a whole core
# while nothing happens: over 3 s idle the manager and both inits must use
# under 0.3 s of CPU (a spin uses about 3 s).
cpu_ticks() { local p s=0; for p in "$MGR" $(init_pids); do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $s; }
hz=$(getconf CLK_TCK); t0=$(cpu_ticks); sleep 3; t1=$(cpu_ticks)
check "idle: manager and inits used $((t1 - t0)) of $hz/s ticks in 3 s (limit 0.3 s)" [ $((t1 - t0)) -lt $((hz * 3 / 10)) ]

la=$(curl -s -m 5 http://127.0.0.1:18080/)
lb=$(curl -s -m 5 http://127.0.0.1:28080/)
check "18080 lists a's directory" grep -q 'hello-from-a.txt' <<<"$la"
check "18080 does not list b's files" bash -c "! grep -q 'hello-from-b' <<<'$la'"
check "28080 lists b's directory" grep -q 'hello-from-b.txt' <<<"$lb"
check "28080 does not list a's files" bash -c "! grep -q 'hello-from-a' <<<'$lb'"
check "a serves its file" bash -c "curl -s -m 5 http://127.0.0.1:18080/hello-from-a.txt | grep -q 'container a'"

ua=/only-a-$RANDOM$RANDOM ub=/only-b-$RANDOM$RANDOM
curl -s -m 5 -o /dev/null "http://127.0.0.1:18080$ua"
curl -s -m 5 -o /dev/null "http://127.0.0.1:28080$ub"
check "a's log has a's request" wait_for 50 grep -q "GET request for $ua" "$LA"
check "a's log lacks b's request" bash -c "! grep -q '$ub' '$LA'"
check "b's log has b's request" wait_for 50 grep -q "GET request for $ub" "$LB"
check "b's log lacks a's request" bash -c "! grep -q '$ua' '$LB'"
check "the log belongs to the user on the host" [ "$(stat -c %u "$LA")" = "$TUID" ]
check "the state directory is 0700" [ "$(stat -c %a "$WORK/state/uva_container")" = 700 ]
check "terminal shows a's request prefixed" wait_for 50 grep -q "^a | GET request for $ua" "$OUT"
check "terminal shows b's request prefixed" wait_for 50 grep -q "^b | GET request for $ub" "$OUT"
check "the banner names a's log path" grep -q "a log $LA" "$OUT"

check "app a is in its own network namespace" [ "$(readlink /proc/$A/ns/net)" != "$(readlink /proc/self/ns/net)" ]
check "a and b have different network namespaces" [ "$(readlink /proc/$A/ns/net)" != "$(readlink /proc/$B/ns/net)" ]
for ns in user mnt pid uts ipc; do
  check "app a has its own $ns namespace" [ "$(readlink /proc/$A/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ]
done
check "app has no effective capabilities" grep -qx $'CapEff:\t0000000000000000' "/proc/$A/status"
check "app has no_new_privs" grep -qx $'NoNewPrivs:\t1' "/proc/$A/status"
check "app runs as the invoking uid" grep -qP "^Uid:\t$TUID\t" "/proc/$A/status"
check "app is pid 2 of its pid namespace" bash -c "grep '^NSpid:' /proc/$A/status | grep -qP '\t2$'"
check "app's /proc shows only its container (pids 1 and 2)" \
  bash -c "[ \"\$(ls /proc/$A/root/proc | grep -E '^[0-9]+$' | sort -n | tr '\n' ' ')\" = '1 2 ' ]"
check "app's cwd is /app" [ "$(readlink /proc/$A/cwd)" = /app ]
check "the hostname of a is a" bash -c "[ \"\$(in_ns $A hostname)\" = a ]"
check "the hostname of b is b" bash -c "[ \"\$(in_ns $B hostname)\" = b ]"
check "inside a, /tmp/http_recorder.log is a's own" \
  bash -c "in_ns $A cat /tmp/http_recorder.log | grep -q '$ua' && ! in_ns $A cat /tmp/http_recorder.log | grep -q '$ub'"
check "inside a, /usr is read-only" bash -c "! in_ns $A touch /usr/uva-probe 2>/dev/null && [ ! -e /usr/uva-probe ]"
check "inside a, /app is writable (its workdir)" bash -c "in_ns $A touch /app/written-inside && [ -e '$WORK/state/uva_container/a/www/written-inside' ]"

# The container may not reach a service bound to the host's 127.0.0.1
# through libslirp's gateway.  Positive control: the same probe reaches the
# container's own app, so a failure is the block, not a broken probe.
$PY -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 39999)); s.listen(); time.sleep(20)' &
LISTENER=$!
wait_for 50 port_open 39999
probe='import socket,sys
s=socket.socket(); s.settimeout(3)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)'
check "host reaches its own 127.0.0.1:39999 (control)" bash -c "(exec 3<>/dev/tcp/127.0.0.1/39999)"
check "container reaches its own app at 10.0.2.100:8080 (control)" in_ns "$A" $PY -c "$probe" 10.0.2.100 8080
check "container cannot reach the host's 127.0.0.1 via 10.0.2.2" bash -c "! in_ns $A $PY -c '$probe' 10.0.2.2 39999"
check "container a cannot reach b through b's published port (10.0.2.2:28080)" bash -c "! in_ns $A $PY -c '$probe' 10.0.2.2 28080"
check "container a cannot reach b's app on its own 127.0.0.1:28080 (a's loopback is a's)" bash -c "! in_ns $A $PY -c '$probe' 127.0.0.1 28080"
kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null

check "SIGINT stops everything and exits 0 within 5 s" stop_int
check "no process of the user is left" wait_for 20 no_user_procs
check "port 18080 is free" port_free 18080
check "port 28080 is free" port_free 28080
check "no container mount propagated to the host" bash -c "! grep -q '$WORK' /proc/self/mountinfo"
check "no tap device left on the host side" bash -c "! grep -q tap /proc/net/dev"

# Logs append across runs; nothing is deleted.
lines_before=$(wc -l <"$LA")
start >/dev/null || true
curl -s -m 5 -o /dev/null http://127.0.0.1:18080/second-run
check "a's log keeps earlier requests across runs" \
  wait_for 50 bash -c "grep -q '$ua' '$LA' && grep -q /second-run '$LA' && [ \$(wc -l <'$LA') -gt $lines_before ]"

# One app dies: reported, the other keeps serving; the last one -> non-zero.
A=$(app_of a) B=$(app_of b)
kill -TERM "$A"
check "a's death is reported with its status" wait_for 50 grep -q "^uva_container: a: .* exited with status 143" "$OUT"
check "b still answers after a died" bash -c "curl -s -m 5 http://127.0.0.1:28080/ | grep -q hello-from-b"
check "a's port is released" wait_for 20 port_free 18080
kill -TERM "$B"
wait "$MGR"; rc=$?; MGR=
check "manager exits non-zero when no app is left (rc=$rc)" [ $rc != 0 ]
check "it says none is left" grep -q "no container is left running" "$OUT"

# SIGKILL of the manager: PR_SET_PDEATHSIG takes everything down.
start >/dev/null || true
kill -KILL "$MGR"; wait "$MGR" 2>/dev/null; MGR=
check "after SIGKILL of the manager no process is left within 2 s" wait_for 20 no_user_procs
check "after SIGKILL port 18080 is free" wait_for 20 port_free 18080

# ---- bad environments: one line, non-zero, nothing left ----
expect_fail() { # description, expected text, command...
  local d=$1 want=$2; shift 2
  local out rc
  [ "$1" = as_user ] && { shift; set -- "${AS_USER[@]}" "$@"; }
  # Bounded: a case that wrongly starts must fail, not hang the suite.
  out=$(timeout -s KILL 30 "$@" 2>&1); rc=$?
  if [ $rc != 0 ] && grep -q -- "$want" <<<"$out" && [ "$(grep -c . <<<"$out")" = 1 ] && no_user_procs; then
    ok "$d"
  else
    not_ok "$d (rc=$rc): $out"
  fi
}

$PY -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 28080)); s.listen(); time.sleep(30)' &
HOLDER=$!
wait_for 50 port_open 28080
expect_fail "a taken port 28080 is named" "port 127.0.0.1:28080: it is already in use" as_user "$WORK/uva_container"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
check "a failed start left 18080 free" port_free 18080

expect_fail "user namespaces disabled (max_user_namespaces=0) is explained" \
  "user.max_user_namespaces=0" \
  as_user unshare -Ur sh -c "echo 0 >/proc/sys/user/max_user_namespaces && exec '$WORK/uva_container'"

chmod -x "$WORK/http_recorder.py"
expect_fail "a non-executable http_recorder.py is named" "http_recorder.py is not executable" as_user "$WORK/uva_container"
chmod +x "$WORK/http_recorder.py"
mv "$WORK/http_recorder.py" "$WORK/hr.py"
expect_fail "a missing http_recorder.py is named" "http_recorder.py not found (tried $WORK/http_recorder.py, " as_user "$WORK/uva_container"
mv "$WORK/hr.py" "$WORK/http_recorder.py"

if [ $IS_ROOT = 1 ]; then
  chmod 0600 /dev/net/tun
  expect_fail "/dev/net/tun at 0600 is explained" "chmod 0666 /dev/net/tun" as_user "$WORK/uva_container"
  chmod 0666 /dev/net/tun
  # Hide python3: a non-executable file bound over it, in a mount
  # namespace of this test only.
  touch "$WORK/not-python"; chmod 0644 "$WORK/not-python"
  export -f as_user
  export PY
  expect_fail "a missing python3 is named" "python3 not found" \
    unshare -m --propagation private bash -c "mount --bind '$WORK/not-python' $PY && for d in /usr/local/bin /usr/local/sbin; do [ -e \$d/python3 ] && mount --bind '$WORK/not-python' \$d/python3; done; as_user '$WORK/uva_container'"
else
  skipped "/dev/net/tun at 0600 (needs root to arrange)"
  skipped "missing python3 (needs root to arrange)"
fi

# ---- `run`: any command, exit status, env, network, publish ----
UVA=$WORK/uva_container
run_out() { timeout -s KILL 30 "${AS_USER[@]}" "$UVA" run "$@" 2>&1; }
out=$(run_out -- sh -c 'echo out-line; exit 7'); rc=$?
check_eq "run: the app's exit status comes back" "$rc" 7
check_eq "run: the app's output is passed through unprefixed" "$out" out-line
# A manager that is slow to look (a busy machine) finds the app's start
# and its death pending together; the start must still be seen first.
out=$(timeout -s KILL 30 "${AS_USER[@]}" UVA_TEST_HOOK_STALL_MS=300 "$WORK/uva_container-hooks" run -- sh -c 'echo out-line; exit 7' 2>&1); rc=$?
check_eq "run: an app that exits before the manager looks: status 7, output only" "$rc.$out" 7.out-line
run_out -- sh -c 'kill -TERM $$' >/dev/null; rc=$?
check_eq "run: death by SIGTERM gives 143" "$rc" 143
out=$(run_out --hostname web -e FOO=bar -e PATH=/usr/bin:/bin -- sh -c 'echo "$FOO $HOSTNAME $(hostname) $PATH $(id -u)"')
check_eq "run: -e, --hostname, and the user's uid inside" "$out" "bar web web /usr/bin:/bin $TUID"
# What real software expects of a machine: HOME, USER and LOGNAME as the
# passwd entry it sees says, no PYTHONUNBUFFERED forced on it (only the
# recorder's spec sets it), and a writable, private, sized /run, /var/tmp
# and home directory.
TNAME=$(getent passwd "$TUID" | cut -d: -f1)
out=$(run_out --network none -- sh -c 'echo "$HOME $USER $LOGNAME ${PYTHONUNBUFFERED-unset}"; getent passwd "$(id -u)" | cut -d: -f6')
check_eq "run: HOME, USER, LOGNAME from the passwd entry seen inside; no PYTHONUNBUFFERED" "$out" "$THOME $TNAME $TNAME unset
$THOME"
out=$(run_out --network none -- sh -c 'for d in /run /var/tmp "$HOME"; do stat -c "%n %a %u" "$d"; echo x >"$d/uva-w" || exit 1; done; df -k /run /var/tmp "$HOME" | awk "NR > 1 {print \$2}" | tr "\n" " "')
check_eq "run: /run (0755), /var/tmp (1777) and HOME (0700) are the user's, writable, of 64, 256, 256 MiB" "$out" "/run 755 $TUID
/var/tmp 1777 $TUID
$THOME 700 $TUID
65536 262144 262144 "
check "run: what the app wrote there is not on the host" [ ! -e /var/tmp/uva-w -a ! -e "$THOME/uva-w" -a ! -e /run/uva-w ]
out=$(run_out --network none -- ls -A /run /var/tmp "$THOME")
check "run: nor in the next container" bash -c '! grep -q uva-w <<<"$1"' _ "$out"
# An app that daemonizes: what it left is killed with init, and said so.
out=$(run_out --network none -- sh -c 'sleep 100 & exit 0'); rc=$?
check "run: a process the app left behind is counted in one line (rc=$rc: $out)" bash -c \
  '[ "$1" = 0 ] && [ "$(grep -c . <<<"$2")" = 1 ] && grep -qE "^uva_container: run-[0-9a-f]{8}: 1 process \(.*\) outlived the app and was killed \(did it daemonize\?" <<<"$2"' _ "$rc" "$out"
out=$(run_out --network none -- sh -c 'sleep 100 & sleep 100 & exit 0')
check "run: two are counted as two" grep -qE "^uva_container: run-[0-9a-f]{8}: 2 processes \(.*\) outlived the app and were killed" <<<"$out"
# --userns auto: subordinate ids through newuidmap, as rootless podman
# maps them.  Root gives the test user a range where it has none.
if [ $IS_ROOT = 1 ] && [ -x /usr/bin/newuidmap ] && [ -x /usr/bin/newgidmap ]; then
  for f in subuid subgid; do
    if ! grep -q "^$TNAME:" /etc/$f; then
      s=$(awk -F: '$2 + $3 > m {m = $2 + $3} END {print (m < 100000 ? 100000 : m)}' /etc/$f)
      [ $f = subuid ] && usermod --add-subuids "$s-$((s + 65535))" "$TNAME"
      [ $f = subgid ] && usermod --add-subgids "$s-$((s + 65535))" "$TNAME"
    fi
  done
  SUBU=$(grep -m1 "^$TNAME:" /etc/subuid | cut -d: -f2,3 | tr : ' ')
  SUBG=$(grep -m1 "^$TNAME:" /etc/subgid | cut -d: -f2,3 | tr : ' ')
  out=$(run_out --network none --userns auto -- sh -c 'id -u; echo "$USER $HOME"; awk "{print \$1, \$2, \$3}" /proc/self/uid_map /proc/self/gid_map')
  check_eq "run --userns auto: root inside is the user, the range is mapped above it" "$out" "0
root /root
0 $TUID 1
1 $SUBU
0 $TGID 1
1 $SUBG"
  out=$(run_out --name subid --network none --userns auto -- sh -c 'touch /tmp/uva-owned && chown 1000:1000 /tmp/uva-owned && stat -c "%u %g" /tmp/uva-owned; setpriv --reuid 1000 --regid 1000 --clear-groups id -u; unshare -U true 2>/dev/null || echo no-nested-userns')
  check_eq "run --userns auto: chown and setuid to other ids work; a nested user namespace is still refused" "$out" "1000 1000
1000
no-nested-userns"
  check_eq "run --userns auto: on the host the file belongs to the subordinate id" \
    "$(stat -c %u "$WORK/state/uva_container/subid/tmp/uva-owned")" "$(($(cut -d' ' -f1 <<<"$SUBU") + 999))"
  rm -f "$WORK/state/uva_container/subid/tmp/uva-owned"
  : >"$WORK/empty-subuid"
  expect_fail "run --userns auto without a range says what to ask root for" "/etc/subuid has no range for $TNAME" \
    unshare -m --propagation private bash -c "mount --bind '$WORK/empty-subuid' /etc/subuid && as_user '$UVA' run --userns auto -- true"
  expect_fail "run --userns bogus is refused" 'userns "bogus" is not single or auto' as_user "$UVA" run --userns bogus -- true
else
  for i in 1 2 3 4 5; do skipped "--userns auto (needs root to give a range, and uidmap's newuidmap)"; done
fi
out=$(run_out --network none -- sh -c 'ls /sys/class/net 2>/dev/null || cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d " "')
check_eq "run --network none: only lo" "$out" lo
out=$(run_out -- sh -c 'cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d " " | sort | tr "\n" " "')
check_eq "run: slirp network gives lo and tap0" "$out" "lo tap0 "
out=$(run_out --network none -- $PY -c "$probe" 10.0.2.2 80); rc=$?
check "run --network none: no route out" [ $rc != 0 ]
mkdir -p "$WORK/site" && echo "site file" >"$WORK/site/page.txt"
[ $IS_ROOT = 1 ] && chown -R "$TUID:$TGID" "$WORK/site"
ROUT=$WORK/run.out
"${AS_USER[@]}" "$UVA" run -p 127.0.0.1:18081:8000 -w "$WORK/site" -- $PY -m http.server 8000 >"$ROUT" 2>&1 &
MGR=$!
wait_for 100 bash -c "curl -s -m 2 http://127.0.0.1:18081/page.txt | grep -q 'site file'"
check "run -p 18081:8000 -w DIR serves DIR" bash -c "curl -s -m 2 http://127.0.0.1:18081/page.txt | grep -q 'site file'"
kill -INT "$MGR"; wait "$MGR"; rc=$?; MGR=
# SIGINT reaches the app as SIGINT: http.server's KeyboardInterrupt
# handler exits 0 (it died of SIGTERM, 143, before).
check_eq "run: Ctrl-C reaches the app as SIGINT, its status comes back" "$rc" 0
check "run: no process left" wait_for 20 no_user_procs
expect_fail "run -p 0:80 is refused, naming the argument" "0:80" as_user "$UVA" run -p 0:80 -- true
expect_fail "run --workdir that does not exist" "is not an existing directory" as_user "$UVA" run -w /nonexistent-uva -- true
expect_fail "run without a command" "no COMMAND" as_user "$UVA" run
expect_fail "run --network bogus" "not slirp or none" as_user "$UVA" run --network bogus -- true
expect_fail "run -e without =" "not NAME=VALUE" as_user "$UVA" run -e JUSTNAME -- true
expect_fail "run of a command that does not exist" "not found in the container's PATH" as_user "$UVA" run -- no-such-command-uva

# ---- the build: install under any PREFIX, data found ----
. "$ROOT/tests/build.sh"

# ---- messages: one line, the cause and the fix ----
. "$ROOT/tests/messages.sh"

# ---- attacks from inside ----
. "$ROOT/tests/hardening.sh"

# ---- paths: the container and other users are hostile ----
. "$ROOT/tests/paths.sh"

# ---- streams: bytes in and out exactly, ptys, signals ----
. "$ROOT/tests/streams.sh"

# ---- lifecycle: exit status, stop signal and timeout, notify ----
. "$ROOT/tests/lifecycle.sh"

# ---- published ports: splice and slirp drivers, UDP, IPv6; volumes ----
. "$ROOT/tests/ports.sh"

# ---- compat: real software on the host and in a container, compared ----
. "$ROOT/tests/compat.sh"

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
[ $IS_ROOT = 1 ] && chown "$TUID:$TGID" "$SPEC"
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
"${AS_USER[@]}" "$UVA" up "$WORK/default.spec" >"$UOUT" 2>&1 &
MGR=$!
wait_for 300 grep -q "press Ctrl-C to stop" "$UOUT"
check "up of the printed default serves a on 18080" bash -c "curl -s -m 5 http://127.0.0.1:18080/ | grep -q hello-from-a.txt"
kill -INT "$MGR"; wait "$MGR"; MGR=

# ---- `check`: the doctor ----
rc_and_line() { [ "$1" = "$2" ] && grep -q -- "$3" <<<"$4"; } # rc want regex text
out=$(timeout 30 "${AS_USER[@]}" "$UVA" check 2>&1); rc=$?
check "check: OK on this machine (rc=$rc)" rc_and_line "$rc" 0 '^OK    user namespaces' "$out"
check "check: no FAIL line on this machine" bash -c '! grep -q "^FAIL" <<<"$1"' _ "$out"
if strings "$UVA" | grep -q __asan_; then
  check "check: says the manager is not confined in a sanitizer build" grep -q '^OK    manager confinement *off in this sanitizer build' <<<"$out"
else
  check "check: names the manager's Landlock ABI and layers, and its seccomp filter" bash -c \
    'grep -qE "^OK    manager Landlock +(ABI [0-9]+: filesystem|not available)" <<<"$1" && grep -qE "^OK    manager seccomp filter +allow-list" <<<"$1"' _ "$out"
fi
if [ $IS_ROOT = 1 ]; then
  chmod 0600 /dev/net/tun
  out=$(timeout 30 "${AS_USER[@]}" "$UVA" check 2>&1); rc=$?
  chmod 0666 /dev/net/tun
  check "check: /dev/net/tun at 0600 is a FAIL with the fix" rc_and_line "$rc" 1 '^FAIL  /dev/net/tun.*chmod 0666' "$out"
else
  skipped "check with /dev/net/tun at 0600 (needs root to arrange)"
fi
out=$(timeout 30 "${AS_USER[@]}" unshare -Ur sh -c "echo 0 >/proc/sys/user/max_user_namespaces && exec '$UVA' check" 2>&1); rc=$?
check "check: disabled user namespaces are a FAIL with the sysctl" rc_and_line "$rc" 1 '^FAIL  user namespaces.*max_user_namespaces=0' "$out"

if [ -n "${UVA_COUNTS:-}" ]; then
  echo "$n $pass $fail $skip" >"$UVA_COUNTS"
  exit 0
fi
summary
