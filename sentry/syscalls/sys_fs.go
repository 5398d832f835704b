package syscalls

import (
	"encoding/binary"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/pipe"
	"exokernelul.dev/exo/libos/kernel"
	unixsock "exokernelul.dev/exo/libos/net/unix"
	"exokernelul.dev/exo/libos/vfs"
)

// This file is the file system calls that work on names and on the
// attributes of files: the VFS resolves and checks (libos/vfs/ops.go);
// here arguments are copied in and decoded, and results copied out.

func init() {
	register(SysAccess, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return faccessat(t, unix.AT_FDCWD, a[0], u32Arg(a[1]), 0)
	})
	register(SysFaccessat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return faccessat(t, fdArg(a[0]), a[1], u32Arg(a[2]), 0)
	})
	register(SysFaccessat2, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return faccessat(t, fdArg(a[0]), a[1], u32Arg(a[2]), intArg(a[3]))
	})
	register(SysGetcwd, sysGetcwd)
	register(SysChdir, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		p, err := copyInPath(t, a[0])
		if err != nil {
			return 0, err
		}
		return 0, t.Chdir(p)
	})
	register(SysFchdir, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, t.Fchdir(fdArg(a[0])) })
	register(SysChroot, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		p, err := copyInPath(t, a[0])
		if err != nil {
			return 0, err
		}
		return 0, t.Chroot(p)
	})
	register(SysReadlink, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return readlinkat(t, unix.AT_FDCWD, a[0], a[1], a[2])
	})
	register(SysReadlinkat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return readlinkat(t, fdArg(a[0]), a[1], a[2], a[3])
	})
	register(SysStatx, sysStatx)
	register(SysStatfs, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		p, err := copyInPath(t, a[0])
		if err != nil {
			return 0, err
		}
		st, err := t.Statfs(p)
		if err != nil {
			return 0, err
		}
		return copyOutStatfs(t, a[1], st)
	})
	register(SysFstatfs, sysFstatfs)

	register(SysMkdir, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return mkdirat(t, unix.AT_FDCWD, a[0], u32Arg(a[1]))
	})
	register(SysMkdirat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return mkdirat(t, fdArg(a[0]), a[1], u32Arg(a[2]))
	})
	register(SysMknod, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return mknodat(t, unix.AT_FDCWD, a[0], u32Arg(a[1]), a[2])
	})
	register(SysMknodat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return mknodat(t, fdArg(a[0]), a[1], u32Arg(a[2]), a[3])
	})
	register(SysRmdir, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		p, err := copyInPath(t, a[0])
		if err != nil {
			return 0, err
		}
		return 0, t.Rmdir(unix.AT_FDCWD, p)
	})
	register(SysUnlink, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return unlinkat(t, unix.AT_FDCWD, a[0], 0)
	})
	register(SysUnlinkat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return unlinkat(t, fdArg(a[0]), a[1], intArg(a[2]))
	})
	register(SysRename, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return renameat2(t, unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
	})
	register(SysRenameat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return renameat2(t, fdArg(a[0]), a[1], fdArg(a[2]), a[3], 0)
	})
	register(SysRenameat2, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return renameat2(t, fdArg(a[0]), a[1], fdArg(a[2]), a[3], u32Arg(a[4]))
	})
	register(SysLink, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return linkat(t, unix.AT_FDCWD, a[0], unix.AT_FDCWD, a[1], 0)
	})
	register(SysLinkat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return linkat(t, fdArg(a[0]), a[1], fdArg(a[2]), a[3], intArg(a[4]))
	})
	register(SysSymlink, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return symlinkat(t, a[0], unix.AT_FDCWD, a[1])
	})
	register(SysSymlinkat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return symlinkat(t, a[0], fdArg(a[1]), a[2])
	})

	register(SysChmod, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return fchmodat(t, unix.AT_FDCWD, a[0], u32Arg(a[1]), 0)
	})
	register(SysFchmod, sysFchmod)
	register(SysFchmodat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return fchmodat(t, fdArg(a[0]), a[1], u32Arg(a[2]), 0)
	})
	register(SysFchmodat2, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return fchmodat(t, fdArg(a[0]), a[1], u32Arg(a[2]), intArg(a[3]))
	})
	register(SysChown, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return fchownat(t, unix.AT_FDCWD, a[0], u32Arg(a[1]), u32Arg(a[2]), 0)
	})
	register(SysLchown, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return fchownat(t, unix.AT_FDCWD, a[0], u32Arg(a[1]), u32Arg(a[2]), unix.AT_SYMLINK_NOFOLLOW)
	})
	register(SysFchown, sysFchown)
	register(SysFchownat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return fchownat(t, fdArg(a[0]), a[1], u32Arg(a[2]), u32Arg(a[3]), intArg(a[4]))
	})
	register(SysUtime, sysUtime)
	register(SysUtimes, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return futimesat(t, unix.AT_FDCWD, a[0], a[1])
	})
	register(SysFutimesat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return futimesat(t, fdArg(a[0]), a[1], a[2])
	})
	register(SysUtimensat, sysUtimensat)
	register(SysTruncate, sysTruncate)
	register(SysFtruncate, sysFtruncate)
	register(SysFallocate, sysFallocate)
	register(SysFsync, func(t *kernel.Task, a [6]uint64) (uint64, error) { return fsync(t, fdArg(a[0]), false) })
	register(SysFdatasync, func(t *kernel.Task, a [6]uint64) (uint64, error) { return fsync(t, fdArg(a[0]), true) })
	register(SysSyncFileRange, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		// Nothing the sandbox writes is waiting in a library OS cache:
		// host-backed files are written through.
		const valid = 1 | 2 | 4 // SYNC_FILE_RANGE_WAIT_BEFORE|WRITE|WAIT_AFTER
		if int64(a[1]) < 0 || int64(a[2]) < 0 || u32Arg(a[3])&^valid != 0 {
			return 0, unix.EINVAL
		}
		d, err := t.FDs.Get(fdArg(a[0]))
		if err != nil {
			return 0, err
		}
		d.DecRef()
		return 0, nil
	})
	register(SysSyncfs, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		d, err := t.FDs.Get(fdArg(a[0]))
		if err != nil {
			return 0, err
		}
		d.DecRef()
		return 0, nil
	})
	register(SysSync, func(*kernel.Task, [6]uint64) (uint64, error) { return 0, nil })

	register(SysGetxattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return getxattr(t, pathTarget(a[0], true), a[1], a[2], a[3])
	})
	register(SysLgetxattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return getxattr(t, pathTarget(a[0], false), a[1], a[2], a[3])
	})
	register(SysFgetxattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return getxattr(t, fdTarget(a[0]), a[1], a[2], a[3])
	})
	register(SysSetxattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return setxattr(t, pathTarget(a[0], true), a[1], a[2], a[3], intArg(a[4]))
	})
	register(SysLsetxattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return setxattr(t, pathTarget(a[0], false), a[1], a[2], a[3], intArg(a[4]))
	})
	register(SysFsetxattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return setxattr(t, fdTarget(a[0]), a[1], a[2], a[3], intArg(a[4]))
	})
	register(SysListxattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return listxattr(t, pathTarget(a[0], true), a[1], a[2])
	})
	register(SysLlistxattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return listxattr(t, pathTarget(a[0], false), a[1], a[2])
	})
	register(SysFlistxattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return listxattr(t, fdTarget(a[0]), a[1], a[2])
	})
	register(SysRemovexattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return removexattr(t, pathTarget(a[0], true), a[1])
	})
	register(SysLremovexattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return removexattr(t, pathTarget(a[0], false), a[1])
	})
	register(SysFremovexattr, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return removexattr(t, fdTarget(a[0]), a[1])
	})

	register(SysOpenat2, sysOpenat2)
	register(SysNameToHandleAt, func(*kernel.Task, [6]uint64) (uint64, error) {
		// No file system here has stable handles to give out.
		return 0, unix.EOPNOTSUPP
	})
}

// copyInPath reads a path argument: EFAULT for a bad pointer,
// ENAMETOOLONG for one of PATH_MAX bytes or more with its NUL.
func copyInPath(t *kernel.Task, addr uint64) (string, error) {
	p, err := t.MM.CopyInString(addr, unix.PathMax)
	if err != nil {
		return "", err
	}
	if len(p) >= unix.PathMax {
		return "", unix.ENAMETOOLONG
	}
	return p, nil
}

// copyInPathEmpty is copyInPath for calls that take AT_EMPTY_PATH, where
// Linux 6.11 and later also accept a NULL path as "".
func copyInPathEmpty(t *kernel.Task, addr uint64, flags int) (string, error) {
	if addr == 0 && flags&unix.AT_EMPTY_PATH != 0 {
		return "", nil
	}
	return copyInPath(t, addr)
}

func faccessat(t *kernel.Task, dirfd int, pathAddr uint64, mode uint32, flags int) (uint64, error) {
	if mode&^7 != 0 || flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	p, err := copyInPathEmpty(t, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	return 0, t.Access(dirfd, p, mode, flags)
}

func sysGetcwd(t *kernel.Task, a [6]uint64) (uint64, error) {
	cwd, err := t.Getcwd()
	if err != nil {
		return 0, err
	}
	b := append([]byte(cwd), 0)
	if uint64(len(b)) > a[1] {
		return 0, unix.ERANGE
	}
	if _, err := t.MM.CopyOut(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(b)), nil
}

// at resolves the file an *at call with AT_SYMLINK_NOFOLLOW and
// AT_EMPTY_PATH names. With AT_EMPTY_PATH and "", the dirfd's own
// description is returned too (its dentry may be nil: a pipe).
func at(t *kernel.Task, dirfd int, p string, flags int) (*vfs.Dentry, *vfs.FileDescription, error) {
	d, desc, _, err := atStat(t, dirfd, p, flags, false)
	return d, desc, err
}

// atStat is at, and with stat the attributes of a file found by path (as
// the walk fetched them).
func atStat(t *kernel.Task, dirfd int, p string, flags int, stat bool) (*vfs.Dentry, *vfs.FileDescription, unix.Stat_t, error) {
	if p == "" && flags&unix.AT_EMPTY_PATH != 0 && dirfd != unix.AT_FDCWD {
		d, err := t.FDs.Get(dirfd)
		if err != nil {
			return nil, nil, unix.Stat_t{}, err
		}
		return d.Dentry, d, unix.Stat_t{}, nil
	}
	lf := vfs.LookupFollow
	if flags&unix.AT_SYMLINK_NOFOLLOW != 0 {
		lf = 0
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		lf |= vfs.LookupEmptyPath
	}
	if stat {
		d, st, err := t.LookupStat(dirfd, p, lf)
		return d, nil, st, err
	}
	d, err := t.Lookup(dirfd, p, lf)
	return d, nil, unix.Stat_t{}, err
}

func sysStatx(t *kernel.Task, a [6]uint64) (uint64, error) {
	dirfd, flags, mask := fdArg(a[0]), intArg(a[2]), u32Arg(a[3])
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 ||
		flags&atStatxSyncType == atStatxSyncType || mask&unix.STATX__RESERVED != 0 {
		return 0, unix.EINVAL
	}
	p, err := copyInPathEmpty(t, a[1], flags)
	if err != nil {
		return 0, err
	}
	dent, desc, st, err := atStat(t, dirfd, p, flags, true)
	if err != nil {
		return 0, err
	}
	var extra vfs.Statxer
	if desc != nil {
		defer desc.DecRef()
		if st, err = desc.File.Stat(); err != nil {
			return 0, err
		}
		extra, _ = desc.File.(vfs.Statxer)
	} else {
		extra, _ = dent.Inode().(vfs.Statxer)
	}
	sx := unix.Statx_t{
		Mask:       unix.STATX_BASIC_STATS,
		Blksize:    uint32(st.Blksize),
		Nlink:      uint32(st.Nlink),
		Uid:        st.Uid,
		Gid:        st.Gid,
		Mode:       uint16(st.Mode),
		Ino:        st.Ino,
		Size:       uint64(st.Size),
		Blocks:     uint64(st.Blocks),
		Atime:      unix.StatxTimestamp{Sec: st.Atim.Sec, Nsec: uint32(st.Atim.Nsec)},
		Ctime:      unix.StatxTimestamp{Sec: st.Ctim.Sec, Nsec: uint32(st.Ctim.Nsec)},
		Mtime:      unix.StatxTimestamp{Sec: st.Mtim.Sec, Nsec: uint32(st.Mtim.Nsec)},
		Rdev_major: unix.Major(st.Rdev),
		Rdev_minor: unix.Minor(st.Rdev),
		Dev_major:  unix.Major(st.Dev),
		Dev_minor:  unix.Minor(st.Dev),
	}
	if mask&unix.STATX_BTIME != 0 && extra != nil {
		// The birth time, where the file system knows it.
		if hx, err := extra.Statx(unix.STATX_BTIME); err == nil && hx.Mask&unix.STATX_BTIME != 0 {
			sx.Mask |= unix.STATX_BTIME
			sx.Btime = hx.Btime
		}
	}
	if dent != nil {
		sx.Attributes_mask |= unix.STATX_ATTR_MOUNT_ROOT
		if dent.IsMountRoot() {
			sx.Attributes |= unix.STATX_ATTR_MOUNT_ROOT
		}
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&sx)), unsafe.Sizeof(sx))
	if _, err := t.MM.CopyOut(a[4], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// atStatxSyncType is AT_STATX_SYNC_TYPE, the mask of statx's sync flags.
const atStatxSyncType = 0x6000

func copyOutStatfs(t *kernel.Task, addr uint64, st unix.Statfs_t) (uint64, error) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&st)), unsafe.Sizeof(st))
	if _, err := t.MM.CopyOut(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// stValid is statfs's ST_VALID flag.
const stValid = 0x20

func sysFstatfs(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := t.FDs.Get(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	var st unix.Statfs_t
	switch s, ok := vfs.Underlying(d.File).(vfs.StatFSer); {
	case d.Dentry != nil:
		st, err = vfs.Statfs(d.Dentry)
	case ok:
		st, err = s.Statfs("")
	default:
		// A pipe, socket, eventfd or epoll: their pseudo file systems
		// hold no data; their internal mounts' f_flags are ST_VALID.
		st = unix.Statfs_t{Type: unix.ANON_INODE_FS_MAGIC, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax, Flags: stValid}
		switch vfs.Underlying(d.File).(type) {
		case *pipe.End:
			st.Type = unix.PIPEFS_MAGIC
		case *unixsock.Socket, netSocket:
			st.Type = unix.SOCKFS_MAGIC
		}
	}
	if err != nil {
		return 0, err
	}
	return copyOutStatfs(t, a[1], st)
}

func mkdirat(t *kernel.Task, dirfd int, pathAddr uint64, mode uint32) (uint64, error) {
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Mkdir(dirfd, p, mode&0o7777)
}

func mknodat(t *kernel.Task, dirfd int, pathAddr uint64, mode uint32, dev uint64) (uint64, error) {
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Mknod(dirfd, p, mode, dev)
}

func unlinkat(t *kernel.Task, dirfd int, pathAddr uint64, flags int) (uint64, error) {
	if flags&^unix.AT_REMOVEDIR != 0 {
		return 0, unix.EINVAL
	}
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	if flags&unix.AT_REMOVEDIR != 0 {
		return 0, t.Rmdir(dirfd, p)
	}
	return 0, t.Unlink(dirfd, p)
}

func renameat2(t *kernel.Task, olddirfd int, oldAddr uint64, newdirfd int, newAddr uint64, flags uint32) (uint64, error) {
	oldp, err := copyInPath(t, oldAddr)
	if err != nil {
		return 0, err
	}
	newp, err := copyInPath(t, newAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Rename(olddirfd, oldp, newdirfd, newp, flags)
}

func linkat(t *kernel.Task, olddirfd int, oldAddr uint64, newdirfd int, newAddr uint64, flags int) (uint64, error) {
	if flags&^(unix.AT_SYMLINK_FOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	oldp, err := copyInPathEmpty(t, oldAddr, flags)
	if err != nil {
		return 0, err
	}
	newp, err := copyInPath(t, newAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Link(olddirfd, oldp, newdirfd, newp, flags)
}

func symlinkat(t *kernel.Task, targetAddr uint64, dirfd int, pathAddr uint64) (uint64, error) {
	target, err := copyInPath(t, targetAddr)
	if err != nil {
		return 0, err
	}
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, t.Symlink(target, dirfd, p)
}

// fdFile returns the description at fd for the f* calls that change a
// file; those refuse O_PATH descriptions with EBADF, as Linux does.
func fdFile(t *kernel.Task, fd int) (*vfs.FileDescription, error) {
	d, err := t.FDs.Get(fd)
	if err != nil {
		return nil, err
	}
	if d.Flags()&unix.O_PATH != 0 {
		d.DecRef()
		return nil, unix.EBADF
	}
	return d, nil
}

func sysFchmod(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := fdFile(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if d.Dentry == nil {
		// A pipe or socket: its mode belongs to a pseudo file system and
		// nothing reads it.
		return 0, nil
	}
	return 0, vfs.Chmod(t.VFSContext(), d.Dentry, u32Arg(a[1]))
}

func fchmodat(t *kernel.Task, dirfd int, pathAddr uint64, mode uint32, flags int) (uint64, error) {
	return 0, attrAt(t, dirfd, pathAddr, flags, func(dent *vfs.Dentry) error {
		return vfs.Chmod(t.VFSContext(), dent, mode)
	})
}

func sysFchown(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := fdFile(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if d.Dentry == nil {
		return 0, nil
	}
	return 0, vfs.Chown(t.VFSContext(), d.Dentry, u32Arg(a[1]), u32Arg(a[2]))
}

func fchownat(t *kernel.Task, dirfd int, pathAddr uint64, uid, gid uint32, flags int) (uint64, error) {
	return 0, attrAt(t, dirfd, pathAddr, flags, func(dent *vfs.Dentry) error {
		return vfs.Chown(t.VFSContext(), dent, uid, gid)
	})
}

// attrAt resolves the *at path of fchmodat and fchownat (AT_EMPTY_PATH
// and AT_SYMLINK_NOFOLLOW allowed) and applies change to it. A descriptor
// without a dentry (a pipe) has nothing to change.
func attrAt(t *kernel.Task, dirfd int, pathAddr uint64, flags int, change func(*vfs.Dentry) error) error {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return unix.EINVAL
	}
	p, err := copyInPathEmpty(t, pathAddr, flags)
	if err != nil {
		return err
	}
	dent, desc, err := at(t, dirfd, p, flags)
	if err != nil {
		return err
	}
	if desc != nil {
		defer desc.DecRef()
		if dent == nil {
			return nil
		}
	}
	return change(dent)
}

// nowTimes is what a NULL times argument means: both times now.
var nowTimes = [2]unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}

// setTimes applies times to the file named by dirfd and p (AT_* flags),
// or, with p absent, to the file open at dirfd.
func setTimes(t *kernel.Task, dirfd int, p string, flags int, times [2]unix.Timespec) error {
	dent, desc, err := at(t, dirfd, p, flags)
	if err != nil {
		return err
	}
	if desc != nil {
		defer desc.DecRef()
		if dent == nil {
			return nil
		}
	}
	return vfs.Utimes(t.VFSContext(), dent, times[0], times[1])
}

func sysUtime(t *kernel.Task, a [6]uint64) (uint64, error) {
	p, err := copyInPath(t, a[0])
	if err != nil {
		return 0, err
	}
	times := nowTimes
	if a[1] != 0 {
		var b [16]byte
		if _, err := t.MM.CopyIn(a[1], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		times[0] = unix.Timespec{Sec: int64(binary.LittleEndian.Uint64(b[0:]))}
		times[1] = unix.Timespec{Sec: int64(binary.LittleEndian.Uint64(b[8:]))}
	}
	return 0, setTimes(t, unix.AT_FDCWD, p, 0, times)
}

func futimesat(t *kernel.Task, dirfd int, pathAddr, timesAddr uint64) (uint64, error) {
	times := nowTimes
	if timesAddr != 0 {
		var b [32]byte
		if _, err := t.MM.CopyIn(timesAddr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		for i := range times {
			sec := int64(binary.LittleEndian.Uint64(b[16*i:]))
			usec := int64(binary.LittleEndian.Uint64(b[16*i+8:]))
			if usec < 0 || usec >= 1e6 {
				return 0, unix.EINVAL
			}
			times[i] = unix.Timespec{Sec: sec, Nsec: usec * 1000}
		}
	}
	if pathAddr == 0 && dirfd != unix.AT_FDCWD {
		return 0, setTimes(t, dirfd, "", unix.AT_EMPTY_PATH, times)
	}
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, setTimes(t, dirfd, p, 0, times)
}

func sysUtimensat(t *kernel.Task, a [6]uint64) (uint64, error) {
	dirfd, pathAddr, timesAddr, flags := fdArg(a[0]), a[1], a[2], intArg(a[3])
	times := nowTimes
	if timesAddr != 0 {
		var b [32]byte
		if _, err := t.MM.CopyIn(timesAddr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		for i := range times {
			times[i] = unix.Timespec{Sec: int64(binary.LittleEndian.Uint64(b[16*i:])), Nsec: int64(binary.LittleEndian.Uint64(b[16*i+8:]))}
		}
		if times[0].Nsec == unix.UTIME_OMIT && times[1].Nsec == unix.UTIME_OMIT {
			// Nothing to do: Linux does not even look the path up.
			return 0, nil
		}
	}
	if pathAddr == 0 && dirfd != unix.AT_FDCWD {
		// The fd form (futimens): no flags, and not on an O_PATH fd.
		if flags != 0 {
			return 0, unix.EINVAL
		}
		d, err := fdFile(t, dirfd)
		if err != nil {
			return 0, err
		}
		defer d.DecRef()
		if d.Dentry == nil {
			return 0, nil
		}
		return 0, vfs.Utimes(t.VFSContext(), d.Dentry, times[0], times[1])
	}
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	return 0, setTimes(t, dirfd, p, flags, times)
}

func sysTruncate(t *kernel.Task, a [6]uint64) (uint64, error) {
	p, err := copyInPath(t, a[0])
	if err != nil {
		return 0, err
	}
	if int64(a[1]) < 0 {
		return 0, unix.EINVAL
	}
	d, err := t.Lookup(unix.AT_FDCWD, p, vfs.LookupFollow)
	if err != nil {
		return 0, err
	}
	return 0, vfs.Truncate(t.VFSContext(), d, int64(a[1]))
}

// writableFile returns the description at fd if it is open for writing
// (EBADF for O_PATH or a bad fd, notOpen when it is open read-only).
func writableFile(t *kernel.Task, fd int, notOpen unix.Errno) (*vfs.FileDescription, unix.Stat_t, error) {
	d, err := fdFile(t, fd)
	if err != nil {
		return nil, unix.Stat_t{}, err
	}
	if d.Flags()&unix.O_ACCMODE == unix.O_RDONLY {
		d.DecRef()
		return nil, unix.Stat_t{}, notOpen
	}
	st, err := d.File.Stat()
	if err != nil {
		d.DecRef()
		return nil, st, err
	}
	return d, st, nil
}

func sysFtruncate(t *kernel.Task, a [6]uint64) (uint64, error) {
	size := int64(a[1])
	if size < 0 {
		return 0, unix.EINVAL
	}
	d, st, err := writableFile(t, fdArg(a[0]), unix.EINVAL)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	if tr, ok := vfs.Underlying(d.File).(vfs.Truncater); ok {
		err = tr.Truncate(size)
	} else if d.Dentry == nil {
		return 0, unix.EINVAL
	} else {
		// The description is open for writing: no permission check again.
		err = d.Dentry.Inode().Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: size})
	}
	if err != nil {
		return 0, err
	}
	vfs.NotifyModify(d)
	return 0, nil
}

// fallocate modes (linux/falloc.h).
const (
	fallocKeepSize  = 0x01
	fallocPunchHole = 0x02
)

func sysFallocate(t *kernel.Task, a [6]uint64) (uint64, error) {
	mode, off, length := u32Arg(a[1]), int64(a[2]), int64(a[3])
	if off < 0 || length <= 0 || off+length < 0 {
		return 0, unix.EINVAL
	}
	if mode&fallocPunchHole != 0 && mode&fallocKeepSize == 0 {
		return 0, unix.EOPNOTSUPP
	}
	d, st, err := writableFile(t, fdArg(a[0]), unix.EBADF)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return 0, unix.EISDIR
	case unix.S_IFIFO, unix.S_IFSOCK:
		return 0, unix.ESPIPE
	default:
		return 0, unix.ENODEV
	}
	if mode&^(fallocKeepSize|fallocPunchHole) != 0 {
		return 0, unix.EOPNOTSUPP
	}
	al, ok := vfs.Underlying(d.File).(vfs.Allocator)
	if !ok {
		return 0, unix.EOPNOTSUPP
	}
	if err := al.Allocate(mode, off, length); err != nil {
		return 0, err
	}
	vfs.NotifyModify(d)
	return 0, nil
}

func fsync(t *kernel.Task, fd int, dataOnly bool) (uint64, error) {
	d, err := fdFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if s, ok := vfs.Underlying(d.File).(vfs.Syncer); ok {
		return 0, s.Sync(dataOnly)
	}
	if d.Dentry == nil {
		// A pipe, eventfd or epoll: Linux has no fsync for them.
		return 0, unix.EINVAL
	}
	return 0, nil
}

// xattrTarget names the file an xattr call works on: a path (following
// a final symlink or not) or an fd.
type xattrTarget struct {
	pathAddr uint64
	follow   bool
	fd       int
	byFD     bool
}

func pathTarget(addr uint64, follow bool) xattrTarget {
	return xattrTarget{pathAddr: addr, follow: follow}
}
func fdTarget(fd uint64) xattrTarget { return xattrTarget{fd: fdArg(fd), byFD: true} }

// resolve returns the target's dentry; done releases what it holds.
func (x xattrTarget) resolve(t *kernel.Task) (d *vfs.Dentry, done func(), err error) {
	if x.byFD {
		desc, err := fdFile(t, x.fd)
		if err != nil {
			return nil, nil, err
		}
		if desc.Dentry == nil {
			desc.DecRef()
			return nil, nil, unix.ENOTSUP
		}
		return desc.Dentry, desc.DecRef, nil
	}
	p, err := copyInPath(t, x.pathAddr)
	if err != nil {
		return nil, nil, err
	}
	lf := vfs.LookupFlags(0)
	if x.follow {
		lf = vfs.LookupFollow
	}
	d, err = t.Lookup(unix.AT_FDCWD, p, lf)
	return d, func() {}, err
}

// copyInXattrName reads an attribute name: ERANGE when empty or longer
// than XATTR_NAME_MAX, as Linux answers.
func copyInXattrName(t *kernel.Task, addr uint64) (string, error) {
	name, err := t.MM.CopyInString(addr, vfs.XattrNameMax+1)
	if err == unix.ENAMETOOLONG || err == nil && (name == "" || len(name) > vfs.XattrNameMax) {
		return "", unix.ERANGE
	}
	return name, err
}

func getxattr(t *kernel.Task, x xattrTarget, nameAddr, valueAddr, size uint64) (uint64, error) {
	d, done, err := x.resolve(t)
	if err != nil {
		return 0, err
	}
	defer done()
	name, err := copyInXattrName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	val, err := vfs.Getxattr(t.VFSContext(), d, name)
	if err != nil {
		return 0, err
	}
	if size == 0 {
		return uint64(len(val)), nil
	}
	if uint64(len(val)) > min(size, vfs.XattrSizeMax) {
		return 0, unix.ERANGE
	}
	if _, err := t.MM.CopyOut(valueAddr, val); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(val)), nil
}

func setxattr(t *kernel.Task, x xattrTarget, nameAddr, valueAddr, size uint64, flags int) (uint64, error) {
	name, err := copyInXattrName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	if size > vfs.XattrSizeMax {
		return 0, unix.E2BIG
	}
	val := make([]byte, size)
	if _, err := t.MM.CopyIn(valueAddr, val); err != nil && size > 0 {
		return 0, unix.EFAULT
	}
	d, done, err := x.resolve(t)
	if err != nil {
		return 0, err
	}
	defer done()
	return 0, vfs.Setxattr(t.VFSContext(), d, name, val, flags)
}

func listxattr(t *kernel.Task, x xattrTarget, listAddr, size uint64) (uint64, error) {
	d, done, err := x.resolve(t)
	if err != nil {
		return 0, err
	}
	defer done()
	names, err := vfs.Listxattr(t.VFSContext(), d)
	if err != nil {
		return 0, err
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(0)
	}
	if size == 0 {
		return uint64(b.Len()), nil
	}
	if uint64(b.Len()) > size {
		return 0, unix.ERANGE
	}
	if _, err := t.MM.CopyOut(listAddr, []byte(b.String())); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(b.Len()), nil
}

func removexattr(t *kernel.Task, x xattrTarget, nameAddr uint64) (uint64, error) {
	name, err := copyInXattrName(t, nameAddr)
	if err != nil {
		return 0, err
	}
	d, done, err := x.resolve(t)
	if err != nil {
		return 0, err
	}
	defer done()
	return 0, vfs.Removexattr(t.VFSContext(), d, name)
}

// Sizes of struct open_how: the first version, and the most openat2
// copies in before requiring the rest to be zero.
const (
	openHowSize0 = 24
	openHowMax   = 4096
)

// validOpenFlags are the flags openat2 accepts (it rejects unknown ones,
// unlike open).
const validOpenFlags = unix.O_ACCMODE | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC |
	unix.O_APPEND | unix.O_NONBLOCK | unix.O_DSYNC | unix.O_SYNC | unix.O_ASYNC | unix.O_DIRECT |
	oLargefile | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_NOATIME | unix.O_CLOEXEC |
	unix.O_PATH | unix.O_TMPFILE

// resolveCached is RESOLVE_CACHED (Linux 5.12), which x/sys does not
// name.
const resolveCached = 0x20

const validResolve = unix.RESOLVE_NO_XDEV | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS |
	unix.RESOLVE_BENEATH | unix.RESOLVE_IN_ROOT | resolveCached

func sysOpenat2(t *kernel.Task, a [6]uint64) (uint64, error) {
	dirfd, pathAddr, howAddr, size := fdArg(a[0]), a[1], a[2], a[3]
	if size < openHowSize0 {
		return 0, unix.EINVAL
	}
	if size > openHowMax {
		return 0, unix.E2BIG
	}
	buf := make([]byte, size)
	if _, err := t.MM.CopyIn(howAddr, buf); err != nil {
		return 0, unix.EFAULT
	}
	for _, b := range buf[openHowSize0:] {
		if b != 0 {
			// A newer struct with fields this kernel does not know.
			return 0, unix.E2BIG
		}
	}
	flags := binary.LittleEndian.Uint64(buf[0:])
	mode := binary.LittleEndian.Uint64(buf[8:])
	resolve := binary.LittleEndian.Uint64(buf[16:])
	if flags&^uint64(validOpenFlags) != 0 || resolve&^uint64(validResolve) != 0 {
		return 0, unix.EINVAL
	}
	creates := flags&unix.O_CREAT != 0 || flags&unix.O_TMPFILE == unix.O_TMPFILE
	if mode&^0o7777 != 0 || (!creates && mode != 0) {
		return 0, unix.EINVAL
	}
	if flags&unix.O_PATH != 0 && flags&^uint64(unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	if flags&unix.O_TMPFILE == unix.O_TMPFILE && flags&unix.O_CREAT != 0 {
		return 0, unix.EINVAL
	}
	if resolve&unix.RESOLVE_BENEATH != 0 && resolve&unix.RESOLVE_IN_ROOT != 0 {
		return 0, unix.EINVAL
	}
	if resolve&resolveCached != 0 {
		// Nothing is cached here: the caller retries without it.
		return 0, unix.EAGAIN
	}
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	if flags&unix.O_PATH == 0 {
		flags |= oLargefile
	}
	d, err := t.Openat2(dirfd, p, int(flags), uint32(mode), resolve)
	if err != nil {
		return 0, err
	}
	return install(t, d, 0, flags&unix.O_CLOEXEC != 0)
}
