package caps

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// makeTree builds a tree whose escape routes all lead back inside it: a real
// etc/shadow marker, a symlink to "/", one to "../..", and a relative one
// that climbs far past the top.
func makeTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc", "sub/deep"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{"etc/shadow": "inside", "sub/file": "data"} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{
		"abs":          "/",
		"up":           "../..",
		"sub/deep/rel": "../../../../../../etc",
		"shadowlink":   "/etc/shadow",
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// openIn is how the library OS opens files beneath a dir handle.
func openIn(dir *os.File, path string, flags uint64) (*os.File, error) {
	how := unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	if flags&unix.O_CREAT != 0 {
		how.Mode = 0o644 // openat2 rejects a mode without O_CREAT
	}
	var out *os.File
	err := withFD(dir, func(fd int) error {
		nfd, err := unix.Openat2(fd, path, &how)
		if err != nil {
			return err
		}
		out = os.NewFile(uintptr(nfd), path)
		return nil
	})
	return out, err
}

func readIn(t *testing.T, dir *os.File, path string) string {
	t.Helper()
	f, err := openIn(dir, path, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open %q beneath dir: %v", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkEscapes(t *testing.T, dir *os.File) {
	t.Helper()
	for _, p := range []string{
		"etc/shadow",
		"../../etc/shadow",
		"/etc/shadow",
		"abs/etc/shadow",
		"up/etc/shadow",
		"up/up/abs/etc/shadow",
		"sub/deep/rel/shadow",
		"shadowlink",
		"sub/../../../etc/shadow",
	} {
		if got := readIn(t, dir, p); got != "inside" {
			t.Errorf("%q read %q: escaped the tree", p, got)
		}
	}
}

func TestDirReadOnly(t *testing.T) {
	needRoot(t)
	root := makeTree(t)
	dir, err := OpenDir(root, RightRead|RightGrant)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if !isCloexec(t, dir) {
		t.Error("dir fd is not close-on-exec")
	}
	fl, err := unix.FcntlInt(uintptr(fileFD(t, dir)), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_PATH == 0 {
		t.Errorf("dir fd flags %#x (%v), want O_PATH", fl, err)
	}

	if got := readIn(t, dir, "sub/file"); got != "data" {
		t.Errorf("read sub/file = %q", got)
	}
	checkEscapes(t, dir)

	for _, tc := range []struct {
		path  string
		flags uint64
	}{
		{"sub/file", unix.O_WRONLY},
		{"sub/file", unix.O_RDWR},
		{"sub/file", unix.O_RDONLY | unix.O_TRUNC},
		{"sub/new", unix.O_WRONLY | unix.O_CREAT},
		{"abs/etc/shadow", unix.O_WRONLY},
	} {
		f, err := openIn(dir, tc.path, tc.flags)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, unix.EROFS) {
			t.Errorf("open %q flags %#x under read-only dir = %v, want EROFS", tc.path, tc.flags, err)
		}
	}
	err = withFD(dir, func(fd int) error { return unix.Mkdirat(fd, "sub/newdir", 0o755) })
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("mkdirat under read-only dir = %v, want EROFS", err)
	}
	// Only the clone is read-only; the host tree is untouched.
	if err := os.WriteFile(filepath.Join(root, "sub/file"), []byte("host"), 0o644); err != nil {
		t.Errorf("host write after OpenDir: %v", err)
	}
	if got := readIn(t, dir, "sub/file"); got != "host" {
		t.Errorf("clone does not see the host's write: %q", got)
	}
}

func TestDirReadWrite(t *testing.T) {
	needRoot(t)
	root := makeTree(t)
	dir, err := OpenDir(root, RightRead|RightWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	checkEscapes(t, dir)

	f, err := openIn(dir, "sub/new", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL)
	if err != nil {
		t.Fatalf("create under read-write dir: %v", err)
	}
	if _, err := f.WriteString("written"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if b, err := os.ReadFile(filepath.Join(root, "sub/new")); err != nil || string(b) != "written" {
		t.Errorf("host sees %q, %v", b, err)
	}
	// Creation through an escape route still lands inside.
	f, err = openIn(dir, "abs/etc/created", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL)
	if err != nil {
		t.Fatalf("create via abs symlink: %v", err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(root, "etc/created")); err != nil {
		t.Errorf("file created via abs symlink is not inside: %v", err)
	}
	if _, err := os.Stat("/etc/created"); err == nil {
		t.Error("file created via abs symlink landed in host /etc")
	}
}

// TestDirNoDev: a device node inside a granted tree must not open the host
// device, read-write tree or not.
func TestDirNoDev(t *testing.T) {
	needRoot(t)
	root := makeTree(t)
	node := filepath.Join(root, "null")
	if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Skipf("mknod: %v", err)
	}
	if f, err := os.OpenFile(node, os.O_WRONLY, 0); err != nil {
		t.Skipf("device nodes do not open here even on the host: %v", err)
	} else {
		f.Close()
	}
	for _, rights := range []Rights{RightRead, RightRead | RightWrite} {
		dir, err := OpenDir(root, rights)
		if err != nil {
			t.Fatal(err)
		}
		f, err := openIn(dir, "null", unix.O_RDONLY)
		if err == nil {
			f.Close()
		}
		if !errors.Is(err, unix.EACCES) {
			t.Errorf("rights %s: open device node = %v, want EACCES (nodev)", rights, err)
		}
		dir.Close()
	}
}

// TestDirResolveBeneath: consumers that prefer RESOLVE_BENEATH get an error
// instead of clamping.
func TestDirResolveBeneath(t *testing.T) {
	needRoot(t)
	dir, err := OpenDir(makeTree(t), RightRead)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	for _, p := range []string{"../etc/shadow", "abs/etc/shadow", "shadowlink", "up"} {
		err := withFD(dir, func(fd int) error {
			nfd, err := unix.Openat2(fd, p, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH})
			if err == nil {
				unix.Close(nfd)
			}
			return err
		})
		if !errors.Is(err, unix.EXDEV) {
			t.Errorf("RESOLVE_BENEATH %q = %v, want EXDEV", p, err)
		}
	}
}

func TestDirErrors(t *testing.T) {
	if _, err := OpenDir("/nonexistent/caps-test", RightRead); !errors.Is(err, unix.ENOENT) {
		t.Errorf("missing dir: %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenDir(f, RightRead); !errors.Is(err, unix.ENOTDIR) {
		t.Errorf("regular file: %v", err)
	}
	if _, err := OpenDir(t.TempDir(), 1<<10); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad rights: %v", err)
	}
}
