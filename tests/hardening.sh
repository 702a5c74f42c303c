#!/usr/bin/env bash
# tests/hardening.sh - attacks from inside a container, faults, and
# signals at every moment of start-up.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
make_site

# The manager parses every container's packets: full RELRO (its GOT
# read-only once bound, Makefile LINK) and position-independent.
dyn=$(readelf -d "$UVA" 2>&1)
check "the binary is linked with full RELRO and as PIE (readelf -d: BIND_NOW, PIE)" \
  bash -c 'grep -q "(FLAGS).*BIND_NOW" <<<"$1" && grep -q "(FLAGS_1).*NOW.*PIE" <<<"$1"' _ "$dyn"

# What the app may not see of the host.
# The home directory inside is a private, empty tmpfs at the passwd
# entry's path: the host's files there stay out of sight.
touch "$THOME/.uva-home-probe"
out=$(run_out -- ls -A "$THOME"); rc=$?
check "the user's home directory is not visible inside, an empty one of its own is (rc=$rc, '$out')" [ $rc = 0 -a -z "$out" ]
rm -f "$THOME/.uva-home-probe"
# Another container's log, as the default pair leaves it on the host.
OTHERLOG=$WORK/state/uva_container/a/tmp/http_recorder.log
as_user mkdir -p "$(dirname "$OTHERLOG")" && as_user sh -c "echo 'GET request for /secret' >'$OTHERLOG'"
run_out -- cat "$OTHERLOG" >/dev/null; rc=$?
check "another container's log is not visible inside (rc=$rc; it exists on the host)" eval '[ "$rc" != 0 ] && [ -s "$OTHERLOG" ]'
out=$(run_out -- sh -c 'touch /usr/uva-probe /etc/uva-probe 2>&1')
check "/usr and /etc are read-only inside" bash -c "[ ! -e /usr/uva-probe -a ! -e /etc/uva-probe ] && [ \$(grep -c 'Read-only file system' <<<\"\$1\") = 2 ]" _ "$out"
out=$(run_out -- ls /dev | grep -vxE 'fd|stdin|stdout|stderr|pts|ptmx|shm' | tr '\n' ' ')
check "/dev holds only null zero full random urandom tty (and std links)" [ "$out" = "full null random tty urandom zero " ]

# The seccomp deny-list: each call fails with EPERM (not a kill), and the
# ordinary things a web app does (threads, subprocesses) still work.
probe_sc='import ctypes, os, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
calls = {"keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321,
         "perf_event_open": 298, "userfaultfd": 323, "init_module": 175,
         "finit_module": 313, "delete_module": 176, "kexec_load": 246,
         "kexec_file_load": 320, "reboot": 169, "io_uring_setup": 425,
         "io_uring_enter": 426, "io_uring_register": 427}
for name, nr in calls.items():
    r = libc.syscall(nr, 0, 0, 0, 0, 0)
    print(name, "EPERM" if r == -1 and ctypes.get_errno() == 1 else "ALLOWED")
# personality: the five values of Docker pass, anything else is EPERM, compared
# as the kernel reads it (32 bits): high bits neither hide a refused value
# nor spoil an allowed one.
libc.syscall.restype = ctypes.c_long
for v in (0x0, 0x8, 0x20000, 0x20008, 0xffffffff, 0x100000008,
          0x0400000, 0x0040000, 0x100400000):
    r = libc.syscall(ctypes.c_long(135), ctypes.c_ulong(v))
    e = ctypes.get_errno()
    libc.syscall(ctypes.c_long(135), ctypes.c_ulong(0))
    print("personality %#x" % v, "EPERM" if r == -1 and e == 1 else "ok" if r >= 0 else "errno %d" % e)
t = threading.Thread(target=lambda: None); t.start(); t.join()
print("thread ok")
print(subprocess.run(["echo", "subprocess ok"], capture_output=True, text=True).stdout.strip())'
if [ "$(uname -m)" = x86_64 ]; then
  out=$(run_out --network none -- "$PY" -c "$probe_sc")
  for name in keyctl add_key request_key bpf perf_event_open userfaultfd init_module finit_module delete_module kexec_load kexec_file_load reboot io_uring_setup io_uring_enter io_uring_register; do
    check "seccomp: $name fails with EPERM" grep -qx "$name EPERM" <<<"$out"
  done
  for v in 0x0 0x8 0x20000 0x20008 0xffffffff 0x100000008; do
    check "seccomp: personality($v) is allowed (Docker's list; 32-bit compare)" grep -qx "personality $v ok" <<<"$out"
  done
  # READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, and READ_IMPLIES_EXEC behind a
  # high bit (a 64-bit compare would miss it; the kernel would not).
  for v in 0x400000 0x40000 0x100400000; do
    check "seccomp: personality($v) fails with EPERM" grep -qx "personality $v EPERM" <<<"$out"
  done
  check "seccomp: threads and subprocesses still work" bash -c 'grep -qx "thread ok" <<<"$1" && grep -qx "subprocess ok" <<<"$1"' _ "$out"
else
  skipped "seccomp probes use x86_64 syscall numbers"
fi
# 32-bit x86 and x32: the same deny-list under their own numbers.  Before,
# every call of theirs got EPERM: write and exit failed and the program
# crashed or spun.  A static i386 program made with binutils (no multilib
# needed) writes, tries keyctl (denied: EPERM) and exits with -errno; an
# x32 one does the same with x32 calls.  Whether the kernel runs them at
# all (CONFIG_IA32_EMULATION, CONFIG_X86_X32_ABI) is asked of the host
# first, outside uva_container: where it can, the container must run them
# as above; where it cannot, the container's line must say that the
# kernel cannot run such programs, and the deny-list stays tested by the
# unit test /seccomp/app-filter-abis, which runs the filter's bytes.
if [ "$(uname -m)" = x86_64 ] && command -v as >/dev/null && command -v ld >/dev/null; then
  I386=$WORK/i386
  mkdir -p "$I386"
  cat >"$I386/hi32.s" <<'ASM_EOF'
.globl _start
.text
_start:
  movl $4, %eax
  movl $1, %ebx
  movl $msg, %ecx
  movl $3, %edx
  int $0x80
  movl $288, %eax
  xorl %ebx, %ebx
  int $0x80
  negl %eax
  movl %eax, %ebx
  movl $1, %eax
  int $0x80
  hlt
.data
msg: .ascii "hi\n"
ASM_EOF
  # x32: x86_64's syscall instruction, numbers with bit 30 set (write 1,
  # keyctl 250, exit 60), 32-bit pointers.
  cat >"$I386/hix32.s" <<'ASM_EOF'
.globl _start
.text
_start:
  movl $0x40000001, %eax
  movl $1, %edi
  movl $msg, %esi
  movl $3, %edx
  syscall
  movl $0x400000fa, %eax
  xorl %edi, %edi
  syscall
  negl %eax
  movl %eax, %edi
  movl $0x4000003c, %eax
  syscall
  hlt
.data
msg: .ascii "hi\n"
ASM_EOF
  as --32 -o "$I386/hi32.o" "$I386/hi32.s" && ld -m elf_i386 -o "$I386/hi32" "$I386/hi32.o"
  as --x32 -o "$I386/hix32.o" "$I386/hix32.s" && ld -m elf32_x86_64 -o "$I386/hix32" "$I386/hix32.o"
  own "$I386"
  out=$(run_out --network none -w "$I386" -- ./hi32); rc=$?
  if host_runs "$I386/hi32"; then
    check_eq "i386: a static 32-bit program writes, exits, and its keyctl gets EPERM (status 1)" "$rc.$out" "1.hi"
    # A damaged i386 file: this kernel refuses it with ENOEXEC too, and
    # the line must not blame the kernel (it runs 32-bit programs).
    head -c 60 "$I386/hi32" >"$I386/broken32" && chmod 0755 "$I386/broken32" && own "$I386"
    out=$(run_out --network none -w "$I386" -- ./broken32); rc=$?
    check "i386: a damaged 32-bit file on a kernel that runs i386 gets the kernel's Exec format error, not the IA32 line (rc=$rc: $out)" \
      rc_and_line "$rc" 1 "cannot execute ./broken32: Exec format error$" "$out"
  else
    skipped "i386: a static 32-bit program in a container ($HOST_LACKS: no IA32 emulation)"
    check "i386 on a kernel without IA32 emulation: one line says the kernel cannot run 32-bit programs (rc=$rc: $out)" \
      rc_and_line "$rc" 1 "cannot execute ./hi32: it is a 32-bit x86 (i386) program, and this kernel cannot run 32-bit programs" "$out"
  fi
  out=$(run_out --network none -w "$I386" -- ./hix32); rc=$?
  if host_runs "$I386/hix32"; then
    check_eq "x32: a static x32 program writes, exits, and its keyctl gets EPERM (status 1)" "$rc.$out" "1.hi"
    skipped "x32: the line for a kernel without x32 (this kernel runs x32 programs)"
  else
    skipped "x32: a static x32 program in a container ($HOST_LACKS: CONFIG_X86_X32_ABI off)"
    check "x32 on a kernel without x32: one line says the kernel cannot run x32 programs (rc=$rc: $out)" \
      rc_and_line "$rc" 1 "cannot execute ./hix32: it is an x32 program, and this kernel cannot run x32 programs" "$out"
  fi
  # x32 calls from an x86_64 program (bit 30 set in the number): getpid
  # gets the kernel's own answer, as on the host (its pid, or ENOSYS where
  # x32 is off), never the filter's EPERM; keyctl and x32's own kexec_load
  # (528) get EPERM from the filter on any kernel.
  probe_x32='import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for name, nr in (("getpid", 39), ("keyctl", 250), ("kexec_load", 528)):
    r = libc.syscall(0x40000000 | nr, 0, 0, 0, 0, 0)
    e = ctypes.get_errno()
    print(name, "EPERM" if r == -1 and e == 1 else "ENOSYS" if r == -1 and e == 38 else "ok" if r >= 0 else "errno %d" % e)'
  host=$(as_user "$PY" -c "$probe_x32" | head -1)
  out=$(run_out --network none -- "$PY" -c "$probe_x32")
  check_eq "x32: getpid gets what it gets on the host (not the filter's EPERM)" "$(head -1 <<<"$out")" "$host"
  check "x32: keyctl and kexec_load (528) fail with EPERM" bash -c 'grep -qx "keyctl EPERM" <<<"$1" && grep -qx "kexec_load EPERM" <<<"$1"' _ "$out"
else
  skipped "i386 and x32 programs (x86_64 with binutils only)"
  skipped "i386 line"
  skipped "x32 program"
  skipped "x32 line"
  skipped "x32 getpid"
  skipped "x32 keyctl"
fi
out=$(run_out --network none -- sh -c 'unshare -U true 2>&1; echo rc=$?')
check "seccomp: a nested user namespace is refused (unshare -U)" grep -q 'rc=1' <<<"$out"
out=$(run_out --network none -- grep ^Seccomp: /proc/self/status)
check "the app runs with a seccomp filter (Seccomp: 2)" [ "$out" = $'Seccomp:\t2' ]

# A process cap per container (RLIMIT_NPROC, counted per user namespace
# since Linux 5.14): a fork bomb inside stops at --pids-limit while the
# user still forks outside.  Safety net: the manager and the outside probe
# run under a user-wide limit 150 above what the user runs now, so a
# missing cap stops at that (and the probe then fails), not at the host's.
nproc_sed='s/^Max processes  *\([^ ]*\)  *\([^ ]*\).*/\1 \2/p'
out=$(run_out --network none -- sed -n "$nproc_sed" /proc/self/limits)
check_eq "pids limit: 2048 by default (soft and hard)" "$out" "2048 2048"
out=$(run_out --network none --pids-limit unlimited -- sed -n "$nproc_sed" /proc/self/limits)
check_eq "pids limit: --pids-limit unlimited keeps the user's own limit" "$out" "$(as_user sed -n "$nproc_sed" /proc/self/limits)"
out=$(run_out --network none --pids-limit 50 -- bash -c 'ulimit -Hu 60 2>/dev/null && echo raised; echo "$(ulimit -u) $(ulimit -Hu)"')
check_eq "pids limit: the app cannot raise --pids-limit 50" "$out" "50 50"
bomb='import errno, os, sys, time
kids, err = [], "none"
while len(kids) < 400:
    try:
        p = os.fork()
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
        break
    if p == 0:
        time.sleep(20)
        os._exit(0)
    kids.append(p)
print("forked", len(kids), "then", err, flush=True)
for _ in range(100):  # held until the host has tried to fork (10 s at most)
    if os.path.exists("/tmp/release"):
        break
    time.sleep(0.1)
for p in kids:
    os.kill(p, 9)
for p in kids:
    os.waitpid(p, 0)'
host_fork='import os
n = 0
for _ in range(20):
    try:
        p = os.fork()
    except OSError as e:
        print("fork:", e.strerror)
        break
    if p == 0:
        os._exit(0)
    os.waitpid(p, 0)
    n += 1
print("host forked", n)'
if command -v prlimit >/dev/null; then
  safety=$(($(ps -U "$TUID" -L --no-headers | wc -l) + 150))
  BOUT=$WORK/bomb.out
  timeout -s KILL 40 prlimit --nproc="$safety:$safety" "${AS_USER[@]}" "$UVA" run --name bomb \
    --network none --pids-limit 50 -- "$PY" -c "$bomb" >"$BOUT" 2>&1 &
  MGR=$!
  wait_for 200 grep -q '^forked' "$BOUT"
  forked=$(sed -n 's/^forked \([0-9]*\) then \(.*\)$/\1 \2/p' "$BOUT")
  host=$(prlimit --nproc="$safety:$safety" "${AS_USER[@]}" "$PY" -c "$host_fork" 2>&1)
  as_user touch "$WORK/state/uva_container/bomb/tmp/release"
  wait "$MGR"; rc=$?; MGR=
  # 50 = init + the app + 48 children.
  check "pids limit 50: a fork bomb inside gets EAGAIN at the cap (forked ${forked:-nothing}; safety net $safety)" \
    bash -c 'set -- $1; [ "$2" = EAGAIN ] && [ "$1" -ge 40 ] && [ "$1" -le 48 ]' _ "$forked"
  check_eq "pids limit 50: the user forks outside meanwhile" "$host" "host forked 20"
  check_eq "pids limit 50: the bomb's container then exits 0" "$rc" 0
  check "pids limit 50: nothing left" wait_for 20 no_user_procs
else
  skipped "fork bomb: needs prlimit (util-linux) for its safety net"
fi
expect_fail "--pids-limit 1 is refused (init counts)" 'pids limit "1" is not a number of processes from 2' \
  as_user "$UVA" run --pids-limit 1 -- true

# /dev/shm: a tmpfs of its own size, Docker's 64 MiB unless --shm-size.
shm_bytes='import os; s = os.statvfs("/dev/shm"); print(s.f_blocks * s.f_frsize)'
out=$(run_out --network none -- "$PY" -c "$shm_bytes")
check_eq "/dev/shm is 64 MiB by default" "$out" 67108864
out=$(run_out --network none --shm-size 16m -- "$PY" -c "$shm_bytes")
check_eq "--shm-size 16m makes /dev/shm 16 MiB" "$out" 16777216
out=$(run_out --network none --shm-size 1m -- sh -c 'head -c 2097152 /dev/zero >/dev/shm/fill; echo rc=$?; ls -s /dev/shm/fill' 2>&1)
check "--shm-size 1m: writing 2 MiB to /dev/shm fails with ENOSPC, at 1 MiB" \
  bash -c 'grep -q "No space left on device" <<<"$1" && grep -q "rc=1" <<<"$1" && grep -qx "1024 /dev/shm/fill" <<<"$1"' _ "$out"
expect_fail "--shm-size 0 is refused" 'size "0" is not a number of bytes greater than 0' \
  as_user "$UVA" run --shm-size 0 -- true
# The same two as spec-file keys.
cat >"$WORK/limits.spec" <<'SPEC_EOF'
[container lim]
command = sh -c 'grep "^Max processes" /proc/self/limits; stat -f -c "shm %b %S" /dev/shm'
network = none
pids-limit = 60
shm-size = 8m
SPEC_EOF
[ "$IS_ROOT" = 1 ] && chown "$TUID:$TGID" "$WORK/limits.spec"
out=$(timeout -s KILL 30 "${AS_USER[@]}" "$UVA" up "$WORK/limits.spec" 2>&1)
check "up: pids-limit = 60 and shm-size = 8m reach the container" \
  bash -c 'grep -qE "^lim \| Max processes +60 +60 " <<<"$1" && grep -qx "lim | shm 2048 4096" <<<"$1"' _ "$out"

# Two managers at once: the second may not take the first's /tmp.
LOUT=$WORK/lock.out
"${AS_USER[@]}" "$UVA" run --name locked -- sh -c 'echo started; sleep 20' >"$LOUT" 2>&1 &
MGR=$!
wait_for 100 grep -q started "$LOUT"
out=$(timeout 20 "${AS_USER[@]}" "$UVA" run --name locked -- sh -c 'echo second >>/tmp/second' 2>&1); rc=$?
check "a second manager on the same container /tmp fails (rc=$rc)" \
  bash -c "[ $rc = 1 ] && grep -q 'is in use by another running uva_container' <<<\"\$1\" && [ ! -e '$WORK/state/uva_container/locked/tmp/second' ]" _ "$out"
kill -INT "$MGR"; wait "$MGR"; MGR=

# The manager's network path runs under a seccomp allow-list once its
# containers are started: a test-only hook tries execve and open from it.
out=$(timeout 30 "${AS_USER[@]}" UVA_TEST_HOOK_EXEC=1 "$WORK/uva_container-hooks" run --network none -- true 2>&1); rc=$?
check "manager seccomp: execve from the manager fails with EPERM" \
  grep -q 'test hook: execve: Operation not permitted' <<<"$out"
check "manager seccomp: creating a file from the manager fails with EPERM" \
  grep -q 'open: Operation not permitted' <<<"$out"
check "manager seccomp: the container still ran and exited 0 (rc=$rc)" [ $rc = 0 ]
if ! strings "$UVA" | grep -q __asan_; then
  "${AS_USER[@]}" "$UVA" run --network none -- sleep 20 >/dev/null 2>&1 &
  MGR=$!
  wait_for 50 grep -q $'^Seccomp:\t2' "/proc/$MGR/status"
  check "manager seccomp: the manager runs with a filter (Seccomp: 2)" grep -q $'^Seccomp:\t2' "/proc/$MGR/status"
  kill -INT "$MGR"; wait "$MGR"; MGR=
  # Past 64 containers too: kill's list of inits outgrows an 8-bit jump.
  MANY=$WORK/many.spec
  : >"$MANY"
  for i in $(seq 1 70); do printf '[container m%d]\ncommand = sleep 60\nnetwork = none\n\n' "$i" >>"$MANY"; done
  [ "$IS_ROOT" = 1 ] && chown "$TUID:$TGID" "$MANY"
  "${AS_USER[@]}" "$UVA" up "$MANY" >"$WORK/many.out" 2>&1 &
  MGR=$!
  wait_for 300 grep -q "press Ctrl-C to stop" "$WORK/many.out"
  check "manager seccomp: with 70 containers still on (Seccomp: 2)" grep -q $'^Seccomp:\t2' "/proc/$MGR/status"
  check "manager seccomp: with 70 containers no warning" bash -c '! grep -q "warning" "$1"' _ "$WORK/many.out"
  kill -INT "$MGR"; wait "$MGR"; rc=$?; MGR=
  check_eq "manager seccomp: 70 containers stop on Ctrl-C, exit 0" "$rc" 0
  check "manager seccomp: 70 containers leave nothing" wait_for 50 no_user_procs
else
  skipped "manager seccomp and Landlock are off in sanitizer builds (LeakSanitizer needs ptrace and /proc)"
  skipped "manager seccomp with 70 containers (sanitizer build)"
  skipped "manager seccomp with 70 containers, no warning (sanitizer build)"
  skipped "70 containers stop on Ctrl-C (sanitizer build)"
  skipped "70 containers leave nothing (sanitizer build)"
fi

# After start-up the manager confines itself (src/manager/confine.c): Landlock and
# the seccomp allow-list with argument filters.  The test hook tries, from
# inside the confined manager, each operation they forbid and prints its
# errno: EACCES is Landlock's answer, EPERM seccomp's.  It runs on a
# terminal of its own (a pty, its controlling tty, so TIOCSTI has a tty to
# inject into), with a file of the user's home to read and a process of the
# user's to signal and trace; forwarding must still work afterwards.
ptyrun='import os, sys
pid, fd = os.forkpty()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    sys.stdout.buffer.write(d.replace(b"\r", b"")); sys.stdout.flush()
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))'
SECRET=$THOME/uva-hook-secret.$$
echo "not for the manager" >"$SECRET" && chmod 0600 "$SECRET"
[ "$IS_ROOT" = 1 ] && chown "$TUID:$TGID" "$SECRET"
"${AS_USER[@]}" sleep 120 &
VICTIM=$!
HOUT=$WORK/hook.out
"${AS_USER[@]}" UVA_TEST_HOOK_EXEC=1 UVA_TEST_HOOK_READ="$SECRET" UVA_TEST_HOOK_VICTIM=$VICTIM \
  "$PY" -c "$ptyrun" "$WORK/uva_container-hooks" run -p 127.0.0.1:18111:8000 -- "$PY" -m http.server 8000 >"$HOUT" 2>&1 &
MGR=$!
# `run` is ready once the app has started, not once it answers (there is
# no ready-http for run): the forwarding checks below wait for its answer.
wait_for 300 grep -q 'ready at http://127.0.0.1:18111/' "$HOUT"
http_200() { [ "$(curl -s -m 5 -o /dev/null -w "%{http_code}" "http://127.0.0.1:$1/")" = 200 ]; }
hook_says() { grep -qxF "uva_container: test hook: $1" "$HOUT"; }
# A Landlock answer needs that much Landlock in the kernel (ABI 1: files
# and execve, 4: TCP bind, 6: abstract unix socket scope): asked of the
# host first, a skip naming the ABI where it has less.
ll_check() { # minimum ABI, what it brings, description, command...
  local abi=$1 what=$2 d=$3
  shift 3
  if host_has_landlock "$abi" "$what"; then check "$d" "$@"; else skipped "$d ($HOST_LACKS)"; fi
}
ll_check 1 "filesystem" "manager Landlock: reading a file of the user's home fails with EACCES" \
  hook_says "open $SECRET for reading: Permission denied"
ndirs=$(sed -n 's/^uva_container: test hook: directory fds: //p' "$HOUT")
nrefused=$(grep -cE '^uva_container: test hook: openat\(directory fd, "\.\.?"\): Operation not permitted$' "$HOUT")
check "manager confined: openat through each of its ${ndirs:-0} directory fds (the /tmp locks) fails (seccomp EPERM: dirfd must be AT_FDCWD)" \
  [ "${ndirs:-0}" -ge 1 -a "$nrefused" = $((2 * ${ndirs:-0})) ]
check "manager seccomp: socket(AF_UNIX) fails with EPERM" hook_says "socket(AF_UNIX): Operation not permitted"
check "manager seccomp: socket(AF_NETLINK) fails with EPERM" hook_says "socket(AF_NETLINK): Operation not permitted"
check "manager seccomp: TIOCSTI on its terminal (fds 0, 1, 2) fails with EPERM" bash -c \
  'for fd in 0 1 2; do grep -qxF "uva_container: test hook: fd $fd is a terminal: yes" "$1" && grep -qxF "uva_container: test hook: ioctl($fd, TIOCSTI): Operation not permitted" "$1" || exit 1; done' _ "$HOUT"
check "manager seccomp: TIOCSTI with high bits set (CVE-2019-10063) fails with EPERM" bash -c \
  'for fd in 0 1 2; do grep -qxF "uva_container: test hook: ioctl($fd, TIOCSTI | 1 << 32): Operation not permitted" "$1" || exit 1; done' _ "$HOUT"
check "manager seccomp: kill of another process of the user fails with EPERM, and it lives" \
  bash -c 'grep -qxF "uva_container: test hook: kill(another process of the user): Operation not permitted" "$1" && kill -0 "$2"' _ "$HOUT" "$VICTIM"
check "manager seccomp: ptrace(PTRACE_ATTACH) fails with EPERM" hook_says "ptrace(PTRACE_ATTACH): Operation not permitted"
check "manager seccomp: process_vm_readv fails with EPERM" hook_says "process_vm_readv: Operation not permitted"
check "manager seccomp: bind of a new TCP socket fails with EPERM" hook_says "bind(new TCP socket): Operation not permitted"
check "manager seccomp: listen on a new TCP socket (an autobound port) fails with EPERM" hook_says "listen(new TCP socket): Operation not permitted"
check "manager seccomp: execve fails with EPERM (on a terminal too)" hook_says "execve: Operation not permitted"
check "manager confined: forwarding to the app still works after the hook (within 20 s of start)" \
  wait_for 200 http_200 18111
HMGR=$(pgrep -P "$MGR" | head -1)
[ -n "$HMGR" ] && kill -INT "$HMGR"
wait_for 100 gone "$MGR"
check "manager confined: Ctrl-C still stops its container (it signals its init)" \
  bash -c '! kill -0 "$1" 2>/dev/null && grep -q "Interrupt: stopping all containers" "$2"' _ "$MGR" "$HOUT"
kill -KILL "$MGR" 2>/dev/null; wait "$MGR" 2>/dev/null; MGR=
kill "$VICTIM" 2>/dev/null; wait "$VICTIM" 2>/dev/null
rm -f "$SECRET"

# Landlock alone (the hook skips the seccomp filter): what it stops by
# itself, where seccomp's answer would otherwise come first.  An abstract
# unix socket of the user's stands for an X server or a D-Bus bus.
ABS=uva-hook-$$
"${AS_USER[@]}" "$PY" -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.bind("\0" + sys.argv[1]); s.listen(); print("listening", flush=True); time.sleep(30)' "$ABS" >"$WORK/abs.out" 2>&1 &
ABSL=$!
wait_for 50 grep -q listening "$WORK/abs.out"
HOUT=$WORK/hook-ll.out
timeout 30 "${AS_USER[@]}" UVA_TEST_HOOK_EXEC=1 UVA_TEST_HOOK_NO_SECCOMP=1 UVA_TEST_HOOK_ABSTRACT="$ABS" \
  "$WORK/uva_container-hooks" run --network none -- true >"$HOUT" 2>&1
ll_check 6 "abstract unix socket scope" "manager Landlock alone: connecting to an abstract unix socket of the user fails with EPERM (scope)" \
  hook_says "connect(abstract unix socket): Operation not permitted"
ll_check 4 "TCP bind" "manager Landlock alone: bind of a new TCP port fails with EACCES" hook_says "bind(new TCP socket): Permission denied"
ll_check 1 "execve" "manager Landlock alone: execve fails with EACCES" hook_says "execve: Permission denied"
ll_check 1 "filesystem" "manager Landlock alone: creating a file fails with EACCES" hook_says "open: Permission denied"
ndirs=$(sed -n 's/^uva_container: test hook: directory fds: //p' "$HOUT")
nrefused=$(grep -cE '^uva_container: test hook: openat\(directory fd, "\.\.?"\): Permission denied$' "$HOUT")
ll_check 1 "filesystem" "manager Landlock alone: openat through each of its ${ndirs:-0} directory fds fails with EACCES" \
  [ "${ndirs:-0}" -ge 1 -a "$nrefused" = $((2 * ${ndirs:-0})) ]
kill "$ABSL" 2>/dev/null; wait "$ABSL" 2>/dev/null

# Where Landlock is missing (the hook says so): the manager's root is an
# empty tmpfs of its own with only /etc/resolv.conf; forwarding goes on.
SECRET=$THOME/uva-hook-secret2.$$
echo "not for the manager" >"$SECRET" && chmod 0600 "$SECRET"
[ "$IS_ROOT" = 1 ] && chown "$TUID:$TGID" "$SECRET"
HOUT=$WORK/hook-nl.out
"${AS_USER[@]}" UVA_TEST_HOOK_EXEC=1 UVA_TEST_HOOK_NO_LANDLOCK=1 UVA_TEST_HOOK_READ="$SECRET" \
  "$WORK/uva_container-hooks" run -p 127.0.0.1:18112:8000 -- "$PY" -m http.server 8000 >"$HOUT" 2>&1 &
MGR=$!
wait_for 300 grep -q 'ready at http://127.0.0.1:18112/' "$HOUT" || { echo "# not ready in 30 s:"; diag <"$HOUT"; }
check "manager without Landlock: a file of the user's home does not exist for it (empty root)" \
  hook_says "open $SECRET for reading: No such file or directory"
check "manager without Landlock: no warning, fully confined" bash -c '! grep -q warning "$1"' _ "$HOUT"
check "manager without Landlock: forwarding still works (within 20 s of start)" wait_for 200 http_200 18112
kill -INT "$MGR"; wait "$MGR"; rc=$?; MGR=
check_eq "manager without Landlock: Ctrl-C still stops its container (SIGINT: http.server exits 0)" "$rc" 0
rm -f "$SECRET"

# Two default instances by the same user: the second stops at its ports,
# before touching any state, and the first goes on undisturbed.
if start; then
  LA=$WORK/state/uva_container/a/tmp/http_recorder.log
  curl -s -m 5 -o /dev/null http://127.0.0.1:18080/before-second
  wait_for 50 grep -q before-second "$LA"
  sum_before=$(md5sum <"$LA")
  out=$(timeout 30 "${AS_USER[@]}" "$WORK/uva_container" 2>&1); rc=$?
  check "a second default instance fails in one line naming port 18080 (rc=$rc)" \
    bash -c '[ "$1" = 1 ] && grep -q "port 127.0.0.1:18080: it is already in use" <<<"$2" && [ "$(grep -c . <<<"$2")" = 1 ]' _ "$rc" "$out"
  check "the first instance's log is untouched by the second" [ "$(md5sum <"$LA")" = "$sum_before" ]
  check "the first instance still serves a and b" \
    bash -c "curl -s -m 5 http://127.0.0.1:18080/ | grep -q hello-from-a && curl -s -m 5 http://127.0.0.1:28080/ | grep -q hello-from-b"
  check "the first instance still stops cleanly" stop_int
else
  not_ok "start for the two-instances case"
fi

# ---- faults ----
# The app crashes: --restart on-failure:N restarts it with back-off.
out=$(run_out --restart on-failure:2 -- sh -c 'date +%s.%N; exit 3'); rc=$?
check "restart on-failure:2: three runs, then the app's status (rc=$rc)" \
  bash -c '[ "$1" = 3 ] && [ "$(grep -c "^[0-9]" <<<"$2")" = 3 ]' _ "$rc" "$out"
check "restart: each restart is reported with its back-off" \
  bash -c 'grep -q "sh exited with status 3; restart 1 of 2 in 1.0 s" <<<"$1" && grep -q "restart 2 of 2 in 2.0 s" <<<"$1"' _ "$out"
check "restart: the back-off is waited (1 s, then 2 s), never a tight loop" \
  "$PY" -c 'import sys; t=[float(l) for l in sys.argv[1].splitlines() if l[:1].isdigit()]; sys.exit(0 if t[1]-t[0] >= 0.95 and t[2]-t[1] >= 1.95 else 1)' "$out"
out=$(run_out --restart on-failure -- true); rc=$?
check "restart: an app that succeeds is not restarted" bash -c '[ "$1" = 0 ] && ! grep -q restart <<<"$2"' _ "$rc" "$out"
expect_fail "--restart always is refused, naming the policies" "not no, on-failure or on-failure:N" \
  as_user "$UVA" run --restart always -- true
ROUT2=$WORK/restart.out
"${AS_USER[@]}" "$UVA" run --restart on-failure -- sh -c 'exit 1' >"$ROUT2" 2>&1 &
MGR=$!
wait_for 50 grep -q "restart 2" "$ROUT2"
kill -INT "$MGR"
# At once: well before the next back-off (4 s) would end.
wait_for 30 gone "$MGR"; quick=$?
[ $quick = 0 ] || kill -KILL "$MGR"
wait "$MGR"; rc=$?; MGR=
check "restart: Ctrl-C during the back-off stops within 3 s with the app's status (rc=$rc)" \
  eval '[ "$quick" = 0 ] && [ "$rc" = 1 ]'
check "restart: nothing left" wait_for 20 no_user_procs

# A container's pid 1 is killed: reported, its port freed, the other kept.
# It dies with a dial of the splice driver unread in its sync socket (it is
# stopped first, and a client connects): the kernel then answers the
# manager's recvmsg with ECONNRESET, not EOF, which is still just init's
# end (it once printed "recvmsg on the sync socket: Connection reset by
# peer" instead).
sync_queued() { # pid: a message waits in one of its unix sockets
  local f ino
  for f in /proc/"$1"/fd/*; do
    ino=$(readlink "$f") || continue
    case $ino in socket:*) ino=${ino#socket:[}; ino=${ino%]} ;; *) continue ;; esac
    ss -xn | awk -v i="$ino" '$6 == i && $3 > 0 {found = 1} END {exit !found}' && return 0
  done
  return 1
}
if start; then
  A=$(app_of a)
  IA=$(awk '/^PPid:/ {print $2}' "/proc/$A/status")
  kill -STOP "$IA"
  curl -s -m 20 -o /dev/null http://127.0.0.1:18080/ &
  CURL=$!
  check "init of a stopped: a client's dial waits unread in its sync socket" wait_for 100 sync_queued "$IA"
  kill -KILL "$IA"
  check "init of a killed: reported" wait_for 50 grep -q "^uva_container: a: its init was killed by signal 9" "$OUT"
  check "init of a killed with a dial unread: no recvmsg error, no other line about a" \
    bash -c '! grep -q "recvmsg" "$1" && [ "$(grep -c "^uva_container: a:" "$1")" = 1 ]' _ "$OUT"
  kill "$CURL" 2>/dev/null; wait "$CURL" 2>/dev/null
  check "init of a killed: its port 18080 is released" wait_for 20 port_free 18080
  check "init of a killed: b still serves" bash -c "curl -s -m 5 http://127.0.0.1:28080/ | grep -q hello-from-b"
  check "init of a killed: a's app is gone too" wait_for 20 bash -c "! kill -0 $A 2>/dev/null"
  check "init of a killed: Ctrl-C still stops b cleanly" stop_int
else
  not_ok "start for the init-killed case"
fi

# SIGINT or SIGTERM at every stage of start-up (before the maps, during
# the tap, before readiness, while the probe dials): within 6 s, status 0
# as documented, no line but the stop's, nothing left.  Each moment counts
# from the manager's main holding the stop signals (SigBlk), so a signal
# that kills setpriv, env or the dynamic loader first is not taken for the
# manager's.  Meanwhile a client keeps connecting to both ports, so dials
# are in flight when inits stop (see the init-killed case above).
# Job control on: without it a script's background job starts with SIGINT
# ignored, which setpriv and env keep until uva_container resets it, and a
# signal that early would be lost on them; a terminal's Ctrl-C is never.
sigint_held() { # pid: it is uva_container, with SIGINT and SIGTERM blocked
  local k v
  # bash blocks signals in a child for a moment before it execs setpriv.
  [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$UVA" ] || return 1
  while read -r k v; do
    [ "$k" = SigBlk: ] && { ((16#$v & 0x4002 == 0x4002)); return; }
  done 2>/dev/null <"/proc/$1/status"
  return 1
}
held_within() { # pid, tries: polled every millisecond or so
  local i
  for ((i = 0; i < $2; i++)); do sigint_held "$1" && return 0; gone "$1" && return 1; sleep 0.001; done
  return 1
}
stop_lines_only() { # output: the banner, app lines and the stop, nothing else
  ! grep -v -e '^$' -e '^[ab] | ' -e '^uva_container: [ab] ready at ' -e '^uva_container: [ab] log ' \
    -e '^uva_container: press Ctrl-C to stop$' -e '^uva_container: \(Interrupt\|Terminated\): stopping all containers$' "$1"
}
(while :; do port_open 18080; port_open 28080; sleep 0.01; done) &
DIALER=$!
set -m
stage_ok=0 stages=0
for delay in 0 0.002 0.005 0.01 0.02 0.04 0.07 0.1 0.15 0.25; do
  for sig in INT TERM; do
    stages=$((stages + 1))
    "${AS_USER[@]}" "$UVA" >"$WORK/stage.out" 2>&1 &
    MGR=$!
    held=0
    held_within "$MGR" 5000 && held=1
    sleep "$delay" # the moment itself, not a wait for something
    kill -s "$sig" "$MGR"
    wait_for 60 gone "$MGR"; prompt=$?
    [ $prompt = 0 ] || kill -KILL "$MGR" 2>/dev/null
    wait "$MGR"; rc=$?; MGR=
    if [ $held = 1 ] && [ $prompt = 0 ] && [ $rc = 0 ] && stop_lines_only "$WORK/stage.out" &&
      wait_for 20 no_user_procs && port_free 18080 && port_free 28080; then
      stage_ok=$((stage_ok + 1))
    else
      echo "# SIG$sig after ${delay}s: not clean (held $held, within 6 s $((1 - prompt)), status $rc)"
      diag <"$WORK/stage.out"
    fi
  done
done 2>/dev/null # job-control notices ("[1]+ Interrupt ...")
set +m
kill "$DIALER" 2>/dev/null; wait "$DIALER" 2>/dev/null
check "SIGINT/SIGTERM at $stages moments of start-up: all exit within 6 s with status 0, nothing left ($stage_ok/$stages)" \
  [ "$stage_ok" = "$stages" ]
