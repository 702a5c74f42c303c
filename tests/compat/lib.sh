# shellcheck shell=bash
# Variables set here are used by the files that source this one.
# shellcheck disable=SC2034
# tests/compat/lib.sh - run one piece of real software on the host and in a
# container, as the same user, and write one result row per test.
#
# Sourced by tests/compat/run.sh (`make compat`) and by tests/compat.sh
# (the CI subset, itself sourced by tests/run.sh).  The caller provides:
#   AS_USER  array: the prefix that runs a command as the test user
#   UVA      the uva_container binary
#   CWORK    a directory the test user owns (everything is made below it)
#   wait_for TENTHS CMD...: bounded polling
# The suites (cpython, nginx, redis, postgres, compose; one file each) take a MODE,
# host or container, and write $CWORK/MODE.SUITE.tsv: "ID<TAB>RESULT<TAB>
# DETAIL" rows that tests/compat/results.py compares.
#
# What runs on the host runs as the same user, in the same network
# namespace (the caller's), from a directory of the same layout, with the
# environment the container's init gives its app (LANG, USER, LOGNAME), so
# that a difference is the container's and not the harness's.  Nothing
# here sleeps for a fixed time: servers are polled until they answer.

COMPAT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COMPAT_NAME=$("${AS_USER[@]}" id -un)
COMPAT_PG_BIN=/usr/lib/postgresql/15/bin
# The container's app environment (uva_app_env() in src/sandbox/app.c),
# for the host side too; HOME stays the user's own.
COMPAT_ENV=(env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  LANG=C.UTF-8 USER="$COMPAT_NAME" LOGNAME="$COMPAT_NAME")

# compat_row FILE ID RESULT [DETAIL]
compat_row() {
  local detail=${4:-}
  detail=${detail//[$'\t\n']/ }
  printf '%s\t%s\t%s\n' "$2" "$3" "${detail:0:120}" >>"$1"
}
# compat_check FILE ID CMD...: pass if CMD succeeds; its last output line
# is the detail of a failure.
compat_check() {
  local f=$1 id=$2 out
  shift 2
  if out=$("$@" 2>&1); then
    compat_row "$f" "$id" pass
  else
    compat_row "$f" "$id" fail "$(tail -n 1 <<<"$out")"
  fi
}
# compat_value FILE ID VALUE: a row whose result is a value both sides
# must share (a setting a server chose from what it found).
compat_value() { compat_row "$1" "$2" "value: $3"; }

# compat_dir MODE SUITE: a fresh directory for one side of one suite.
compat_dir() {
  local d=$CWORK/$1/$2
  rm -rf "$d"
  mkdir -p "$d"
  [ "$(id -u)" = 0 ] && chown "$TUID:$TGID" "$CWORK/$1" "$d"
  echo "$d"
}

# compat_start MODE DIR PORT OUT CMD...: starts a server, on the host in
# DIR or in a container whose /app is DIR (so relative paths and "$PWD"
# name the same files on both sides); in the container it listens on PORT
# and is published at 127.0.0.1:PORT+1.  Sets COMPAT_PID (the server's own
# pid on the host, the manager's otherwise) and COMPAT_PORT (where clients
# connect).
compat_start() {
  local mode=$1 dir=$2 port=$3 out=$4
  shift 4
  if [ "$mode" = host ]; then
    # setpriv and env exec: $! is the server itself.
    (cd "$dir" && exec "${AS_USER[@]}" "${COMPAT_ENV[@]}" "$@") >"$out" 2>&1 &
    COMPAT_PID=$! COMPAT_PORT=$port
  else
    "${AS_USER[@]}" "$UVA" run --rm --name "compat-$$-$RANDOM" -w "$dir" \
      -p "127.0.0.1:$((port + 1)):$port" -- "$@" >"$out" 2>&1 &
    COMPAT_PID=$! COMPAT_PORT=$((port + 1))
  fi
}
# compat_exec MODE DIR CMD...: one command to its end, as compat_start
# would run it, without a network; its output on stdout.
compat_exec() {
  local mode=$1 dir=$2
  shift 2
  if [ "$mode" = host ]; then
    (cd "$dir" && exec timeout -s KILL 300 "${AS_USER[@]}" "${COMPAT_ENV[@]}" "$@") 2>&1
  else
    timeout -s KILL 300 "${AS_USER[@]}" "$UVA" run --rm --network none -w "$dir" -- "$@" 2>&1
  fi
}
compat_gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# compat_stop SIGNAL: what Ctrl-C does: the signal to the server (on the
# host) or to the manager (it hands SIGINT and SIGQUIT on to the app);
# waits up to 30 s, then SIGKILL.  Sets COMPAT_RC to the exit status.
compat_stop() {
  kill "-$1" "$COMPAT_PID" 2>/dev/null
  wait_for 300 compat_gone "$COMPAT_PID" || kill -KILL "$COMPAT_PID" 2>/dev/null
  wait "$COMPAT_PID"
  COMPAT_RC=$?
}
# compat_log_rows FILE PREFIX LOG REGEX SED: one "present" row per distinct
# warning or error line of a server log (SED strips its time stamp and
# pids; numbers and quoted names are made neutral), so that a warning seen
# only in the container, or only on the host, is a row of its own.
compat_log_rows() {
  local f=$1 prefix=$2 log=$3 re=$4 strip=$5 line
  grep -E "$re" "$log" 2>/dev/null | sed -E "$strip" |
    sed -E 's/[0-9]+/N/g; s/"[^"]*"/"…"/g' | cut -c1-100 | sort -u |
    while IFS= read -r line; do
      compat_row "$f" "$prefix log: $line" present
    done
}

# compat_cpython MODE JOBS MODULE...: CPython's own regression tests
# (Debian's libpython3.11-testsuite), per test case.  -w re-runs a failed
# module once: a timing flake on a loaded machine passes on the re-run,
# a real difference fails twice.
compat_cpython() {
  local mode=$1 jobs=$2 d rc
  shift 2
  d=$(compat_dir "$mode" cpython)
  local args=(-m test -w -j "$jobs" --slowest --timeout 900 --junit-xml results.xml "$@")
  if [ "$mode" = host ]; then
    (cd "$d" && exec timeout -s KILL 3600 "${AS_USER[@]}" "${COMPAT_ENV[@]}" python3 "${args[@]}") >"$d/log" 2>&1
  else
    timeout -s KILL 3600 "${AS_USER[@]}" "$UVA" run --rm --name "compat-py-$$" -w "$d" -- \
      python3 "${args[@]}" >"$d/log" 2>&1
  fi
  rc=$?
  python3 "$COMPAT_DIR/results.py" regrtest "$d/results.xml" "$d/log" >"$CWORK/$mode.cpython.tsv"
  echo "# cpython on the $mode: exit $rc, $(wc -l <"$CWORK/$mode.cpython.tsv") rows, log $d/log"
}

# compat_ids MODE: what setuid(2) and chown(2) to another id answer
# (tests/compat/ids.py).
compat_ids() {
  local d
  d=$(compat_dir "$1" ids)
  cp "$COMPAT_DIR/ids.py" "$d/"
  [ "$(id -u)" = 0 ] && chown -R "$TUID:$TGID" "$d"
  compat_exec "$1" "$d" python3 ids.py >"$CWORK/$1.ids.tsv"
}

# shellcheck source=tests/compat/nginx.sh
. "$COMPAT_DIR/nginx.sh"
# shellcheck source=tests/compat/redis.sh
. "$COMPAT_DIR/redis.sh"
# shellcheck source=tests/compat/postgres.sh
. "$COMPAT_DIR/postgres.sh"
# shellcheck source=tests/compat/compose.sh
. "$COMPAT_DIR/compose.sh"
