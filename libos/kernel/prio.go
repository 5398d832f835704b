package kernel

import "golang.org/x/sys/unix"

// Nice values are per thread, as in Linux (set_user_nice on one
// task_struct): getpriority/setpriority with PRIO_PROCESS name a thread
// id, PRIO_PGRP every thread of a process group's processes, PRIO_USER
// every thread whose real uid matches. The library OS records the value
// (clone copies it, /proc shows it) and schedules nothing by it: the host
// decides when the sandbox's threads run.

// Nice bounds (MIN_NICE, MAX_NICE).
const (
	minNice = -20
	maxNice = 19
)

// prioTargetsLocked returns the threads that which/who names (the
// kernel's getpriority/setpriority loops), or EINVAL for a bad which.
func (t *Task) prioTargetsLocked(which, who int32) ([]*Task, error) {
	k := t.K
	var out []*Task
	switch which {
	case unix.PRIO_PROCESS:
		if who == 0 {
			return []*Task{t}, nil
		}
		if o := k.tasks[who]; o != nil && !o.exited && t.seesLocked(o.tg) {
			out = append(out, o)
		}
	case unix.PRIO_PGRP:
		id := who
		if id == 0 {
			id = t.tg.pgrp.id
		}
		for _, o := range k.tasks {
			if !o.exited && o.tg.pgrp != nil && o.tg.pgrp.id == id && t.seesLocked(o.tg) {
				out = append(out, o)
			}
		}
	case unix.PRIO_USER:
		uid := uint32(who)
		if who == 0 {
			uid = t.creds.UID
		}
		for _, o := range k.tasks {
			if !o.exited && o.creds.UID == uid && t.seesLocked(o.tg) {
				out = append(out, o)
			}
		}
	default:
		return nil, unix.EINVAL
	}
	return out, nil
}

// GetPriority implements getpriority(2)'s kernel side: the highest
// priority (lowest nice value) among the threads which/who names, encoded
// as the system call returns it (20 - nice, 1..40; glibc undoes it);
// ESRCH if it names none.
func (t *Task) GetPriority(which, who int32) (int32, error) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	targets, err := t.prioTargetsLocked(which, who)
	if err != nil {
		return 0, err
	}
	if len(targets) == 0 {
		return 0, unix.ESRCH
	}
	best := int32(0)
	for _, o := range targets {
		if v := 20 - o.nice; v > best {
			best = v
		}
	}
	return best, nil
}

// SetPriority implements setpriority(2): nice is clamped to -20..19 and
// set on every thread which/who names. A thread whose real and effective
// uid both differ from the caller's effective uid is EPERM without
// CAP_SYS_NICE; lowering a thread's nice value below what its process's
// RLIMIT_NICE allows (20 - rlim_cur) is EACCES without CAP_SYS_NICE. As
// in Linux's set_one_prio, the last refusal is the result even when other
// threads were changed; ESRCH only when none was named.
func (t *Task) SetPriority(which, who, nice int32) error {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	targets, err := t.prioTargetsLocked(which, who)
	if err != nil {
		return err
	}
	nice = max(minNice, min(maxNice, nice))
	c := &t.creds
	err = unix.ESRCH
	for _, o := range targets {
		oc := &o.creds
		if oc.UID != c.EUID && oc.EUID != c.EUID && !c.HasCap(CapSysNice) {
			err = unix.EPERM
			continue
		}
		if nice < o.nice && uint64(20-nice) > o.tg.rlimits[unix.RLIMIT_NICE].Cur && !c.HasCap(CapSysNice) {
			err = unix.EACCES
			continue
		}
		if err == unix.ESRCH {
			err = nil
		}
		o.nice = nice
	}
	return err
}

// Nice returns the caller's nice value.
func (t *Task) Nice() int32 {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.nice
}

// Scheduling policies (SCHED_*) and sched_setattr's flags.
const (
	SchedNormal   = 0
	SchedFIFO     = 1
	SchedRR       = 2
	SchedBatch    = 3
	SchedIdle     = 5
	SchedDeadline = 6

	// SchedResetOnFork is or'ed into sched_setscheduler's policy.
	SchedResetOnFork = 0x40000000

	SchedFlagResetOnFork = 0x01
	SchedFlagKeepPolicy  = 0x08
	SchedFlagKeepParams  = 0x10
	SchedFlagUtilClamp   = 0x60
	SchedFlagAll         = 0x7f
)

// SchedAttr is a thread's scheduling attributes, as sched_getattr reports
// them. The library OS records SCHED_NORMAL, SCHED_BATCH and SCHED_IDLE
// (the host schedules the sandbox's threads alike); the real-time and
// deadline policies need a privilege the sandbox does not grant, so no
// thread ever has them and Priority stays 0.
type SchedAttr struct {
	Policy      uint32
	ResetOnFork bool
	Nice        int32
	Priority    uint32
}

// schedTargetLocked is the thread pid names for the sched_* calls (0: the
// caller), ESRCH if none.
func (t *Task) schedTargetLocked(pid int32) (*Task, error) {
	ts, err := t.prioTargetsLocked(unix.PRIO_PROCESS, pid)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, unix.ESRCH
	}
	return ts[0], nil
}

// SchedGetAttr returns the scheduling attributes of thread pid (0: the
// caller); EINVAL for a negative pid, ESRCH for none.
func (t *Task) SchedGetAttr(pid int32) (SchedAttr, error) {
	if pid < 0 {
		return SchedAttr{}, unix.EINVAL
	}
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	o, err := t.schedTargetLocked(pid)
	if err != nil {
		return SchedAttr{}, err
	}
	return SchedAttr{Policy: o.policy, ResetOnFork: o.resetOnFork, Nice: o.nice}, nil
}

// SchedKeepNice, among SchedSetAttr's flags, keeps the nice value
// (sched_setscheduler and sched_setparam pass the thread's own).
const SchedKeepNice = 1 << 32

// SchedSetAttr changes thread pid's scheduling attributes as Linux's
// __sched_setscheduler does. flags: SchedFlagKeepPolicy keeps the policy
// and reset-on-fork (sched_setparam); SchedFlagKeepParams changes nothing but reset-on-fork
// (not even the policy, as Linux skips __setscheduler_params);
// SchedKeepNice keeps the nice value. Only a normal policy (SCHED_NORMAL,
// SCHED_BATCH) takes a.Nice, clamped. A priority must be 1..99 for a
// real-time policy and 0 otherwise (EINVAL); without CAP_SYS_NICE,
// lowering the nice value beyond RLIMIT_NICE, leaving SCHED_IDLE unless
// RLIMIT_NICE allows the current nice value, another user's thread and
// clearing reset-on-fork are EPERM. Real-time and deadline policies are
// EPERM (see SchedAttr).
func (t *Task) SchedSetAttr(pid int32, a SchedAttr, flags uint64) error {
	if pid < 0 {
		return unix.EINVAL
	}
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	o, err := t.schedTargetLocked(pid)
	if err != nil {
		return err
	}
	if flags&SchedFlagKeepPolicy != 0 {
		a.Policy, a.ResetOnFork = o.policy, o.resetOnFork
	}
	rt := a.Policy == SchedFIFO || a.Policy == SchedRR
	switch a.Policy {
	case SchedNormal, SchedBatch, SchedIdle, SchedFIFO, SchedRR:
	case SchedDeadline:
		return unix.EINVAL // no runtime/deadline/period that could be valid here
	default:
		return unix.EINVAL
	}
	if a.Priority > 99 || rt != (a.Priority != 0) {
		return unix.EINVAL
	}
	fair := a.Policy == SchedNormal || a.Policy == SchedBatch
	nice := o.nice
	if flags&(SchedFlagKeepParams|SchedKeepNice) == 0 {
		nice = max(minNice, min(maxNice, a.Nice))
	}
	c := &t.creds
	if !c.HasCap(CapSysNice) {
		canNice := func(n int32) bool { return uint64(20-n) <= o.tg.rlimits[unix.RLIMIT_NICE].Cur }
		switch {
		case fair && nice < o.nice && !canNice(nice):
			return unix.EPERM
		case rt:
			return unix.EPERM
		case o.policy == SchedIdle && a.Policy != SchedIdle && !canNice(o.nice):
			return unix.EPERM
		case o.creds.UID != c.EUID && o.creds.EUID != c.EUID:
			return unix.EPERM
		case o.resetOnFork && !a.ResetOnFork:
			return unix.EPERM
		}
	}
	if rt {
		return unix.EPERM
	}
	o.resetOnFork = a.ResetOnFork
	if flags&SchedFlagKeepParams == 0 {
		o.policy = a.Policy
		if fair {
			o.nice = nice
		}
	}
	return nil
}
