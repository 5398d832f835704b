// Package timerfd implements timerfd(2) objects: a timer whose expirations
// a read takes as an 8-byte count, as a waiter.Waitable file. Like every
// library OS file it never blocks: a read with nothing to take returns
// EAGAIN and the caller waits for readiness.
package timerfd

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/anon"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// File is one timerfd. The library OS's clocks all advance with the
// host's, so a relative timer is a Go timer whatever its clock; absolute
// times are turned into relative ones by the caller.
type File struct {
	// Clock is the clock the timer was made on.
	Clock int32
	q     waiter.Queue

	mu       sync.Mutex
	timer    *time.Timer // nil when disarmed
	next     time.Time   // the next expiry, when armed
	interval time.Duration
	count    uint64 // expirations not read yet
}

var (
	_ vfs.File        = (*File)(nil)
	_ waiter.Waitable = (*File)(nil)
)

// New returns a disarmed timerfd on clock.
func New(clock int32) *File { return &File{Clock: clock} }

// Set arms the timer to expire after value and then every interval (0:
// once), or disarms it for a zero value, and returns the time that was
// left and the interval before. Arming clears the expirations not read.
func (f *File) Set(value, interval time.Duration) (oldValue, oldInterval time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	oldValue, oldInterval = f.getLocked()
	if f.timer != nil {
		f.timer.Stop()
		f.timer = nil
	}
	f.count = 0
	f.interval = interval
	if value > 0 {
		f.next = time.Now().Add(value)
		f.timer = time.AfterFunc(value, f.expire)
	}
	return oldValue, oldInterval
}

// Get returns the time left to the next expiry (0 if disarmed) and the
// interval.
func (f *File) Get() (value, interval time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.getLocked()
}

func (f *File) getLocked() (time.Duration, time.Duration) {
	if f.timer == nil {
		return 0, f.interval
	}
	// A timer due but not run yet still has a little left: Linux reports
	// at least 1 ns for an armed timer.
	return max(time.Until(f.next), time.Nanosecond), f.interval
}

// expire counts the expirations since the last, rearms a periodic timer
// and wakes the readers.
func (f *File) expire() {
	f.mu.Lock()
	if f.timer == nil {
		f.mu.Unlock()
		return
	}
	now := time.Now()
	n := uint64(1)
	if f.interval > 0 {
		// Expirations the timer missed while late count too.
		if late := now.Sub(f.next); late > 0 {
			n += uint64(late / f.interval)
		}
		f.next = f.next.Add(time.Duration(n) * f.interval)
		f.timer.Reset(max(time.Until(f.next), 0))
	} else {
		f.timer = nil
	}
	f.count += n
	f.mu.Unlock()
	f.q.Notify(waiter.EventIn | waiter.EventRdNorm)
}

// SetTicks is TFD_IOC_SET_TICKS: the expirations not read become n.
func (f *File) SetTicks(n uint64) {
	f.mu.Lock()
	f.count = n
	f.mu.Unlock()
	if n > 0 {
		f.q.Notify(waiter.EventIn | waiter.EventRdNorm)
	}
}

// Read implements vfs.File: the expirations since the last read, as a
// native-endian uint64; EINVAL for a buffer under 8 bytes, EAGAIN if none.
func (f *File) Read(b []byte) (int, error) {
	if len(b) < 8 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	n := f.count
	f.count = 0
	f.mu.Unlock()
	if n == 0 {
		return 0, unix.EAGAIN
	}
	binary.NativeEndian.PutUint64(b, n)
	return 8, nil
}

// Readiness implements waiter.Waitable: readable once the timer expired.
func (f *File) Readiness(mask uint32) uint32 {
	f.mu.Lock()
	n := f.count
	f.mu.Unlock()
	if n > 0 {
		return (waiter.EventIn | waiter.EventRdNorm) & mask
	}
	return 0
}

// EventRegister implements waiter.Waitable.
func (f *File) EventRegister(e *waiter.Entry) { f.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (f *File) EventUnregister(e *waiter.Entry) { f.q.Unregister(e) }

// Write implements vfs.File: a timerfd cannot be written.
func (f *File) Write([]byte) (int, error) { return 0, unix.EINVAL }

// Pread implements vfs.File.
func (f *File) Pread([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Pwrite implements vfs.File.
func (f *File) Pwrite([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Seek implements vfs.File.
func (f *File) Seek(int64, int) (int64, error) { return 0, unix.ESPIPE }

// Getdents implements vfs.File.
func (f *File) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// Stat implements vfs.File: an anonymous inode.
func (f *File) Stat() (unix.Stat_t, error) { return anon.Stat(), nil }

// tfdIocSetTicks is TFD_IOC_SET_TICKS (_IOW('T', 0, u64)).
const tfdIocSetTicks = 0x40085400

// Ioctl implements vfs.File: TFD_IOC_SET_TICKS.
func (f *File) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	if req != tfdIocSetTicks {
		return 0, unix.ENOTTY
	}
	var b [8]byte
	if _, err := mem.CopyIn(arg, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	f.SetTicks(binary.NativeEndian.Uint64(b[:]))
	return 0, nil
}

// Close implements vfs.File: the timer stops.
func (f *File) Close() error {
	f.Set(0, 0)
	return nil
}
