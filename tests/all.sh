#!/usr/bin/env bash
# tests/all.sh - every suite in turn (make check-all): the static gates
# (make lint), the unit and integration suite, the same under ASan+UBSan,
# the browser and terminal end-to-end test, every fuzz target for
# FUZZ_SECONDS (default 60), and the bench gate (tests/benchgate.sh).  Prints each suite's output and, last, one
# total line "N passed, N failed"; exits non-zero if any suite failed.
set -u
cd "$(dirname "$0")/.." || exit 1
total_pass=0 total_fail=0 status=0
run_suite() { # name, command...
  local name=$1 out rc line p f
  shift
  echo "# ==== $name ===="
  out=$(mktemp)
  "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
  rm -f "$out"
  if [ -z "$line" ]; then
    echo "# $name printed no summary line (exit $rc)"
    total_fail=$((total_fail + 1))
    status=1
    return
  fi
  p=${line%% passed*}
  f=${line#*passed, }
  f=${f%% failed*}
  total_pass=$((total_pass + p))
  total_fail=$((total_fail + f))
  [ "$rc" = 0 ] || status=1
}
run_suite "static gates (clang-format, cppcheck, gcc -fanalyzer, shellcheck, groff)" \
  make --no-print-directory lint
# CI (this script, as root) also installs the .deb with apt-get and
# removes it again (tests/build.sh); a plain `make check` never does.
run_suite "unit + integration" env UVA_TEST_DEB="${UVA_TEST_DEB:-1}" make --no-print-directory check
run_suite "unit + integration under ASan/UBSan" make --no-print-directory check-asan
run_suite "end to end (Chromium, tmux)" make --no-print-directory e2e
run_suite "fuzzing (libFuzzer, ${FUZZ_SECONDS:-60} s per target)" \
  make --no-print-directory fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
# Last, on a runner otherwise idle: uva against pasta and the stored
# baseline (make bench-quick); one case, failed only by the same fall in
# two runs (tests/benchgate.sh).
run_suite "bench gate (make bench-quick, a second run on a fall)" tests/benchgate.sh
[ "$total_fail" = 0 ] || status=1
echo "$total_pass passed, $total_fail failed"
exit $status
