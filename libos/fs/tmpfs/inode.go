package tmpfs

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// Inode is a tmpfs file, directory, symlink, whiteout or special file. It
// implements vfs.Inode.
type Inode struct {
	fs   *FS
	ino  uint64
	kind uint32 // S_IFMT bits; never changes
	// rdev, target and whiteout are set at creation and never change.
	rdev     uint64
	target   string
	whiteout bool
	// parent is a directory's parent (nil for the root). It changes only
	// under fs.renameMu, and is atomic so getdents can read ".." without it.
	parent atomic.Pointer[Inode]

	mu    sync.RWMutex
	mode  uint32 // permission bits and S_ISUID, S_ISGID, S_ISVTX
	uid   uint32
	gid   uint32
	nlink uint32 // of a non-directory; a directory's is derived
	atime unix.Timespec
	mtime unix.Timespec
	ctime unix.Timespec
	btime unix.Timespec
	// xattrs holds extended attributes; xattrBytes is their total size.
	xattrs     map[string][]byte
	xattrBytes int
	// opens counts open files (and O_PATH descriptors), which keep an
	// unlinked file's data alive.
	opens int
	// linkable marks an O_TMPFILE file that linkat may still give a name
	// although it has no links.
	linkable bool
	// seals are a regular file's F_SEAL_* bits (seal.go).
	seals uint32
	// released is set once the inode is gone for good: no links and no
	// open files. Its data has been given back.
	released bool
	// opaque and origin are the overlay's markers (see overlay.go).
	opaque    bool
	origin    uint64
	hasOrigin bool

	data *fileData // regular files
	dir  *dirData  // directories
	// sharedWriteMaps counts MAP_SHARED mappings of a file opened for
	// writing (see mappable.go).
	sharedWriteMaps atomic.Int64
}

// Ino is the inode number.
func (i *Inode) Ino() uint64 { return i.ino }

// Type is the file type, the S_IFMT bits of st_mode.
func (i *Inode) Type() uint32 { return i.kind }

// Stat implements vfs.Inode.
func (i *Inode) Stat() (unix.Stat_t, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.statLocked(), nil
}

func (i *Inode) statLocked() unix.Stat_t {
	st := unix.Stat_t{
		Dev:     i.fs.dev,
		Ino:     i.ino,
		Nlink:   uint64(i.nlink),
		Mode:    i.kind | i.mode,
		Uid:     i.uid,
		Gid:     i.gid,
		Rdev:    i.rdev,
		Blksize: pageSize,
		Atim:    i.atime,
		Mtim:    i.mtime,
		Ctim:    i.ctime,
	}
	switch i.kind {
	case unix.S_IFREG:
		st.Size = i.data.size
		st.Blocks = int64(len(i.data.pages)) * (pageSize / 512)
	case unix.S_IFDIR:
		if i.dir.removed {
			st.Nlink = 0
		} else {
			st.Nlink = 2 + uint64(i.dir.subdirs)
		}
		st.Size = int64(2+len(i.dir.entries)) * bogoDirentSize
	case unix.S_IFLNK:
		st.Size = int64(len(i.target))
	}
	return st
}

// Readlink implements vfs.Inode.
func (i *Inode) Readlink() (string, error) {
	if i.kind != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	i.touchAtime()
	return i.target, nil
}

// Setattr implements vfs.Inode. Permission checks and the clearing of
// set-id bits on chown are the VFS's; this applies what it is given. A
// size change (truncate, ftruncate) updates mtime and ctime even when the
// size stays the same, as Linux's truncate does.
func (i *Inode) Setattr(a vfs.Attr) error {
	if a.Mask == 0 {
		return nil
	}
	if a.Mask&vfs.AttrSize != 0 {
		switch {
		case i.kind == unix.S_IFDIR:
			return unix.EISDIR
		case i.kind != unix.S_IFREG:
			return unix.EINVAL
		case a.Size < 0:
			return unix.EINVAL
		}
	}
	var freed []uint64
	i.mu.Lock()
	if i.released && a.Mask&vfs.AttrSize != 0 {
		i.mu.Unlock()
		return unix.ENOENT
	}
	if err := i.checkSetattrLocked(a); err != nil {
		i.mu.Unlock()
		return err
	}
	t := now()
	if a.Mask&vfs.AttrSize != 0 {
		freed = i.data.truncate(a.Size)
		i.mtime = t
	}
	if a.Mask&vfs.AttrMode != 0 {
		i.mode = a.Mode & 0o7777
	}
	if a.Mask&vfs.AttrUID != 0 {
		i.uid = a.UID
	}
	if a.Mask&vfs.AttrGID != 0 {
		i.gid = a.GID
	}
	if a.Mask&vfs.AttrAtime != 0 {
		i.atime = a.Atime
	}
	if a.Mask&vfs.AttrMtime != 0 {
		i.mtime = a.Mtime
	}
	i.ctime = t
	i.mu.Unlock()
	i.fs.acct.free(freed)
	return nil
}

// Statfs implements vfs.Inode.
func (i *Inode) Statfs() (unix.Statfs_t, error) { return i.fs.statfs(), nil }

// touchAtime updates the access time the way a relatime mount does: only
// when it is not newer than the modification or change time, or is a day
// old, so reads of a busy file do not each write its inode.
func (i *Inode) touchAtime() {
	t := now()
	i.mu.RLock()
	need := !tsAfter(i.atime, i.mtime) || !tsAfter(i.atime, i.ctime) || t.Sec-i.atime.Sec >= 24*3600
	i.mu.RUnlock()
	if need {
		i.mu.Lock()
		i.atime = t
		i.mu.Unlock()
	}
}

func tsAfter(a, b unix.Timespec) bool {
	return a.Sec > b.Sec || a.Sec == b.Sec && a.Nsec > b.Nsec
}

// Extended attributes. Linux's tmpfs stores the trusted.* and security.*
// namespaces, and user.* since 6.6; system.* (POSIX ACLs) is not
// supported here, since storing ACLs without enforcing them would
// mislead programs that set them.

const (
	xattrNameMax  = 255
	xattrValueMax = 65536
	// xattrInodeMax bounds one inode's attributes: they live in the
	// sentry's heap, not in the memory quota.
	xattrInodeMax = 1 << 20
)

func checkXattrName(name string) error {
	if name == "" || len(name) > xattrNameMax {
		return unix.ERANGE
	}
	for _, p := range []string{"user.", "trusted.", "security."} {
		if strings.HasPrefix(name, p) {
			if len(name) == len(p) {
				return unix.EINVAL
			}
			return nil
		}
	}
	return unix.ENOTSUP
}

// userXattrOK says whether the user.* namespace applies to the inode:
// Linux allows it only on regular files and directories, since the
// permission bits of other files do not say who may write them.
func (i *Inode) userXattrOK(name string) bool {
	return !strings.HasPrefix(name, "user.") || i.kind == unix.S_IFREG || i.kind == unix.S_IFDIR
}

// Getxattr implements vfs.Inode.
func (i *Inode) Getxattr(name string) ([]byte, error) {
	if err := checkXattrName(name); err != nil {
		return nil, err
	}
	if !i.userXattrOK(name) {
		return nil, unix.ENODATA
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	v, ok := i.xattrs[name]
	if !ok {
		return nil, unix.ENODATA
	}
	return slices.Clone(v), nil
}

// Setxattr implements vfs.Inode. flags are XATTR_CREATE and XATTR_REPLACE.
func (i *Inode) Setxattr(name string, value []byte, flags int) error {
	if flags&^(unix.XATTR_CREATE|unix.XATTR_REPLACE) != 0 {
		return unix.EINVAL
	}
	if err := checkXattrName(name); err != nil {
		return err
	}
	if len(value) > xattrValueMax {
		return unix.E2BIG
	}
	if !i.userXattrOK(name) {
		return unix.EPERM
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	old, exists := i.xattrs[name]
	if exists && flags&unix.XATTR_CREATE != 0 {
		return unix.EEXIST
	}
	if !exists && flags&unix.XATTR_REPLACE != 0 {
		return unix.ENODATA
	}
	size := i.xattrBytes - len(old) + len(value)
	if !exists {
		size += len(name)
	}
	if size > xattrInodeMax {
		return unix.ENOSPC
	}
	if i.xattrs == nil {
		i.xattrs = make(map[string][]byte)
	}
	i.xattrs[name] = slices.Clone(value)
	i.xattrBytes = size
	i.ctime = now()
	return nil
}

// Listxattr implements vfs.Inode; names come sorted.
func (i *Inode) Listxattr() ([]string, error) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	names := make([]string, 0, len(i.xattrs))
	for n := range i.xattrs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// Removexattr implements vfs.Inode.
func (i *Inode) Removexattr(name string) error {
	if err := checkXattrName(name); err != nil {
		return err
	}
	if !i.userXattrOK(name) {
		return unix.EPERM
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	v, ok := i.xattrs[name]
	if !ok {
		return unix.ENODATA
	}
	delete(i.xattrs, name)
	i.xattrBytes -= len(name) + len(v)
	i.ctime = now()
	return nil
}

// Open implements vfs.Inode. A tmpfs cannot serve FIFOs, sockets or
// devices itself: opening one answers ENXIO, and the VFS is expected to
// give such inodes their behaviour (a pipe for a FIFO) before it gets here.
func (i *Inode) Open(flags int) (vfs.File, error) {
	if flags&unix.O_PATH != 0 {
		if err := i.opened(); err != nil {
			return nil, err
		}
		return &pathFile{inode: i}, nil
	}
	if flags&unix.O_DIRECTORY != 0 && i.kind != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	switch i.kind {
	case unix.S_IFDIR:
		if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
			return nil, unix.EISDIR
		}
		return &dirFile{inode: i, noatime: flags&unix.O_NOATIME != 0}, nil
	case unix.S_IFREG:
		if flags&unix.O_ACCMODE == unix.O_ACCMODE {
			return nil, unix.EINVAL
		}
		var freed []uint64
		i.mu.Lock()
		if i.released {
			i.mu.Unlock()
			return nil, unix.ENOENT
		}
		if flags&unix.O_TRUNC != 0 {
			if err := i.checkSizeLocked(0); err != nil {
				i.mu.Unlock()
				return nil, err
			}
		}
		i.opens++
		if flags&unix.O_TRUNC != 0 {
			// Linux truncates on O_TRUNC whatever the access mode, and
			// updates the times even if the file was already empty.
			freed = i.data.truncate(0)
			t := now()
			i.mtime, i.ctime = t, t
		}
		i.mu.Unlock()
		i.fs.acct.free(freed)
		return newRegFile(i, flags), nil
	case unix.S_IFLNK:
		return nil, unix.ELOOP
	default:
		return nil, unix.ENXIO
	}
}

// opened counts a new open file that is not a regular file's.
func (i *Inode) opened() error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.released {
		return unix.ENOENT
	}
	i.opens++
	return nil
}

// closed drops an open file; the last one of an unlinked file releases it.
func (i *Inode) closed() {
	i.mu.Lock()
	i.opens--
	freed := i.maybeReleaseLocked()
	i.mu.Unlock()
	i.fs.acct.free(freed)
}

// maybeReleaseLocked releases a non-directory that has neither links nor
// open files, returning its frames for the caller to give back once it has
// dropped its locks.
func (i *Inode) maybeReleaseLocked() []uint64 {
	if i.kind == unix.S_IFDIR || i.nlink > 0 || i.opens > 0 || i.released {
		return nil
	}
	i.released = true
	i.linkable = false
	i.xattrs = nil
	i.fs.inodes.Add(-1)
	if i.data == nil {
		return nil
	}
	return i.data.takeAll()
}

// The overlay's markers. They are not extended attributes, so nothing the
// workload does through the overlay can read or set them.

// IsWhiteout reports whether the inode is an overlay whiteout (made by
// Whiteout). It looks like a character device 0/0, as Linux's are.
func (i *Inode) IsWhiteout() bool { return i.whiteout }

// Opaque reports whether a directory hides the lower directory of the
// same name in an overlay.
func (i *Inode) Opaque() bool {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.opaque
}

// SetOpaque marks a directory opaque or not.
func (i *Inode) SetOpaque(v bool) {
	i.mu.Lock()
	i.opaque = v
	i.mu.Unlock()
}

// Origin is the inode number of the lower file this one was copied up
// from, if it was; the overlay reports it as st_ino so copy-up does not
// change a file's identity.
func (i *Inode) Origin() (uint64, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.origin, i.hasOrigin
}

// SetOrigin records the inode number the file was copied up from.
func (i *Inode) SetOrigin(ino uint64) {
	i.mu.Lock()
	i.origin, i.hasOrigin = ino, true
	i.mu.Unlock()
}

// Statx implements vfs.Statxer: stat's fields and the birth time, which
// stat has no room for.
func (i *Inode) Statx(mask uint32) (unix.Statx_t, error) {
	i.mu.RLock()
	st := i.statLocked()
	bt := i.btime
	i.mu.RUnlock()
	sx := statxFromStat(st)
	sx.Mask |= unix.STATX_BTIME
	sx.Btime = unix.StatxTimestamp{Sec: bt.Sec, Nsec: uint32(bt.Nsec)}
	return sx, nil
}

// statxFromStat fills a statx with what a stat holds.
func statxFromStat(st unix.Stat_t) unix.Statx_t {
	ts := func(t unix.Timespec) unix.StatxTimestamp {
		return unix.StatxTimestamp{Sec: t.Sec, Nsec: uint32(t.Nsec)}
	}
	return unix.Statx_t{
		Mask:       unix.STATX_BASIC_STATS,
		Blksize:    uint32(st.Blksize),
		Nlink:      uint32(st.Nlink),
		Uid:        st.Uid,
		Gid:        st.Gid,
		Mode:       uint16(st.Mode),
		Ino:        st.Ino,
		Size:       uint64(st.Size),
		Blocks:     uint64(st.Blocks),
		Atime:      ts(st.Atim),
		Ctime:      ts(st.Ctim),
		Mtime:      ts(st.Mtim),
		Rdev_major: unix.Major(st.Rdev),
		Rdev_minor: unix.Minor(st.Rdev),
		Dev_major:  unix.Major(st.Dev),
		Dev_minor:  unix.Minor(st.Dev),
	}
}
