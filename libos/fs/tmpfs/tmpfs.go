// Package tmpfs is the library OS's memory file system. File data lives in
// page frames of the sandbox's memory capability (mm.MemoryFile), so what a
// workload stores in a tmpfs counts against its memory quota exactly like
// its anonymous memory; metadata (names, attributes, extended attributes)
// lives in the sentry's Go heap.
//
// A tmpfs is also the upper layer of the overlay root file system, so it
// carries the little bookkeeping an overlay needs (whiteouts, opaque
// directories, the inode number a copied-up file came from). Those markers
// are fields of the inode rather than extended attributes, so a workload
// can neither see nor forge them.
//
// # Locking
//
// Every inode has a sync.RWMutex (Inode.mu) guarding its attributes, its
// data and, for a directory, its entries. An open regular file or
// directory has a mutex for its offset. The file system has renameMu,
// which serializes renames so that the shape of the tree (which directory
// is an ancestor of which) cannot change while a rename decides how to
// lock. Locks are taken in this order:
//
//  1. FS.renameMu
//  2. an open file's offset mutex
//  3. directory inodes, an ancestor before its descendants; two directories
//     of which neither is an ancestor of the other (only a rename holds
//     such a pair) in increasing inode number
//  4. non-directory inodes, after the directory holding them, several of
//     them in increasing inode number
//
// Only Rename holds two directories that are not parent and child, and it
// holds renameMu while doing so, so the ancestor relation it orders by
// cannot change under it. Everything else locks a directory and then at
// most one of its children. The memory file's own lock is taken inside
// mm calls and is a leaf; frames are given back after inode locks are
// dropped when that is easy, since punching them out is a host syscall.
package tmpfs

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

const (
	// Magic is TMPFS_MAGIC, the f_type statfs reports.
	Magic = unix.TMPFS_MAGIC

	pageSize = 4096
	// nameMax is NAME_MAX: the longest name a directory entry may have.
	nameMax = 255
	// symlinkMax bounds a symlink target as Linux does (the target and its
	// terminating NUL must fit a page).
	symlinkMax = pageSize - 1
	// maxFileSize is MAX_LFS_FILESIZE on 64-bit Linux.
	maxFileSize = 1<<63 - 1
	// bogoDirentSize is what Linux's tmpfs adds to a directory's st_size
	// per entry, so programs that look at a directory's size see it grow.
	bogoDirentSize = 20
)

// Options configure a new tmpfs.
type Options struct {
	// Mode is the permission bits of the root directory; 0 means 01777,
	// Linux's default for a tmpfs mount.
	Mode uint32
	// UID and GID own the root directory.
	UID, GID uint32
	// Size bounds the bytes of file data (the size= mount option); past it
	// writes fail with ENOSPC. 0 means the memory quota, so only the quota
	// (ENOMEM) limits the file system.
	Size int64
	// Inodes bounds the number of inodes (nr_inodes=); 0 means no bound.
	Inodes uint64
	// Dev is the device number reported as st_dev.
	Dev uint64
	// Magic is the f_type statfs reports; 0 means TMPFS_MAGIC. A file
	// system built on tmpfs (sysfs, cgroup) names itself, and reports no
	// blocks or inodes, as Linux's simple_statfs does for them.
	Magic int64
}

// FS is one tmpfs instance. It implements vfs.FS.
type FS struct {
	acct      *account
	dev       uint64
	limit     int64 // pages
	maxInodes int64 // 0: unbounded
	magic     int64 // statfs f_type (Options.Magic)
	inodes    atomic.Int64
	nextIno   atomic.Uint64
	// renameMu serializes renames; see the package comment.
	renameMu sync.Mutex
	root     *Inode
}

// account is the part of the file system that file data keeps a pointer
// to. It must not point back at any inode: a cleanup attached to an
// inode's data holds it, and anything it reaches stays alive.
type account struct {
	mem   *mm.MemoryFile
	pages atomic.Int64 // frames held by this file system's files
}

// New makes an empty tmpfs whose file data lives in mem's frames.
func New(mem *mm.MemoryFile, opts Options) *FS {
	limit := opts.Size
	if limit <= 0 || uint64(limit) > mem.Size() {
		limit = int64(mem.Size())
	}
	fs := &FS{
		acct:      &account{mem: mem},
		dev:       opts.Dev,
		magic:     opts.Magic,
		limit:     limit / pageSize,
		maxInodes: int64(opts.Inodes),
	}
	mode := opts.Mode & 0o7777
	if mode == 0 {
		mode = 0o1777
	}
	fs.root = fs.newInode(unix.S_IFDIR, mode, opts.UID, opts.GID)
	fs.inodes.Add(1)
	return fs
}

// Name implements vfs.FS.
func (*FS) Name() string { return "tmpfs" }

// Root implements vfs.FS.
func (fs *FS) Root() vfs.Inode { return fs.root }

// RootInode is the root directory with its concrete type, for the overlay
// that uses this file system as its upper layer.
func (fs *FS) RootInode() *Inode { return fs.root }

// Dev is the device number the file system reports as st_dev.
func (fs *FS) Dev() uint64 { return fs.dev }

// UsedBytes is how much file data the file system holds in frames.
func (fs *FS) UsedBytes() int64 { return fs.acct.pages.Load() * pageSize }

// statfs answers statfs for any inode of the file system.
func (fs *FS) statfs() unix.Statfs_t {
	used := fs.acct.pages.Load()
	free := max(fs.limit-used, 0)
	// The quota is shared with the workload's anonymous memory, so what is
	// really available may be less than what the size limit leaves.
	if quota := int64(fs.acct.mem.FreeBytes() / pageSize); quota < free {
		free = quota
	}
	if fs.magic != 0 && fs.magic != Magic {
		st := unix.Statfs_t{Type: fs.magic, Bsize: pageSize, Namelen: nameMax, Frsize: pageSize}
		st.Fsid.Val[0] = int32(uint32(fs.dev))
		st.Fsid.Val[1] = int32(uint32(fs.dev >> 32))
		return st
	}
	st := unix.Statfs_t{
		Type:    Magic,
		Bsize:   pageSize,
		Blocks:  uint64(fs.limit),
		Bfree:   uint64(free),
		Bavail:  uint64(free),
		Namelen: nameMax,
		Frsize:  pageSize,
	}
	st.Fsid.Val[0] = int32(uint32(fs.dev))
	st.Fsid.Val[1] = int32(uint32(fs.dev >> 32))
	if fs.maxInodes > 0 {
		st.Files = uint64(fs.maxInodes)
		st.Ffree = uint64(max(fs.maxInodes-fs.inodes.Load(), 0))
	}
	return st
}

// reserveInode counts a new inode against the nr_inodes bound.
func (fs *FS) reserveInode() error {
	if fs.maxInodes == 0 {
		fs.inodes.Add(1)
		return nil
	}
	for {
		n := fs.inodes.Load()
		if n >= fs.maxInodes {
			return unix.ENOSPC
		}
		if fs.inodes.CompareAndSwap(n, n+1) {
			return nil
		}
	}
}

// allocate takes n zeroed frames, checking the size limit (ENOSPC) before
// the memory quota (ENOMEM).
func (fs *FS) allocate(n int) ([]uint64, error) {
	if n == 0 {
		return nil, nil
	}
	for {
		used := fs.acct.pages.Load()
		if used+int64(n) > fs.limit {
			return nil, unix.ENOSPC
		}
		if fs.acct.pages.CompareAndSwap(used, used+int64(n)) {
			break
		}
	}
	frames, err := fs.acct.mem.Allocate(n)
	if err != nil {
		fs.acct.pages.Add(-int64(n))
		return nil, err
	}
	return frames, nil
}

// free gives frames back to the memory capability.
func (a *account) free(frames []uint64) {
	if len(frames) == 0 {
		return
	}
	a.mem.DecRef(frames)
	a.pages.Add(-int64(len(frames)))
}

// newInode makes an inode that is not yet in any directory. The caller has
// counted it against the inode bound.
func (fs *FS) newInode(kind, mode, uid, gid uint32) *Inode {
	now := now()
	i := &Inode{
		fs:    fs,
		ino:   fs.nextIno.Add(1),
		kind:  kind,
		mode:  mode & 0o7777,
		uid:   uid,
		gid:   gid,
		nlink: 1,
		atime: now,
		mtime: now,
		ctime: now,
		btime: now,
	}
	switch kind {
	case unix.S_IFDIR:
		i.dir = &dirData{next: firstCookie}
	case unix.S_IFREG:
		d := &fileData{acct: fs.acct}
		i.data = d
		// As on Linux, only memfd_create makes files that can be sealed.
		i.seals = SealSeal
		// The data's frames are normally given back when the last link and
		// the last open file go. If the inode is dropped some other way
		// (the whole file system unmounted, a file leaked unclosed), the
		// garbage collector gives them back, so the quota does not leak.
		runtime.AddCleanup(i, (*fileData).release, d)
	}
	return i
}

func now() unix.Timespec { return unix.NsecToTimespec(time.Now().UnixNano()) }

var (
	_ vfs.FS    = (*FS)(nil)
	_ vfs.Inode = (*Inode)(nil)
	_ vfs.File  = (*regFile)(nil)
	_ vfs.File  = (*dirFile)(nil)
	_ vfs.File  = (*pathFile)(nil)
)
