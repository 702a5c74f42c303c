#!/usr/bin/env bash
# tests/compat.sh - the CI subset of `make compat` (tests/compat/run.sh):
# a part of CPython's regression tests, nginx, redis and PostgreSQL, and
# the compose idioms (a few seconds), each on the host and in a container
# as the test user, and every per-test
# difference either explained in tests/compat/known.tsv or a failure.
# 203 to 227 s on a shared 2-core VM.  Sourced by tests/run.sh, inside its
# network namespace; uses its check, skipped, wait_for, AS_USER, UVA,
# WORK, TUID and TGID.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

compat_missing=
for compat_bin in nginx wrk redis-server redis-cli redis-benchmark psql pgbench \
  /usr/lib/postgresql/15/bin/initdb /usr/lib/python3.11/test/test_os.py; do
  command -v "$compat_bin" >/dev/null || [ -e "$compat_bin" ] || compat_missing+=" $compat_bin"
done
if [ -n "$compat_missing" ] || strings "$UVA" | grep -q __asan_; then
  # Under ASan the same minutes would buy nothing the plain run does not
  # check: the software inside is not instrumented, only the manager.
  compat_why=${compat_missing:+missing:$compat_missing; ci/prepare-runner.sh installs them}
  for compat_s in cpython nginx redis postgres compose; do
    skipped "compat: $compat_s (${compat_why:-make check runs it; not again in a sanitizer build})"
  done
else
  CWORK=$WORK/compat
  mkdir -p "$CWORK"
  [ $IS_ROOT = 1 ] && chown "$TUID:$TGID" "$CWORK"
  . "$ROOT/tests/compat/lib.sh"
  # What a container changes most: processes and signals, ptys, files,
  # sockets, users, limits; the slow modules (test_io, test_ssl,
  # test_multiprocessing_fork ...) are make compat's only.
  compat_mods=(test_os test_posix test_subprocess test_signal test_pty test_tempfile
    test_shutil test_select test_epoll test_fcntl test_resource test_pwd test_grp
    test_mmap test_socket test_threading test_getpass test_faulthandler test_wait4
    test_time test_asyncio.test_subprocess test_asyncio.test_unix_events)
  compat_t0=$SECONDS
  for compat_mode in host container; do
    compat_ids "$compat_mode"
    compat_cpython "$compat_mode" 2 "${compat_mods[@]}"
    compat_nginx "$compat_mode" 19210 3
    compat_redis "$compat_mode" 19220 2000
    compat_postgres "$compat_mode" 19230 3
    compat_compose "$compat_mode"
  done
  echo "# compat: $((SECONDS - compat_t0)) s for both sides"
  for compat_s in ids cpython nginx redis postgres compose; do
    compat_out=$(python3 "$ROOT/tests/compat/results.py" table "$CWORK/host.$compat_s.tsv" \
      "$CWORK/container.$compat_s.tsv" "$ROOT/tests/compat/known.tsv" --title "$compat_s")
    compat_rc=$?
    compat_n=$(grep -c . "$CWORK/container.$compat_s.tsv")
    # A compose row is a value read on both sides: one that is not empty
    # counts.
    compat_pass=$(grep -cE $'\t(pass|ok|value: [^\t]+)\t' "$CWORK/host.$compat_s.tsv")
    # A run that compares nothing, or where nothing passes, proves nothing.
    check "compat: $compat_s: $compat_n results in the container, $compat_pass passes on the host" \
      [ "$compat_n" -ge "$(case $compat_s in cpython) echo 1000 ;; compose) echo 12 ;; *) echo 15 ;; esac)" -a "$compat_pass" -gt 0 ]
    check "compat: $compat_s: every difference between host and container is explained" [ $compat_rc = 0 ]
    [ $compat_rc = 0 ] || diag <<<"$compat_out"
  done
fi
# The part ends well; its last wait must not make its status.
true
