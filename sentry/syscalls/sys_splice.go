package syscalls

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/pipe"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// splice(2), tee(2), vmsplice(2) and copy_file_range(2): copies between
// files that do not pass through the workload's memory. The library OS
// has no page cache to share pages through, so each is a copy through a
// buffer of its own, with Linux's argument checks and blocking rules.

func init() {
	register(SysSplice, sysSplice)
	register(SysTee, sysTee)
	register(SysVmsplice, sysVmsplice)
	register(SysCopyFileRange, sysCopyFileRange)
}

// SPLICE_F_* (linux/splice.h). MOVE, MORE and GIFT are hints about pages
// that a copy has no use for.
const (
	spliceFNonblock = 0x2
	spliceFAll      = 0xf
)

// spliceEvents is what a splice waits for on either of its files: the
// source becoming readable or the sink writable, or either hanging up.
const spliceEvents = waiter.EventIn | waiter.EventRdNorm | waiter.EventOut | waiter.EventWrNorm |
	waiter.EventHUp | waiter.EventErr

// spliceFD gets fd for the splice family, which, as Linux's fdget, does
// not see O_PATH descriptors.
func spliceFD(t *kernel.Task, fd int) (*vfs.FileDescription, error) {
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

func canRead(d *vfs.FileDescription) bool {
	m := d.Flags() & unix.O_ACCMODE
	return m == unix.O_RDONLY || m == unix.O_RDWR
}

func canWrite(d *vfs.FileDescription) bool {
	m := d.Flags() & unix.O_ACCMODE
	return m == unix.O_WRONLY || m == unix.O_RDWR
}

func nonblocking(d *vfs.FileDescription) bool { return d.Flags()&unix.O_NONBLOCK != 0 }

// pipeOf is the pipe end behind d, or nil if d is not a pipe or FIFO.
func pipeOf(d *vfs.FileDescription) *pipe.End {
	e, _ := vfs.Underlying(d.File).(*pipe.End)
	return e
}

// seekable says whether d has a position, so that an explicit offset
// means something (Linux's FMODE_PREAD/FMODE_PWRITE): sockets, pipes and
// other streams answer lseek with ESPIPE.
func seekable(d *vfs.FileDescription) bool {
	_, err := d.File.Seek(0, unix.SEEK_CUR)
	return err != unix.ESPIPE
}

// copyInOffset reads the loff_t at addr; addr 0 means no offset.
func copyInOffset(t *kernel.Task, addr uint64) (int64, error) {
	if addr == 0 {
		return 0, nil
	}
	v, err := getU64(t, addr)
	return int64(v), err
}

// retrySplice runs try until it stops failing with EAGAIN, waiting for
// spliceEvents on ws in between while mayWait (asked after each EAGAIN)
// allows. A signal ends the wait with its error (the call restarts or
// fails with EINTR); nothing was transferred then, as each try is all or
// nothing about starting.
func retrySplice(t *kernel.Task, try func() (int, error), mayWait func() bool, ws ...waiter.Waitable) (int, error) {
	n, err := try()
	if err != unix.EAGAIN || !mayWait() {
		return n, err
	}
	e := waiter.NewEntry(spliceEvents)
	for _, w := range ws {
		if w != nil {
			w.EventRegister(e)
			defer w.EventUnregister(e)
		}
	}
	for {
		// Try again with the entry registered, so a wake-up between the
		// last try and the wait is not lost.
		if n, err = try(); err != unix.EAGAIN || !mayWait() {
			return n, err
		}
		if err := t.Block(e.Ch, kernel.NoDeadline()); err != nil {
			return 0, err
		}
	}
}

// waitableOf is d's waitable, or nil for a file that cannot be waited for.
func waitableOf(d *vfs.FileDescription) waiter.Waitable {
	w, ok := vfs.Waitable(d.File)
	if !ok {
		return nil
	}
	return w
}

func sysSplice(t *kernel.Task, a [6]uint64) (uint64, error) {
	offIn, offOut, count, flags := a[1], a[3], a[4], u32Arg(a[5])
	// Linux answers a zero length before looking at anything else.
	if count == 0 {
		return 0, nil
	}
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	in, err := spliceFD(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := spliceFD(t, fdArg(a[2]))
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	ip, op := pipeOf(in), pipeOf(out)
	if (ip != nil && offIn != 0) || (op != nil && offOut != 0) {
		return 0, unix.ESPIPE
	}
	inPos, err := copyInOffset(t, offIn)
	if err != nil {
		return 0, err
	}
	outPos, err := copyInOffset(t, offOut)
	if err != nil {
		return 0, err
	}
	if !canRead(in) || !canWrite(out) {
		return 0, unix.EBADF
	}
	n := int(min(count, maxIO))
	nonblock := flags&spliceFNonblock != 0
	switch {
	case ip != nil && op != nil:
		if ip.Pipe() == op.Pipe() {
			return 0, unix.EINVAL
		}
		return pipeToPipe(t, ip, op, n, nonblock || nonblocking(in) || nonblocking(out), pipe.Splice)
	case ip != nil:
		var pos *int64
		if offOut != 0 {
			pos = &outPos
		}
		done, err := spliceFromPipe(t, ip, out, pos, n, nonblock || nonblocking(in))
		if err != nil {
			return 0, err
		}
		if pos != nil {
			if err := putU64(t, offOut, uint64(outPos), 8); err != nil {
				return 0, err
			}
		}
		return uint64(done), nil
	case op != nil:
		var pos *int64
		if offIn != 0 {
			pos = &inPos
		}
		done, err := spliceToPipe(t, in, op, pos, n, nonblock || nonblocking(out))
		if err != nil {
			return 0, err
		}
		if pos != nil {
			if err := putU64(t, offIn, uint64(inPos), 8); err != nil {
				return 0, err
			}
		}
		return uint64(done), nil
	default:
		return 0, unix.EINVAL
	}
}

// pipeToPipe runs move (pipe.Splice or pipe.Tee) from ip to op, waiting
// for the input to have data and the output room unless nonblock.
func pipeToPipe(t *kernel.Task, ip, op *pipe.End, n int, nonblock bool, move func(src, dst *pipe.End, n int) (int, error)) (uint64, error) {
	done, err := retrySplice(t, func() (int, error) { return move(ip, op, n) },
		func() bool { return !nonblock }, ip, op)
	if err == unix.EPIPE {
		sendSIGPIPE(t)
	}
	if err != nil {
		return 0, err
	}
	return uint64(done), nil
}

// spliceFromPipe moves up to n bytes from ip into out, at *pos if pos is
// set (and advances it) or at out's position. It waits for the pipe to
// have data unless nonblock, and for out to take it unless out is
// non-blocking too.
func spliceFromPipe(t *kernel.Task, ip *pipe.End, out *vfs.FileDescription, pos *int64, n int, nonblock bool) (int, error) {
	if pos != nil && (*pos < 0 || !seekable(out)) {
		return 0, unix.EINVAL
	}
	// Linux will not splice to an O_APPEND file, whose writes ignore the
	// offset the splice would keep.
	if out.Flags()&unix.O_APPEND != 0 {
		return 0, unix.EINVAL
	}
	write := func(b []byte) (int, error) {
		if pos != nil {
			return out.File.Pwrite(b, *pos)
		}
		return out.File.Write(b)
	}
	return spliceFile(t, ip, out, pos, nonblock, write, func(io func([]byte) (int, error)) (int, error) {
		return ip.ReadTo(n, io)
	}, vfs.NotifyModify)
}

// spliceToPipe moves up to n bytes from in, at *pos if pos is set (and
// advances it) or at in's position, into op. It waits for room in the
// pipe unless nonblock, and for in to have data unless in is
// non-blocking too.
func spliceToPipe(t *kernel.Task, in *vfs.FileDescription, op *pipe.End, pos *int64, n int, nonblock bool) (int, error) {
	if pos != nil && (*pos < 0 || !seekable(in)) {
		return 0, unix.EINVAL
	}
	// A directory has no splice_read on Linux.
	if st, err := in.File.Stat(); err != nil {
		return 0, err
	} else if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return 0, unix.EINVAL
	}
	read := func(b []byte) (int, error) {
		if pos != nil {
			return in.File.Pread(b, *pos)
		}
		return in.File.Read(b)
	}
	return spliceFile(t, op, in, pos, nonblock, read, func(io func([]byte) (int, error)) (int, error) {
		return op.WriteFrom(n, io)
	}, vfs.NotifyAccess)
}

// spliceFile runs move, which moves bytes between the pipe end e and the
// file f through fileIO (f's read or write), until it moves some or fails
// with something other than EAGAIN. It waits for the pipe unless
// nonblock, and for f when f is what held it up, unless f is
// non-blocking too; then it advances *pos and sends f's inotify event.
func spliceFile(t *kernel.Task, e *pipe.End, f *vfs.FileDescription, pos *int64, nonblock bool,
	fileIO func([]byte) (int, error), move func(func([]byte) (int, error)) (int, error), notify func(*vfs.FileDescription)) (int, error) {
	var fileStuck bool
	io := func(b []byte) (int, error) {
		n, err := fileIO(b)
		fileStuck = err == unix.EAGAIN && n <= 0
		return n, err
	}
	fw := waitableOf(f)
	try := func() (int, error) {
		fileStuck = false
		return move(io)
	}
	mayWait := func() bool {
		if fileStuck {
			return !nonblock && !nonblocking(f) && fw != nil
		}
		return !nonblock
	}
	done, err := retrySplice(t, try, mayWait, e, fw)
	if err == unix.EPIPE {
		sendSIGPIPE(t)
	}
	if done <= 0 {
		return 0, err
	}
	if pos != nil {
		*pos += int64(done)
	}
	notify(f)
	return done, nil
}

func sysTee(t *kernel.Task, a [6]uint64) (uint64, error) {
	count, flags := a[2], u32Arg(a[3])
	// Unlike splice, tee checks its flags before the length.
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	if count == 0 {
		return 0, nil
	}
	in, err := spliceFD(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := spliceFD(t, fdArg(a[1]))
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	if !canRead(in) || !canWrite(out) {
		return 0, unix.EBADF
	}
	ip, op := pipeOf(in), pipeOf(out)
	if ip == nil || op == nil || ip.Pipe() == op.Pipe() {
		return 0, unix.EINVAL
	}
	nonblock := flags&spliceFNonblock != 0 || nonblocking(in) || nonblocking(out)
	return pipeToPipe(t, ip, op, int(min(count, maxIO)), nonblock, pipe.Tee)
}

// sysVmsplice copies between workload memory and a pipe: into the pipe
// through a write end (gathering the iovecs), out of it through a read
// end (scattering). Linux's vmsplice waits unless SPLICE_F_NONBLOCK,
// whatever the pipe's O_NONBLOCK says.
func sysVmsplice(t *kernel.Task, a [6]uint64) (uint64, error) {
	flags := u32Arg(a[3])
	if flags&^spliceFAll != 0 {
		return 0, unix.EINVAL
	}
	d, err := spliceFD(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	toPipe := canWrite(d)
	if !toPipe && !canRead(d) {
		return 0, unix.EBADF
	}
	if a[2] > 1024 {
		return 0, unix.EINVAL
	}
	iovs, err := copyInIovecs(t, a[1], int(a[2]))
	if err != nil {
		return 0, err
	}
	total := iovecsLen(iovs)
	if total == 0 {
		return 0, nil
	}
	e := pipeOf(d)
	if e == nil {
		return 0, unix.EBADF
	}
	nonblock := flags&spliceFNonblock != 0
	mayWait := func() bool { return !nonblock }
	if toPipe {
		buf, err := gatherIovecs(t, iovs)
		if err != nil {
			return 0, err
		}
		n, err := retrySplice(t, func() (int, error) {
			return e.WriteFrom(len(buf), func(b []byte) (int, error) { return copy(b, buf), nil })
		}, mayWait, e)
		if err == unix.EPIPE {
			sendSIGPIPE(t)
		}
		if err != nil {
			return 0, err
		}
		return uint64(n), nil
	}
	scatter := func(b []byte) (int, error) {
		done := 0
		for _, v := range iovs {
			if done == len(b) {
				break
			}
			c := min(int(min(v.len, maxIO)), len(b)-done)
			got, _ := t.MM.CopyOut(v.base, b[done:done+c])
			done += got
			if got < c {
				break
			}
		}
		if done == 0 {
			return 0, unix.EFAULT
		}
		return done, nil
	}
	n, err := retrySplice(t, func() (int, error) { return e.ReadTo(int(min(total, maxIO)), scatter) }, mayWait, e)
	if n > 0 {
		return uint64(n), nil
	}
	return 0, err
}

// gatherIovecs copies in the iovecs' bytes, up to maxIO, stopping at the
// first fault; a fault before any byte is EFAULT.
func gatherIovecs(t *kernel.Task, iovs []iovec) ([]byte, error) {
	var buf []byte
	for _, v := range iovs {
		c := int(min(v.len, uint64(maxIO-len(buf))))
		chunk := make([]byte, c)
		got, _ := t.MM.CopyIn(v.base, chunk)
		buf = append(buf, chunk[:got]...)
		if got < c || len(buf) >= maxIO {
			break
		}
	}
	if len(buf) == 0 {
		return nil, unix.EFAULT
	}
	return buf, nil
}

// sysCopyFileRange copies between two regular files, at the given offsets
// (which it advances) or at the files' positions (which it moves).
// Between two file systems it fails with EXDEV, as Linux since 5.19 does
// for file systems without a copy of their own (callers fall back to
// read and write).
func sysCopyFileRange(t *kernel.Task, a [6]uint64) (uint64, error) {
	offIn, offOut, count, flags := a[1], a[3], a[4], u32Arg(a[5])
	in, err := spliceFD(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer in.DecRef()
	out, err := spliceFD(t, fdArg(a[2]))
	if err != nil {
		return 0, err
	}
	defer out.DecRef()
	inPos, outPos := int64(0), int64(0)
	if offIn != 0 {
		if inPos, err = copyInOffset(t, offIn); err != nil {
			return 0, err
		}
	} else if inPos, err = in.File.Seek(0, unix.SEEK_CUR); err != nil {
		inPos = 0 // a stream: the type check below refuses it
	}
	if offOut != 0 {
		if outPos, err = copyInOffset(t, offOut); err != nil {
			return 0, err
		}
	} else if outPos, err = out.File.Seek(0, unix.SEEK_CUR); err != nil {
		outPos = 0
	}
	if flags != 0 {
		return 0, unix.EINVAL
	}
	inSt, err := in.File.Stat()
	if err != nil {
		return 0, err
	}
	outSt, err := out.File.Stat()
	if err != nil {
		return 0, err
	}
	inType, outType := inSt.Mode&unix.S_IFMT, outSt.Mode&unix.S_IFMT
	if inType == unix.S_IFDIR || outType == unix.S_IFDIR {
		return 0, unix.EISDIR
	}
	if inType != unix.S_IFREG || outType != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	if !canRead(in) || !canWrite(out) || out.Flags()&unix.O_APPEND != 0 {
		return 0, unix.EBADF
	}
	// Linux's wrap check, in its unsigned arithmetic.
	if uint64(inPos)+count < uint64(inPos) || uint64(outPos)+count < uint64(outPos) {
		return 0, unix.EOVERFLOW
	}
	if inPos < 0 || outPos < 0 {
		return 0, unix.EINVAL
	}
	if inSt.Dev != outSt.Dev {
		return 0, unix.EXDEV
	}
	// The copy stops at the source's end.
	var n int64
	if inPos < inSt.Size {
		n = int64(min(count, uint64(inSt.Size-inPos)))
	}
	sameFile := inSt.Dev == outSt.Dev && inSt.Ino == outSt.Ino
	if sameFile && outPos+n > inPos && outPos < inPos+n {
		return 0, unix.EINVAL
	}
	if n == 0 {
		return 0, nil
	}
	// A short copy is allowed, and callers loop.
	buf := make([]byte, min(n, maxIO))
	r, err := in.File.Pread(buf, inPos)
	if r <= 0 {
		return 0, err
	}
	vfs.NotifyAccess(in)
	w, err := out.File.Pwrite(buf[:r], outPos)
	if w <= 0 {
		return 0, err
	}
	vfs.NotifyModify(out)
	inPos += int64(w)
	outPos += int64(w)
	if offIn != 0 {
		if err := putU64(t, offIn, uint64(inPos), 8); err != nil {
			return 0, err
		}
	} else {
		in.File.Seek(inPos, unix.SEEK_SET)
	}
	if offOut != 0 {
		if err := putU64(t, offOut, uint64(outPos), 8); err != nil {
			return 0, err
		}
	} else {
		out.File.Seek(outPos, unix.SEEK_SET)
	}
	return uint64(w), nil
}
