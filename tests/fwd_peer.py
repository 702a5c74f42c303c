#!/usr/bin/python3
"""fwd_peer.py - both ends of the port-forwarding tests (tests/ports.sh).

Inside a container:  fwd_peer.py serve TCP_PORT UDP_PORT [ECHO_PORT STALL_PORT]
  TCP: a client sends "N M\\n", N bytes, then shuts its write side.  The
  server reads to EOF and answers "<sha256 of what it got> <count>\\n" and M
  bytes of a deterministic stream, then closes.  So one exchange checks
  both directions byte for byte and half-close (the reply comes after the
  client's EOF).
  UDP: every datagram comes back prefixed with b"echo:".
  ECHO_PORT: whatever comes in goes back out (keep-alive and idle clients).
  STALL_PORT: accepts and never reads (an app that stopped reading).

On the host (each exits 0 on success, 1 with a reason on stderr):
  fwd_peer.py transfer HOST PORT N M [C] one exchange (the upload in C-byte
                                         sends, TCP_NODELAY, when C is given)
  fwd_peer.py concurrent HOST PORT K     K exchanges open at the same time
  fwd_peer.py many HOST PORT COUNT       COUNT exchanges one after another
  fwd_peer.py reset HOST PORT            the server side refuses: expect RST
  fwd_peer.py refused HOST PORT          nothing listens: expect ECONNREFUSED
  fwd_peer.py udp HOST PORT              one datagram there and back
  fwd_peer.py keepalive HOST PORT K R    K echo connections, R round trips each
  fwd_peer.py idle HOST ECHO PORT N      N idle connections held open while
                                         one exchange on PORT completes
  fwd_peer.py vanish HOST PORT           send half of a large upload, then RST
  fwd_peer.py stall HOST STALL PORT      fill a connection nobody reads; while it
                                         is full one exchange on PORT completes;
                                         then RST
  fwd_peer.py fdlimit HOST ECHO PORT N   N idle connections (some may be reset
                                         at the manager's fd limit), a round
                                         trip on the last, all closed; then
                                         one exchange on PORT completes
  fwd_peer.py capwait HOST ECHO N       N echo connections, N past the
                                         forwarder's cap: the last is not
                                         served while all are open, and is
                                         once the first closes
  fwd_peer.py udpflood HOST PORT K       K UDP sockets, one after another,
                                         one datagram each (a source-port
                                         flood); prints how many echoed
  fwd_peer.py fairness HOST BULK ECHO N  an N-byte exchange each way on BULK
                                         while 100-byte echoes run on ECHO:
                                         each answers within 2 s; prints the
                                         latencies (numbers are for bench)
  fwd_peer.py latency HOST PORT DONE MS  one-byte exchanges, each on a new
                                         connection, 20 ms apart, until the
                                         file DONE exists and 50 were made
                                         (at most 60 s): each within MS
                                         ms; prints the median and the max

Inside a container, an outbound flood through libslirp:
  fwd_peer.py outflood udp|syn HOST PORT N DIR
                                         waits for DIR/go, then sends N UDP
                                         datagrams from N source ports (udp)
                                         or makes N non-blocking connects
                                         (syn), all held open; writes
                                         DIR/done, prints how the sockets
                                         ended (connected, ECONNREFUSED...),
                                         waits for DIR/stop (at most 120 s)
  fwd_peer.py pipehog                    as many 1 MiB pipes as the user's
                                         quota allows (at most 4096), held
                                         until stdin closes
"""
import hashlib
import os
import random
import resource
import socket
import struct
import socketserver
import sys
import threading

TIMEOUT = 20


def stream(m):
    return random.Random(m).randbytes(m)


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def read_all(s):
    chunks = []
    while True:
        b = s.recv(1 << 20)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        f = s.makefile("rb")
        n, m = map(int, f.readline().split())
        h = hashlib.sha256()
        got = 0
        while True:
            b = f.read1(1 << 20)
            if not b:
                break
            h.update(b)
            got += len(b)
        s.sendall(f"{h.hexdigest()} {got}\n".encode() + stream(m))
        s.close()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 512


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            b = self.request.recv(65536)
            if not b:
                return
            self.request.sendall(b)


class Stall(socketserver.BaseRequestHandler):
    def handle(self):
        threading.Event().wait(60)


def more_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def serve(tcp_port, udp_port, echo_port=None, stall_port=None):
    more_fds()
    # The echo server is a process of its own: a bulk exchange's hashing
    # holds this one's GIL, and the latency probe must measure the
    # forwarder, not that.
    if echo_port and os.fork() == 0:
        Server(("0.0.0.0", echo_port), Echo).serve_forever()
    srv = Server(("0.0.0.0", tcp_port), Handler)
    if stall_port:
        extra = Server(("0.0.0.0", stall_port), Stall)
        threading.Thread(target=extra.serve_forever, daemon=True).start()

    def udp():
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("0.0.0.0", udp_port))
        while True:
            data, peer = u.recvfrom(65535)
            u.sendto(b"echo:" + data, peer)

    threading.Thread(target=udp, daemon=True).start()
    print("fwd_peer serving", tcp_port, udp_port, flush=True)
    srv.serve_forever()


def exchange(host, port, n, m, chunk=0):
    payload = os.urandom(n)
    with socket.create_connection((host, port), timeout=TIMEOUT) as s:
        data = f"{n} {m}\n".encode() + payload
        if chunk:
            # Small segments: each one a pipe slot of its own.
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            view = memoryview(data)
            for i in range(0, len(data), chunk):
                s.sendall(view[i:i + chunk])
        else:
            s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        reply = read_all(s)
    line, _, body = reply.partition(b"\n")
    want = f"{hashlib.sha256(payload).hexdigest()} {n}".encode()
    if line != want:
        raise AssertionError(f"server got other bytes: {line[:80]!r}")
    if body != stream(m):
        raise AssertionError(f"reply differs: {len(body)} bytes, wanted {m}")


def run_all(one, k):
    """Runs one() in k threads at once; every failure is collected."""
    errors = []

    def guarded():
        try:
            one()
        except Exception as e:  # noqa: BLE001 - every failure counts
            errors.append(repr(e))

    threads = [threading.Thread(target=guarded) for _ in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise AssertionError(f"{len(errors)} of {k} failed: {errors[:3]}")


def concurrent(host, port, k):
    # Every connection is open before any finishes: the barrier holds them.
    barrier = threading.Barrier(k, timeout=TIMEOUT)

    def one():
        payload = os.urandom(65536)
        with socket.create_connection((host, port), timeout=TIMEOUT) as s:
            barrier.wait()
            s.sendall(b"65536 65536\n" + payload)
            s.shutdown(socket.SHUT_WR)
            reply = read_all(s)
        line, _, body = reply.partition(b"\n")
        if not line.startswith(hashlib.sha256(payload).hexdigest().encode()) \
                or body != stream(65536):
            raise AssertionError("bad reply")

    run_all(one, k)


def expect_reset(host, port):
    # The reset may come before connect() has returned: on loopback the
    # forwarder accepts and resets within the same round trip.
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT) as s:
            s.settimeout(5)
            b = s.recv(1)
    except ConnectionResetError:
        return
    raise AssertionError(f"no reset: recv gave {b!r}")


def expect_refused(host, port):
    try:
        socket.create_connection((host, port), timeout=TIMEOUT).close()
    except ConnectionRefusedError:
        return
    raise AssertionError("connected: not refused")


def recv_exact(s, n):
    """n bytes from s, or AssertionError if it closes first."""
    got = b""
    while len(got) < n:
        b = s.recv(n - len(got))
        if not b:
            raise AssertionError("closed early")
        got += b
    return got


def keepalive(host, port, k, r):
    def one():
        with socket.create_connection((host, port), timeout=TIMEOUT) as s:
            for i in range(r):
                msg = f"ping {i}\n".encode()
                s.sendall(msg)
                got = recv_exact(s, len(msg))
                if got != msg:
                    raise AssertionError(f"echo {got!r}")

    run_all(one, k)


def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def idle(host, echo_port, port, n):
    more_fds()
    held = []
    try:
        for _ in range(n):
            held.append(socket.create_connection((host, echo_port), timeout=TIMEOUT))
        exchange(host, port, 1000, 1000)
        # The held ones still work, too.
        held[0].sendall(b"x")
        if held[0].recv(1) != b"x":
            raise AssertionError("an idle connection lost its echo")
    finally:
        for s in held:
            s.close()


def vanish(host, port):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.sendall(b"100000000 0\n" + os.urandom(10_000_000))
    rst_close(s)


def stall(host, port, other):
    s = socket.create_connection((host, port), timeout=TIMEOUT)
    s.settimeout(1)
    chunk = b"x" * 65536
    try:
        while True:
            s.send(chunk)
    except socket.timeout:
        pass  # both sides' buffers and the forwarder's pipe are full
    exchange(host, other, 100000, 100000)  # the forwarder is not stuck
    rst_close(s)


def fdlimit(host, echo_port, port, n):
    held = []
    reset = 0
    try:
        for _ in range(n):
            # A client the manager had to reset (for want of an fd) may
            # see the reset already in connect(): fine, it is counted.
            try:
                held.append(socket.create_connection((host, echo_port),
                                                     timeout=5))
            except (ConnectionResetError, ConnectionAbortedError):
                reset += 1
        # The manager has seen them all once the last one answers (or was
        # reset for want of an fd, which is fine too).
        try:
            held[-1].sendall(b"x")
            held[-1].recv(1)
        except OSError:
            pass
    finally:
        for s in held:
            s.close()
    print(f"# fdlimit: {n} connections, {reset} reset in connect()")
    # The manager frees its fds as it sees the closes: a few tries.
    for attempt in range(50):
        try:
            exchange(host, port, 1000, 1000)
            return
        except (AssertionError, OSError):
            if attempt == 49:
                raise
            threading.Event().wait(0.1)


def capwait(host, port, n):
    more_fds()
    held = []
    try:
        for _ in range(n):
            held.append(socket.create_connection((host, port), timeout=TIMEOUT))
        # The last one within the cap answers: everyone has caught up.
        held[-2].sendall(b"f")
        if held[-2].recv(1) != b"f":
            raise AssertionError("a connection within the cap lost its echo")
        last = held[-1]
        last.sendall(b"w")
        last.settimeout(1)
        try:
            last.recv(1)
            raise AssertionError("a connection past the cap was served at once")
        except socket.timeout:
            pass  # it waits in the backlog
        held.pop(0).close()
        last.settimeout(10)
        if last.recv(1) != b"w":
            raise AssertionError("the waiting connection was not served")
    finally:
        for s in held:
            s.close()


def udpflood(host, port, k):
    echoed = 0
    for i in range(k):
        with socket.socket(family(host), socket.SOCK_DGRAM) as u:
            u.settimeout(0.2)
            u.sendto(b"flood %d" % i, (host, port))
            try:
                if u.recv(100).startswith(b"echo:"):
                    echoed += 1
            except socket.timeout:
                pass
    print(f"# udpflood: {echoed} of {k} echoed")


def fairness(host, bulk_port, echo_port, n):
    import subprocess
    import time
    with socket.create_connection((host, echo_port), timeout=2) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The bulk client is another process: its hashing must not hold
        # the probe's GIL.
        bulk = subprocess.Popen([sys.executable, __file__, "transfer", host,
                                 str(bulk_port), str(n), str(n)])
        lat = []
        msg = b"p" * 100
        while bulk.poll() is None:
            t0 = time.monotonic()
            s.sendall(msg)
            recv_exact(s, len(msg))
            lat.append(time.monotonic() - t0)
    if bulk.returncode != 0:
        raise AssertionError("the bulk transfer failed")
    if not lat:
        raise AssertionError("no echo during the bulk transfer")
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"# fairness: {len(lat)} echoes, p99 {p99 * 1000:.1f} ms, "
          f"max {lat[-1] * 1000:.1f} ms")


def latency(host, port, done, bound_ms):
    import time
    lat = []
    deadline = time.monotonic() + 60
    while not os.path.exists(done) or len(lat) < 50:
        if time.monotonic() > deadline:
            raise AssertionError(f"{done} did not appear within 60 s")
        t0 = time.monotonic()
        exchange(host, port, 1, 1)
        lat.append(time.monotonic() - t0)
        time.sleep(0.02)
    lat.sort()
    print(f"# latency: {len(lat)} requests, median {lat[len(lat) // 2] * 1000:.1f}"
          f" ms, max {lat[-1] * 1000:.1f} ms")
    if lat[-1] * 1000 > bound_ms:
        raise AssertionError(f"a request took {lat[-1] * 1000:.0f} ms "
                             f"(bound {bound_ms} ms)")


def wait_file(path, seconds):
    import time
    deadline = time.monotonic() + seconds
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)


def settle(held, kind):
    """How each flood socket ended: {errno name or "open": count}, once the
    answers stop changing for 2.5 s (at most 8 s): a SYN the tap queue
    dropped is sent again after 1 s and 3 s (tcp_syn_retries)."""
    import errno
    import select
    import time
    sock_of = {s.fileno(): s for s in held}
    p = select.poll()
    for s in held:
        p.register(s, select.POLLOUT if kind == "syn" else 0)
    done = {}
    deadline = time.monotonic() + 8
    quiet_since = time.monotonic()
    while time.monotonic() < deadline and len(done) < len(held):
        got = p.poll(100)
        fresh = [fd for fd, _ in got if fd not in done]
        for fd in fresh:
            e = sock_of[fd].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            done[fd] = errno.errorcode.get(e, "open") if e else "open"
            p.unregister(fd)
        if fresh:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 2.5:
            break
    counts = {}
    for v in done.values():
        counts[v] = counts.get(v, 0) + 1
    counts["no answer"] = len(held) - len(done)
    return counts


def outflood(kind, host, port, n, d):
    import time
    more_fds()
    print("# outflood: waiting", flush=True)
    wait_file(f"{d}/go", 120)
    t0 = time.monotonic()
    held = []
    for i in range(n):
        if kind == "udp":
            # Distinct source ports, one datagram each: libslirp keys its
            # UDP sockets on the guest's source address and port.  Connected,
            # so that an ICMP error shows as the socket's error.
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.setblocking(False)
            u.bind(("0.0.0.0", 20000 + i))
            u.connect((host, port))
            try:
                u.send(b"x")
            except OSError:
                pass
            held.append(u)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((host, port))
            held.append(s)
    sent = time.monotonic() - t0
    open(f"{d}/done", "w").close()
    counts = settle(held, kind)
    print(f"# outflood: {kind} {n} in {sent:.2f} s; " +
          ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
          flush=True)
    wait_file(f"{d}/stop", 120)
    print("# outflood: stopping", flush=True)


def pipehog():
    import fcntl
    held = []
    try:
        while len(held) < 4096:
            r, w = os.pipe()
            held += [r, w]
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass  # EPERM: the quota is spent (or EMFILE: as far as we go)
    print(f"# pipehog: {len(held) // 2} pipes", flush=True)
    sys.stdin.read()


def udp(host, port):
    with socket.socket(family(host), socket.SOCK_DGRAM) as u:
        u.settimeout(1)
        msg = os.urandom(16).hex().encode()
        for _ in range(5):  # UDP may drop the first while the flow opens
            u.sendto(msg, (host, port))
            try:
                data = u.recv(65535)
            except socket.timeout:
                continue
            if data == b"echo:" + msg:
                return
            raise AssertionError(f"unexpected reply {data!r}")
        raise AssertionError("no UDP reply")


def main(argv):
    cmd = argv[1]
    if cmd == "serve":
        serve(*map(int, argv[2:6]))
        return 0
    if cmd == "outflood":
        outflood(argv[2], argv[3], int(argv[4]), int(argv[5]), argv[6])
        return 0
    if cmd == "pipehog":
        more_fds()
        pipehog()
        return 0
    host, port = argv[2], int(argv[3])
    try:
        if cmd == "transfer":
            exchange(host, port, *map(int, argv[4:7]))
        elif cmd == "concurrent":
            concurrent(host, port, int(argv[4]))
        elif cmd == "many":
            for _ in range(int(argv[4])):
                exchange(host, port, 0, 0)
        elif cmd == "reset":
            expect_reset(host, port)
        elif cmd == "refused":
            expect_refused(host, port)
        elif cmd == "udp":
            udp(host, port)
        elif cmd == "keepalive":
            keepalive(host, port, int(argv[4]), int(argv[5]))
        elif cmd == "idle":
            idle(host, port, int(argv[4]), int(argv[5]))
        elif cmd == "vanish":
            vanish(host, port)
        elif cmd == "stall":
            stall(host, port, int(argv[4]))
        elif cmd == "fdlimit":
            fdlimit(host, port, int(argv[4]), int(argv[5]))
        elif cmd == "capwait":
            capwait(host, port, int(argv[4]))
        elif cmd == "udpflood":
            udpflood(host, port, int(argv[4]))
        elif cmd == "latency":
            latency(host, port, argv[4], int(argv[5]))
        elif cmd == "fairness":
            fairness(host, port, int(argv[4]), int(argv[5]))
        else:
            raise SystemExit(f"unknown command {cmd}")
    except (AssertionError, OSError) as e:
        print(f"fwd_peer {cmd}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
