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
