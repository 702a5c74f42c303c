# shellcheck shell=bash
# tests/lib.sh - what every part of the suite shares: TAP output, the
# assertion helpers, and a run of its own.  A part is a script that sources
# this file first and then runs its cases (bubblewrap's tests/libtest.sh is
# the model):
#
#   #!/usr/bin/env bash
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#   check "something holds" test -e "$WORK/x"
#
# and runs alone (`bash tests/ports.sh`, `prove -e bash tests/ports.sh`) or
# from tests/run.sh (`make check`).  It prints "ok N - ..." lines and, at
# exit, the plan "1..N"; its exit status is non-zero if a case failed.
#
# What sourcing it sets up, per part and per run, so that two runs of the
# suite on one machine never meet:
#  - as root: a test user of this run's own (uvat-PID, created here, its
#    processes killed and the user deleted when the part ends), unless
#    UVA_TEST_USER names one (created if missing, never deleted then); and
#    the part itself runs in a network namespace of its own (unshare --net),
#    so its fixed ports (18080, 28080, 19xxx) are its own, with a
#    /dev/net/tun node of its own (mode 0666);
#  - as an ordinary user: that user, in the caller's network namespace (an
#    unprivileged user cannot bring up lo in one of its own);
#  - a work directory $WORK (mktemp) with a copy of the binaries and the
#    recorder, and the user's XDG_STATE_HOME under it;
#  - at exit: what the part started (its background jobs, $MGR) is killed
#    by pid, $WORK removed, the plan printed.
#
# UVA_LIB_TAP_ONLY=1 before sourcing gives only the TAP helpers (the unit
# part needs no user).  Parts rely on: ok, not_ok, skipped, check, check_eq,
# expect_fail, wait_for, gone, run_out, up_out, start, stop_int, app_of,
# init_pids, in_ns, as_user, own, port_open, port_free, no_user_procs,
# make_site, rc_and_line; $ROOT $WORK $UVA $PY $AS_USER $AS_USER_Q $IS_ROOT
# $TUID $TGID $THOME $TNAME $probe; $MGR and $OUT as start and the parts
# leave them.
# Variables set here are used by the parts that source this file.
# shellcheck disable=SC2034
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PART=$(basename "$0" .sh)
BIN=${UVA_BIN:-$ROOT/uva_container}
HOOKS_BIN=${UVA_HOOKS_BIN:-$ROOT/build/uva_container-hooks}
PY=/usr/bin/python3
IS_ROOT=0
[ "$(id -u)" = 0 ] && IS_ROOT=1

# ---- TAP ------------------------------------------------------------------
pass=0 fail=0 skip=0 n=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $*"; }
skipped() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n # SKIP $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }
rc_and_line() { [ "$1" = "$2" ] && grep -q -- "$3" <<<"$4"; } # rc want regex text
diag() { sed 's/^/#   /'; }

# Bounded polling, never a fixed sleep: waits up to $1 tenths of a second
# for the command to succeed.
wait_for() {
  local tenths=$1 i
  shift
  for ((i = 0; i < tenths; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
# A pid that has exited: gone, or a zombie its parent (this shell) has not
# waited for yet.  kill -0 alone says "alive" of a zombie.
gone() {
  local st
  read -r st 2>/dev/null <"/proc/$1/stat" || return 0
  st=${st##*) }
  [ "${st%% *}" = Z ]
}

if [ "${UVA_LIB_TAP_ONLY:-}" = 1 ]; then
  trap 'echo "1..$n"; echo "# $PART: $pass passed, $fail failed, $skip skipped"; [ "$fail" = 0 ] || exit 1' EXIT
  return 0
fi

# ---- the run's own user and network namespace (root) ----------------------
# Retried: useradd, usermod and userdel take /etc/passwd's lock and fail at
# once (status 10 or 1) while another run holds it.
retry_lock() {
  local i
  for ((i = 0; i < 100; i++)); do "$@" 2>/dev/null && return 0; sleep 0.1; done
  "$@"
}
user_cleanup() {
  local i pids
  # The user is this run's alone: whatever runs as it was started here.
  for ((i = 0; i < 50; i++)); do
    pids=$(pgrep -u "$1" | tr '\n' ' ')
    [ -z "$pids" ] && break
    # Word splitting wanted: one pid per word.
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.1
  done
  [ -n "$pids" ] && echo "# $PART: processes of $1 left: $pids"
  retry_lock userdel -r "$1" >/dev/null 2>&1 || echo "# $PART: userdel $1 failed"
}
if [ $IS_ROOT = 1 ] && [ "${UVA_LIB_INNER:-}" != "$PPID.$PART" ]; then
  created=
  if [ -n "${UVA_TEST_USER:-}" ]; then
    TUSER=$UVA_TEST_USER
    if ! id "$TUSER" >/dev/null 2>&1; then
      retry_lock useradd -m -s /bin/bash "$TUSER" || { echo "not ok 1 - creating test user $TUSER"; echo 1..1; exit 1; }
    fi
  else
    TUSER=uvat-$$
    k=0
    while id "$TUSER" >/dev/null 2>&1; do k=$((k + 1)); TUSER=uvat-$$-$k; done
    retry_lock useradd -m -s /bin/bash "$TUSER" || { echo "not ok 1 - creating test user $TUSER"; echo 1..1; exit 1; }
    created=$TUSER
  fi
  # The part again, inside a network namespace of its own.  The marker
  # names this shell and part, so a part started by a part still gets its
  # own namespace.
  # In the background so that this shell can pass a stop on (below); a
  # background job starts with SIGINT and SIGQUIT ignored, which env
  # undoes, or every process of the part would inherit the ignore.
  UVA_LIB_INNER=$$.$PART UVA_TEST_USER=$TUSER env --default-signal=INT,QUIT \
    unshare --net --mount --propagation unchanged -- bash "$0" "$@" &
  inner=$!
  # A stop of the part (the runner's timeout, Ctrl-C) reaches the inner
  # part, whose clean-up runs, and then the user's.
  trap 'kill -TERM "$inner" 2>/dev/null' TERM INT HUP
  wait "$inner"
  rc=$?
  while kill -0 "$inner" 2>/dev/null; do wait "$inner"; rc=$?; done
  [ -n "$created" ] && user_cleanup "$created"
  exit $rc
fi

# ---- the part's own work directory and user --------------------------------
if [ $IS_ROOT = 1 ]; then
  ip link set lo up
  # A /dev/net/tun of the part's own (0666, as Debian ships it), so that
  # another run that changes the machine's node (an older suite chmods it
  # to 0600 for a case) cannot fail this one.  /dev is made private in this
  # mount namespace first, so the tmpfs stays here: the namespace keeps the
  # machine's propagation elsewhere, which the no-mount-propagated cases
  # rely on.
  mount --make-rprivate /dev && mount -t tmpfs -o mode=0755 uva-tun /dev/net &&
    mknod -m 0666 /dev/net/tun c 10 200 || echo "# $PART: no /dev/net/tun of its own"
  TUSER=$UVA_TEST_USER
  TUID=$(id -u "$TUSER") TGID=$(id -g "$TUSER")
  THOME=$(getent passwd "$TUSER" | cut -d: -f6)
else
  TUID=$(id -u) TGID=$(id -g) THOME=$HOME
fi
TNAME=$(getent passwd "$TUID" | cut -d: -f1)
WORK=$(mktemp -d /tmp/uva-test.XXXXXX)
cp "$BIN" "$WORK/uva_container"
cp "$HOOKS_BIN" "$WORK/uva_container-hooks" 2>/dev/null
cp -p "$ROOT/http_recorder.py" "$WORK/http_recorder.py"
mkdir -p "$WORK/state"
[ $IS_ROOT = 1 ] && chown -R "$TUID:$TGID" "$WORK"
UVA=$WORK/uva_container

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

MGR='' OUT=''
finish() {
  local p
  # What this part started, by pid: the manager it left running and every
  # background job of this shell still alive.
  [ -n "$MGR" ] && kill -KILL "$MGR" 2>/dev/null
  for p in $(jobs -p); do kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
  echo "1..$n"
  echo "# $PART: $pass passed, $fail failed, $skip skipped"
  # An EXIT trap's own status is not the script's: only exit sets it.
  [ "$fail" = 0 ] || exit 1
}
trap finish EXIT
trap 'exit 143' TERM INT HUP

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
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free() { ! port_open "$1"; }
own() { [ $IS_ROOT = 1 ] && chown -R "$TUID:$TGID" "$@"; return 0; }

# The default pair (a on 18080, b on 28080), ready.
start() {
  OUT=$WORK/out.$RANDOM
  "${AS_USER[@]}" "$WORK/uva_container" >"$OUT" 2>&1 &
  MGR=$!
  wait_for 300 grep -q "press Ctrl-C to stop" "$OUT"
}
# SIGINT: the manager is gone within 5 s (polled), with status 0.
stop_int() {
  local rc
  kill -INT "$MGR"
  if ! wait_for 50 gone "$MGR"; then
    kill -KILL "$MGR"; wait "$MGR"; MGR=
    return 1
  fi
  wait "$MGR"; rc=$?
  MGR=
  [ $rc = 0 ]
}
init_pids() { tr ' ' '\n' <"/proc/$MGR/task/$MGR/children" | grep .; }
app_of() { # container name -> host pid of its app (init's first child with its HOSTNAME)
  local i a
  for i in $(init_pids); do
    # Each child on its own: an init with two (the app and an exec, or a
    # restarted app and its predecessor's reaping) lists "A B ".
    local kids=()
    read -r -a kids 2>/dev/null <"/proc/$i/task/$i/children"
    for a in "${kids[@]}"; do
      tr '\0' '\n' <"/proc/$a/environ" 2>/dev/null | grep -qx "HOSTNAME=$1" && { echo "$a"; return; }
    done
  done
}
in_ns() { # pid, command...: run inside the container's namespaces
  local p=$1; shift
  as_user nsenter -t "$p" -U -n -u -m --preserve-credentials "$@"
}
export -f in_ns as_user port_open gone
export IS_ROOT TUID TGID THOME WORK AS_USER_Q PY

# A case that must fail: non-zero, one line holding the expected text, and
# nothing left running.
expect_fail() { # description, expected text, command...
  local d=$1 want=$2; shift 2
  local out rc
  [ "$1" = as_user ] && { shift; set -- "${AS_USER[@]}" "$@"; }
  # Bounded: a case that wrongly starts must fail, not hang the suite.
  out=$(timeout -s KILL 30 "$@" 2>&1); rc=$?
  # The manager's clean-up helper (afterlife.c) may outlive it by a moment.
  if [ $rc != 0 ] && grep -q -- "$want" <<<"$out" && [ "$(grep -c . <<<"$out")" = 1 ] && wait_for 20 no_user_procs; then
    ok "$d"
  else
    not_ok "$d (rc=$rc, $(user_procs) processes left): $out"
    no_user_procs || ps -u "$TUID" -o pid=,stat=,args= | diag
  fi
}
run_out() { timeout -s KILL 30 "${AS_USER[@]}" "$UVA" run "$@" 2>&1; }
up_out() { timeout -s KILL 30 "${AS_USER[@]}" "$UVA" up "$@" 2>&1; }
# Root only: "${TUN_0600[@]}" CMD... runs CMD in a mount namespace of its
# own where /dev/net/tun is a fresh node of mode 0600 on a tmpfs, as on a
# machine without udev's 0666; the machine's own node is never changed, so
# a run beside this one keeps its tun.
TUN_0600=(unshare -m --propagation private sh -c
  'mount -t tmpfs -o mode=0755 uva-tun /dev/net && mknod -m 0600 /dev/net/tun c 10 200 && exec "$@"' _)
# ---- What the host can do -------------------------------------------------
# A check that needs a kernel or host feature first asks the host, outside
# uva_container, and is a skip naming what is missing where the host
# cannot: a test never fails because the runner lacks a feature the
# product does not need (a kernel without IA32 emulation failed the i386
# case).  Where the host can, the container must do the same.  Each
# host_* returns 0 if the host has it, else 1 with HOST_LACKS set to a
# phrase for the skip line.
HOST_LACKS=
# host_runs FILE [ARGS]: FILE, a program of an ABI of its own (i386, x32),
# runs on the host as the test user (it prints; any exit status).  Not
# when execve answers "Exec format error": the kernel has no handler for
# it.
host_runs() {
  local out
  # os.execv is a bare execve(2); a shell or execvp(3) would retry the
  # file as a shell script on ENOEXEC and print something else.
  out=$(as_user "$PY" -c 'import os, sys
os.execv(sys.argv[1], sys.argv[1:])' "$@" 2>&1 </dev/null)
  if grep -q "Exec format error" <<<"$out"; then
    HOST_LACKS="this kernel cannot run $(basename "$1") (execve: Exec format error)"
    return 1
  fi
  return 0
}
# host_landlock_abi: the Landlock ABI of this kernel, 0 without Landlock
# (landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)).
host_landlock_abi() {
  "$PY" -c 'import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(444, None, 0, 1) if os.uname().machine in ("x86_64", "aarch64") else -1
print(r if r > 0 else 0)'
}
host_has_landlock() { # minimum ABI, what it brings
  local abi
  abi=$(host_landlock_abi)
  [ "${abi:-0}" -ge "$1" ] && return 0
  HOST_LACKS="Landlock ABI $1 ($2); this kernel has ${abi:-0}"
  return 1
}
# host_has_bypass_kernel: what the bypass drivers need of the kernel,
# probed as calls, not by version: SO_NETNS_COOKIE (5.14) on a socket, and
# seccomp's NEW_LISTENER | WAIT_KILLABLE_RECV flags (5.19): with a NULL
# program a kernel that knows the flags answers EFAULT, one that does not
# EINVAL (kernel/seccomp.c, seccomp_set_mode_filter checks flags first).
host_has_bypass_kernel() {
  local out
  out=$("$PY" -c 'import ctypes, socket
s = socket.socket()
try:
    s.getsockopt(socket.SOL_SOCKET, 71, 8)
    print("cookie")
except OSError:
    print("no-cookie")
libc = ctypes.CDLL(None, use_errno=True)
r = libc.syscall(317, 1, (1 << 3) | (1 << 5), None)
print("flags" if r == -1 and ctypes.get_errno() == 14 else "no-flags")' 2>&1)
  grep -qx cookie <<<"$out" || { HOST_LACKS="SO_NETNS_COOKIE (Linux 5.14)"; return 1; }
  grep -qx flags <<<"$out" || { HOST_LACKS="SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19)"; return 1; }
  return 0
}
# host_has_subids: newuidmap/newgidmap and a range for the test user in
# /etc/subuid and /etc/subgid (what --userns auto and rootless podman use).
host_has_subids() {
  local name f
  name=$(getent passwd "$TUID" | cut -d: -f1)
  for f in newuidmap newgidmap; do
    command -v "$f" >/dev/null || { HOST_LACKS="$f (package uidmap)"; return 1; }
  done
  for f in subuid subgid; do
    grep -q "^$name:" "/etc/$f" 2>/dev/null || { HOST_LACKS="a range for $name in /etc/$f"; return 1; }
  done
  return 0
}
# $WORK/site: a directory with page.txt ("site file") for http.server.
make_site() {
  mkdir -p "$WORK/site" && echo "site file" >"$WORK/site/page.txt"
  own "$WORK/site"
}
# python3 -c "$probe" HOST PORT: exit 0 if a TCP connect succeeds in 3 s.
probe='import socket,sys
s=socket.socket(); s.settimeout(3)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)'

echo "# $PART: $WORK (as uid $TUID${UVA_TEST_USER:+, user $UVA_TEST_USER}; network namespace $(readlink /proc/self/ns/net))"
