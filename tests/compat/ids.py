#!/usr/bin/env python3
"""tests/compat/ids.py - what a change of identity or owner answers, one
"CALL<TAB>RESULT" row per call: ok, or the errno's name.  Run as the same
non-root user on the host and in a container (tests/compat/lib.sh), where
the user namespace maps only the user's own uid and gid: a call to any
other id must fail as on the host (EPERM), not with the kernel's EINVAL
for an unmapped id."""
import errno
import os
import tempfile

uid, gid = os.getuid(), os.getgid()


def row(name, f, *args):
    try:
        f(*args)
        result = "ok"
    except OSError as e:
        result = errno.errorcode.get(e.errno, str(e.errno))
    print(f"{name}\t{result}\t")


fd, path = tempfile.mkstemp()
row("ids: setuid(own)", os.setuid, uid)
row("ids: setuid(other)", os.setuid, uid + 1)
row("ids: setuid(0)", os.setuid, 0)
row("ids: setuid(-1)", os.setuid, -1)
row("ids: setgid(other)", os.setgid, gid + 1)
row("ids: setreuid(-1, other)", os.setreuid, -1, uid + 1)
row("ids: setregid(own, other)", os.setregid, gid, gid + 1)
row("ids: setresuid(-1, -1, -1)", os.setresuid, -1, -1, -1)
row("ids: setresuid(own, own, other)", os.setresuid, uid, uid, uid + 1)
row("ids: setresgid(own, own, other)", os.setresgid, gid, gid, gid + 1)
row("ids: setgroups([])", os.setgroups, [])
row("ids: chown(own, own)", os.chown, path, uid, gid)
row("ids: chown(-1, other)", os.chown, path, -1, gid + 1)
row("ids: chown(other, -1)", os.chown, path, uid + 1, -1)
row("ids: lchown(other, own)", os.lchown, path, uid + 1, gid)
row("ids: fchown(own, -1)", os.fchown, fd, uid, -1)
row("ids: fchown(-1, other)", os.fchown, fd, -1, gid + 1)
dir_fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
row("ids: fchownat(other, -1)", lambda: os.chown(os.path.basename(path), uid + 1,
                                                -1, dir_fd=dir_fd))
os.unlink(path)
