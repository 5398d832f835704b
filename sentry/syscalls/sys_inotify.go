package syscalls

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/inotify"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

func init() {
	register(SysInotifyInit, func(t *kernel.Task, a [6]uint64) (uint64, error) { return inotifyInit1(t, 0) })
	register(SysInotifyInit1, func(t *kernel.Task, a [6]uint64) (uint64, error) { return inotifyInit1(t, intArg(a[0])) })
	register(SysInotifyAddWatch, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return inotifyAddWatch(t, fdArg(a[0]), a[1], u32Arg(a[2]))
	})
	register(SysInotifyRmWatch, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return inotifyRmWatch(t, fdArg(a[0]), int32(a[1]))
	})
}

func inotifyInit1(t *kernel.Task, flags int) (uint64, error) {
	if flags&^(unix.IN_CLOEXEC|unix.IN_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	f, err := inotify.New(t.Creds().EUID)
	if err != nil {
		return 0, err
	}
	d := vfs.NewDescription(f, "", unix.O_RDONLY|flags&unix.O_NONBLOCK)
	return install(t, d, 0, flags&unix.IN_CLOEXEC != 0)
}

// inotifyFile returns the instance open at fd: EBADF for no file, EINVAL
// for a file that is not an inotify instance. The caller drops the
// description's reference.
func inotifyFile(t *kernel.Task, fd int) (*vfs.FileDescription, *inotify.File, error) {
	d, err := t.FDs.Get(fd)
	if err != nil {
		return nil, nil, err
	}
	f, ok := vfs.Underlying(d.File).(*inotify.File)
	if !ok {
		d.DecRef()
		return nil, nil, unix.EINVAL
	}
	return d, f, nil
}

// inotifyAddWatch checks in Linux's order: the mask, the fd, then the
// path (followed unless IN_DONT_FOLLOW, a directory for IN_ONLYDIR) and
// read permission on the file.
func inotifyAddWatch(t *kernel.Task, fd int, pathAddr uint64, mask uint32) (uint64, error) {
	if mask&vfs.InMaskAdd != 0 && mask&vfs.InMaskCreate != 0 {
		return 0, unix.EINVAL
	}
	if mask&vfs.InAllBits == 0 {
		return 0, unix.EINVAL
	}
	d, f, err := inotifyFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	lf := vfs.LookupFollow
	if mask&vfs.InDontFollow != 0 {
		lf = 0
	}
	if mask&vfs.InOnlyDir != 0 {
		lf |= vfs.LookupDirectory
	}
	dent, st, err := t.LookupStat(unix.AT_FDCWD, p, lf)
	if err != nil {
		return 0, err
	}
	if err := t.Cred().May(&st, vfs.MayRead); err != nil {
		return 0, err
	}
	wd, err := f.Group().AddWatch(dent, &st, mask)
	if err != nil {
		return 0, err
	}
	return uint64(wd), nil
}

func inotifyRmWatch(t *kernel.Task, fd int, wd int32) (uint64, error) {
	d, f, err := inotifyFile(t, fd)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return 0, f.Group().RemoveWatch(wd)
}
