# Pseudo-terminals and POSIX shared memory from python3: pty.openpty and
# termios settings, pty.fork (a child in its own session with the slave as
# its controlling terminal and stdio) talking line by line with the
# parent through the master, and multiprocessing.shared_memory (a
# /dev/shm file) shared with a forked child.
import errno
import os
import pty
import sys
import termios
import tty

def readn(fd, n):
    """Reads n bytes: Linux hands input to the line discipline
    asynchronously, so one read may not have them all yet."""
    out = b""
    while len(out) < n:
        out += os.read(fd, n - len(out))
    return out


m, s = pty.openpty()
print("openpty slave under /dev/pts:", os.ttyname(s).startswith("/dev/pts/"))
attrs = termios.tcgetattr(s)
print("canonical:", bool(attrs[3] & termios.ICANON), "echo:", bool(attrs[3] & termios.ECHO))
os.write(m, b"line\n")
print("slave read:", os.read(s, 100))
print("echo:", readn(m, 6))
tty.setraw(s)
os.write(m, b"\x03x")
print("raw read:", readn(s, 2))
os.close(s)
os.close(m)

pid, fd = pty.fork()
if pid == 0:
    print("child: tty", os.isatty(0), "session leader", os.getsid(0) == os.getpid(),
          "foreground", os.tcgetpgrp(0) == os.getpid(), "ctty", os.ttyname(0) == os.ttyname(1))
    print("ready", flush=True)
    line = sys.stdin.readline()
    print("got:", line.strip(), flush=True)
    os._exit(0)


def read_until(fd, marker):
    out = b""
    while marker not in out:
        try:
            chunk = os.read(fd, 1024)
        except OSError as e:
            if e.errno == errno.EIO:
                break
            raise
        if not chunk:
            break
        out += chunk
    return out


print("from child:", read_until(fd, b"ready\r\n"))
os.write(fd, b"hello\n")
print("after input:", read_until(fd, b"\x00never"))
_, status = os.waitpid(pid, 0)
print("child status:", os.waitstatus_to_exitcode(status))
os.close(fd)

from multiprocessing import shared_memory

shm = shared_memory.SharedMemory(create=True, size=64)
print("shared memory in /dev/shm:", os.path.exists("/dev/shm/" + shm.name))
shm.buf[:5] = b"hello"
pid = os.fork()
if pid == 0:
    other = shared_memory.SharedMemory(name=shm.name)
    other.buf[5:11] = b" world"
    other.close()
    os._exit(0)
os.waitpid(pid, 0)
print("after child:", bytes(shm.buf[:11]))
shm.close()
shm.unlink()
print("unlinked:", not os.path.exists("/dev/shm/" + shm.name))
