package tmpfs

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

var root = vfs.Cred{UID: 0, GID: 0}

// newMem makes a memory capability of quota bytes, as exo would grant.
// It is never closed: the garbage collector may give frames back to it
// after the test that used it is over, as it would in a running sentry.
func newMem(t testing.TB, quota int64) *mm.MemoryFile {
	t.Helper()
	fd, err := unix.MemfdCreate("tmpfs-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "tmpfs-test")
	if err := f.Truncate(quota); err != nil {
		t.Fatal(err)
	}
	mf, err := mm.NewMemoryFile(f, quota)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

func newFS(t testing.TB, opts Options) *FS {
	t.Helper()
	return New(newMem(t, 16<<20), opts)
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func ok(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func mustCreate(t testing.TB, d vfs.Inode, name string) *Inode {
	t.Helper()
	n, err := d.Create(name, 0o644, root)
	ok(t, "create "+name, err)
	return n.(*Inode)
}

func mustMkdir(t testing.TB, d vfs.Inode, name string) *Inode {
	t.Helper()
	n, err := d.Mkdir(name, 0o755, root)
	ok(t, "mkdir "+name, err)
	return n.(*Inode)
}

func mustOpen(t testing.TB, i vfs.Inode, flags int) vfs.File {
	t.Helper()
	f, err := i.Open(flags)
	ok(t, "open", err)
	t.Cleanup(func() { f.Close() })
	return f
}

func stat(t testing.TB, i vfs.Inode) unix.Stat_t {
	t.Helper()
	st, err := i.Stat()
	ok(t, "stat", err)
	return st
}

type dent struct {
	ino  uint64
	off  uint64
	typ  uint8
	name string
}

func parseDents(t testing.TB, b []byte) []dent {
	t.Helper()
	var ds []dent
	for len(b) > 0 {
		reclen := int(binary.LittleEndian.Uint16(b[16:]))
		if reclen%8 != 0 || reclen < 24 || reclen > len(b) {
			t.Fatalf("bad reclen %d", reclen)
		}
		name := b[19:reclen]
		for k, c := range name {
			if c == 0 {
				name = name[:k]
				break
			}
		}
		ds = append(ds, dent{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), b[18], string(name)})
		b = b[reclen:]
	}
	return ds
}

// readAllDents lists an open directory to the end with a buffer of size.
func readAllDents(t testing.TB, f vfs.File, size int) []dent {
	t.Helper()
	var all []dent
	buf := make([]byte, size)
	for {
		n, err := f.Getdents(buf)
		ok(t, "getdents", err)
		if n == 0 {
			return all
		}
		all = append(all, parseDents(t, buf[:n])...)
	}
}

func names(ds []dent) []string {
	var ns []string
	for _, d := range ds {
		ns = append(ns, d.name)
	}
	return ns
}

// The VFS's optional file interfaces, by their method sets, so the tests
// do not depend on where the VFS declares them.
type (
	statusFlagsSetter interface{ SetStatusFlags(flags int) }
	statxer           interface {
		Statx(mask uint32) (unix.Statx_t, error)
	}
	truncater interface{ Truncate(size int64) error }
	allocator interface {
		Allocate(mode uint32, off, length int64) error
	}
)
