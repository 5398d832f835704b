// Package vfs is the library OS's virtual file system layer: the interfaces a
// file system implements (inode.go), the container's mount tree and path
// resolution done one component at a time (dentry.go, resolve.go), the
// operations the file syscalls call (ops.go), open file descriptions and
// the per-process fd table.
package vfs

import (
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

// FileDescription is an open file description: the file plus the status
// flags and the path it was opened by. dup and fork share it.
type FileDescription struct {
	File File
	// Dentry is the file the description was opened from, for the *at
	// calls relative to a directory fd, fchdir and the f* calls that
	// change a file (fchmod, fchown, ...); nil for pipes, sockets and
	// other files with no name.
	Dentry *Dentry
	// Path is the absolute path of Dentry as the opener saw it when it
	// opened the file ("" without a dentry).
	Path  string
	flags atomic.Int32
	refs  atomic.Int32
	// owner is F_SETOWN(_EX)'s owner: the f_owner_ex type in the high
	// 32 bits, the id in the low; the kernel signals it when an O_ASYNC
	// description becomes ready.
	owner atomic.Int64
	// sig is F_SETSIG's signal (0: plain SIGIO).
	sig atomic.Int32

	// hooks run when the last reference goes, before the file closes
	// (epoll drops its interest in the description then).
	hookMu sync.Mutex
	hooks  map[*ReleaseHook]struct{}

	// The file's identity in the lock table, fetched at the first lock
	// (lock.go), and whether the description holds flock or OFD locks.
	lockMu   sync.Mutex
	lockKey  *lockKey
	hasLocks atomic.Bool

	// notify is the description in the inotify registry (notify.go),
	// set once at open for a description with a dentry.
	notify *openFile
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

// Owner is what F_SETOWN_EX set: an f_owner_ex type (F_OWNER_TID,
// F_OWNER_PID, F_OWNER_PGRP) and id (0: none).
func (d *FileDescription) Owner() (typ, id int32) {
	v := d.owner.Load()
	return int32(v >> 32), int32(v)
}

// SetOwner is F_SETOWN_EX.
func (d *FileDescription) SetOwner(typ, id int32) {
	d.owner.Store(int64(typ)<<32 | int64(uint32(id)))
}

// Sig is F_GETSIG: the signal O_ASYNC sends (0: SIGIO without details).
func (d *FileDescription) Sig() int { return int(d.sig.Load()) }

// SetSig is F_SETSIG.
func (d *FileDescription) SetSig(sig int) { d.sig.Store(int32(sig)) }

// SetStatusFlags replaces the status flags F_SETFL may change, and tells
// a file that acts on them itself (StatusFlagsSetter).
func (d *FileDescription) SetStatusFlags(flags int) {
	const settable = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME
	for {
		old := d.flags.Load()
		n := old&^settable | int32(flags&settable)
		if d.flags.CompareAndSwap(old, n) {
			if s, ok := d.File.(StatusFlagsSetter); ok {
				s.SetStatusFlags(int(n))
			}
			return
		}
	}
}

// StatusFlagsSetter is implemented by files that act on status flags
// themselves (O_APPEND: a write lands at the end of the file atomically,
// which only the file can do): F_SETFL passes them the description's new
// flags.
type StatusFlagsSetter interface {
	SetStatusFlags(flags int)
}

// IncRef takes another reference.
func (d *FileDescription) IncRef() { d.refs.Add(1) }

// DecRef drops a reference and closes the file with the last one.
func (d *FileDescription) DecRef() {
	if d.refs.Add(-1) == 0 {
		if d.notify != nil {
			notify.closed(d.notify)
		}
		d.runReleaseHooks()
		Locks.releasedDesc(d)
		d.File.Close()
	}
}

// ZeroCountReader is implemented by files for which a read(2) of zero
// bytes is not simply 0, so the syscall layer hands them the empty
// buffer: an inotify instance fails it with EINVAL while an event is
// queued, and waits for one otherwise, as Linux does.
type ZeroCountReader interface {
	ReadsZeroCount()
}

// StatFSer is implemented by files without a dentry that can answer
// fstatfs themselves (a host fd granted as stdio); rel is ignored.
type StatFSer interface {
	Statfs(rel string) (unix.Statfs_t, error)
}

// Optional interfaces of a File, for the calls that work on an open file
// rather than on its inode: a file open for writing may be truncated even
// when its inode is no longer reachable by name.

// Truncater is implemented by files ftruncate can resize directly.
type Truncater interface {
	Truncate(size int64) error
}

// Allocator is implemented by files that support fallocate(2); mode is
// fallocate's (0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|KEEP_SIZE).
type Allocator interface {
	Allocate(mode uint32, off, length int64) error
}

// Syncer is implemented by files whose data can be flushed to stable
// storage (fsync, fdatasync); files without it have nothing to flush.
type Syncer interface {
	Sync(dataOnly bool) error
}

// Statxer is implemented by inodes and files that know more than stat
// returns (a birth time): statx asks them for the fields in mask.
type Statxer interface {
	Statx(mask uint32) (unix.Statx_t, error)
}
