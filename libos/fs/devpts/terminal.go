package devpts

import (
	"encoding/binary"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// Terminal ioctls (asm-generic/ioctls.h) that x/sys does not name or that
// are spelled here for the switch.
const (
	tcgets     = 0x5401
	tcsets     = 0x5402
	tcsetsw    = 0x5403
	tcsetsf    = 0x5404
	tcsbrk     = 0x5409
	tcxonc     = 0x540a
	tcflsh     = 0x540b
	tiocexcl   = 0x540c
	tiocnxcl   = 0x540d
	tiocoutq   = 0x5411
	tiocgwinsz = 0x5413
	tiocswinsz = 0x5414
	fionread   = 0x541b
	tiocpkt    = 0x5420
	tiocgetd   = 0x5424
	tiocsetd   = 0x5423
	tcsbrkp    = 0x5425
	tcgets2    = 0x802c542a
	tcsets2    = 0x402c542b
	tcsetsw2   = 0x402c542c
	tcsetsf2   = 0x402c542d
	tiocgptn   = 0x80045430
	tiocsptlck = 0x40045431
	tiocgdev   = 0x80045432
	tiocgptlck = 0x80045439
)

// Controller is the kernel's side of a terminal that is a session's
// controlling terminal. The terminal calls it without holding its own
// lock.
type Controller interface {
	// SignalForeground sends sig to the terminal's foreground process
	// group: the signal characters' SIGINT, SIGQUIT and SIGTSTP, and
	// SIGWINCH when the window size changes.
	SignalForeground(sig int)
	// Hangup says the master has closed: the session loses its
	// controlling terminal and its leader gets SIGHUP and SIGCONT.
	Hangup()
}

// Terminal is one pseudo-terminal: a master, a slave /dev/pts/N and the
// line discipline between them.
type Terminal struct {
	fs    *FS
	index uint32

	// mq holds the master's waiters, sq the slave's.
	mq, sq waiter.Queue

	mu       sync.Mutex
	ld       *ldisc
	winsize  unix.Winsize
	locked   bool // TIOCSPTLCK: the slave cannot be opened yet
	slaves   int  // open slave files
	opened   bool // a slave has been opened: its last close hangs up the master
	closed   bool // the master has closed: the slave is hung up
	ctrl     Controller
	mode     uint32 // the slave node's permission bits
	uid, gid uint32
	mtime    time.Time
	timer    *time.Timer // wakes VTIME readers
}

// Index is N of /dev/pts/N.
func (t *Terminal) Index() uint32 { return t.index }

// Rdev is the slave's device number: major 136 onwards, as Linux numbers
// Unix98 pty slaves.
func (t *Terminal) Rdev() uint64 { return unix.Mkdev(136+t.index/256, t.index%256) }

// SetController makes c (nil: none) the kernel's side of the terminal.
func (t *Terminal) SetController(c Controller) {
	t.mu.Lock()
	t.ctrl = c
	t.mu.Unlock()
}

// Controller returns the controller SetController installed.
func (t *Terminal) Controller() Controller {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ctrl
}

// SetWinsize sets the window size, as TIOCSWINSZ on either side does:
// a change sends SIGWINCH to the foreground process group.
func (t *Terminal) SetWinsize(ws unix.Winsize) {
	t.mu.Lock()
	changed := ws != t.winsize
	t.winsize = ws
	ctrl := t.ctrl
	t.mu.Unlock()
	if changed && ctrl != nil {
		ctrl.SignalForeground(int(unix.SIGWINCH))
	}
}

// Winsize is the window size TIOCGWINSZ reports.
func (t *Terminal) Winsize() unix.Winsize {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.winsize
}

// TOSTOP reports whether background writes stop the writer (SIGTTOU).
func (t *Terminal) TOSTOP() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ld.tios.l(unix.TOSTOP)
}

// HungUp reports whether the master has closed.
func (t *Terminal) HungUp() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// OpenSlave opens the slave, as /dev/tty reopens a controlling terminal:
// EIO once the master has gone. Opens by name and TIOCGPTPEER also
// respect the lock (OpenSlavePeer).
func (t *Terminal) OpenSlave() (vfs.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, unix.EIO
	}
	t.slaves++
	t.opened = true
	return &File{t: t}, nil
}

// File is an open master or slave of a terminal; it implements vfs.File
// and waiter.Waitable. Operations never block: they return EAGAIN and the
// caller waits for readiness.
type File struct {
	t      *Terminal
	master bool
	// stat describes the node a master was opened by (/dev/ptmx or
	// /dev/pts/ptmx).
	stat   func() (unix.Stat_t, error)
	closed atomic.Bool
	// deadline is when a non-canonical read with VMIN 0 and VTIME set
	// gives up (guarded by t.mu).
	deadline time.Time
}

var (
	_ vfs.File        = (*File)(nil)
	_ waiter.Waitable = (*File)(nil)
)

// Terminal returns the pseudo-terminal the file belongs to.
func (f *File) Terminal() *Terminal { return f.t }

// Master reports whether f is the master side.
func (f *File) Master() bool { return f.master }

// Read implements vfs.File.
func (f *File) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	t := f.t
	if f.master {
		t.mu.Lock()
		if len(t.ld.out) > 0 {
			n := copy(p, t.ld.out)
			t.ld.out = t.ld.out[:copy(t.ld.out, t.ld.out[n:])]
			t.mu.Unlock()
			t.sq.Notify(waiter.EventOut | waiter.EventWrNorm)
			return n, nil
		}
		hup := t.opened && t.slaves == 0
		t.mu.Unlock()
		if hup {
			return 0, unix.EIO
		}
		return 0, unix.EAGAIN
	}
	t.mu.Lock()
	n, err := f.readSlave(p, time.Now())
	t.mu.Unlock()
	if n > 0 {
		t.mq.Notify(waiter.EventOut | waiter.EventWrNorm)
	}
	return n, err
}

// readSlave is n_tty_read for the slave; t.mu held.
func (f *File) readSlave(p []byte, now time.Time) (int, error) {
	t := f.t
	ld := t.ld
	if t.closed {
		return 0, nil
	}
	if ld.tios.l(unix.ICANON) {
		if n, ok := ld.readCanon(p); ok {
			return n, nil
		}
		return 0, unix.EAGAIN
	}
	vmin, vtime := int(ld.tios.cc[vMIN]), time.Duration(ld.tios.cc[vTIME])*100*time.Millisecond
	avail := len(ld.in)
	switch {
	case vmin == 0 && vtime == 0:
		return ld.readRaw(p), nil
	case vmin == 0:
		if avail > 0 {
			f.deadline = time.Time{}
			return ld.readRaw(p), nil
		}
		if f.deadline.IsZero() {
			f.deadline = now.Add(vtime)
			t.wakeAt(f.deadline, now)
			return 0, unix.EAGAIN
		}
		if !now.Before(f.deadline) {
			f.deadline = time.Time{}
			return 0, nil
		}
		return 0, unix.EAGAIN
	default:
		if avail >= min(vmin, len(p)) {
			return ld.readRaw(p), nil
		}
		if avail > 0 && vtime > 0 {
			// VTIME is an inter-byte timer once input has started.
			end := ld.lastIn.Add(vtime)
			if !now.Before(end) {
				return ld.readRaw(p), nil
			}
			t.wakeAt(end, now)
		}
		return 0, unix.EAGAIN
	}
}

// wakeAt wakes the slave's readers at when, for VTIME; t.mu held.
func (t *Terminal) wakeAt(when, now time.Time) {
	if t.timer != nil {
		t.timer.Stop()
	}
	t.timer = time.AfterFunc(when.Sub(now), func() { t.sq.Notify(waiter.EventIn | waiter.EventRdNorm) })
}

// Write implements vfs.File: the master's writes are input to the line
// discipline, the slave's are output for the master. What does not fit
// is refused with EAGAIN, with the count of what was taken.
func (f *File) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	t := f.t
	t.mu.Lock()
	if f.master {
		outBefore := len(t.ld.out)
		n := t.ld.receive(p, time.Now())
		sigs := t.ld.takeSignals()
		echoed := len(t.ld.out) != outBefore
		ctrl := t.ctrl
		t.mu.Unlock()
		if ctrl != nil {
			for _, s := range sigs {
				ctrl.SignalForeground(s)
			}
		}
		// Input may also have restarted stopped output (VSTART).
		t.sq.Notify(waiter.EventIn | waiter.EventRdNorm | waiter.EventOut | waiter.EventWrNorm)
		if echoed || len(sigs) > 0 {
			t.mq.Notify(waiter.EventIn | waiter.EventRdNorm)
		}
		if n < len(p) {
			return n, unix.EAGAIN
		}
		return n, nil
	}
	if t.closed {
		t.mu.Unlock()
		return 0, unix.EIO
	}
	n := t.ld.write(p)
	t.mu.Unlock()
	if n > 0 {
		t.mq.Notify(waiter.EventIn | waiter.EventRdNorm)
	}
	if n < len(p) {
		return n, unix.EAGAIN
	}
	return n, nil
}

// Pread implements vfs.File: terminals have no offsets.
func (f *File) Pread([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Pwrite implements vfs.File.
func (f *File) Pwrite([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Seek implements vfs.File.
func (f *File) Seek(int64, int) (int64, error) { return 0, unix.ESPIPE }

// Getdents implements vfs.File.
func (f *File) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// Stat implements vfs.File.
func (f *File) Stat() (unix.Stat_t, error) {
	if f.master && f.stat != nil {
		return f.stat()
	}
	return f.t.fs.slaveStat(f.t), nil
}

// Close implements vfs.File. The master's close hangs the slave up; the
// last slave's close makes the master's reads fail with EIO.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	t := f.t
	t.mu.Lock()
	var ctrl Controller
	if f.master {
		t.closed = true
		ctrl, t.ctrl = t.ctrl, nil
	} else {
		t.slaves--
	}
	gone := t.closed && t.slaves == 0
	if t.timer != nil && gone {
		t.timer.Stop()
	}
	t.mu.Unlock()
	if gone {
		t.fs.release(t)
	}
	if f.master {
		t.sq.Notify(waiter.EventIn | waiter.EventOut | waiter.EventErr | waiter.EventHUp | waiter.EventRdNorm | waiter.EventWrNorm)
		if ctrl != nil {
			ctrl.Hangup()
		}
	} else {
		t.mq.Notify(waiter.EventIn | waiter.EventHUp | waiter.EventRdNorm)
	}
	return nil
}

// Readiness implements waiter.Waitable, as n_tty_poll and a hung-up
// slave's poll answer.
func (f *File) Readiness(mask uint32) uint32 {
	t := f.t
	t.mu.Lock()
	defer t.mu.Unlock()
	ld := t.ld
	var r uint32
	if f.master {
		if len(ld.out) > 0 {
			r |= waiter.EventIn | waiter.EventRdNorm
		}
		if t.opened && t.slaves == 0 {
			r |= waiter.EventHUp
		}
		if len(ld.in)+len(ld.line) < inputMax {
			r |= waiter.EventOut | waiter.EventWrNorm
		}
		return r & mask
	}
	if t.closed {
		return (waiter.EventIn | waiter.EventOut | waiter.EventErr | waiter.EventHUp | waiter.EventRdNorm | waiter.EventWrNorm) & mask
	}
	if ld.tios.l(unix.ICANON) {
		if ld.canonReadable() {
			r |= waiter.EventIn | waiter.EventRdNorm
		}
	} else {
		need := 1
		if m := int(ld.tios.cc[vMIN]); m > 0 && ld.tios.cc[vTIME] == 0 {
			need = m
		}
		if len(ld.in) >= need {
			r |= waiter.EventIn | waiter.EventRdNorm
		}
	}
	if len(ld.out) < outputMax && !ld.stopped {
		r |= waiter.EventOut | waiter.EventWrNorm
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (f *File) EventRegister(e *waiter.Entry) {
	if f.master {
		f.t.mq.Register(e)
	} else {
		f.t.sq.Register(e)
	}
}

// EventUnregister implements waiter.Waitable.
func (f *File) EventUnregister(e *waiter.Entry) {
	if f.master {
		f.t.mq.Unregister(e)
	} else {
		f.t.sq.Unregister(e)
	}
}

func putInt(mem vfs.Memory, addr uint64, v uint32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	if _, err := mem.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

func getInt(mem vfs.Memory, addr uint64) (uint32, error) {
	var b [4]byte
	if _, err := mem.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// Ioctl implements vfs.File: the terminal's own ioctls. Those that act on
// the caller's session and process group (TIOCSCTTY, TIOCNOTTY,
// TIOCGPGRP, TIOCSPGRP, TIOCGSID, TIOCGPTPEER) are the kernel's, which
// answers them before the file is asked. On the master, the settings
// ioctls act on the slave's settings, as Linux's do.
func (f *File) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	t := f.t
	switch req {
	case tcgets, tcgets2:
		size := termiosSize
		if req == tcgets2 {
			size = termios2Size
		}
		t.mu.Lock()
		b := t.ld.tios.encode(size)
		t.mu.Unlock()
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case tcsets, tcsetsw, tcsetsf, tcsets2, tcsetsw2, tcsetsf2:
		size := termiosSize
		if req == tcsets2 || req == tcsetsw2 || req == tcsetsf2 {
			size = termios2Size
		}
		b := make([]byte, size)
		if _, err := mem.CopyIn(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		t.mu.Lock()
		if req == tcsetsf || req == tcsetsf2 {
			t.ld.flushInput()
		}
		t.ld.setTermios(decodeTermios(b))
		t.mu.Unlock()
		// New settings may make input readable (leaving canonical mode,
		// a smaller VMIN) or output writable (IXON off).
		t.sq.Notify(waiter.EventIn | waiter.EventRdNorm | waiter.EventOut | waiter.EventWrNorm)
		t.mq.Notify(waiter.EventOut | waiter.EventWrNorm)
		return 0, nil
	case tiocgwinsz:
		t.mu.Lock()
		ws := t.winsize
		t.mu.Unlock()
		var b [8]byte
		binary.LittleEndian.PutUint16(b[0:], ws.Row)
		binary.LittleEndian.PutUint16(b[2:], ws.Col)
		binary.LittleEndian.PutUint16(b[4:], ws.Xpixel)
		binary.LittleEndian.PutUint16(b[6:], ws.Ypixel)
		if _, err := mem.CopyOut(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case tiocswinsz:
		var b [8]byte
		if _, err := mem.CopyIn(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		ws := unix.Winsize{
			Row:    binary.LittleEndian.Uint16(b[0:]),
			Col:    binary.LittleEndian.Uint16(b[2:]),
			Xpixel: binary.LittleEndian.Uint16(b[4:]),
			Ypixel: binary.LittleEndian.Uint16(b[6:]),
		}
		t.SetWinsize(ws)
		return 0, nil
	case fionread:
		t.mu.Lock()
		n := t.ld.inq()
		if f.master {
			n = len(t.ld.out)
		}
		t.mu.Unlock()
		return 0, putInt(mem, arg, uint32(n))
	case tiocoutq:
		// Output goes straight to the other side's queue: nothing waits
		// in a driver buffer.
		return 0, putInt(mem, arg, 0)
	case tcflsh:
		if arg > unix.TCIOFLUSH {
			return 0, unix.EINVAL
		}
		t.mu.Lock()
		in, out := arg != unix.TCOFLUSH, arg != unix.TCIFLUSH
		if f.master {
			// The master's input is the slave's output.
			if in {
				t.ld.out = t.ld.out[:0]
			}
		} else {
			if in {
				t.ld.flushInput()
			}
			if out {
				t.ld.out = t.ld.out[:0]
			}
		}
		t.mu.Unlock()
		t.mq.Notify(waiter.EventOut | waiter.EventWrNorm)
		t.sq.Notify(waiter.EventOut | waiter.EventWrNorm)
		return 0, nil
	case tcxonc:
		if arg > unix.TCION {
			return 0, unix.EINVAL
		}
		if arg == unix.TCOOFF || arg == unix.TCOON {
			t.mu.Lock()
			t.ld.stopped = arg == unix.TCOOFF
			t.mu.Unlock()
			t.sq.Notify(waiter.EventOut | waiter.EventWrNorm)
		}
		return 0, nil
	case tcsbrk, tcsbrkp, tiocexcl, tiocnxcl:
		// tcdrain and breaks: output is never held back, and a pty has
		// no line to break.
		return 0, nil
	case tiocgetd:
		return 0, putInt(mem, arg, 0) // N_TTY
	case tiocsetd:
		d, err := getInt(mem, arg)
		if err != nil {
			return 0, err
		}
		if d != 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case tiocgdev:
		rdev := t.Rdev()
		return 0, putInt(mem, arg, uint32(unix.Minor(rdev)&0xff|unix.Major(rdev)<<8|(unix.Minor(rdev)&^0xff)<<12))
	case tiocpkt:
		v, err := getInt(mem, arg)
		if err != nil {
			return 0, err
		}
		if !f.master {
			return 0, unix.ENOTTY
		}
		if v != 0 {
			// Packet mode is not implemented; refuse rather than
			// deliver data without its status bytes.
			return 0, unix.EINVAL
		}
		return 0, nil
	}
	if !f.master {
		return 0, unix.ENOTTY
	}
	switch req {
	case tiocgptn:
		return 0, putInt(mem, arg, t.index)
	case tiocsptlck:
		v, err := getInt(mem, arg)
		if err != nil {
			return 0, err
		}
		t.mu.Lock()
		t.locked = v != 0
		t.mu.Unlock()
		return 0, nil
	case tiocgptlck:
		t.mu.Lock()
		v := uint32(0)
		if t.locked {
			v = 1
		}
		t.mu.Unlock()
		return 0, putInt(mem, arg, v)
	}
	return 0, unix.ENOTTY
}

// TerminalOf returns the terminal behind f (looking through wrappers),
// and whether f is its master.
func TerminalOf(f vfs.File) (t *Terminal, master, ok bool) {
	pf, ok := vfs.Underlying(f).(*File)
	if !ok {
		return nil, false, false
	}
	return pf.t, pf.master, true
}

// OpenSlavePeer opens the slave as TIOCGPTPEER does: EIO while locked.
func (t *Terminal) OpenSlavePeer() (vfs.File, error) {
	t.mu.Lock()
	locked := t.locked
	t.mu.Unlock()
	if locked {
		return nil, unix.EIO
	}
	return t.OpenSlave()
}

// Path is the slave's name, /dev/pts/N.
func (t *Terminal) Path() string { return "/dev/pts/" + strconv.FormatUint(uint64(t.index), 10) }
