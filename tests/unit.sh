#!/usr/bin/env bash
# tests/unit.sh - the GTest unit tests (build/unit, tests/unit.c) as a part
# of the suite: each of their TAP lines becomes one case here, and a binary
# that crashed half-way fails on its plan line.
UVA_LIB_TAP_ONLY=1
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
UNIT=${UVA_UNIT:-$ROOT/build/unit}
if [ -x "$UNIT" ]; then
  tap=$("$UNIT" --tap 2>&1)
  while IFS= read -r line; do
    case $line in
      "ok "*) ok "${line#ok * }" ;;
      "not ok "*) not_ok "${line#not ok * }" ;;
      "# timing: "*) echo "$line" ;; # measured costs (not timed tests)
    esac
  done <<<"$tap"
  # A crash mid-run must not pass silently: the plan line counts.
  planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' <<<"$tap")
  ran=$(grep -c '^ok ' <<<"$tap")
  all_ran() { [ "${planned:-0}" -gt 0 ] && [ "$ran" = "$planned" ]; }
  check "all ${planned:-0} planned unit tests ran and passed" all_ran
else
  not_ok "unit test binary $UNIT missing (run make check)"
fi
