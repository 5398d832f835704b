package tmpfs

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

func TestReadWriteSeek(t *testing.T) {
	fs := newFS(t, Options{})
	f := mustCreate(t, fs.Root(), "f")
	w := mustOpen(t, f, unix.O_RDWR)
	if n, err := w.Write([]byte("hello, world")); n != 12 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	if off, err := w.Seek(0, unix.SEEK_CUR); off != 12 || err != nil {
		t.Fatalf("offset after write = %d, %v", off, err)
	}
	if off, err := w.Seek(7, unix.SEEK_SET); off != 7 || err != nil {
		t.Fatalf("seek = %d, %v", off, err)
	}
	buf := make([]byte, 100)
	if n, err := w.Read(buf); n != 5 || err != nil || string(buf[:n]) != "world" {
		t.Fatalf("read = %q, %v", buf[:n], err)
	}
	if n, err := w.Read(buf); n != 0 || err != nil {
		t.Fatalf("read at EOF = %d, %v", n, err)
	}
	if n, err := w.Pwrite([]byte("W"), 7); n != 1 || err != nil {
		t.Fatalf("pwrite = %d, %v", n, err)
	}
	if n, err := w.Pread(buf[:5], 7); n != 5 || err != nil || string(buf[:5]) != "World" {
		t.Fatalf("pread = %q, %v", buf[:n], err)
	}
	if off, err := w.Seek(-2, unix.SEEK_END); off != 10 || err != nil {
		t.Fatalf("SEEK_END = %d, %v", off, err)
	}
	_, err := w.Seek(-20, unix.SEEK_END)
	wantErr(t, "seek before start", err, unix.EINVAL)
	_, err = w.Pread(buf, -1)
	wantErr(t, "pread at -1", err, unix.EINVAL)

	st := stat(t, f)
	if st.Size != 12 || st.Blocks != 8 || st.Nlink != 1 || st.Mode != unix.S_IFREG|0o644 || st.Blksize != 4096 {
		t.Fatalf("stat = size %d blocks %d nlink %d mode %o", st.Size, st.Blocks, st.Nlink, st.Mode)
	}

	// Access modes are enforced by the file.
	r := mustOpen(t, f, unix.O_RDONLY)
	_, err = r.Write([]byte("x"))
	wantErr(t, "write to O_RDONLY", err, unix.EBADF)
	wo := mustOpen(t, f, unix.O_WRONLY)
	_, err = wo.Read(buf)
	wantErr(t, "read from O_WRONLY", err, unix.EBADF)
	_, err = r.Getdents(buf)
	wantErr(t, "getdents on a file", err, unix.ENOTDIR)
	_, err = f.Open(unix.O_RDONLY | unix.O_DIRECTORY)
	wantErr(t, "O_DIRECTORY on a file", err, unix.ENOTDIR)
}

func TestAppend(t *testing.T) {
	fs := newFS(t, Options{})
	f := mustCreate(t, fs.Root(), "log")
	a := mustOpen(t, f, unix.O_WRONLY|unix.O_APPEND)
	b := mustOpen(t, f, unix.O_WRONLY|unix.O_APPEND)
	a.Write([]byte("one "))
	b.Write([]byte("two "))
	// Linux's pwrite on an O_APPEND file appends too.
	a.Pwrite([]byte("three"), 0)
	r := mustOpen(t, f, unix.O_RDONLY)
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	if string(buf[:n]) != "one two three" {
		t.Fatalf("content = %q", buf[:n])
	}
	if off, _ := b.Seek(0, unix.SEEK_CUR); off != 8 {
		t.Fatalf("offset of second appender = %d, want 8", off)
	}
}

func TestSparseAndSeekDataHole(t *testing.T) {
	fs := newFS(t, Options{})
	f := mustCreate(t, fs.Root(), "sparse")
	w := mustOpen(t, f, unix.O_RDWR)
	const off = 1 << 20
	w.Pwrite([]byte("data"), off)
	st := stat(t, f)
	if st.Size != off+4 || st.Blocks != 8 {
		t.Fatalf("size %d blocks %d, want %d and 8 (one page)", st.Size, st.Blocks, off+4)
	}
	if fs.UsedBytes() != 4096 {
		t.Fatalf("used = %d, want one page", fs.UsedBytes())
	}
	buf := bytes.Repeat([]byte{0xff}, 8192)
	if n, _ := w.Pread(buf, off-4096); n != 4100 || !bytes.Equal(buf[:4096], make([]byte, 4096)) || string(buf[4096:4100]) != "data" {
		t.Fatalf("hole did not read as zeroes")
	}
	for _, c := range []struct {
		whence  int
		off     int64
		want    int64
		wantErr error
	}{
		{unix.SEEK_DATA, 0, off, nil},
		{unix.SEEK_DATA, off + 2, off + 2, nil},
		{unix.SEEK_HOLE, 0, 0, nil},
		{unix.SEEK_HOLE, off, off + 4, nil}, // the end of the file is a hole
		{unix.SEEK_DATA, off + 4, 0, unix.ENXIO},
		{unix.SEEK_HOLE, off + 100, 0, unix.ENXIO},
	} {
		got, err := w.Seek(c.off, c.whence)
		if c.wantErr != nil {
			wantErr(t, fmt.Sprintf("seek(%d, %d)", c.off, c.whence), err, c.wantErr)
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("seek(%d, %d) = %d, %v; want %d", c.off, c.whence, got, err, c.want)
		}
	}
	// A file with data in two places and a hole between.
	w.Pwrite([]byte("x"), 0)
	if got, _ := w.Seek(0, unix.SEEK_HOLE); got != 4096 {
		t.Fatalf("SEEK_HOLE after the first page = %d", got)
	}
}

func TestTruncate(t *testing.T) {
	fs := newFS(t, Options{})
	f := mustCreate(t, fs.Root(), "t")
	w := mustOpen(t, f, unix.O_RDWR)
	w.Write(bytes.Repeat([]byte("a"), 3*4096+100))
	if fs.UsedBytes() != 4*4096 {
		t.Fatalf("used = %d", fs.UsedBytes())
	}
	before := stat(t, f)
	time.Sleep(2 * time.Millisecond)
	ok(t, "truncate", f.Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: 5000}))
	st := stat(t, f)
	if st.Size != 5000 || st.Blocks != 16 || fs.UsedBytes() != 2*4096 {
		t.Fatalf("after shrink: size %d blocks %d used %d", st.Size, st.Blocks, fs.UsedBytes())
	}
	if !tsAfter(st.Mtim, before.Mtim) || !tsAfter(st.Ctim, before.Ctim) {
		t.Fatalf("truncate did not update mtime and ctime")
	}
	// Growing again must show zeroes where the cut data was, in the kept
	// page too.
	ok(t, "extend", f.Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: 9000}))
	buf := make([]byte, 9000)
	n, _ := w.Pread(buf, 0)
	if n != 9000 || !bytes.Equal(buf[:5000], bytes.Repeat([]byte("a"), 5000)) || !bytes.Equal(buf[5000:], make([]byte, 4000)) {
		t.Fatalf("extended file does not read back zeroes past the cut")
	}
	// A write past the end leaves a zero gap too.
	ok(t, "shrink", f.Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: 10}))
	w.Pwrite([]byte("z"), 20)
	n, _ = w.Pread(buf[:21], 0)
	if !bytes.Equal(buf[10:20], make([]byte, 10)) || buf[20] != 'z' {
		t.Fatalf("gap after write past EOF = %q", buf[:n])
	}
	// O_TRUNC.
	mustOpen(t, f, unix.O_WRONLY|unix.O_TRUNC)
	if st := stat(t, f); st.Size != 0 || st.Blocks != 0 || fs.UsedBytes() != 0 {
		t.Fatalf("after O_TRUNC: size %d blocks %d used %d", st.Size, st.Blocks, fs.UsedBytes())
	}
	wantErr(t, "negative size", f.Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: -1}), unix.EINVAL)
	wantErr(t, "truncate a directory", fs.Root().Setattr(vfs.Attr{Mask: vfs.AttrSize}), unix.EISDIR)
}

func TestQuotaENOMEM(t *testing.T) {
	mem := newMem(t, 64<<10) // 16 frames
	fs := New(mem, Options{})
	f := mustCreate(t, fs.Root(), "big")
	w := mustOpen(t, f, unix.O_WRONLY)
	// Some of the quota is in use by the workload's memory.
	held, err := mem.Allocate(4)
	ok(t, "allocate", err)
	n, err := w.Write(make([]byte, 128<<10))
	if n != 12*4096 || err != nil {
		t.Fatalf("write past the quota = %d, %v; want a short write of 12 pages", n, err)
	}
	n, err = w.Write([]byte("more"))
	if n != 0 {
		t.Fatalf("write with the quota used up wrote %d", n)
	}
	wantErr(t, "write with the quota used up", err, unix.ENOMEM)
	if st := stat(t, f); st.Size != 12*4096 {
		t.Fatalf("size = %d", st.Size)
	}
	if s, _ := f.Statfs(); s.Bfree != 0 || s.Type != Magic {
		t.Fatalf("statfs: free %d type %x", s.Bfree, s.Type)
	}
	// Removing the file gives the quota back once it is closed.
	ok(t, "unlink", fs.Root().Unlink("big"))
	if mem.FreeBytes() != 0 {
		t.Fatalf("an open unlinked file lost its data")
	}
	w.Close()
	if mem.FreeBytes() != 12*4096 || fs.UsedBytes() != 0 {
		t.Fatalf("free = %d after the last close, want 12 pages", mem.FreeBytes())
	}
	mem.DecRef(held)
}

func TestSizeLimitENOSPC(t *testing.T) {
	fs := newFS(t, Options{Size: 8192})
	f := mustCreate(t, fs.Root(), "f")
	w := mustOpen(t, f, unix.O_WRONLY)
	n, err := w.Write(make([]byte, 10000))
	if n != 8192 || err != nil {
		t.Fatalf("write = %d, %v; want 8192", n, err)
	}
	_, err = w.Write([]byte("x"))
	wantErr(t, "write past size=", err, unix.ENOSPC)
	s, _ := f.Statfs()
	if s.Blocks != 2 || s.Bfree != 0 || s.Bavail != 0 || s.Bsize != 4096 || s.Namelen != 255 {
		t.Fatalf("statfs = %+v", s)
	}
	wantErr(t, "fallocate past size=", f.Fallocate(0, 8192, 4096), unix.ENOSPC)
}

func TestInodeLimit(t *testing.T) {
	fs := newFS(t, Options{Inodes: 3}) // the root and two more
	mustCreate(t, fs.Root(), "a")
	mustMkdir(t, fs.Root(), "b")
	_, err := fs.Root().Create("c", 0o644, root)
	wantErr(t, "create past nr_inodes", err, unix.ENOSPC)
	s, _ := fs.Root().Statfs()
	if s.Files != 3 || s.Ffree != 0 {
		t.Fatalf("statfs files %d free %d", s.Files, s.Ffree)
	}
	ok(t, "unlink", fs.Root().Unlink("a"))
	mustCreate(t, fs.Root(), "c")
	ok(t, "rmdir", fs.Root().Rmdir("b"))
	mustCreate(t, fs.Root(), "d")
}

func TestFallocate(t *testing.T) {
	fs := newFS(t, Options{})
	f := mustCreate(t, fs.Root(), "f")
	ok(t, "fallocate", f.Fallocate(0, 0, 3*4096))
	if st := stat(t, f); st.Size != 3*4096 || st.Blocks != 24 {
		t.Fatalf("size %d blocks %d", st.Size, st.Blocks)
	}
	ok(t, "keep size", f.Fallocate(unix.FALLOC_FL_KEEP_SIZE, 3*4096, 4096))
	if st := stat(t, f); st.Size != 3*4096 || st.Blocks != 32 {
		t.Fatalf("KEEP_SIZE: size %d blocks %d", st.Size, st.Blocks)
	}
	w := mustOpen(t, f, unix.O_RDWR)
	w.Pwrite(bytes.Repeat([]byte("x"), 3*4096), 0)
	ok(t, "punch", f.Fallocate(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 100, 2*4096))
	buf := make([]byte, 3*4096)
	w.Pread(buf, 0)
	for k, c := range buf {
		want := byte('x')
		if k >= 100 && k < 100+2*4096 {
			want = 0
		}
		if c != want {
			t.Fatalf("byte %d = %q after punch, want %q", k, c, want)
		}
	}
	if st := stat(t, f); st.Blocks != 24 { // page 1 went, page 3 is still preallocated
		t.Fatalf("blocks after punch = %d", st.Blocks)
	}
	wantErr(t, "punch without KEEP_SIZE", f.Fallocate(unix.FALLOC_FL_PUNCH_HOLE, 0, 1), unix.EOPNOTSUPP)
	wantErr(t, "zero range", f.Fallocate(unix.FALLOC_FL_ZERO_RANGE, 0, 1), unix.EOPNOTSUPP)
	ro := mustOpen(t, f, unix.O_RDONLY)
	wantErr(t, "fallocate on O_RDONLY", ro.(*regFile).Allocate(0, 0, 1), unix.EBADF)
}

func TestDirectories(t *testing.T) {
	fs := newFS(t, Options{Mode: 0o755, UID: 5, GID: 6})
	r := fs.Root()
	st := stat(t, r)
	if st.Mode != unix.S_IFDIR|0o755 || st.Uid != 5 || st.Gid != 6 || st.Nlink != 2 || st.Size != 40 {
		t.Fatalf("root stat = mode %o uid %d gid %d nlink %d size %d", st.Mode, st.Uid, st.Gid, st.Nlink, st.Size)
	}
	d := mustMkdir(t, r, "d")
	mustMkdir(t, d, "sub")
	mustCreate(t, d, "file")
	if st := stat(t, r); st.Nlink != 3 {
		t.Fatalf("root nlink = %d, want 3", st.Nlink)
	}
	if st := stat(t, d); st.Nlink != 3 || st.Size != 80 {
		t.Fatalf("d nlink %d size %d", st.Nlink, st.Size)
	}
	_, err := r.Mkdir("d", 0o755, root)
	wantErr(t, "mkdir existing", err, unix.EEXIST)
	_, err = r.Create("d", 0o644, root)
	wantErr(t, "create over a directory", err, unix.EEXIST)
	_, err = r.Lookup("nope")
	wantErr(t, "lookup missing", err, unix.ENOENT)
	f, _ := d.Lookup("file")
	_, err = f.Lookup("x")
	wantErr(t, "lookup in a file", err, unix.ENOTDIR)
	_, err = f.Create("x", 0o644, root)
	wantErr(t, "create in a file", err, unix.ENOTDIR)
	wantErr(t, "rmdir non-empty", r.Rmdir("d"), unix.ENOTEMPTY)
	wantErr(t, "rmdir a file", d.Rmdir("file"), unix.ENOTDIR)
	wantErr(t, "unlink a directory", d.Unlink("sub"), unix.EISDIR)
	wantErr(t, "unlink missing", d.Unlink("nope"), unix.ENOENT)
	_, err = d.Open(unix.O_RDWR)
	wantErr(t, "open a directory for writing", err, unix.EISDIR)
	_, err = r.Create(string(bytes.Repeat([]byte("n"), 256)), 0o644, root)
	wantErr(t, "long name", err, unix.ENAMETOOLONG)

	sub, _ := d.Lookup("sub")
	df := mustOpen(t, sub, unix.O_RDONLY)
	ok(t, "rmdir", d.Rmdir("sub"))
	if st := stat(t, sub); st.Nlink != 0 {
		t.Fatalf("removed dir nlink = %d", st.Nlink)
	}
	if st := stat(t, d); st.Nlink != 2 {
		t.Fatalf("parent nlink after rmdir = %d", st.Nlink)
	}
	_, err = sub.Create("x", 0o644, root)
	wantErr(t, "create in a removed directory", err, unix.ENOENT)
	_, err = df.Getdents(make([]byte, 4096))
	wantErr(t, "getdents of a removed directory", err, unix.ENOENT)
}

func TestSpecialFiles(t *testing.T) {
	fs := newFS(t, Options{})
	r := fs.Root()
	fifo, err := r.Mknod("fifo", unix.S_IFIFO|0o644, 0, root)
	ok(t, "mkfifo", err)
	dev, err := r.Mknod("null", unix.S_IFCHR|0o666, unix.Mkdev(1, 3), root)
	ok(t, "mknod chr", err)
	if st := stat(t, dev); st.Rdev != unix.Mkdev(1, 3) || st.Mode != unix.S_IFCHR|0o666 {
		t.Fatalf("char dev stat: rdev %x mode %o", st.Rdev, st.Mode)
	}
	if st := stat(t, fifo); st.Mode != unix.S_IFIFO|0o644 || st.Rdev != 0 {
		t.Fatalf("fifo stat: mode %o", st.Mode)
	}
	_, err = dev.Open(unix.O_RDWR)
	wantErr(t, "open a tmpfs char device", err, unix.ENXIO)
	_, err = r.Mknod("sock", unix.S_IFSOCK|0o755, 0, root)
	ok(t, "mknod sock", err)
	reg, err := r.Mknod("reg", 0o600, 0, root)
	ok(t, "mknod regular", err)
	if st := stat(t, reg); st.Mode != unix.S_IFREG|0o600 {
		t.Fatalf("mknod 0: mode %o", st.Mode)
	}
	_, err = r.Mknod("dir", unix.S_IFDIR|0o755, 0, root)
	wantErr(t, "mknod a directory", err, unix.EPERM)

	l, err := r.Symlink("link", "/some/where", root)
	ok(t, "symlink", err)
	if tgt, err := l.Readlink(); tgt != "/some/where" || err != nil {
		t.Fatalf("readlink = %q, %v", tgt, err)
	}
	if st := stat(t, l); st.Mode != unix.S_IFLNK|0o777 || st.Size != 11 {
		t.Fatalf("symlink stat: mode %o size %d", st.Mode, st.Size)
	}
	_, err = l.Open(unix.O_RDONLY)
	wantErr(t, "open a symlink", err, unix.ELOOP)
	p := mustOpen(t, l, unix.O_PATH|unix.O_NOFOLLOW)
	if st, err := p.Stat(); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Fatalf("fstat of O_PATH symlink: %v", err)
	}
	_, err = p.Read(make([]byte, 1))
	wantErr(t, "read O_PATH", err, unix.EBADF)
	_, err = reg.Readlink()
	wantErr(t, "readlink a file", err, unix.EINVAL)
	_, err = r.Symlink("empty", "", root)
	wantErr(t, "empty symlink", err, unix.ENOENT)
}

func TestLinks(t *testing.T) {
	fs := newFS(t, Options{})
	r := fs.Root()
	f := mustCreate(t, r, "a")
	d := mustMkdir(t, r, "d")
	ok(t, "link", d.Link("b", f))
	ok(t, "link", r.Link("c", f))
	if st := stat(t, f); st.Nlink != 3 {
		t.Fatalf("nlink = %d, want 3", st.Nlink)
	}
	b, _ := d.Lookup("b")
	if b != vfs.Inode(f) {
		t.Fatal("a link is not the same inode")
	}
	wantErr(t, "link exists", r.Link("c", f), unix.EEXIST)
	wantErr(t, "link a directory", r.Link("dd", d), unix.EPERM)
	other := newFS(t, Options{})
	wantErr(t, "link across file systems", other.Root().Link("x", f), unix.EXDEV)
	ok(t, "unlink", r.Unlink("a"))
	ok(t, "unlink", r.Unlink("c"))
	if st := stat(t, f); st.Nlink != 1 {
		t.Fatalf("nlink = %d, want 1", st.Nlink)
	}
	ok(t, "unlink", d.Unlink("b"))
	wantErr(t, "link an unlinked file", r.Link("again", f), unix.ENOENT)
}

func TestTmpfile(t *testing.T) {
	fs := newFS(t, Options{})
	r := fs.RootInode()
	tf, err := r.NewTmpfile(0o600, root)
	ok(t, "tmpfile", err)
	w := mustOpen(t, tf, unix.O_RDWR)
	w.Write([]byte("anonymous"))
	if st := stat(t, tf); st.Nlink != 0 {
		t.Fatalf("tmpfile nlink = %d", st.Nlink)
	}
	if len(r.Entries()) != 0 {
		t.Fatalf("tmpfile shows up in its directory")
	}
	ok(t, "link tmpfile", r.Link("named", tf))
	if st := stat(t, tf); st.Nlink != 1 {
		t.Fatalf("linked tmpfile nlink = %d", st.Nlink)
	}
	w.Close()
	n, _ := r.Lookup("named")
	buf := make([]byte, 20)
	k, _ := mustOpen(t, n, unix.O_RDONLY).Read(buf)
	if string(buf[:k]) != "anonymous" {
		t.Fatalf("content = %q", buf[:k])
	}
	// A tmpfile closed without a link is gone, its data given back.
	tf2, w2, err := r.Tmpfile(0o600, unix.O_RDWR, root)
	ok(t, "tmpfile", err)
	if st, _ := w2.Stat(); st.Nlink != 0 || st.Mode != unix.S_IFREG|0o600 {
		t.Fatalf("tmpfile: nlink %d mode %o", st.Nlink, st.Mode)
	}
	w2.Write(make([]byte, 4096))
	used := fs.UsedBytes()
	w2.Close()
	if fs.UsedBytes() != used-4096 {
		t.Fatalf("closed tmpfile kept its data")
	}
	wantErr(t, "link a closed tmpfile", r.Link("late", tf2), unix.ENOENT)
}

func TestRename(t *testing.T) {
	fs := newFS(t, Options{})
	r := fs.Root()
	a := mustMkdir(t, r, "a")
	b := mustMkdir(t, r, "b")
	f := mustCreate(t, a, "f")
	g := mustCreate(t, b, "g")

	ok(t, "rename across dirs", a.Rename("f", b, "f2", 0))
	if _, err := a.Lookup("f"); err == nil {
		t.Fatal("old name still there")
	}
	if n, _ := b.Lookup("f2"); n != vfs.Inode(f) {
		t.Fatal("new name is not the file")
	}
	// Replace a file.
	ok(t, "rename over a file", b.Rename("f2", b, "g", 0))
	if n, _ := b.Lookup("g"); n != vfs.Inode(f) {
		t.Fatal("replace did not happen")
	}
	if st := stat(t, g); st.Nlink != 0 {
		t.Fatalf("replaced file nlink = %d", st.Nlink)
	}
	// Renaming onto another link of the same file does nothing.
	ok(t, "link", b.Link("h", f))
	ok(t, "rename onto own link", b.Rename("g", b, "h", 0))
	if _, err := b.Lookup("g"); err != nil {
		t.Fatal("rename onto a link of the same file removed the source")
	}

	// Directories.
	d := mustMkdir(t, a, "d")
	mustMkdir(t, d, "inner")
	ok(t, "move dir", a.Rename("d", b, "d", 0))
	if st := stat(t, a); st.Nlink != 2 {
		t.Fatalf("old parent nlink = %d, want 2", st.Nlink)
	}
	if st := stat(t, b); st.Nlink != 3 {
		t.Fatalf("new parent nlink = %d, want 3", st.Nlink)
	}
	// ".." follows the move.
	ds := readAllDents(t, mustOpen(t, d, unix.O_RDONLY), 4096)
	if ds[1].name != ".." || ds[1].ino != b.Ino() {
		t.Fatalf(".. after move = %+v, want ino %d", ds[1], b.Ino())
	}
	empty := mustMkdir(t, r, "empty")
	ok(t, "rename dir over empty dir", b.Rename("d", r, "empty", 0))
	if st := stat(t, empty); st.Nlink != 0 {
		t.Fatalf("replaced dir nlink = %d", st.Nlink)
	}
	mustMkdir(t, r, "full")
	full, _ := r.Lookup("full")
	mustCreate(t, full, "x")
	wantErr(t, "rename over non-empty dir", r.Rename("empty", r, "full", 0), unix.ENOTEMPTY)
	wantErr(t, "dir over file", r.Rename("empty", b, "g", 0), unix.ENOTDIR)
	wantErr(t, "file over dir", b.Rename("g", r, "full", 0), unix.EISDIR)
	wantErr(t, "dir into itself", r.Rename("empty", d, "x", 0), unix.EINVAL)
	inner, _ := d.Lookup("inner")
	wantErr(t, "dir below itself", r.Rename("empty", inner, "x", 0), unix.EINVAL)
	wantErr(t, "dir over its ancestor", d.Rename("inner", r, "empty", 0), unix.ENOTEMPTY)
	wantErr(t, "missing source", r.Rename("nope", r, "x", 0), unix.ENOENT)
	wantErr(t, "noreplace", r.Rename("empty", r, "full", unix.RENAME_NOREPLACE), unix.EEXIST)
	wantErr(t, "bad flags", r.Rename("empty", r, "full", 4), unix.EINVAL)
	wantErr(t, "both flags", r.Rename("empty", r, "full", unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE), unix.EINVAL)
	ok(t, "noreplace to a free name", r.Rename("empty", r, "moved", unix.RENAME_NOREPLACE))

	// Exchange a directory and a file in different directories.
	moved, _ := r.Lookup("moved")
	ok(t, "exchange", r.Rename("moved", b, "g", unix.RENAME_EXCHANGE))
	if n, _ := b.Lookup("g"); n != moved {
		t.Fatal("exchange: directory not at the new name")
	}
	if n, _ := r.Lookup("moved"); n != vfs.Inode(f) {
		t.Fatal("exchange: file not at the old name")
	}
	if st := stat(t, b); st.Nlink != 3 {
		t.Fatalf("nlink after exchange = %d", st.Nlink)
	}
	wantErr(t, "exchange with missing", r.Rename("moved", r, "nope", unix.RENAME_EXCHANGE), unix.ENOENT)
	wantErr(t, "exchange dir with its own child", b.Rename("g", moved, "inner", unix.RENAME_EXCHANGE), unix.EINVAL)
	ok(t, "mkdir", func() error { _, err := moved.Mkdir("in", 0o755, root); return err }())
	in, _ := moved.Lookup("in")
	wantErr(t, "exchange with own child", b.Rename("g", in, "x", unix.RENAME_EXCHANGE), unix.ENOENT)
	mustCreate(t, in, "x")
	wantErr(t, "exchange with a descendant", b.Rename("g", in, "x", unix.RENAME_EXCHANGE), unix.EINVAL)
}

func TestGetdents(t *testing.T) {
	fs := newFS(t, Options{})
	r := fs.Root()
	d := mustMkdir(t, r, "d")
	mustCreate(t, d, "file")
	mustMkdir(t, d, "dir")
	d.Symlink("link", "x", root)
	d.Mknod("fifo", unix.S_IFIFO|0o600, 0, root)
	f := mustOpen(t, d, unix.O_RDONLY)
	ds := readAllDents(t, f, 4096)
	want := []string{".", "..", "file", "dir", "link", "fifo"}
	if !slices.Equal(names(ds), want) {
		t.Fatalf("entries = %v, want %v", names(ds), want)
	}
	types := []uint8{unix.DT_DIR, unix.DT_DIR, unix.DT_REG, unix.DT_DIR, unix.DT_LNK, unix.DT_FIFO}
	for k, e := range ds {
		if e.typ != types[k] {
			t.Errorf("%s: d_type %d, want %d", e.name, e.typ, types[k])
		}
		n, err := d.Lookup(e.name)
		if e.name == "." {
			n, err = d, nil
		} else if e.name == ".." {
			n, err = r, nil
		}
		ok(t, "lookup", err)
		if st := stat(t, n); st.Ino != e.ino {
			t.Errorf("%s: d_ino %d, st_ino %d", e.name, e.ino, st.Ino)
		}
	}
	// One record at a time, and resuming at a saved offset.
	f2 := mustOpen(t, d, unix.O_RDONLY)
	one := readAllDents(t, f2, 24+8)
	if !slices.Equal(names(one), want) {
		t.Fatalf("small-buffer entries = %v", names(one))
	}
	_, err := f2.Seek(int64(ds[2].off), unix.SEEK_SET)
	ok(t, "seekdir", err)
	rest := readAllDents(t, f2, 4096)
	if !slices.Equal(names(rest), want[3:]) {
		t.Fatalf("after seekdir: %v", names(rest))
	}
	f2.Seek(0, unix.SEEK_SET)
	_, err = f2.Getdents(make([]byte, 10))
	wantErr(t, "buffer too small", err, unix.EINVAL)
}

// TestGetdentsConcurrent lists a directory while others create and remove
// entries in it: entries that stay put throughout must each show up
// exactly once. (A name removed and made again is a new entry, which a
// listing may show twice, as on Linux.)
func TestGetdentsConcurrent(t *testing.T) {
	fs := newFS(t, Options{})
	d := mustMkdir(t, fs.Root(), "d")
	const stable = 200
	for k := range stable {
		mustCreate(t, d, fmt.Sprintf("stable%03d", k))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("churn%d-%d", w, k%50)
				if _, err := d.Create(name, 0o644, root); err != nil {
					d.Unlink(name)
				}
			}
		}()
	}
	for range 50 {
		f, _ := d.Open(unix.O_RDONLY)
		seen := map[string]bool{}
		offs := map[uint64]bool{}
		for _, e := range readAllDents(t, f, 200) {
			if seen[e.name] && e.name[0] == 's' {
				t.Fatalf("%s listed twice", e.name)
			}
			if offs[e.off] {
				t.Fatalf("d_off %d returned twice", e.off)
			}
			seen[e.name], offs[e.off] = true, true
		}
		f.Close()
		for k := range stable {
			if !seen[fmt.Sprintf("stable%03d", k)] {
				t.Fatalf("stable%03d missing from a listing", k)
			}
		}
	}
	close(stop)
	wg.Wait()
}

func TestTimes(t *testing.T) {
	fs := newFS(t, Options{})
	r := fs.Root()
	d := mustMkdir(t, r, "d")
	t0 := stat(t, d)
	time.Sleep(2 * time.Millisecond)
	f := mustCreate(t, d, "f")
	t1 := stat(t, d)
	if !tsAfter(t1.Mtim, t0.Mtim) || !tsAfter(t1.Ctim, t0.Ctim) {
		t.Fatal("create did not update the directory's mtime and ctime")
	}
	fst := stat(t, f)
	time.Sleep(2 * time.Millisecond)
	w := mustOpen(t, f, unix.O_RDWR)
	w.Write([]byte("x"))
	fst2 := stat(t, f)
	if !tsAfter(fst2.Mtim, fst.Mtim) || !tsAfter(fst2.Ctim, fst.Ctim) {
		t.Fatal("write did not update mtime and ctime")
	}
	// relatime: a read after a write updates atime...
	time.Sleep(2 * time.Millisecond)
	w.Pread(make([]byte, 1), 0)
	fst3 := stat(t, f)
	if !tsAfter(fst3.Atim, fst2.Atim) {
		t.Fatal("read after write did not update atime")
	}
	// ...but a second read does not.
	time.Sleep(2 * time.Millisecond)
	w.Pread(make([]byte, 1), 0)
	if fst4 := stat(t, f); fst4.Atim != fst3.Atim {
		t.Fatal("relatime: second read updated atime")
	}
	// O_NOATIME reads never do.
	ok(t, "setattr", f.Setattr(vfs.Attr{Mask: vfs.AttrMtime, Mtime: unix.NsecToTimespec(time.Now().Add(time.Hour).UnixNano())}))
	before := stat(t, f)
	mustOpen(t, f, unix.O_RDONLY|unix.O_NOATIME).Read(make([]byte, 1))
	if after := stat(t, f); after.Atim != before.Atim {
		t.Fatal("O_NOATIME read updated atime")
	}

	// Setattr changes ctime, and sets the times it is given.
	when := unix.Timespec{Sec: 1000, Nsec: 5}
	time.Sleep(2 * time.Millisecond)
	ok(t, "utimes", f.Setattr(vfs.Attr{Mask: vfs.AttrAtime | vfs.AttrMtime, Atime: when, Mtime: when}))
	st := stat(t, f)
	if st.Atim != when || st.Mtim != when || !tsAfter(st.Ctim, fst3.Ctim) {
		t.Fatalf("utimes: atime %v mtime %v ctime %v", st.Atim, st.Mtim, st.Ctim)
	}
	ok(t, "chmod", f.Setattr(vfs.Attr{Mask: vfs.AttrMode | vfs.AttrUID | vfs.AttrGID, Mode: 0o4711, UID: 7, GID: 8}))
	st = stat(t, f)
	if st.Mode != unix.S_IFREG|0o4711 || st.Uid != 7 || st.Gid != 8 || st.Mtim != when {
		t.Fatalf("chmod/chown: mode %o uid %d gid %d", st.Mode, st.Uid, st.Gid)
	}
	// Unlink and link change the file's ctime.
	c0 := stat(t, f).Ctim
	time.Sleep(2 * time.Millisecond)
	ok(t, "link", d.Link("g", f))
	if c1 := stat(t, f).Ctim; !tsAfter(c1, c0) {
		t.Fatal("link did not change ctime")
	}
}

func TestSetgidDirectory(t *testing.T) {
	fs := newFS(t, Options{})
	d, _ := fs.Root().Mkdir("shared", 0o2775, root)
	ok(t, "chown", d.Setattr(vfs.Attr{Mask: vfs.AttrGID, GID: 100}))
	user := vfs.Cred{UID: 1000, GID: 1000}
	sub, _ := d.Mkdir("sub", 0o755, user)
	if st := stat(t, sub); st.Gid != 100 || st.Mode&unix.S_ISGID == 0 {
		t.Fatalf("subdirectory: gid %d mode %o; want the group and the bit", st.Gid, st.Mode)
	}
	f, _ := d.Create("prog", 0o2755, user)
	if st := stat(t, f); st.Gid != 100 || st.Mode&unix.S_ISGID != 0 {
		t.Fatalf("file by a non-member: gid %d mode %o; want the group without the bit", st.Gid, st.Mode)
	}
	g, _ := d.Create("prog2", 0o2755, vfs.Cred{UID: 1000, GID: 1000, Groups: []uint32{100}})
	if st := stat(t, g); st.Mode&unix.S_ISGID == 0 {
		t.Fatalf("file by a member lost the set-group-ID bit")
	}
}

func TestXattrs(t *testing.T) {
	fs := newFS(t, Options{})
	f := mustCreate(t, fs.Root(), "f")
	for _, n := range []string{"user.a", "trusted.b", "security.c"} {
		ok(t, "setxattr "+n, f.Setxattr(n, []byte("v-"+n), 0))
	}
	if v, err := f.Getxattr("user.a"); err != nil || string(v) != "v-user.a" {
		t.Fatalf("getxattr = %q, %v", v, err)
	}
	if ns, _ := f.Listxattr(); !slices.Equal(ns, []string{"security.c", "trusted.b", "user.a"}) {
		t.Fatalf("listxattr = %v", ns)
	}
	wantErr(t, "system.*", f.Setxattr("system.posix_acl_access", []byte{2}, 0), unix.ENOTSUP)
	wantErr(t, "unknown namespace", f.Setxattr("foo.bar", nil, 0), unix.ENOTSUP)
	_, err := f.Getxattr("user.missing")
	wantErr(t, "missing", err, unix.ENODATA)
	wantErr(t, "XATTR_CREATE on existing", f.Setxattr("user.a", nil, unix.XATTR_CREATE), unix.EEXIST)
	wantErr(t, "XATTR_REPLACE on missing", f.Setxattr("user.z", nil, unix.XATTR_REPLACE), unix.ENODATA)
	ok(t, "replace", f.Setxattr("user.a", []byte("new"), unix.XATTR_REPLACE))
	wantErr(t, "too big", f.Setxattr("user.big", make([]byte, 65537), 0), unix.E2BIG)
	wantErr(t, "empty name", f.Setxattr("", nil, 0), unix.ERANGE)
	ok(t, "remove", f.Removexattr("user.a"))
	wantErr(t, "remove missing", f.Removexattr("user.a"), unix.ENODATA)
	l, _ := fs.Root().Symlink("l", "f", root)
	wantErr(t, "user.* on a symlink", l.Setxattr("user.x", nil, 0), unix.EPERM)
	ok(t, "trusted.* on a symlink", l.Setxattr("trusted.x", []byte("1"), 0))
	c0 := stat(t, f).Ctim
	time.Sleep(2 * time.Millisecond)
	f.Setxattr("user.t", nil, 0)
	if !tsAfter(stat(t, f).Ctim, c0) {
		t.Fatal("setxattr did not change ctime")
	}
}

func TestUniqueInodesAndDev(t *testing.T) {
	fs := newFS(t, Options{Dev: unix.Mkdev(0, 77)})
	seen := map[uint64]bool{stat(t, fs.Root()).Ino: true}
	for k := range 50 {
		n := mustCreate(t, fs.Root(), fmt.Sprint(k))
		st := stat(t, n)
		if seen[st.Ino] {
			t.Fatalf("inode number %d reused", st.Ino)
		}
		if st.Dev != unix.Mkdev(0, 77) {
			t.Fatalf("st_dev = %x", st.Dev)
		}
		seen[st.Ino] = true
	}
}

func TestConcurrentIO(t *testing.T) {
	fs := newFS(t, Options{})
	f := mustCreate(t, fs.Root(), "shared")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			file, _ := f.Open(unix.O_RDWR)
			defer file.Close()
			chunk := bytes.Repeat([]byte{byte('a' + w)}, 1000)
			buf := make([]byte, 1000)
			for k := range 100 {
				off := int64(w*100+k) * 1000
				file.Pwrite(chunk, off)
				file.Pread(buf, off)
				if !bytes.Equal(buf, chunk) {
					t.Errorf("writer %d read back other data", w)
					return
				}
				if k%10 == 0 {
					f.Stat()
					file.Seek(0, unix.SEEK_DATA)
				}
			}
		}()
	}
	wg.Wait()
	if st := stat(t, f); st.Size != 800*1000 {
		t.Fatalf("size = %d", st.Size)
	}
}

// TestConcurrentNamespace renames, links and removes across directories
// from many goroutines, for the race detector and the lock order.
func TestConcurrentNamespace(t *testing.T) {
	fs := newFS(t, Options{})
	r := fs.Root()
	dirs := []*Inode{mustMkdir(t, r, "a"), mustMkdir(t, r, "b")}
	sub := mustMkdir(t, dirs[0], "sub")
	dirs = append(dirs, sub, mustMkdir(t, sub, "deep"))
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 300 {
				from, to := dirs[(w+k)%len(dirs)], dirs[(w+2*k+1)%len(dirs)]
				name := fmt.Sprintf("n%d", k%7)
				switch k % 6 {
				case 0:
					from.Create(name, 0o644, root)
				case 1:
					from.Rename(name, to, name, 0)
				case 2:
					from.Mkdir(name+"d", 0o755, root)
				case 3:
					from.Rename(name+"d", to, name+"d", unix.RENAME_EXCHANGE)
				case 4:
					if n, err := from.Lookup(name); err == nil && n.(*Inode).Type() == unix.S_IFREG {
						to.Link(name+"l", n)
					}
					from.Unlink(name + "l")
				case 5:
					from.Rmdir(name + "d")
					from.Unlink(name)
					f, _ := from.Open(unix.O_RDONLY)
					if f != nil {
						f.Getdents(make([]byte, 512))
						f.Close()
					}
				}
			}
		}()
	}
	wg.Wait()
	// Link counts must still add up: 2 + subdirectories for each directory.
	var check func(d *Inode)
	check = func(d *Inode) {
		subdirs := 0
		for _, e := range d.Entries() {
			if e.Inode.Type() == unix.S_IFDIR {
				subdirs++
				if e.Inode.parent.Load() != d {
					t.Errorf("%s: parent pointer is wrong", e.Name)
				}
				check(e.Inode)
			}
		}
		if st := stat(t, d); st.Nlink != uint64(2+subdirs) {
			t.Errorf("directory nlink %d, %d subdirectories", st.Nlink, subdirs)
		}
	}
	check(fs.RootInode())
}

func TestIoctlFIONREAD(t *testing.T) {
	fs := newFS(t, Options{})
	f := mustCreate(t, fs.Root(), "f")
	w := mustOpen(t, f, unix.O_RDWR)
	w.Write(make([]byte, 100))
	w.Seek(30, unix.SEEK_SET)
	m := &fakeMem{}
	if _, err := w.Ioctl(fionread, 0, m); err != nil || m.last != 70 {
		t.Fatalf("FIONREAD = %d, %v", m.last, err)
	}
	_, err := w.Ioctl(0x1234, 0, m)
	wantErr(t, "unknown ioctl", err, unix.ENOTTY)
}

type fakeMem struct{ last uint32 }

func (m *fakeMem) CopyIn(addr uint64, dst []byte) (int, error) { return len(dst), nil }
func (m *fakeMem) CopyOut(addr uint64, src []byte) (int, error) {
	m.last = uint32(src[0]) | uint32(src[1])<<8 | uint32(src[2])<<16 | uint32(src[3])<<24
	return len(src), nil
}

func TestMapFrames(t *testing.T) {
	mem := newMem(t, 1<<20)
	fs := New(mem, Options{})
	f := mustCreate(t, fs.Root(), "m")
	ok(t, "size", f.Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: 8192}))
	frames, err := f.MapFrames(0, 2, true)
	ok(t, "map frames", err)
	copy(mem.Page(frames[1]), "through a mapping")
	buf := make([]byte, 17)
	r, _ := f.Open(unix.O_RDONLY)
	r.Pread(buf, 4096)
	r.Close()
	if string(buf) != "through a mapping" {
		t.Fatalf("file does not see the mapping's write: %q", buf)
	}
	_, err = f.MapFrames(2, 1, false)
	wantErr(t, "map past EOF", err, unix.EFAULT)
	ok(t, "unlink", fs.Root().Unlink("m"))
	// The mapping still holds the frames; dropping it gives them back.
	if mem.FreeBytes() != 1<<20-8192 {
		t.Fatalf("free = %d with the mapping alive", mem.FreeBytes())
	}
	mem.DecRef(frames)
	if mem.FreeBytes() != 1<<20 {
		t.Fatalf("free = %d after unmapping", mem.FreeBytes())
	}
}

// TestDroppedFileSystemGivesBackMemory checks the garbage collector's
// backstop: a file system dropped with data in it (an unmounted tmpfs)
// returns its frames to the quota.
func TestDroppedFileSystemGivesBackMemory(t *testing.T) {
	mem := newMem(t, 1<<20)
	func() {
		fs := New(mem, Options{})
		f := mustCreate(t, fs.Root(), "f")
		w, _ := f.Open(unix.O_WRONLY)
		w.Write(make([]byte, 3*4096))
		w.Close()
		// A file the VFS never closed must not pin the quota either.
		g := mustCreate(t, fs.Root(), "g")
		leaked, _ := g.Open(unix.O_WRONLY)
		leaked.Write([]byte("x"))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for mem.FreeBytes() != 1<<20 {
		if time.Now().After(deadline) {
			t.Fatalf("free = %d, the dropped file system kept its frames", mem.FreeBytes())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStatxAndTruncater(t *testing.T) {
	fs := newFS(t, Options{})
	before := time.Now()
	f := mustCreate(t, fs.Root(), "f")
	w := mustOpen(t, f, unix.O_RDWR)
	w.Write([]byte("0123456789"))
	sx, err := w.(statxer).Statx(unix.STATX_BTIME)
	ok(t, "statx", err)
	if sx.Mask&unix.STATX_BTIME == 0 || sx.Btime.Sec < before.Unix()-1 || sx.Size != 10 || sx.Ino != f.Ino() {
		t.Fatalf("statx = %+v", sx)
	}
	ok(t, "ftruncate", w.(truncater).Truncate(3))
	if st := stat(t, f); st.Size != 3 {
		t.Fatalf("size after ftruncate = %d", st.Size)
	}
	r := mustOpen(t, f, unix.O_RDONLY)
	wantErr(t, "ftruncate of O_RDONLY", r.(truncater).Truncate(0), unix.EINVAL)
	ok(t, "allocate", w.(allocator).Allocate(0, 0, 8192))
	if st := stat(t, f); st.Size != 8192 {
		t.Fatalf("size after fallocate = %d", st.Size)
	}
}

// TestRandomOps runs random namespace operations over a small set of
// names from many goroutines: every call must return (the lock order
// holds) and the link counts must add up at the end.
func TestRandomOps(t *testing.T) {
	fs := newFS(t, Options{})
	r := fs.RootInode()
	names := []string{"a", "b", "c", "d"}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := uint64(w*104729 + 3)
			next := func(n int) int {
				rnd ^= rnd << 13
				rnd ^= rnd >> 7
				rnd ^= rnd << 17
				return int(rnd % uint64(n))
			}
			// pick walks a random path of up to three names.
			pick := func() vfs.Inode {
				var in vfs.Inode = r
				for range next(4) {
					c, err := in.Lookup(names[next(len(names))])
					if err != nil || c.(*Inode).Type() != unix.S_IFDIR {
						break
					}
					in = c
				}
				return in
			}
			for range 1500 {
				d := pick()
				name := names[next(len(names))]
				switch next(8) {
				case 0:
					d.Create(name, 0o644, root)
				case 1:
					d.Mkdir(name, 0o755, root)
				case 2:
					d.Unlink(name)
				case 3:
					d.Rmdir(name)
				case 4, 5:
					d.Rename(name, pick(), names[next(len(names))], uint32(next(3)))
				case 6:
					if c, err := d.Lookup(name); err == nil {
						pick().Link(names[next(len(names))], c)
					}
				case 7:
					if f, err := d.Open(unix.O_RDONLY); err == nil {
						f.Getdents(make([]byte, 128))
						f.Close()
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("operations did not finish: deadlock?")
	}
	links := map[*Inode]int{}
	var check func(d *Inode)
	check = func(d *Inode) {
		subdirs := 0
		for _, e := range d.Entries() {
			if e.Inode.Type() == unix.S_IFDIR {
				subdirs++
				if e.Inode.parent.Load() != d {
					t.Errorf("%s: wrong parent", e.Name)
				}
				check(e.Inode)
			} else {
				links[e.Inode]++
			}
		}
		if st := stat(t, d); st.Nlink != uint64(2+subdirs) {
			t.Errorf("dir nlink %d with %d subdirectories", st.Nlink, subdirs)
		}
	}
	check(r)
	for in, n := range links {
		if st := stat(t, in); st.Nlink != uint64(n) {
			t.Errorf("file nlink %d, has %d names", st.Nlink, n)
		}
	}
}

func TestSetStatusFlags(t *testing.T) {
	fs := newFS(t, Options{})
	f := mustCreate(t, fs.Root(), "f")
	w := mustOpen(t, f, unix.O_WRONLY)
	w.Write([]byte("abc"))
	w.Seek(0, unix.SEEK_SET)
	w.(statusFlagsSetter).SetStatusFlags(unix.O_APPEND)
	w.Write([]byte("d"))
	w.(statusFlagsSetter).SetStatusFlags(0)
	w.Seek(0, unix.SEEK_SET)
	w.Write([]byte("A"))
	buf := make([]byte, 8)
	n, _ := mustOpen(t, f, unix.O_RDONLY).Read(buf)
	if string(buf[:n]) != "Abcd" {
		t.Fatalf("content = %q", buf[:n])
	}
}
