#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS TARGET... - run each libFuzzer target (built by
# `make fuzz` in build-fuzz/) for SECONDS: first every committed regression
# input once (a crash found earlier must stay fixed), then fuzzing from the
# seeds.  The frames target makes libslirp open real sockets for what the
# frames ask, so every target runs in a new network namespace with only a
# down lo (unshare -rn: unprivileged, nothing leaves the machine).
# Prints "ok"/"not ok" per step and ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
secs=$1; shift
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
for t in "$@"; do
  bin=build-fuzz/fuzz_$t
  reg=tests/fuzz/regressions/$t
  if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
    if unshare -rn "$bin" -runs=0 "$reg"/* >"build-fuzz/$t.reg.log" 2>&1; then
      ok "$t: every regression input passes"
    else
      not_ok "$t: a regression input fails"; tail -30 "build-fuzz/$t.reg.log" | sed 's/^/#   /'
    fi
  fi
  corpus=build-fuzz/corpus-$t
  mkdir -p "$corpus"
  # Crashes land in build-fuzz/ as crash-*; copy one to
  # tests/fuzz/regressions/TARGET/ once it is fixed.
  if unshare -rn "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="build-fuzz/$t-" -print_final_stats=1 \
    "$corpus" "tests/fuzz/seeds/$t" >"build-fuzz/$t.log" 2>&1; then
    ok "$t: ${secs} s of fuzzing, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "build-fuzz/$t.log" | grep -o '[0-9]*$') inputs, no crash"
  else
    not_ok "$t: fuzzing found a crash (build-fuzz/$t-crash-*)"; grep -A30 -m1 'ERROR\|==ERROR\|runtime error' "build-fuzz/$t.log" | head -40 | sed 's/^/#   /'
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
