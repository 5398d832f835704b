package vfs

import (
	"golang.org/x/sys/unix"
)

// This file is the file system side of the VFS: what a file system
// (dirfs, tmpfs, overlay, proc, dev) implements. The VFS resolves paths
// itself, one component at a time, crossing mounts and following
// symlinks, and calls an Inode's methods with single names (never "",
// ".", ".." or anything with a "/").

// Cred is who is asking, for new files' owners and permission checks.
type Cred struct {
	UID, GID uint32
	// Groups are the supplementary groups.
	Groups []uint32
}

// Attr is a change of attributes (chmod, chown, truncate, utimes). Only
// the fields named in Mask are applied; times are concrete (the syscall
// layer has resolved UTIME_NOW and UTIME_OMIT).
type Attr struct {
	Mask  uint32
	Mode  uint32 // permission bits and S_ISUID/S_ISGID/S_ISVTX only
	UID   uint32
	GID   uint32
	Size  int64
	Atime unix.Timespec
	Mtime unix.Timespec
}

// Attr mask bits.
const (
	AttrMode uint32 = 1 << iota
	AttrUID
	AttrGID
	AttrSize
	AttrAtime
	AttrMtime
)

// Inode is one file system object as its file system implements it.
// Methods that only make sense on a directory are called only on
// directories; the VFS checks the file type first.
type Inode interface {
	// Stat returns the inode's attributes; st_dev names the file system
	// instance and st_ino the inode within it.
	Stat() (unix.Stat_t, error)
	// Open opens the inode. flags are open(2)'s access mode and status
	// flags (O_APPEND, O_NONBLOCK, O_DIRECT, O_NOATIME, O_PATH,
	// O_DIRECTORY); O_TRUNC asks the file system to truncate a regular
	// file as part of the open. O_CREAT and O_EXCL have been handled.
	Open(flags int) (File, error)
	// Readlink returns a symlink's target; EINVAL if it is not a symlink.
	Readlink() (string, error)

	// Lookup finds the child name of a directory (ENOENT if none).
	Lookup(name string) (Inode, error)
	// Create makes a regular file; EEXIST if name exists.
	Create(name string, mode uint32, c Cred) (Inode, error)
	// Mkdir makes a directory; EEXIST if name exists.
	Mkdir(name string, mode uint32, c Cred) (Inode, error)
	// Mknod makes a FIFO, socket or device node (mode carries the type).
	Mknod(name string, mode uint32, dev uint64, c Cred) (Inode, error)
	// Symlink makes a symlink to target.
	Symlink(name, target string, c Cred) (Inode, error)
	// Link makes name a new hard link to target, an inode of the same
	// file system (the VFS returns EXDEV otherwise).
	Link(name string, target Inode) error
	// Unlink removes a non-directory; EISDIR for a directory.
	Unlink(name string) error
	// Rmdir removes an empty directory; ENOTEMPTY, ENOTDIR.
	Rmdir(name string) error
	// Rename moves oldName to newDir/newName (newDir is a directory of
	// the same file system). flags are renameat2's RENAME_NOREPLACE,
	// RENAME_EXCHANGE.
	Rename(oldName string, newDir Inode, newName string, flags uint32) error

	// Setattr changes attributes.
	Setattr(a Attr) error
	// Statfs describes the file system.
	Statfs() (unix.Statfs_t, error)

	// Extended attributes; ENOTSUP (EOPNOTSUPP) where the file system
	// has none, ENODATA for a missing attribute.
	Getxattr(name string) ([]byte, error)
	Setxattr(name string, value []byte, flags int) error
	Listxattr() ([]string, error)
	Removexattr(name string) error
}

// FS is a mounted file system instance.
type FS interface {
	// Name is the type as /proc/mounts shows it ("tmpfs", "overlay").
	Name() string
	// Root is the file system's root directory.
	Root() Inode
}

// ReadOnlyInode answers every changing method of Inode with EROFS (or
// ENOTDIR, for a method only directories have), so read-only file systems
// embed it and implement only what they can do.
type ReadOnlyInode struct{}

// Lookup implements Inode.
func (ReadOnlyInode) Lookup(string) (Inode, error) { return nil, unix.ENOTDIR }

// Readlink implements Inode.
func (ReadOnlyInode) Readlink() (string, error) { return "", unix.EINVAL }

// Create implements Inode.
func (ReadOnlyInode) Create(string, uint32, Cred) (Inode, error) { return nil, unix.EROFS }

// Mkdir implements Inode.
func (ReadOnlyInode) Mkdir(string, uint32, Cred) (Inode, error) { return nil, unix.EROFS }

// Mknod implements Inode.
func (ReadOnlyInode) Mknod(string, uint32, uint64, Cred) (Inode, error) { return nil, unix.EROFS }

// Symlink implements Inode.
func (ReadOnlyInode) Symlink(string, string, Cred) (Inode, error) { return nil, unix.EROFS }

// Link implements Inode.
func (ReadOnlyInode) Link(string, Inode) error { return unix.EROFS }

// Unlink implements Inode.
func (ReadOnlyInode) Unlink(string) error { return unix.EROFS }

// Rmdir implements Inode.
func (ReadOnlyInode) Rmdir(string) error { return unix.EROFS }

// Rename implements Inode.
func (ReadOnlyInode) Rename(string, Inode, string, uint32) error { return unix.EROFS }

// Setattr implements Inode.
func (ReadOnlyInode) Setattr(Attr) error { return unix.EROFS }

// Statfs implements Inode.
func (ReadOnlyInode) Statfs() (unix.Statfs_t, error) {
	return unix.Statfs_t{Bsize: 4096, Namelen: 255, Frsize: 4096, Flags: unix.ST_RDONLY}, nil
}

// Getxattr implements Inode.
func (ReadOnlyInode) Getxattr(string) ([]byte, error) { return nil, unix.ENOTSUP }

// Setxattr implements Inode.
func (ReadOnlyInode) Setxattr(string, []byte, int) error { return unix.ENOTSUP }

// Listxattr implements Inode.
func (ReadOnlyInode) Listxattr() ([]string, error) { return nil, nil }

// Removexattr implements Inode.
func (ReadOnlyInode) Removexattr(string) error { return unix.ENOTSUP }
