# files.py: run as `python3 -c "$(cat files.py)" DIR`. DIR holds the seed
# layout of programs_test.go. Works in DIR/py (new) and on the seed files,
# and prints only deterministic facts: no times, pids, inode numbers or
# absolute paths. The test compares the output of a native and a sandboxed
# run.
import errno
import fcntl
import glob
import hashlib
import json
import mmap
import os
import shutil
import stat
import subprocess
import sys
import tempfile

os.umask(0o022)
top = sys.argv[1]
work = os.path.join(top, "py")
os.mkdir(work)
os.chdir(work)
print("cwd:", os.path.relpath(os.getcwd(), top))
u = os.uname()
print("uname:", u.sysname, "nodename=" + u.nodename, u.machine)

# Write and read text and bytes.
with open("a.txt", "w") as f:
    for i in range(100):
        f.write("line %d\n" % i)
data = bytes(range(256)) * 64
with open("b.bin", "wb") as f:
    f.write(data)
with open("a.txt") as f:
    lines = f.read().splitlines()
print("a.txt:", len(lines), "lines, last", repr(lines[-1]))
with open("b.bin", "rb") as f:
    print("b.bin sha256:", hashlib.sha256(f.read()).hexdigest())

# Append, seek, tell, truncate.
with open("a.txt", "a+") as f:
    f.write("appended\n")
    f.seek(0)
    print("first line:", f.readline().strip(), "tell", f.tell())
    f.seek(0, os.SEEK_END)
    print("size by seek:", f.tell())
os.truncate("a.txt", 20)
print("after truncate:", repr(open("a.txt").read()))

# A bigger file, written in pieces, read back whole.
h = hashlib.sha256()
with open("big.bin", "wb") as f:
    for i in range(80):
        chunk = (b"%05d" % i) * 13107
        h.update(chunk)
        f.write(chunk)
with open("big.bin", "rb") as f:
    print("big.bin:", os.path.getsize("big.bin"), "bytes, sha256 matches:",
          hashlib.sha256(f.read()).hexdigest() == h.hexdigest())

# Rename and replace.
os.rename("a.txt", "c.txt")
os.replace("b.bin", "c.txt")
print("after rename+replace:", sorted(os.listdir(".")))
print("c.txt is the bytes now:", open("c.txt", "rb").read() == data)

# Directories: makedirs, listdir, walk, scandir.
os.makedirs("x/y/z")
for i in range(25):
    with open("x/y/z/f%02d" % i, "w") as f:
        f.write(str(i) * i)
os.mkdir("x/y/empty")
print("listdir x/y/z:", len(os.listdir("x/y/z")), "entries,", sorted(os.listdir("x/y/z"))[:3], "...")
for root, dirs, files in os.walk("x"):
    dirs.sort()
    print("walk:", root, dirs, len(files), "files")
os.symlink("c.txt", "link")
os.link("c.txt", "hard")
for e in sorted(os.scandir("."), key=lambda e: e.name):
    print("scandir: %-8s dir=%s file=%s symlink=%s" % (e.name, e.is_dir(), e.is_file(follow_symlinks=False),
                                                       e.is_symlink()))
print("glob:", sorted(glob.glob("x/**/f1*", recursive=True))[:4])

# stat, chmod, utime, links.
st = os.stat("c.txt")
print("stat c.txt: size", st.st_size, "mode", oct(stat.S_IMODE(st.st_mode)), "regular", stat.S_ISREG(st.st_mode),
      "nlink", st.st_nlink)
os.chmod("c.txt", 0o600)
os.utime("c.txt", ns=(1000000000123456789, 1500000000987654321))
st = os.stat("c.txt")
print("after chmod+utime:", oct(stat.S_IMODE(st.st_mode)), st.st_atime_ns, st.st_mtime_ns)
print("hard link same inode:", os.stat("hard").st_ino == st.st_ino)
lst = os.lstat("link")
print("link: islink", os.path.islink("link"), "target", os.readlink("link"), "lstat size", lst.st_size,
      "realpath", os.path.relpath(os.path.realpath("link"), top))
print("statvfs namemax:", os.statvfs(".").f_namemax)

# JSON round trip and a temporary file.
with open("j.json", "w") as f:
    json.dump({"list": list(range(5)), "nested": {"k": "v"}}, f, sort_keys=True)
print("json:", json.load(open("j.json")))
with tempfile.NamedTemporaryFile(dir=".", prefix="tmp-") as t:
    t.write(b"temporary")
    t.flush()
    print("tempfile size:", os.path.getsize(t.name), "exists:", os.path.exists(t.name))
print("tempfile removed:", not any(n.startswith("tmp-") for n in os.listdir(".")))

# mmap: write through a shared map, read back with read().
with open("m.bin", "wb") as f:
    f.write(b"\0" * 8192)
with open("m.bin", "r+b") as f:
    m = mmap.mmap(f.fileno(), 8192)
    m[100:112] = b"mapped write"
    m.flush()
    m.close()
with open("m.bin", "rb") as f:
    f.seek(100)
    print("mmap write reached the file:", f.read(12))

# Locks.
with open("lockfile", "w") as f:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0)
    print("flock and lockf: taken")

# Errors.
for what, fn in [("open missing", lambda: open("missing")),
                 ("mkdir existing", lambda: os.mkdir("x")),
                 ("rmdir non-empty", lambda: os.rmdir("x")),
                 ("listdir file", lambda: os.listdir("c.txt")),
                 ("unlink dir", lambda: os.unlink("x")),
                 ("open dir for writing", lambda: open("x", "w"))]:
    try:
        fn()
        print(what + ": no error")
    except OSError as e:
        print(what + ":", errno.errorcode[e.errno])

# A child process lists a directory.
out = subprocess.run(["ls", "-1", "x/y/z"], capture_output=True, text=True, check=True).stdout.split()
print("subprocess ls:", len(out), "names, first", out[0], "last", out[-1])

# copytree and rmtree.
shutil.copytree("x", "x2", symlinks=True)
print("copytree:", sum(len(f) for _, _, f in os.walk("x2")), "files")
shutil.rmtree("x")
print("rmtree: x exists", os.path.exists("x"))

# The seed files from the host: change, delete, rename, replace a directory.
os.chdir(top)
with open("hello.txt", "a") as f:
    f.write("appended by python\n")
print("hello.txt:", repr(open("hello.txt").read()))
os.unlink("delete-me.txt")
os.rename("rename-me.txt", "renamed-by-python.txt")
shutil.rmtree("dir")
os.mkdir("dir")
with open("dir/new.txt", "w") as f:
    f.write("new\n")
print("dir after rmtree and mkdir:", sorted(os.listdir("dir")))
print("top:", sorted(os.listdir(".")))
print("files.py: done")
