#!/usr/bin/env bash
# tests/compat/run.sh - `make compat`: real third-party software on the
# host and inside uva_container, as the same non-root user, and the
# per-test difference.
#
#   CPython's regression tests (Debian's libpython3.11-testsuite), per test
#   case, the modules of tests/compat/cpython-modules.txt (COMPAT_MODULES
#   overrides: a space-separated list), COMPAT_JOBS workers (default 2);
#   nginx, redis and PostgreSQL 15 servers, driven from the host by their
#   own clients (curl and wrk, redis-cli and redis-benchmark, psql and
#   pgbench) through a published port; and the volume and environment
#   idioms of compose files (tests/compat/compose.sh), each against what
#   docker's documentation says happens.
#
# As root: creates the user $UVA_TEST_USER (default uvatest) if missing and
# runs everything in a network namespace of its own (`unshare --net`), so
# fixed ports cannot collide with anything on the machine and no test
# reaches beyond loopback.  As an ordinary user: runs as that user, in the
# current network namespace.
#
# Prints one table per suite (test id, host result, container result,
# cause) and writes the rows to $COMPAT_OUT (default build/compat).  Exits
# 1 if a difference is not explained in tests/compat/known.tsv.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${UVA_BIN:-$ROOT/uva_container}
TUSER=${UVA_TEST_USER:-uvatest}
OUTDIR=${COMPAT_OUT:-$ROOT/build/compat}

if [ "$(id -u)" = 0 ] && [ "${UVA_IN_NETNS:-}" != 1 ]; then
  id "$TUSER" >/dev/null 2>&1 || useradd -m -s /bin/bash "$TUSER" || exit 1
  UVA_IN_NETNS=1 exec unshare --net -- bash "$0" "$@"
fi

if [ "$(id -u)" = 0 ]; then
  ip link set lo up
  TUID=$(id -u "$TUSER") TGID=$(id -g "$TUSER")
  THOME=$(getent passwd "$TUSER" | cut -d: -f6)
else
  TUID=$(id -u) TGID=$(id -g) THOME=$HOME
fi
WORK=$(mktemp -d /tmp/uva-compat.XXXXXX)
cp "$BIN" "$WORK/uva_container"
UVA=$WORK/uva_container
CWORK=$WORK/compat
mkdir -p "$CWORK" "$WORK/state"
[ "$(id -u)" = 0 ] && chown -R "$TUID:$TGID" "$WORK"
if [ "$(id -u)" = 0 ]; then
  AS_USER=(setpriv --reuid="$TUID" --regid="$TGID" --init-groups
    env -i HOME="$THOME" PATH=/usr/local/bin:/usr/bin:/bin
    XDG_STATE_HOME="$WORK/state")
else
  AS_USER=(env XDG_STATE_HOME="$WORK/state")
fi
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  [ -n "${COMPAT_PID:-}" ] && kill -KILL "$COMPAT_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
wait_for() {
  local tenths=$1 i
  shift
  for ((i = 0; i < tenths; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
. "$ROOT/tests/compat/lib.sh"

MODULES=${COMPAT_MODULES:-$(grep -v '^#' "$ROOT/tests/compat/cpython-modules.txt" | tr '\n' ' ')}
read -ra MODULES <<<"$MODULES"
JOBS=${COMPAT_JOBS:-2}
SUITES=${COMPAT_SUITES:-ids cpython nginx redis postgres compose}
echo "# compat: $WORK, as uid $TUID; suites: $SUITES"
t_all=$SECONDS
for s in $SUITES; do
  for mode in host container; do
    t0=$SECONDS
    case $s in
      ids) compat_ids "$mode" ;;
      cpython) compat_cpython "$mode" "$JOBS" "${MODULES[@]}" ;;
      nginx) compat_nginx "$mode" 19210 10 ;;
      redis) compat_redis "$mode" 19220 20000 ;;
      postgres) compat_postgres "$mode" 19230 10 ;;
      compose) compat_compose "$mode" ;;
      *) echo "compat: unknown suite $s" >&2; exit 2 ;;
    esac
    echo "# $s on the $mode: $((SECONDS - t0)) s"
  done
done

rm -rf "$OUTDIR"
mkdir -p "$OUTDIR"
status=0
for s in $SUITES; do
  cp "$CWORK/host.$s.tsv" "$CWORK/container.$s.tsv" "$OUTDIR/" 2>/dev/null
  cp "$CWORK/container/$s/log" "$OUTDIR/container.$s.log" 2>/dev/null
  cp "$CWORK/host/$s/log" "$OUTDIR/host.$s.log" 2>/dev/null
  python3 "$ROOT/tests/compat/results.py" table "$CWORK/host.$s.tsv" \
    "$CWORK/container.$s.tsv" "$ROOT/tests/compat/known.tsv" --title "$s" |
    tee -a "$OUTDIR/table.md"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
done
echo "# compat: $((SECONDS - t_all)) s in all; rows and table in $OUTDIR"
[ $status = 0 ] && echo "compat: every difference is explained" ||
  echo "compat: UNEXPLAINED differences (see the tables above)"
exit $status
