package kernel

import (
	"golang.org/x/sys/unix"
)

// Scheduling attributes: each thread's nice value, policy and I/O
// priority, as getpriority, sched_getattr and ioprio_get report them and
// /proc shows them. The library OS records them and applies them to
// nothing on the host, which schedules the stubs as it sees fit (gVisor
// does the same); what a program can observe (the values, inheritance
// across fork, the permission errors) is Linux's.

// Scheduling policies (SCHED_*) and flags the library OS knows.
const (
	SchedOther       = 0
	SchedFIFO        = 1
	SchedRR          = 2
	SchedBatch       = 3
	SchedIdle        = 5
	SchedDeadline    = 6
	SchedResetOnFork = 0x40000000
)

// I/O priority classes (IOPRIO_CLASS_*), in bits 13-15 of a priority.
const (
	ioprioClassNone  = 0
	ioprioClassRT    = 1
	ioprioClassBE    = 2
	ioprioClassIdle  = 3
	ioprioClassShift = 13
)

// ioprio_set/ioprio_get's which (IOPRIO_WHO_*).
const (
	IoprioWhoProcess = 1
	IoprioWhoPgrp    = 2
	IoprioWhoUser    = 3
)

// schedState is one thread's scheduling attributes; the zero value is
// what a process starts with (SCHED_OTHER, nice 0, I/O class none).
type schedState struct {
	nice        int32
	policy      int32
	resetOnFork bool
	ioprio      int32
}

// forked is what a new thread gets: everything, except that
// SCHED_RESET_ON_FORK gives a child a real-time policy's place back as
// SCHED_OTHER at nice 0, a negative nice back as 0, and drops the flag.
func (s schedState) forked() schedState {
	if !s.resetOnFork {
		return s
	}
	switch {
	case s.policy == SchedFIFO || s.policy == SchedRR || s.policy == SchedDeadline:
		s.policy, s.nice = SchedOther, 0
	case s.nice < 0:
		s.nice = 0
	}
	s.resetOnFork = false
	return s
}

// SchedAttr is a thread's scheduling policy and nice value.
type SchedAttr struct {
	Policy      int32
	ResetOnFork bool
	Nice        int32
}

// canNiceLocked is Linux's can_nice: target o may get nice value nice if
// its RLIMIT_NICE allows it (20 - nice at most) or the caller holds
// CAP_SYS_NICE.
func (t *Task) canNiceLocked(o *Task, nice int32) bool {
	return uint64(20-nice) <= o.tg.rlimits[unix.RLIMIT_NICE].Cur || t.creds.HasCap(CapSysNice)
}

// sameOwnerLocked is Linux's set_one_prio_perm: the caller's effective
// uid is the target's real or effective one, or it holds CAP_SYS_NICE.
func (t *Task) sameOwnerLocked(o *Task) bool {
	c, oc := &t.creds, &o.creds
	return oc.UID == c.EUID || oc.EUID == c.EUID || c.HasCap(CapSysNice)
}

// threadLocked finds thread tid (0: the caller) as the caller sees it.
func (t *Task) threadLocked(tid int32) (*Task, error) {
	if tid == 0 {
		return t, nil
	}
	if tid < 0 {
		return nil, unix.ESRCH
	}
	o := t.K.tasks[tid]
	if o == nil || o.exited || !t.seesLocked(o.tg) {
		return nil, unix.ESRCH
	}
	return o, nil
}

// prioTargetsLocked lists the threads getpriority/setpriority and the
// ioprio calls reach: thread who (PRIO_PROCESS: a thread id, as Linux
// looks it up), every thread of process group who, or every thread whose
// real uid is who; who 0 is the caller, its group, its real uid.
func (t *Task) prioTargetsLocked(which int, who int32) ([]*Task, error) {
	switch which {
	case unix.PRIO_PROCESS:
		o, err := t.threadLocked(who)
		if err != nil {
			return nil, err
		}
		return []*Task{o}, nil
	case unix.PRIO_PGRP:
		if who == 0 {
			who = t.tg.pgrp.id
		}
		var out []*Task
		for _, o := range t.K.tasks {
			if !o.exited && o.tg.pgrp != nil && o.tg.pgrp.id == who && t.seesLocked(o.tg) {
				out = append(out, o)
			}
		}
		return out, nil
	case unix.PRIO_USER:
		uid := uint32(who)
		if who == 0 {
			uid = t.creds.UID
		}
		var out []*Task
		for _, o := range t.K.tasks {
			if !o.exited && o.creds.UID == uid && t.seesLocked(o.tg) {
				out = append(out, o)
			}
		}
		return out, nil
	}
	return nil, unix.EINVAL
}

// Getpriority returns the highest priority (lowest nice) of the threads
// which and who name, as the syscall encodes it: 20 - nice. ESRCH if none.
func (t *Task) Getpriority(which int, who int32) (int32, error) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	targets, err := t.prioTargetsLocked(which, who)
	if err != nil {
		return 0, err
	}
	best := int32(-1)
	for _, o := range targets {
		best = max(best, 20-o.sched.nice)
	}
	if best < 0 {
		return 0, unix.ESRCH
	}
	return best, nil
}

// Setpriority sets the nice value of the threads which and who name,
// clamped to -20..19, as Linux's setpriority: EPERM for a thread of
// another user, EACCES for a lower nice than the thread has that its
// RLIMIT_NICE does not allow; the last such error is returned, ESRCH if
// nothing matched.
func (t *Task) Setpriority(which int, who int32, nice int32) error {
	nice = min(max(nice, -20), 19)
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	targets, err := t.prioTargetsLocked(which, who)
	if err != nil {
		return err
	}
	err = unix.ESRCH
	for _, o := range targets {
		switch {
		case !t.sameOwnerLocked(o):
			err = unix.EPERM
		case nice < o.sched.nice && !t.canNiceLocked(o, nice):
			err = unix.EACCES
		default:
			if err == unix.ESRCH {
				err = nil
			}
			o.sched.nice = nice
		}
	}
	return err
}

// SchedAttr returns thread tid's policy and nice value (0: the caller).
func (t *Task) SchedAttr(tid int32) (SchedAttr, error) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	o, err := t.threadLocked(tid)
	if err != nil {
		return SchedAttr{}, err
	}
	return SchedAttr{Policy: o.sched.policy, ResetOnFork: o.sched.resetOnFork, Nice: o.sched.nice}, nil
}

// SetSchedAttr gives thread tid (0: the caller) policy a (SCHED_OTHER,
// SCHED_BATCH or SCHED_IDLE) and, unless keepNice, a's nice value, as
// sched_setattr and sched_setscheduler do. The real-time and deadline
// policies need a CPU share the library OS cannot promise: EPERM, as for
// a container without CAP_SYS_NICE. Permission is Linux's
// __sched_setscheduler's: EPERM for another user's thread, for a lower
// nice past RLIMIT_NICE, for leaving SCHED_IDLE or dropping
// SCHED_RESET_ON_FORK without the right to a lower nice.
func (t *Task) SetSchedAttr(tid int32, a SchedAttr, keepNice bool) error {
	switch a.Policy {
	case SchedOther, SchedBatch, SchedIdle:
	case SchedFIFO, SchedRR, SchedDeadline:
		return unix.EPERM
	default:
		return unix.EINVAL
	}
	a.Nice = min(max(a.Nice, -20), 19)
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	o, err := t.threadLocked(tid)
	if err != nil {
		return err
	}
	// Only the fair policies take a nice value (Linux's fair_policy:
	// SCHED_IDLE keeps the one it has).
	if keepNice || a.Policy == SchedIdle {
		a.Nice = o.sched.nice
	}
	if !t.creds.HasCap(CapSysNice) {
		if !t.sameOwnerLocked(o) {
			return unix.EPERM
		}
		if a.Nice < o.sched.nice && !t.canNiceLocked(o, a.Nice) {
			return unix.EPERM
		}
		if o.sched.policy == SchedIdle && a.Policy != SchedIdle && !t.canNiceLocked(o, o.sched.nice) {
			return unix.EPERM
		}
		if o.sched.resetOnFork && !a.ResetOnFork {
			return unix.EPERM
		}
	}
	o.sched.policy, o.sched.resetOnFork, o.sched.nice = a.Policy, a.ResetOnFork, a.Nice
	return nil
}

// CheckIoprio is Linux's ioprio_check_cap: a valid class and level, and
// the real-time class only with CAP_SYS_NICE or CAP_SYS_ADMIN. Bits 3-12
// are hints the kernel passes on to devices, taken as they are.
func (t *Task) CheckIoprio(prio int32) error {
	if prio < 0 || prio > 0xffff {
		return unix.EINVAL
	}
	class, level := prio>>ioprioClassShift, prio&7
	switch class {
	case ioprioClassRT:
		c := t.Creds()
		if !c.HasCap(CapSysNice) && !c.HasCap(CapSysAdmin) {
			return unix.EPERM
		}
	case ioprioClassBE, ioprioClassIdle:
	case ioprioClassNone:
		if level != 0 {
			return unix.EINVAL
		}
	default:
		return unix.EINVAL
	}
	return nil
}

// ioprioTargetsLocked maps ioprio's which to getpriority's.
func (t *Task) ioprioTargetsLocked(which int, who int32) ([]*Task, error) {
	switch which {
	case IoprioWhoProcess:
		return t.prioTargetsLocked(unix.PRIO_PROCESS, who)
	case IoprioWhoPgrp:
		return t.prioTargetsLocked(unix.PRIO_PGRP, who)
	case IoprioWhoUser:
		return t.prioTargetsLocked(unix.PRIO_USER, who)
	}
	return nil, unix.EINVAL
}

// Ioprio returns the best I/O priority (the lowest value) of the threads
// which and who name; ESRCH if none.
func (t *Task) Ioprio(which int, who int32) (int32, error) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	targets, err := t.ioprioTargetsLocked(which, who)
	if err != nil {
		return 0, err
	}
	if len(targets) == 0 {
		return 0, unix.ESRCH
	}
	best := targets[0].sched.ioprio
	for _, o := range targets[1:] {
		best = min(best, o.sched.ioprio)
	}
	return best, nil
}

// SetIoprio sets the I/O priority of the threads which and who name,
// already checked by CheckIoprio: EPERM, stopping there, for a thread whose
// real uid is neither the caller's real nor effective one, without
// CAP_SYS_NICE; ESRCH if nothing matched.
func (t *Task) SetIoprio(which int, who int32, prio int32) error {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	targets, err := t.ioprioTargetsLocked(which, who)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return unix.ESRCH
	}
	c := &t.creds
	for _, o := range targets {
		if o.creds.UID != c.EUID && o.creds.UID != c.UID && !c.HasCap(CapSysNice) {
			return unix.EPERM
		}
		o.sched.ioprio = prio
	}
	return nil
}
