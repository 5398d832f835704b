package kernel

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/fs/devfs"
	"exokernelul.dev/exo/libos/fs/devpts"
	"exokernelul.dev/exo/libos/vfs"
)

// This file is job control on terminals, Linux's tty_jobctrl.c: which
// session a pseudo-terminal controls (a process's controlling terminal,
// ThreadGroup.tty, and a session's, Session.tty), its foreground process
// group (Session.foreground), the ioctls that act on them, and SIGTTIN and
// SIGTTOU for background processes. The terminal itself (devpts) calls
// back through ttyControl for its signal characters and hang-up.

// Terminal ioctls that need the caller (asm-generic/ioctls.h).
const (
	tiocsctty   = 0x540e
	tiocgpgrp   = 0x540f
	tiocspgrp   = 0x5410
	tiocnotty   = 0x5422
	tiocgsid    = 0x5429
	tiocgptpeer = 0x5441
	tcsets      = 0x5402
	tcsetsw     = 0x5403
	tcsetsf     = 0x5404
	tcsets2     = 0x402c542b
	tcsetsw2    = 0x402c542c
	tcsetsf2    = 0x402c542d
	tcflsh      = 0x540b
	tcxonc      = 0x540a
)

// ttyControl is the kernel's side of tty while it controls session s.
type ttyControl struct {
	k   *Kernel
	s   *Session
	tty *devpts.Terminal
}

// SignalForeground implements devpts.Controller.
func (c *ttyControl) SignalForeground(sig int) {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	if c.s.tty == c.tty {
		c.k.signalGroupLocked(c.s.foreground, sig)
	}
}

// Hangup implements devpts.Controller: as tty_signal_session_leader, the
// session's leader gets SIGHUP and SIGCONT and every process of the
// session loses the terminal.
func (c *ttyControl) Hangup() {
	k := c.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if c.s.tty != c.tty {
		return
	}
	for _, o := range k.tasks {
		tg := o.tg
		if tg.leader != o || tg.pgrp == nil || tg.pgrp.session != c.s || tg.zombie {
			continue
		}
		if tg.tgid == c.s.sid {
			k.sendLocked(tg, nil, &arch.SignalInfo{Signo: int32(unix.SIGHUP), Code: arch.SIKernel})
			k.sendLocked(tg, nil, &arch.SignalInfo{Signo: int32(unix.SIGCONT), Code: arch.SIKernel})
		}
	}
	k.clearTTYLocked(c.s)
}

// signalGroupLocked sends a kernel signal to every process of g.
func (k *Kernel) signalGroupLocked(g *ProcessGroup, sig int) {
	if g == nil {
		return
	}
	for _, o := range k.tasks {
		if o.tg.leader == o && o.tg.pgrp == g && !o.tg.zombie {
			k.sendLocked(o.tg, nil, &arch.SignalInfo{Signo: int32(sig), Code: arch.SIKernel})
		}
	}
}

// ownerLocked returns the session tty controls, or nil.
func ownerLocked(tty *devpts.Terminal) *Session {
	if c, ok := tty.Controller().(*ttyControl); ok && c.s.tty == tty {
		return c.s
	}
	return nil
}

// setTTYLocked makes tty the controlling terminal of tg and its session,
// with tg's process group in the foreground (proc_set_tty).
func (k *Kernel) setTTYLocked(tg *ThreadGroup, tty *devpts.Terminal) {
	s := tg.pgrp.session
	tg.tty = tty
	s.tty = tty
	s.foreground = tg.pgrp
	tty.SetController(&ttyControl{k: k, s: s, tty: tty})
}

// clearTTYLocked takes s's controlling terminal away from it and from
// every process of it (session_clear_tty).
func (k *Kernel) clearTTYLocked(s *Session) {
	tty := s.tty
	if tty == nil {
		return
	}
	for _, o := range k.tasks {
		if o.tg.tty == tty && o.tg.pgrp != nil && o.tg.pgrp.session == s {
			o.tg.tty = nil
		}
	}
	s.tty = nil
	s.foreground = nil
	if c, ok := tty.Controller().(*ttyControl); ok && c.s == s {
		tty.SetController(nil)
	}
}

// sessionLeaderExitLocked is disassociate_ctty at a session leader's
// exit: the foreground group of its terminal gets SIGHUP and the session
// loses the terminal.
func (k *Kernel) sessionLeaderExitLocked(tg *ThreadGroup) {
	if tg.pgrp == nil || tg.pgrp.session.sid != tg.tgid || tg.pgrp.session.tty == nil {
		return
	}
	s := tg.pgrp.session
	k.signalGroupLocked(s.foreground, int(unix.SIGHUP))
	k.clearTTYLocked(s)
}

// TerminalDevice is the device number of the process's controlling
// terminal, 0 without one (/proc's tty_nr).
func (tg *ThreadGroup) terminalDeviceLocked() uint64 {
	if tg.tty == nil {
		return 0
	}
	return tg.tty.Rdev()
}

// FinishOpen completes an open(2) of d with open's flags: /dev/tty
// becomes the caller's controlling terminal (ENXIO without one), and a
// terminal slave opened without O_NOCTTY by a session leader that has no
// controlling terminal becomes its controlling terminal, if no other
// session has it and it was opened for reading.
func (t *Task) FinishOpen(d *vfs.FileDescription, flags int) (*vfs.FileDescription, error) {
	k := t.K
	if _, ok := d.File.(*devfs.ControllingTTY); ok {
		k.mu.Lock()
		tty := t.tg.tty
		k.mu.Unlock()
		if tty == nil {
			d.DecRef()
			return nil, unix.ENXIO
		}
		f, err := tty.OpenSlave()
		if err != nil {
			d.DecRef()
			return nil, err
		}
		nd := vfs.NewDescription(ttyAlias{File: f, node: d.Dentry}, d.Path, d.Flags())
		nd.Dentry = d.Dentry
		d.DecRef()
		return nd, nil
	}
	tty, master, ok := devpts.TerminalOf(d.File)
	if !ok {
		return d, nil
	}
	if master {
		// A new terminal's slave belongs to whoever opened ptmx.
		tty.SetOwner(t.Cred().UID)
		return d, nil
	}
	if flags&unix.O_NOCTTY != 0 || flags&unix.O_ACCMODE == unix.O_WRONLY {
		return d, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	s := t.tg.pgrp.session
	if s.sid == t.tg.tgid && t.tg.tty == nil && s.tty == nil && ownerLocked(tty) == nil {
		k.setTTYLocked(t.tg, tty)
	}
	return d, nil
}

// TerminalAccess is the job control check of a read (write false) or
// write of d: a background process reading its controlling terminal gets
// SIGTTIN, one writing it with TOSTOP set SIGTTOU, and the call restarts
// once the process is continued.
func (t *Task) TerminalAccess(d *vfs.FileDescription, write bool) error {
	tty, master, ok := devpts.TerminalOf(d.File)
	if !ok || master {
		return nil
	}
	if write {
		if !tty.TOSTOP() {
			return nil
		}
		return t.ttyCheck(tty, int(unix.SIGTTOU))
	}
	return t.ttyCheck(tty, int(unix.SIGTTIN))
}

// ttyCheck is __tty_check_change: nil unless the caller is in a
// background group of tty's session. A blocked or ignored signal lets a
// change (SIGTTOU) through and fails a read (SIGTTIN) with EIO; an
// orphaned group gets EIO; otherwise the group is signalled and the call
// restarts after the stop.
func (t *Task) ttyCheck(tty *devpts.Terminal, sig int) error {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	if t.tg.tty != tty {
		return nil
	}
	s := t.tg.pgrp.session
	if s.tty != tty || s.foreground == nil || s.foreground == t.tg.pgrp {
		return nil
	}
	if t.sigMask&sigBit(sig) != 0 || t.tg.handlers.actions[sig-1].Handler == SigIgn {
		if sig == int(unix.SIGTTIN) {
			return unix.EIO
		}
		return nil
	}
	if k.orphanedLocked(t.tg.pgrp) {
		return unix.EIO
	}
	k.signalGroupLocked(t.tg.pgrp, sig)
	return ERestartSys
}

// orphanedLocked reports whether no process of g has a parent in another
// group of the same session (POSIX's orphaned process group).
func (k *Kernel) orphanedLocked(g *ProcessGroup) bool {
	for _, o := range k.tasks {
		tg := o.tg
		if tg.leader != o || tg.pgrp != g || tg.zombie {
			continue
		}
		if p := tg.parent; p != nil && p.pgrp != nil && p.pgrp != g && p.pgrp.session == g.session {
			return false
		}
	}
	return true
}

// TerminalIoctl answers the terminal ioctls that involve the caller's
// session or process group, and applies the job control check to those
// that change a terminal. handled is false when the file should answer
// req itself.
func (t *Task) TerminalIoctl(d *vfs.FileDescription, req, arg uint64) (ret uint64, handled bool, err error) {
	tty, master, ok := devpts.TerminalOf(d.File)
	if !ok {
		return 0, false, nil
	}
	if !master && tty.HungUp() {
		// A hung-up terminal answers every ioctl with EIO (TIOCSPGRP
		// with ENOTTY), as hung_up_tty_ioctl.
		if req == tiocspgrp {
			return 0, true, unix.ENOTTY
		}
		return 0, true, unix.EIO
	}
	k := t.K
	switch req {
	case tcsets, tcsetsw, tcsetsf, tcsets2, tcsetsw2, tcsetsf2, tcflsh, tcxonc:
		if err := t.ttyCheck(tty, int(unix.SIGTTOU)); err != nil {
			return 0, true, err
		}
		return 0, false, nil
	case tiocsctty:
		k.mu.Lock()
		defer k.mu.Unlock()
		s := t.tg.pgrp.session
		leader := s.sid == t.tg.tgid
		if leader && s.tty == tty {
			return 0, true, nil
		}
		if !leader || t.tg.tty != nil {
			return 0, true, unix.EPERM
		}
		root := t.creds.HasCap(CapSysAdmin)
		if owner := ownerLocked(tty); owner != nil {
			if arg != 1 || !root {
				return 0, true, unix.EPERM
			}
			k.clearTTYLocked(owner)
		}
		if d.Flags()&unix.O_ACCMODE == unix.O_WRONLY && !root {
			return 0, true, unix.EPERM
		}
		k.setTTYLocked(t.tg, tty)
		return 0, true, nil
	case tiocnotty:
		k.mu.Lock()
		defer k.mu.Unlock()
		if master || t.tg.tty != tty {
			return 0, true, unix.ENOTTY
		}
		s := t.tg.pgrp.session
		if s.sid == t.tg.tgid {
			if s.tty == tty {
				k.signalGroupLocked(s.foreground, int(unix.SIGHUP))
				k.signalGroupLocked(s.foreground, int(unix.SIGCONT))
				k.clearTTYLocked(s)
			}
		}
		t.tg.tty = nil
		return 0, true, nil
	case tiocgpgrp, tiocgsid:
		k.mu.Lock()
		if !master && t.tg.tty != tty {
			k.mu.Unlock()
			return 0, true, unix.ENOTTY
		}
		var v int32
		owner := ownerLocked(tty)
		if req == tiocgsid {
			if owner == nil {
				k.mu.Unlock()
				return 0, true, unix.ENOTTY
			}
			v = owner.sid
		} else if owner != nil && owner.foreground != nil {
			v = owner.foreground.id
		}
		k.mu.Unlock()
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(v))
		if _, err := t.MM.CopyOut(arg, b[:]); err != nil {
			return 0, true, unix.EFAULT
		}
		return 0, true, nil
	case tiocspgrp:
		if err := t.ttyCheck(tty, int(unix.SIGTTOU)); err != nil {
			return 0, true, err
		}
		var b [4]byte
		if _, err := t.MM.CopyIn(arg, b[:]); err != nil {
			return 0, true, unix.EFAULT
		}
		pgid := int32(binary.LittleEndian.Uint32(b[:]))
		k.mu.Lock()
		defer k.mu.Unlock()
		s := t.tg.pgrp.session
		if t.tg.tty == nil || t.tg.tty != tty || s.tty != tty {
			return 0, true, unix.ENOTTY
		}
		if pgid < 0 {
			return 0, true, unix.EINVAL
		}
		var g *ProcessGroup
		for _, o := range k.tasks {
			if o.tg.pgrp != nil && o.tg.pgrp.id == pgid && !o.tg.zombie {
				g = o.tg.pgrp
				break
			}
		}
		if g == nil {
			return 0, true, unix.ESRCH
		}
		if g.session != s {
			return 0, true, unix.EPERM
		}
		s.foreground = g
		return 0, true, nil
	case tiocgptpeer:
		if !master {
			// ptm_open_peer: only a master has a peer to open.
			return 0, true, unix.EIO
		}
		const allowed = unix.O_ACCMODE | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY
		if arg&^allowed != 0 {
			return 0, true, unix.EINVAL
		}
		f, err := tty.OpenSlavePeer()
		if err != nil {
			return 0, true, err
		}
		nd := vfs.NewDescription(f, tty.Path(), int(arg)&^(unix.O_CLOEXEC|unix.O_NOCTTY))
		// Name the slave's node, as Linux opens the peer through the
		// devpts mount: /proc/PID/fd and ttyname then find it.
		if dent, st, err := t.LookupStat(unix.AT_FDCWD, tty.Path(), 0); err == nil && st.Rdev == tty.Rdev() {
			nd.Dentry = dent
		}
		fd, err := t.FDs.Install(nd, 0, arg&unix.O_CLOEXEC != 0, t.NoFileLimit())
		if err != nil {
			nd.DecRef()
			return 0, true, err
		}
		return uint64(fd), true, nil
	}
	return 0, false, nil
}

// ttyAlias is a controlling terminal opened through /dev/tty: the
// terminal's file, with /dev/tty's own attributes for fstat, as Linux
// keeps the inode the open went through.
type ttyAlias struct {
	vfs.File
	node *vfs.Dentry
}

// Stat implements vfs.File.
func (a ttyAlias) Stat() (unix.Stat_t, error) {
	if a.node == nil {
		return a.File.Stat()
	}
	return a.node.Stat()
}

// Unwrap implements vfs.Unwrapper, so the terminal is found and polled
// through the alias.
func (a ttyAlias) Unwrap() vfs.File { return a.File }

// installTTY makes tty's slave the new process's fds 0-2, one description
// open for reading and writing as a runtime's dup2 of the slave leaves
// them, and the controlling terminal of its session, which the process
// leads (as runc's init does with setsid and TIOCSCTTY).
func (t *Task) installTTY(tty *devpts.Terminal) error {
	f, err := tty.OpenSlave()
	if err != nil {
		return fmt.Errorf("open terminal %s: %w", tty.Path(), err)
	}
	d := vfs.NewDescription(f, tty.Path(), unix.O_RDWR)
	// Name the slave's node so ttyname and /proc/PID/fd find it.
	if dent, st, err := t.LookupStat(unix.AT_FDCWD, tty.Path(), 0); err == nil && st.Rdev == tty.Rdev() {
		d.Dentry = dent
	}
	defer d.DecRef()
	for i := range 3 {
		d.IncRef()
		if _, err := t.FDs.Install(d, i, false, i+1); err != nil {
			d.DecRef()
			return fmt.Errorf("install terminal as fd %d: %w", i, err)
		}
	}
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	if s := t.tg.pgrp.session; s.sid == t.tg.tgid && s.tty == nil && ownerLocked(tty) == nil {
		k.setTTYLocked(t.tg, tty)
	}
	return nil
}
