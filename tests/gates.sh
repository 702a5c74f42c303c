#!/usr/bin/env bash
# tests/gates.sh - the static gates CI fails on (make lint, and first in
# make check-all): each is one TAP case, and a failing one prints what the
# tool said.  A missing tool fails too, naming its Debian package: a gate
# that is skipped where it is not installed would pass on every machine
# that lacks it.
#
#  - clang-format --dry-run -Werror (.clang-format, LLVM) over the C files;
#  - cppcheck (warnings and portability) over src/, with the suppressions
#    below, each justified;
#  - gcc -fanalyzer: the whole program built by the Makefile's own rule
#    (-Wall -Wextra -Werror) in build-analyzer/, so any analyzer warning
#    fails the build;
#  - shellcheck -x (settings in .shellcheckrc) over every shell script;
#  - groff -ww over the man page;
#  - the layering (tests/gates/layers.py): no include of a folder above
#    one's own in src/LAYERS, no include cycle between files.
# Prints "N passed, N failed" last.
UVA_LIB_TAP_ONLY=1
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT" || exit 1

gate() { # description, Debian package, command...
  local d=$1 pkg=$2 out
  shift 2
  if ! command -v "$1" >/dev/null; then
    not_ok "$d: $1 is not installed (apt-get install $pkg)"
    return
  fi
  if out=$("$@" 2>&1); then
    ok "$d"
  else
    not_ok "$d"
    head -80 <<<"$out" | diag
  fi
}

gate "clang-format: src/*/*.c src/*/*.h tests/*.c tests/fuzz/*.c as .clang-format has them" clang-format \
  clang-format --dry-run -Werror src/*/*.c src/*/*.h tests/*.c tests/fuzz/*.c

# Suppressed, each for its reason:
#  resourceLeak, memleak: every fd and heap object in src/ is owned by a
#    cleanup variable (uva_autofd, g_autofree, g_autoptr: GCC's
#    __attribute__((cleanup))) or handed to a container
#    (g_array_append_val), and cppcheck 2.10 models neither: each of its
#    reports (21 when this was written) was read and is a variable freed by
#    its cleanup at the return it names;
#  readdirCalled, getpwuidCalled: the manager is single-threaded (one event
#    loop by design), and readdir_r is deprecated (readdir(3)).
# Two more are suppressed in place, with their reason (slirp.c, msg.c).
gate "cppcheck: no warning in src/" cppcheck \
  cppcheck -q --error-exitcode=1 --enable=warning,portability --std=c11 --inline-suppr \
  --library=gtk --library=posix --library=tests/gates/cppcheck.cfg \
  --suppress=resourceLeak --suppress=memleak --suppress=readdirCalled --suppress=getpwuidCalled \
  -D_GNU_SOURCE -D__linux__ -D__x86_64__ -DUVA_VERSION='"0"' -DUVA_DATADIR='"/"' -Isrc src/*/*.c

gate "gcc -fanalyzer: the program builds without an analyzer warning (-Werror)" gcc \
  make -s --no-print-directory BUILD=build-analyzer CFLAGS="-O1 -g -fanalyzer" build-analyzer/uva_container

scripts=(tests/*.sh tests/e2e/*.sh tests/fuzz/*.sh ci/*.sh .ci/run packaging/*.sh bench/*.sh
  completions/uva_container.bash)
gate "shellcheck: ${#scripts[@]} scripts (tests, ci, packaging, bench, completion)" shellcheck \
  shellcheck -x "${scripts[@]}"

gate "groff: the man page formats without a warning" groff-base \
  make -s --no-print-directory check-man

gate "layers: src/ folders include only folders below them (src/LAYERS), no include cycle" python3 \
  python3 tests/gates/layers.py

echo "$pass passed, $fail failed"
