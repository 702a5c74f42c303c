#!/usr/bin/env python3
"""no_userns_seccomp.py CMD [ARG...] - exec CMD under a seccomp filter that
refuses new user namespaces the way a container runtime's default profile
does (Docker's: clone/unshare with CLONE_NEWUSER get EPERM, clone3 ENOSYS so
that libc falls back to clone).  No sysctl then explains the EPERM."""
import ctypes
import os
import platform
import struct
import sys

CLONE_NEWUSER = 0x10000000
NRS = {  # machine: (audit arch, clone, unshare, clone3)
    "x86_64": (0xC000003E, 56, 272, 435),
    "aarch64": (0xC00000B7, 220, 97, 435),
}
arch, nr_clone, nr_unshare, nr_clone3 = NRS[platform.machine()]
LD_W_ABS, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
ALLOW, ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38


def ins(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


prog = [
    ins(LD_W_ABS, 0, 0, 4),            # 0 seccomp_data.arch
    ins(JEQ, 1, 0, arch),              # 1
    ins(RET, 0, 0, ALLOW),             # 2 another ABI: not our business
    ins(LD_W_ABS, 0, 0, 0),            # 3 seccomp_data.nr
    ins(JEQ, 0, 1, nr_clone3),         # 4
    ins(RET, 0, 0, ERRNO | ENOSYS),    # 5
    ins(JEQ, 2, 0, nr_clone),          # 6
    ins(JEQ, 1, 0, nr_unshare),        # 7
    ins(RET, 0, 0, ALLOW),             # 8
    ins(LD_W_ABS, 0, 0, 16),           # 9 args[0], low 32 bits (LE)
    ins(JSET, 0, 1, CLONE_NEWUSER),    # 10
    ins(RET, 0, 0, ERRNO | EPERM),     # 11
    ins(RET, 0, 0, ALLOW),             # 12
]
buf = ctypes.create_string_buffer(b"".join(prog))


class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


fprog = Fprog(len(prog), ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
        libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                   ctypes.byref(fprog), 0, 0) != 0:
    sys.exit("no_userns_seccomp: prctl: " + os.strerror(ctypes.get_errno()))
os.execvp(sys.argv[1], sys.argv[1:])
