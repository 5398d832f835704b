// Package vfs is the library OS's virtual file system layer: the interfaces a
// file system implements, the container's mount table, open file
// descriptions and the per-process fd table.
package vfs

import (
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Memory is how a file reaches workload memory for ioctl arguments.
type Memory interface {
	CopyIn(addr uint64, dst []byte) (int, error)
	CopyOut(addr uint64, src []byte) (int, error)
}

// File is an open file as a file system implements it. Offsets of
// seekable files are the implementation's business (a host-backed file uses
// the host fd's own offset), so a File is shared, never copied, by dup.
type File interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	Pread(p []byte, off int64) (int, error)
	Pwrite(p []byte, off int64) (int, error)
	Seek(off int64, whence int) (int64, error)
	Stat() (unix.Stat_t, error)
	// Getdents fills p with linux_dirent64 records, as getdents64 does.
	Getdents(p []byte) (int, error)
	Ioctl(req, arg uint64, mem Memory) (uint64, error)
	Close() error
}

// FileSystem serves paths relative to its mount point. Paths it receives
// have no leading slash ("" is the mount's root) and may still contain ".."
// and symlinks, which the file system resolves without leaving its tree.
type FileSystem interface {
	Name() string
	Open(rel string, flags int, mode uint32) (File, error)
	// Stat stats rel, following a final symlink when follow is set.
	Stat(rel string, follow bool) (unix.Stat_t, error)
	Readlink(rel string) (string, error)
}

// Mount is one file system attached at an absolute path.
type Mount struct {
	Point string
	FS    FileSystem
}

// MountTable maps absolute paths to the file system that serves them.
type MountTable struct {
	mu     sync.RWMutex
	mounts []Mount // longest mount point first
}

// Attach adds fs at point (an absolute path).
func (t *MountTable) Attach(point string, fs FileSystem) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mounts = append(t.mounts, Mount{Point: path.Clean(point), FS: fs})
	sort.SliceStable(t.mounts, func(i, j int) bool { return len(t.mounts[i].Point) > len(t.mounts[j].Point) })
}

// Mounts lists the mount table, longest mount point first.
func (t *MountTable) Mounts() []Mount {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]Mount(nil), t.mounts...)
}

// Resolve finds the file system for the absolute path abs and the path
// relative to its mount point. Mount crossings are decided on the lexically
// cleaned path; within one file system, ".." and symlinks are resolved by
// the file system itself.
func (t *MountTable) Resolve(abs string) (FileSystem, string, error) {
	clean := path.Clean("/" + abs)
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, m := range t.mounts {
		if m.Point == "/" {
			return m.FS, strings.TrimPrefix(abs, "/"), nil
		}
		if clean == m.Point || strings.HasPrefix(clean, m.Point+"/") {
			return m.FS, strings.TrimPrefix(strings.TrimPrefix(clean, m.Point), "/"), nil
		}
	}
	return nil, "", unix.ENOENT
}

// FileDescription is an open file description: the file plus the status
// flags and the path it was opened by. dup and fork share it.
type FileDescription struct {
	File File
	// Path is the absolute path the file was opened by, used for *at
	// calls relative to a directory fd and for fchdir.
	Path  string
	flags atomic.Int32
	refs  atomic.Int32

	// hooks run when the last reference goes, before the file closes
	// (epoll drops its interest in the description then).
	hookMu sync.Mutex
	hooks  map[*ReleaseHook]struct{}
}

// NewDescription wraps a freshly opened file with one reference.
func NewDescription(f File, path string, flags int) *FileDescription {
	d := &FileDescription{File: f, Path: path}
	d.flags.Store(int32(flags))
	d.refs.Store(1)
	return d
}

// Flags returns the access mode and status flags (O_APPEND, O_NONBLOCK, ...).
func (d *FileDescription) Flags() int { return int(d.flags.Load()) }

// SetStatusFlags replaces the status flags F_SETFL may change.
func (d *FileDescription) SetStatusFlags(flags int) {
	const settable = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME
	for {
		old := d.flags.Load()
		n := old&^settable | int32(flags&settable)
		if d.flags.CompareAndSwap(old, n) {
			return
		}
	}
}

// IncRef takes another reference.
func (d *FileDescription) IncRef() { d.refs.Add(1) }

// DecRef drops a reference and closes the file with the last one.
func (d *FileDescription) DecRef() {
	if d.refs.Add(-1) == 0 {
		d.runReleaseHooks()
		d.File.Close()
	}
}

// ReadOnlyFS is implemented by file systems mounted without write rights,
// so access(W_OK) can answer EROFS as Linux does on a read-only mount.
type ReadOnlyFS interface {
	ReadOnly() bool
}

// StatFSer is implemented by file systems that can answer statfs for a
// path, and by files that can answer fstatfs (with rel ignored).
type StatFSer interface {
	Statfs(rel string) (unix.Statfs_t, error)
}
