package kernel

import (
	"exokernelul.dev/exo/libos/waiter"
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// NumSignals is the highest signal number plus one.
const NumSignals = 65

// Special handler values of struct sigaction.
const (
	SigDfl = 0
	SigIgn = 1
)

// Internal errnos that ask for a syscall to be restarted after a signal
// (include/linux/errno.h); the workload never sees them.
const (
	ERestartSys          = unix.Errno(512)
	ERestartNoIntr       = unix.Errno(513)
	ERestartNoHand       = unix.Errno(514)
	ERestartRestartBlock = unix.Errno(516)
)

func sigBit(sig int) uint64 { return 1 << uint(sig-1) }

// unblockable signals can be neither blocked nor caught.
var unblockable = sigBit(int(unix.SIGKILL)) | sigBit(int(unix.SIGSTOP))

type defaultAction int

const (
	actTerm defaultAction = iota
	actCore
	actIgnore
	actStop
	actCont
)

func defaultActionOf(sig int) defaultAction {
	switch unix.Signal(sig) {
	case unix.SIGQUIT, unix.SIGILL, unix.SIGTRAP, unix.SIGABRT, unix.SIGBUS, unix.SIGFPE,
		unix.SIGSEGV, unix.SIGXCPU, unix.SIGXFSZ, unix.SIGSYS:
		return actCore
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH:
		return actIgnore
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return actStop
	case unix.SIGCONT:
		return actCont
	}
	return actTerm
}

// sigQueue holds pending signals: one instance of each standard signal,
// every instance of a real-time one, in arrival order.
type sigQueue struct {
	set   uint64
	infos []arch.SignalInfo
}

func (q *sigQueue) add(info *arch.SignalInfo) {
	sig := int(info.Signo)
	if sig < 32 && q.set&sigBit(sig) != 0 {
		return
	}
	q.set |= sigBit(sig)
	q.infos = append(q.infos, *info)
}

// take removes the first queued instance of sig.
func (q *sigQueue) take(sig int) (arch.SignalInfo, bool) {
	for i, in := range q.infos {
		if int(in.Signo) != sig {
			continue
		}
		q.infos = append(q.infos[:i], q.infos[i+1:]...)
		q.set &^= sigBit(sig)
		for _, o := range q.infos {
			if int(o.Signo) == sig {
				q.set |= sigBit(sig)
				break
			}
		}
		return in, true
	}
	return arch.SignalInfo{}, false
}

func (q *sigQueue) discard(sig int) {
	for q.set&sigBit(sig) != 0 {
		q.take(sig)
	}
}

// firstUnblocked picks the signal to deliver: synchronous faults first, as
// Linux does, then the lowest number.
func (q *sigQueue) firstUnblocked(mask uint64) int {
	ready := q.set &^ mask
	if ready == 0 {
		return 0
	}
	const synchronous = 1<<(unix.SIGSEGV-1) | 1<<(unix.SIGBUS-1) | 1<<(unix.SIGILL-1) | 1<<(unix.SIGTRAP-1) | 1<<(unix.SIGFPE-1) | 1<<(unix.SIGSYS-1)
	if s := ready & synchronous; s != 0 {
		ready = s
	}
	for sig := 1; sig < NumSignals; sig++ {
		if ready&sigBit(sig) != 0 {
			return sig
		}
	}
	return 0
}

// ignoredLocked reports whether sig would be discarded on arrival.
func (tg *ThreadGroup) ignoredLocked(sig int) bool {
	h := tg.handlers.actions[sig-1].Handler
	return h == SigIgn || (h == SigDfl && defaultActionOf(sig) == actIgnore)
}

// SignalInfoUser builds the siginfo of a signal sent by kill from t.
func (t *Task) SignalInfoUser(sig int, code int32) *arch.SignalInfo {
	info := &arch.SignalInfo{Signo: int32(sig), Code: code}
	info.SetPIDUID(t.tg.tgid, t.creds.UID)
	return info
}

// SendSignal sends a thread-directed signal to t (tgkill, faults).
func (t *Task) SendSignal(info *arch.SignalInfo) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	t.K.sendLocked(t.tg, t, info)
}

// SendSignal sends a process-directed signal (kill).
func (tg *ThreadGroup) SendSignal(info *arch.SignalInfo) {
	tg.k.mu.Lock()
	defer tg.k.mu.Unlock()
	tg.k.sendLocked(tg, nil, info)
}

// sendLocked queues a signal generated inside the container for tg, or
// for the thread t of tg when t is not nil. The container's init, as the
// init of a pid namespace, is sent only the signals it has a handler for:
// with the default action even SIGKILL from inside is dropped, as Linux
// drops it for a SIGNAL_UNKILLABLE init. (Faults are forced on it; see
// Fault.)
func (k *Kernel) sendLocked(tg *ThreadGroup, t *Task, info *arch.SignalInfo) {
	k.generateLocked(tg, t, info, tg == k.init)
}

// deliverLocked queues a signal for tg (or its thread t) whoever tg is:
// a signal from outside the container that init gets whatever it does
// with the signal.
func (k *Kernel) deliverLocked(tg *ThreadGroup, t *Task, info *arch.SignalInfo) {
	k.generateLocked(tg, t, info, false)
}

// generateLocked queues a signal, applying the side effects Linux applies
// at generation time. unkillable is set for the init of the container's
// pid namespace: a signal with the default action is then dropped like an
// ignored one (unless blocked, since the handler may change before it is
// unblocked), and SIGKILL with it.
func (k *Kernel) generateLocked(tg *ThreadGroup, t *Task, info *arch.SignalInfo, unkillable bool) {
	sig := int(info.Signo)
	if sig <= 0 || sig >= NumSignals || tg.zombie || tg.exiting {
		return
	}
	switch defaultActionOf(sig) {
	case actStop:
		tg.pending.discard(int(unix.SIGCONT))
		for _, o := range tg.tasks {
			o.pending.discard(int(unix.SIGCONT))
		}
	case actCont:
		for s := 1; s < NumSignals; s++ {
			if defaultActionOf(s) == actStop {
				tg.pending.discard(s)
				for _, o := range tg.tasks {
					o.pending.discard(s)
				}
			}
		}
		if tg.stopped {
			tg.stopped = false
			close(tg.contCh)
			tg.continued = true
			tg.contReported = false
			k.notifyParentLocked(tg, arch.CLDContinued, int32(unix.SIGCONT))
			for _, o := range tg.tasks {
				k.wakeLocked(o)
			}
		}
	}
	dfl := unkillable && tg.handlers.actions[sig-1].Handler == SigDfl
	if sig == int(unix.SIGKILL) {
		if !dfl {
			k.groupExitLocked(tg, ExitStatus{Signal: sig})
		}
		return
	}
	// An ignored signal is dropped at once unless blocked; rt_sigtimedwait
	// may be waiting for it, in which case it is kept.
	if tg.ignoredLocked(sig) || dfl {
		blocked := false
		waited := false
		for _, o := range tg.tasks {
			if (t == nil || o == t) && o.sigMask&sigBit(sig) != 0 {
				blocked = true
			}
			if o.sigWaiting&sigBit(sig) != 0 {
				waited = true
			}
		}
		if !blocked && !waited {
			return
		}
	}
	k.notifySignalfdsLocked(tg)
	if t != nil {
		t.pending.add(info)
		k.wakeLocked(t)
		return
	}
	tg.pending.add(info)
	// Wake a thread that can take it: one not blocking it, else any that
	// waits for it in sigtimedwait.
	for _, o := range tg.tasks {
		if o.sigMask&sigBit(sig) == 0 || o.sigWaiting&sigBit(sig) != 0 {
			k.wakeLocked(o)
			return
		}
	}
}

// notifySignalfdsLocked tells tg's signalfds' waiters that a signal is
// being queued. Their callbacks may send signals themselves (O_ASYNC),
// which takes k.mu, so they run from a goroutine of their own, after the
// caller has queued the signal and let go of k.mu.
func (k *Kernel) notifySignalfdsLocked(tg *ThreadGroup) {
	if !tg.signalfdQ.Empty() {
		go tg.signalfdQ.Notify(waiter.EventIn | waiter.EventRdNorm)
	}
}

// wakeLocked interrupts t wherever it is: blocked in a syscall, or running
// workload code.
func (k *Kernel) wakeLocked(t *Task) {
	select {
	case t.interrupt <- struct{}{}:
	default:
	}
	if t.Ctx != nil {
		t.Ctx.Interrupt()
	}
}

// interruptedLocked reports whether t has something to do before it may
// block: a deliverable signal, an exit, or a group stop.
func (t *Task) interruptedLocked() bool {
	tg := t.tg
	pending := t.pending.set | tg.pending.set
	return t.exiting || tg.exiting || tg.stopped ||
		pending&^t.sigMask != 0 || pending&t.sigWaiting != 0
}

// SignalMask returns the blocked set.
func (t *Task) SignalMask() uint64 {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.sigMask
}

// SetSignalMask replaces the blocked set (SIGKILL and SIGSTOP stay
// unblocked) and wakes the task if that unblocks a pending signal.
func (t *Task) SetSignalMask(m uint64) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	t.setMaskLocked(m)
}

func (t *Task) setMaskLocked(m uint64) {
	t.sigMask = m &^ unblockable
	if t.interruptedLocked() {
		select {
		case t.interrupt <- struct{}{}:
		default:
		}
	}
}

// Pending returns the signals pending for the task and its process.
func (t *Task) Pending() uint64 {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.pending.set | t.tg.pending.set
}

// SigAction returns and optionally replaces the action of sig.
func (t *Task) SigAction(sig int, act *arch.SignalAction) arch.SignalAction {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	tg := t.tg
	old := tg.handlers.actions[sig-1]
	if act != nil {
		tg.handlers.actions[sig-1] = *act
		// Setting a signal to be ignored discards it where pending.
		if tg.ignoredLocked(sig) {
			tg.pending.discard(sig)
			for _, o := range tg.tasks {
				o.pending.discard(sig)
			}
		}
	}
	return old
}

// AltStack returns the signal stack; SetAltStack changes it.
func (t *Task) AltStack() arch.SignalStack {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.altStack
}

// SetAltStack replaces the signal stack.
func (t *Task) SetAltStack(s arch.SignalStack) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	t.altStack = s
}

// SetSavedMask arranges for mask to be the mask restored after the next
// handler runs (sigsuspend, ppoll, pselect6, epoll_pwait).
func (t *Task) SetSavedMask(mask uint64) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	m := mask
	t.savedMask = &m
}

// restartState remembers an interrupted syscall's restart errno.
type restartState struct {
	active bool
	errno  unix.Errno
	nr     uint64
}

// SetRestart records that the syscall nr just returned a restart errno.
func (t *Task) SetRestart(nr uint64, errno unix.Errno) {
	t.restart = restartState{true, errno, nr}
}

// IsRestartErrno reports whether err asks for a syscall restart.
func IsRestartErrno(e unix.Errno) bool {
	return e == ERestartSys || e == ERestartNoIntr || e == ERestartNoHand || e == ERestartRestartBlock
}

// applyRestart fixes the registers of an interrupted syscall: restart it,
// or make it fail with EINTR when a handler runs that does not want it
// restarted.
func (t *Task) applyRestart(handler bool, act arch.SignalAction) {
	r := t.restart
	if !r.active {
		return
	}
	t.restart.active = false
	again := !handler || r.errno == ERestartNoIntr || (r.errno == ERestartSys && act.Flags&arch.SARestart != 0)
	if again {
		t.Regs.Rax = r.nr
		t.Regs.Rip -= 2 // the syscall instruction is two bytes
		return
	}
	t.Regs.Rax = negErrno(unix.EINTR)
}

// Context is the part of a task's platform context the kernel uses.
type Context interface {
	Interrupter
	FPState() ([]byte, error)
	SetFPState(fp []byte) error
	// Release ends the host thread the task runs on in its current
	// address space; the next switch starts a new one. Only the task's
	// own goroutine calls it.
	Release()
}

// HandlePending is called by the run loop each time before the task goes
// back to workload code. It ends the thread if its process is exiting,
// waits out a group stop, and delivers at most one pending signal (a
// handler frame, or the default action). It returns false when the task
// must not run any more.
func (t *Task) HandlePending(ctx Context) bool {
	k := t.K
	for {
		k.mu.Lock()
		tg := t.tg
		if t.exiting || tg.exiting {
			k.mu.Unlock()
			t.exitThread()
			return false
		}
		if tg.stopped {
			// Stopped: sleep until SIGCONT or a kill; nothing else is
			// delivered meanwhile.
			ch := tg.contCh
			k.mu.Unlock()
			select {
			case <-ch:
			case <-t.interrupt:
			}
			continue
		}
		sig := t.pending.firstUnblocked(t.sigMask)
		var info arch.SignalInfo
		if sig != 0 {
			info, _ = t.pending.take(sig)
		} else if sig = tg.pending.firstUnblocked(t.sigMask); sig != 0 {
			info, _ = tg.pending.take(sig)
		}
		if sig == 0 {
			t.applyRestart(false, arch.SignalAction{})
			// No handler ran: the mask sigsuspend and friends replaced comes
			// back now (restore_saved_sigmask).
			if t.savedMask != nil {
				t.setMaskLocked(*t.savedMask)
				t.savedMask = nil
			}
			k.mu.Unlock()
			return true
		}
		act := tg.handlers.actions[sig-1]
		switch {
		case act.Handler == SigIgn:
			k.mu.Unlock()
			continue
		case act.Handler == SigDfl:
			switch defaultActionOf(sig) {
			case actIgnore, actCont:
				k.mu.Unlock()
				continue
			}
			if tg == k.init && fromInside(&info) {
				// Kept only because it was blocked: the init of a pid
				// namespace does not take a default action for it.
				k.mu.Unlock()
				continue
			}
			switch defaultActionOf(sig) {
			case actStop:
				k.groupStopLocked(tg, sig)
				k.mu.Unlock()
				continue
			default:
				// A fatal signal ends the whole process.
				k.groupExitLocked(tg, ExitStatus{Signal: sig, Core: defaultActionOf(sig) == actCore})
				k.mu.Unlock()
				t.exitThread()
				return false
			}
		}
		// Run the handler.
		t.applyRestart(true, act)
		oldMask := t.sigMask
		if t.savedMask != nil {
			oldMask = *t.savedMask
			t.savedMask = nil
		}
		newMask := t.sigMask | act.Mask
		if act.Flags&arch.SANodefer == 0 {
			newMask |= sigBit(sig)
		}
		if act.Flags&arch.SAResetHand != 0 {
			tg.handlers.actions[sig-1] = arch.SignalAction{}
		}
		alt := t.altStack
		k.mu.Unlock()

		if err := t.pushFrame(ctx, &info, oldMask, act, alt); err != nil {
			// Like Linux's force_sigsegv: a frame that cannot be written
			// kills the process.
			k.Log.Debug("cannot deliver signal: frame", "signal", sig, "err", err)
			k.mu.Lock()
			k.groupExitLocked(tg, ExitStatus{Signal: int(unix.SIGSEGV), Core: true})
			k.mu.Unlock()
			t.exitThread()
			return false
		}
		k.mu.Lock()
		t.setMaskLocked(newMask)
		if alt.Flags&arch.SSAutoDisarm != 0 {
			t.altStack = arch.SignalStack{Flags: arch.SSDisable}
		}
		k.mu.Unlock()
		return true
	}
}

func (t *Task) pushFrame(ctx Context, info *arch.SignalInfo, mask uint64, act arch.SignalAction, alt arch.SignalStack) error {
	fp, err := ctx.FPState()
	if err != nil {
		return err
	}
	frame, addr, regs, err := arch.SetupSignalFrame(&t.Regs, fp, info, mask, act, alt)
	if err != nil {
		return err
	}
	if _, err := t.MM.CopyOut(addr, frame); err != nil {
		return err
	}
	t.Regs = regs
	return nil
}

// SigReturn restores the state a signal frame saved (rt_sigreturn).
func (t *Task) SigReturn(ctx Context) error {
	frame := make([]byte, arch.SignalFrameSize)
	if _, err := t.MM.CopyIn(t.Regs.Rsp-8, frame); err != nil {
		return err
	}
	regs, fpAddr, mask, stack, err := arch.RestoreSignalFrame(&t.Regs, frame)
	if err != nil {
		return err
	}
	fp := arch.InitialFPState()
	if fpAddr != 0 {
		if _, err := t.MM.CopyIn(fpAddr, fp); err != nil {
			return err
		}
		// An xsave area (magic1, a sane size, magic2 after it) is
		// taken whole; anything else as the legacy area alone, as
		// Linux's check_xstate_in_sigframe falls back to fxsave.
		if n := arch.XstateSize(fp); n > 0 {
			full := make([]byte, n+4)
			if _, err := t.MM.CopyIn(fpAddr, full); err != nil {
				return err
			}
			if arch.HasXstateMagic2(full[n:]) {
				fp = full[:n]
			}
		}
		arch.SanitizeFPState(fp, 0xffff)
	}
	if err := ctx.SetFPState(fp); err != nil {
		return err
	}
	t.Regs = regs
	t.K.mu.Lock()
	t.setMaskLocked(mask)
	// sigreturn restores the alternate stack through sigaltstack's rules;
	// one that cannot be restored (in use, invalid) is left alone.
	if !t.altStack.OnStack(regs.Rsp) {
		mode := stack.Flags &^ arch.SSAutoDisarm
		switch {
		case mode == arch.SSDisable:
			t.altStack = arch.SignalStack{Flags: arch.SSDisable}
		case mode == 0 && stack.Size >= 2048:
			t.altStack = stack
		}
	}
	t.K.mu.Unlock()
	return nil
}

// groupStopLocked stops every thread of tg (SIGSTOP and friends).
func (k *Kernel) groupStopLocked(tg *ThreadGroup, sig int) {
	if tg.stopped || tg.exiting {
		return
	}
	tg.stopped = true
	tg.contCh = make(chan struct{})
	tg.stopSignal = sig
	tg.stopReported = false
	k.notifyParentLocked(tg, arch.CLDStopped, int32(sig))
	for _, o := range tg.tasks {
		k.wakeLocked(o)
	}
}

// notifyParentLocked tells tg's parent about a stop or continue: SIGCHLD
// unless the parent asked for none (SA_NOCLDSTOP), and a wake-up for its
// waiters.
func (k *Kernel) notifyParentLocked(tg *ThreadGroup, code int32, status int32) {
	p := tg.parent
	if p == nil {
		return
	}
	p.wakeWaitersLocked()
	act := p.handlers.actions[unix.SIGCHLD-1]
	if act.Flags&arch.SANoCldStop != 0 {
		return
	}
	info := &arch.SignalInfo{Signo: int32(unix.SIGCHLD), Code: code}
	info.SetChild(tg.tgid, tg.leader.creds.UID, status, 0, 0)
	k.sendLocked(p, nil, info)
}

func (tg *ThreadGroup) wakeWaitersLocked() {
	close(tg.waitCh)
	tg.waitCh = make(chan struct{})
}

// SigWaiting marks the signals rt_sigtimedwait is waiting for.
func (t *Task) SigWaiting(set uint64) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	t.sigWaiting = set
}

// TakeSignal removes and returns a pending signal in set, thread-directed
// first, for rt_sigtimedwait.
func (t *Task) TakeSignal(set uint64) (arch.SignalInfo, bool) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	if sig := t.pending.firstUnblocked(^set); sig != 0 {
		return t.pending.take(sig)
	}
	if sig := t.tg.pending.firstUnblocked(^set); sig != 0 {
		return t.tg.pending.take(sig)
	}
	return arch.SignalInfo{}, false
}

// Fault turns a workload fault into the signal Linux would send.
func (t *Task) Fault(signo, code int, addr uint64) {
	info := &arch.SignalInfo{Signo: int32(signo), Code: int32(code)}
	info.SetAddr(addr)
	t.ForceSignal(info)
}

// ForceSignal queues a synchronous signal the thread caused (a fault,
// seccomp's SIGSYS): blocked or ignored, it takes its default action.
func (t *Task) ForceSignal(info *arch.SignalInfo) {
	signo := int(info.Signo)
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	// A synchronous fault that is blocked or ignored cannot be handled:
	// Linux forces the default action.
	act := &t.tg.handlers.actions[signo-1]
	if t.sigMask&sigBit(signo) != 0 || act.Handler == SigIgn {
		t.sigMask &^= sigBit(signo)
		*act = arch.SignalAction{}
	}
	t.pending.add(info)
}

// fromInside reports whether a signal was sent by a process of the
// container (kill, tgkill, sigqueue, timers: a user si_code), not by a
// fault (a kernel si_code, forced) nor from outside the container's pid
// namespace (SI_USER from pid 0).
func fromInside(info *arch.SignalInfo) bool {
	return info.Code <= 0 && !(info.Code == arch.SIUser && info.PID() == 0)
}

// negErrno is the rax value of a syscall failing with e.
func negErrno(e unix.Errno) uint64 { return uint64(-int64(e)) }
