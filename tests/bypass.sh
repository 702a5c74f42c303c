#!/usr/bin/env bash
# tests/bypass.sh - the bypass drivers (--port-driver bypass, --outbound
# bypass): transfers, concurrency, real client addresses, and every way
# back into the host from an injected host socket.  Sourced by
# tests/run.sh (its helpers: check, check_eq, ok, not_ok, wait_for,
# as_user, WORK, UVA, PY, IS_ROOT, TUID, TGID, MGR); self-contained
# otherwise.  tests/bypass_probe.c is the attacking app, fwd_peer.py the
# transfer peer.
# A part of the suite (tests/lib.sh): runs alone or from tests/run.sh.
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The drivers need SO_NETNS_COOKIE and seccomp's WAIT_KILLABLE_RECV
# (uva_container check says so, and run refuses them): on a kernel
# without, the part is one skip naming what is missing.
if ! host_has_bypass_kernel; then
  skipped "bypass drivers: this kernel lacks $HOST_LACKS"
  exit 0
fi

BPDIR=$WORK/bypass
mkdir -p "$BPDIR"
cp "$ROOT/tests/fwd_peer.py" "$BPDIR/"
BP_PROBE_OK=0
cc -O2 -pthread -o "$BPDIR/bypass_probe" "$ROOT/tests/bypass_probe.c" && BP_PROBE_OK=1
check "bypass: the probe app builds (cc)" [ $BP_PROBE_OK = 1 ]
[ $IS_ROOT = 1 ] && chown -R "$TUID:$TGID" "$BPDIR"
PEER=$ROOT/tests/fwd_peer.py
BP_UVA=${UVA:-$WORK/uva_container}

# A listener on the host's 127.0.0.1 that counts what reaches it: every
# attack aims at it, and it must count zero at the end.
BP_TPORT=19190
BP_COUNT=$BPDIR/host-listener.count
$PY - "$BP_TPORT" "$BP_COUNT" <<'PY_EOF' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
n = 0
open(sys.argv[2], "w").write("0\n")
while True:
    c, a = s.accept(); n += 1; c.close()
    open(sys.argv[2], "w").write("%d\n" % n)
PY_EOF
BP_LISTENER=$!
wait_for 50 test -s "$BP_COUNT"

out=$(as_user "$BP_UVA" check 2>&1)
check "bypass: check reports the kernel features of the bypass drivers" \
  grep -q "^OK    bypass drivers (opt-in).*WAIT_KILLABLE_RECV (5.19)" <<<"$out"

# Refused at parse time: what the bypass driver cannot carry.
out=$(as_user "$BP_UVA" run --port-driver bypass -p 127.0.0.1:19199:53/udp -- true 2>&1)
check "bypass: UDP publishing is refused in one line" grep -q "bypass port driver cannot publish UDP" <<<"$out"
out=$(as_user "$BP_UVA" run --network none --outbound bypass -- true 2>&1)
check "bypass: --outbound bypass with --network none is refused" grep -q "outbound bypass needs a network" <<<"$out"
out=$(as_user "$BP_UVA" run --port-driver bogus -- true 2>&1)
check "bypass: --port-driver names bypass among the drivers" grep -q "not splice, slirp or bypass" <<<"$out"

# 1. fwd_peer.py under bypass: the app listens on the host socket itself.
BPOUT=$BPDIR/peer.out
"${AS_USER[@]}" "$BP_UVA" run --port-driver bypass -w "$BPDIR" \
  -p 127.0.0.1:19100:9100 -p '[::1]:19101:9101' \
  -- $PY /app/fwd_peer.py serve 9100 9102 9101 >"$BPOUT" 2>&1 &
MGR=$!
if wait_for 100 grep -qs "fwd_peer serving" "$BPOUT" &&
  wait_for 50 $PY "$PEER" transfer 127.0.0.1 19100 1 1; then
  ok "bypass: the peer container serves on the host port"
else
  not_ok "bypass: the peer container serves on the host port"; sed 's/^/#   /' "$BPOUT"
fi
# ss -ltnp: the listening socket on 127.0.0.1:19100 is in the app's fd
# table; the manager holds it too but never listens or accepts (no
# forwarder: no second connection per client).
bp_owner=$(ss -Hltnp 'sport = :19100' 2>/dev/null)
check "bypass: the app itself listens on 127.0.0.1:19100 (ss -ltnp)" grep -q '"python3"' <<<"$bp_owner"
check "bypass: 64 MiB each way, byte-exact (sha256), with half-close" \
  $PY "$PEER" transfer 127.0.0.1 19100 67108864 67108864
check "bypass: 200 concurrent connections all complete" \
  $PY "$PEER" concurrent 127.0.0.1 19100 200
check "bypass: an IPv6 host address ([::1]:19101) carries 20 keep-alive connections" \
  $PY "$PEER" keepalive ::1 19101 20 50
bp_est=$(ss -Htnp state established '( sport = :19100 )' 2>/dev/null | grep -c uva_container)
check_eq "bypass: no connection of a client is the manager's" "$bp_est" 0
# The manager's death ends the container: no app is left with a dead
# notifier (init sees EOF and kills its namespace).
kill -KILL "$MGR"; wait "$MGR" 2>/dev/null; MGR=
check "bypass: SIGKILL of the manager leaves no process behind" wait_for 50 no_user_procs
check "bypass: and frees the host port" wait_for 20 port_free 19100

# A restarted app binds again: it gets the same host socket (the manager
# and init keep it), served by the new app's own listener.
BROUT=$BPDIR/restart.out
"${AS_USER[@]}" "$BP_UVA" run --port-driver bypass --restart on-failure:1 -w "$BPDIR" \
  -p 127.0.0.1:19130:9130 -- sh -c 'if [ -e /tmp/once ]; then exec '"$PY"' -m http.server 9130; fi
    touch /tmp/once; '"$PY"' -c "import socket; s = socket.socket(); s.bind((\"0.0.0.0\", 9130)); s.listen()"; exit 1' \
  >"$BROUT" 2>&1 &
MGR=$!
check "bypass: after a restart the new app serves the published port" \
  wait_for 150 bash -c 'curl -s -m 2 http://127.0.0.1:19130/ | grep -q "Directory listing"'
check "bypass: ... and the restart was reported" grep -q "restart 1 of 1" "$BROUT"
kill -INT "$MGR"; wait "$MGR" 2>/dev/null; MGR=

# 2. The attacking app: binds a published port, gets the host socket,
# tries every way back into the host against the listener above.
if [ $BP_PROBE_OK = 1 ]; then
  # A non-loopback client address of this namespace's own (as root the
  # suite runs in a network namespace made for it).
  # On lo, as a /32: a dummy link needs a module this kernel may lack.
  BP_ADDR=
  if [ $IS_ROOT = 1 ] && ip addr add 192.0.2.77/32 dev lo 2>/dev/null; then
    BP_ADDR=192.0.2.77
  fi
  PROUT=$BPDIR/probe.out
  "${AS_USER[@]}" "$BP_UVA" run --port-driver bypass -w "$BPDIR" \
    -p 0.0.0.0:19110:9110 \
    -- /app/bypass_probe 9110 127.0.0.1 "$BP_TPORT" >"$PROUT" 2>&1 &
  MGR=$!
  if wait_for 150 grep -q "^ready" "$PROUT"; then
    ok "bypass: the probe app is ready"
  else
    not_ok "bypass: the probe app is ready"; sed 's/^/#   /' "$PROUT"
  fi
  check "bypass: the app's getsockname shows the host address (0.0.0.0, AF_INET)" \
    grep -q "^listening 0.0.0.0 family inet" "$PROUT"
  # The accepted socket: the same attacks on a connection of a client.
  $PY - 127.0.0.1 19110 <<'PY_EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
s.sendall(b"ATTACK\n")
s.recv(16)
PY_EOF
  for what in listener accepted; do
    for a in unspec connect sendto-fastopen sendmsg-fastopen sendmmsg-fastopen \
      tcp-fastopen-connect connect-after-fastopen-connect; do
      line=$(grep "^attack $what-$a:" "$PROUT")
      check "bypass: $what socket: $a is refused (${line#*: })" grep -q ": refused (" <<<"$line"
    done
    line=$(grep "^attack $what-dup2-race:" "$PROUT")
    check "bypass: $what socket: the two-thread dup2/connect race never connects (${line#*: })" \
      grep -q " 0 connected$" <<<"$line"
  done
  line=$(grep "^attack io_uring_setup:" "$PROUT")
  check "bypass: io_uring is refused (${line#*: })" grep -q ": refused (" <<<"$line"
  if [ -n "$BP_ADDR" ]; then
    peer=$($PY - "$BP_ADDR" 19110 <<'PY_EOF'
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.settimeout(10)
s.connect((sys.argv[1], int(sys.argv[2])))
s.sendall(b"PEER\n")
print(s.recv(100).decode().strip())
PY_EOF
)
    check_eq "bypass: the app sees the real client address" "$peer" "peer $BP_ADDR"
  else
    skipped "bypass: the app sees the real client address (needs root for a client address)"
  fi
  stop_bp() { kill -INT "$MGR"; wait "$MGR" 2>/dev/null; MGR=; }
  stop_bp

  # The splice driver too: init dials from the client's address
  # (IP_TRANSPARENT, transparent.c); a loopback client stays 127.0.0.1.
  if [ -n "$BP_ADDR" ]; then
    SPOUT=$BPDIR/splice-peer.out
    "${AS_USER[@]}" "$BP_UVA" run --port-driver splice -w "$BPDIR" \
      -p 0.0.0.0:19112:9112 \
      -- /app/bypass_probe 9112 127.0.0.1 0 >"$SPOUT" 2>&1 &
    MGR=$!
    wait_for 150 grep -q "^ready" "$SPOUT"
    bp_peer() {
      $PY - "$1" "$2" 19112 <<'PY_EOF'
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.settimeout(10)
s.connect((sys.argv[2], int(sys.argv[3])))
s.sendall(b"PEER\n")
print(s.recv(100).decode().strip())
PY_EOF
    }
    check_eq "splice: the app sees the real client address" "$(bp_peer "$BP_ADDR" "$BP_ADDR")" "peer $BP_ADDR"
    check_eq "splice: a loopback client is 127.0.0.1 as before" "$(bp_peer 127.0.0.1 127.0.0.1)" "peer 127.0.0.1"
    stop_bp
  fi

  # 3. --outbound bypass: a download from a server on a non-loopback
  # address of this namespace, on a socket of the host's, and the same
  # re-use attacks on that socket.
  if [ -n "$BP_ADDR" ]; then
    BP_OPORT=19120
    $PY - "$BP_ADDR" "$BP_OPORT" "$BPDIR/release" <<'PY_EOF' &
import os, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(4)
c, a = s.accept()
c.sendall(b"x" * (8 << 20))
# Held open until the test has looked at who holds the other end (30 s
# at most).
for _ in range(300):
    if os.path.exists(sys.argv[3]):
        break
    time.sleep(0.1)
c.close()
PY_EOF
    BP_OSRV=$!
    sleep 0.3
    OOUT=$BPDIR/outbound.out
    "${AS_USER[@]}" "$BP_UVA" run --port-driver bypass --outbound bypass -w "$BPDIR" \
      -p 127.0.0.1:19111:9111 \
      -- /app/bypass_probe 9111 127.0.0.1 "$BP_TPORT" "$BP_ADDR" "$BP_OPORT" >"$OOUT" 2>&1 &
    MGR=$!
    holder=
    for ((i = 0; i < 200; i++)); do
      # Until ss names a process: a socket that has just connected may be
      # listed before its fd is seen in /proc.
      holder=$(ss -Htnp state established "( dport = :$BP_OPORT )" 2>/dev/null)
      grep -q 'users:' <<<"$holder" && break
      sleep 0.1
    done
    check "bypass: outbound: the app itself holds the host connection (ss -tnp: ${holder:-none})" grep -q '"bypass_probe"' <<<"$holder"
    touch "$BPDIR/release"
    wait_for 150 grep -q "^ready" "$OOUT"
    check "bypass: outbound: 8 MiB downloaded" grep -q "^outbound bytes 8388608$" "$OOUT"
    for a in unspec connect sendto-fastopen sendmsg-fastopen sendmmsg-fastopen \
      tcp-fastopen-connect connect-after-fastopen-connect; do
      line=$(grep "^attack outbound-$a:" "$OOUT")
      check "bypass: outbound socket: $a is refused (${line#*: })" grep -q ": refused (" <<<"$line"
    done
    line=$(grep "^attack outbound-dup2-race:" "$OOUT")
    check "bypass: outbound socket: the dup2/connect race never connects (${line#*: })" grep -q " 0 connected$" <<<"$line"
    for dst in 127.0.0.1 10.0.2.2 "$BP_ADDR"; do
      line=$(grep "^attack plain-connect-$dst:" "$OOUT")
      check "bypass: outbound: connect() to $dst:$BP_TPORT is refused as today (${line#*: })" grep -q ": refused (" <<<"$line"
    done
    stop_bp
    kill "$BP_OSRV" 2>/dev/null; wait "$BP_OSRV" 2>/dev/null
  else
    skipped "bypass: outbound (needs root for a non-loopback address)"
  fi
  [ -n "$BP_ADDR" ] && ip addr del 192.0.2.77/32 dev lo 2>/dev/null
fi
check_eq "bypass: the host's 127.0.0.1 listener counted no connection" "$(cat "$BP_COUNT")" 0
kill "$BP_LISTENER" 2>/dev/null; wait "$BP_LISTENER" 2>/dev/null
# The part ends well; its last wait must not make its status.
true
