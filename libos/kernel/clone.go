package kernel

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
)

// CloneArgs are clone(2)/clone3(2)'s arguments, decoded.
type CloneArgs struct {
	Flags      uint64
	Stack      uint64 // new stack pointer, 0 to keep the parent's
	ParentTID  uint64
	ChildTID   uint64
	TLS        uint64
	ExitSignal int
}

// Flags the library OS does not implement; namespaces cannot be created
// inside the container, as for an unprivileged process.
const cloneNamespaces = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME

// Clone creates a task from t (fork, vfork, pthread_create) and starts it.
// fp is the parent's floating point state for the child to start with.
// It returns the child's tid.
func (t *Task) Clone(a CloneArgs, fp []byte) (int32, error) {
	k := t.K
	f := a.Flags
	switch {
	case f&unix.CLONE_THREAD != 0 && f&unix.CLONE_SIGHAND == 0,
		f&unix.CLONE_SIGHAND != 0 && f&unix.CLONE_VM == 0,
		f&unix.CLONE_FS != 0 && f&unix.CLONE_NEWNS != 0:
		return 0, unix.EINVAL
	case f&cloneNamespaces != 0:
		return 0, unix.EPERM
	}
	if a.ExitSignal < 0 || a.ExitSignal >= NumSignals {
		return 0, unix.EINVAL
	}

	k.mu.Lock()
	// Clones in flight hold their pid slot already, so concurrent forks
	// cannot overshoot the limit between this check and the new task's
	// registration.
	if k.pidsLimit > 0 && k.liveTasksLocked()+k.cloning >= k.pidsLimit {
		k.mu.Unlock()
		return 0, unix.EAGAIN
	}
	if t.tg.exiting {
		k.mu.Unlock()
		return 0, ERestartNoIntr
	}
	k.cloning++
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.cloning--
		k.mu.Unlock()
	}()

	child := &Task{
		K:         k,
		Regs:      t.Regs,
		Exe:       t.Exe,
		ExeDentry: t.ExeDentry,
		Argv:      t.Argv,
		Envv:      t.Envv,
		Comm:      t.Comm,
		Dumpable:  t.Dumpable,
		Start:     time.Now(),
		interrupt: make(chan struct{}, 1),
		InitialFP: fp,
	}
	child.Regs.Rax = 0
	if a.Stack != 0 {
		child.Regs.Rsp = a.Stack
	}
	if f&unix.CLONE_SETTLS != 0 {
		child.Regs.Fs_base = a.TLS
	}

	// Memory.
	if f&unix.CLONE_VM != 0 {
		child.MM, child.AS = t.MM, t.AS
		k.mu.Lock()
		k.asUsers[t.MM]++
		k.mu.Unlock()
	} else {
		as, err := k.newAddressSpace(t.Comm)
		if err != nil {
			return 0, fmt.Errorf("clone: new address space: %w", err)
		}
		m, err := t.MM.Fork(as)
		if err != nil {
			as.Release()
			if err == unix.ENOMEM {
				return 0, unix.ENOMEM
			}
			return 0, fmt.Errorf("clone: fork memory: %w", err)
		}
		child.MM, child.AS = m, as
		k.mu.Lock()
		k.asUsers[m] = 1
		k.mu.Unlock()
	}
	if f&unix.CLONE_FILES != 0 {
		child.FDs = t.FDs
		t.FDs.IncUsers()
	} else {
		child.FDs = t.FDs.Fork()
	}
	if f&unix.CLONE_FS != 0 {
		child.FS = t.FS
	} else {
		child.FS = t.FS.clone()
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	tid := k.allocPIDLocked()
	if tid < 0 {
		k.undoCloneLocked(child)
		return 0, unix.EAGAIN
	}
	child.TID = tid
	child.creds = t.creds
	child.sigMask = t.sigMask
	child.affinity = t.affinity
	child.nice, child.policy = t.nice, t.policy
	if t.resetOnFork {
		// SCHED_RESET_ON_FORK: a real-time policy (never recorded here)
		// would become SCHED_NORMAL; a negative nice value becomes 0;
		// the flag itself is not inherited.
		child.nice = max(child.nice, 0)
	}
	child.memPolicy = t.memPolicy
	if f&unix.CLONE_VM == 0 || f&unix.CLONE_VFORK != 0 {
		child.altStack = t.altStack
	} else {
		child.altStack = arch.SignalStack{Flags: arch.SSDisable}
	}
	if f&unix.CLONE_THREAD != 0 {
		child.tg = t.tg
		t.tg.tasks = append(t.tg.tasks, child)
	} else {
		parent := t.tg
		if f&unix.CLONE_PARENT != 0 && t.tg.parent != nil {
			parent = t.tg.parent
		}
		handlers := t.tg.handlers
		if f&unix.CLONE_SIGHAND == 0 {
			h := *handlers
			handlers = &h
		}
		tg := &ThreadGroup{
			k:        k,
			tgid:     tid,
			leader:   child,
			tasks:    []*Task{child},
			parent:   parent,
			children: make(map[*ThreadGroup]struct{}),
			pgrp:     t.tg.pgrp,
			tty:      t.tg.tty,
			handlers: handlers,
			rlimits:  t.tg.rlimits,
			oomAdj:   t.tg.oomAdj,
			waitCh:   make(chan struct{}),
			termSig:  a.ExitSignal,
			ctr:      t.tg.ctr,
		}
		if tg.ctr != nil {
			tg.ctr.live++
		}
		tg.pgrp.members++
		parent.children[tg] = struct{}{}
		child.tg = tg
	}
	k.tasks[tid] = child
	k.running++

	// Tid words. Failures to write them are ignored, as Linux does.
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(tid))
	if f&unix.CLONE_PARENT_SETTID != 0 {
		t.MM.CopyOut(a.ParentTID, b[:])
	}
	if f&unix.CLONE_CHILD_SETTID != 0 {
		child.MM.CopyOut(a.ChildTID, b[:])
	}
	if f&unix.CLONE_CHILD_CLEARTID != 0 {
		child.ClearTID = a.ChildTID
	}
	if f&unix.CLONE_VFORK != 0 {
		child.vforkDone = make(chan struct{})
	}
	return tid, nil
}

// StartChild hands a task made by Clone to the sentry to run, and for
// vfork waits until the child execs or exits.
func (t *Task) StartChild(tid int32) {
	k := t.K
	k.mu.Lock()
	child := k.tasks[tid]
	k.mu.Unlock()
	if child == nil {
		return
	}
	done := child.vforkDone
	k.startTask(child)
	if done == nil {
		return
	}
	// The parent of a vfork sleeps until its child lets go of the memory;
	// only a fatal signal ends the wait early.
	for {
		if err := t.Block(done, noDeadline); err == nil || t.Exiting() {
			return
		}
		select {
		case <-done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (k *Kernel) undoCloneLocked(child *Task) {
	child.FDs.DecUsers()
	k.asUsers[child.MM]--
	if k.asUsers[child.MM] == 0 {
		delete(k.asUsers, child.MM)
		child.MM.Release()
		child.AS.Release()
	}
}

// allocPIDLocked returns an unused pid, or -1 if the space is exhausted.
func (k *Kernel) allocPIDLocked() int32 {
	const maxPID = 1 << 22
	for i := 0; i < maxPID; i++ {
		k.nextPID++
		if k.nextPID >= maxPID {
			k.nextPID = 2
		}
		if _, used := k.tasks[k.nextPID]; !used && !k.pgrpInUseLocked(k.nextPID) {
			return k.nextPID
		}
	}
	return -1
}

func (k *Kernel) pgrpInUseLocked(id int32) bool {
	for _, t := range k.tasks {
		if t.tg.pgrp != nil && (t.tg.pgrp.id == id || t.tg.pgrp.session.sid == id) && !t.tg.zombie {
			return true
		}
	}
	return false
}

// liveTasksLocked counts tasks as the pids cgroup does: a zombie holds its
// pid until it is reaped.
func (k *Kernel) liveTasksLocked() int { return len(k.tasks) }

// dropAddressSpaceLocked drops one user of m and reports whether it was
// the last.
func (k *Kernel) dropAddressSpaceLocked(m *mm.MemoryManager) bool {
	k.asUsers[m]--
	if k.asUsers[m] > 0 {
		return false
	}
	delete(k.asUsers, m)
	return true
}

// SetPidsLimit changes the task limit live (0: none). As with the pids
// cgroup's pids.max, a limit below the tasks already running is taken:
// they go on, and new clones fail with EAGAIN until enough have ended.
func (k *Kernel) SetPidsLimit(n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pidsLimit = max(n, 0)
}

// Pids reports the live tasks (zombies included, as the pids cgroup
// counts them) and the limit (0: none).
func (k *Kernel) Pids() (current, limit int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.liveTasksLocked(), k.pidsLimit
}
