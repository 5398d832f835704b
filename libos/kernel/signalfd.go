package kernel

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/fs/anon"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// SignalFD is a signalfd(2) file: reading it takes the pending signals in
// its mask as signalfd_siginfo records, and it is readable while one is
// pending. Linux looks at the signals of whichever thread reads or polls
// it; here they are those of the thread that made it (and its process's),
// which is the same for the single-threaded daemons that use signalfd
// (systemd, PostgreSQL, which makes a fresh one in each child).
type SignalFD struct {
	t *Task

	mu   sync.Mutex
	mask uint64
}

var (
	_ vfs.File        = (*SignalFD)(nil)
	_ waiter.Waitable = (*SignalFD)(nil)
)

// signalfdSiginfoSize is sizeof(struct signalfd_siginfo).
const signalfdSiginfoSize = 128

// NewSignalFD returns a signalfd of t's signals in mask (SIGKILL and
// SIGSTOP are never taken).
func NewSignalFD(t *Task, mask uint64) *SignalFD {
	return &SignalFD{t: t, mask: mask &^ unblockable}
}

// SetMask replaces the signals the file takes.
func (f *SignalFD) SetMask(mask uint64) {
	f.mu.Lock()
	f.mask = mask &^ unblockable
	f.mu.Unlock()
	f.t.tg.signalfdQ.Notify(waiter.EventIn)
}

// Mask returns the signals the file takes (for /proc's fdinfo).
func (f *SignalFD) Mask() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mask
}

// Read implements vfs.File: as many pending signals of the mask as whole
// records fit in p, EINVAL if not even one does, EAGAIN if none is
// pending.
func (f *SignalFD) Read(p []byte) (int, error) {
	if len(p) < signalfdSiginfoSize {
		return 0, unix.EINVAL
	}
	mask := f.Mask()
	n := 0
	for n+signalfdSiginfoSize <= len(p) {
		info, ok := f.t.TakeSignal(mask)
		if !ok {
			break
		}
		putSignalfdSiginfo(p[n:n+signalfdSiginfoSize], &info)
		n += signalfdSiginfoSize
	}
	if n == 0 {
		return 0, unix.EAGAIN
	}
	return n, nil
}

// putSignalfdSiginfo lays info out as struct signalfd_siginfo, filling
// the fields its si_code says it carries, as Linux's signalfd_copyinfo.
func putSignalfdSiginfo(b []byte, info *arch.SignalInfo) {
	clear(b)
	le := binary.LittleEndian
	sig, code := int(info.Signo), info.Code
	le.PutUint32(b[0:], uint32(info.Signo))
	le.PutUint32(b[4:], uint32(info.Errno))
	le.PutUint32(b[8:], uint32(code))
	pidUID := func() {
		le.PutUint32(b[12:], uint32(info.PID()))
		le.PutUint32(b[16:], info.UID())
	}
	value := func() {
		v := info.Value()
		le.PutUint32(b[44:], uint32(v)) // ssi_int
		le.PutUint64(b[48:], v)         // ssi_ptr
	}
	switch {
	case code == arch.SITimer:
		le.PutUint32(b[24:], uint32(info.TimerID())) // ssi_tid
		le.PutUint32(b[32:], uint32(info.Overrun()))
		value()
	case code <= 0:
		// Sent by a process: kill, tkill, sigqueue (which adds a
		// value), message queues.
		pidUID()
		if code == arch.SIQueue || code == arch.SIMesgq {
			value()
		}
	case sig == int(unix.SIGCHLD):
		pidUID()
		le.PutUint32(b[40:], uint32(info.Status()))
		utime, stime := info.ChildTimes()
		le.PutUint64(b[56:], uint64(utime))
		le.PutUint64(b[64:], uint64(stime))
	case sig == int(unix.SIGIO) || sig >= sigRTMin:
		band, fd := info.Poll()
		le.PutUint32(b[28:], uint32(band)) // ssi_band
		le.PutUint32(b[20:], uint32(fd))   // ssi_fd
	case sig == int(unix.SIGSEGV) || sig == int(unix.SIGBUS) || sig == int(unix.SIGILL) ||
		sig == int(unix.SIGFPE) || sig == int(unix.SIGTRAP):
		le.PutUint64(b[72:], info.Addr())
	}
}

// sigRTMin is the first real-time signal number (F_SETSIG may pick one
// for I/O readiness).
const sigRTMin = 32

// Readiness implements waiter.Waitable: readable while a signal of the
// mask is pending for the thread or its process.
func (f *SignalFD) Readiness(mask uint32) uint32 {
	if f.t.Pending()&f.Mask() != 0 {
		return (waiter.EventIn | waiter.EventRdNorm) & mask
	}
	return 0
}

// EventRegister implements waiter.Waitable: the thread group's signal
// queue says when a signal arrives.
func (f *SignalFD) EventRegister(e *waiter.Entry) { f.t.tg.signalfdQ.Register(e) }

// EventUnregister implements waiter.Waitable.
func (f *SignalFD) EventUnregister(e *waiter.Entry) { f.t.tg.signalfdQ.Unregister(e) }

// Write implements vfs.File: a signalfd cannot be written.
func (f *SignalFD) Write([]byte) (int, error) { return 0, unix.EINVAL }

// Pread implements vfs.File.
func (f *SignalFD) Pread([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Pwrite implements vfs.File.
func (f *SignalFD) Pwrite([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Seek implements vfs.File.
func (f *SignalFD) Seek(int64, int) (int64, error) { return 0, unix.ESPIPE }

// Getdents implements vfs.File.
func (f *SignalFD) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// Stat implements vfs.File: an anonymous inode.
func (f *SignalFD) Stat() (unix.Stat_t, error) { return anon.Stat(), nil }

// Ioctl implements vfs.File.
func (f *SignalFD) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }

// Close implements vfs.File.
func (f *SignalFD) Close() error { return nil }
