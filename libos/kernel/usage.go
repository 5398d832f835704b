package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// A process's CPU time is the host's account of its address space (the
// platform reads the stub's CPU clock); a thread's is measured by the run
// loop as time switched into the workload. System time is not charged:
// serving a trapped syscall costs mostly the platform's trap, not work
// Linux would count. (The platform does not report the host's per-thread CPU time, and
// the sentry cannot read it from a /proc it does not have.)

// EnterUser records that the thread runs workload code from now on, so
// that its clock advances while it runs (a thread spinning without
// syscalls returns to the run loop rarely).
func (t *Task) EnterUser(now time.Time) {
	t.clockMu.Lock()
	t.runStart = now
	t.clockMu.Unlock()
}

// ChargeUser adds workload running time to the task, which has left the
// workload.
func (t *Task) ChargeUser(d time.Duration) {
	t.clockMu.Lock()
	t.utime.Add(int64(d))
	t.runStart = time.Time{}
	t.clockMu.Unlock()
}

// ChargeSys adds syscall serving time to the task.
func (t *Task) ChargeSys(d time.Duration) { t.stime.Add(int64(d)) }

// Usage is a pair of CPU times.
type Usage struct{ User, Sys time.Duration }

// ThreadUsage is the thread's CPU time, the run it is in included.
func (t *Task) ThreadUsage() Usage {
	t.clockMu.Lock()
	user := time.Duration(t.utime.Load())
	if !t.runStart.IsZero() {
		user += max(0, time.Since(t.runStart))
	}
	t.clockMu.Unlock()
	return Usage{user, time.Duration(t.stime.Load())}
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

// CPU-time clock ids (posix-cpu-timers): a negative id encodes a pid or
// tid as ~id>>3, a thread clock with bit 2, and in its low two bits which
// time it counts; clock_getcpuclockid and pthread_getcpuclockid make them.
// The static CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID are the
// caller's SCHED clocks.
const (
	cpuClockProf   = 0 // user + system time
	cpuClockVirt   = 1 // user time
	cpuClockSched  = 2 // time on a CPU
	cpuClockMax    = 3
	cpuClockThread = 4
)

// IsCPUClock reports whether clock names a CPU-time clock (static or
// encoded), which CPUClock reads; other ids are wall clocks or fds.
func IsCPUClock(clock int32) bool {
	return clock == 2 || clock == 3 || clock < 0 && clock&3 != cpuClockMax
}

// CPUClock reads the CPU-time clock clock (see IsCPUClock), and says
// whether it counts in scheduler nanoseconds (SCHED: resolution 1 ns) or
// in ticks. As in Linux's posix_cpu_clock_get, a thread clock must name a
// thread of the caller's process and a process clock a process (its
// leader's id, or the caller's own tid), a zombie's too; any other id is
// EINVAL, whoever owns the process (reading another process's CPU time
// needs no permission).
func (t *Task) CPUClock(clock int32) (time.Duration, bool, error) {
	var pid int32
	var which int32
	var thread bool
	switch {
	case clock == 2: // CLOCK_PROCESS_CPUTIME_ID
		which = cpuClockSched
	case clock == 3: // CLOCK_THREAD_CPUTIME_ID
		which, thread = cpuClockSched, true
	case clock < 0 && clock&3 != cpuClockMax:
		pid, which, thread = ^(clock >> 3), clock&3, clock&cpuClockThread != 0
	default:
		return 0, false, unix.EINVAL
	}
	k := t.K
	k.mu.Lock()
	var u Usage
	switch o := k.tasks[pid]; {
	case thread && pid == 0:
		u = t.ThreadUsage()
	case thread:
		if o == nil || o.exited || o.tg != t.tg {
			k.mu.Unlock()
			return 0, false, unix.EINVAL
		}
		u = o.ThreadUsage()
	case pid == 0:
		u = t.tg.usageLocked()
	default:
		if o == nil || o.tg.leader != o && o != t || !t.seesLocked(o.tg) {
			k.mu.Unlock()
			return 0, false, unix.EINVAL
		}
		u = o.tg.usageLocked()
	}
	k.mu.Unlock()
	switch which {
	case cpuClockVirt:
		return u.User, false, nil
	case cpuClockProf:
		return u.User + u.Sys, false, nil
	}
	return u.User + u.Sys, true, nil
}
