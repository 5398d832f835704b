package kernel

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// WaitOptions selects children and events for wait4/waitid.
type WaitOptions struct {
	// Pid: > 0 that child; 0 any child in the caller's process group;
	// -1 any child; < -1 any child in process group -Pid.
	Pid int32
	// ByPidFD restricts the wait to the child Target (waitid P_PIDFD);
	// a nil Target matches no child.
	ByPidFD   bool
	Target    *ThreadGroup
	Exited    bool
	Stopped   bool
	Continued bool
	NoHang    bool
	NoWait    bool
	// Clone (__WCLONE) waits for "clone" children, those whose exit
	// signal is not SIGCHLD, instead of the others; All (__WALL) for
	// both.
	Clone bool
	All   bool
}

// WaitResult describes the event wait found.
type WaitResult struct {
	PID    int32
	UID    uint32
	Status int   // wait4's status word
	Code   int32 // waitid's si_code (CLD_*)
	Value  int32 // waitid's si_status: exit code or signal
	// Usage is the child's CPU time including its reaped children.
	Usage Usage
}

func (tg *ThreadGroup) matchesLocked(o WaitOptions, caller *ThreadGroup) bool {
	if !o.All && (tg.termSig != int(unix.SIGCHLD)) != o.Clone {
		return false
	}
	switch {
	case o.ByPidFD:
		return tg == o.Target
	case o.Pid > 0:
		return tg.tgid == o.Pid
	case o.Pid == 0:
		return tg.pgrp == caller.pgrp
	case o.Pid == -1:
		return true
	default:
		return tg.pgrp != nil && tg.pgrp.id == -o.Pid
	}
}

// Wait implements wait4 and waitid: it returns the first matching event,
// ECHILD when no child matches, a zero result with NoHang when nothing has
// happened yet, or ERestartSys when interrupted.
func (t *Task) Wait(o WaitOptions) (WaitResult, error) {
	k := t.K
	for {
		k.mu.Lock()
		tg := t.tg
		found := false
		for c := range tg.children {
			if !c.matchesLocked(o, tg) {
				continue
			}
			found = true
			if r, ok := k.waitEventLocked(c, o); ok {
				k.mu.Unlock()
				return r, nil
			}
		}
		if !found {
			k.mu.Unlock()
			return WaitResult{}, unix.ECHILD
		}
		if o.NoHang {
			k.mu.Unlock()
			return WaitResult{}, nil
		}
		ch := tg.waitCh
		k.mu.Unlock()
		if err := t.Block(ch, noDeadline); err != nil {
			return WaitResult{}, err
		}
	}
}

func (k *Kernel) waitEventLocked(c *ThreadGroup, o WaitOptions) (WaitResult, bool) {
	r := WaitResult{PID: c.tgid, UID: c.leader.creds.UID}
	switch {
	case o.Exited && c.zombie:
		u := c.usageLocked()
		r.Usage = Usage{u.User + c.childUsage.User, u.Sys + c.childUsage.Sys}
		s := c.exitStatus
		r.Status = s.WaitStatus()
		switch {
		case s.Signal != 0 && s.Core:
			r.Code, r.Value = arch.CLDDumped, int32(s.Signal)
		case s.Signal != 0:
			r.Code, r.Value = arch.CLDKilled, int32(s.Signal)
		default:
			r.Code, r.Value = arch.CLDExited, int32(s.Code)
		}
		if !o.NoWait {
			k.reapLocked(c)
		}
		return r, true
	case o.Stopped && c.stopped && !c.stopReported && !c.zombie:
		r.Status = c.stopSignal<<8 | 0x7f
		r.Code, r.Value = arch.CLDStopped, int32(c.stopSignal)
		if !o.NoWait {
			c.stopReported = true
		}
		return r, true
	case o.Continued && c.continued && !c.contReported && !c.zombie:
		r.Status = 0xffff
		r.Code, r.Value = arch.CLDContinued, int32(unix.SIGCONT)
		if !o.NoWait {
			c.contReported = true
		}
		return r, true
	}
	return r, false
}
