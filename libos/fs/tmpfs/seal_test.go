package tmpfs

import (
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// sealFile is an open file's view of its seals, as fcntl uses it.
type sealFile interface {
	Seals() (uint32, error)
	AddSeals(seals uint32) error
}

func newMemfd(t *testing.T, fs *FS, mode, seals uint32) (*Inode, vfs.File) {
	t.Helper()
	n, f, err := fs.NewMemfd(mode, vfs.Cred{UID: 7, GID: 8}, seals)
	ok(t, "memfd", err)
	t.Cleanup(func() { f.Close() })
	return n, f
}

func wantSeals(t *testing.T, i *Inode, want uint32) {
	t.Helper()
	got, err := i.Seals()
	ok(t, "seals", err)
	if got != want {
		t.Fatalf("seals = %#x, want %#x", got, want)
	}
}

func TestMemfdIsANamelessReadWriteFile(t *testing.T) {
	fs := newFS(t, Options{})
	n, f := newMemfd(t, fs, 0o777, 0)
	st := stat(t, n)
	if st.Nlink != 0 || st.Mode != unix.S_IFREG|0o777 || st.Uid != 7 || st.Gid != 8 || st.Size != 0 {
		t.Fatalf("stat = nlink %d mode %#o uid %d gid %d size %d", st.Nlink, st.Mode, st.Uid, st.Gid, st.Size)
	}
	if _, err := f.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if n, _ := f.Pread(buf, 0); n != 4 || string(buf) != "data" {
		t.Fatalf("pread = %d %q", n, buf)
	}
	wantSeals(t, n, 0)
	if len(fs.RootInode().Entries()) != 0 {
		t.Fatal("a memfd shows in the root directory")
	}
	_, _, err := fs.NewMemfd(0o777, root, 0x40)
	wantErr(t, "unknown initial seal", err, unix.EINVAL)
}

func TestMemfdDataGoesWithTheLastClose(t *testing.T) {
	mem := newMem(t, 1<<20)
	fs := New(mem, Options{})
	n, f, err := fs.NewMemfd(0o600, root, 0)
	ok(t, "memfd", err)
	ok(t, "allocate", n.Fallocate(0, 0, 3*pageSize))
	again := mustOpenNoCleanup(t, n, unix.O_RDONLY)
	f.Close()
	if mem.FreeBytes() != 1<<20-3*pageSize {
		t.Fatalf("free = %d with a file still open", mem.FreeBytes())
	}
	again.Close()
	if mem.FreeBytes() != 1<<20 {
		t.Fatalf("free = %d after the last close", mem.FreeBytes())
	}
	_, err = n.Open(unix.O_RDONLY)
	wantErr(t, "open after release", err, unix.ENOENT)
}

func mustOpenNoCleanup(t *testing.T, i *Inode, flags int) vfs.File {
	t.Helper()
	f, err := i.Open(flags)
	ok(t, "open", err)
	return f
}

func TestOrdinaryFilesCannotBeSealed(t *testing.T) {
	fs := newFS(t, Options{})
	n := mustCreate(t, fs.Root(), "f")
	wantSeals(t, n, SealSeal)
	wantErr(t, "add to an ordinary file", n.AddSeals(SealWrite), unix.EPERM)
	d := mustMkdir(t, fs.Root(), "d")
	_, err := d.Seals()
	wantErr(t, "seals of a directory", err, unix.EINVAL)
	wantErr(t, "seal a directory", d.AddSeals(SealWrite), unix.EINVAL)
	// Without MFD_ALLOW_SEALING a memfd starts sealed against sealing.
	m, _ := newMemfd(t, fs, 0o777, SealSeal)
	wantErr(t, "add to a memfd without sealing", m.AddSeals(SealGrow), unix.EPERM)
}

func TestSealAddingRules(t *testing.T) {
	fs := newFS(t, Options{})
	n, f := newMemfd(t, fs, 0o666, 0)
	wantErr(t, "unknown seal", n.AddSeals(0x40), unix.EINVAL)
	ok(t, "add nothing", n.AddSeals(0))
	ok(t, "shrink", f.(sealFile).AddSeals(SealShrink))
	ok(t, "shrink again", n.AddSeals(SealShrink|SealGrow))
	wantSeals(t, n, SealShrink|SealGrow)
	ro := mustOpen(t, n, unix.O_RDONLY)
	wantErr(t, "add through a read-only file", ro.(sealFile).AddSeals(SealWrite), unix.EPERM)
	if s, err := ro.(sealFile).Seals(); err != nil || s != SealShrink|SealGrow {
		t.Fatalf("seals through a read-only file = %#x, %v", s, err)
	}
	ok(t, "seal", n.AddSeals(SealSeal))
	wantErr(t, "add after SealSeal", n.AddSeals(0), unix.EPERM)
	// Unknown bits are EINVAL even then, as Linux checks them first.
	wantErr(t, "unknown after SealSeal", n.AddSeals(0x40), unix.EINVAL)
}

func TestShrinkAndGrowSeals(t *testing.T) {
	fs := newFS(t, Options{})
	n, f := newMemfd(t, fs, 0o666, 0)
	tr := f.(truncater)
	ok(t, "size", tr.Truncate(pageSize+100))
	ok(t, "shrink seal", n.AddSeals(SealShrink))
	wantErr(t, "truncate smaller", tr.Truncate(10), unix.EPERM)
	wantErr(t, "setattr smaller", n.Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: 0}), unix.EPERM)
	_, err := n.Open(unix.O_RDWR | unix.O_TRUNC)
	wantErr(t, "open O_TRUNC", err, unix.EPERM)
	ok(t, "truncate to the same size", tr.Truncate(pageSize+100))
	ok(t, "grow", tr.Truncate(pageSize+200))

	ok(t, "grow seal", n.AddSeals(SealGrow))
	wantErr(t, "truncate larger", tr.Truncate(2*pageSize), unix.EPERM)
	wantErr(t, "allocate past the end", n.Fallocate(0, 0, 2*pageSize), unix.EPERM)
	wantErr(t, "allocate past the end, keeping the size", n.Fallocate(unix.FALLOC_FL_KEEP_SIZE, 0, 2*pageSize), unix.EPERM)
	ok(t, "allocate inside", n.Fallocate(0, 0, pageSize))
	buf := make([]byte, 400)
	// Writes go page by page: the piece ending inside the file is
	// written, the one reaching past its end is refused.
	if w, err := f.Pwrite(buf, pageSize-100); w != 100 || err != nil {
		t.Fatalf("write across the end = %d, %v; want 100, nil", w, err)
	}
	_, err = f.Pwrite(buf, pageSize)
	wantErr(t, "write past the end", err, unix.EPERM)
	if w, err := f.Pwrite(buf[:200], pageSize); w != 200 || err != nil {
		t.Fatalf("write up to the end = %d, %v", w, err)
	}
	if st := stat(t, n); st.Size != pageSize+200 {
		t.Fatalf("size = %d after sealed writes", st.Size)
	}
	a := mustOpen(t, n, unix.O_WRONLY|unix.O_APPEND)
	_, err = a.Write([]byte("x"))
	wantErr(t, "append", err, unix.EPERM)
	if w, err := f.Pwrite(nil, 1<<20); w != 0 || err != nil {
		t.Fatalf("empty write = %d, %v", w, err)
	}
}

func TestWriteSeal(t *testing.T) {
	mem := newMem(t, 1<<20)
	fs := New(mem, Options{})
	n, f := newMemfd(t, fs, 0o666, 0)
	ok(t, "size", f.(truncater).Truncate(2*pageSize))
	// A shared mapping that may write holds the seal back; one that
	// cannot (or a private one) does not.
	n.AddMapping(false)
	n.AddMapping(true)
	frames, err := n.MapPages(0, 2, true)
	ok(t, "map", err)
	wantErr(t, "seal while mapped", n.AddSeals(SealWrite), unix.EBUSY)
	wantSeals(t, n, 0)
	mem.DecRef(frames)
	n.RemoveMapping(true)
	ok(t, "seal with only a mapping that cannot write", n.AddSeals(SealWrite))
	n.RemoveMapping(false)

	_, err = f.Pwrite([]byte("x"), 0)
	wantErr(t, "pwrite", err, unix.EPERM)
	_, err = f.Write([]byte("x"))
	wantErr(t, "write", err, unix.EPERM)
	wantErr(t, "punch", n.Fallocate(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, pageSize), unix.EPERM)
	_, err = n.MapFrames(0, 1, true)
	wantErr(t, "writable mapping", err, unix.EPERM)
	frames, err = n.MapFrames(0, 1, false)
	ok(t, "read-only mapping", err)
	mem.DecRef(frames)
	// The size is the business of the other seals.
	ok(t, "truncate", f.(truncater).Truncate(pageSize))
	ok(t, "allocate", n.Fallocate(0, 0, 3*pageSize))
	// Adding it again does not look at mappings.
	frames, err = n.MapFrames(0, 1, false)
	ok(t, "map", err)
	ok(t, "seal again", n.AddSeals(SealWrite))
	mem.DecRef(frames)
}

func TestFutureWriteSeal(t *testing.T) {
	mem := newMem(t, 1<<20)
	fs := New(mem, Options{})
	n, f := newMemfd(t, fs, 0o666, 0)
	ok(t, "size", f.(truncater).Truncate(pageSize))
	frames, err := n.MapFrames(0, 1, true)
	ok(t, "map", err)
	defer mem.DecRef(frames)
	// Mappings that exist keep writing.
	ok(t, "future-write seal while mapped", n.AddSeals(SealFutureWrite))
	copy(mem.Page(frames[0]), "still")
	_, err = f.Pwrite([]byte("x"), 0)
	wantErr(t, "pwrite", err, unix.EPERM)
	_, err = n.MapFrames(0, 1, true)
	wantErr(t, "new writable mapping", err, unix.EPERM)
	buf := make([]byte, 5)
	f.Pread(buf, 0)
	if string(buf) != "still" {
		t.Fatalf("read %q", buf)
	}
}

func TestExecSeal(t *testing.T) {
	fs := newFS(t, Options{})
	// On an executable file it brings every write seal with it.
	x, _ := newMemfd(t, fs, 0o777, 0)
	ok(t, "exec seal", x.AddSeals(SealExec))
	wantSeals(t, x, SealExec|SealShrink|SealGrow|SealWrite|SealFutureWrite)
	wantErr(t, "chmod -x", x.Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o666}), unix.EPERM)
	ok(t, "chmod keeping x", x.Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o711}))

	// MFD_NOEXEC_SEAL: not executable, and can never become so.
	ne, _ := newMemfd(t, fs, 0o666, SealExec)
	wantErr(t, "chmod +x", ne.Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o755}), unix.EPERM)
	ok(t, "chmod without x", ne.Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o600}))
	ok(t, "other seals", ne.AddSeals(SealShrink))
	wantSeals(t, ne, SealExec|SealShrink)

	// Bringing SealWrite, it is EBUSY while the file is mapped shared.
	m, f := newMemfd(t, fs, 0o777, 0)
	ok(t, "size", f.(truncater).Truncate(pageSize))
	m.AddMapping(true)
	frames, err := m.MapPages(0, 1, true)
	ok(t, "map", err)
	wantErr(t, "exec seal while mapped", m.AddSeals(SealExec), unix.EBUSY)
	fs.acct.mem.DecRef(frames)
	m.RemoveMapping(true)
}
