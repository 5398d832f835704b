# unixsock.py: AF_UNIX sockets from python3: a socketpair, a stream
# server and a client in a forked process (path name in a temporary
# directory), an fd passed with socket.send_fds, a datagram exchange on an
# abstract name, and the errors a client meets. Prints only facts that do
# not depend on pids, paths or timing.
import os
import socket
import sys
import tempfile

a, b = socket.socketpair()
a.sendall(b"hello over a socketpair")
print("socketpair:", b.recv(100).decode(), a.family.name, a.type.name)
a.close()
print("after close:", b.recv(10))
b.close()

d = tempfile.mkdtemp(prefix="exo-unixsock-")
path = os.path.join(d, "server.sock")
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(4)
print("socket file:", os.path.exists(path), oct(os.stat(path).st_mode & 0o170000))

r, w = os.pipe()
# The child reports through this pipe, so the output's order does not
# depend on scheduling.
rep_r, rep_w = os.pipe()
sys.stdout.flush()
pid = os.fork()
if pid == 0:
    os.close(rep_r)
    report = []
    srv.close()
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    f = c.makefile("rw")
    for word in ["alpha", "beta", "gamma"]:
        f.write(word + "\n")
        f.flush()
        report.append("child got: " + f.readline().strip())
    # Pass the pipe's write end to the server, which writes through it.
    socket.send_fds(c, [b"fd"], [w])
    c.shutdown(socket.SHUT_WR)
    report.append("child eof: " + repr(c.recv(10)))
    f.close()
    c.close()
    os.write(rep_w, ("\n".join(report) + "\n").encode())
    os._exit(0)
os.close(w)
os.close(rep_w)
conn, addr = srv.accept()
print("accepted from:", repr(addr))
f = conn.makefile("rw")
for _ in range(3):
    line = f.readline()
    f.write(line.upper())
    f.flush()
msg, fds, flags, _ = socket.recv_fds(conn, 10, 4)
print("received:", msg, len(fds), "fd(s)")
os.write(fds[0], b"written by the server through a passed fd\n")
os.close(fds[0])
print("server eof:", repr(conn.recv(10)))
f.close()
conn.close()
_, status = os.waitpid(pid, 0)
print("child status:", os.waitstatus_to_exitcode(status))
sys.stdout.write(os.read(rep_r, 4096).decode())
os.close(rep_r)
print("pipe:", os.read(r, 100).decode().strip())
os.close(r)
srv.close()

# Datagrams on an abstract name.
name = "\0exo-unixsock-%d" % os.getpid()
ds = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ds.bind(name)
dc = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dc.bind("")
for m in [b"one", b"two", b"three"]:
    dc.sendto(m, name)
for _ in range(3):
    data, frm = ds.recvfrom(100)
    print("dgram:", data, "from an autobound name:", isinstance(frm, bytes) and frm[:1] == b"\0" and len(frm) == 6)
ds.close()
try:
    dc.sendto(b"x", name)
except OSError as e:
    print("send to a closed name:", type(e).__name__)
dc.close()

c = socket.socket(socket.AF_UNIX)
for target in [path, os.path.join(d, "missing")]:
    try:
        c.connect(target)
    except OSError as e:
        print("connect:", type(e).__name__, e.errno)
c.close()
os.unlink(path)
os.rmdir(d)
