# tests/hardening.sh - attacks from inside a container.  Sourced by
# tests/run.sh after the default containers have run (their logs exist).

# What the app may not see of the host.
run_out -- ls "$THOME" >/dev/null; rc=$?
check "the user's home directory is not visible inside (rc=$rc)" [ $rc != 0 ]
run_out -- cat "$WORK/state/uva_container/a/tmp/http_recorder.log" >/dev/null; rc=$?
check "another container's log is not visible inside (rc=$rc)" [ $rc != 0 ]
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
         "kexec_file_load": 320, "reboot": 169}
for name, nr in calls.items():
    r = libc.syscall(nr, 0, 0, 0, 0, 0)
    print(name, "EPERM" if r == -1 and ctypes.get_errno() == 1 else "ALLOWED")
t = threading.Thread(target=lambda: None); t.start(); t.join()
print("thread ok")
print(subprocess.run(["echo", "subprocess ok"], capture_output=True, text=True).stdout.strip())'
if [ "$(uname -m)" = x86_64 ]; then
  out=$(run_out --network none -- $PY -c "$probe_sc")
  for name in keyctl add_key request_key bpf perf_event_open userfaultfd init_module finit_module delete_module kexec_load kexec_file_load reboot; do
    check "seccomp: $name fails with EPERM" grep -qx "$name EPERM" <<<"$out"
  done
  check "seccomp: threads and subprocesses still work" bash -c 'grep -qx "thread ok" <<<"$1" && grep -qx "subprocess ok" <<<"$1"' _ "$out"
else
  skipped "seccomp probes use x86_64 syscall numbers"
fi
out=$(run_out --network none -- sh -c 'unshare -U true 2>&1; echo rc=$?')
check "seccomp: a nested user namespace is refused (unshare -U)" grep -q 'rc=1' <<<"$out"
out=$(run_out --network none -- grep ^Seccomp: /proc/self/status)
check "the app runs with a seccomp filter (Seccomp: 2)" [ "$out" = $'Seccomp:\t2' ]

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
check "manager seccomp: opening a file from the manager fails with EPERM" \
  grep -q 'open: Operation not permitted' <<<"$out"
check "manager seccomp: the container still ran and exited 0 (rc=$rc)" [ $rc = 0 ]
if ! strings "$UVA" | grep -q __asan_; then
  "${AS_USER[@]}" "$UVA" run --network none -- sleep 20 >/dev/null 2>&1 &
  MGR=$!
  wait_for 50 grep -q $'^Seccomp:\t2' "/proc/$MGR/status"
  check "manager seccomp: the manager runs with a filter (Seccomp: 2)" grep -q $'^Seccomp:\t2' "/proc/$MGR/status"
  kill -INT "$MGR"; wait "$MGR"; MGR=
else
  skipped "manager seccomp is off in sanitizer builds (LeakSanitizer needs ptrace)"
fi
