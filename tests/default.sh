#!/usr/bin/env bash
# tests/default.sh - the default pair (a on 18080, b on 28080) as the README shows
# it: isolation, logs, namespaces, stop; then environments that must fail in
# one line (a taken port, no user namespaces, a bad recorder, no tun, no
# python3).
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! start; then
  not_ok "both containers ready"; diag <"$OUT"
  exit 1
fi
ok "both containers ready (checkout under /tmp, as a non-root user)"
A=$(app_of a) B=$(app_of b)
check "both apps found" [ -n "$A" -a -n "$B" ]
LA=$WORK/state/uva_container/a/tmp/http_recorder.log
LB=$WORK/state/uva_container/b/tmp/http_recorder.log
check "the readiness probe wrote nothing to the logs" [ ! -e "$LA" -a ! -e "$LB" ]
# A loop that wakes itself (a GLib source whose check always says yes, or
# one that re-registers its fds at every iteration) burns a whole core
# while nothing happens: over 3 s idle the manager and both inits must use
# under 0.3 s of CPU (a spin uses about 3 s).
cpu_ticks() { local p s=0; for p in "$MGR" $(init_pids); do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $s; }
hz=$(getconf CLK_TCK); t0=$(cpu_ticks); sleep 3; t1=$(cpu_ticks)
check "idle: manager and inits used $((t1 - t0)) of $hz/s ticks in 3 s (limit 0.3 s)" [ $((t1 - t0)) -lt $((hz * 3 / 10)) ]

la=$(curl -s -m 5 http://127.0.0.1:18080/)
lb=$(curl -s -m 5 http://127.0.0.1:28080/)
check "18080 lists a's directory" grep -q 'hello-from-a.txt' <<<"$la"
check "18080 does not list b's files" bash -c "! grep -q 'hello-from-b' <<<'$la'"
check "28080 lists b's directory" grep -q 'hello-from-b.txt' <<<"$lb"
check "28080 does not list a's files" bash -c "! grep -q 'hello-from-a' <<<'$lb'"
check "a serves its file" bash -c "curl -s -m 5 http://127.0.0.1:18080/hello-from-a.txt | grep -q 'container a'"

ua=/only-a-$RANDOM$RANDOM ub=/only-b-$RANDOM$RANDOM
curl -s -m 5 -o /dev/null "http://127.0.0.1:18080$ua"
curl -s -m 5 -o /dev/null "http://127.0.0.1:28080$ub"
check "a's log has a's request" wait_for 50 grep -q "GET request for $ua" "$LA"
check "a's log lacks b's request" bash -c "! grep -q '$ub' '$LA'"
check "b's log has b's request" wait_for 50 grep -q "GET request for $ub" "$LB"
check "b's log lacks a's request" bash -c "! grep -q '$ua' '$LB'"
check "the log belongs to the user on the host" [ "$(stat -c %u "$LA")" = "$TUID" ]
check "the state directory is 0700" [ "$(stat -c %a "$WORK/state/uva_container")" = 700 ]
check "terminal shows a's request prefixed" wait_for 50 grep -q "^a | GET request for $ua" "$OUT"
check "terminal shows b's request prefixed" wait_for 50 grep -q "^b | GET request for $ub" "$OUT"
check "the banner names a's log path" grep -q "a log $LA" "$OUT"

check "app a is in its own network namespace" [ "$(readlink /proc/"$A"/ns/net)" != "$(readlink /proc/self/ns/net)" ]
check "a and b have different network namespaces" [ "$(readlink /proc/"$A"/ns/net)" != "$(readlink /proc/"$B"/ns/net)" ]
for ns in user mnt pid uts ipc; do
  check "app a has its own $ns namespace" [ "$(readlink /proc/"$A"/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ]
done
check "app has no effective capabilities" grep -qx $'CapEff:\t0000000000000000' "/proc/$A/status"
check "app has no_new_privs" grep -qx $'NoNewPrivs:\t1' "/proc/$A/status"
check "app runs as the invoking uid" grep -qP "^Uid:\t$TUID\t" "/proc/$A/status"
check "app is pid 2 of its pid namespace" bash -c "grep '^NSpid:' /proc/$A/status | grep -qP '\t2$'"
check "app's /proc shows only its container (pids 1 and 2)" \
  bash -c "[ \"\$(ls /proc/$A/root/proc | grep -E '^[0-9]+$' | sort -n | tr '\n' ' ')\" = '1 2 ' ]"
check "app's cwd is /app" [ "$(readlink /proc/"$A"/cwd)" = /app ]
check "the hostname of a is a" bash -c "[ \"\$(in_ns $A hostname)\" = a ]"
check "the hostname of b is b" bash -c "[ \"\$(in_ns $B hostname)\" = b ]"
check "inside a, /tmp/http_recorder.log is a's own" \
  bash -c "in_ns $A cat /tmp/http_recorder.log | grep -q '$ua' && ! in_ns $A cat /tmp/http_recorder.log | grep -q '$ub'"
check "inside a, /usr is read-only" bash -c "! in_ns $A touch /usr/uva-probe 2>/dev/null && [ ! -e /usr/uva-probe ]"
check "inside a, /app is writable (its workdir)" bash -c "in_ns $A touch /app/written-inside && [ -e '$WORK/state/uva_container/a/www/written-inside' ]"

# The container may not reach a service bound to the host's 127.0.0.1
# through libslirp's gateway.  Positive control: the same probe reaches the
# container's own app, so a failure is the block, not a broken probe.
$PY -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 39999)); s.listen(); time.sleep(20)' &
LISTENER=$!
wait_for 50 port_open 39999
check "host reaches its own 127.0.0.1:39999 (control)" bash -c "(exec 3<>/dev/tcp/127.0.0.1/39999)"
check "container reaches its own app at 10.0.2.100:8080 (control)" in_ns "$A" "$PY" -c "$probe" 10.0.2.100 8080
check "container cannot reach the host's 127.0.0.1 via 10.0.2.2" bash -c "! in_ns $A $PY -c '$probe' 10.0.2.2 39999"
check "container a cannot reach b through b's published port (10.0.2.2:28080)" bash -c "! in_ns $A $PY -c '$probe' 10.0.2.2 28080"
check "container a cannot reach b's app on its own 127.0.0.1:28080 (a's loopback is a's)" bash -c "! in_ns $A $PY -c '$probe' 127.0.0.1 28080"
kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null

check "SIGINT stops everything and exits 0 within 5 s" stop_int
check "no process of the user is left" wait_for 20 no_user_procs
check "port 18080 is free" port_free 18080
check "port 28080 is free" port_free 28080
check "no container mount propagated to the host" bash -c "! grep -q '$WORK' /proc/self/mountinfo"
check "no tap device left on the host side" bash -c "! grep -q tap /proc/net/dev"

# Logs append across runs; nothing is deleted.
lines_before=$(wc -l <"$LA")
start >/dev/null || true
curl -s -m 5 -o /dev/null http://127.0.0.1:18080/second-run
check "a's log keeps earlier requests across runs" \
  wait_for 50 bash -c "grep -q '$ua' '$LA' && grep -q /second-run '$LA' && [ \$(wc -l <'$LA') -gt $lines_before ]"

# One app dies: reported, the other keeps serving; the last one -> non-zero.
A=$(app_of a) B=$(app_of b)
kill -TERM "$A"
check "a's death is reported with its status" wait_for 50 grep -q "^uva_container: a: .* exited with status 143" "$OUT"
check "b still answers after a died" bash -c "curl -s -m 5 http://127.0.0.1:28080/ | grep -q hello-from-b"
check "a's port is released" wait_for 20 port_free 18080
kill -TERM "$B"
wait "$MGR"; rc=$?; MGR=
check "manager exits non-zero when no app is left (rc=$rc)" [ $rc != 0 ]
check "it says none is left" grep -q "no container is left running" "$OUT"

# SIGKILL of the manager: PR_SET_PDEATHSIG takes everything down.
start >/dev/null || true
kill -KILL "$MGR"; wait "$MGR" 2>/dev/null; MGR=
check "after SIGKILL of the manager no process is left within 2 s" wait_for 20 no_user_procs
check "after SIGKILL port 18080 is free" wait_for 20 port_free 18080

# ---- bad environments: one line, non-zero, nothing left ----
$PY -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 28080)); s.listen(); time.sleep(30)' &
HOLDER=$!
wait_for 50 port_open 28080
expect_fail "a taken port 28080 is named" "port 127.0.0.1:28080: it is already in use" as_user "$WORK/uva_container"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null
check "a failed start left 18080 free" port_free 18080

expect_fail "user namespaces disabled (max_user_namespaces=0) is explained" \
  "user.max_user_namespaces=0" \
  as_user unshare -Ur sh -c "echo 0 >/proc/sys/user/max_user_namespaces && exec '$WORK/uva_container'"

chmod -x "$WORK/http_recorder.py"
expect_fail "a non-executable http_recorder.py is named" "http_recorder.py is not executable" as_user "$WORK/uva_container"
chmod +x "$WORK/http_recorder.py"
mv "$WORK/http_recorder.py" "$WORK/hr.py"
expect_fail "a missing http_recorder.py is named" "http_recorder.py not found (tried $WORK/http_recorder.py, " as_user "$WORK/uva_container"
mv "$WORK/hr.py" "$WORK/http_recorder.py"

if [ "$IS_ROOT" = 1 ]; then
  expect_fail "/dev/net/tun at 0600 is explained" "chmod 0666 /dev/net/tun" \
    "${TUN_0600[@]}" "${AS_USER[@]}" "$WORK/uva_container"
  # Hide python3: a non-executable file bound over it, in a mount
  # namespace of this test only.
  touch "$WORK/not-python"; chmod 0644 "$WORK/not-python"
  export -f as_user
  export PY
  expect_fail "a missing python3 is named" "python3 not found" \
    unshare -m --propagation private bash -c "mount --bind '$WORK/not-python' $PY && for d in /usr/local/bin /usr/local/sbin; do [ -e \$d/python3 ] && mount --bind '$WORK/not-python' \$d/python3; done; as_user '$WORK/uva_container'"
else
  skipped "/dev/net/tun at 0600 (needs root to arrange)"
  skipped "missing python3 (needs root to arrange)"
fi

