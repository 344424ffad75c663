#!/usr/bin/env python3
"""A console-socket receiver, as containerd's shim and conmon are: listen on
PATH, accept one connection, take exactly one message whose ancillary data is
one SCM_RIGHTS fd (the pty master), then copy the pty's output to OUT until
EOF/EIO.  Writes 'READY' to OUT.ready once listening and a summary line
('fds=N data=...') to OUT.meta.  Optional INPUT text is written to the pty.

usage: recvtty.py PATH OUT [INPUT]"""
import array, os, socket, sys

path, out = sys.argv[1], sys.argv[2]
data_in = sys.argv[3].encode() if len(sys.argv) > 3 else b""
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
open(out + ".ready", "w").write("READY\n")
s.settimeout(30)
conn, _ = s.accept()
msg, anc, flags, _ = conn.recvmsg(4096, socket.CMSG_SPACE(8 * 4))
fds = []
for level, typ, d in anc:
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        a = array.array("i")
        a.frombytes(d[: len(d) - (len(d) % a.itemsize)])
        fds.extend(a)
rest = conn.recv(16)  # the runtime must have closed its end: EOF
with open(out + ".meta", "w") as m:
    m.write("fds=%d data=%r eof=%s flags=%d\n" % (len(fds), msg, rest == b"", flags))
conn.close()
if len(fds) != 1:
    sys.exit(1)
master = fds[0]
if data_in:
    os.write(master, data_in)
with open(out, "wb") as f:
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        f.write(chunk)
        f.flush()
