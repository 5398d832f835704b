package hostfd

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/waiter"
)

// CanPoll implements vfs.Pollable: Linux polls terminals, pipes, sockets
// and character devices, but regular files and directories are always
// ready (and epoll refuses them).
func (f *File) CanPoll() bool {
	f.pollOnce.Do(func() {
		var st unix.Stat_t
		if unix.Fstat(f.fd, &st) != nil {
			return
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK:
		default:
			f.canPoll = true
		}
	})
	return f.canPoll
}

// ready reports whether a read (POLLIN) or write (POLLOUT) of a pollable
// host fd would not block: the fd is ready, hung up or in error. Files that
// cannot be polled are always ready.
func (f *File) ready(events int16) bool {
	if !f.CanPoll() {
		return true
	}
	fds := []unix.PollFd{{Fd: int32(f.fd), Events: events}}
	for {
		_, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || fds[0].Revents != 0
	}
}

// Readiness implements waiter.Waitable with a host poll that does not
// wait.
func (f *File) Readiness(mask uint32) uint32 {
	f.rearm()
	fds := []unix.PollFd{{Fd: int32(f.fd), Events: int16(mask)}}
	for {
		_, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return waiter.EventErr & mask
		}
		return uint32(uint16(fds[0].Revents)) & mask
	}
}

// EventRegister implements waiter.Waitable: while entries are registered a
// goroutine waits in a host poll for the events they want and notifies
// them.
func (f *File) EventRegister(e *waiter.Entry) { f.w.register(f.fd, e) }

// EventUnregister implements waiter.Waitable.
func (f *File) EventUnregister(e *waiter.Entry) { f.w.unregister(e) }

func (f *File) rearm() { f.w.kickNow() }

// Rearm tells the watcher the file has been looked at, so it may poll the
// host again: wrappers (libos/net/hostinet) call it before each attempt
// that may fail with EAGAIN and send the caller back to waiting.
func (f *File) Rearm()        { f.rearm() }
func (f *File) stopWatching() { f.w.stop() }

// watcher waits for a host fd's readiness on behalf of its entries.
//
// After notifying, it does not poll again until someone has looked at the
// file (Readiness, Read, Write) or the entries changed: a level-triggered
// host fd would otherwise make it spin while the workload is busy.
type watcher struct {
	q waiter.Queue

	mu      sync.Mutex
	entries map[*waiter.Entry]struct{}
	running bool
	closed  bool
	ctl     int           // host eventfd that interrupts the poll; -1 if none
	kick    chan struct{} // wakes the goroutine waiting to poll again
	done    chan struct{} // closed when the goroutine exits
}

func (w *watcher) register(fd int, e *waiter.Entry) {
	w.q.Register(e)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.entries == nil {
		w.entries = make(map[*waiter.Entry]struct{})
		w.kick = make(chan struct{}, 1)
	}
	w.entries[e] = struct{}{}
	if w.closed {
		return
	}
	if w.running {
		w.interruptLocked()
		return
	}
	ctl, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		ctl = -1 // fall back to polling with a timeout
	}
	w.ctl = ctl
	w.running = true
	w.done = make(chan struct{})
	go w.loop(fd, ctl, w.done)
}

func (w *watcher) unregister(e *waiter.Entry) {
	w.q.Unregister(e)
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.entries, e)
	if w.running {
		w.interruptLocked()
	}
}

// interruptLocked makes the goroutine recompute what it polls for.
func (w *watcher) interruptLocked() {
	if w.ctl >= 0 {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(w.ctl, one[:])
	}
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *watcher) kickNow() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// stop ends the goroutine for good (the file is closing) and waits for it.
func (w *watcher) stop() {
	w.mu.Lock()
	w.closed = true
	done := w.done
	if w.running {
		w.interruptLocked()
	}
	w.mu.Unlock()
	if done != nil {
		<-done
	}
}

// fallbackPoll bounds a poll when there is no eventfd to interrupt it.
const fallbackPoll = 50 * time.Millisecond

func (w *watcher) loop(fd, ctl int, done chan struct{}) {
	defer close(done)
	for {
		w.mu.Lock()
		if w.closed || len(w.entries) == 0 {
			w.running = false
			if w.ctl >= 0 {
				unix.Close(w.ctl)
				w.ctl = -1
			}
			w.mu.Unlock()
			return
		}
		var mask uint32
		for e := range w.entries {
			mask |= e.Mask
		}
		w.mu.Unlock()
		fds := []unix.PollFd{{Fd: int32(fd), Events: int16(uint16(mask))}}
		timeout := int(fallbackPoll / time.Millisecond)
		if ctl >= 0 {
			fds = append(fds, unix.PollFd{Fd: int32(ctl), Events: unix.POLLIN})
			timeout = -1
		}
		_, err := unix.Poll(fds, timeout)
		if err != nil && err != unix.EINTR {
			// The host fd cannot be polled; readiness is whatever
			// Readiness says when asked.
			w.waitKick()
			continue
		}
		if ctl >= 0 && fds[1].Revents != 0 {
			var b [8]byte
			unix.Read(ctl, b[:])
			continue
		}
		if ev := uint32(uint16(fds[0].Revents)); ev != 0 {
			w.q.Notify(ev)
			w.waitKick()
		}
	}
}

// waitKick waits until the file has been looked at or the entries changed.
func (w *watcher) waitKick() {
	<-w.kick
}
