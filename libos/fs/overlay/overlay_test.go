package overlay

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/vfs"
)

func TestReadThrough(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	if got := e.read("etc/passwd"); got != "root:x:0:0" {
		t.Fatalf("read = %q", got)
	}
	lst, _ := e.lower.RootInode().Child("etc")
	lp, _ := lst.Child("passwd")
	st := e.stat("etc/passwd")
	if st.Dev != unix.Mkdev(0, 99) || st.Ino != lp.Ino() || st.Mode != unix.S_IFREG|0o644 || st.Mtim.Sec != 1000 {
		t.Fatalf("stat = dev %x ino %d mode %o mtime %v", st.Dev, st.Ino, st.Mode, st.Mtim)
	}
	if tgt, _ := e.get("link").Readlink(); tgt != "etc/passwd" {
		t.Fatalf("readlink = %q", tgt)
	}
	if v, err := e.get("etc/passwd").Getxattr("user.note"); err != nil || string(v) != "keep" {
		t.Fatalf("getxattr = %q, %v", v, err)
	}
	_, err := e.walk("etc/nope")
	wantErr(t, "lookup missing", err, unix.ENOENT)
	if e.get("etc") != e.get("etc") {
		t.Fatal("two lookups of one name gave two inodes")
	}
	if e.get("etc/passwd").(*Inode).upper.Load() != nil {
		t.Fatal("reading copied up")
	}
	// The lower-only directory reports the lower's link count; the merged
	// root reports 1.
	if st := e.stat("dir"); st.Nlink != 3 {
		t.Fatalf("lower dir nlink = %d", st.Nlink)
	}
	if st := e.stat(""); st.Nlink != 1 || st.Mode != unix.S_IFDIR|0o755 {
		t.Fatalf("root: nlink %d mode %o", st.Nlink, st.Mode)
	}
	s, err := e.get("etc").Statfs()
	must(t, err)
	if s.Type != Magic || s.Blocks != 16<<20/4096 {
		t.Fatalf("statfs = type %x blocks %d", s.Type, s.Blocks)
	}
}

func TestMergedListing(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	if _, err := e.get("etc").Create("new", 0o644, root); err != nil {
		t.Fatal(err)
	}
	e.write("etc/hosts", 0, "::1") // copied up: listed once
	want := []string{"hosts", "hosts.lnk", "new", "passwd", "shadow"}
	if got := e.names("etc"); !slices.Equal(got, want) {
		t.Fatalf("etc = %v, want %v", got, want)
	}
	// d_ino and d_type agree with stat for every entry.
	for _, d := range e.list("etc") {
		p := "etc/" + d.name
		switch d.name {
		case ".":
			p = "etc"
		case "..":
			p = ""
		}
		st := e.stat(p)
		if st.Ino != d.ino {
			t.Errorf("%s: d_ino %d, st_ino %d", d.name, d.ino, st.Ino)
		}
		if uint32(d.typ)<<12 != st.Mode&unix.S_IFMT {
			t.Errorf("%s: d_type %d, mode %o", d.name, d.typ, st.Mode)
		}
	}
	if got := e.names(""); !slices.Equal(got, []string{"bin", "dir", "empty", "etc", "fifo", "link", "sparse", "usr"}) {
		t.Fatalf("root = %v", got)
	}
}

func TestCopyUpOnWrite(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	before := e.stat("etc/passwd")
	x := e.get("etc/passwd")
	e.write("etc/passwd", unix.O_APPEND, ":/root")
	if got := e.read("etc/passwd"); got != "root:x:0:0:/root" {
		t.Fatalf("after append: %q", got)
	}
	after := e.stat("etc/passwd")
	if after.Ino != before.Ino || after.Dev != before.Dev {
		t.Fatalf("copy-up changed identity: ino %d→%d", before.Ino, after.Ino)
	}
	if after.Mode != before.Mode || after.Uid != before.Uid || after.Gid != before.Gid {
		t.Fatalf("copy-up changed mode/owner")
	}
	if v, err := x.Getxattr("user.note"); err != nil || string(v) != "keep" {
		t.Fatalf("xattr after copy-up = %q, %v", v, err)
	}
	if x.(*Inode).upper.Load() == nil {
		t.Fatal("the inode the VFS holds did not see the copy-up")
	}
	// The parent was copied up with its attributes.
	ue, err := e.upperChild("etc")
	must(t, err)
	ust, _ := ue.Stat()
	lst := e.stat("etc")
	if ust.Mode != lst.Mode || ust.Uid != 3 || lst.Uid != 3 {
		t.Fatalf("upper etc: mode %o uid %d", ust.Mode, ust.Uid)
	}
	if _, err := e.upperChild("etc/shadow"); err == nil {
		t.Fatal("a sibling was copied up")
	}
	if lst.Nlink != 1 {
		t.Fatalf("merged dir nlink = %d", lst.Nlink)
	}
	// A copy of a file with two lower links is a file of its own: it must
	// not keep the number the other link still reports.
	lnk := e.stat("etc/hosts.lnk")
	e.write("etc/hosts", 0, "x")
	if st := e.stat("etc/hosts"); st.Ino == lnk.Ino || st.Nlink != 1 {
		t.Fatalf("copied-up hard link: ino %d (other link %d) nlink %d", st.Ino, lnk.Ino, st.Nlink)
	}
}

func TestCopyUpPreservesTimes(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	must(t, e.get("etc/passwd").Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o600}))
	st := e.stat("etc/passwd")
	if st.Mode != unix.S_IFREG|0o600 || st.Mtim.Sec != 1000 || st.Atim.Sec != 1000 {
		t.Fatalf("chmod copy-up: mode %o mtime %v atime %v", st.Mode, st.Mtim, st.Atim)
	}
	if got := e.read("etc/passwd"); got != "root:x:0:0" {
		t.Fatalf("data after chmod = %q", got)
	}
	must(t, e.get("etc/shadow").Setattr(vfs.Attr{Mask: vfs.AttrUID, UID: 9}))
	if st := e.stat("etc/shadow"); st.Uid != 9 || st.Gid != 42 || st.Mode != unix.S_IFREG|0o640 {
		t.Fatalf("chown copy-up: uid %d gid %d mode %o", st.Uid, st.Gid, st.Mode)
	}
}

func TestCopyUpTruncate(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	f, err := e.get("bin/sh").Open(unix.O_WRONLY | unix.O_TRUNC)
	must(t, err)
	f.Close()
	if st := e.stat("bin/sh"); st.Size != 0 || st.Mode != unix.S_IFREG|0o755 {
		t.Fatalf("O_TRUNC copy-up: size %d mode %o", st.Size, st.Mode)
	}
	must(t, e.get("etc/passwd").Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: 4}))
	if got := e.read("etc/passwd"); got != "root" {
		t.Fatalf("truncate copy-up = %q", got)
	}
	wantErr(t, "truncate a dir", e.get("etc").Setattr(vfs.Attr{Mask: vfs.AttrSize}), unix.EISDIR)
}

func TestCopyUpSparse(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	e.write("sparse", unix.O_APPEND, "!")
	st := e.stat("sparse")
	if st.Size != 1<<20+4 || st.Blocks != 8 {
		t.Fatalf("sparse copy-up: size %d blocks %d; the hole was filled", st.Size, st.Blocks)
	}
	f, _ := e.get("sparse").Open(unix.O_RDONLY)
	defer f.Close()
	buf := make([]byte, 4)
	f.Pread(buf, 1<<20)
	if string(buf) != "end!" {
		t.Fatalf("tail = %q", buf)
	}
}

func TestReadOnlyFileFollowsCopyUp(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	r, err := e.get("etc/passwd").Open(unix.O_RDONLY)
	must(t, err)
	defer r.Close()
	buf := make([]byte, 5)
	r.Read(buf)
	if string(buf) != "root:" {
		t.Fatalf("read = %q", buf)
	}
	w, err := e.get("etc/passwd").Open(unix.O_RDWR)
	must(t, err)
	w.Pwrite([]byte("XY"), 5)
	w.Close()
	n, _ := r.Read(buf)
	if string(buf[:n]) != "XY0:0" {
		t.Fatalf("read-only fd after copy-up read %q, want the new data at its offset", buf[:n])
	}
	if st, _ := r.Stat(); st.Dev != e.ovl.Dev() {
		t.Fatalf("fstat dev = %x", st.Dev)
	}
}

func TestWhiteouts(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	etc := e.get("etc")
	must(t, etc.Unlink("passwd"))
	_, err := e.walk("etc/passwd")
	wantErr(t, "lookup after unlink", err, unix.ENOENT)
	if slices.Contains(e.names("etc"), "passwd") {
		t.Fatal("unlinked lower file still listed")
	}
	w, err := e.upperChild("etc/passwd")
	must(t, err)
	if !w.IsWhiteout() {
		t.Fatal("no whiteout in the upper layer")
	}
	wantErr(t, "unlink twice", etc.Unlink("passwd"), unix.ENOENT)
	// Making the name again replaces the whiteout.
	n, err := etc.Create("passwd", 0o600, root)
	must(t, err)
	if st, _ := n.Stat(); st.Size != 0 || st.Ino&upperInoBit == 0 {
		t.Fatalf("recreated: size %d ino %x", st.Size, st.Ino)
	}
	e.write("etc/passwd", 0, "new")
	if got := e.read("etc/passwd"); got != "new" {
		t.Fatalf("recreated content = %q", got)
	}
	// And removing it again leaves a whiteout again, since the lower has
	// the name.
	must(t, etc.Unlink("passwd"))
	if w, err := e.upperChild("etc/passwd"); err != nil || !w.IsWhiteout() {
		t.Fatalf("second unlink left %v, %v", w, err)
	}
	// An upper-only file leaves nothing.
	etc.Create("tmp", 0o644, root)
	must(t, etc.Unlink("tmp"))
	if _, err := e.upperChild("etc/tmp"); err == nil {
		t.Fatal("unlink of an upper-only file left a whiteout")
	}
	// A copied-up file leaves a whiteout.
	e.write("etc/hosts", 0, "x")
	must(t, etc.Unlink("hosts"))
	if w, err := e.upperChild("etc/hosts"); err != nil || !w.IsWhiteout() {
		t.Fatal("unlink of a copied-up file left no whiteout")
	}
	if got := e.read("etc/hosts.lnk"); got != "127.0.0.1 localhost" {
		t.Fatalf("the other lower link changed: %q", got)
	}
	wantErr(t, "unlink a dir", e.get("").Unlink("etc"), unix.EISDIR)
	// Symlinks and FIFOs are whited out the same way.
	must(t, e.get("").Unlink("link"))
	must(t, e.get("").Unlink("fifo"))
	if got := e.names(""); slices.Contains(got, "link") || slices.Contains(got, "fifo") {
		t.Fatalf("root = %v", got)
	}
	// A workload's own 0/0 character device is not a whiteout.
	_, err = e.get("").Mknod("mine", unix.S_IFCHR|0o600, 0, root)
	must(t, err)
	if !slices.Contains(e.names(""), "mine") {
		t.Fatal("a char device 0/0 made through the overlay disappeared")
	}
}

func TestRmdirAndOpaque(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	r := e.get("")
	dir := e.get("dir")
	wantErr(t, "rmdir non-empty lower dir", r.Rmdir("dir"), unix.ENOTEMPTY)
	must(t, dir.Unlink("a"))
	wantErr(t, "rmdir with lower subdir", r.Rmdir("dir"), unix.ENOTEMPTY)
	sub := e.get("dir/sub")
	wantErr(t, "rmdir sub", dir.Rmdir("sub"), unix.ENOTEMPTY)
	must(t, sub.Unlink("b"))
	if got := e.names("dir/sub"); len(got) != 0 {
		t.Fatalf("sub = %v", got)
	}
	must(t, dir.Rmdir("sub"))
	// dir is now empty only because of whiteouts.
	must(t, r.Rmdir("dir"))
	_, err := e.walk("dir")
	wantErr(t, "lookup removed dir", err, unix.ENOENT)
	_, err = dir.Create("x", 0o644, root)
	wantErr(t, "create in removed dir", err, unix.ENOENT)
	// A new directory of the same name is opaque: nothing of the old one
	// shows through.
	nd, err := r.Mkdir("dir", 0o755, root)
	must(t, err)
	if got := e.names("dir"); len(got) != 0 {
		t.Fatalf("new dir over a removed lower dir lists %v", got)
	}
	_, err = nd.Lookup("a")
	wantErr(t, "lookup in opaque dir", err, unix.ENOENT)
	if u, _ := e.upperChild("dir"); !u.Opaque() {
		t.Fatal("dir made over a whiteout is not opaque")
	}
	// An empty lower directory can be removed directly.
	must(t, r.Rmdir("empty"))
	wantErr(t, "rmdir a file", r.Rmdir("link"), unix.ENOTDIR)
	// Removing an opaque upper dir over a lower one leaves a whiteout.
	must(t, r.Rmdir("dir"))
	if w, err := e.upperChild("dir"); err != nil || !w.IsWhiteout() {
		t.Fatal("rmdir of an opaque dir left no whiteout")
	}
}

func TestCreateInLowerOnlyDir(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	doc := e.get("usr/share/doc")
	_, err := doc.Mkdir("new", 0o755, vfs.Cred{UID: 1000, GID: 1000})
	must(t, err)
	// The chain of parents exists in the upper layer with the lower's
	// attributes, set-group-ID directory included.
	for _, p := range []string{"usr", "usr/share", "usr/share/doc"} {
		u, err := e.upperChild(p)
		must(t, err)
		ust, _ := u.Stat()
		ost := e.stat(p)
		if ust.Mode != ost.Mode || ust.Uid != ost.Uid || ust.Gid != ost.Gid {
			t.Fatalf("%s: upper mode %o uid %d, overlay mode %o", p, ust.Mode, ust.Uid, ost.Mode)
		}
	}
	if st := e.stat("usr/share/doc"); st.Mode != unix.S_IFDIR|0o2755 {
		t.Fatalf("doc mode = %o", st.Mode)
	}
	if got := e.names("usr/share/doc"); !slices.Equal(got, []string{"README", "new"}) {
		t.Fatalf("doc = %v", got)
	}
	_, err = doc.Mkdir("README", 0o755, root)
	wantErr(t, "mkdir over lower file", err, unix.EEXIST)
	_, err = e.get("").Symlink("etc", "x", root)
	wantErr(t, "symlink over lower dir", err, unix.EEXIST)
	l, err := doc.Symlink("sl", "../README", root)
	must(t, err)
	if tgt, _ := l.Readlink(); tgt != "../README" {
		t.Fatalf("readlink = %q", tgt)
	}
}

func TestRename(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	r := e.get("")
	etc := e.get("etc")
	passwdIno := e.stat("etc/passwd").Ino

	// A lower file: copied up, renamed, whiteout at the old name.
	must(t, etc.Rename("passwd", r, "moved", 0))
	if got := e.read("moved"); got != "root:x:0:0" {
		t.Fatalf("moved = %q", got)
	}
	if st := e.stat("moved"); st.Ino != passwdIno || st.Mtim.Sec != 1000 {
		t.Fatalf("moved: ino %d mtime %v", st.Ino, st.Mtim)
	}
	_, err := e.walk("etc/passwd")
	wantErr(t, "old name", err, unix.ENOENT)
	if w, err := e.upperChild("etc/passwd"); err != nil || !w.IsWhiteout() {
		t.Fatal("no whiteout at the old name")
	}
	// A lower directory cannot move.
	wantErr(t, "rename lower dir", r.Rename("dir", r, "dir2", 0), unix.EXDEV)
	wantErr(t, "rename merged dir", r.Rename("etc", r, "etc2", 0), unix.EXDEV)
	// An upper directory can, with its contents.
	nd, _ := r.Mkdir("new", 0o755, root)
	nd.Create("f", 0o644, root)
	must(t, r.Rename("new", e.get("usr"), "new2", 0))
	if got := e.names("usr/new2"); !slices.Equal(got, []string{"f"}) {
		t.Fatalf("moved dir = %v", got)
	}
	// Over an empty lower directory: replaces it and is opaque.
	must(t, e.get("usr").Rename("new2", r, "empty", 0))
	if got := e.names("empty"); !slices.Equal(got, []string{"f"}) {
		t.Fatalf("empty after rename over it = %v", got)
	}
	if u, _ := e.upperChild("empty"); !u.Opaque() {
		t.Fatal("dir renamed over a lower dir is not opaque")
	}
	// Over a non-empty merged one: ENOTEMPTY.
	r.Mkdir("other", 0o755, root)
	wantErr(t, "rename over non-empty lower dir", r.Rename("other", r, "bin", 0), unix.ENOTEMPTY)
	wantErr(t, "dir over lower file", r.Rename("other", r, "sparse", 0), unix.ENOTDIR)
	wantErr(t, "file over lower dir", r.Rename("moved", r, "bin", 0), unix.EISDIR)
	wantErr(t, "noreplace over lower file", r.Rename("moved", etc, "shadow", unix.RENAME_NOREPLACE), unix.EEXIST)
	wantErr(t, "missing", r.Rename("nope", r, "x", 0), unix.ENOENT)
	// Over a lower file.
	must(t, r.Rename("moved", etc, "shadow", 0))
	if got := e.read("etc/shadow"); got != "root:x:0:0" {
		t.Fatalf("shadow after replace = %q", got)
	}
	// Back onto a whited-out name.
	must(t, etc.Rename("shadow", etc, "passwd", 0))
	if got := e.read("etc/passwd"); got != "root:x:0:0" {
		t.Fatalf("passwd = %q", got)
	}
	if w, err := e.upperChild("etc/shadow"); err != nil || !w.IsWhiteout() {
		t.Fatal("no whiteout left at shadow")
	}
	if got := e.names("etc"); !slices.Equal(got, []string{"hosts", "hosts.lnk", "passwd"}) {
		t.Fatalf("etc = %v", got)
	}
	// A directory onto a whiteout.
	r.Mkdir("d3", 0o755, root)
	must(t, r.Rename("d3", etc, "shadow", 0))
	if st := e.stat("etc/shadow"); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Fatalf("shadow is %o", st.Mode)
	}
	// Two lower files exchanged.
	must(t, e.get("bin").Rename("sh", etc, "hosts", unix.RENAME_EXCHANGE))
	if a, b := e.read("bin/sh"), e.read("etc/hosts"); a != "127.0.0.1 localhost" || b != "#!ELF" {
		t.Fatalf("after exchange: sh %q hosts %q", a, b)
	}
	wantErr(t, "exchange a lower dir", r.Rename("dir", r, "sparse", unix.RENAME_EXCHANGE), unix.EXDEV)
	// A renamed file keeps its overlay inode.
	x := e.get("sparse")
	must(t, r.Rename("sparse", etc, "sp", 0))
	if e.get("etc/sp") != x {
		t.Fatal("rename gave the file a new inode")
	}
	// Directory into itself.
	dd, _ := r.Mkdir("dd", 0o755, root)
	wantErr(t, "dir into itself", r.Rename("dd", dd, "x", 0), unix.EINVAL)
}

func TestLinkLower(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	x := e.get("etc/passwd")
	must(t, e.get("").Link("pw", x))
	a, b := e.stat("etc/passwd"), e.stat("pw")
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Fatalf("link: ino %d/%d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	e.write("pw", unix.O_APPEND, "!")
	if got := e.read("etc/passwd"); got != "root:x:0:0!" {
		t.Fatalf("through the other link: %q", got)
	}
	wantErr(t, "link exists", e.get("").Link("pw", x), unix.EEXIST)
	wantErr(t, "link lower name", e.get("").Link("sparse", x), unix.EEXIST)
	wantErr(t, "link a dir", e.get("").Link("d", e.get("etc")), unix.EPERM)
	other := newEnv(t, tmpfs.Options{})
	wantErr(t, "link across overlays", e.get("").Link("z", other.get("etc/passwd")), unix.EXDEV)
}

func TestXattrsAndSpecials(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	x := e.get("etc/passwd")
	must(t, x.Setxattr("user.more", []byte("1"), 0))
	ns, _ := x.Listxattr()
	if !slices.Equal(ns, []string{"user.more", "user.note"}) {
		t.Fatalf("xattrs = %v", ns)
	}
	wantErr(t, "remove missing xattr of a lower file", e.get("bin/sh").Removexattr("user.x"), unix.ENODATA)
	if u, _ := e.upperChild("bin"); u != nil {
		t.Fatal("removing a missing xattr copied up")
	}
	must(t, x.Removexattr("user.note"))
	// A symlink's owner changes: copied up with its target.
	must(t, e.get("link").Setattr(vfs.Attr{Mask: vfs.AttrUID, UID: 5}))
	if tgt, _ := e.get("link").Readlink(); tgt != "etc/passwd" {
		t.Fatalf("symlink target after copy-up = %q", tgt)
	}
	if st := e.stat("link"); st.Uid != 5 || st.Mode != unix.S_IFLNK|0o777 {
		t.Fatalf("symlink: uid %d mode %o", st.Uid, st.Mode)
	}
	must(t, e.get("fifo").Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o644}))
	if st := e.stat("fifo"); st.Mode != unix.S_IFIFO|0o644 {
		t.Fatalf("fifo mode = %o", st.Mode)
	}
}

func TestOpenRules(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	_, err := e.get("etc").Open(unix.O_RDWR)
	wantErr(t, "open dir for writing", err, unix.EISDIR)
	_, err = e.get("etc/passwd").Open(unix.O_RDONLY | unix.O_DIRECTORY)
	wantErr(t, "O_DIRECTORY on a file", err, unix.ENOTDIR)
	p, err := e.get("etc/passwd").Open(unix.O_PATH)
	must(t, err)
	p.Close()
	if u, _ := e.upperChild("etc"); u != nil {
		t.Fatal("O_PATH or read opens copied up")
	}
	// Upper-only files report tagged inode numbers, distinct from lower ones.
	n, _ := e.get("").Create("fresh", 0o644, root)
	st, _ := n.Stat()
	if st.Ino&upperInoBit == 0 || st.Dev != e.ovl.Dev() {
		t.Fatalf("fresh: ino %x dev %x", st.Ino, st.Dev)
	}
}

func TestCopyUpOutOfSpace(t *testing.T) {
	e := newEnv(t, tmpfs.Options{Size: 8192})
	big, _ := e.lower.RootInode().Create("big", 0o644, root)
	f, _ := big.Open(unix.O_WRONLY)
	f.Write(bytes.Repeat([]byte("x"), 5*4096))
	f.Close()
	e.snap = e.snapshot()
	_, err := e.get("big").Open(unix.O_RDWR)
	wantErr(t, "copy-up past the upper's size", err, unix.ENOSPC)
	if _, err := e.upperChild("big"); err == nil {
		t.Fatal("a failed copy-up left a file behind")
	}
	if e.upper.UsedBytes() != 0 {
		t.Fatalf("a failed copy-up kept %d bytes", e.upper.UsedBytes())
	}
	if got := e.read("big"); len(got) != 5*4096 {
		t.Fatalf("lower file reads %d bytes after the failure", len(got))
	}
	// Truncating to zero needs no space.
	must(t, e.get("big").Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: 0}))
}

func TestGetdentsSeek(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	f, err := e.get("etc").Open(unix.O_RDONLY)
	must(t, err)
	defer f.Close()
	buf := make([]byte, 4096)
	n, _ := f.Getdents(buf)
	if n == 0 {
		t.Fatal("empty listing")
	}
	off, _ := f.Seek(0, unix.SEEK_CUR)
	if n2, _ := f.Getdents(buf); n2 != 0 || off != 6 {
		t.Fatalf("end: %d bytes more, offset %d", n2, off)
	}
	// A rewind rereads: a name made since shows up.
	e.get("etc").Create("later", 0o644, root)
	f.Seek(0, unix.SEEK_SET)
	n, _ = f.Getdents(buf)
	if !bytes.Contains(buf[:n], []byte("later")) {
		t.Fatal("rewind did not reread the directory")
	}
	f.Seek(2, unix.SEEK_SET)
	n, _ = f.Getdents(buf[:32])
	if n == 0 || bytes.Contains(buf[:n], []byte{'.', 0}) {
		t.Fatal("seek to 2 did not skip . and ..")
	}
	_, err = f.Getdents(buf[:8])
	wantErr(t, "tiny buffer", err, unix.EINVAL)
}

// TestConcurrent copies up, creates, removes, renames and lists from many
// goroutines at once, for the race detector and the lock order; the lower
// layer is checked unchanged at the end, as always.
func TestConcurrent(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 60 {
				switch (w + k) % 7 {
				case 0:
					if in, err := e.walk("usr/share/doc/README"); err == nil {
						if f, err := in.Open(unix.O_RDWR); err == nil {
							f.Pwrite([]byte{byte('a' + w)}, 0)
							f.Close()
						}
					}
				case 1:
					if d, err := e.walk("dir/sub"); err == nil {
						name := fmt.Sprintf("f%d", w)
						d.Create(name, 0o644, root)
						d.Unlink(name)
					}
				case 2:
					if d, err := e.walk("etc"); err == nil {
						f, _ := d.Open(unix.O_RDONLY)
						if f != nil {
							f.Getdents(make([]byte, 1024))
							f.Close()
						}
					}
				case 3:
					if in, err := e.walk("etc/hosts"); err == nil {
						in.Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o600 + uint32(w)})
						in.Stat()
					}
				case 4:
					r := e.ovl.Root()
					name := fmt.Sprintf("d%d", w)
					r.Mkdir(name, 0o755, root)
					if b, err := r.Lookup("bin"); err == nil {
						r.Rename(name, b, name, 0)
						b.Rmdir(name)
					}
				case 5:
					if d, err := e.walk("usr/share"); err == nil {
						d.Rename("doc", d, "doc2", 0) // EXDEV
						d.Lookup("doc")
					}
				case 6:
					if in, err := e.walk("etc/hosts.lnk"); err == nil {
						if f, err := in.Open(unix.O_RDONLY); err == nil {
							f.Read(make([]byte, 4))
							f.Close()
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	if st := e.stat("usr/share/doc/README"); st.Size != 7 {
		t.Fatalf("README size = %d", st.Size)
	}
}

// TestDroppedCacheStillConsistent checks that an overlay inode the cache
// let go of is rebuilt from the layers the same way.
func TestDroppedCacheStillConsistent(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	ino := e.stat("etc/passwd").Ino
	e.write("etc/passwd", unix.O_TRUNC, "changed")
	for range 3 {
		time.Sleep(time.Millisecond)
		runtime.GC()
	}
	if st := e.stat("etc/passwd"); st.Ino != ino || st.Size != 7 {
		t.Fatalf("after the cache dropped it: ino %d size %d", st.Ino, st.Size)
	}
	if st := e.stat("etc"); st.Ino != e.lowerIno("etc") {
		t.Fatalf("merged dir ino %d, lower %d", st.Ino, e.lowerIno("etc"))
	}
}

func (e *env) lowerIno(name string) uint64 {
	c, err := e.lower.RootInode().Child(name)
	must(e.t, err)
	return c.Ino()
}

func TestTmpfile(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	doc := e.get("usr/share/doc").(*Inode)
	tf, f, err := doc.Tmpfile(0o600, unix.O_RDWR, root)
	must(t, err)
	f.Write([]byte("tmp"))
	if st, _ := f.Stat(); st.Nlink != 0 || st.Dev != e.ovl.Dev() {
		t.Fatalf("tmpfile: nlink %d dev %x", st.Nlink, st.Dev)
	}
	if slices.Contains(e.names("usr/share/doc"), "tmp") {
		t.Fatal("a tmpfile has a name")
	}
	must(t, doc.Link("kept", tf))
	f.Close()
	if got := e.read("usr/share/doc/kept"); got != "tmp" {
		t.Fatalf("linked tmpfile = %q", got)
	}
}

func TestStatxAndTruncateThroughUnwrap(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	x := e.get("etc/passwd")
	sx, err := x.(statxer).Statx(unix.STATX_BTIME)
	must(t, err)
	st := e.stat("etc/passwd")
	if sx.Ino != st.Ino || unix.Mkdev(sx.Dev_major, sx.Dev_minor) != e.ovl.Dev() || sx.Mask&unix.STATX_BTIME != 0 {
		t.Fatalf("statx of a lower file = %+v", sx)
	}
	f, err := x.Open(unix.O_RDWR)
	must(t, err)
	defer f.Close()
	// The syscall layer truncates through the file underneath.
	must(t, vfs.Underlying(f).(truncater).Truncate(4))
	if got := e.read("etc/passwd"); got != "root" {
		t.Fatalf("after ftruncate: %q", got)
	}
	sx, err = f.(statxer).Statx(unix.STATX_BTIME)
	must(t, err)
	if sx.Ino != st.Ino || sx.Mask&unix.STATX_BTIME == 0 || sx.Size != 4 {
		t.Fatalf("statx of the copy = %+v", sx)
	}
}

// TestRandomOps runs random namespace operations over a small set of
// names from many goroutines. It checks nothing but that every call
// returns (no deadlock in the lock order), that the race detector stays
// quiet, and, at the end, that the lower layer is untouched and the
// overlay still lists what it can look up.
func TestRandomOps(t *testing.T) {
	e := newEnv(t, tmpfs.Options{})
	dirs := []string{"", "etc", "dir", "dir/sub", "usr/share", "usr/share/doc", "bin"}
	names := []string{"a", "b", "sub", "passwd", "hosts", "x", "doc", "sh"}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := uint64(w*7919 + 1)
			next := func(n int) int {
				rnd ^= rnd << 13
				rnd ^= rnd >> 7
				rnd ^= rnd << 17
				return int(rnd % uint64(n))
			}
			for range 1500 {
				d, err := e.walk(dirs[next(len(dirs))])
				if err != nil {
					continue
				}
				name := names[next(len(names))]
				switch next(11) {
				case 0:
					d.Create(name, 0o644, root)
				case 1:
					d.Mkdir(name, 0o755, root)
				case 2:
					d.Unlink(name)
				case 3:
					d.Rmdir(name)
				case 4, 5:
					if to, err := e.walk(dirs[next(len(dirs))]); err == nil {
						d.Rename(name, to, names[next(len(names))], uint32(next(3)))
					}
				case 6:
					if c, err := d.Lookup(name); err == nil {
						if to, err := e.walk(dirs[next(len(dirs))]); err == nil {
							to.Link(names[next(len(names))], c)
						}
					}
				case 7:
					if c, err := d.Lookup(name); err == nil {
						if f, err := c.Open(unix.O_WRONLY); err == nil {
							f.Write([]byte("w"))
							f.Close()
						}
					}
				case 8:
					if c, err := d.Lookup(name); err == nil {
						c.Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o700})
					}
				case 9:
					if f, err := d.Open(unix.O_RDONLY); err == nil {
						f.Getdents(make([]byte, 256))
						f.Close()
					}
				case 10:
					d.Symlink(name, "target", root)
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
	for _, p := range dirs {
		d, err := e.walk(p)
		if err != nil {
			continue
		}
		for _, n := range e.names(p) {
			if _, err := d.Lookup(n); err != nil {
				t.Errorf("%s/%s listed but lookup says %v", p, n, err)
			}
		}
		for _, n := range names {
			_, err := d.Lookup(n)
			if listed := slices.Contains(e.names(p), n); listed != (err == nil) {
				t.Errorf("%s/%s: listed %v, lookup %v", p, n, listed, err)
			}
		}
	}
}
