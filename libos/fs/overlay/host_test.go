package overlay

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/vfs"
)

// hostInode is a minimal read-only lower layer over a host directory, as
// dirfs is: host stat, host getdents, EROFS for every change.
type hostInode struct {
	vfs.ReadOnlyInode
	path string
}

func (h hostInode) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Lstat(h.path, &st)
	return st, err
}

func (h hostInode) Lookup(name string) (vfs.Inode, error) {
	p := filepath.Join(h.path, name)
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, err
	}
	return hostInode{path: p}, nil
}

func (h hostInode) Readlink() (string, error) { return os.Readlink(h.path) }

func (h hostInode) Listxattr() ([]string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(h.path, buf)
	if err != nil {
		return nil, nil
	}
	var ns []string
	for _, s := range strings.Split(string(buf[:n]), "\x00") {
		if s != "" {
			ns = append(ns, s)
		}
	}
	return ns, nil
}

func (h hostInode) Getxattr(name string) ([]byte, error) {
	buf := make([]byte, 65536)
	n, err := unix.Lgetxattr(h.path, name, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func (h hostInode) Open(flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		return nil, unix.EROFS
	}
	fd, err := unix.Open(h.path, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	return hostFile{fd}, nil
}

type hostFile struct{ fd int }

func (f hostFile) Read(p []byte) (int, error)              { return unix.Read(f.fd, p) }
func (f hostFile) Write(p []byte) (int, error)             { return 0, unix.EBADF }
func (f hostFile) Pread(p []byte, off int64) (int, error)  { return unix.Pread(f.fd, p, off) }
func (f hostFile) Pwrite(p []byte, off int64) (int, error) { return 0, unix.EBADF }
func (f hostFile) Seek(off int64, whence int) (int64, error) {
	return unix.Seek(f.fd, off, whence)
}
func (f hostFile) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(f.fd, &st)
	return st, err
}
func (f hostFile) Getdents(p []byte) (int, error) { return unix.Getdents(f.fd, p) }
func (f hostFile) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) {
	return 0, unix.ENOTTY
}
func (f hostFile) Close() error { return unix.Close(f.fd) }

// hostSnapshot records a host tree byte for byte, with modes and times.
func hostSnapshot(t *testing.T, dir string) map[string]string {
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o size=%d mtime=%v ctime=%v ino=%d", st.Mode, st.Size, st.Mtim, st.Ctim, st.Ino)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += fmt.Sprintf(" sha=%x", sha256.Sum256(b))
		}
		m[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestHostLower runs the overlay over a real host directory, as the
// sandbox's rootfs is, and checks that the host tree is byte for byte
// unchanged after the workload's writes.
func TestHostLower(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "etc/ssl"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "etc/hostname"), []byte("host\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "etc/ssl/cert"), []byte("CERT"), 0o600))
	must(t, os.Symlink("hostname", filepath.Join(dir, "etc/name")))
	for k := range 300 {
		must(t, os.WriteFile(filepath.Join(dir, "etc", fmt.Sprintf("many%03d", k)), nil, 0o644))
	}
	before := hostSnapshot(t, dir)

	upper := tmpfs.New(newMem(t, 16<<20), tmpfs.Options{})
	o := New(hostInode{path: dir}, upper)
	r := o.Root()
	etc, err := r.Lookup("etc")
	must(t, err)
	hn, err := etc.Lookup("hostname")
	must(t, err)
	f, err := hn.Open(unix.O_RDWR | unix.O_APPEND)
	must(t, err)
	f.Write([]byte("sandboxed\n"))
	f.Close()
	must(t, etc.Unlink("many007"))
	ssl, _ := etc.Lookup("ssl")
	must(t, ssl.Unlink("cert"))
	must(t, etc.Rmdir("ssl"))
	must(t, etc.Rename("name", r, "name", 0))
	_, err = etc.Mkdir("ssl", 0o700, root)
	must(t, err)
	must(t, etc.Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o700}))

	// Listing: the host's records merged with the upper's, d_ino = st_ino.
	df, err := etc.Open(unix.O_RDONLY)
	must(t, err)
	var seen []string
	buf := make([]byte, 1024)
	for {
		n, err := df.Getdents(buf)
		must(t, err)
		if n == 0 {
			break
		}
		for b := buf[:n]; len(b) > 0; {
			reclen := int(b[16]) | int(b[17])<<8
			name := string(b[19:reclen])
			name = name[:strings.IndexByte(name, 0)]
			ino := uint64(0)
			for k := 7; k >= 0; k-- {
				ino = ino<<8 | uint64(b[k])
			}
			if name != "." && name != ".." {
				seen = append(seen, name)
				c, err := etc.Lookup(name)
				must(t, err)
				st, _ := c.Stat()
				if st.Ino != ino {
					t.Errorf("%s: d_ino %d st_ino %d", name, ino, st.Ino)
				}
			}
			b = b[reclen:]
		}
	}
	df.Close()
	if len(seen) != 300-1+2 || slices.Contains(seen, "many007") || slices.Contains(seen, "name") {
		t.Fatalf("etc lists %d entries", len(seen))
	}
	hf, _ := etc.Lookup("hostname")
	rf, _ := hf.Open(unix.O_RDONLY)
	n, _ := rf.Read(buf)
	rf.Close()
	if string(buf[:n]) != "host\nsandboxed\n" {
		t.Fatalf("hostname = %q", buf[:n])
	}
	if st, _ := etc.Stat(); st.Mode != unix.S_IFDIR|0o700 {
		t.Fatalf("etc mode = %o", st.Mode)
	}

	after := hostSnapshot(t, dir)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("host %s changed:\n was %s\n now %s", p, v, after[p])
		}
	}
	if len(after) != len(before) {
		t.Errorf("host tree has %d files, had %d", len(after), len(before))
	}
}
