package dirfs

import (
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

// FileFS is one granted host file seen as a file system whose root is
// that file: a bind mount of a single file (/etc/hosts, /etc/resolv.conf,
// /dev/termination-log). The file is held as one host fd, opened for
// reading, and for writing when the capability carries write rights; the
// sentry cannot reopen it (it has no /proc), so every open of the file
// shares that fd and keeps an offset of its own.
type FileFS struct {
	fs   *FS // page caches and the memory they live in
	root *fileRoot
}

// NewFile serves the regular file fd. writable says whether fd is open
// for writing (the capability carries RightWrite).
func NewFile(fd int, writable bool) *FileFS {
	fs := &FS{root: -1, writable: writable}
	return &FileFS{fs: fs, root: &fileRoot{fs: fs, fd: fd}}
}

// SetMemory lets the file be mapped, through a page cache in mem.
func (f *FileFS) SetMemory(mem *mm.MemoryFile) { f.fs.SetMemory(mem) }

// Name implements vfs.FS: what a directory bind shows too.
func (*FileFS) Name() string { return "dirfs" }

// Root implements vfs.FS.
func (f *FileFS) Root() vfs.Inode { return f.root }

// ReadOnly reports whether the file cannot be written.
func (f *FileFS) ReadOnly() bool { return !f.fs.writable }

// fileRoot is the granted file.
type fileRoot struct {
	vfs.ReadOnlyInode
	fs *FS
	fd int
}

// Stat implements vfs.Inode.
func (r *fileRoot) Stat() (unix.Stat_t, error) {
	st, _, err := statName(r.fd, "")
	return st, err
}

// Statx implements vfs.Statxer.
func (r *fileRoot) Statx(mask uint32) (unix.Statx_t, error) {
	var sx unix.Statx_t
	err := unix.Statx(r.fd, "", unix.AT_EMPTY_PATH, int(mask|unix.STATX_BASIC_STATS), &sx)
	return sx, err
}

// Statfs implements vfs.Inode.
func (r *fileRoot) Statfs() (unix.Statfs_t, error) {
	var st unix.Statfs_t
	err := unix.Fstatfs(r.fd, &st)
	if err == nil && !r.fs.writable {
		st.Flags |= unix.ST_RDONLY
	}
	return st, err
}

// Open implements vfs.Inode. The new file has a duplicate of the granted
// fd, so closing it leaves the others open.
func (r *fileRoot) Open(flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		if !r.fs.writable {
			return nil, unix.EROFS
		}
	}
	if flags&unix.O_TRUNC != 0 {
		if err := unix.Ftruncate(r.fd, 0); err != nil {
			return nil, err
		}
		r.fs.truncated(r.fd, 0)
	}
	fd, err := unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := &ownOffsetFile{file: r.fs.newFile(fd, flags), appending: flags&unix.O_APPEND != 0}
	// newFile took the access mode from flags; mappings may store only
	// through a description opened for writing.
	return f, nil
}

// Setattr implements vfs.Inode on the fd: the host refuses changes to a
// read-only grant's file as well (its mount is read-only).
func (r *fileRoot) Setattr(a vfs.Attr) error {
	if !r.fs.writable {
		return unix.EROFS
	}
	if a.Mask&(vfs.AttrUID|vfs.AttrGID) != 0 {
		uid, gid := -1, -1
		if a.Mask&vfs.AttrUID != 0 {
			uid = int(a.UID)
		}
		if a.Mask&vfs.AttrGID != 0 {
			gid = int(a.GID)
		}
		if err := unix.Fchown(r.fd, uid, gid); err != nil {
			return err
		}
	}
	if a.Mask&vfs.AttrMode != 0 {
		if err := unix.Fchmod(r.fd, a.Mode&0o7777); err != nil {
			return err
		}
	}
	if a.Mask&vfs.AttrSize != 0 {
		if err := unix.Ftruncate(r.fd, a.Size); err != nil {
			return err
		}
		r.fs.truncated(r.fd, a.Size)
	}
	if a.Mask&(vfs.AttrAtime|vfs.AttrMtime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if a.Mask&vfs.AttrAtime != 0 {
			ts[0] = a.Atime
		}
		if a.Mask&vfs.AttrMtime != 0 {
			ts[1] = a.Mtime
		}
		if err := unix.UtimesNanoAt(r.fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
			return err
		}
	}
	return nil
}

// Getxattr implements vfs.Inode.
func (r *fileRoot) Getxattr(name string) ([]byte, error) {
	n, err := unix.Fgetxattr(r.fd, name, nil)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	n, err = unix.Fgetxattr(r.fd, name, buf)
	return buf[:max(n, 0)], err
}

// ServesFIFO implements vfs.FIFOServer (never asked: the file is regular).
func (r *fileRoot) ServesFIFO() bool { return false }

// ownOffsetFile is an open of a single granted file: the host fd is
// shared by every open, so the file position lives here, and reads and
// writes go to the host at an explicit offset.
type ownOffsetFile struct {
	*file
	mu        sync.Mutex
	off       int64
	appending bool
}

// Read implements vfs.File.
func (f *ownOffsetFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.file.Pread(p, f.off)
	if n > 0 {
		f.off += int64(n)
	}
	return n, err
}

// Write implements vfs.File. O_APPEND writes at the end the host reports
// (not atomically with another writer of the host file).
func (f *ownOffsetFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.appending {
		var st unix.Stat_t
		if err := unix.Fstat(f.FD(), &st); err != nil {
			return 0, err
		}
		f.off = st.Size
	}
	n, err := f.file.Pwrite(p, f.off)
	if n > 0 {
		f.off += int64(n)
	}
	return n, err
}

// Pwrite implements vfs.File: pwrite on an O_APPEND description appends,
// as Linux does.
func (f *ownOffsetFile) Pwrite(p []byte, off int64) (int, error) {
	if f.appending {
		return f.Write(p)
	}
	return f.file.Pwrite(p, off)
}

// Seek implements vfs.File.
func (f *ownOffsetFile) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var base int64
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		base = f.off
	case unix.SEEK_END, unix.SEEK_DATA, unix.SEEK_HOLE:
		var st unix.Stat_t
		if err := unix.Fstat(f.FD(), &st); err != nil {
			return 0, err
		}
		switch whence {
		case unix.SEEK_END:
			base = st.Size
		case unix.SEEK_DATA:
			// The whole file counts as data, as on file systems
			// without holes.
			if off >= st.Size || off < 0 {
				return 0, unix.ENXIO
			}
			f.off = off
			return off, nil
		case unix.SEEK_HOLE:
			if off >= st.Size || off < 0 {
				return 0, unix.ENXIO
			}
			f.off = st.Size
			return st.Size, nil
		}
	default:
		return 0, unix.EINVAL
	}
	n := base + off
	if n < 0 || (off > 0 && n < base) {
		return 0, unix.EINVAL
	}
	f.off = n
	return n, nil
}

// SetStatusFlags implements vfs.StatusFlagsSetter. O_APPEND is kept here:
// setting it on the shared host fd would make every open append.
func (f *ownOffsetFile) SetStatusFlags(flags int) {
	f.mu.Lock()
	f.appending = flags&unix.O_APPEND != 0
	f.mu.Unlock()
}
