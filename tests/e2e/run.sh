#!/usr/bin/env bash
# tests/e2e/run.sh - end-to-end test of uva_container as a user sees it.
#
#   1. uva_container is started (as a non-root user) and must announce
#      readiness; headless Chromium (tests/e2e/browser.mjs, playwright-core)
#      browses both containers, takes the screenshots docs/screenshot-18080.png
#      and docs/screenshot-28080.png, and checks the host-side logs; SIGINT
#      must then stop it with status 0.
#   2. uva_container is run in a tmux pane like in a terminal: requests made
#      with curl must show up as "a | GET request for ..." / "b | ..." lines,
#      and Ctrl-C (send-keys C-c) must stop it cleanly, back to the prompt.
#
# Run as root (as CI does), it creates a test user of this run's own
# (uvae2e-PID, deleted at the end; UVA_E2E_USER names another, created if
# missing and kept), runs itself again in a network namespace of its own
# (unshare --net), so that ports 18080 and 28080 are this run's alone even
# beside another run, and runs uva_container as that user from a copy of the
# built tree in a fresh /tmp/uva-e2e.XXXXXX; run as another user it runs the
# checkout's ./uva_container directly, in the caller's network namespace.  Either way XDG_STATE_HOME is a fresh
# directory, so the logs start empty.  Needs a built tree (make), and what
# tests/e2e/install-deps.sh installs; the npm package is installed here when
# missing.
#
# Output: "ok N - ..." / "not ok N - ..." per check, then one line
# "N passed, N failed"; the exit status is non-zero when a check failed.
#
# Environment: UVA_BIN (binary to test, default <repo>/uva_container),
# UVA_E2E_USER, CHROMIUM (default /usr/bin/chromium), UVA_E2E_SHOTS
# (screenshot directory, default <repo>/docs), UVA_E2E_KEEP=1 (keep the temp
# directory), UVA_E2E_TIMEOUT (readiness timeout in seconds, default 30).

# Functions here are mostly called through check/wait_for and traps.
# shellcheck disable=SC2317
set -u

E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E/../.." && pwd)
BIN=${UVA_BIN:-$REPO/uva_container}
RECORDER=$REPO/http_recorder.py
TEST_USER=${UVA_E2E_USER:-uvae2e-$$}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
SHOTS=${UVA_E2E_SHOTS:-$REPO/docs}
READY_TIMEOUT=${UVA_E2E_TIMEOUT:-30}
PORTS=(18080 28080)

passed=0
failed=0
n=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then ok "$what"; else not_ok "$what"; fi
}
diag() { sed 's/^/#   /'; }
finish() {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$n" -gt 0 ]
  exit
}

# ---------------------------------------------------------------- cleanup --
# Everything started here is remembered by pid and ended by pid.
WORK=
UVA_PID=     # uva_container of part 1
TMUX_SOCK=   # tmux server of part 2 (runs as the test user)
TMUX_PID=
PANE_UVA=    # uva_container inside the tmux pane

stop_pid() { # stop_pid PID: SIGTERM, up to 10 s, then SIGKILL (and then
  local pid=$1 i kids # also the children it had, which it could not end)
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  mapfile -t kids < <(pgrep -P "$pid")
  kill -KILL "$pid" "${kids[@]}" 2>/dev/null
}

cleanup() {
  trap - EXIT INT TERM
  stop_pid "$UVA_PID"
  stop_pid "$PANE_UVA"
  if [ -n "$TMUX_SOCK" ] && [ -S "$TMUX_SOCK" ]; then
    as_user tmux -S "$TMUX_SOCK" kill-server 2>/dev/null
  fi
  stop_pid "$TMUX_PID"
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${UVA_E2E_KEEP:-0}" = 1 ]; then
      echo "# kept $WORK"
    else
      rm -rf "$WORK"
    fi
  fi
}
trap cleanup EXIT
trap 'echo "# interrupted"; failed=$((failed + 1)); finish' INT TERM

# ------------------------------------------------------------ the user ----
CREATED_USER=
# useradd and userdel fail at once while another run holds /etc/passwd's
# lock: retried, bounded.
retry_lock() {
  local i
  for ((i = 0; i < 100; i++)); do "$@" 2>/dev/null && return 0; sleep 0.1; done
  "$@"
}
if [ "$(id -u)" -eq 0 ]; then
  if ! id "$TEST_USER" >/dev/null 2>&1; then
    retry_lock useradd -m -s /bin/bash "$TEST_USER" || { not_ok "create test user $TEST_USER"; finish; }
    [ -z "${UVA_E2E_USER:-}" ] && CREATED_USER=$TEST_USER
  fi
  RUN_USER=$TEST_USER
else
  RUN_USER=$(id -un)
fi
RUN_UID=$(id -u "$RUN_USER")
RUN_GID=$(id -g "$RUN_USER")
RUN_HOME=$(getent passwd "$RUN_USER" | cut -d: -f6)

# as_user CMD...: CMD as the test user (setpriv when root: unlike runuser it
# leaves no process of its own around), with a small clean environment.
as_user() {
  local envv=(HOME="$RUN_HOME" USER="$RUN_USER" LOGNAME="$RUN_USER"
              PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8)
  local ex=
  [ "${exec_as_user:-0}" = 1 ] && ex="exec"
  if [ "$(id -u)" -eq 0 ]; then
    $ex setpriv --reuid="$RUN_UID" --regid="$RUN_GID" --init-groups \
      env -i "${envv[@]}" "$@"
  else
    $ex env -i "${envv[@]}" "$@"
  fi
}

# spawn_user CMD... &: as_user, but exec'd, so that $! is CMD's own pid.
spawn_user() { exec_as_user=1 as_user "$@"; }

# ------------------------------------------------------- preconditions ----
need_ok=1
need() { # need WHAT COMMAND...
  if "${@:2}" >/dev/null 2>&1; then :; else
    not_ok "prerequisite: $1"
    need_ok=0
  fi
}
need "built binary $BIN (run make)" test -x "$BIN"
need "$RECORDER" test -f "$RECORDER"
need "Chromium at $CHROMIUM (tests/e2e/install-deps.sh)" test -x "$CHROMIUM"
for tool in node npm tmux curl setpriv; do
  need "$tool installed (tests/e2e/install-deps.sh)" command -v "$tool"
done
need "/dev/net/tun usable by $RUN_USER (chmod 0666 /dev/net/tun)" \
  as_user sh -c 'test -r /dev/net/tun && test -w /dev/net/tun'
if [ "$need_ok" = 1 ] && [ ! -f "$E2E/node_modules/playwright-core/package.json" ]; then
  echo "# installing playwright-core into $E2E/node_modules"
  npm install --prefix "$E2E" --prefer-offline --no-package-lock \
    --no-audit --no-fund 2>&1 | diag
  need "npm package playwright-core in $E2E/node_modules" \
    test -f "$E2E/node_modules/playwright-core/package.json"
fi
[ "$need_ok" = 1 ] || finish
BIN=$(readlink -f "$BIN")

# ---------------------------------------------- a network of its own ------
# As root the rest runs again in a network namespace made for this run; the
# user is deleted afterwards if this run made it (its processes are this
# run's alone, so all of them are ended first).
if [ "$(id -u)" -eq 0 ] && [ "${UVA_E2E_INNER:-}" != "$PPID" ]; then
  trap - EXIT INT TERM
  UVA_E2E_INNER=$$ UVA_E2E_USER=$TEST_USER unshare --net -- bash "$0" "$@"
  rc=$?
  if [ -n "$CREATED_USER" ]; then
    for ((i = 0; i < 50; i++)); do
      mapfile -t left < <(pgrep -u "$CREATED_USER")
      [ "${#left[@]}" = 0 ] && break
      kill -KILL "${left[@]}" 2>/dev/null
      sleep 0.1
    done
    retry_lock userdel -r "$CREATED_USER" >/dev/null 2>&1 || echo "# userdel $CREATED_USER failed"
  fi
  exit $rc
fi
[ "$(id -u)" -eq 0 ] && ip link set lo up

# ----------------------------------------------------------- work dir -----
WORK=$(mktemp -d /tmp/uva-e2e.XXXXXX) || { not_ok "mktemp"; finish; }
if [ "$(id -u)" -eq 0 ]; then
  mkdir "$WORK/tree"
  # The built tree's run-time part: the binary finds http_recorder.py next
  # to itself.
  cp "$BIN" "$WORK/tree/uva_container"
  cp "$RECORDER" "$WORK/tree/http_recorder.py"
  chmod 0755 "$WORK/tree/uva_container" "$WORK/tree/http_recorder.py"
  chown -R "$RUN_USER:" "$WORK"
  UVA_DIR=$WORK/tree
  UVA_CMD=./uva_container
else
  UVA_DIR=$(dirname "$BIN")
  UVA_CMD=./$(basename "$BIN")
fi
UVA_COMM=$(basename "$UVA_CMD" | cut -c1-15) # as pgrep sees it
mkdir -p "$WORK/profile"
echo "# user $RUN_USER runs $UVA_CMD in $UVA_DIR; work dir $WORK"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports_free() {
  local p
  for p in "${PORTS[@]}"; do port_busy "$p" && return 1; done
  return 0
}
wait_ports_free() { # up to $1 seconds
  local i
  for ((i = 0; i < $1 * 10; i++)); do
    ports_free && return 0
    sleep 0.1
  done
  return 1
}
# wait_for SECONDS CMD...: poll CMD every 0.1 s, bounded.
wait_for() {
  local limit=$1 i
  shift
  for ((i = 0; i < limit * 10; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  "$@"
}
no_uva_left() { ! pgrep -u "$RUN_UID" -x "$UVA_COMM" >/dev/null; }

# ============================================== part 1: the browser ======
if ! wait_ports_free 30; then
  not_ok "ports ${PORTS[*]} are free before the test (something else listens)"
  finish
fi

STATE1=$WORK/state1
OUT1=$WORK/uva-1.out
as_user mkdir -p "$STATE1"
# Started in the background by a script, a command would inherit SIGINT as
# ignored; reset it to the default so that SIGINT acts as Ctrl-C does.
cd "$UVA_DIR" || { not_ok "cd $UVA_DIR"; finish; }
spawn_user env --default-signal=INT,TERM XDG_STATE_HOME="$STATE1" "$UVA_CMD" \
  >"$OUT1" 2>&1 </dev/null &
UVA_PID=$!
cd "$REPO" || exit 1

ready1() { grep -q 'press Ctrl-C to stop' "$OUT1" || ! kill -0 "$UVA_PID" 2>/dev/null; }
wait_for "$READY_TIMEOUT" ready1
if grep -q 'press Ctrl-C to stop' "$OUT1" && kill -0 "$UVA_PID" 2>/dev/null; then
  ok "uva_container (pid $UVA_PID) announces 'press Ctrl-C to stop' within ${READY_TIMEOUT}s"
  check "it announces a at http://127.0.0.1:18080/" \
    grep -q '^uva_container: a ready at http://127.0.0.1:18080/' "$OUT1"
  check "it announces b at http://127.0.0.1:28080/" \
    grep -q '^uva_container: b ready at http://127.0.0.1:28080/' "$OUT1"

  echo "# browser test (tests/e2e/browser.mjs)"
  BROWSER_OUT=$WORK/browser.out
  UVA_E2E_STATE=$STATE1/uva_container UVA_E2E_SHOTS=$SHOTS \
    UVA_E2E_PROFILE=$WORK/profile CHROMIUM=$CHROMIUM \
    timeout -k 5 180 node "$E2E/browser.mjs" >"$BROWSER_OUT" 2>&1
  brc=$?
  bfails=0
  while IFS= read -r line; do
    case $line in
      "PASS "*) ok "${line#PASS }" ;;
      "FAIL "*) not_ok "${line#FAIL }"; bfails=$((bfails + 1)) ;;
      "#"*) echo "$line" ;;
      *) echo "# $line" ;;
    esac
  done <"$BROWSER_OUT"
  if [ "$brc" -ne 0 ] && [ "$bfails" -eq 0 ]; then
    not_ok "browser test exited with status $brc"
  fi

  kill -INT "$UVA_PID"
  uva_gone() { ! kill -0 "$UVA_PID" 2>/dev/null; }
  wait_for 15 uva_gone
  if kill -0 "$UVA_PID" 2>/dev/null; then
    not_ok "SIGINT stops uva_container within 15 s"
    stop_pid "$UVA_PID"
    wait "$UVA_PID" 2>/dev/null
  else
    wait "$UVA_PID"
    rc=$?
    check "SIGINT stops uva_container with status 0 (got $rc)" test "$rc" -eq 0
  fi
  UVA_PID=
  check "it says 'Interrupt: stopping all containers'" \
    grep -q 'uva_container: Interrupt: stopping all containers' "$OUT1"
  check "terminal output shows 'a | GET request for /hello-from-a.txt'" \
    grep -qF 'a | GET request for /hello-from-a.txt' "$OUT1"
  check "terminal output shows 'b | GET request for /hello-from-b.txt'" \
    grep -qF 'b | GET request for /hello-from-b.txt' "$OUT1"
else
  not_ok "uva_container announces 'press Ctrl-C to stop' within ${READY_TIMEOUT}s"
  diag <"$OUT1"
  stop_pid "$UVA_PID"
  UVA_PID=
fi
check "after part 1 no uva_container of $RUN_USER is left" wait_for 10 no_uva_left
check "after part 1 ports ${PORTS[*]} are free" wait_ports_free 10

# ============================================== part 2: the terminal =====
if ! ports_free; then
  not_ok "ports ${PORTS[*]} are free before the tmux test"
  finish
fi
STATE2=$WORK/state2
as_user mkdir -p "$STATE2"
TMUX_SOCK=$WORK/tmux.sock
PROMPT='uva-e2e$ '
tm() { as_user tmux -S "$TMUX_SOCK" "$@"; }
pane() { tm capture-pane -p -J -S - -t e2e; }
pane_has() { pane | grep -qF -- "$1"; }
pane_re() { pane | grep -qE -- "$1"; }

# A bare interactive bash with a known prompt; tmux as the test user, with
# its own socket, so that nothing of root's (or the user's) tmux is touched.
if tm -f /dev/null new-session -d -s e2e -x 200 -y 50 \
    "env PS1='$PROMPT' TERM=screen bash --norc --noprofile -i"; then
  TMUX_PID=$(tm display-message -p -t e2e '#{pid}')
  PANE_PID=$(tm display-message -p -t e2e '#{pane_pid}')
  ok "tmux server (pid $TMUX_PID) runs a shell (pid $PANE_PID) as $RUN_USER"
  wait_for 10 pane_has "${PROMPT% }"
  tm send-keys -t e2e -l \
    "cd '$UVA_DIR' && XDG_STATE_HOME='$STATE2' $UVA_CMD; echo EXIT=\$?"
  tm send-keys -t e2e Enter
  if wait_for "$READY_TIMEOUT" pane_has 'press Ctrl-C to stop'; then
    PANE_UVA=$(pgrep -P "$PANE_PID" -x "$UVA_COMM" | head -n1)
    ok "uva_container in the pane (pid ${PANE_UVA:-?}) is ready within ${READY_TIMEOUT}s"
    tok=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    ca=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:18080/tmux-a-$tok")
    cb=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:28080/tmux-b-$tok")
    fa=$(curl -s --max-time 10 "http://127.0.0.1:18080/hello-from-a.txt")
    check "curl http://127.0.0.1:18080/tmux-a-$tok answers 404 (got $ca)" test "$ca" = 404
    check "curl http://127.0.0.1:28080/tmux-b-$tok answers 404 (got $cb)" test "$cb" = 404
    check "curl http://127.0.0.1:18080/hello-from-a.txt gives a's file" \
      test "$fa" = "This file lives in the working directory of container a."
    check "pane shows 'a | GET request for /tmux-a-$tok'" \
      wait_for 10 pane_has "a | GET request for /tmux-a-$tok"
    check "pane shows 'b | GET request for /tmux-b-$tok'" \
      wait_for 10 pane_has "b | GET request for /tmux-b-$tok"
    check "pane shows 'a | GET request for /hello-from-a.txt'" \
      pane_has "a | GET request for /hello-from-a.txt"
    no_crossing() {
      ! pane_has "b | GET request for /tmux-a-$tok" &&
        ! pane_has "a | GET request for /tmux-b-$tok"
    }
    check "no request crossed over (no 'b | ...tmux-a', no 'a | ...tmux-b')" \
      no_crossing

    tm send-keys -t e2e C-c
    if wait_for 15 pane_re '^EXIT=[0-9]+$'; then
      ok "Ctrl-C stops uva_container and the shell goes on"
    else
      not_ok "Ctrl-C stops uva_container and the shell goes on (no EXIT= in 15 s)"
    fi
    check "pane shows 'uva_container: Interrupt: stopping all containers'" \
      pane_has 'uva_container: Interrupt: stopping all containers'
    check "exit status after Ctrl-C is 0 (EXIT=0)" pane_re '^EXIT=0$'
    # The last non-blank line is the bare prompt (trailing blanks aside).
    prompt_back() {
      [ "$(pane | sed 's/[[:space:]]*$//; /^$/d' | tail -n1)" = "${PROMPT% }" ]
    }
    check "the shell prompt is back" wait_for 5 prompt_back
  else
    not_ok "uva_container in the pane is ready within ${READY_TIMEOUT}s"
  fi
  echo "# tmux capture-pane -p:"
  pane | sed '/^[[:space:]]*$/d' | diag
  check "no uva_container of $RUN_USER is left" wait_for 10 no_uva_left
  check "ports ${PORTS[*]} are free again" wait_ports_free 10
  PANE_UVA=
else
  not_ok "tmux starts a shell as $RUN_USER"
fi

finish
