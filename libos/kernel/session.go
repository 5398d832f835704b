package kernel

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// groupOf finds the live process with pid, or nil.
func (k *Kernel) groupOfLocked(pid int32) *ThreadGroup {
	t := k.tasks[pid]
	if t == nil || t.tg.tgid != pid {
		return nil
	}
	return t.tg
}

// Setsid makes the calling process a session and process group leader.
func (t *Task) Setsid() (int32, error) {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	if tg.pgrp.id == tg.tgid {
		return 0, unix.EPERM
	}
	for _, o := range k.tasks {
		if o.tg.pgrp != nil && o.tg.pgrp.id == tg.tgid && !o.tg.zombie {
			return 0, unix.EPERM
		}
	}
	tg.pgrp.members--
	tg.tty = nil
	s := &Session{sid: tg.tgid}
	tg.pgrp = &ProcessGroup{id: tg.tgid, session: s, members: 1}
	return tg.tgid, nil
}

// Getsid returns the session id of pid (0 for the caller).
func (t *Task) Getsid(pid int32) (int32, error) {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	if pid != 0 {
		if tg = k.groupOfLocked(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	return tg.pgrp.session.sid, nil
}

// Getpgid returns the process group id of pid (0 for the caller).
func (t *Task) Getpgid(pid int32) (int32, error) {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := t.tg
	if pid != 0 {
		if tg = k.groupOfLocked(pid); tg == nil {
			return 0, unix.ESRCH
		}
	}
	return tg.pgrp.id, nil
}

// Setpgid moves process pid (0: the caller) into process group pgid (0:
// a group named after pid), with Linux's rules.
func (t *Task) Setpgid(pid, pgid int32) error {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	if pgid < 0 || pid < 0 {
		return unix.EINVAL
	}
	tg := t.tg
	if pid != 0 && pid != tg.tgid {
		c := k.groupOfLocked(pid)
		if c == nil || c.parent != t.tg {
			return unix.ESRCH
		}
		if c.pgrp.session != t.tg.pgrp.session {
			return unix.EPERM
		}
		if c.execed {
			return unix.EACCES
		}
		tg = c
	}
	if pgid == 0 {
		pgid = tg.tgid
	}
	if tg.pgrp.session.sid == tg.tgid {
		return unix.EPERM // a session leader cannot move
	}
	if tg.pgrp.id == pgid {
		return nil
	}
	var target *ProcessGroup
	if pgid != tg.tgid {
		for _, o := range k.tasks {
			if g := o.tg.pgrp; g != nil && g.id == pgid && !o.tg.zombie {
				target = g
				break
			}
		}
		if target == nil || target.session != tg.pgrp.session {
			return unix.EPERM
		}
	} else {
		target = &ProcessGroup{id: pgid, session: tg.pgrp.session}
	}
	tg.pgrp.members--
	target.members++
	tg.pgrp = target
	return nil
}

// ForegroundPgrp returns the foreground process group of the caller's
// session (the terminal's TIOCGPGRP).
func (t *Task) ForegroundPgrp() int32 {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	s := t.tg.pgrp.session
	if s.foreground == nil {
		return t.tg.pgrp.id
	}
	return s.foreground.id
}

// SetForegroundPgrp is the terminal's TIOCSPGRP within the sandbox.
func (t *Task) SetForegroundPgrp(pgid int32) error {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	s := t.tg.pgrp.session
	for _, o := range k.tasks {
		if g := o.tg.pgrp; g != nil && g.id == pgid && g.session == s {
			s.foreground = g
			return nil
		}
	}
	return unix.EPERM
}

// Kill implements kill(2): pid > 0 is one process, 0 the caller's process
// group, -1 every process but init and the caller, < -1 process group
// -pid. Only the sandbox's own processes exist: any other pid is ESRCH.
func (t *Task) Kill(pid int32, sig int) error {
	if sig < 0 || sig >= NumSignals {
		return unix.EINVAL
	}
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	info := &arch.SignalInfo{Signo: int32(sig), Code: arch.SIUser}
	info.SetPIDUID(t.tg.tgid, t.creds.UID)
	var targets []*ThreadGroup
	switch {
	case pid > 0:
		o := k.tasks[pid]
		if o == nil || !t.seesLocked(o.tg) {
			return unix.ESRCH
		}
		targets = append(targets, o.tg)
	case pid == -1:
		for _, o := range k.tasks {
			if o.tg.leader == o && o.tg != k.init && o.tg != t.tg && t.seesLocked(o.tg) && !t.isNSInitLocked(o.tg) {
				targets = append(targets, o.tg)
			}
		}
	case pid == 0:
		targets = t.pgrpMembersLocked(t.tg.pgrp.id)
	default:
		targets = t.pgrpMembersLocked(-pid)
	}
	return t.signalGroupsLocked(targets, nil, sig, info)
}

// pgrpMembersLocked lists the processes of process group id that t sees.
func (t *Task) pgrpMembersLocked(id int32) []*ThreadGroup {
	var out []*ThreadGroup
	for _, o := range t.K.tasks {
		if o.tg.leader == o && o.tg.pgrp != nil && o.tg.pgrp.id == id && t.seesLocked(o.tg) {
			out = append(out, o.tg)
		}
	}
	return out
}

// signalGroupsLocked sends sig with info (a copy to each) to every
// process of targets, or to their thread o, as kill and
// pidfd_send_signal do: ESRCH with no target, EPERM when the caller may
// signal none of them; sig 0 only checks.
func (t *Task) signalGroupsLocked(targets []*ThreadGroup, o *Task, sig int, info *arch.SignalInfo) error {
	if len(targets) == 0 {
		return unix.ESRCH
	}
	denied := 0
	for _, tg := range targets {
		if !t.canSignalLocked(tg, sig) {
			denied++
			continue
		}
		if sig != 0 {
			c := *info
			t.K.sendLocked(tg, o, &c)
		}
	}
	if denied == len(targets) {
		return unix.EPERM
	}
	return nil
}

// canSignalLocked applies Linux's permission rule for sending a signal:
// the sender's real or effective uid must match the target's real or
// saved uid, unless the sender is privileged; SIGCONT within a session is
// always allowed.
func (t *Task) canSignalLocked(tg *ThreadGroup, sig int) bool {
	c := t.creds
	if c.HasCap(CapKill) || tg == t.tg {
		return true
	}
	if sig == int(unix.SIGCONT) && tg.pgrp != nil && tg.pgrp.session == t.tg.pgrp.session {
		return true
	}
	tc := tg.leader.creds
	return c.EUID == tc.SUID || c.EUID == tc.UID || c.UID == tc.SUID || c.UID == tc.UID
}

// Tgkill sends sig to thread tid of process tgid (tgid < 0: any process,
// as tkill).
func (t *Task) Tgkill(tgid, tid int32, sig int, code int32, value uint64) error {
	if sig < 0 || sig >= NumSignals || tid <= 0 {
		return unix.EINVAL
	}
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	o := k.tasks[tid]
	if o == nil || o.exited || (tgid >= 0 && o.tg.tgid != tgid) || !t.seesLocked(o.tg) {
		return unix.ESRCH
	}
	if !t.canSignalLocked(o.tg, sig) {
		return unix.EPERM
	}
	if sig == 0 {
		return nil
	}
	info := &arch.SignalInfo{Signo: int32(sig), Code: code}
	info.SetPIDUID(t.tg.tgid, t.creds.UID)
	if code == arch.SIQueue {
		info.SetValue(value)
	}
	k.sendLocked(o.tg, o, info)
	return nil
}

// Sigqueue sends sig with a value to process pid (rt_sigqueueinfo).
func (t *Task) Sigqueue(pid int32, sig int, info *arch.SignalInfo) error {
	if sig <= 0 || sig >= NumSignals {
		return unix.EINVAL
	}
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	o := k.tasks[pid]
	if o == nil || !t.seesLocked(o.tg) {
		return unix.ESRCH
	}
	if !t.canSignalLocked(o.tg, sig) {
		return unix.EPERM
	}
	info.Signo = int32(sig)
	k.sendLocked(o.tg, nil, info)
	return nil
}
