#!/usr/bin/env bash
# tests/benchgate.sh - the bench gate as one case of make check-all
# (tests/all.sh): `make bench-quick` (bench/quick.sh), and when it reports
# a fall, a second run.  The case fails only when the second run shows a
# fall of the same row and column: one noisy run on a shared 2-core runner
# is not a regression, the same fall twice is.  Both tables are printed.
set -u
cd "$(dirname "$0")/.." || exit 1
falls() { grep '^GATE-FALL' "$1" | awk '{ print $2, $3 }' | sort -u; }
one=$(mktemp) two=$(mktemp)
trap 'rm -f "$one" "$two"' EXIT
bench/quick.sh > "$one" 2>&1
rc1=$?
cat "$one"
if [ $rc1 = 0 ]; then
  echo "ok 1 - bench gate: uva kept up with pasta and the baseline"
  echo "1 passed, 0 failed"
  exit 0
fi
echo "# bench gate: first run $([ $rc1 = 1 ] && echo "fell behind" || echo "failed (exit $rc1)"); a second run decides"
bench/quick.sh > "$two" 2>&1
rc2=$?
cat "$two"
if [ $rc1 = 2 ] || [ $rc2 = 2 ]; then
  both=$([ $rc1 = 2 ] && [ $rc2 = 2 ] && echo yes)
else
  both=$(comm -12 <(falls "$one") <(falls "$two") | tr '\n' ';')
fi
if [ -z "$both" ]; then
  echo "ok 1 - bench gate: the first run's fall did not show again (noise)"
  echo "1 passed, 0 failed"
  exit 0
fi
echo "not ok 1 - bench gate: fell behind in both runs: $([ "$both" = yes ] && echo "the bench failed twice" || echo "$both")"
echo "0 passed, 1 failed"
exit 1
