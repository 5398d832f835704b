package kernel

import "time"

// A process's CPU time is the host's account of its address space (the
// platform reads the stub's CPU clock); a thread's is measured by the run
// loop as time switched into the workload. System time is not charged:
// serving a trapped syscall costs mostly the platform's trap, not work
// Linux would count. (The platform does not report the host's per-thread CPU time, and
// the sentry cannot read it from a /proc it does not have.)

// ChargeUser adds workload running time to the task.
func (t *Task) ChargeUser(d time.Duration) { t.utime.Add(int64(d)) }

// ChargeSys adds syscall serving time to the task.
func (t *Task) ChargeSys(d time.Duration) { t.stime.Add(int64(d)) }

// Usage is a pair of CPU times.
type Usage struct{ User, Sys time.Duration }

// ThreadUsage is the calling thread's CPU time.
func (t *Task) ThreadUsage() Usage {
	return Usage{time.Duration(t.utime.Load()), time.Duration(t.stime.Load())}
}

// ProcessUsage is the CPU time of every thread of the process, live or
// exited.
func (t *Task) ProcessUsage() Usage {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.tg.usageLocked()
}

// usageLocked is the process's CPU time: what its finished address spaces
// used, plus what the host has counted for its current one so far.
func (tg *ThreadGroup) usageLocked() Usage {
	u := tg.deadUsage
	if len(tg.tasks) > 0 && tg.tasks[0].AS != nil {
		u.User += tg.tasks[0].AS.CPUTime()
	}
	return u
}

// ChildrenUsage is the CPU time of reaped children and their reaped
// descendants (RUSAGE_CHILDREN).
func (t *Task) ChildrenUsage() Usage {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.tg.childUsage
}
