package kernel

import (
	"exokernelul.dev/exo/libos/waiter"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/fs/devpts"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

// Interrupter is the part of a task's platform context the kernel uses: a
// way to make a thread running workload code come back to the sentry.
type Interrupter interface {
	Interrupt()
}

// Task is one workload thread. Fields without a note are touched only by
// the task's own goroutine.
type Task struct {
	K   *Kernel
	TID int32
	tg  *ThreadGroup // fixed for the task's life, except across exec by a non-leader

	MM  *mm.MemoryManager
	AS  HostAddressSpace
	FDs *vfs.FDTable
	FS  *FSContext

	Regs       arch.Registers
	ClearTID   uint64
	RobustList uint64
	Exe        string
	// ExeDentry is the file the process image was loaded from.
	ExeDentry *vfs.Dentry
	Argv      []string
	// Envv is the environment the image was started with (/proc/PID/environ).
	Envv      []string
	Comm      string
	Dumpable  bool
	PdeathSig int
	Start     time.Time

	// Ctx is set by the sentry before the task runs.
	Ctx Context
	// InitialFP is the floating point state a cloned task starts with.
	InitialFP []byte
	// vforkDone is closed when a vfork child execs or exits.
	vforkDone chan struct{}

	// Guarded by K.mu.
	creds      Creds
	sigMask    uint64
	pending    sigQueue
	altStack   arch.SignalStack
	savedMask  *uint64 // mask to restore after sigsuspend's handler runs
	exiting    bool    // the thread is on its way out
	exited     bool    // the thread has finished exiting
	sigWaiting uint64  // signals rt_sigtimedwait is waiting for
	affinity   uint64  // sched_setaffinity's CPU mask
	// personality is the execution domain and flags personality(2) set;
	// clone copies it.
	personality uint32
	memPolicy   MemPolicy
	sched       schedState // nice, policy, I/O priority (sched.go)
	pidIno      uint64     // the pidfs inode number of the task's pid (pidfd.go), 0 until a pidfd asks

	// seccomp is the thread's seccomp mode and filters (seccomp.go);
	// atomic, not under K.mu, for the check on every syscall.
	seccomp seccompState

	// CPU time in nanoseconds, charged by the run loop; runStart is when
	// the current run in the workload began (zero outside one). clockMu
	// makes the pair one reading for ThreadUsage.
	utime, stime atomic.Int64
	clockMu      sync.Mutex
	runStart     time.Time
	blocked      atomic.Int64 // nanoseconds asleep in Block

	// interrupt wakes the task from Block; buffered so a wake-up is never
	// lost.
	interrupt chan struct{}
	// restart is the syscall to restart if a signal interrupts it.
	restart restartState
}

// ThreadGroup is a process.
type ThreadGroup struct {
	k      *Kernel
	tgid   int32
	leader *Task
	// signalfdQ wakes signalfds' waiters when a signal is queued for the
	// group or one of its threads (its own lock; notified outside k.mu).
	signalfdQ waiter.Queue
	// pidfdQ wakes pidfds' pollers when a thread exits and when the
	// process is reaped (its own lock; notified outside k.mu).
	pidfdQ waiter.Queue

	// Guarded by k.mu.
	tasks    []*Task // live threads
	parent   *ThreadGroup
	children map[*ThreadGroup]struct{}
	pgrp     *ProcessGroup
	tty      *devpts.Terminal // the controlling terminal, nil if none (tty.go)
	handlers *SignalHandlers
	pending  sigQueue
	rlimits  [NumRlimits]Rlimit
	oomAdj   int32 // /proc/PID/oom_score_adj, inherited by children
	termSig  int   // signal sent to the parent at exit (SIGCHLD, or clone's choice)

	exiting    bool // a group exit (exit_group or fatal signal) is under way
	execed     bool // the process has called execve (setpgid's EACCES)
	zombie     bool // every thread has exited; waiting to be reaped
	reaped     bool // the zombie is gone: its pid is free (pidfds see it)
	exitStatus ExitStatus
	// stop state for job control
	stopped      bool
	contCh       chan struct{} // closed when a stop ends
	stopSignal   int
	stopReported bool // the parent has seen the stop via wait
	contReported bool // false after SIGCONT until the parent sees it
	continued    bool
	// waitCh is closed (and replaced) whenever a child's state changes.
	waitCh chan struct{}
	// CPU time of exited threads, and of reaped children (RUSAGE_CHILDREN).
	deadUsage  Usage
	childUsage Usage

	timers timerSet

	// onExit, for a process the runtime spawned (Spawn), is told how it
	// ended, in place of a parent inside the sandbox.
	onExit func(ExitStatus)
	// ctr is the pod container the process belongs to (nil: the
	// sandbox's own); clone passes it on. Guarded by K.mu.
	ctr *Container
}

// ProcessGroup is a job.
type ProcessGroup struct {
	id      int32
	session *Session
	members int
}

// Session is a login session; the container's init leads the first.
type Session struct {
	sid        int32
	foreground *ProcessGroup
	tty        *devpts.Terminal // the controlling terminal, nil if none
}

// FSContext is the root directory, working directory and umask, shared
// by CLONE_FS.
type FSContext struct {
	mu    sync.Mutex
	root  *vfs.Dentry
	cwd   *vfs.Dentry
	umask uint32
}

// NewFSContext starts at root, in cwd, with umask.
func NewFSContext(root, cwd *vfs.Dentry, umask uint32) *FSContext {
	return &FSContext{root: root, cwd: cwd, umask: umask & 0o777}
}

// Cwd returns the working directory.
func (f *FSContext) Cwd() *vfs.Dentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cwd
}

// Root returns the root directory (chroot's).
func (f *FSContext) Root() *vfs.Dentry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.root
}

// CwdPath is the working directory's path as getcwd shows it; ok is false
// when it is not below the root (left outside a chroot).
func (f *FSContext) CwdPath() (p string, ok bool) {
	f.mu.Lock()
	cwd, root := f.cwd, f.root
	f.mu.Unlock()
	return cwd.PathFrom(root)
}

// SetCwd changes the working directory.
func (f *FSContext) SetCwd(d *vfs.Dentry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cwd = d
}

// SetRoot changes the root directory (chroot). The working directory
// stays where it is, even outside the new root, as on Linux.
func (f *FSContext) SetRoot(d *vfs.Dentry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.root = d
}

// Umask returns the file creation mask.
func (f *FSContext) Umask() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.umask
}

// SwapUmask sets the mask and returns the old one.
func (f *FSContext) SwapUmask(m uint32) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.umask
	f.umask = m & 0o777
	return old
}

func (f *FSContext) clone() *FSContext {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &FSContext{root: f.root, cwd: f.cwd, umask: f.umask}
}

// Personality returns the task's personality and, unless p is
// 0xffffffff (a query), replaces it with p, as Linux's ksys_personality.
// Of the flags only PER_LINUX32 changes anything (uname's machine):
// ADDR_NO_RANDOMIZE already holds, as the library OS lays out every
// process the same way.
func (t *Task) Personality(p uint32) uint32 {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	old := t.personality
	if p != 0xffffffff {
		t.personality = p
	}
	return old
}

// UnshareFS gives the task a root, cwd and umask of its own, as
// unshare(CLONE_FS): later chdir, chroot and umask in other threads no
// longer reach it, nor its in them.
func (t *Task) UnshareFS() {
	fs := t.FS.clone()
	t.K.mu.Lock()
	t.FS = fs
	t.K.mu.Unlock()
}

// SignalHandlers are the actions of every signal, shared by CLONE_SIGHAND.
type SignalHandlers struct {
	actions [NumSignals]arch.SignalAction
}

// TGID is the task's process id.
func (t *Task) TGID() int32 { return t.tg.tgid }

// Group returns the task's process.
func (t *Task) Group() *ThreadGroup { return t.tg }

// PPID is the parent process's pid, 0 for init.
func (t *Task) PPID() int32 {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	if t.tg.parent == nil {
		return 0
	}
	return t.tg.parent.tgid
}

// Creds returns a copy of the task's credentials.
func (t *Task) Creds() Creds {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	c := t.creds
	c.Groups = append([]uint32(nil), c.Groups...)
	return c
}

// SetCreds replaces the credentials of every thread of the process, as
// glibc and musl make the set*id calls process-wide.
func (t *Task) SetCreds(c Creds) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	for _, o := range t.tg.tasks {
		o.creds = c
	}
}

// Rlimit returns one resource limit of the process.
func (t *Task) Rlimit(r int) Rlimit {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.tg.rlimits[r]
}

// Prlimit reads (old) and, when nl is not nil, replaces resource limit r
// of the process thread tid belongs to (0: the caller's), as prlimit64.
// As Linux's check_prlimit_permission, a caller other than the target
// itself needs real ids equal to all of the target's user and group ids,
// or CAP_SYS_RESOURCE (EPERM); raising a hard limit needs
// CAP_SYS_RESOURCE too (do_prlimit). A tid the caller cannot see, or a
// reaped one, is ESRCH.
func (t *Task) Prlimit(tid int32, r int, nl *Rlimit) (old Rlimit, err error) {
	if r < 0 || r >= NumRlimits {
		return Rlimit{}, unix.EINVAL
	}
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	o := t
	if tid != 0 {
		// A zombie's leader stays in tasks until it is reaped and, as on
		// Linux, keeps its limits until then.
		if o = t.K.tasks[tid]; o == nil || !t.seesLocked(o.tg) {
			return Rlimit{}, unix.ESRCH
		}
	}
	c := &t.creds
	if o != t {
		tc := &o.creds
		match := c.UID == tc.EUID && c.UID == tc.SUID && c.UID == tc.UID &&
			c.GID == tc.EGID && c.GID == tc.SGID && c.GID == tc.GID
		if !match && !c.HasCap(CapSysResource) {
			return Rlimit{}, unix.EPERM
		}
	}
	old = o.tg.rlimits[r]
	if nl != nil {
		if nl.Max > old.Max && !c.HasCap(CapSysResource) {
			return Rlimit{}, unix.EPERM
		}
		o.tg.rlimits[r] = *nl
	}
	return old, nil
}

// NoFileLimit is RLIMIT_NOFILE's soft limit, the bound on fd numbers.
func (t *Task) NoFileLimit() int {
	l := t.Rlimit(7) // RLIMIT_NOFILE
	if l.Cur > 1<<20 {
		return 1 << 20
	}
	return int(l.Cur)
}

// ThreadCount is the number of live threads in the task's process.
func (t *Task) ThreadCount() int {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return len(t.tg.tasks)
}

// TaskCount is the number of tasks in the sandbox, zombies included.
func (k *Kernel) TaskCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.tasks)
}

// TaskExists reports whether tid names a live task.
func (k *Kernel) TaskExists(tid int32) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := k.tasks[tid]
	return t != nil && !t.exited
}

// SignalInit sends sig to the container's init process, as `runsc-exo
// do` forwards the signals it receives: with the signal's default action
// if init has no handler, so ^C ends a command run with do as it would
// end it unsandboxed.
func (k *Kernel) SignalInit(sig int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.init == nil {
		return
	}
	info := &arch.SignalInfo{Signo: int32(sig), Code: arch.SIUser}
	k.deliverLocked(k.init, nil, info)
}

// SignalFromHost sends sig to the container's init, or with all to every
// process, as a process in an ancestor pid namespace would (the runtime's
// kill): init gets only the signals it has a handler for, and SIGKILL and
// SIGSTOP.
func (k *Kernel) SignalFromHost(sig int, all bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, t := range k.tasks {
		tg := t.tg
		if tg.leader != t || (!all && tg != k.init) {
			continue
		}
		if tg == k.init && sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP) {
			if h := tg.handlers.actions[sig-1].Handler; h == SigDfl || h == SigIgn {
				continue
			}
		}
		k.deliverLocked(tg, nil, &arch.SignalInfo{Signo: int32(sig), Code: arch.SIUser})
	}
}

// SignalProcessFromHost sends sig to the process whose pid is pid, as
// the host's kill of a process the runtime started there (an exec) would
// reach it; ESRCH if no such process is alive.
func (k *Kernel) SignalProcessFromHost(pid int32, sig int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	t := k.tasks[pid]
	if t == nil || t.exited || t.tg.leader != t {
		return unix.ESRCH
	}
	k.deliverLocked(t.tg, nil, &arch.SignalInfo{Signo: int32(sig), Code: arch.SIUser})
	return nil
}

// SetContext attaches the task's platform context before it first runs.
func (t *Task) SetContext(ctx Context) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	t.Ctx = ctx
}

// Affinity returns the CPU mask of task tid (0: the caller); the mask is
// the library OS's record, applied to nothing on the host.
func (t *Task) Affinity(tid int32) (uint64, error) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	o := t
	if tid != 0 {
		if o = t.K.tasks[tid]; o == nil || o.exited {
			return 0, unix.ESRCH
		}
	}
	return o.affinity, nil
}

// MemPolicy is a task's NUMA memory policy (set_mempolicy): the mode with
// its flags, and the node mask it was given. The library OS has one node,
// so a policy changes nothing but what get_mempolicy reports.
type MemPolicy struct {
	Mode  int32
	Nodes []uint64
}

// MemPolicy returns the caller's memory policy.
func (t *Task) MemPolicy() MemPolicy {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	return t.memPolicy
}

// SetMemPolicy sets the caller's memory policy; clone copies it.
func (t *Task) SetMemPolicy(p MemPolicy) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	t.memPolicy = p
}

// SetAffinity records the CPU mask of task tid (0: the caller).
func (t *Task) SetAffinity(tid int32, mask uint64) error {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	o := t
	if tid != 0 {
		if o = t.K.tasks[tid]; o == nil || o.exited {
			return unix.ESRCH
		}
	}
	o.affinity = mask
	return nil
}
