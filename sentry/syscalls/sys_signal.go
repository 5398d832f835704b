package syscalls

import (
	"encoding/binary"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/kernel"
)

func init() {
	register(SysRtSigaction, sysRtSigaction)
	register(SysRtSigprocmask, sysRtSigprocmask)
	register(SysRtSigreturn, func(t *kernel.Task, _ [6]uint64) (uint64, error) {
		if err := t.SigReturn(t.Ctx); err != nil {
			// A corrupt frame is fatal, as Linux's force_sig(SIGSEGV).
			t.Fault(int(unix.SIGSEGV), arch.SIKernel, 0)
			return 0, nil
		}
		return t.Regs.Rax, nil
	})
	register(SysSigaltstack, sysSigaltstack)
	register(SysKill, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, t.Kill(int32(a[0]), intArg(a[1]))
	})
	register(SysTkill, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, t.Tgkill(-1, int32(a[0]), intArg(a[1]), arch.SITkill, 0)
	})
	register(SysTgkill, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if int32(a[0]) <= 0 {
			return 0, unix.EINVAL
		}
		return 0, t.Tgkill(int32(a[0]), int32(a[1]), intArg(a[2]), arch.SITkill, 0)
	})
	register(SysRtSigqueueinfo, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		info, err := userSigInfo(t, a[2], intArg(a[1]))
		if err != nil {
			return 0, err
		}
		return 0, t.Sigqueue(int32(a[0]), intArg(a[1]), info)
	})
	register(SysRtTgsigqueueinfo, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		info, err := userSigInfo(t, a[3], intArg(a[2]))
		if err != nil {
			return 0, err
		}
		return 0, t.Tgkill(int32(a[0]), int32(a[1]), intArg(a[2]), info.Code, info.Value())
	})
	register(SysRtSigpending, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if a[1] > 8 {
			return 0, unix.EINVAL
		}
		return 0, putU64(t, a[0], t.Pending()&t.SignalMask(), int(a[1]))
	})
	register(SysRtSigsuspend, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if a[1] != 8 {
			return 0, unix.EINVAL
		}
		mask, err := getU64(t, a[0])
		if err != nil {
			return 0, err
		}
		old := t.SignalMask()
		t.SetSavedMask(old)
		t.SetSignalMask(mask)
		for {
			if err := t.Block(nil, kernel.NoDeadline()); err != nil {
				return 0, kernel.ERestartNoHand
			}
		}
	})
	register(SysPause, func(t *kernel.Task, _ [6]uint64) (uint64, error) {
		for {
			if err := t.Block(nil, kernel.NoDeadline()); err != nil {
				return 0, kernel.ERestartNoHand
			}
		}
	})
	register(SysRtSigtimedwait, sysRtSigtimedwait)
	register(SysAlarm, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		old, _ := t.SetITimer(unix.ITIMER_REAL, time.Duration(uint32(a[0]))*time.Second, 0)
		// alarm returns whole seconds left, rounded up.
		return uint64((old + time.Second - 1) / time.Second), nil
	})
	register(SysSetitimer, sysSetitimer)
	register(SysGetitimer, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		v, i, err := getITimer(t, intArg(a[0]))
		if err != nil {
			return 0, err
		}
		return 0, putITimerval(t, a[1], v, i)
	})
	register(SysTimerCreate, sysTimerCreate)
	register(SysTimerSettime, sysTimerSettime)
	register(SysTimerGettime, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		v, i, err := t.TimerGet(int32(a[0]))
		if err != nil {
			return 0, err
		}
		return 0, putItimerspec(t, a[1], v, i)
	})
	register(SysTimerGetoverrun, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if !t.TimerExists(int32(a[0])) {
			return 0, unix.EINVAL
		}
		return 0, nil
	})
	register(SysTimerDelete, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, t.TimerDelete(int32(a[0]))
	})
	register(SysGetrusage, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		var u kernel.Usage
		switch intArg(a[0]) {
		case unix.RUSAGE_SELF:
			u = t.ProcessUsage()
		case unix.RUSAGE_THREAD:
			u = t.ThreadUsage()
		case unix.RUSAGE_CHILDREN:
			u = t.ChildrenUsage()
		default:
			return 0, unix.EINVAL
		}
		ru := rusage(t, u)
		if _, err := t.MM.CopyOut(a[1], rusageBytes(&ru)); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	})
	register(SysTimes, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		const tick = 10 * time.Millisecond // USER_HZ is 100
		if a[0] != 0 {
			self, children := t.ProcessUsage(), t.ChildrenUsage()
			var b [32]byte // tms_utime, tms_stime, tms_cutime, tms_cstime
			binary.LittleEndian.PutUint64(b[0:], uint64(self.User/tick))
			binary.LittleEndian.PutUint64(b[8:], uint64(self.Sys/tick))
			binary.LittleEndian.PutUint64(b[16:], uint64(children.User/tick))
			binary.LittleEndian.PutUint64(b[24:], uint64(children.Sys/tick))
			if _, err := t.MM.CopyOut(a[0], b[:]); err != nil {
				return 0, unix.EFAULT
			}
		}
		// Ticks since the sandbox booted; only differences mean anything.
		return uint64(t.K.Uptime()/tick) + 1, nil
	})
}

// minSigStkSz is MINSIGSTKSZ on x86-64.
const minSigStkSz = 2048

// rusage fills the times and memory fields Linux reports.
func rusage(t *kernel.Task, u kernel.Usage) unix.Rusage {
	var ru unix.Rusage
	ru.Utime = unix.NsecToTimeval(u.User.Nanoseconds())
	ru.Stime = unix.NsecToTimeval(u.Sys.Nanoseconds())
	if t.MM != nil {
		// The current resident set: the largest one is not kept.
		ru.Maxrss = int64(t.MM.ResidentBytes() / 1024)
	}
	return ru
}

func rusageBytes(ru *unix.Rusage) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(ru)), unsafe.Sizeof(*ru))
}

func putU64(t *kernel.Task, addr, v uint64, size int) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	if _, err := t.MM.CopyOut(addr, b[:size]); err != nil {
		return unix.EFAULT
	}
	return nil
}

func getU64(t *kernel.Task, addr uint64) (uint64, error) {
	var b [8]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

func validSignal(sig int) bool { return sig > 0 && sig < kernel.NumSignals }

func sysRtSigaction(t *kernel.Task, a [6]uint64) (uint64, error) {
	sig := intArg(a[0])
	if a[3] != 8 || !validSignal(sig) {
		return 0, unix.EINVAL
	}
	if a[1] != 0 && (sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP)) {
		return 0, unix.EINVAL
	}
	var act *arch.SignalAction
	if a[1] != 0 {
		b := make([]byte, arch.SignalActionSize)
		if _, err := t.MM.CopyIn(a[1], b); err != nil {
			return 0, unix.EFAULT
		}
		act = &arch.SignalAction{}
		if err := act.Unmarshal(b); err != nil {
			return 0, unix.EINVAL
		}
		act.Mask &^= arch.UnblockableMask
	}
	if a[2] != 0 {
		// Check the old-action buffer before changing anything.
		if t.MM.Accessible(a[2], arch.SignalActionSize, 2) < arch.SignalActionSize {
			return 0, unix.EFAULT
		}
	}
	old := t.SigAction(sig, act)
	if a[2] != 0 {
		t.MM.CopyOut(a[2], old.Marshal())
	}
	return 0, nil
}

func sysRtSigprocmask(t *kernel.Task, a [6]uint64) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	old := t.SignalMask()
	if a[1] != 0 {
		set, err := getU64(t, a[1])
		if err != nil {
			return 0, err
		}
		var m uint64
		switch intArg(a[0]) {
		case unix.SIG_BLOCK:
			m = old | set
		case unix.SIG_UNBLOCK:
			m = old &^ set
		case unix.SIG_SETMASK:
			m = set
		default:
			return 0, unix.EINVAL
		}
		if a[2] != 0 {
			if err := putU64(t, a[2], old, 8); err != nil {
				return 0, err
			}
		}
		t.SetSignalMask(m)
		return 0, nil
	}
	if a[2] != 0 {
		return 0, putU64(t, a[2], old, 8)
	}
	return 0, nil
}

func sysSigaltstack(t *kernel.Task, a [6]uint64) (uint64, error) {
	cur := t.AltStack()
	on := cur.OnStack(t.Regs.Rsp)
	if a[1] != 0 {
		o := cur
		if on {
			o.Flags |= arch.SSOnStack
		}
		if !cur.Enabled() {
			o = arch.SignalStack{Flags: arch.SSDisable}
		}
		if _, err := t.MM.CopyOut(a[1], o.Marshal()); err != nil {
			return 0, unix.EFAULT
		}
	}
	if a[0] != 0 {
		b := make([]byte, arch.SignalStackSize)
		if _, err := t.MM.CopyIn(a[0], b); err != nil {
			return 0, unix.EFAULT
		}
		var ns arch.SignalStack
		if err := ns.Unmarshal(b); err != nil {
			return 0, unix.EINVAL
		}
		if on {
			return 0, unix.EPERM
		}
		mode := ns.Flags &^ arch.SSAutoDisarm
		switch {
		case mode == arch.SSDisable:
			ns = arch.SignalStack{Flags: arch.SSDisable}
		case mode != 0 && mode != arch.SSOnStack:
			return 0, unix.EINVAL
		default:
			if ns.Size < minSigStkSz {
				return 0, unix.ENOMEM
			}
			ns.Flags &= arch.SSAutoDisarm
		}
		t.SetAltStack(ns)
	}
	return 0, nil
}

func userSigInfo(t *kernel.Task, addr uint64, sig int) (*arch.SignalInfo, error) {
	b := make([]byte, arch.SignalInfoSize)
	if _, err := t.MM.CopyIn(addr, b); err != nil {
		return nil, unix.EFAULT
	}
	info := &arch.SignalInfo{}
	if err := info.Unmarshal(b); err != nil {
		return nil, unix.EINVAL
	}
	// Only negative codes may be forged by user space (not SI_TKILL).
	if info.Code >= 0 || info.Code == arch.SITkill {
		return nil, unix.EPERM
	}
	info.Signo = int32(sig)
	return info, nil
}

func sysRtSigtimedwait(t *kernel.Task, a [6]uint64) (uint64, error) {
	if a[3] != 8 {
		return 0, unix.EINVAL
	}
	set, err := getU64(t, a[0])
	if err != nil {
		return 0, err
	}
	set &^= arch.UnblockableMask
	var deadline time.Time
	if a[2] != 0 {
		ts, err := getTimespec(t, a[2])
		if err != nil {
			return 0, err
		}
		deadline = time.Now().Add(time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec))
	}
	// The waited-for signals are unblocked for the wait only as far as
	// waking goes: they are taken here, never delivered to a handler.
	t.SigWaiting(set)
	defer t.SigWaiting(0)
	for {
		if info, ok := t.TakeSignal(set); ok {
			if a[1] != 0 {
				if _, err := t.MM.CopyOut(a[1], info.Marshal()); err != nil {
					return 0, unix.EFAULT
				}
			}
			return uint64(info.Signo), nil
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return 0, unix.EAGAIN
		}
		if t.Pending()&set != 0 {
			continue
		}
		err := t.Block(nil, deadline)
		if err == unix.ETIMEDOUT {
			continue
		}
		if err != nil && t.Pending()&set == 0 {
			return 0, unix.EINTR
		}
	}
}

func getITimer(t *kernel.Task, which int) (time.Duration, time.Duration, error) {
	if which < unix.ITIMER_REAL || which > unix.ITIMER_PROF {
		return 0, 0, unix.EINVAL
	}
	v, i := t.ITimer(which)
	return v, i, nil
}

func putITimerval(t *kernel.Task, addr uint64, v, i time.Duration) error {
	var b [32]byte
	iv, vv := unix.NsecToTimeval(i.Nanoseconds()), unix.NsecToTimeval(v.Nanoseconds())
	binary.LittleEndian.PutUint64(b[0:], uint64(iv.Sec))
	binary.LittleEndian.PutUint64(b[8:], uint64(iv.Usec))
	binary.LittleEndian.PutUint64(b[16:], uint64(vv.Sec))
	binary.LittleEndian.PutUint64(b[24:], uint64(vv.Usec))
	if _, err := t.MM.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

func sysSetitimer(t *kernel.Task, a [6]uint64) (uint64, error) {
	which := intArg(a[0])
	var b [32]byte
	if a[1] != 0 {
		if _, err := t.MM.CopyIn(a[1], b[:]); err != nil {
			return 0, unix.EFAULT
		}
	}
	tv := func(off int) (time.Duration, error) {
		sec, usec := int64(binary.LittleEndian.Uint64(b[off:])), int64(binary.LittleEndian.Uint64(b[off+8:]))
		if sec < 0 || usec < 0 || usec >= 1e6 {
			return 0, unix.EINVAL
		}
		return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, nil
	}
	interval, err := tv(0)
	if err != nil {
		return 0, err
	}
	value, err := tv(16)
	if err != nil {
		return 0, err
	}
	if which < unix.ITIMER_REAL || which > unix.ITIMER_PROF {
		return 0, unix.EINVAL
	}
	oldV, oldI := t.SetITimer(which, value, interval)
	if a[2] != 0 {
		return 0, putITimerval(t, a[2], oldV, oldI)
	}
	return 0, nil
}

func sysTimerCreate(t *kernel.Task, a [6]uint64) (uint64, error) {
	if _, ok := hostClock(int32(a[0])); !ok {
		return 0, unix.EINVAL
	}
	ev := kernel.SigEvent{Notify: kernel.SigevSignal, Signo: int(unix.SIGALRM), Clock: int32(a[0])}
	if a[1] != 0 {
		var b [64]byte // struct sigevent: value, signo, notify, tid
		if _, err := t.MM.CopyIn(a[1], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		ev.Value = binary.LittleEndian.Uint64(b[0:])
		ev.Signo = int(int32(binary.LittleEndian.Uint32(b[8:])))
		ev.Notify = int(int32(binary.LittleEndian.Uint32(b[12:])))
		ev.TID = int32(binary.LittleEndian.Uint32(b[16:]))
	}
	id, err := t.TimerCreate(ev)
	if err != nil {
		return 0, err
	}
	if a[1] == 0 {
		// Without a sigevent the value is the timer id.
		t.TimerDelete(id)
		ev.Value = uint64(id)
		if id, err = t.TimerCreate(ev); err != nil {
			return 0, err
		}
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(id))
	if _, err := t.MM.CopyOut(a[2], b[:]); err != nil {
		t.TimerDelete(id)
		return 0, unix.EFAULT
	}
	return 0, nil
}

func putItimerspec(t *kernel.Task, addr uint64, v, i time.Duration) error {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[0:], uint64(i/time.Second))
	binary.LittleEndian.PutUint64(b[8:], uint64(i%time.Second))
	binary.LittleEndian.PutUint64(b[16:], uint64(v/time.Second))
	binary.LittleEndian.PutUint64(b[24:], uint64(v%time.Second))
	if _, err := t.MM.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

// copyInItimerspec reads a struct itimerspec: EFAULT, or EINVAL for a
// negative or unnormalized time.
func copyInItimerspec(t *kernel.Task, addr uint64) (interval, value time.Duration, err error) {
	var b [32]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return 0, 0, unix.EFAULT
	}
	ts := func(off int) (time.Duration, error) {
		sec, nsec := int64(binary.LittleEndian.Uint64(b[off:])), int64(binary.LittleEndian.Uint64(b[off+8:]))
		if sec < 0 || nsec < 0 || nsec >= 1e9 {
			return 0, unix.EINVAL
		}
		if sec >= int64(maxTimeout/time.Second) {
			return maxTimeout, nil
		}
		return time.Duration(sec)*time.Second + time.Duration(nsec), nil
	}
	if interval, err = ts(0); err != nil {
		return 0, 0, err
	}
	if value, err = ts(16); err != nil {
		return 0, 0, err
	}
	return interval, value, nil
}

// untilAbsolute turns an absolute time on clock into the time left from
// now, at least 1 ns: a time already past expires at once.
func untilAbsolute(clock int32, at time.Duration) time.Duration {
	hc, _ := hostClock(clock)
	var now unix.Timespec
	unix.ClockGettime(hc, &now)
	return max(at-time.Duration(now.Nano()), time.Nanosecond)
}

func sysTimerSettime(t *kernel.Task, a [6]uint64) (uint64, error) {
	id, flags := int32(a[0]), intArg(a[1])
	interval, value, err := copyInItimerspec(t, a[2])
	if err != nil {
		return 0, err
	}
	if flags&unix.TIMER_ABSTIME != 0 && value != 0 {
		clock, ok := t.TimerClock(id)
		if !ok {
			return 0, unix.EINVAL
		}
		value = untilAbsolute(clock, value)
	}
	oldV, oldI, err := t.TimerSet(id, value, interval)
	if err != nil {
		return 0, err
	}
	if a[3] != 0 {
		return 0, putItimerspec(t, a[3], oldV, oldI)
	}
	return 0, nil
}
