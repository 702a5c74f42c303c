#!/usr/bin/env python3
"""tests/pty_drive.py - run a command on a pseudo-terminal of 33 rows and
101 columns, as a person at a terminal would: optionally type bytes once
the output shows a marker, print what the terminal showed, then whether
the terminal's mode is what it was before, and the command's status.

usage: pty_drive.py [--send-after MARKER BYTES] [--resize-after MARKER]
                    [--timeout S] [--out FILE] -- CMD ARG...
--out FILE also writes the terminal's bytes to FILE, raw (no decoding).
--resize-after makes the terminal 40 rows by 120 columns once MARKER shows.
BYTES is a Python bytes literal body, e.g. '\\x03' for Ctrl-C."""
import codecs, fcntl, os, select, struct, sys, termios, time

args = sys.argv[1:]
send = None
resize = None
timeout = 20.0
raw_out = None
while args and args[0] != "--":
    if args[0] == "--send-after":
        send = (args[1].encode(), codecs.escape_decode(args[2])[0])
        args = args[3:]
    elif args[0] == "--resize-after":
        resize = args[1].encode()
        args = args[2:]
    elif args[0] == "--out":
        raw_out = args[1]
        args = args[2:]
    elif args[0] == "--timeout":
        timeout = float(args[1])
        args = args[2:]
    else:
        sys.exit("bad argument " + args[0])
cmd = args[1:]

m, s = os.openpty()
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
before = termios.tcgetattr(s)
size = struct.pack("HHHH", 33, 101, 0, 0)
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(s, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(s, fd)
    os.close(m)
    os.execvp(cmd[0], cmd)
out = b""
deadline = time.monotonic() + timeout
status = None
while time.monotonic() < deadline:
    r, _, _ = select.select([m], [], [], 0.1)
    if r:
        try:
            chunk = os.read(m, 65536)
        except OSError:
            chunk = b""
        out += chunk
        if send and send[0] in out:
            os.write(m, send[1])
            send = None
        if resize and resize in out:
            size = struct.pack("HHHH", 40, 120, 0, 0)
            fcntl.ioctl(m, termios.TIOCSWINSZ, size)
            resize = None
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        # What is still buffered on the master.
        while select.select([m], [], [], 0.2)[0]:
            try:
                chunk = os.read(m, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        break
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    print("TIMEOUT")
if raw_out:
    with open(raw_out, "wb") as f:
        f.write(out)
sys.stdout.write(out.decode("utf-8", "replace").replace("\r", ""))
# The mode, the size as this driver last set it, and no exclusive mode
# (TIOCGEXCL, 0x80045440: TIOCEXCL would refuse every later open).
excl = struct.unpack("i", fcntl.ioctl(s, 0x80045440, b"\0" * 4))[0]
same = (termios.tcgetattr(s) == before and not excl and
        fcntl.ioctl(s, termios.TIOCGWINSZ, b"\0" * 8) == size)
print("MODE-RESTORED" if same else "MODE-CHANGED")
print("STATUS=%s" % (os.waitstatus_to_exitcode(status) if status is not None else "none"))
