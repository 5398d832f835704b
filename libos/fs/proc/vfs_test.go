package proc

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// TestThroughVFS mounts /proc as the root of a vfs.MountTable and walks it
// the way the file syscalls do: /proc/self follows the walking task, magic
// links jump to the dentries the Source gives, and the VFS's permission
// checks work from the modes and owners proc reports.
func TestThroughVFS(t *testing.T) {
	src := newFake()
	src.setCaller(0, 0) // only the walk's Caller may name the task
	mt := vfs.NewMountTable(New(src, Options{}), vfs.MountOptions{Source: "proc"})
	ctx := func(tgid, tid int32, uid uint32) *vfs.Context {
		return &vfs.Context{Root: mt.Root(), Start: mt.Root(), Cred: vfs.Cred{UID: uid, GID: uid}, Caller: &fakeTask{tgid, tid}}
	}
	read := func(c *vfs.Context, p string) (string, error) {
		fd, err := mt.Open(c, p, vfs.OpenOptions{Flags: unix.O_RDONLY})
		if err != nil {
			return "", err
		}
		defer fd.DecRef()
		b := make([]byte, 8192)
		n, err := fd.File.Read(b)
		return string(b[:n]), err
	}

	if s, err := read(ctx(5, 5, 0), "/self/status"); err != nil || !strings.Contains(s, "\nPid:\t5\n") {
		t.Errorf("/self/status as 5: %v\n%s", err, s)
	}
	if s, err := read(ctx(1, 7, 0), "/thread-self/comm"); err != nil || s != "worker\n" {
		t.Errorf("/thread-self/comm as 1/7: %q, %v", s, err)
	}
	if _, err := read(ctx(0, 0, 0), "/self/status"); err != unix.ENOENT {
		t.Errorf("/self with no task: %v", err)
	}
	d, err := mt.Lookup(ctx(5, 5, 0), "/self", 0)
	if err != nil {
		t.Fatal(err)
	}
	if target, err := mt.Readlink(ctx(5, 5, 0), d); target != "5" || err != nil {
		t.Errorf("readlink /self = %q, %v", target, err)
	}
	if s, err := read(ctx(1, 1, 0), "/mounts"); err != nil || !strings.HasPrefix(s, "overlay / overlay ") {
		t.Errorf("/mounts: %q, %v", s, err)
	}

	// A magic link jumps to the Source's dentry rather than its text.
	init, err := mt.Lookup(ctx(1, 1, 0), "/1", vfs.LookupFollow)
	if err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	src.procs[5].Cwd, src.procs[5].CwdDentry = "/somewhere/else", init
	src.mu.Unlock()
	if s, err := read(ctx(5, 5, 0), "/5/cwd/comm"); err != nil || s != "init\n" {
		t.Errorf("/5/cwd/comm through the jump: %q, %v", s, err)
	}
	cwd, err := mt.Lookup(ctx(5, 5, 0), "/5/cwd", 0)
	if err != nil {
		t.Fatal(err)
	}
	if target, _ := mt.Readlink(ctx(5, 5, 0), cwd); target != "/somewhere/else" {
		t.Errorf("readlink /5/cwd = %q", target)
	}

	// Modes and owners: environ is 0400, owned by the process's euid.
	if _, err := read(ctx(5, 5, 1000), "/5/environ"); err != nil {
		t.Errorf("owner reading its environ: %v", err)
	}
	if _, err := read(ctx(5, 5, 1000), "/1/environ"); err != unix.EACCES {
		t.Errorf("user reading root's environ: %v", err)
	}
	if _, err := read(ctx(5, 5, 1000), "/1/status"); err != nil {
		t.Errorf("user reading root's status: %v", err)
	}
	if _, err := mt.Open(ctx(5, 5, 1000), "/1/fd", vfs.OpenOptions{Flags: unix.O_RDONLY | unix.O_DIRECTORY}); err != unix.EACCES {
		t.Errorf("user listing root's fds: %v", err)
	}
}
