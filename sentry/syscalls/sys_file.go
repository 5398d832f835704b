package syscalls

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/pipe"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

func init() {
	register(SysRead, sysRead)
	register(SysWrite, sysWrite)
	register(SysPread64, sysPread)
	register(SysPwrite64, sysPwrite)
	register(SysReadv, sysReadv)
	register(SysWritev, sysWritev)
	register(SysOpen, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return openat(t, unix.AT_FDCWD, a[0], intArg(a[1]), u32Arg(a[2]))
	})
	register(SysOpenat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return openat(t, fdArg(a[0]), a[1], intArg(a[2]), u32Arg(a[3]))
	})
	register(SysCreat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return openat(t, unix.AT_FDCWD, a[0], unix.O_CREAT|unix.O_WRONLY|unix.O_TRUNC, u32Arg(a[1]))
	})
	register(SysClose, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, t.FDs.Remove(fdArg(a[0])) })
	register(SysFstat, sysFstat)
	register(SysStat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return fstatat(t, unix.AT_FDCWD, a[0], a[1], 0)
	})
	register(SysLstat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return fstatat(t, unix.AT_FDCWD, a[0], a[1], unix.AT_SYMLINK_NOFOLLOW)
	})
	register(SysNewfstatat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return fstatat(t, fdArg(a[0]), a[1], a[2], intArg(a[3]))
	})
	register(SysLseek, sysLseek)
	register(SysGetdents64, sysGetdents64)
	register(SysReadlink, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return readlinkat(t, unix.AT_FDCWD, a[0], a[1], a[2])
	})
	register(SysReadlinkat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return readlinkat(t, fdArg(a[0]), a[1], a[2], a[3])
	})
	register(SysIoctl, sysIoctl)
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
		p, err := t.MM.CopyInString(a[0], unix.PathMax)
		if err != nil {
			return 0, err
		}
		return 0, t.Chdir(p)
	})
	register(SysFchdir, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		d, err := t.FDs.Get(fdArg(a[0]))
		if err != nil {
			return 0, err
		}
		defer d.DecRef()
		if d.Path == "" {
			return 0, unix.ENOTDIR
		}
		return 0, t.Chdir(d.Path)
	})
	register(SysDup, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		d, err := t.FDs.Get(fdArg(a[0]))
		if err != nil {
			return 0, err
		}
		return install(t, d, 0, false)
	})
	register(SysDup2, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		old, nfd := fdArg(a[0]), fdArg(a[1])
		if old == nfd {
			d, err := t.FDs.Get(old)
			if err != nil {
				return 0, err
			}
			d.DecRef()
			return uint64(nfd), nil
		}
		return dup3(t, old, nfd, 0)
	})
	register(SysDup3, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if fdArg(a[0]) == fdArg(a[1]) {
			return 0, unix.EINVAL
		}
		return dup3(t, fdArg(a[0]), fdArg(a[1]), intArg(a[2]))
	})
	register(SysFcntl, sysFcntl)
	register(SysCloseRange, sysCloseRange)
	register(SysSendfile, sysSendfile)
	register(SysFadvise64, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		d, err := t.FDs.Get(fdArg(a[0]))
		if err != nil {
			return 0, err
		}
		d.DecRef()
		return 0, nil
	})
}

// Generic fd ioctls (asm-generic/ioctls.h), which x/sys does not name.
const (
	fionclex = 0x5450
	fioclex  = 0x5451
	fionbio  = 0x5421
)

// maxIO bounds one read or write; Linux allows short transfers, and callers
// loop.
const maxIO = 4 << 20

func fileFor(t *kernel.Task, fd int, write bool) (*vfs.FileDescription, error) {
	d, err := t.FDs.Get(fd)
	if err != nil {
		return nil, err
	}
	mode := d.Flags() & unix.O_ACCMODE
	if d.Flags()&unix.O_PATH != 0 || (write && mode == unix.O_RDONLY) || (!write && mode == unix.O_WRONLY) {
		d.DecRef()
		return nil, unix.EBADF
	}
	return d, nil
}

// readInto does one read from d into the workload buffer at addr. The
// buffer is checked first so input is never consumed for a buffer that
// cannot take it. A file that has nothing to read yet (EAGAIN) is waited
// for unless d is non-blocking.
func readInto(t *kernel.Task, d *vfs.FileDescription, addr uint64, count uint64, read func([]byte) (int, error)) (uint64, error) {
	if int64(count) < 0 {
		return 0, unix.EINVAL
	}
	n := int(min(count, maxIO))
	if n == 0 {
		return 0, nil
	}
	if n = t.MM.Accessible(addr, n, mm.ProtWrite); n == 0 {
		return 0, unix.EFAULT
	}
	buf := make([]byte, n)
	got, err := blockingRead(t, d, func() (int, error) { return read(buf) })
	if got > 0 {
		t.MM.CopyOut(addr, buf[:got])
		return uint64(got), nil
	}
	return 0, err
}

// writeFrom writes the workload buffer at addr; a buffer that faults part
// way is written up to the fault, as Linux does.
func writeFrom(t *kernel.Task, d *vfs.FileDescription, addr uint64, count uint64, write func([]byte) (int, error)) (uint64, error) {
	if int64(count) < 0 {
		return 0, unix.EINVAL
	}
	n := int(min(count, maxIO))
	if n == 0 {
		return 0, nil
	}
	buf := make([]byte, n)
	got, _ := t.MM.CopyIn(addr, buf)
	if got == 0 {
		return 0, unix.EFAULT
	}
	w, err := blockingWrite(t, d, buf[:got], write)
	if w > 0 {
		return uint64(w), nil
	}
	return 0, err
}

// blockingRead runs read until it stops failing with EAGAIN, waiting for
// the file to become readable in between, unless the description is
// non-blocking or the file cannot be waited for. A signal interrupts the
// wait with ERestartSys.
func blockingRead(t *kernel.Task, d *vfs.FileDescription, read func() (int, error)) (int, error) {
	n, err := read()
	if err != unix.EAGAIN || d.Flags()&unix.O_NONBLOCK != 0 {
		return n, err
	}
	w, ok := vfs.Waitable(d.File)
	if !ok {
		return n, err
	}
	e := waiter.NewEntry(waiter.EventIn | waiter.EventRdNorm | waiter.EventHUp | waiter.EventErr)
	w.EventRegister(e)
	defer w.EventUnregister(e)
	for {
		// Try again with the entry registered, so a wake-up between the
		// last try and the wait is not lost.
		if n, err = read(); err != unix.EAGAIN {
			return n, err
		}
		if err := t.Block(e.Ch, kernel.NoDeadline()); err != nil {
			return 0, err
		}
	}
}

// blockingWrite writes all of buf unless the description is non-blocking:
// a file that takes only part (a pipe returns the count with EAGAIN) is
// waited for and given the rest. A signal ends the wait: the call returns
// what was written, or ERestartSys if nothing was. EPIPE raises SIGPIPE,
// whether or not part of buf was written.
func blockingWrite(t *kernel.Task, d *vfs.FileDescription, buf []byte, write func([]byte) (int, error)) (int, error) {
	done := 0
	var w waiter.Waitable
	var e *waiter.Entry
	defer func() {
		if e != nil {
			w.EventUnregister(e)
		}
	}()
	for {
		n, err := write(buf[done:])
		done += max(n, 0)
		if err == unix.EPIPE {
			sendSIGPIPE(t)
		}
		if err != unix.EAGAIN || done >= len(buf) || d.Flags()&unix.O_NONBLOCK != 0 {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
		if e == nil {
			var ok bool
			if w, ok = vfs.Waitable(d.File); !ok {
				if done > 0 {
					return done, nil
				}
				return 0, err
			}
			e = waiter.NewEntry(waiter.EventOut | waiter.EventWrNorm | waiter.EventErr | waiter.EventHUp)
			w.EventRegister(e)
			continue
		}
		if err := t.Block(e.Ch, kernel.NoDeadline()); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
}

// sendSIGPIPE is what Linux does to a task writing to a pipe or socket
// without a reader: a SIGPIPE with si_code SI_USER from the task itself.
func sendSIGPIPE(t *kernel.Task) {
	const siUser = 0
	t.SendSignal(t.SignalInfoUser(int(unix.SIGPIPE), siUser))
}

func sysRead(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := fileFor(t, fdArg(a[0]), false)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return readInto(t, d, a[1], a[2], d.File.Read)
}

func sysWrite(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := fileFor(t, fdArg(a[0]), true)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return writeFrom(t, d, a[1], a[2], d.File.Write)
}

func sysPread(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := fileFor(t, fdArg(a[0]), false)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	off := int64(a[3])
	if off < 0 {
		return 0, unix.EINVAL
	}
	return readInto(t, d, a[1], a[2], func(b []byte) (int, error) { return d.File.Pread(b, off) })
}

func sysPwrite(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := fileFor(t, fdArg(a[0]), true)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	off := int64(a[3])
	if off < 0 {
		return 0, unix.EINVAL
	}
	return writeFrom(t, d, a[1], a[2], func(b []byte) (int, error) { return d.File.Pwrite(b, off) })
}

type iovec struct{ base, len uint64 }

// copyInIovecs reads an iovec array; a total over SSIZE_MAX is EINVAL.
func copyInIovecs(t *kernel.Task, addr uint64, n int) ([]iovec, error) {
	if n < 0 || n > 1024 {
		return nil, unix.EINVAL
	}
	raw := make([]byte, 16*n)
	if _, err := t.MM.CopyIn(addr, raw); err != nil {
		return nil, unix.EFAULT
	}
	iovs := make([]iovec, n)
	var total uint64
	for i := range iovs {
		iovs[i] = iovec{binary.LittleEndian.Uint64(raw[16*i:]), binary.LittleEndian.Uint64(raw[16*i+8:])}
		total += iovs[i].len
		if int64(iovs[i].len) < 0 || int64(total) < 0 {
			return nil, unix.EINVAL
		}
	}
	return iovs, nil
}

func sysReadv(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := fileFor(t, fdArg(a[0]), false)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	iovs, err := copyInIovecs(t, a[1], intArg(a[2]))
	if err != nil {
		return 0, err
	}
	// One host read for the whole vector keeps a pipe read atomic; the
	// buffer only covers what the workload can take.
	var total int
	for _, v := range iovs {
		ok := t.MM.Accessible(v.base, int(min(v.len, maxIO)), mm.ProtWrite)
		total += ok
		if uint64(ok) < v.len || total >= maxIO {
			break
		}
	}
	if total == 0 {
		for _, v := range iovs {
			if v.len != 0 {
				return 0, unix.EFAULT
			}
		}
		return 0, nil
	}
	buf := make([]byte, min(total, maxIO))
	n, err := blockingRead(t, d, func() (int, error) { return d.File.Read(buf) })
	if n <= 0 {
		return 0, err
	}
	done := 0
	for _, v := range iovs {
		if done == n {
			break
		}
		c := min(int(v.len), n-done)
		t.MM.CopyOut(v.base, buf[done:done+c])
		done += c
	}
	return uint64(n), nil
}

func sysWritev(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := fileFor(t, fdArg(a[0]), true)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	iovs, err := copyInIovecs(t, a[1], intArg(a[2]))
	if err != nil {
		return 0, err
	}
	var buf []byte
	faulted := false
	for _, v := range iovs {
		c := int(min(v.len, uint64(maxIO-len(buf))))
		chunk := make([]byte, c)
		got, _ := t.MM.CopyIn(v.base, chunk)
		buf = append(buf, chunk[:got]...)
		if got < c {
			faulted = true
			break
		}
		if len(buf) >= maxIO {
			break
		}
	}
	if len(buf) == 0 {
		if faulted {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	n, err := blockingWrite(t, d, buf, d.File.Write)
	if n > 0 {
		return uint64(n), nil
	}
	return 0, err
}

func install(t *kernel.Task, d *vfs.FileDescription, min int, cloexec bool) (uint64, error) {
	fd, err := t.FDs.Install(d, min, cloexec, t.NoFileLimit())
	if err != nil {
		d.DecRef()
		return 0, err
	}
	return uint64(fd), nil
}

func dup3(t *kernel.Task, old, nfd, flags int) (uint64, error) {
	if flags&^unix.O_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	if nfd < 0 || nfd >= t.NoFileLimit() {
		return 0, unix.EBADF
	}
	d, err := t.FDs.Get(old)
	if err != nil {
		return 0, err
	}
	t.FDs.InstallAt(nfd, d, flags&unix.O_CLOEXEC != 0)
	return uint64(nfd), nil
}

func openat(t *kernel.Task, dirfd int, pathAddr uint64, flags int, mode uint32) (uint64, error) {
	p, err := t.MM.CopyInString(pathAddr, unix.PathMax)
	if err != nil {
		return 0, err
	}
	d, err := t.Open(dirfd, p, flags, mode&0o7777)
	if err != nil {
		return 0, err
	}
	return install(t, d, 0, flags&unix.O_CLOEXEC != 0)
}

func statBytes(st *unix.Stat_t) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(st)), unsafe.Sizeof(*st))
}

func copyOutStat(t *kernel.Task, addr uint64, st unix.Stat_t) (uint64, error) {
	if _, err := t.MM.CopyOut(addr, statBytes(&st)); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

func sysFstat(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := t.FDs.Get(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	st, err := d.File.Stat()
	if err != nil {
		return 0, err
	}
	return copyOutStat(t, a[1], st)
}

func fstatat(t *kernel.Task, dirfd int, pathAddr, statAddr uint64, flags int) (uint64, error) {
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT) != 0 {
		return 0, unix.EINVAL
	}
	p, err := t.MM.CopyInString(pathAddr, unix.PathMax)
	if err != nil {
		return 0, err
	}
	if p == "" && flags&unix.AT_EMPTY_PATH != 0 {
		if dirfd == unix.AT_FDCWD {
			return fstatat(t, dirfd, 0, statAddr, 0)
		}
		return sysFstat(t, [6]uint64{uint64(dirfd), statAddr})
	}
	st, err := t.Stat(dirfd, p, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
	if err != nil {
		return 0, err
	}
	return copyOutStat(t, statAddr, st)
}

func sysLseek(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := t.FDs.Get(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	whence := intArg(a[2])
	if whence < unix.SEEK_SET || whence > unix.SEEK_HOLE {
		return 0, unix.EINVAL
	}
	off, err := d.File.Seek(int64(a[1]), whence)
	return uint64(off), err
}

func sysGetdents64(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := t.FDs.Get(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	count := int(min(a[2], maxIO))
	if t.MM.Accessible(a[1], count, mm.ProtWrite) < count {
		return 0, unix.EFAULT
	}
	buf := make([]byte, count)
	n, err := d.File.Getdents(buf)
	if err != nil {
		return 0, err
	}
	t.MM.CopyOut(a[1], buf[:n])
	return uint64(n), nil
}

func readlinkat(t *kernel.Task, dirfd int, pathAddr, buf, size uint64) (uint64, error) {
	if int64(size) <= 0 {
		return 0, unix.EINVAL
	}
	p, err := t.MM.CopyInString(pathAddr, unix.PathMax)
	if err != nil {
		return 0, err
	}
	target, err := t.Readlink(dirfd, p)
	if err != nil {
		return 0, err
	}
	b := []byte(target)[:min(uint64(len(target)), size)]
	if _, err := t.MM.CopyOut(buf, b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(b)), nil
}

func sysIoctl(t *kernel.Task, a [6]uint64) (uint64, error) {
	fd := fdArg(a[0])
	d, err := t.FDs.Get(fd)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	switch req := u32Arg(a[1]); req {
	case fioclex, fionclex:
		return 0, t.FDs.SetCloseOnExec(fd, req == fioclex)
	case fionbio:
		var v [4]byte
		if _, err := t.MM.CopyIn(a[2], v[:]); err != nil {
			return 0, unix.EFAULT
		}
		flags := d.Flags() &^ unix.O_NONBLOCK
		if binary.LittleEndian.Uint32(v[:]) != 0 {
			flags |= unix.O_NONBLOCK
		}
		d.SetStatusFlags(flags)
		return 0, nil
	default:
		return d.File.Ioctl(uint64(req), a[2], t.MM)
	}
}

func faccessat(t *kernel.Task, dirfd int, pathAddr uint64, mode uint32, flags int) (uint64, error) {
	if mode&^7 != 0 || flags&^(unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH) != 0 {
		return 0, unix.EINVAL
	}
	p, err := t.MM.CopyInString(pathAddr, unix.PathMax)
	if err != nil {
		return 0, err
	}
	return 0, t.Access(dirfd, p, mode, flags&unix.AT_SYMLINK_NOFOLLOW == 0)
}

func sysGetcwd(t *kernel.Task, a [6]uint64) (uint64, error) {
	b := append([]byte(t.FS.Cwd()), 0)
	if uint64(len(b)) > a[1] {
		return 0, unix.ERANGE
	}
	if _, err := t.MM.CopyOut(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(b)), nil
}

func sysFcntl(t *kernel.Task, a [6]uint64) (uint64, error) {
	fd := fdArg(a[0])
	d, err := t.FDs.Get(fd)
	if err != nil {
		return 0, err
	}
	switch cmd := intArg(a[1]); cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC:
		min := intArg(a[2])
		if min < 0 || min >= t.NoFileLimit() {
			d.DecRef()
			return 0, unix.EINVAL
		}
		return install(t, d, min, cmd == unix.F_DUPFD_CLOEXEC)
	case unix.F_GETFD:
		d.DecRef()
		on, err := t.FDs.CloseOnExec(fd)
		if on {
			return unix.FD_CLOEXEC, err
		}
		return 0, err
	case unix.F_SETFD:
		d.DecRef()
		return 0, t.FDs.SetCloseOnExec(fd, a[2]&unix.FD_CLOEXEC != 0)
	case unix.F_GETFL:
		defer d.DecRef()
		return uint64(d.Flags()), nil
	case unix.F_SETFL:
		defer d.DecRef()
		d.SetStatusFlags(intArg(a[2]))
		return 0, nil
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		defer d.DecRef()
		end, ok := vfs.Underlying(d.File).(*pipe.End)
		if !ok {
			return 0, unix.EBADF
		}
		if cmd == unix.F_GETPIPE_SZ {
			return uint64(end.Size()), nil
		}
		// Growing past pipe-max-size needs CAP_SYS_RESOURCE, which the
		// container's root holds in the library OS.
		n, err := end.SetSize(uint64(u32Arg(a[2])), t.Creds().EUID == 0)
		return uint64(n), err
	default:
		d.DecRef()
		return 0, unix.EINVAL
	}
}

func sysCloseRange(t *kernel.Task, a [6]uint64) (uint64, error) {
	first, last, flags := u32Arg(a[0]), u32Arg(a[1]), u32Arg(a[2])
	if flags&^(unix.CLOSE_RANGE_UNSHARE|unix.CLOSE_RANGE_CLOEXEC) != 0 || first > last {
		return 0, unix.EINVAL
	}
	if flags&unix.CLOSE_RANGE_UNSHARE != 0 {
		t.FDs = t.FDs.Unshare()
	}
	t.FDs.CloseRange(int(first), int(last), flags&unix.CLOSE_RANGE_CLOEXEC != 0)
	return 0, nil
}

func sysSendfile(t *kernel.Task, a [6]uint64) (uint64, error) {
	out, err := fileFor(t, fdArg(a[0]), true)
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	in, err := fileFor(t, fdArg(a[1]), false)
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	count := min(a[3], maxIO)
	var off int64
	var ob [8]byte
	if a[2] != 0 {
		if _, err := t.MM.CopyIn(a[2], ob[:]); err != nil {
			return 0, unix.EFAULT
		}
		if off = int64(binary.LittleEndian.Uint64(ob[:])); off < 0 {
			return 0, unix.EINVAL
		}
	}
	if count == 0 {
		return 0, nil
	}
	buf := make([]byte, count)
	var n int
	if a[2] != 0 {
		n, err = in.File.Pread(buf, off)
	} else {
		n, err = blockingRead(t, in, func() (int, error) { return in.File.Read(buf) })
	}
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	w, werr := blockingWrite(t, out, buf[:n], out.File.Write)
	if a[2] != 0 {
		binary.LittleEndian.PutUint64(ob[:], uint64(off+int64(w)))
		if _, err := t.MM.CopyOut(a[2], ob[:]); err != nil {
			return 0, unix.EFAULT
		}
	} else if w < n {
		// Give back what was read but not written, where the input can
		// seek (from a pipe it is lost, a rare interrupted-write case).
		in.File.Seek(int64(w-n), unix.SEEK_CUR)
	}
	if w > 0 {
		return uint64(w), nil
	}
	return 0, werr
}

func init() {
	register(SysStatx, sysStatx)
	for _, nr := range []int{SysGetxattr, SysLgetxattr, SysFgetxattr, SysListxattr, SysLlistxattr, SysFlistxattr} {
		// Extended attributes are not exposed by any file system yet: the
		// answer is what Linux gives on a file system without them.
		register(nr, func(*kernel.Task, [6]uint64) (uint64, error) { return 0, unix.ENOTSUP })
	}
}

func sysStatx(t *kernel.Task, a [6]uint64) (uint64, error) {
	dirfd, flags, mask := fdArg(a[0]), intArg(a[2]), u32Arg(a[3])
	if flags&^(unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH|unix.AT_NO_AUTOMOUNT|atStatxSyncType) != 0 ||
		flags&atStatxSyncType == atStatxSyncType || mask&unix.STATX__RESERVED != 0 {
		return 0, unix.EINVAL
	}
	p, err := t.MM.CopyInString(a[1], unix.PathMax)
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if p == "" && flags&unix.AT_EMPTY_PATH != 0 && dirfd != unix.AT_FDCWD {
		d, err := t.FDs.Get(dirfd)
		if err != nil {
			return 0, err
		}
		st, err = d.File.Stat()
		d.DecRef()
		if err != nil {
			return 0, err
		}
	} else {
		if p == "" && flags&unix.AT_EMPTY_PATH != 0 {
			p = "."
		}
		if st, err = t.Stat(dirfd, p, flags&unix.AT_SYMLINK_NOFOLLOW == 0); err != nil {
			return 0, err
		}
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
	b := unsafe.Slice((*byte)(unsafe.Pointer(&sx)), unsafe.Sizeof(sx))
	if _, err := t.MM.CopyOut(a[4], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// atStatxSyncType is AT_STATX_SYNC_TYPE, the mask of statx's sync flags.
const atStatxSyncType = 0x6000
