#!/usr/bin/env bash
# tests/doctor.sh - `check`: the doctor on this machine and on machines
# arranged to fail (no tun permission, no user namespaces).
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TUN_MODE=$(stat -c %a /dev/net/tun)
out=$(timeout 30 "${AS_USER[@]}" "$UVA" check 2>&1); rc=$?
check "check: OK on this machine (rc=$rc)" rc_and_line "$rc" 0 '^OK    user namespaces' "$out"
check "check: no FAIL line on this machine" bash -c '! grep -q "^FAIL" <<<"$1"' _ "$out"
if strings "$UVA" | grep -q __asan_; then
  check "check: says the manager is not confined in a sanitizer build" grep -q '^OK    manager confinement *off in this sanitizer build' <<<"$out"
else
  check "check: names the manager's Landlock ABI and layers, and its seccomp filter" bash -c \
    'grep -qE "^OK    manager Landlock +(ABI [0-9]+: filesystem|not available)" <<<"$1" && grep -qE "^OK    manager seccomp filter +allow-list" <<<"$1"' _ "$out"
fi
# 32-bit programs: the line agrees with the kernel, asked here apart from
# uva_container (an x32 getpid: ENOSYS where the kernel has no x32; an
# i386 program built with binutils, where there are binutils).
if [ "$(uname -m)" = x86_64 ]; then
  x32=$("$PY" -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True)
print("yes" if l.syscall(0x40000027) >= 0 else "no" if ctypes.get_errno() == 38 else "cannot tell")')
  i386=
  if command -v as >/dev/null && command -v ld >/dev/null; then
    mkdir -p "$WORK/d32" &&
      printf '.globl _start\n_start:\n movl $1, %%eax\n xorl %%ebx, %%ebx\n int $0x80\n' >"$WORK/d32/e.s" &&
      as --32 -o "$WORK/d32/e.o" "$WORK/d32/e.s" && ld -m elf_i386 -o "$WORK/d32/e" "$WORK/d32/e.o" && own "$WORK/d32"
    if host_runs "$WORK/d32/e"; then i386=yes; else i386=no; fi
  fi
  line=$(grep '^OK    32-bit programs' <<<"$(timeout 30 "${AS_USER[@]}" "$UVA" check 2>&1)")
  check "check: says whether this kernel runs i386 (${i386:-not asked}) and x32 ($x32) programs: $line" \
    grep -qE "^OK    32-bit programs +i386: ${i386:-[a-z]+}[^;]*; x32: $x32( |$)" <<<"$line"
else
  skipped "check: the 32-bit line (x86_64 only)"
fi
if [ "$IS_ROOT" = 1 ]; then
  out=$(timeout 30 "${TUN_0600[@]}" "${AS_USER[@]}" "$UVA" check 2>&1); rc=$?
  check "check: /dev/net/tun at 0600 is a FAIL with the fix" rc_and_line "$rc" 1 '^FAIL  /dev/net/tun.*chmod 0666' "$out"
else
  skipped "check with /dev/net/tun at 0600 (needs root to arrange)"
fi
out=$(timeout 30 "${AS_USER[@]}" unshare -Ur sh -c "echo 0 >/proc/sys/user/max_user_namespaces && exec '$UVA' check" 2>&1); rc=$?
check "check: disabled user namespaces are a FAIL with the sysctl" rc_and_line "$rc" 1 '^FAIL  user namespaces.*max_user_namespaces=0' "$out"
check "the 0600 node was the case's alone: /dev/net/tun here is still $TUN_MODE" [ "$(stat -c %a /dev/net/tun)" = "$TUN_MODE" ]
