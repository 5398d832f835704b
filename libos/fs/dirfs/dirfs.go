// Package dirfs is a file system over a dir capability: a host directory
// tree the sentry holds as an O_PATH fd.
//
// An inode is a path relative to that fd, not a host fd of its own, so a
// deep tree costs no fds. The VFS has already resolved every symlink and
// ".." itself, one component at a time, so the host is never asked to
// follow one: each host operation opens its target (or the target's
// parent directory, for the *at calls that take a name) with openat2 and
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV
// beneath the capability's fd. A path that meets a symlink on the host
// (the tree changed under us) fails with ELOOP instead of going anywhere
// else, and a host mount inside the tree (the capability was not a
// detached mount clone) is never crossed: its mount point looks like an
// empty directory.
package dirfs

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/hostfd"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

// FS is one dir capability seen as a file system.
type FS struct {
	root     int
	writable bool
	// hostUID and hostGID own what the sentry creates on the host;
	// files made for anyone else are chowned to them.
	hostUID, hostGID uint32
	rootInode        *inode
	// dirs caches directory fds of a read-only tree (nil if writable).
	dirs *dirCache
	// mem holds the page caches of mapped files (nil: none).
	mem *mm.MemoryFile
	caches
}

// dirCacheSize is how many directory fds a read-only tree keeps open.
const dirCacheSize = 128

// New serves the tree under the O_PATH directory fd root. writable says
// whether the capability carries write rights; without them every change
// fails with EROFS in the library OS, before the host (whose mount is
// read-only too) is asked.
//
// Modes of new files are computed by the VFS (the task's umask applied),
// so New clears the sentry process's own umask: the host must not mask
// them again.
func New(root int, writable bool) *FS {
	syscall.Umask(0)
	fs := &FS{root: root, writable: writable, hostUID: uint32(os.Geteuid()), hostGID: uint32(os.Getegid())}
	fs.rootInode = &inode{fs: fs, typ: unix.S_IFDIR}
	if !writable {
		fs.dirs = newDirCache(dirCacheSize)
	}
	return fs
}

// Name implements vfs.FS.
func (*FS) Name() string { return "dirfs" }

// Root implements vfs.FS.
func (fs *FS) Root() vfs.Inode { return fs.rootInode }

// ReadOnly reports whether the capability lacks write rights; the sandbox
// mounts such a tree read-only.
func (fs *FS) ReadOnly() bool { return !fs.writable }

const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// open opens rel beneath the root. EXDEV (rel crosses a host mount) is
// returned as is; callers decide what it means.
func (fs *FS) open(rel string, flags int, mode uint32) (int, error) {
	if rel == "" {
		rel = "."
	}
	return openBeneath(fs.root, rel, flags, mode)
}

// openBeneath opens rel beneath the directory fd dirfd, following
// nothing.
func openBeneath(dirfd int, rel string, flags int, mode uint32) (int, error) {
	flags |= unix.O_CLOEXEC
	if flags&unix.O_PATH == 0 {
		// Never let a host terminal become the sentry's controlling
		// terminal. (openat2 refuses O_NOCTTY with O_PATH.)
		flags |= unix.O_NOCTTY
	}
	for {
		fd, err := unix.Openat2(dirfd, rel, &unix.OpenHow{
			Flags:   uint64(flags),
			Mode:    uint64(mode),
			Resolve: resolveFlags,
		})
		// EAGAIN: a concurrent rename on the host raced the lookup, and
		// the kernel asks for another try.
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// openNode opens the file rel names: for a read-only tree through the
// cached fd of its parent (one component for the host to resolve), else
// from the root.
func (fs *FS) openNode(rel string, flags int, mode uint32) (int, error) {
	if fs.dirs == nil || rel == "" {
		return fs.open(rel, flags, mode)
	}
	dir, name := split(rel)
	fd := -1
	err := fs.withDir(dir, func(dirfd int) error {
		var err error
		fd, err = openBeneath(dirfd, name, flags, mode)
		return err
	})
	return fd, err
}

// noXdev turns EXDEV (a path below a host mount point, which the sandbox
// sees as an empty directory) into ENOENT.
func noXdev(err error) error {
	if err == unix.EXDEV {
		return unix.ENOENT
	}
	return err
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func split(p string) (string, string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// inode is a file of the tree, named by its path from the root.
type inode struct {
	fs   *FS
	path string
	// typ is the file type the lookup saw (S_IFMT bits).
	typ uint32

	// st is what the lookup that made the inode saw; the first Stat
	// returns it, so a path walk asks the host once per component. Later
	// Stats ask the host again.
	mu sync.Mutex
	st *unix.Stat_t
}

// withDir opens the directory p (O_PATH) and runs fn on it.
func (fs *FS) withDir(p string, fn func(fd int) error) error {
	if p == "" {
		return fn(fs.root)
	}
	if fs.dirs != nil {
		e := fs.dirs.get(p)
		if e == nil {
			fd, err := fs.open(p, unix.O_PATH|unix.O_DIRECTORY, 0)
			if err != nil {
				return noXdev(err)
			}
			e = fs.dirs.add(p, fd)
		}
		defer fs.dirs.put(e)
		return fn(e.fd)
	}
	fd, err := fs.open(p, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return noXdev(err)
	}
	defer unix.Close(fd)
	return fn(fd)
}

// withParent opens the directory holding i and runs fn on it with i's
// name. The root has no parent in the tree: EBUSY, which no VFS path
// reaches.
func (i *inode) withParent(fn func(dirfd int, name string) error) error {
	if i.path == "" {
		return unix.EBUSY
	}
	dir, name := split(i.path)
	return i.fs.withDir(dir, func(fd int) error { return fn(fd, name) })
}

// withSelf opens i itself, O_PATH and without following it, and runs fn.
func (i *inode) withSelf(fn func(fd int) error) error {
	if i.path == "" {
		return fn(i.fs.root)
	}
	fd, err := i.fs.openNode(i.path, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return noXdev(err)
	}
	defer unix.Close(fd)
	return fn(fd)
}

func (i *inode) writable() error {
	if !i.fs.writable {
		return unix.EROFS
	}
	return nil
}

// statName stats name in the directory dirfd without following it. A
// host mount's root (a mount point inside the granted tree) is reported
// by mountRoot.
func statName(dirfd int, name string) (st unix.Stat_t, mountRoot bool, err error) {
	var sx unix.Statx_t
	for {
		err = unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT|unix.AT_EMPTY_PATH, unix.STATX_BASIC_STATS, &sx)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return st, false, err
	}
	st = unix.Stat_t{
		Dev:     unix.Mkdev(sx.Dev_major, sx.Dev_minor),
		Ino:     sx.Ino,
		Nlink:   uint64(sx.Nlink),
		Mode:    uint32(sx.Mode),
		Uid:     sx.Uid,
		Gid:     sx.Gid,
		Rdev:    unix.Mkdev(sx.Rdev_major, sx.Rdev_minor),
		Size:    int64(sx.Size),
		Blksize: int64(sx.Blksize),
		Blocks:  int64(sx.Blocks),
		Atim:    unix.Timespec{Sec: sx.Atime.Sec, Nsec: int64(sx.Atime.Nsec)},
		Mtim:    unix.Timespec{Sec: sx.Mtime.Sec, Nsec: int64(sx.Mtime.Nsec)},
		Ctim:    unix.Timespec{Sec: sx.Ctime.Sec, Nsec: int64(sx.Ctime.Nsec)},
	}
	mountRoot = name != "" && sx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && sx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
	return st, mountRoot, nil
}

// Stat implements vfs.Inode.
func (i *inode) Stat() (unix.Stat_t, error) {
	i.mu.Lock()
	if st := i.st; st != nil {
		i.st = nil
		i.mu.Unlock()
		return *st, nil
	}
	i.mu.Unlock()
	var st unix.Stat_t
	var err error
	if i.path == "" {
		st, _, err = statName(i.fs.root, "")
	} else {
		err = i.withParent(func(dirfd int, name string) error {
			st, _, err = statName(dirfd, name)
			return err
		})
	}
	return st, err
}

// forget drops the attributes the lookup saw, after a change.
func (i *inode) forget() {
	i.mu.Lock()
	i.st = nil
	i.mu.Unlock()
}

// Lookup implements vfs.Inode.
func (i *inode) Lookup(name string) (vfs.Inode, error) {
	var (
		st        unix.Stat_t
		mountRoot bool
	)
	err := i.fs.withDir(i.path, func(fd int) error {
		var err error
		st, mountRoot, err = statName(fd, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	p := join(i.path, name)
	if mountRoot {
		return i.fs.mountPoint(p, &st), nil
	}
	return &inode{fs: i.fs, path: p, typ: st.Mode & unix.S_IFMT, st: &st}, nil
}

// Open implements vfs.Inode. The host fd is always non-blocking, so a
// FIFO's open does not hang the sentry; the File waits for readiness in
// the library OS instead (see hostfd).
func (i *inode) Open(flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		if err := i.writable(); err != nil {
			return nil, err
		}
	}
	fd, err := i.fs.openNode(i.path, flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_TMPFILE|unix.O_PATH)|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, noXdev(err)
	}
	i.forget()
	if i.typ == unix.S_IFREG {
		return i.fs.newFile(fd, flags), nil
	}
	return hostfd.New(fd), nil
}

// Readlink implements vfs.Inode.
func (i *inode) Readlink() (string, error) {
	if i.path == "" {
		return "", unix.EINVAL
	}
	var target string
	err := i.withParent(func(dirfd int, name string) error {
		buf := make([]byte, unix.PathMax)
		for {
			n, err := unix.Readlinkat(dirfd, name, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			target = string(buf[:n])
			return nil
		}
	})
	return target, err
}

// chown gives a file the sandbox made on the host the owner the VFS
// asked for (the sentry's own ids need no call).
func (fs *FS) chown(dirfd int, name string, c vfs.Cred) error {
	if c.UID == fs.hostUID && c.GID == fs.hostGID {
		return nil
	}
	return unix.Fchownat(dirfd, name, int(c.UID), int(c.GID), unix.AT_SYMLINK_NOFOLLOW)
}

// made is the inode for name, just made in directory i.
func (i *inode) made(dirfd int, name string) (vfs.Inode, error) {
	st, _, err := statName(dirfd, name)
	if err != nil {
		return nil, err
	}
	return &inode{fs: i.fs, path: join(i.path, name), typ: st.Mode & unix.S_IFMT, st: &st}, nil
}

// create runs mk (which makes name in the directory dirfd), sets the new
// file's owner, and removes it again if that fails.
func (i *inode) create(name string, c vfs.Cred, dir bool, mk func(dirfd int) error) (vfs.Inode, error) {
	if err := i.writable(); err != nil {
		return nil, err
	}
	var ino vfs.Inode
	err := i.fs.withDir(i.path, func(fd int) error {
		if err := mk(fd); err != nil {
			return err
		}
		if err := i.fs.chown(fd, name, c); err != nil {
			flag := 0
			if dir {
				flag = unix.AT_REMOVEDIR
			}
			unix.Unlinkat(fd, name, flag)
			return err
		}
		var err error
		ino, err = i.made(fd, name)
		return err
	})
	return ino, err
}

// Create implements vfs.Inode.
func (i *inode) Create(name string, mode uint32, c vfs.Cred) (vfs.Inode, error) {
	return i.create(name, c, false, func(dirfd int) error {
		// O_EXCL|O_NOFOLLOW on a single name: nothing is followed.
		fd, err := unix.Openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, mode&0o7777)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	})
}

// Mkdir implements vfs.Inode.
func (i *inode) Mkdir(name string, mode uint32, c vfs.Cred) (vfs.Inode, error) {
	return i.create(name, c, true, func(dirfd int) error { return unix.Mkdirat(dirfd, name, mode&0o7777) })
}

// Mknod implements vfs.Inode: FIFOs and sockets only (the capability's
// mount is nodev anyway).
func (i *inode) Mknod(name string, mode uint32, dev uint64, c vfs.Cred) (vfs.Inode, error) {
	switch mode & unix.S_IFMT {
	case unix.S_IFIFO, unix.S_IFSOCK:
	default:
		return nil, unix.EPERM
	}
	return i.create(name, c, false, func(dirfd int) error { return unix.Mknodat(dirfd, name, mode, 0) })
}

// Symlink implements vfs.Inode.
func (i *inode) Symlink(name, target string, c vfs.Cred) (vfs.Inode, error) {
	return i.create(name, c, false, func(dirfd int) error { return unix.Symlinkat(target, dirfd, name) })
}

// Link implements vfs.Inode.
func (i *inode) Link(name string, target vfs.Inode) error {
	if err := i.writable(); err != nil {
		return err
	}
	if tt, ok := target.(*tmpInode); ok && tt.fs == i.fs {
		// An O_TMPFILE file gets its first name through its descriptor.
		return i.fs.withDir(i.path, func(fd int) error {
			return unix.Linkat(tt.fd, "", fd, name, unix.AT_EMPTY_PATH)
		})
	}
	t, ok := target.(*inode)
	if !ok || t.fs != i.fs {
		return unix.EXDEV
	}
	return t.withParent(func(tdir int, tname string) error {
		return i.fs.withDir(i.path, func(fd int) error { return unix.Linkat(tdir, tname, fd, name, 0) })
	})
}

// Unlink implements vfs.Inode.
func (i *inode) Unlink(name string) error {
	if err := i.writable(); err != nil {
		return err
	}
	return i.fs.withDir(i.path, func(fd int) error { return unix.Unlinkat(fd, name, 0) })
}

// Rmdir implements vfs.Inode.
func (i *inode) Rmdir(name string) error {
	if err := i.writable(); err != nil {
		return err
	}
	return i.fs.withDir(i.path, func(fd int) error { return unix.Unlinkat(fd, name, unix.AT_REMOVEDIR) })
}

// Rename implements vfs.Inode.
func (i *inode) Rename(oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	if err := i.writable(); err != nil {
		return err
	}
	nd, ok := newDir.(*inode)
	if !ok || nd.fs != i.fs {
		return unix.EXDEV
	}
	return i.fs.withDir(i.path, func(ofd int) error {
		return i.fs.withDir(nd.path, func(nfd int) error {
			return unix.Renameat2(ofd, oldName, nfd, newName, uint(flags))
		})
	})
}

// fchmodat2 is fchmodat2(2) (Linux 6.6), the one chmod that takes
// AT_EMPTY_PATH and so works on an O_PATH fd.
func fchmodat2(fd int, mode uint32) error {
	empty := [1]byte{}
	_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), uintptr(mode), unix.AT_EMPTY_PATH, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// Setattr implements vfs.Inode. Each change is made on an O_PATH fd of
// the file itself where the host allows it, so no name is looked up
// twice.
func (i *inode) Setattr(a vfs.Attr) error {
	if err := i.writable(); err != nil {
		return err
	}
	defer i.forget()
	if a.Mask&(vfs.AttrUID|vfs.AttrGID) != 0 {
		uid, gid := -1, -1
		if a.Mask&vfs.AttrUID != 0 {
			uid = int(a.UID)
		}
		if a.Mask&vfs.AttrGID != 0 {
			gid = int(a.GID)
		}
		if err := i.withSelf(func(fd int) error {
			return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
		}); err != nil {
			return err
		}
	}
	if a.Mask&vfs.AttrMode != 0 {
		err := i.withSelf(func(fd int) error { return fchmodat2(fd, a.Mode&0o7777) })
		if err == unix.ENOSYS {
			// Before Linux 6.6: chmod by name in the parent. The VFS never
			// asks to chmod a symlink, so the name is not followed.
			err = i.withParent(func(dirfd int, name string) error { return unix.Fchmodat(dirfd, name, a.Mode&0o7777, 0) })
		}
		if err != nil {
			return err
		}
	}
	if a.Mask&vfs.AttrSize != 0 {
		fd, err := i.fs.open(i.path, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			return noXdev(err)
		}
		err = unix.Ftruncate(fd, a.Size)
		if err == nil {
			i.fs.truncated(fd, a.Size)
		}
		unix.Close(fd)
		if err != nil {
			return err
		}
	}
	if a.Mask&(vfs.AttrAtime|vfs.AttrMtime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if a.Mask&vfs.AttrAtime != 0 {
			ts[0] = a.Atime
		}
		if a.Mask&vfs.AttrMtime != 0 {
			ts[1] = a.Mtime
		}
		err := i.withSelf(func(fd int) error {
			return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
		})
		if err == unix.EINVAL && i.path != "" {
			// Hosts before 5.8 have no AT_EMPTY_PATH for utimensat.
			err = i.withParent(func(dirfd int, name string) error {
				return unix.UtimesNanoAt(dirfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Statfs implements vfs.Inode with the host's figures for the tree.
func (i *inode) Statfs() (unix.Statfs_t, error) {
	var st unix.Statfs_t
	err := i.withSelf(func(fd int) error { return unix.Fstatfs(fd, &st) })
	if err == nil && !i.fs.writable {
		st.Flags |= unix.ST_RDONLY
	}
	return st, err
}

// withReadable opens i for reading (the host has no xattr calls on an
// O_PATH fd, and the sentry has no /proc to name one by) and runs fn.
// A file that cannot be opened so (a symlink, a socket) has no extended
// attributes as far as the sandbox can tell.
func (i *inode) withReadable(fn func(fd int) error) error {
	fd, err := i.fs.openNode(i.path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	switch err {
	case nil:
	case unix.ELOOP, unix.ENXIO, unix.EACCES, unix.EPERM:
		return unix.ENOTSUP
	default:
		return noXdev(err)
	}
	defer unix.Close(fd)
	return fn(fd)
}

// Getxattr implements vfs.Inode.
func (i *inode) Getxattr(name string) ([]byte, error) {
	var val []byte
	err := i.withReadable(func(fd int) error {
		for {
			n, err := unix.Fgetxattr(fd, name, nil)
			if err != nil {
				return err
			}
			buf := make([]byte, n)
			n, err = unix.Fgetxattr(fd, name, buf)
			if err == unix.ERANGE {
				continue // it grew in between
			}
			if err != nil {
				return err
			}
			val = buf[:n]
			return nil
		}
	})
	return val, err
}

// hostSettable says which attributes the sandbox may set on host files:
// only user.*. The others (security.capability, trusted.*) mean something
// to the host itself, which must not take them from a container.
func hostSettable(name string) bool { return strings.HasPrefix(name, "user.") }

// Setxattr implements vfs.Inode.
func (i *inode) Setxattr(name string, value []byte, flags int) error {
	if err := i.writable(); err != nil {
		return err
	}
	if !hostSettable(name) {
		return unix.ENOTSUP
	}
	return i.withReadable(func(fd int) error { return unix.Fsetxattr(fd, name, value, flags) })
}

// Listxattr implements vfs.Inode.
func (i *inode) Listxattr() ([]string, error) {
	var names []string
	err := i.withReadable(func(fd int) error {
		for {
			n, err := unix.Flistxattr(fd, nil)
			if err != nil || n == 0 {
				return err
			}
			buf := make([]byte, n)
			n, err = unix.Flistxattr(fd, buf)
			if err == unix.ERANGE {
				continue
			}
			if err != nil {
				return err
			}
			for _, s := range strings.Split(string(buf[:n]), "\x00") {
				if s != "" {
					names = append(names, s)
				}
			}
			return nil
		}
	})
	if err == unix.ENOTSUP {
		return nil, nil
	}
	return names, err
}

// Removexattr implements vfs.Inode.
func (i *inode) Removexattr(name string) error {
	if err := i.writable(); err != nil {
		return err
	}
	if !hostSettable(name) {
		return unix.ENOTSUP
	}
	return i.withReadable(func(fd int) error { return unix.Fremovexattr(fd, name) })
}

// mountPoint is a host mount point inside the granted tree: the mount is
// not part of the capability, so the sandbox sees an empty directory
// that cannot be changed.
type mountPoint struct {
	vfs.ReadOnlyInode
	fs   *FS
	path string
	st   unix.Stat_t
}

func (fs *FS) mountPoint(p string, host *unix.Stat_t) *mountPoint {
	// Nothing of the hidden mount shows but its inode number: the owner
	// and device are the parent's (the root's, for simplicity).
	root, _, _ := statName(fs.root, "")
	st := unix.Stat_t{Dev: root.Dev, Ino: host.Ino, Nlink: 2, Mode: unix.S_IFDIR | 0o755,
		Uid: root.Uid, Gid: root.Gid, Blksize: 4096, Atim: root.Atim, Mtim: root.Mtim, Ctim: root.Ctim}
	return &mountPoint{fs: fs, path: p, st: st}
}

// Stat implements vfs.Inode.
func (m *mountPoint) Stat() (unix.Stat_t, error) { return m.st, nil }

// Lookup implements vfs.Inode.
func (m *mountPoint) Lookup(string) (vfs.Inode, error) { return nil, unix.ENOENT }

// Open implements vfs.Inode.
func (m *mountPoint) Open(flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EISDIR
	}
	return vfs.NewDirFile(m, func() ([]vfs.Dirent, error) { return nil, nil }), nil
}

// Statfs implements vfs.Inode.
func (m *mountPoint) Statfs() (unix.Statfs_t, error) { return m.fs.rootInode.Statfs() }

// Statx implements vfs.Statxer, for the fields stat has no room for (the
// birth time).
func (i *inode) Statx(mask uint32) (unix.Statx_t, error) {
	var sx unix.Statx_t
	stat := func(dirfd int, name string) error {
		return unix.Statx(dirfd, name, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT|unix.AT_EMPTY_PATH, int(mask|unix.STATX_BASIC_STATS), &sx)
	}
	if i.path == "" {
		return sx, stat(i.fs.root, "")
	}
	return sx, i.withParent(stat)
}

// ServesFIFO implements vfs.FIFOServer: no. A FIFO in a granted tree is a
// pipe of the library OS, met by every open in the sandbox; the host's
// FIFO is never opened, since a host open cannot wait for the other end
// without blocking the sentry.
func (i *inode) ServesFIFO() bool { return false }

// Tmpfile implements vfs.TmpfileMaker with the host's O_TMPFILE.
func (i *inode) Tmpfile(mode uint32, flags int, c vfs.Cred) (vfs.Inode, vfs.File, error) {
	if err := i.writable(); err != nil {
		return nil, nil, err
	}
	fd, err := i.fs.open(i.path, flags&^(unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC|unix.O_DIRECTORY)|unix.O_TMPFILE|unix.O_NONBLOCK, mode&0o7777)
	if err != nil {
		return nil, nil, noXdev(err)
	}
	if c.UID != i.fs.hostUID || c.GID != i.fs.hostGID {
		if err := unix.Fchown(fd, int(c.UID), int(c.GID)); err != nil {
			unix.Close(fd)
			return nil, nil, err
		}
	}
	// The inode keeps a descriptor of its own: the file may be closed
	// while the inode is still wanted, and linkat names it by fd.
	ifd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	ti := &tmpInode{fs: i.fs, fd: ifd}
	runtime.AddCleanup(ti, func(fd int) { unix.Close(fd) }, ifd)
	return ti, i.fs.newFile(fd, flags), nil
}

// tmpInode is a file made with O_TMPFILE: it has no name on the host
// until Link gives it one, so it is reached through a descriptor.
type tmpInode struct {
	vfs.ReadOnlyInode
	fs *FS
	fd int
}

// Stat implements vfs.Inode.
func (t *tmpInode) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(t.fd, &st)
	return st, err
}

// Open implements vfs.Inode (a reopen through /proc/self/fd).
func (t *tmpInode) Open(flags int) (vfs.File, error) { return nil, unix.ENXIO }

// Setattr implements vfs.Inode on the descriptor.
func (t *tmpInode) Setattr(a vfs.Attr) error {
	if a.Mask&(vfs.AttrUID|vfs.AttrGID) != 0 {
		uid, gid := -1, -1
		if a.Mask&vfs.AttrUID != 0 {
			uid = int(a.UID)
		}
		if a.Mask&vfs.AttrGID != 0 {
			gid = int(a.GID)
		}
		if err := unix.Fchown(t.fd, uid, gid); err != nil {
			return err
		}
	}
	if a.Mask&vfs.AttrMode != 0 {
		if err := unix.Fchmod(t.fd, a.Mode&0o7777); err != nil {
			return err
		}
	}
	if a.Mask&vfs.AttrSize != 0 {
		if err := unix.Ftruncate(t.fd, a.Size); err != nil {
			return err
		}
	}
	if a.Mask&(vfs.AttrAtime|vfs.AttrMtime) != 0 {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if a.Mask&vfs.AttrAtime != 0 {
			ts[0] = a.Atime
		}
		if a.Mask&vfs.AttrMtime != 0 {
			ts[1] = a.Mtime
		}
		if err := unix.UtimesNanoAt(t.fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
			return err
		}
	}
	return nil
}

// Statfs implements vfs.Inode.
func (t *tmpInode) Statfs() (unix.Statfs_t, error) {
	var st unix.Statfs_t
	err := unix.Fstatfs(t.fd, &st)
	return st, err
}
