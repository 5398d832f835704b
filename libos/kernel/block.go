package kernel

import (
	"time"

	"golang.org/x/sys/unix"
)

// noDeadline means Block waits without a timeout.
var noDeadline time.Time

// NoDeadline is the zero deadline: wait without a timeout.
func NoDeadline() time.Time { return noDeadline }

// Block puts the task to sleep until ch is ready (closed or sent on),
// until deadline (if not zero), or until something interrupts it: a signal
// it must handle, its process exiting or stopping. It returns nil for ch,
// ETIMEDOUT for the deadline, and ERestartSys when interrupted; a nil ch
// waits only for the deadline or an interruption.
func (t *Task) Block(ch <-chan struct{}, deadline time.Time) error {
	start := time.Now()
	defer func() { t.blocked.Add(int64(time.Since(start))) }()
	var timer <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			select {
			case <-ch:
				return nil
			default:
			}
			return unix.ETIMEDOUT
		}
		tm := time.NewTimer(d)
		defer tm.Stop()
		timer = tm.C
	}
	for {
		t.K.mu.Lock()
		interrupted := t.interruptedLocked()
		t.K.mu.Unlock()
		if interrupted {
			return ERestartSys
		}
		select {
		case <-ch:
			return nil
		case <-timer:
			return unix.ETIMEDOUT
		case <-t.interrupt:
			// Re-check: the wake-up may be stale or for a blocked signal.
		}
	}
}

// Interrupted reports whether a blocking operation should give way now.
func (t *Task) Interrupted() bool {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.interruptedLocked()
}

// Sleep blocks for d; it returns ERestartSys if interrupted first.
func (t *Task) Sleep(d time.Duration) error {
	err := t.Block(nil, time.Now().Add(d))
	if err == unix.ETIMEDOUT {
		return nil
	}
	return err
}

// BlockedTime is the total time the task has spent asleep in Block, so the
// run loop does not charge sleeping as CPU time.
func (t *Task) BlockedTime() time.Duration { return time.Duration(t.blocked.Load()) }
