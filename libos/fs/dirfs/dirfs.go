// Package dirfs is a file system over a dir capability: a host directory
// tree the sentry holds as an O_PATH fd. Every lookup goes through openat2
// beneath that fd with RESOLVE_IN_ROOT, so ".." and absolute symlinks stop
// at the tree's root, and RESOLVE_NO_XDEV keeps lookups off host mounts
// that happen to sit inside the tree (a host /proc under a rootfs of "/").
package dirfs

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/hostfd"
	"exokernelul.dev/exo/libos/vfs"
)

// FS is one dir capability seen as a file system.
type FS struct {
	root     int
	writable bool
}

// New serves the tree under the O_PATH directory fd root. writable says
// whether the capability carries write rights; without them the library OS
// refuses writes itself too, even where the host would also refuse them.
func New(root int, writable bool) *FS { return &FS{root: root, writable: writable} }

// Name implements vfs.FileSystem.
func (*FS) Name() string { return "dirfs" }

const resolve = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

func (fs *FS) open(rel string, flags int, mode uint32) (int, error) {
	if rel == "" {
		rel = "."
	}
	for {
		fd, err := unix.Openat2(fs.root, rel, &unix.OpenHow{
			Flags:   uint64(flags | unix.O_CLOEXEC),
			Mode:    uint64(mode),
			Resolve: resolve,
		})
		if err == unix.EINTR || err == unix.EAGAIN {
			// EAGAIN: a concurrent rename raced the lookup; the kernel
			// asks us to try again.
			continue
		}
		if err == unix.EXDEV {
			// The path crosses into a host mount that is not part of the
			// granted tree; inside the sandbox that is an empty mount point.
			return -1, unix.ENOENT
		}
		return fd, err
	}
}

func wantsWrite(flags int) bool {
	return flags&unix.O_ACCMODE != unix.O_RDONLY || flags&(unix.O_CREAT|unix.O_TRUNC|unix.O_TMPFILE&^unix.O_DIRECTORY) != 0
}

// Open implements vfs.FileSystem.
func (fs *FS) Open(rel string, flags int, mode uint32) (vfs.File, error) {
	if !fs.writable && wantsWrite(flags) {
		// Linux reports EROFS only if the file would be written; a
		// missing file with O_CREAT on a read-only fs is also EROFS.
		return nil, unix.EROFS
	}
	fd, err := fs.open(rel, flags&^unix.O_CLOEXEC, mode)
	if err != nil {
		return nil, err
	}
	return hostfd.New(fd), nil
}

// Stat implements vfs.FileSystem.
func (fs *FS) Stat(rel string, follow bool) (unix.Stat_t, error) {
	var st unix.Stat_t
	flags := unix.O_PATH
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := fs.open(rel, flags, 0)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	err = unix.Fstat(fd, &st)
	return st, err
}

// Readlink implements vfs.FileSystem.
func (fs *FS) Readlink(rel string) (string, error) {
	fd, err := fs.open(rel, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// ReadOnly implements vfs.ReadOnlyFS.
func (fs *FS) ReadOnly() bool { return !fs.writable }

// Statfs implements vfs.StatFSer. The host's figures for the tree are
// reported, with the read-only flag when the capability has no write right.
func (fs *FS) Statfs(rel string) (unix.Statfs_t, error) {
	var st unix.Statfs_t
	fd, err := fs.open(rel, unix.O_PATH, 0)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	if err := unix.Fstatfs(fd, &st); err != nil {
		return st, err
	}
	if !fs.writable {
		st.Flags |= unix.ST_RDONLY
	}
	return st, nil
}
