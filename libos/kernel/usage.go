package kernel

import "time"

// CPU time is measured by the run loop: time spent switched into the
// workload is user time; system time is not charged (serving a trapped
// syscall costs mostly the platform's trap, not work Linux would count). (The platform does not report the host's per-thread CPU time, and
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

func (tg *ThreadGroup) usageLocked() Usage {
	u := tg.deadUsage
	for _, o := range tg.tasks {
		u.User += time.Duration(o.utime.Load())
		u.Sys += time.Duration(o.stime.Load())
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
