package vfs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/devfs"
	"exokernelul.dev/exo/libos/fs/dirfs"
	"exokernelul.dev/exo/libos/vfs"
)

// tree is a mount table over a temporary host directory served by dirfs,
// with a second dirfs at /mnt and devfs at /dev.
type tree struct {
	t       *testing.T
	dir     string // the rootfs on the host
	mntDir  string // what is mounted at /mnt
	outside string // a host directory next to the rootfs, never reachable
	mt      *vfs.MountTable
}

func openDir(t *testing.T, dir string) int {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func newTree(t *testing.T, writable bool) *tree {
	t.Helper()
	base := t.TempDir()
	tr := &tree{t: t, dir: filepath.Join(base, "rootfs"), mntDir: filepath.Join(base, "mnt"), outside: filepath.Join(base, "outside")}
	for _, d := range []string{tr.dir, tr.mntDir, tr.outside,
		tr.dir + "/etc", tr.dir + "/mnt", tr.dir + "/dev", tr.dir + "/a/b/c", tr.dir + "/private", tr.mntDir + "/sub"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		tr.dir + "/etc/passwd":     "inside\n",
		tr.dir + "/a/b/c/file":     "deep\n",
		tr.dir + "/private/x":      "private\n",
		tr.dir + "/noexec":         "#!/bin/sh\n",
		tr.mntDir + "/sub/hello":   "hello from mnt\n",
		tr.outside + "/secret":     "SECRET\n",
		tr.outside + "/etc-marker": "outside\n",
	}
	for p, c := range files {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(tr.dir+"/private", 0o700)
	links := map[string]string{
		"loop1":       "loop2",
		"loop2":       "loop1",
		"self":        "self",
		"abs-etc":     "/etc",
		"rel-etc":     "a/../etc",
		"up":          "../../../../../../..",
		"up-secret":   "../outside/secret",
		"abs-secret":  tr.outside + "/secret",
		"dangling":    "newfile",
		"to-dir":      "a/b",
		"to-file":     "etc/passwd",
		"a/b/up2":     "../../etc",
		"mnt-link":    "/mnt/sub",
		"a/b/c/dotup": "../../../..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(tr.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	// A chain of symlinks n0 -> n1 -> ... -> n40 -> etc/passwd: following
	// n0 takes 41 links (too many), n1 takes 40 (the limit).
	for i := 0; i <= 40; i++ {
		target := "n" + itoa(i+1)
		if i == 40 {
			target = "etc/passwd"
		}
		os.Symlink(target, filepath.Join(tr.dir, "n"+itoa(i)))
	}
	rootFS := dirfs.New(openDir(t, tr.dir), writable)
	tr.mt = vfs.NewMountTable(rootFS, vfs.MountOptions{ReadOnly: !writable})
	if _, err := tr.mt.Attach("/mnt", dirfs.New(openDir(t, tr.mntDir), true), vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.mt.Attach("/dev", devfs.New(), vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	return tr
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func (tr *tree) ctx() *vfs.Context { return &vfs.Context{Root: tr.mt.Root(), Start: tr.mt.Root()} }

func (tr *tree) lookup(p string, flags vfs.LookupFlags) (*vfs.Dentry, error) {
	return tr.mt.Lookup(tr.ctx(), p, flags)
}

// read opens p and returns its contents.
func (tr *tree) read(ctx *vfs.Context, p string) (string, error) {
	d, err := tr.mt.Open(ctx, p, vfs.OpenOptions{Flags: unix.O_RDONLY})
	if err != nil {
		return "", err
	}
	defer d.DecRef()
	buf := make([]byte, 256)
	n, err := d.File.Pread(buf, 0)
	return string(buf[:max(n, 0)]), err
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func TestLookupBasics(t *testing.T) {
	tr := newTree(t, false)
	for _, p := range []string{"/etc/passwd", "etc/passwd", "//etc//passwd", "/./etc/./passwd", "/a/b/../../etc/passwd", "/../../etc/passwd", "/rel-etc/passwd", "/abs-etc/passwd", "/a/b/up2/passwd"} {
		if got, err := tr.read(tr.ctx(), p); err != nil || got != "inside\n" {
			t.Errorf("read %s = %q, %v", p, got, err)
		}
	}
	_, err := tr.lookup("", 0)
	wantErr(t, "empty path", err, unix.ENOENT)
	_, err = tr.lookup("/nope", 0)
	wantErr(t, "missing", err, unix.ENOENT)
	_, err = tr.lookup("/etc/passwd/x", 0)
	wantErr(t, "file as a directory", err, unix.ENOTDIR)
	_, err = tr.lookup("/etc/passwd/", vfs.LookupFollow)
	wantErr(t, "trailing slash on a file", err, unix.ENOTDIR)
	_, err = tr.lookup("/to-file/", 0)
	wantErr(t, "trailing slash on a symlink to a file", err, unix.ENOTDIR)
	if d, err := tr.lookup("/to-dir/", 0); err != nil {
		t.Errorf("trailing slash on a symlink to a directory: %v", err)
	} else if p, _ := d.PathFrom(tr.mt.Root()); p != "/a/b" {
		t.Errorf("trailing slash follows the link: path %q", p)
	}
	if d, err := tr.lookup("/to-dir", 0); err != nil {
		t.Error(err)
	} else if st, _ := d.Stat(); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("lstat of a symlink is not a symlink: %o", st.Mode)
	}
	_, err = tr.lookup("/etc/passwd", vfs.LookupDirectory)
	wantErr(t, "LookupDirectory on a file", err, unix.ENOTDIR)
	_, err = tr.lookup("/"+strings.Repeat("x", 256), 0)
	wantErr(t, "component of 256 bytes", err, unix.ENAMETOOLONG)
	_, err = tr.lookup("/"+strings.Repeat("x/", 2048), 0)
	wantErr(t, "path of PATH_MAX bytes", err, unix.ENAMETOOLONG)
	_, err = tr.lookup("/dev/null/x", 0)
	wantErr(t, "below a device", err, unix.ENOTDIR)
}

func TestSymlinkLimits(t *testing.T) {
	tr := newTree(t, false)
	for _, p := range []string{"/loop1", "/self", "/loop1/x"} {
		_, err := tr.lookup(p, vfs.LookupFollow)
		wantErr(t, p, err, unix.ELOOP)
	}
	if _, err := tr.lookup("/loop1", 0); err != nil {
		t.Errorf("lstat of a looping symlink: %v", err)
	}
	if got, err := tr.read(tr.ctx(), "/n1"); err != nil || got != "inside\n" {
		t.Errorf("40 links: %q, %v", got, err)
	}
	_, err := tr.read(tr.ctx(), "/n0")
	wantErr(t, "41 links", err, unix.ELOOP)
}

// TestEscapes: a symlink or ".." chain that points outside the rootfs
// stays inside it.
func TestEscapes(t *testing.T) {
	tr := newTree(t, false)
	for _, p := range []string{"/up/outside/secret", "/up-secret", "/abs-secret", "/../outside/secret", "/a/b/c/dotup/outside/secret", "/up/../outside/secret"} {
		got, err := tr.read(tr.ctx(), p)
		if err == nil && strings.Contains(got, "SECRET") {
			t.Errorf("%s reached a file outside the rootfs", p)
		}
		if !errors.Is(err, unix.ENOENT) {
			t.Errorf("%s: %q, %v; want ENOENT", p, got, err)
		}
	}
	for _, p := range []string{"/up", "/a/b/c/dotup", "/up/up/up/.."} {
		d, err := tr.lookup(p, vfs.LookupFollow)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if !d.Same(tr.mt.Root()) {
			path, _ := d.PathFrom(tr.mt.Root())
			t.Errorf("%s resolved to %s, not the root", p, path)
		}
	}
	// The host-relative names of the escape resolve inside: /etc/passwd of
	// the rootfs, not of the host.
	if got, err := tr.read(tr.ctx(), "/up/etc/passwd"); err != nil || got != "inside\n" {
		t.Errorf("/up/etc/passwd = %q, %v", got, err)
	}
}

func TestMountCrossing(t *testing.T) {
	tr := newTree(t, false)
	root := tr.mt.Root()
	if got, err := tr.read(tr.ctx(), "/mnt/sub/hello"); err != nil || got != "hello from mnt\n" {
		t.Fatalf("/mnt/sub/hello = %q, %v", got, err)
	}
	if got, err := tr.read(tr.ctx(), "/mnt-link/hello"); err != nil || got != "hello from mnt\n" {
		t.Errorf("via a symlink into the mount: %q, %v", got, err)
	}
	mnt, err := tr.lookup("/mnt", vfs.LookupFollow)
	if err != nil {
		t.Fatal(err)
	}
	if !mnt.IsMountRoot() {
		t.Errorf("/mnt is not the mount's root")
	}
	var host unix.Stat_t
	unix.Stat(tr.mntDir, &host)
	if st, _ := mnt.Stat(); st.Ino != host.Ino {
		t.Errorf("/mnt shows inode %d, the mounted directory is %d", st.Ino, host.Ino)
	}
	for p, want := range map[string]string{
		"/mnt/..":             "/",
		"/mnt/sub/../..":      "/",
		"/mnt/sub/../../etc":  "/etc",
		"/mnt/sub":            "/mnt/sub",
		"/dev/..":             "/",
		"/mnt/../mnt/sub/../": "/mnt",
	} {
		d, err := tr.lookup(p, vfs.LookupFollow)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got, ok := d.PathFrom(root); got != want || !ok {
			t.Errorf("%s resolved to %s (reachable %v), want %s", p, got, ok, want)
		}
	}
	// From inside the mount, as the starting directory.
	sub, _ := tr.lookup("/mnt/sub", vfs.LookupFollow)
	ctx := &vfs.Context{Root: root, Start: sub}
	if got, err := tr.read(ctx, "../../etc/passwd"); err != nil || got != "inside\n" {
		t.Errorf("../../etc/passwd from /mnt/sub = %q, %v", got, err)
	}
}

func TestOpenFlags(t *testing.T) {
	tr := newTree(t, true)
	ctx := tr.ctx()
	open := func(p string, flags int) (*vfs.FileDescription, error) {
		return tr.mt.Open(ctx, p, vfs.OpenOptions{Flags: flags, Mode: 0o644})
	}
	_, err := open("/to-file", unix.O_RDONLY|unix.O_NOFOLLOW)
	wantErr(t, "O_NOFOLLOW on a symlink", err, unix.ELOOP)
	d, err := open("/to-file", unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		t.Errorf("O_PATH|O_NOFOLLOW on a symlink: %v", err)
	} else {
		if st, _ := d.File.Stat(); st.Mode&unix.S_IFMT != unix.S_IFLNK {
			t.Errorf("O_PATH|O_NOFOLLOW fd is not the symlink")
		}
		if _, err := d.File.Read(make([]byte, 1)); err != unix.EBADF {
			t.Errorf("read from an O_PATH fd: %v", err)
		}
		d.DecRef()
	}
	_, err = open("/etc/passwd", unix.O_RDONLY|unix.O_DIRECTORY)
	wantErr(t, "O_DIRECTORY on a file", err, unix.ENOTDIR)
	_, err = open("/etc", unix.O_WRONLY)
	wantErr(t, "a directory for writing", err, unix.EISDIR)
	_, err = open("/etc/passwd", unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL)
	wantErr(t, "O_EXCL on an existing file", err, unix.EEXIST)
	_, err = open("/etc", unix.O_RDONLY|unix.O_CREAT)
	wantErr(t, "O_CREAT on an existing directory", err, unix.EISDIR)
	_, err = open("/newdir/", unix.O_RDWR|unix.O_CREAT)
	wantErr(t, "O_CREAT with a trailing slash", err, unix.EISDIR)
	_, err = open("/etc", unix.O_RDONLY|unix.O_TMPFILE)
	wantErr(t, "O_TMPFILE read-only", err, unix.EINVAL)
	_, err = open("/etc/passwd", unix.O_RDWR|unix.O_TMPFILE)
	wantErr(t, "O_TMPFILE on a file", err, unix.ENOTDIR)
	if d, err := open("/etc", unix.O_RDWR|unix.O_TMPFILE); err != nil {
		t.Errorf("O_TMPFILE on dirfs: %v", err)
	} else {
		d.File.Write([]byte("anon"))
		if err := tr.mt.Link(ctx, d.Dentry, "/etc/named"); err != nil {
			t.Errorf("link an O_TMPFILE file: %v", err)
		}
		d.DecRef()
		if b, err := os.ReadFile(tr.dir + "/etc/named"); err != nil || string(b) != "anon" {
			t.Errorf("the linked O_TMPFILE file: %q, %v", b, err)
		}
	}
	if d, err := open("/etc", unix.O_RDWR|unix.O_TMPFILE|unix.O_EXCL); err != nil {
		t.Errorf("O_TMPFILE|O_EXCL: %v", err)
	} else {
		wantErr(t, "link an O_TMPFILE|O_EXCL file", tr.mt.Link(ctx, d.Dentry, "/etc/never"), unix.ENOENT)
		d.DecRef()
	}
	_, err = open("/etc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CREAT)
	wantErr(t, "O_CREAT|O_DIRECTORY", err, unix.EINVAL)
	_, err = open("/dangling", unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW)
	wantErr(t, "O_CREAT|O_NOFOLLOW on a dangling symlink", err, unix.ELOOP)

	// O_CREAT through a dangling symlink makes its target.
	d, err = open("/dangling", unix.O_RDWR|unix.O_CREAT)
	if err != nil {
		t.Fatalf("O_CREAT through a dangling symlink: %v", err)
	}
	d.File.Write([]byte("made"))
	d.DecRef()
	if b, err := os.ReadFile(tr.dir + "/newfile"); err != nil || string(b) != "made" {
		t.Errorf("the symlink's target: %q, %v", b, err)
	}
	if p := d.Path; p != "/newfile" {
		t.Errorf("description path %q, want /newfile", p)
	}
	d, err = open("/newfile", unix.O_WRONLY|unix.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	d.DecRef()
	if st, _ := os.Stat(tr.dir + "/newfile"); st.Size() != 0 {
		t.Errorf("O_TRUNC left %d bytes", st.Size())
	}
	// A new file is opened as asked even if its mode forbids it.
	user := &vfs.Context{Root: tr.mt.Root(), Start: tr.mt.Root(), Cred: vfs.Cred{UID: 1000, GID: 1000}}
	if err := tr.mt.Mkdir(ctx, "/home", 0o777); err != nil {
		t.Fatal(err)
	}
	d, err = tr.mt.Open(user, "/home/ro", vfs.OpenOptions{Flags: unix.O_RDWR | unix.O_CREAT, Mode: 0o444})
	if err != nil {
		t.Fatalf("create a read-only file for writing: %v", err)
	}
	d.DecRef()
	var st unix.Stat_t
	unix.Lstat(tr.dir+"/home/ro", &st)
	if st.Uid != 1000 || st.Gid != 1000 || st.Mode&0o7777 != 0o444 {
		t.Errorf("new file: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode&0o7777)
	}
	_, err = tr.mt.Open(user, "/home/ro", vfs.OpenOptions{Flags: unix.O_RDWR})
	wantErr(t, "reopen a read-only file for writing", err, unix.EACCES)
}

func TestResolveFlags(t *testing.T) {
	tr := newTree(t, false)
	a, _ := tr.lookup("/a", vfs.LookupFollow)
	open := func(p string, resolve uint64) error {
		ctx := &vfs.Context{Root: tr.mt.Root(), Start: a, Resolve: resolve}
		d, err := tr.mt.Open(ctx, p, vfs.OpenOptions{Flags: unix.O_PATH})
		if err == nil {
			d.DecRef()
		}
		return err
	}
	wantErr(t, "BENEATH ..", open("b/../..", unix.RESOLVE_BENEATH), unix.EXDEV)
	wantErr(t, "BENEATH absolute", open("/etc", unix.RESOLVE_BENEATH), unix.EXDEV)
	wantErr(t, "BENEATH inside", open("b/../b/c/file", unix.RESOLVE_BENEATH), nil)
	wantErr(t, "BENEATH symlink out", open("b/up2", unix.RESOLVE_BENEATH), unix.EXDEV)
	// IN_ROOT: "/" and ".." stop at /a.
	wantErr(t, "IN_ROOT absolute", open("/b/c/file", unix.RESOLVE_IN_ROOT), nil)
	wantErr(t, "IN_ROOT ..", open("../../b/c/file", unix.RESOLVE_IN_ROOT), nil)
	wantErr(t, "IN_ROOT no /etc", open("/etc", unix.RESOLVE_IN_ROOT), unix.ENOENT)
	wantErr(t, "NO_SYMLINKS", open("/rel-etc", unix.RESOLVE_NO_SYMLINKS), unix.ELOOP)
	wantErr(t, "NO_XDEV into a mount", open("/mnt/sub", unix.RESOLVE_NO_XDEV), unix.EXDEV)
	wantErr(t, "NO_XDEV", open("/etc/passwd", unix.RESOLVE_NO_XDEV), nil)
}

func TestPermissions(t *testing.T) {
	tr := newTree(t, false)
	user := &vfs.Context{Root: tr.mt.Root(), Start: tr.mt.Root(), Cred: vfs.Cred{UID: 1000, GID: 1000}}
	_, err := tr.mt.Lookup(user, "/private/x", 0)
	wantErr(t, "search a 0700 directory of root's", err, unix.EACCES)
	if _, err := tr.mt.Lookup(tr.ctx(), "/private/x", 0); err != nil {
		t.Errorf("root searches anything: %v", err)
	}
	_, err = tr.mt.Open(tr.ctx(), "/noexec", vfs.OpenOptions{Flags: unix.O_RDONLY, Exec: true})
	wantErr(t, "root executes a file without x bits", err, unix.EACCES)
	_, err = tr.mt.Open(tr.ctx(), "/etc/passwd", vfs.OpenOptions{Flags: unix.O_WRONLY})
	wantErr(t, "write on a read-only mount", err, unix.EROFS)
	d, _ := tr.lookup("/etc/passwd", 0)
	wantErr(t, "access W_OK on a read-only mount", tr.mt.Access(tr.ctx(), d, unix.W_OK), unix.EROFS)
	wantErr(t, "access R_OK", tr.mt.Access(user, d, unix.R_OK), nil)
	wantErr(t, "mkdir on a read-only mount", tr.mt.Mkdir(tr.ctx(), "/newdir", 0o755), unix.EROFS)
	wantErr(t, "mkdir of an existing name on a read-only mount", tr.mt.Mkdir(tr.ctx(), "/etc", 0o755), unix.EEXIST)
}

func TestChroot(t *testing.T) {
	tr := newTree(t, false)
	a, _ := tr.lookup("/a", vfs.LookupFollow)
	ctx := &vfs.Context{Root: a, Start: a}
	for p, want := range map[string]string{"/..": "/", "../../..": "/", "/b/up2/..": "/b", "b/c/dotup": "/"} {
		d, err := tr.mt.Lookup(ctx, p, vfs.LookupFollow)
		if err != nil {
			// b/up2 -> ../../etc leaves /a's tree: inside the chroot there
			// is no /etc.
			if p == "/b/up2/.." && errors.Is(err, unix.ENOENT) {
				continue
			}
			t.Errorf("%s: %v", p, err)
			continue
		}
		if got, ok := d.PathFrom(a); got != want || !ok {
			t.Errorf("%s in a chroot at /a: %s (reachable %v), want %s", p, got, ok, want)
		}
	}
	// A directory outside the root shows as unreachable.
	etc, _ := tr.lookup("/etc", vfs.LookupFollow)
	if p, ok := etc.PathFrom(a); ok || p != "/etc" {
		t.Errorf("/etc from a chroot at /a: %s, %v", p, ok)
	}
}

func TestChanges(t *testing.T) {
	tr := newTree(t, true)
	ctx := tr.ctx()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	must("mkdir", tr.mt.Mkdir(ctx, "/d", 0o750))
	must("mkdir with a trailing slash", tr.mt.Mkdir(ctx, "/d/e/", 0o755))
	wantErr(t, "mkdir existing", tr.mt.Mkdir(ctx, "/d", 0o755), unix.EEXIST)
	wantErr(t, "mkdir /", tr.mt.Mkdir(ctx, "/", 0o755), unix.EEXIST)
	must("symlink", tr.mt.Symlink(ctx, "e", "/d/l"))
	must("mknod fifo", tr.mt.Mknod(ctx, "/d/fifo", unix.S_IFIFO|0o600, 0))
	wantErr(t, "mknod char device", tr.mt.Mknod(ctx, "/d/null", unix.S_IFCHR|0o600, 0x103), unix.EPERM)
	wantErr(t, "symlink with a trailing slash", tr.mt.Symlink(ctx, "x", "/d/s/"), unix.ENOENT)
	var st unix.Stat_t
	unix.Lstat(tr.dir+"/d", &st)
	if st.Mode != unix.S_IFDIR|0o750 {
		t.Errorf("mkdir mode %o", st.Mode)
	}
	unix.Lstat(tr.dir+"/d/fifo", &st)
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("mknod made mode %o", st.Mode)
	}

	wantErr(t, "rename a directory into itself", tr.mt.Rename(ctx, "/d", ctx, "/d/e/f", 0), unix.EINVAL)
	wantErr(t, "rename across mounts", tr.mt.Rename(ctx, "/etc/passwd", ctx, "/mnt/passwd", 0), unix.EXDEV)
	wantErr(t, "rename a mount point", tr.mt.Rename(ctx, "/mnt", ctx, "/mnt2", 0), unix.EBUSY)
	wantErr(t, "rmdir a mount point", tr.mt.Rmdir(ctx, "/mnt"), unix.EBUSY)
	wantErr(t, "rmdir non-empty", tr.mt.Rmdir(ctx, "/d"), unix.ENOTEMPTY)
	wantErr(t, "rmdir a file", tr.mt.Rmdir(ctx, "/etc/passwd"), unix.ENOTDIR)
	wantErr(t, "rmdir .", tr.mt.Rmdir(ctx, "/d/."), unix.EINVAL)
	wantErr(t, "unlink a directory", tr.mt.Unlink(ctx, "/d/e"), unix.EISDIR)
	wantErr(t, "unlink with a trailing slash", tr.mt.Unlink(ctx, "/etc/passwd/"), unix.ENOTDIR)
	wantErr(t, "rename a file over a directory", tr.mt.Rename(ctx, "/etc/passwd", ctx, "/d/e", 0), unix.EISDIR)
	wantErr(t, "rename a directory over a file", tr.mt.Rename(ctx, "/d/e", ctx, "/etc/passwd", 0), unix.ENOTDIR)
	wantErr(t, "RENAME_NOREPLACE", tr.mt.Rename(ctx, "/d/e", ctx, "/d/l", vfs.RenameNoReplace), unix.EEXIST)
	wantErr(t, "RENAME_EXCHANGE with a missing target", tr.mt.Rename(ctx, "/d/e", ctx, "/d/nope", vfs.RenameExchange), unix.ENOENT)
	must("RENAME_EXCHANGE", tr.mt.Rename(ctx, "/d/e", ctx, "/d/l", vfs.RenameExchange))
	if fi, err := os.Lstat(tr.dir + "/d/e"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("after RENAME_EXCHANGE /d/e is not the symlink")
	}
	must("rename", tr.mt.Rename(ctx, "/d/l", ctx, "/moved", 0))
	must("link", tr.mt.Link(ctx, mustLookup(t, tr, "/etc/passwd"), "/d/hard"))
	wantErr(t, "link across mounts", tr.mt.Link(ctx, mustLookup(t, tr, "/etc/passwd"), "/mnt/hard"), unix.EXDEV)
	wantErr(t, "link a directory", tr.mt.Link(ctx, mustLookup(t, tr, "/d"), "/d/hd"), unix.EPERM)
	wantErr(t, "link over an existing name", tr.mt.Link(ctx, mustLookup(t, tr, "/etc/passwd"), "/d/hard"), unix.EEXIST)
	unix.Lstat(tr.dir+"/etc/passwd", &st)
	if st.Nlink != 2 {
		t.Errorf("nlink after link: %d", st.Nlink)
	}
	must("unlink", tr.mt.Unlink(ctx, "/d/hard"))
	must("rmdir", tr.mt.Rmdir(ctx, "/moved"))

	// Renaming a directory keeps a mount below it in place.
	must("mkdir", tr.mt.Mkdir(ctx, "/p", 0o755))
	must("mkdir", tr.mt.Mkdir(ctx, "/p/q", 0o755))
	q := mustLookup(t, tr, "/p/q")
	if _, err := tr.mt.Mount(q, devfs.New(), vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	must("rename the mount's parent", tr.mt.Rename(ctx, "/p", ctx, "/p2", 0))
	if _, err := tr.lookup("/p2/q/null", 0); err != nil {
		t.Errorf("the mount did not move with its parent: %v", err)
	}

	// Attributes.
	f := mustLookup(t, tr, "/etc/passwd")
	must("chmod", vfs.Chmod(ctx, f, 0o600))
	must("chown", vfs.Chown(ctx, f, 1000, 1000))
	must("truncate", vfs.Truncate(ctx, f, 3))
	must("utimes", vfs.Utimes(ctx, f, unix.Timespec{Sec: 1000}, unix.Timespec{Nsec: unix.UTIME_OMIT}))
	unix.Lstat(tr.dir+"/etc/passwd", &st)
	if st.Mode&0o7777 != 0o600 || st.Uid != 1000 || st.Size != 3 || st.Atim.Sec != 1000 {
		t.Errorf("after chmod, chown, truncate, utimes: mode %o uid %d size %d atime %d", st.Mode&0o7777, st.Uid, st.Size, st.Atim.Sec)
	}
	user := &vfs.Context{Root: tr.mt.Root(), Start: tr.mt.Root(), Cred: vfs.Cred{UID: 2000, GID: 2000}}
	wantErr(t, "chmod by another user", vfs.Chmod(user, f, 0o777), unix.EPERM)
	wantErr(t, "chmod a symlink", vfs.Chmod(ctx, mustLookup(t, tr, "/to-file"), 0o777), unix.EOPNOTSUPP)
	wantErr(t, "truncate a directory", vfs.Truncate(ctx, mustLookup(t, tr, "/d"), 0), unix.EISDIR)
}

func mustLookup(t *testing.T, tr *tree, p string) *vfs.Dentry {
	t.Helper()
	d, err := tr.lookup(p, 0)
	if err != nil {
		t.Fatalf("lookup %s: %v", p, err)
	}
	return d
}

func TestGetdents(t *testing.T) {
	tr := newTree(t, false)
	for _, p := range []string{"/etc", "/dev", "/mnt"} {
		d, err := tr.mt.Open(tr.ctx(), p, vfs.OpenOptions{Flags: unix.O_RDONLY | unix.O_DIRECTORY})
		if err != nil {
			t.Fatal(err)
		}
		list := func() []string {
			var names []string
			buf := make([]byte, 64)
			for {
				n, err := d.File.Getdents(buf)
				if err != nil {
					t.Fatalf("getdents %s: %v", p, err)
				}
				if n == 0 {
					return names
				}
				for off := 0; off < n; {
					reclen := int(buf[off+16]) | int(buf[off+17])<<8
					name := buf[off+19 : off+reclen]
					names = append(names, strings.TrimRight(string(name), "\x00"))
					off += reclen
				}
			}
		}
		first := list()
		if _, err := d.File.Seek(0, unix.SEEK_SET); err != nil {
			t.Fatal(err)
		}
		second := list()
		if len(first) < 3 || strings.Join(first, " ") != strings.Join(second, " ") {
			t.Errorf("%s: %v, then after rewind %v", p, first, second)
		}
		d.DecRef()
	}
}

// TestUnlinkedDentry checks the dentries memfd_create's files get: on a
// mount in no tree, shown as "/NAME (deleted)" from any root, and never
// linked into the tree.
func TestUnlinkedDentry(t *testing.T) {
	tr := newTree(t, true)
	m := vfs.NewDetachedMount(devfs.New(), vfs.MountOptions{})
	null, err := tr.mt.Lookup(tr.ctx(), "/dev/null", 0)
	if err != nil {
		t.Fatal(err)
	}
	d := m.Unlinked("memfd:a/b", null.Inode())
	if p, reachable := d.PathFrom(tr.mt.Root()); p != "/memfd:a/b (deleted)" || reachable {
		t.Errorf("path from the tree's root = %q, %v", p, reachable)
	}
	if p, _ := d.PathFrom(m.Root()); p != "/memfd:a/b (deleted)" {
		t.Errorf("path from its own root = %q", p)
	}
	if d.Mount() != m || d.IsMountRoot() {
		t.Error("the dentry is not below the detached mount's root")
	}
	wantErr(t, "link it into the tree", tr.mt.Link(tr.ctx(), d, "/etc/memfd"), unix.EXDEV)
}
