// Package eventfd implements eventfd(2) objects: a 64-bit counter that
// writes add to and reads take, as a waiter.Waitable file. Like every
// library OS file it never blocks: an operation that must wait returns
// EAGAIN and the caller waits for readiness.
package eventfd

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/anon"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// maxCount is the largest value the counter may hold (ULLONG_MAX - 1).
const maxCount = ^uint64(0) - 1

// File is one eventfd.
type File struct {
	semaphore bool
	q         waiter.Queue

	mu    sync.Mutex
	count uint64
}

var (
	_ vfs.File        = (*File)(nil)
	_ waiter.Waitable = (*File)(nil)
)

// New returns an eventfd whose counter starts at initval; semaphore is
// EFD_SEMAPHORE (each read takes 1).
func New(initval uint64, semaphore bool) *File {
	return &File{count: initval, semaphore: semaphore}
}

// Read implements vfs.File: it needs an 8-byte buffer (EINVAL otherwise),
// fails with EAGAIN while the counter is zero, and otherwise returns the
// counter and resets it (or returns 1 and decrements it, for a
// semaphore).
func (f *File) Read(b []byte) (int, error) {
	if len(b) < 8 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	if f.count == 0 {
		f.mu.Unlock()
		return 0, unix.EAGAIN
	}
	v := f.count
	if f.semaphore {
		v = 1
	}
	f.count -= v
	f.mu.Unlock()
	binary.NativeEndian.PutUint64(b, v)
	f.q.Notify(waiter.EventOut | waiter.EventWrNorm)
	return 8, nil
}

// Write implements vfs.File: it adds an 8-byte value (EINVAL for a short
// buffer or for 2^64-1) to the counter, failing with EAGAIN when the sum
// would pass 2^64-2.
func (f *File) Write(b []byte) (int, error) {
	if len(b) < 8 {
		return 0, unix.EINVAL
	}
	v := binary.NativeEndian.Uint64(b)
	if v == ^uint64(0) {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	if maxCount-f.count < v {
		f.mu.Unlock()
		return 0, unix.EAGAIN
	}
	f.count += v
	f.mu.Unlock()
	// Linux wakes readers even for a zero write (an edge for EPOLLET).
	f.q.Notify(waiter.EventIn | waiter.EventRdNorm)
	return 8, nil
}

// Count returns the counter, for /proc/<pid>/fdinfo.
func (f *File) Count() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// Readiness implements waiter.Waitable: readable while the counter is not
// zero, writable while 1 can still be added.
func (f *File) Readiness(mask uint32) uint32 {
	f.mu.Lock()
	c := f.count
	f.mu.Unlock()
	var r uint32
	if c > 0 {
		r |= waiter.EventIn | waiter.EventRdNorm
	}
	if c < maxCount {
		r |= waiter.EventOut | waiter.EventWrNorm
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (f *File) EventRegister(e *waiter.Entry) { f.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (f *File) EventUnregister(e *waiter.Entry) { f.q.Unregister(e) }

// Pread implements vfs.File.
func (f *File) Pread([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Pwrite implements vfs.File.
func (f *File) Pwrite([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Seek implements vfs.File: Linux's noop_llseek leaves the position at 0.
func (f *File) Seek(int64, int) (int64, error) { return 0, nil }

// Getdents implements vfs.File.
func (f *File) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// Stat implements vfs.File: the anonymous inode every eventfd shares.
func (f *File) Stat() (unix.Stat_t, error) { return anon.Stat(), nil }

// Ioctl implements vfs.File.
func (f *File) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }

// Close implements vfs.File.
func (f *File) Close() error { return nil }
