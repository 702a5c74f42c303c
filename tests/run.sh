#!/usr/bin/env bash
# tests/run.sh - the suite's runner (make check): every part, one after the
# other, then one line "N passed, N failed, N skipped".
#
# A part is a tests/*.sh script that sources tests/lib.sh; each runs alone
# as well (bash tests/ports.sh, or prove -e bash tests/*.sh) and sets up
# what it needs through lib.sh: as root a test user and a network namespace
# of its own run (see lib.sh), a work directory, clean-up by pid.  The
# runner only runs them, bounded in time, and renumbers their TAP lines
# into one stream ("ok N - PART: ...").  Known parts run in the order below,
# any other part after them in name order, so that a new part is run
# without being listed here.
#
# Environment: UVA_PARTS="ports streams" runs only those; UVA_PART_TIMEOUT
# (seconds, default 1200) bounds each; UVA_BIN, UVA_UNIT, UVA_HOOKS_BIN,
# UVA_TEST_USER as lib.sh reads them.
set -u
cd "$(dirname "$0")/.." || exit 1
ORDER="unit cli docs default run-cmd build messages hardening paths streams lifecycle control surfaces ports up doctor kube bypass compat"
# Scripts over lib.sh that are not parts of make check: the static gates
# (make lint).
NOT_PARTS="gates"

parts=()
if [ -n "${UVA_PARTS:-}" ]; then
  read -ra parts <<<"$UVA_PARTS"
else
  for p in $ORDER; do [ -f "tests/$p.sh" ] && parts+=("$p"); done
  for f in tests/*.sh; do
    p=$(basename "$f" .sh)
    case " $ORDER $NOT_PARTS " in *" $p "*) continue ;; esac
    grep -q '^\. .*lib\.sh"' "$f" && parts+=("$p")
  done
fi

pass=0 fail=0 skip=0 n=0
for p in "${parts[@]}"; do
  echo "# ==== $p ===="
  ran=0 planned='' pfail=0 rc=''
  while IFS= read -r line; do
    case $line in
      "not ok "*)
        n=$((n + 1)) fail=$((fail + 1)) ran=$((ran + 1)) pfail=$((pfail + 1))
        d=${line#not ok }
        echo "not ok $n - $p: ${d#* - }"
        ;;
      "ok "*" # SKIP"*)
        n=$((n + 1)) skip=$((skip + 1)) ran=$((ran + 1))
        echo "ok $n # SKIP $p: ${line#* # SKIP }"
        ;;
      "ok "*)
        n=$((n + 1)) pass=$((pass + 1)) ran=$((ran + 1))
        d=${line#ok }
        echo "ok $n - $p: ${d#* - }"
        ;;
      1..*) planned=${line#1..} ;;
      "#RC# "*) rc=${line#\#RC\# } ;;
      "#"*) echo "$line" ;;
      *) echo "# $line" ;;
    esac
  done < <(
    timeout -k 10 "${UVA_PART_TIMEOUT:-1200}" bash "tests/$p.sh" </dev/null 2>&1
    echo "#RC# $?"
  )
  # A part that died half-way, or whose clean-up failed, must not pass.
  if [ "$planned" != "$ran" ] || [ "$ran" = 0 ] || { [ "$rc" != 0 ] && [ "$pfail" = 0 ]; }; then
    n=$((n + 1)) fail=$((fail + 1))
    echo "not ok $n - $p: the part ended with status $rc after $ran of ${planned:-no plan} cases"
  fi
done
echo "1..$n"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
