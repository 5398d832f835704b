package syscalls

import (
	"encoding/binary"
	"time"
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
	register(SysIoctl, sysIoctl)
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
	fioasync = 0x5452
)

// struct f_owner_ex's types (linux/fcntl.h), which x/sys does not name.
const (
	fOwnerTid  = 0
	fOwnerPid  = 1
	fOwnerPgrp = 2
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
	// A background process using its terminal: SIGTTIN, SIGTTOU.
	if err := t.TerminalAccess(d, write); err != nil {
		d.DecRef()
		return nil, err
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
		if _, ok := vfs.Underlying(d.File).(vfs.ZeroCountReader); ok {
			_, err := blockingRead(t, d, func() (int, error) { return read(nil) })
			return 0, err
		}
		return 0, nil
	}
	if n = t.MM.Accessible(addr, n, mm.ProtWrite); n == 0 {
		return 0, unix.EFAULT
	}
	buf, pooled := ioBuf(n)
	defer putIOBuf(pooled)
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
		return 0, emptyWrite(d, write)
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
// wait with ERestartSys. Data read is an IN_ACCESS event.
func blockingRead(t *kernel.Task, d *vfs.FileDescription, read func() (int, error)) (int, error) {
	n, err := waitRead(t, d, read)
	if n > 0 {
		vfs.NotifyAccess(d)
	}
	return n, err
}

func waitRead(t *kernel.Task, d *vfs.FileDescription, read func() (int, error)) (int, error) {
	n, err := read()
	if err != unix.EAGAIN || d.Flags()&unix.O_NONBLOCK != 0 {
		return n, err
	}
	w, ok := vfs.Waitable(d.File)
	if !ok {
		return n, err
	}
	deadline := ioDeadline(d.File, false)
	e := waiter.NewEntry(waiter.EventIn | waiter.EventRdNorm | waiter.EventHUp | waiter.EventErr)
	w.EventRegister(e)
	defer w.EventUnregister(e)
	for {
		// Try again with the entry registered, so a wake-up between the
		// last try and the wait is not lost.
		if n, err = read(); err != unix.EAGAIN {
			return n, err
		}
		if err := t.Block(e.Ch, deadline); err != nil {
			return 0, blockErr(err, time.Until(deadline))
		}
	}
}

// blockingWrite writes all of buf unless the description is non-blocking:
// a file that takes only part (a pipe returns the count with EAGAIN) is
// waited for and given the rest. A signal ends the wait: the call returns
// what was written, or ERestartSys if nothing was. EPIPE raises SIGPIPE,
// whether or not part of buf was written. Data written is an IN_MODIFY
// event.
func blockingWrite(t *kernel.Task, d *vfs.FileDescription, buf []byte, write func([]byte) (int, error)) (int, error) {
	n, err := waitWrite(t, d, buf, write)
	if n > 0 {
		vfs.NotifyModify(d)
	}
	return n, err
}

func waitWrite(t *kernel.Task, d *vfs.FileDescription, buf []byte, write func([]byte) (int, error)) (int, error) {
	done := 0
	deadline := ioDeadline(d.File, true)
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
		if err == unix.EPIPE && raisesSIGPIPE(d.File) {
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
		if err := t.Block(e.Ch, deadline); err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, blockErr(err, time.Until(deadline))
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
	return readVec(t, d, iovs, d.File.Read)
}

// readVec reads into an iovec array with one call of read, scattering
// what it got.
func readVec(t *kernel.Task, d *vfs.FileDescription, iovs []iovec, read func([]byte) (int, error)) (uint64, error) {
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
	buf, pooled := ioBuf(min(total, maxIO))
	defer putIOBuf(pooled)
	n, err := blockingRead(t, d, func() (int, error) { return read(buf) })
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
	return writeVec(t, d, iovs, d.File.Write)
}

// writeVec gathers an iovec array and writes it with write.
func writeVec(t *kernel.Task, d *vfs.FileDescription, iovs []iovec, write func([]byte) (int, error)) (uint64, error) {
	total := uint64(0)
	for _, v := range iovs {
		total += min(v.len, maxIO)
	}
	// One buffer of the gathered size, filled in place.
	buf := make([]byte, 0, min(total, maxIO))
	faulted := false
	for _, v := range iovs {
		c := int(min(v.len, uint64(maxIO-len(buf))))
		got, _ := t.MM.CopyIn(v.base, buf[len(buf):len(buf)+c])
		buf = buf[:len(buf)+got]
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
		return 0, emptyWrite(d, write)
	}
	n, err := blockingWrite(t, d, buf, write)
	if n > 0 {
		return uint64(n), nil
	}
	return 0, err
}

func init() {
	register(SysPreadv, func(t *kernel.Task, a [6]uint64) (uint64, error) { return preadv(t, a, false) })
	register(SysPreadv2, func(t *kernel.Task, a [6]uint64) (uint64, error) { return preadv(t, a, true) })
	register(SysPwritev, func(t *kernel.Task, a [6]uint64) (uint64, error) { return pwritev(t, a, false) })
	register(SysPwritev2, func(t *kernel.Task, a [6]uint64) (uint64, error) { return pwritev(t, a, true) })
}

// rwfKnown are preadv2/pwritev2's RWF_* flags (HIPRI, DSYNC, SYNC, NOWAIT,
// APPEND): hints or guarantees the library OS's files give anyway.
const (
	rwfKnown  = 0x1f
	rwfAppend = 0x10
)

// vecArgs decodes the p{read,write}v{,2} arguments: fd, iovecs, the offset
// (the low word carries all 64 bits on x86-64), and for the v2 forms the
// flags; an offset of -1 in the v2 forms means the file position.
func vecArgs(t *kernel.Task, a [6]uint64, v2, write bool) (*vfs.FileDescription, []iovec, int64, error) {
	off := int64(a[3])
	if v2 && a[5]&^rwfKnown != 0 {
		return nil, nil, 0, unix.EOPNOTSUPP
	}
	if off < 0 && !(v2 && off == -1) {
		return nil, nil, 0, unix.EINVAL
	}
	d, err := fileFor(t, fdArg(a[0]), write)
	if err != nil {
		return nil, nil, 0, err
	}
	iovs, err := copyInIovecs(t, a[1], intArg(a[2]))
	if err != nil {
		d.DecRef()
		return nil, nil, 0, err
	}
	return d, iovs, off, nil
}

func preadv(t *kernel.Task, a [6]uint64, v2 bool) (uint64, error) {
	d, iovs, off, err := vecArgs(t, a, v2, false)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if off == -1 {
		return readVec(t, d, iovs, d.File.Read)
	}
	return readVec(t, d, iovs, func(b []byte) (int, error) { return d.File.Pread(b, off) })
}

func pwritev(t *kernel.Task, a [6]uint64, v2 bool) (uint64, error) {
	d, iovs, off, err := vecArgs(t, a, v2, true)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if off == -1 {
		return writeVec(t, d, iovs, d.File.Write)
	}
	if v2 && a[5]&rwfAppend != 0 {
		// RWF_APPEND: this write goes to the end whatever the offset.
		st, err := d.File.Stat()
		if err != nil {
			return 0, err
		}
		off = st.Size
	}
	return writeVec(t, d, iovs, func(b []byte) (int, error) {
		n, err := d.File.Pwrite(b, off)
		off += int64(max(n, 0))
		return n, err
	})
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

// oLargefile is the kernel's O_LARGEFILE (x/sys's unix.O_LARGEFILE is 0
// on amd64): a 64-bit kernel sets it on every file open, openat, creat
// and openat2 open (not O_PATH ones), and F_GETFL and fdinfo show it;
// files made otherwise (pipes, sockets, eventfds, pidfds) lack it.
const oLargefile = 0o100000

func openat(t *kernel.Task, dirfd int, pathAddr uint64, flags int, mode uint32) (uint64, error) {
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	// force_o_largefile; O_PATH drops it with the other flags.
	flags |= oLargefile
	if flags&unix.O_CREAT == 0 && flags&unix.O_TMPFILE != unix.O_TMPFILE {
		// The mode matters only for a file the call makes.
		mode = 0
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
	p, err := copyInPath(t, pathAddr)
	if err != nil {
		return 0, err
	}
	st, err := statAt(t, dirfd, p, flags)
	if err != nil {
		return 0, err
	}
	return copyOutStat(t, statAddr, st)
}

// statAt stats p relative to dirfd, with AT_SYMLINK_NOFOLLOW and
// AT_EMPTY_PATH ("" is dirfd's own file, whatever kind of file it is).
func statAt(t *kernel.Task, dirfd int, p string, flags int) (unix.Stat_t, error) {
	if p == "" && flags&unix.AT_EMPTY_PATH != 0 && dirfd != unix.AT_FDCWD {
		d, err := t.FDs.Get(dirfd)
		if err != nil {
			return unix.Stat_t{}, err
		}
		defer d.DecRef()
		return d.File.Stat()
	}
	lf := vfs.LookupFollow
	if flags&unix.AT_SYMLINK_NOFOLLOW != 0 {
		lf = 0
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		lf |= vfs.LookupEmptyPath
	}
	_, st, err := t.LookupStat(dirfd, p, lf)
	return st, err
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
	return getdents(t, a, nil)
}

// getdents reads directory records (struct linux_dirent64) of fd a[0]
// into the a[2] bytes at a[1], rewritten in place by convert if set.
func getdents(t *kernel.Task, a [6]uint64, convert func([]byte)) (uint64, error) {
	d, err := t.FDs.Get(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	count := int(min(a[2], maxIO))
	if t.MM.Accessible(a[1], count, mm.ProtWrite) < count {
		return 0, unix.EFAULT
	}
	buf, pooled := ioBuf(count)
	defer putIOBuf(pooled)
	n, err := d.File.Getdents(buf)
	if err != nil {
		return 0, err
	}
	// Linux reports every successful getdents, the one at the end too.
	vfs.NotifyAccess(d)
	if convert != nil {
		convert(buf[:n])
	}
	t.MM.CopyOut(a[1], buf[:n])
	return uint64(n), nil
}

func readlinkat(t *kernel.Task, dirfd int, pathAddr, buf, size uint64) (uint64, error) {
	if int64(size) <= 0 {
		return 0, unix.EINVAL
	}
	p, err := copyInPath(t, pathAddr)
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
	case fionbio, fioasync:
		// FIOASYNC sets O_ASYNC as F_SETFL would.
		flag := unix.O_NONBLOCK
		if req == fioasync {
			flag = unix.O_ASYNC
		}
		var v [4]byte
		if _, err := t.MM.CopyIn(a[2], v[:]); err != nil {
			return 0, unix.EFAULT
		}
		flags := d.Flags() &^ flag
		if binary.LittleEndian.Uint32(v[:]) != 0 {
			flags |= flag
		}
		setStatusFlags(t, d, fd, flags)
		return 0, nil
	default:
		if r, handled, err := t.TerminalIoctl(d, uint64(req), a[2]); handled || err != nil {
			return r, err
		}
		if r, handled, err := ifaceIoctl(t, d, uint64(req), a[2]); handled {
			return r, err
		}
		return d.File.Ioctl(uint64(req), a[2], t.MM)
	}
}

// fDupfdQuery is F_DUPFD_QUERY (Linux 6.10): 1 if the fd in the argument
// refers to the same open description, else 0.
const fDupfdQuery = 1027

// oPathFcntl reports whether fcntl's cmd works on an O_PATH descriptor
// (Linux's check_fcntl_cmd); every other command is EBADF there.
func oPathFcntl(cmd int) bool {
	switch cmd {
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC, unix.F_GETFD, unix.F_SETFD, unix.F_GETFL, fDupfdQuery:
		return true
	}
	return false
}

func sysFcntl(t *kernel.Task, a [6]uint64) (uint64, error) {
	fd := fdArg(a[0])
	d, err := t.FDs.Get(fd)
	if err != nil {
		return 0, err
	}
	cmd := intArg(a[1])
	if d.Flags()&unix.O_PATH != 0 && !oPathFcntl(cmd) {
		d.DecRef()
		return 0, unix.EBADF
	}
	switch cmd {
	case fDupfdQuery:
		defer d.DecRef()
		o, err := t.FDs.Get(intArg(a[2]))
		if err != nil {
			return 0, err
		}
		o.DecRef()
		if o == d {
			return 1, nil
		}
		return 0, nil
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
		setStatusFlags(t, d, fd, intArg(a[2]))
		return 0, nil
	case unix.F_GETSIG:
		defer d.DecRef()
		return uint64(d.Sig()), nil
	case unix.F_SETSIG:
		defer d.DecRef()
		sig := a[2]
		if sig >= kernel.NumSignals {
			return 0, unix.EINVAL
		}
		d.SetSig(int(sig))
		return 0, nil
	case unix.F_GETLK, unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_GETLK, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		defer d.DecRef()
		return fcntlLock(t, d, cmd, a[2])
	case unix.F_GETOWN, unix.F_SETOWN, unix.F_GETOWN_EX, unix.F_SETOWN_EX:
		defer d.DecRef()
		return fcntlOwner(t, d, cmd, a[2])
	case unix.F_ADD_SEALS, unix.F_GET_SEALS:
		defer d.DecRef()
		return fcntlSeals(d, cmd, u32Arg(a[2]))
	case unix.F_NOTIFY:
		defer d.DecRef()
		return 0, t.DirNotify(d, int32(fd), u32Arg(a[2]))
	case unix.F_GETPIPE_SZ, unix.F_SETPIPE_SZ:
		defer d.DecRef()
		end, ok := vfs.Underlying(d.File).(*pipe.End)
		if !ok {
			return 0, unix.EBADF
		}
		if cmd == unix.F_GETPIPE_SZ {
			return uint64(end.Size()), nil
		}
		// Growing past pipe-max-size needs CAP_SYS_RESOURCE.
		c := t.Creds()
		n, err := end.SetSize(uint64(u32Arg(a[2])), c.HasCap(kernel.CapSysResource))
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
	// The input must be a file with pages (a regular file or block
	// device), not a pipe or socket.
	if st, err := in.File.Stat(); err != nil {
		return 0, err
	} else if m := st.Mode & unix.S_IFMT; m != unix.S_IFREG && m != unix.S_IFBLK {
		return 0, unix.EINVAL
	}
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
	buf, pooled := ioBuf(int(count))
	defer putIOBuf(pooled)
	var n int
	if a[2] != 0 {
		if n, err = in.File.Pread(buf, off); n > 0 {
			vfs.NotifyAccess(in)
		}
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

// setStatusFlags is F_SETFL: O_ASYNC (re)arms the SIGIO the kernel
// sends the owner when the file becomes ready, recording fd as si_fd.
func setStatusFlags(t *kernel.Task, d *vfs.FileDescription, fd int, flags int) {
	was := d.Flags()&unix.O_ASYNC != 0
	d.SetStatusFlags(flags)
	if on := flags&unix.O_ASYNC != 0; on || was {
		t.K.SetAsync(d, int32(fd), on)
	}
}

// fcntlOwner is F_GETOWN, F_SETOWN and their _EX forms: the process,
// thread or group SIGIO goes to (SIGURG is not sent).
func fcntlOwner(t *kernel.Task, d *vfs.FileDescription, cmd int, arg uint64) (uint64, error) {
	switch cmd {
	case unix.F_GETOWN:
		typ, id := d.Owner()
		if typ == fOwnerPgrp {
			id = -id
		}
		return uint64(int64(id)), nil
	case unix.F_SETOWN:
		id := int32(intArg(arg))
		if id < 0 {
			d.SetOwner(fOwnerPgrp, -id)
		} else {
			d.SetOwner(fOwnerPid, id)
		}
		return 0, nil
	case unix.F_GETOWN_EX:
		typ, id := d.Owner()
		var b [8]byte
		binary.LittleEndian.PutUint32(b[0:], uint32(typ))
		binary.LittleEndian.PutUint32(b[4:], uint32(id))
		if _, err := t.MM.CopyOut(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	default: // F_SETOWN_EX
		var b [8]byte
		if _, err := t.MM.CopyIn(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		typ, id := int32(binary.LittleEndian.Uint32(b[0:])), int32(binary.LittleEndian.Uint32(b[4:]))
		if typ != fOwnerTid && typ != fOwnerPid && typ != fOwnerPgrp {
			return 0, unix.EINVAL
		}
		if id < 0 {
			return 0, unix.EINVAL
		}
		d.SetOwner(typ, id)
		return 0, nil
	}
}
