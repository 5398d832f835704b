// Package inotify implements inotify(7) instances: a queue of file system
// events that reads return as struct inotify_event records. The watches
// and the events themselves come from the VFS (vfs.NotifyGroup); this is
// the file the workload reads. Like every library OS file it never
// blocks: a read with nothing queued returns EAGAIN and the caller waits
// for readiness.
package inotify

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/anon"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// MaxQueuedEvents is fs.inotify.max_queued_events: past it, events are
// dropped and one IN_Q_OVERFLOW event says so.
const MaxQueuedEvents = 16384

// eventSize is sizeof(struct inotify_event) without its name.
const eventSize = 16

// fionread is FIONREAD (asm-generic/ioctls.h).
const fionread = 0x541b

// ioctlSetNextWD is INOTIFY_IOC_SETNEXTWD (_IOW('I', 0, __s32)): its
// argument, passed by value, is the next watch descriptor to hand out.
const ioctlSetNextWD = 0x40044900

type event struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string
}

// size is the event's record length: the name, with its NUL, is padded
// to a multiple of the header size, as Linux pads it.
func (e *event) size() int {
	if e.name == "" {
		return eventSize
	}
	return eventSize + nameLen(e.name)
}

func nameLen(name string) int {
	return (len(name) + 1 + eventSize - 1) / eventSize * eventSize
}

// File is one inotify instance.
type File struct {
	g *vfs.NotifyGroup
	q waiter.Queue

	mu     sync.Mutex
	events []event
	head   int // events[head:] are queued
	bytes  int // their total record length, for FIONREAD
	// overflowed: an IN_Q_OVERFLOW event is queued, so no second one is.
	overflowed bool
}

var (
	_ vfs.File            = (*File)(nil)
	_ waiter.Waitable     = (*File)(nil)
	_ vfs.NotifySink      = (*File)(nil)
	_ vfs.ZeroCountReader = (*File)(nil)
)

// New makes an inotify instance for the user uid; EMFILE past the
// per-user limit of instances.
func New(uid uint32) (*File, error) {
	f := &File{}
	g, err := vfs.NewNotifyGroup(f, uid)
	if err != nil {
		return nil, err
	}
	f.g = g
	return f, nil
}

// Group is the instance's watches, for inotify_add_watch and
// inotify_rm_watch.
func (f *File) Group() *vfs.NotifyGroup { return f.g }

// Enqueue implements vfs.NotifySink. An event equal to the last one
// queued (same watch, mask and name) is dropped, as Linux coalesces
// them; past MaxQueuedEvents only an overflow event is added, once.
func (f *File) Enqueue(wd int32, mask, cookie uint32, name string) {
	e := event{wd: wd, mask: mask, cookie: cookie, name: name}
	f.mu.Lock()
	queued := len(f.events) - f.head
	switch {
	case queued >= MaxQueuedEvents:
		if f.overflowed {
			f.mu.Unlock()
			return
		}
		f.overflowed = true
		e = event{wd: -1, mask: vfs.InQOverflow}
	case queued > 0:
		last := &f.events[len(f.events)-1]
		if last.mask&vfs.InIgnored == 0 && last.wd == wd && last.mask == mask && last.name == name {
			f.mu.Unlock()
			return
		}
	}
	f.events = append(f.events, e)
	f.bytes += e.size()
	f.mu.Unlock()
	f.q.Notify(waiter.EventIn | waiter.EventRdNorm)
}

// Read implements vfs.File: as many whole events as fit in p, EINVAL if
// not even the first does, EAGAIN if none is queued.
func (f *File) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.head == len(f.events) {
		return 0, unix.EAGAIN
	}
	n := 0
	for f.head < len(f.events) {
		e := &f.events[f.head]
		sz := e.size()
		if sz > len(p)-n {
			if n == 0 {
				return 0, unix.EINVAL
			}
			break
		}
		b := p[n : n+sz]
		binary.NativeEndian.PutUint32(b[0:], uint32(e.wd))
		binary.NativeEndian.PutUint32(b[4:], e.mask)
		binary.NativeEndian.PutUint32(b[8:], e.cookie)
		binary.NativeEndian.PutUint32(b[12:], uint32(sz-eventSize))
		clear(b[eventSize:])
		copy(b[eventSize:], e.name)
		n += sz
		f.bytes -= sz
		if e.mask&vfs.InQOverflow != 0 {
			f.overflowed = false
		}
		*e = event{}
		f.head++
	}
	if f.head == len(f.events) {
		f.events, f.head = f.events[:0], 0
	} else if f.head > 1024 && f.head*2 > len(f.events) {
		f.events = append(f.events[:0], f.events[f.head:]...)
		f.head = 0
	}
	return n, nil
}

// FDInfo is what /proc/PID/fdinfo shows of the instance: a line per
// watch, in Linux's format (without a file handle, which Linux also
// leaves out where it cannot make one).
func (f *File) FDInfo() string {
	var b strings.Builder
	for _, w := range f.g.Watches() {
		// The device in the kernel's own encoding, as Linux prints it.
		sdev := uint64(unix.Major(w.Dev))<<20 | uint64(unix.Minor(w.Dev))
		fmt.Fprintf(&b, "inotify wd:%x ino:%x sdev:%x mask:%x ignored_mask:0 \n", w.WD, w.Ino, sdev, w.Mask)
	}
	return b.String()
}

// ReadsZeroCount implements vfs.ZeroCountReader: a read of zero bytes is
// EINVAL with an event queued, like any buffer too small for it.
func (f *File) ReadsZeroCount() {}

// Queued returns the number of bytes a read would return in full
// (FIONREAD).
func (f *File) Queued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bytes
}

// Readiness implements waiter.Waitable: readable while an event is
// queued; never writable.
func (f *File) Readiness(mask uint32) uint32 {
	f.mu.Lock()
	ready := f.head < len(f.events)
	f.mu.Unlock()
	if ready {
		return (waiter.EventIn | waiter.EventRdNorm) & mask
	}
	return 0
}

// EventRegister implements waiter.Waitable.
func (f *File) EventRegister(e *waiter.Entry) { f.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (f *File) EventUnregister(e *waiter.Entry) { f.q.Unregister(e) }

// Ioctl implements vfs.File: FIONREAD and INOTIFY_IOC_SETNEXTWD.
func (f *File) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	switch req {
	case fionread:
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], uint32(f.Queued()))
		if _, err := mem.CopyOut(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case ioctlSetNextWD:
		if arg < 1 || arg > 1<<31-1 {
			return 0, unix.EINVAL
		}
		f.g.SetNextWD(int32(arg))
		return 0, nil
	}
	return 0, unix.ENOTTY
}

// Write implements vfs.File; the instance is opened read-only, so the
// syscall layer refuses writes first.
func (f *File) Write([]byte) (int, error) { return 0, unix.EINVAL }

// Pread implements vfs.File.
func (f *File) Pread([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Pwrite implements vfs.File.
func (f *File) Pwrite([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Seek implements vfs.File: Linux's noop_llseek leaves the position at 0.
func (f *File) Seek(int64, int) (int64, error) { return 0, nil }

// Getdents implements vfs.File.
func (f *File) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// Stat implements vfs.File: the anonymous inode.
func (f *File) Stat() (unix.Stat_t, error) { return anon.Stat(), nil }

// Close implements vfs.File: the watches go, with no events.
func (f *File) Close() error {
	f.g.Release()
	f.mu.Lock()
	f.events, f.head, f.bytes = nil, 0, 0
	f.mu.Unlock()
	return nil
}
