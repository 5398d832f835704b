package overlay

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

var root = vfs.Cred{}

func newMem(t testing.TB, quota int64) *mm.MemoryFile {
	t.Helper()
	fd, err := unix.MemfdCreate("overlay-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "overlay-test")
	if err := f.Truncate(quota); err != nil {
		t.Fatal(err)
	}
	mf, err := mm.NewMemoryFile(f, quota)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// roInode makes a tmpfs tree look like the read-only dirfs lower layer:
// reads go through, and every change is refused with EROFS and counted,
// so a test can tell that the overlay never tried one.
type roInode struct {
	vfs.ReadOnlyInode
	in     vfs.Inode
	writes *atomic.Int64
}

func (r roInode) refuse() error { r.writes.Add(1); return unix.EROFS }

func (r roInode) Stat() (unix.Stat_t, error)                     { return r.in.Stat() }
func (r roInode) Readlink() (string, error)                      { return r.in.Readlink() }
func (r roInode) Getxattr(n string) ([]byte, error)              { return r.in.Getxattr(n) }
func (r roInode) Listxattr() ([]string, error)                   { return r.in.Listxattr() }
func (r roInode) Statfs() (unix.Statfs_t, error)                 { return r.in.Statfs() }
func (r roInode) Setattr(vfs.Attr) error                         { return r.refuse() }
func (r roInode) Setxattr(string, []byte, int) error             { return r.refuse() }
func (r roInode) Removexattr(string) error                       { return r.refuse() }
func (r roInode) Unlink(string) error                            { return r.refuse() }
func (r roInode) Rmdir(string) error                             { return r.refuse() }
func (r roInode) Link(string, vfs.Inode) error                   { return r.refuse() }
func (r roInode) Rename(string, vfs.Inode, string, uint32) error { return r.refuse() }
func (r roInode) Create(string, uint32, vfs.Cred) (vfs.Inode, error) {
	return nil, r.refuse()
}
func (r roInode) Mkdir(string, uint32, vfs.Cred) (vfs.Inode, error) { return nil, r.refuse() }
func (r roInode) Mknod(string, uint32, uint64, vfs.Cred) (vfs.Inode, error) {
	return nil, r.refuse()
}
func (r roInode) Symlink(string, string, vfs.Cred) (vfs.Inode, error) { return nil, r.refuse() }

func (r roInode) Lookup(name string) (vfs.Inode, error) {
	c, err := r.in.Lookup(name)
	if err != nil {
		return nil, err
	}
	return roInode{in: c, writes: r.writes}, nil
}

func (r roInode) Open(flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		return nil, r.refuse()
	}
	return r.in.Open(flags)
}

// env is an overlay over a lower tree built by the test.
type env struct {
	t      *testing.T
	lower  *tmpfs.FS
	upper  *tmpfs.FS
	ovl    *FS
	writes atomic.Int64
	snap   map[string]string
}

// newEnv builds the lower tree:
//
//	/etc/passwd      "root:x:0:0" 0644, mtime 1000, xattr user.note=keep
//	/etc/shadow      0640 uid 0 gid 42
//	/etc/hosts       a hard link count of 2 (also /etc/hosts.lnk)
//	/bin/sh          0755 "#!ELF"
//	/dir/a, /dir/sub/b
//	/empty/
//	/usr/share/doc/README
//	/link -> etc/passwd
//	/fifo
//	/sparse          1 MiB hole then "end"
func newEnv(t *testing.T, upperOpts tmpfs.Options) *env {
	e := &env{t: t}
	e.lower = tmpfs.New(newMem(t, 16<<20), tmpfs.Options{Mode: 0o755, Dev: unix.Mkdev(8, 1)})
	lr := e.lower.Root()
	mkdir := func(d vfs.Inode, name string, mode uint32) vfs.Inode {
		n, err := d.Mkdir(name, mode, root)
		must(t, err)
		return n
	}
	file := func(d vfs.Inode, name string, mode uint32, data string) vfs.Inode {
		n, err := d.Create(name, mode, root)
		must(t, err)
		f, err := n.Open(unix.O_WRONLY)
		must(t, err)
		f.Write([]byte(data))
		f.Close()
		return n
	}
	etc := mkdir(lr, "etc", 0o755)
	passwd := file(etc, "passwd", 0o644, "root:x:0:0")
	must(t, passwd.Setxattr("user.note", []byte("keep"), 0))
	must(t, passwd.Setattr(vfs.Attr{Mask: vfs.AttrMtime | vfs.AttrAtime, Mtime: unix.Timespec{Sec: 1000}, Atime: unix.Timespec{Sec: 1000}}))
	shadow := file(etc, "shadow", 0o640, "secret")
	must(t, shadow.Setattr(vfs.Attr{Mask: vfs.AttrGID, GID: 42}))
	hosts := file(etc, "hosts", 0o644, "127.0.0.1 localhost")
	must(t, etc.Link("hosts.lnk", hosts))
	must(t, etc.Setattr(vfs.Attr{Mask: vfs.AttrUID | vfs.AttrMtime, UID: 3, Mtime: unix.Timespec{Sec: 2000}}))
	bin := mkdir(lr, "bin", 0o755)
	file(bin, "sh", 0o755, "#!ELF")
	dir := mkdir(lr, "dir", 0o750)
	file(dir, "a", 0o600, "A")
	sub := mkdir(dir, "sub", 0o700)
	file(sub, "b", 0o600, "B")
	mkdir(lr, "empty", 0o755)
	usr := mkdir(lr, "usr", 0o755)
	share := mkdir(usr, "share", 0o755)
	doc := mkdir(share, "doc", 0o2755)
	file(doc, "README", 0o644, "read me")
	_, err := lr.Symlink("link", "etc/passwd", root)
	must(t, err)
	_, err = lr.Mknod("fifo", unix.S_IFIFO|0o600, 0, root)
	must(t, err)
	sp := file(lr, "sparse", 0o644, "")
	f, _ := sp.Open(unix.O_WRONLY)
	f.Pwrite([]byte("end"), 1<<20)
	f.Close()

	e.upper = tmpfs.New(newMem(t, 16<<20), upperOpts)
	e.ovl = NewWithOptions(roInode{in: lr, writes: &e.writes}, e.upper, Options{Dev: unix.Mkdev(0, 99)})
	e.snap = e.snapshot()
	t.Cleanup(e.checkLower)
	return e
}

// checkLower asserts that the lower tree is exactly as it was built and
// that the overlay never asked it for a change.
func (e *env) checkLower() {
	e.t.Helper()
	if n := e.writes.Load(); n != 0 {
		e.t.Errorf("the overlay tried %d changes on the lower layer", n)
	}
	now := e.snapshot()
	for p, v := range e.snap {
		if now[p] != v {
			e.t.Errorf("lower %s changed:\n was %s\n now %s", p, v, now[p])
		}
	}
	for p := range now {
		if _, ok := e.snap[p]; !ok {
			e.t.Errorf("lower gained %s", p)
		}
	}
}

// snapshot describes every file of the lower tree: everything but atime,
// which reading may update.
func (e *env) snapshot() map[string]string {
	m := map[string]string{}
	var walk func(path string, in vfs.Inode)
	walk = func(path string, in vfs.Inode) {
		st, err := in.Stat()
		must(e.t, err)
		xs, _ := in.Listxattr()
		var xv []string
		for _, x := range xs {
			v, _ := in.Getxattr(x)
			xv = append(xv, x+"="+string(v))
		}
		desc := fmt.Sprintf("ino=%d mode=%o uid=%d gid=%d nlink=%d size=%d blocks=%d rdev=%d mtime=%v ctime=%v xattrs=%v",
			st.Ino, st.Mode, st.Uid, st.Gid, st.Nlink, st.Size, st.Blocks, st.Rdev, st.Mtim, st.Ctim, xv)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			f, err := in.Open(unix.O_RDONLY | unix.O_NOATIME)
			must(e.t, err)
			buf := make([]byte, st.Size+1)
			n, _ := f.Pread(buf, 0)
			f.Close()
			desc += fmt.Sprintf(" data=%x", sha256.Sum256(buf[:n]))
		case unix.S_IFLNK:
			tgt, _ := in.Readlink()
			desc += " target=" + tgt
		case unix.S_IFDIR:
			var ns []string
			for _, c := range in.(*tmpfs.Inode).Entries() {
				ns = append(ns, c.Name)
				walk(path+"/"+c.Name, c.Inode)
			}
			desc += fmt.Sprintf(" entries=%v", ns)
		}
		m[path] = desc
	}
	walk("", e.lower.RootInode())
	return m
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

// walk resolves a slash-separated path from the overlay's root, as the VFS
// would, one name at a time.
func (e *env) walk(path string) (vfs.Inode, error) {
	in := e.ovl.Root()
	for _, n := range strings.Split(path, "/") {
		if n == "" {
			continue
		}
		c, err := in.Lookup(n)
		if err != nil {
			return nil, err
		}
		in = c
	}
	return in, nil
}

func (e *env) get(path string) vfs.Inode {
	e.t.Helper()
	in, err := e.walk(path)
	if err != nil {
		e.t.Fatalf("lookup %s: %v", path, err)
	}
	return in
}

func (e *env) read(path string) string {
	e.t.Helper()
	f, err := e.get(path).Open(unix.O_RDONLY)
	must(e.t, err)
	defer f.Close()
	buf := make([]byte, 2<<20)
	n, err := f.Read(buf)
	must(e.t, err)
	return string(buf[:n])
}

func (e *env) write(path string, flags int, data string) {
	e.t.Helper()
	f, err := e.get(path).Open(unix.O_WRONLY | flags)
	must(e.t, err)
	defer f.Close()
	if _, err := f.Write([]byte(data)); err != nil {
		e.t.Fatalf("write %s: %v", path, err)
	}
}

func (e *env) stat(path string) unix.Stat_t {
	e.t.Helper()
	st, err := e.get(path).Stat()
	must(e.t, err)
	return st
}

type dent struct {
	ino  uint64
	typ  uint8
	name string
}

// list reads a directory of the overlay, with a small buffer so records
// come in several calls.
func (e *env) list(path string) []dent {
	e.t.Helper()
	f, err := e.get(path).Open(unix.O_RDONLY | unix.O_DIRECTORY)
	must(e.t, err)
	defer f.Close()
	var ds []dent
	buf := make([]byte, 64)
	for {
		n, err := f.Getdents(buf)
		must(e.t, err)
		if n == 0 {
			return ds
		}
		for b := buf[:n]; len(b) > 0; {
			reclen := int(binary.LittleEndian.Uint16(b[16:]))
			name := b[19:reclen]
			if k := slices.Index(name, 0); k >= 0 {
				name = name[:k]
			}
			ds = append(ds, dent{binary.LittleEndian.Uint64(b), b[18], string(name)})
			b = b[reclen:]
		}
	}
}

func (e *env) names(path string) []string {
	var ns []string
	for _, d := range e.list(path) {
		if d.name != "." && d.name != ".." {
			ns = append(ns, d.name)
		}
	}
	slices.Sort(ns)
	return ns
}

// upperChild finds a name in the upper layer directly.
func (e *env) upperChild(path string) (*tmpfs.Inode, error) {
	in := e.upper.RootInode()
	for _, n := range strings.Split(path, "/") {
		if n == "" {
			continue
		}
		c, err := in.Child(n)
		if err != nil {
			return nil, err
		}
		in = c
	}
	return in, nil
}

// truncater is the VFS's Truncater, by its method set.
type truncater interface{ Truncate(size int64) error }
