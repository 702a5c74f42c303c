"""tests/plant_peer.py - a planted control socket (issue 22): listens where
a manager's NAME.sock would be, takes whatever a client hands it and uses
it as an attacker would.  argv: socket path, report file.

It answers an exec the way a manager and its helper would (OK, then an
exit status), so an unprotected client goes all the way: the stdout and
stderr it passed get "PWNED", and the report counts every fd received."""
import array
import os
import socket
import struct
import sys

HEAD = struct.Struct("IIiI64s")  # UvaCtlHead (src/ipc/ctl.h)
OK, EXEC_EXIT = 4, 9


def take(conn):
    fds = array.array("i")
    msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16 * fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return msg, list(fds)


path, report = sys.argv[1], sys.argv[2]
try:
    os.unlink(path)
except OSError:
    pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
srv.bind(path)
srv.listen(8)
with open(report, "a", buffering=1) as rep:
    rep.write("LISTENING\n")
    while True:
        conn, _ = srv.accept()
        conn.settimeout(10)
        try:
            msg, fds = take(conn)
        except OSError:
            continue
        if not msg and not fds:  # closed unsent: what a careful client does
            conn.close()
            continue
        rep.write("GOT %d bytes %d fds\n" % (len(msg), len(fds)))
        if not fds:
            try:
                conn.send(HEAD.pack(OK, 0, 0, 0, b""))
            except OSError:
                pass
            conn.close()
            continue
        inner = socket.socket(fileno=fds[0])
        inner.settimeout(10)
        try:
            req, stdio = take(inner)
        except OSError:
            stdio = []
        rep.write("GOT %d stdio fds\n" % len(stdio))
        for fd in stdio[-2:]:  # stdout, stderr
            try:
                os.write(fd, b"PWNED\n")
            except OSError:
                pass
        try:
            conn.send(HEAD.pack(OK, 0, 0, 0, b""))
            inner.send(HEAD.pack(EXEC_EXIT, 0, 0, 0, b""))
        except OSError:
            pass
        # Let go of the caller's pipes: a $(...) waits for every writer.
        for fd in stdio + fds[1:]:
            os.close(fd)
        inner.close()
        conn.close()
