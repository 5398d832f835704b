package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// ExitGroup ends the whole process with status (exit_group, or a fatal
// signal). The calling task exits when it next returns to the run loop.
func (t *Task) ExitGroup(s ExitStatus) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	t.K.groupExitLocked(t.tg, s)
}

// ExitThread ends only the calling thread (exit). The last thread to exit
// gives the process its status.
func (t *Task) ExitThread(code int) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	t.exiting = true
	if len(t.tg.tasks) == 1 && !t.tg.exiting {
		t.tg.exitStatus = ExitStatus{Code: code}
	}
}

// Exiting reports whether the task is on its way out.
func (t *Task) Exiting() bool {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.exiting || t.tg.exiting
}

func (k *Kernel) groupExitLocked(tg *ThreadGroup, s ExitStatus) {
	if tg.exiting {
		return
	}
	tg.exiting = true
	tg.exitStatus = s
	if tg.stopped {
		tg.stopped = false
		close(tg.contCh)
	}
	for _, o := range tg.tasks {
		o.exiting = true
		k.wakeLocked(o)
	}
}

// exitThread releases the thread's resources and removes it from its
// process; the last thread makes the process a zombie (or reaps it).
// The task's goroutine calls it once, then stops running the task.
func (t *Task) exitThread() {
	k := t.K
	if t.ClearTID != 0 {
		// CLONE_CHILD_CLEARTID: zero the tid word and wake a joiner.
		var zero [4]byte
		if _, err := t.MM.CopyOut(t.ClearTID, zero[:]); err == nil {
			k.futexWake(t, t.ClearTID, false, 1, ^uint32(0))
		}
	}
	t.exitRobustList()
	t.FDs.DecUsers()
	// The host thread goes before the address space, which waits for
	// every thread in it to be gone.
	if t.Ctx != nil {
		t.Ctx.Release()
	}
	t.releaseMM()
	if t.vforkDone != nil {
		close(t.vforkDone)
		t.vforkDone = nil
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	t.exited = true
	tg := t.tg
	for i, o := range tg.tasks {
		if o == t {
			tg.tasks = append(tg.tasks[:i], tg.tasks[i+1:]...)
			break
		}
	}
	if t != tg.leader {
		delete(k.tasks, t.TID)
	}
	// A pidfd of the thread, or of the process once it is a zombie, is
	// readable now.
	tg.notifyPidFDsLocked()
	if len(tg.tasks) > 0 {
		return
	}
	tg.zombie = true
	tg.timers.stopAll()
	if k.sem != nil {
		// SEM_UNDO: the process's adjustments are applied as it goes.
		k.sem.exit(tg)
	}
	// Orphans go to init (or are reaped there if already dead): their
	// container's, or the sandbox's.
	if tg != k.init {
		reaper := k.reaperLocked(tg)
		for c := range tg.children {
			c.parent = reaper
			// The new parent hears of the exit by SIGCHLD whatever
			// the child's clone asked (reparent_leader).
			c.termSig = int(unix.SIGCHLD)
			reaper.children[c] = struct{}{}
			if c.zombie {
				reaper.wakeWaitersLocked()
			}
		}
		tg.children = nil
	}
	k.containerExitedLocked(tg)
	k.sessionLeaderExitLocked(tg)
	if tg.pgrp != nil {
		tg.pgrp.members--
	}
	if tg == k.init {
		// The container's init is gone: like a pid namespace's init, it
		// takes every other process with it.
		close(k.initExited)
		for _, o := range k.tasks {
			if o.tg != tg {
				k.groupExitLocked(o.tg, ExitStatus{Signal: int(unix.SIGKILL)})
			}
		}
		return
	}
	if tg.onExit != nil {
		go tg.onExit(tg.exitStatus)
	}
	p := tg.parent
	act := p.handlers.actions[unix.SIGCHLD-1]
	// A parent that ignores SIGCHLD or set SA_NOCLDWAIT gets no zombie;
	// with SA_NOCLDWAIT alone it still gets the signal.
	autoreap := tg.termSig == int(unix.SIGCHLD) && (act.Handler == SigIgn || act.Flags&arch.SANoCldWait != 0)
	if tg.termSig != 0 && !(autoreap && act.Handler == SigIgn) {
		info := &arch.SignalInfo{Signo: int32(tg.termSig)}
		s := tg.exitStatus
		switch {
		case s.Signal != 0 && s.Core:
			info.Code = arch.CLDDumped
			info.SetChild(tg.tgid, tg.leader.creds.UID, int32(s.Signal), 0, 0)
		case s.Signal != 0:
			info.Code = arch.CLDKilled
			info.SetChild(tg.tgid, tg.leader.creds.UID, int32(s.Signal), 0, 0)
		default:
			info.Code = arch.CLDExited
			info.SetChild(tg.tgid, tg.leader.creds.UID, int32(s.Code), 0, 0)
		}
		k.sendLocked(p, nil, info)
	}
	if autoreap {
		k.reapLocked(tg)
	}
	p.wakeWaitersLocked()
}

// TaskDone is called by the run loop after the task's goroutine has
// finished with it; the kernel is done when init is gone and no task runs.
func (k *Kernel) TaskDone() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.running--
	if k.running == 0 {
		close(k.done)
	}
}

// reapLocked removes a zombie process for good.
func (k *Kernel) reapLocked(tg *ThreadGroup) {
	if p := tg.parent; p != nil {
		delete(p.children, tg)
		u := tg.usageLocked()
		p.childUsage.User += u.User + tg.childUsage.User
		p.childUsage.Sys += u.Sys + tg.childUsage.Sys
	}
	delete(k.tasks, tg.tgid)
	tg.reaped = true
	tg.notifyPidFDsLocked()
}

func (t *Task) releaseMM() {
	if t.MM == nil {
		return
	}
	t.K.mu.Lock()
	last := t.K.dropAddressSpaceLocked(t.MM)
	t.K.mu.Unlock()
	if last {
		t.MM.Release()
		t.AS.Release()
		// The host's account of the address space's CPU time is the
		// process's; an exec or the last exit banks it.
		t.K.mu.Lock()
		t.tg.deadUsage.User += t.AS.CPUTime()
		t.K.mu.Unlock()
	}
	t.MM, t.AS = nil, nil
}

// exitRobustList marks futexes the dying thread held as owner-dead and
// wakes one waiter on each (the robust futex protocol).
func (t *Task) exitRobustList() {
	if t.RobustList == 0 {
		return
	}
	const ownerDied = 0x40000000
	const waiters = 0x80000000
	var head [24]byte
	if _, err := t.MM.CopyIn(t.RobustList, head[:]); err != nil {
		return
	}
	next := binary.LittleEndian.Uint64(head[0:])
	offset := int64(binary.LittleEndian.Uint64(head[8:]))
	pendingOp := binary.LittleEndian.Uint64(head[16:])
	handle := func(entry uint64) {
		uaddr := uint64(int64(entry) + offset)
		var w [4]byte
		if _, err := t.MM.CopyIn(uaddr, w[:]); err != nil {
			return
		}
		v := binary.LittleEndian.Uint32(w[:])
		if int32(v&0x3fffffff) != t.TID {
			return
		}
		binary.LittleEndian.PutUint32(w[:], v&waiters|ownerDied)
		t.MM.CopyOut(uaddr, w[:])
		if v&waiters != 0 {
			t.K.futexWake(t, uaddr, false, 1, ^uint32(0))
		}
	}
	for i := 0; next != t.RobustList && next != 0 && i < 2048; i++ {
		entry := next
		var b [8]byte
		if _, err := t.MM.CopyIn(entry, b[:]); err != nil {
			break
		}
		next = binary.LittleEndian.Uint64(b[:])
		if entry != pendingOp {
			handle(entry &^ 1)
		}
	}
	if pendingOp != 0 {
		handle(pendingOp &^ 1)
	}
}
