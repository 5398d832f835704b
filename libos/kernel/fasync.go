package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// si_code values of SIGIO-style signals (POLL_*), and the f_owner_ex
// types.
const (
	pollIn  = 1
	pollOut = 2
	pollMsg = 3
	pollErr = 4
	pollPri = 5
	pollHup = 6

	ownerTID  = 0
	ownerPID  = 1
	ownerPGRP = 2
)

// asyncTable is the descriptions with O_ASYNC set, each with the waiter
// entry that signals its owner, and the signals waiting to be sent when
// the kernel lock was taken (a file may be notified while the kernel
// holds it, for instance when an exiting task's socket wakes its peer).
type asyncTable struct {
	mu      sync.Mutex
	entries map[*vfs.FileDescription]*fasync
	pending []*pendingSig
	running bool
}

// fasync is one description's O_ASYNC registration (Linux's
// fasync_struct).
type fasync struct {
	d     *vfs.FileDescription
	fd    int32
	w     waiter.Waitable
	entry waiter.Entry
	hook  *vfs.ReleaseHook
}

type pendingSig struct {
	d      *vfs.FileDescription
	fd     int32
	events uint32
}

// SetAsync turns O_ASYNC notification on or off for d, set through fd
// (the si_fd an F_SETSIG signal reports, as Linux records the fd of the
// last fcntl that set it). Files that cannot be polled never signal.
func (k *Kernel) SetAsync(d *vfs.FileDescription, fd int32, on bool) {
	t := &k.async
	t.mu.Lock()
	old := t.entries[d]
	if old != nil && on {
		old.fd = fd
		t.mu.Unlock()
		return
	}
	if old != nil {
		delete(t.entries, d)
	}
	var w waiter.Waitable
	if on {
		w, _ = vfs.Waitable(d.File)
	}
	var f *fasync
	if w != nil {
		if t.entries == nil {
			t.entries = make(map[*vfs.FileDescription]*fasync)
		}
		f = &fasync{d: d, fd: fd, w: w}
		t.entries[d] = f
	}
	t.mu.Unlock()
	if old != nil {
		old.w.EventUnregister(&old.entry)
		d.CancelRelease(old.hook)
	}
	if f == nil {
		return
	}
	f.entry = waiter.Entry{Mask: waiter.EventsAll, Callback: func(events uint32) {
		t.mu.Lock()
		fd := f.fd
		live := t.entries[d] == f
		t.mu.Unlock()
		if live {
			k.sigio(d, fd, events)
		}
	}}
	w.EventRegister(&f.entry)
	f.hook = d.OnRelease(func() { k.SetAsync(d, 0, false) })
}

// sigio signals d's owner that d became ready for events, as
// send_sigio does: synchronously when the kernel lock is free (the
// owner writing to its own socket sees the signal on return), else
// from a goroutine, since the notification may come from code holding
// the lock.
func (k *Kernel) sigio(d *vfs.FileDescription, fd int32, events uint32) {
	if _, id := d.Owner(); id == 0 {
		return
	}
	if k.mu.TryLock() {
		k.sigioLocked(d, fd, events)
		k.mu.Unlock()
		return
	}
	t := &k.async
	t.mu.Lock()
	t.pending = append(t.pending, &pendingSig{d, fd, events})
	start := !t.running
	t.running = true
	t.mu.Unlock()
	if start {
		go k.drainSigio()
	}
}

func (k *Kernel) drainSigio() {
	t := &k.async
	for {
		t.mu.Lock()
		p := t.pending
		t.pending = nil
		if len(p) == 0 {
			t.running = false
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		k.mu.Lock()
		for _, s := range p {
			k.sigioLocked(s.d, s.fd, s.events)
		}
		k.mu.Unlock()
	}
}

// sigioLocked sends the signal F_SETSIG chose (SIGIO without details by
// default) to the owner: a thread, a process or a process group.
func (k *Kernel) sigioLocked(d *vfs.FileDescription, fd int32, events uint32) {
	typ, id := d.Owner()
	if id == 0 {
		return
	}
	info := func() *arch.SignalInfo {
		sig := d.Sig()
		if sig == 0 {
			return &arch.SignalInfo{Signo: int32(unix.SIGIO), Code: arch.SIKernel}
		}
		reason, band := pollReason(events)
		info := &arch.SignalInfo{Signo: int32(sig), Code: reason}
		switch unix.Signal(sig) {
		case unix.SIGILL, unix.SIGFPE, unix.SIGSEGV, unix.SIGBUS, unix.SIGTRAP, unix.SIGCHLD:
			// Signals with si_codes of their own: POLL_* would be
			// ambiguous.
			info.Code = arch.SISigIO
		}
		info.SetPoll(int64(band), fd)
		return info
	}
	switch typ {
	case ownerTID:
		if t := k.tasks[id]; t != nil {
			k.sendLocked(t.tg, t, info())
		}
	case ownerPID:
		if t := k.tasks[id]; t != nil && t.tg.leader == t {
			k.sendLocked(t.tg, nil, info())
		}
	case ownerPGRP:
		for _, o := range k.tasks {
			if o.tg.leader == o && o.tg.pgrp != nil && o.tg.pgrp.id == id && !o.tg.zombie {
				k.sendLocked(o.tg, nil, info())
			}
		}
	}
}

// pollReason is the POLL_* code and si_band of a readiness change, as
// Linux's band_table has them.
func pollReason(events uint32) (int32, uint32) {
	switch {
	case events == waiter.EventMsg: // dnotify's POLL_MSG
		return pollMsg, waiter.EventIn | waiter.EventRdNorm | waiter.EventMsg
	case events&(waiter.EventIn|waiter.EventRdNorm) != 0:
		return pollIn, waiter.EventIn | waiter.EventRdNorm | waiter.EventMsg
	case events&(waiter.EventOut|waiter.EventWrNorm) != 0:
		return pollOut, waiter.EventOut | waiter.EventWrNorm | waiter.EventWrBand
	case events&waiter.EventHUp != 0:
		return pollHup, waiter.EventHUp | waiter.EventErr
	case events&waiter.EventErr != 0:
		return pollErr, waiter.EventErr
	default:
		return pollPri, waiter.EventPri | waiter.EventRdBand
	}
}

// DirNotify implements fcntl(fd, F_NOTIFY, mask) on d (see vfs.DirNotify):
// each event the registration asks for sends the signal F_SETSIG chose
// (SIGIO by default) with si_code POLL_MSG and si_fd fd to the caller's
// process, which becomes d's owner, as fcntl_dirnotify's __f_setown makes
// it.
func (t *Task) DirNotify(d *vfs.FileDescription, fd int32, mask uint32) error {
	k := t.K
	err := vfs.DirNotify(d, t.FDs, fd, mask, func(d *vfs.FileDescription, fd int32) {
		k.sigio(d, fd, waiter.EventMsg)
	})
	if err == nil && mask&^vfs.DnMultishot != 0 {
		d.SetOwner(ownerPID, t.TGID())
	}
	return err
}
