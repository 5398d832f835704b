package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

func init() {
	register(SysPoll, sysPoll)
	register(SysPpoll, sysPpoll)
	register(SysSelect, sysSelect)
	register(SysPselect6, sysPselect6)
}

// ---- timeouts ----

// timeout is a poll-family timeout: none (wait forever), zero (do not
// wait), or a deadline.
type timeout struct {
	forever  bool
	zero     bool
	deadline time.Time
}

var waitForever = timeout{forever: true}

// maxTimeout bounds a deadline so it stays representable; a longer wait
// is, for any workload, forever.
const maxTimeout = 100 * 365 * 24 * time.Hour

// timeoutAfter is poll_select_set_timeout: sec and nsec must make a valid
// timespec (EINVAL otherwise); zero means do not wait.
func timeoutAfter(sec, nsec int64) (timeout, error) {
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return timeout{}, unix.EINVAL
	}
	if sec == 0 && nsec == 0 {
		return timeout{zero: true}, nil
	}
	d := maxTimeout
	if sec < int64(maxTimeout/time.Second) {
		d = time.Duration(sec)*time.Second + time.Duration(nsec)
	}
	return timeout{deadline: time.Now().Add(d)}, nil
}

// timeoutMillis is epoll_wait's and poll's int timeout: negative waits
// forever.
func timeoutMillis(ms int) timeout {
	switch {
	case ms < 0:
		return waitForever
	case ms == 0:
		return timeout{zero: true}
	}
	return timeout{deadline: time.Now().Add(time.Duration(ms) * time.Millisecond)}
}

// blockDeadline is the deadline to give Task.Block.
func (to timeout) blockDeadline() time.Time {
	if to.forever {
		return kernel.NoDeadline()
	}
	return to.deadline
}

// remaining is the time left before the deadline, never negative.
func (to timeout) remaining() time.Duration {
	return max(time.Until(to.deadline), 0)
}

// copyInTimespec reads a struct timespec as a timeout.
func copyInTimespec(t *kernel.Task, addr uint64) (timeout, error) {
	var b [16]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return timeout{}, unix.EFAULT
	}
	return timeoutAfter(int64(binary.LittleEndian.Uint64(b[:])), int64(binary.LittleEndian.Uint64(b[8:])))
}

// updateTimeout writes the time left back to the workload's timespec (or
// timeval) at addr, as ppoll, select and pselect6 do on return, even when
// interrupted. A zero timeout is left alone; a failed write is ignored,
// except that an interrupted call then fails with EINTR rather than being
// restarted with a timeout that did not shrink (Linux's sticky timeouts).
func updateTimeout(t *kernel.Task, addr uint64, to timeout, timeval bool, v uint64, err error) (uint64, error) {
	if addr == 0 || to.zero || to.forever {
		return v, err
	}
	r := to.remaining()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(r/time.Second))
	if timeval {
		binary.LittleEndian.PutUint64(b[8:], uint64(r%time.Second/time.Microsecond))
	} else {
		binary.LittleEndian.PutUint64(b[8:], uint64(r%time.Second))
	}
	if _, cerr := t.MM.CopyOut(addr, b[:]); cerr != nil && err == kernel.ERestartNoHand {
		return v, unix.EINTR
	}
	return v, err
}

// ---- temporary signal masks ----

// withSigmask runs fn with the signal mask at addr (a sigset_t of size
// bytes) in force, as ppoll, pselect6 and epoll_pwait do; addr 0 keeps the
// current mask. When fn returns interrupted (a signal is about to be
// handled), the temporary mask stays in force for the handler and the old
// one is saved for the kernel to restore when the handler returns;
// otherwise the old mask is restored at once.
//
// It assumes Task.SetSavedMask is consumed by the next handler frame, and
// that the kernel restores the saved mask itself when no handler runs
// (the interrupting signal was a stop, or ignored by then), as Linux's
// restore_saved_sigmask does.
func withSigmask(t *kernel.Task, addr, size uint64, interrupted unix.Errno, fn func() (uint64, error)) (uint64, error) {
	if addr == 0 {
		return fn()
	}
	if size != 8 {
		return 0, unix.EINVAL
	}
	var b [8]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	old := t.SignalMask()
	t.SetSignalMask(binary.LittleEndian.Uint64(b[:]))
	v, err := fn()
	if err == interrupted {
		t.SetSavedMask(old)
	} else {
		t.SetSignalMask(old)
	}
	return v, err
}

// ---- readiness ----

// readiness is what d's file reports for mask: files that cannot be polled
// are always readable and writable (Linux's DEFAULT_POLLMASK).
func readiness(d *vfs.FileDescription, mask uint32) uint32 {
	if w, ok := vfs.Waitable(d.File); ok {
		return w.Readiness(mask) & mask
	}
	return waiter.DefaultReadiness & mask
}

// waitSet is a set of entries, registered on several files, that share one
// channel.
type waitSet struct {
	ch   chan struct{}
	regs []registration
}

type registration struct {
	w waiter.Waitable
	e *waiter.Entry
}

func newWaitSet() *waitSet { return &waitSet{ch: make(chan struct{}, 1)} }

// add registers for mask on d's file, if it can be waited for.
func (s *waitSet) add(d *vfs.FileDescription, mask uint32) {
	w, ok := vfs.Waitable(d.File)
	if !ok {
		return
	}
	e := &waiter.Entry{Mask: mask, Ch: s.ch}
	w.EventRegister(e)
	s.regs = append(s.regs, registration{w, e})
}

func (s *waitSet) release() {
	for _, r := range s.regs {
		r.w.EventUnregister(r.e)
	}
	s.regs = nil
}

// pollLoop runs scan until it finds something ready, the timeout passes or
// a signal interrupts. The first scan runs before anything is registered;
// register is called once before the task first sleeps, and scan runs
// again after it, so no wake-up is lost. It returns scan's count, 0 at the
// timeout (after a last scan), or ERestartNoHand when interrupted.
func pollLoop(t *kernel.Task, to timeout, scan func() int, register func(*waitSet)) (int, error) {
	var set *waitSet
	defer func() {
		if set != nil {
			set.release()
		}
	}()
	timedOut := false
	for {
		if n := scan(); n > 0 || to.zero || timedOut {
			return n, nil
		}
		if set == nil {
			set = newWaitSet()
			register(set)
			continue
		}
		switch err := t.Block(set.ch, to.blockDeadline()); err {
		case nil:
		case unix.ETIMEDOUT:
			timedOut = true
		default:
			return 0, kernel.ERestartNoHand
		}
	}
}

// ---- poll, ppoll ----

const pollfdSize = 8

func sysPoll(t *kernel.Task, a [6]uint64) (uint64, error) {
	return doPoll(t, a[0], a[1], timeoutMillis(intArg(a[2])))
}

func sysPpoll(t *kernel.Task, a [6]uint64) (uint64, error) {
	to := waitForever
	if a[2] != 0 {
		var err error
		if to, err = copyInTimespec(t, a[2]); err != nil {
			return 0, err
		}
	}
	v, err := withSigmask(t, a[3], a[4], kernel.ERestartNoHand, func() (uint64, error) {
		return doPoll(t, a[0], a[1], to)
	})
	return updateTimeout(t, a[2], to, false, v, err)
}

// doPoll is poll(2): every pollfd's revents is what its file reports for
// its events plus POLLERR and POLLHUP, POLLNVAL for an fd that is not
// open, nothing for a negative fd. The revents are written back even when
// a signal interrupts the wait.
func doPoll(t *kernel.Task, addr, nfds uint64, to timeout) (uint64, error) {
	if nfds > t.Rlimit(unix.RLIMIT_NOFILE).Cur || nfds > 1<<30 {
		return 0, unix.EINVAL
	}
	raw := make([]byte, pollfdSize*nfds)
	if _, err := t.MM.CopyIn(addr, raw); err != nil && nfds > 0 {
		return 0, unix.EFAULT
	}
	type pollfd struct {
		fd      int32
		mask    uint32
		revents uint32
		d       *vfs.FileDescription
	}
	fds := make([]pollfd, nfds)
	for i := range fds {
		p := &fds[i]
		p.fd = int32(binary.LittleEndian.Uint32(raw[8*i:]))
		p.mask = uint32(binary.LittleEndian.Uint16(raw[8*i+4:])) | waiter.EventErr | waiter.EventHUp
		if p.fd >= 0 {
			p.d, _ = t.FDs.Get(int(p.fd))
		}
	}
	defer func() {
		for _, p := range fds {
			if p.d != nil {
				p.d.DecRef()
			}
		}
	}()
	scan := func() int {
		n := 0
		for i := range fds {
			p := &fds[i]
			switch {
			case p.fd < 0:
				p.revents = 0
			case p.d == nil:
				p.revents = waiter.EventNVal
			default:
				p.revents = readiness(p.d, p.mask)
			}
			if p.revents != 0 {
				n++
			}
		}
		return n
	}
	register := func(s *waitSet) {
		for _, p := range fds {
			if p.d != nil {
				s.add(p.d, p.mask)
			}
		}
	}
	n, err := pollLoop(t, to, scan, register)
	for i, p := range fds {
		binary.LittleEndian.PutUint16(raw[8*i+6:], uint16(p.revents))
	}
	if nfds > 0 {
		if _, cerr := t.MM.CopyOut(addr, raw); cerr != nil {
			return 0, unix.EFAULT
		}
	}
	return uint64(n), err
}

// ---- select, pselect6 ----

// The readiness select counts in each set (Linux's POLLIN_SET,
// POLLOUT_SET, POLLEX_SET).
const (
	selectIn  = waiter.EventIn | waiter.EventRdNorm | waiter.EventRdBand | waiter.EventHUp | waiter.EventErr
	selectOut = waiter.EventOut | waiter.EventWrNorm | waiter.EventWrBand | waiter.EventErr
	selectEx  = waiter.EventPri
)

func sysSelect(t *kernel.Task, a [6]uint64) (uint64, error) {
	to := waitForever
	if a[4] != 0 {
		var b [16]byte
		if _, err := t.MM.CopyIn(a[4], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		sec, usec := int64(binary.LittleEndian.Uint64(b[:])), int64(binary.LittleEndian.Uint64(b[8:]))
		// Linux folds whole seconds of tv_usec into tv_sec.
		var err error
		if to, err = timeoutAfter(sec+usec/1e6, usec%1e6*1e3); err != nil {
			return 0, err
		}
	}
	v, err := doSelect(t, intArg(a[0]), a[1], a[2], a[3], to)
	return updateTimeout(t, a[4], to, true, v, err)
}

func sysPselect6(t *kernel.Task, a [6]uint64) (uint64, error) {
	// The sixth argument points at { const sigset_t *ss; size_t ss_len; }.
	var maskAddr, maskSize uint64
	if a[5] != 0 {
		var b [16]byte
		if _, err := t.MM.CopyIn(a[5], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		maskAddr, maskSize = binary.LittleEndian.Uint64(b[:]), binary.LittleEndian.Uint64(b[8:])
	}
	to := waitForever
	if a[4] != 0 {
		var err error
		if to, err = copyInTimespec(t, a[4]); err != nil {
			return 0, err
		}
	}
	v, err := withSigmask(t, maskAddr, maskSize, kernel.ERestartNoHand, func() (uint64, error) {
		return doSelect(t, intArg(a[0]), a[1], a[2], a[3], to)
	})
	return updateTimeout(t, a[4], to, false, v, err)
}

// selectMaxFDs is the fd table's max_fds as Linux sizes it: 64 slots at
// first, then 128 doubled as often as needed to hold every fd ever
// allocated. select ignores fds at or above it.
func selectMaxFDs(t *kernel.Task) int {
	size := t.FDs.Size()
	if size <= 64 {
		return 64
	}
	m := 128
	for m < size {
		m <<= 1
	}
	return m
}

// doSelect is select(2) over the fd_sets at in, out and ex (0 for none):
// it fails with EBADF if a set names an fd that is not open, and on
// success rewrites each set to the fds ready in it and returns how many
// bits are set in all of them. The sets are left alone when a signal
// interrupts the wait.
func doSelect(t *kernel.Task, n int, in, out, ex uint64, to timeout) (uint64, error) {
	if n < 0 {
		return 0, unix.EINVAL
	}
	n = min(n, selectMaxFDs(t))
	size := (n + 63) / 64 * 8
	addrs := [3]uint64{in, out, ex}
	var sets [3][]byte
	for i, addr := range addrs {
		if addr == 0 {
			continue
		}
		sets[i] = make([]byte, size)
		if _, err := t.MM.CopyIn(addr, sets[i]); err != nil && size > 0 {
			return 0, unix.EFAULT
		}
	}
	isSet := func(set []byte, fd int) bool { return set != nil && set[fd/8]&(1<<(fd%8)) != 0 }
	type selFD struct {
		fd   int
		mask uint32
		in   [3]bool
		d    *vfs.FileDescription
	}
	var fds []selFD
	defer func() {
		for _, f := range fds {
			f.d.DecRef()
		}
	}()
	setMasks := [3]uint32{selectIn, selectOut, selectEx}
	for fd := 0; fd < n; fd++ {
		var f selFD
		for i := range sets {
			if isSet(sets[i], fd) {
				f.in[i] = true
				f.mask |= setMasks[i]
			}
		}
		if f.mask == 0 {
			continue
		}
		d, err := t.FDs.Get(fd)
		if err != nil {
			return 0, unix.EBADF
		}
		f.fd, f.d = fd, d
		fds = append(fds, f)
	}
	var res [3][]byte
	scan := func() int {
		count := 0
		for i := range res {
			if sets[i] != nil {
				res[i] = make([]byte, size)
			}
		}
		for _, f := range fds {
			r := readiness(f.d, f.mask)
			for i := range res {
				if f.in[i] && r&setMasks[i] != 0 {
					res[i][f.fd/8] |= 1 << (f.fd % 8)
					count++
				}
			}
		}
		return count
	}
	register := func(s *waitSet) {
		for _, f := range fds {
			s.add(f.d, f.mask)
		}
	}
	count, err := pollLoop(t, to, scan, register)
	if err != nil {
		return 0, err
	}
	for i, addr := range addrs {
		if addr != 0 && size > 0 {
			if _, err := t.MM.CopyOut(addr, res[i]); err != nil {
				return 0, unix.EFAULT
			}
		}
	}
	return uint64(count), nil
}
