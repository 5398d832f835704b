package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// timerSet holds a process's interval timer (ITIMER_REAL, which alarm
// shares) and its POSIX timers.
type timerSet struct {
	mu sync.Mutex
	// itimers are ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF. The two
	// CPU-time timers run on wall time: the library OS does not measure a
	// thread's CPU time, and for the busy workloads they serve the two
	// agree.
	itimers [3]*intervalTimer
	posix   map[int32]*PosixTimer
	nextID  int32
}

// itimerSignals are the signals the interval timers send.
var itimerSignals = [3]unix.Signal{unix.SIGALRM, unix.SIGVTALRM, unix.SIGPROF}

// intervalTimer is a timer that fires a signal, optionally periodically.
type intervalTimer struct {
	timer    *time.Timer
	next     time.Time
	interval time.Duration
	fire     func()
}

func (it *intervalTimer) stop() {
	if it != nil && it.timer != nil {
		it.timer.Stop()
	}
}

// remaining returns the time to the next expiry and the interval.
func (it *intervalTimer) remaining() (time.Duration, time.Duration) {
	if it == nil || it.next.IsZero() {
		return 0, 0
	}
	d := time.Until(it.next)
	if d <= 0 {
		d = time.Microsecond
	}
	return d, it.interval
}

func (ts *timerSet) stopAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for i, it := range ts.itimers {
		it.stop()
		ts.itimers[i] = nil
	}
	for _, p := range ts.posix {
		p.it.stop()
	}
	ts.posix = nil
}

// arm starts it to fire after value and then every interval; the mutex
// guarding it must be held.
func (it *intervalTimer) arm(mu *sync.Mutex, value, interval time.Duration) {
	it.stop()
	it.interval = interval
	if value <= 0 {
		it.next = time.Time{}
		return
	}
	it.next = time.Now().Add(value)
	var tick func()
	tick = func() {
		mu.Lock()
		if it.interval > 0 {
			it.next = it.next.Add(it.interval)
			if d := time.Until(it.next); d > 0 {
				it.timer = time.AfterFunc(d, tick)
			} else {
				it.next = time.Now().Add(it.interval)
				it.timer = time.AfterFunc(it.interval, tick)
			}
		} else {
			it.next = time.Time{}
		}
		mu.Unlock()
		it.fire()
	}
	it.timer = time.AfterFunc(value, tick)
}

// SetITimer arms interval timer which (ITIMER_REAL, _VIRTUAL or _PROF)
// and returns its previous setting.
func (t *Task) SetITimer(which int, value, interval time.Duration) (time.Duration, time.Duration) {
	tg := t.tg
	ts := &tg.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	it := ts.itimers[which]
	oldV, oldI := it.remaining()
	if it == nil {
		sig := itimerSignals[which]
		it = &intervalTimer{fire: func() {
			tg.SendSignal(&arch.SignalInfo{Signo: int32(sig), Code: arch.SIKernel})
		}}
		ts.itimers[which] = it
	}
	it.arm(&ts.mu, value, interval)
	return oldV, oldI
}

// ITimer returns an interval timer's current setting.
func (t *Task) ITimer(which int) (time.Duration, time.Duration) {
	ts := &t.tg.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.itimers[which].remaining()
}

// PosixTimer is one timer_create timer.
type PosixTimer struct {
	it      *intervalTimer
	overrun int32
	clock   int32
}

// SigEvent is the decoded struct sigevent of timer_create.
type SigEvent struct {
	Notify int // SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID
	Signo  int
	Value  uint64
	TID    int32
	Clock  int32
}

// Sigevent notification kinds.
const (
	SigevSignal   = 0
	SigevNone     = 1
	SigevThread   = 2
	SigevThreadID = 4
)

// TimerCreate creates a POSIX timer for the process and returns its id.
func (t *Task) TimerCreate(ev SigEvent) (int32, error) {
	k := t.K
	tg := t.tg
	var target *Task
	switch ev.Notify {
	case SigevSignal, SigevNone:
	case SigevThreadID:
		k.mu.Lock()
		o := k.tasks[ev.TID]
		k.mu.Unlock()
		if o == nil || o.tg != tg {
			return 0, unix.EINVAL
		}
		target = o
	default:
		return 0, unix.EINVAL
	}
	if ev.Notify != SigevNone && (ev.Signo <= 0 || ev.Signo >= NumSignals) {
		return 0, unix.EINVAL
	}
	ts := &tg.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.posix == nil {
		ts.posix = make(map[int32]*PosixTimer)
	}
	id := ts.nextID
	ts.nextID++
	pt := &PosixTimer{clock: ev.Clock}
	pt.it = &intervalTimer{fire: func() {
		if ev.Notify == SigevNone {
			return
		}
		info := &arch.SignalInfo{Signo: int32(ev.Signo), Code: arch.SITimer}
		info.SetTimer(id, 0, ev.Value)
		if target != nil {
			target.SendSignal(info)
		} else {
			tg.SendSignal(info)
		}
	}}
	ts.posix[id] = pt
	return id, nil
}

// TimerSet arms a POSIX timer; absolute values are times on the realtime
// clock. It returns the previous setting.
func (t *Task) TimerSet(id int32, value, interval time.Duration) (time.Duration, time.Duration, error) {
	ts := &t.tg.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	pt, ok := ts.posix[id]
	if !ok {
		return 0, 0, unix.EINVAL
	}
	oldV, oldI := pt.it.remaining()
	pt.it.arm(&ts.mu, value, interval)
	return oldV, oldI, nil
}

// TimerGet returns a POSIX timer's setting.
func (t *Task) TimerGet(id int32) (time.Duration, time.Duration, error) {
	ts := &t.tg.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	pt, ok := ts.posix[id]
	if !ok {
		return 0, 0, unix.EINVAL
	}
	v, i := pt.it.remaining()
	return v, i, nil
}

// TimerDelete deletes a POSIX timer.
func (t *Task) TimerDelete(id int32) error {
	ts := &t.tg.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	pt, ok := ts.posix[id]
	if !ok {
		return unix.EINVAL
	}
	pt.it.stop()
	delete(ts.posix, id)
	return nil
}

// TimerExists reports whether id names a live POSIX timer.
func (t *Task) TimerExists(id int32) bool {
	ts := &t.tg.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	_, ok := ts.posix[id]
	return ok
}

// TimerClock returns the clock a POSIX timer measures.
func (t *Task) TimerClock(id int32) (int32, bool) {
	ts := &t.tg.timers
	ts.mu.Lock()
	defer ts.mu.Unlock()
	pt, ok := ts.posix[id]
	if !ok {
		return 0, false
	}
	return pt.clock, true
}
