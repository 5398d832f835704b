package kernel

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/fs/proc"
	"exokernelul.dev/exo/libos/vfs"
)

// Container is a container of a pod that joined the sandbox after its
// first one (the pod's own init): its processes share the kernel with the
// rest of the pod (one pid space, IPC, hostname, network), but resolve
// paths in a mount tree of their own, as a container that joins a pod's
// namespaces keeps its own mount namespace. Its processes are marked with
// it from its init down (clone inherits it), which is how kill --all, its
// /proc view and its end are scoped to it.
type Container struct {
	ID     string
	Mounts *vfs.MountTable
	// SharePIDs says the container shares the pod's pid namespace (the
	// CRI gives it the pause process's, as for shareProcessNamespace):
	// it sees every process of the sandbox, the pod's init as pid 1.
	// Without it the container has a pid namespace of its own as far
	// as the library OS's one pid space allows: its /proc lists, and
	// kill reaches, only its own processes, and its init reaps its
	// orphans. Set before its init is made.
	SharePIDs bool

	// Guarded by the kernel's mu.
	init *ThreadGroup
	// live counts the container's processes that are not yet zombies.
	live int
	done bool
	// onDone is told how init ended, once init and every other process
	// of the container are gone.
	onDone func(ExitStatus)
}

// NewContainer makes a container whose processes resolve paths in mounts;
// onDone is told how its init ended once the container has no process
// left.
func (k *Kernel) NewContainer(id string, mounts *vfs.MountTable, onDone func(ExitStatus)) *Container {
	if mounts != nil {
		mounts.SetFIFOOpener(k.openFIFO)
		mounts.SetReopener(k.reopen)
	}
	return &Container{ID: id, Mounts: mounts, onDone: onDone}
}

// SpawnContainerInit creates c's init, loaded but not run: the caller
// runs it (Config.StartTask's job) when the container starts. Like a
// spawned process its parent is the runtime, outside the sandbox. Its end
// is reported through c's onDone, not spec.Exited.
func (k *Kernel) SpawnContainerInit(c *Container, spec SpawnSpec) (*Task, error) {
	spec.Container = c
	spec.Exited = nil
	spec.containerInit = true
	return k.Spawn(spec)
}

// Mounts is the mount tree the task resolves paths in: its container's,
// or the sandbox's.
func (t *Task) Mounts() *vfs.MountTable {
	if c := t.tg.ctr; c != nil {
		return c.Mounts
	}
	return t.K.Mounts
}

// containerExitedLocked is the accounting of process tg of a container
// becoming a zombie: when it is the container's init, the rest of the
// container goes with it (as a pid namespace's init takes its namespace);
// when it is the last, the container is done.
func (k *Kernel) containerExitedLocked(tg *ThreadGroup) {
	c := tg.ctr
	if c == nil {
		return
	}
	c.live--
	if tg == c.init {
		for _, o := range k.tasks {
			if o.tg.ctr == c && o.tg != tg && !o.tg.zombie {
				k.groupExitLocked(o.tg, ExitStatus{Signal: int(unix.SIGKILL)})
			}
		}
	}
	if c.live <= 0 && c.init != nil && c.init.zombie && !c.done {
		c.done = true
		if c.onDone != nil {
			go c.onDone(c.init.exitStatus)
		}
	}
}

// reaperLocked is where the orphans of tg go: a container's init while it
// lives (it reaps its container's orphans, as a pid namespace's init
// does), else the sandbox's init.
func (k *Kernel) reaperLocked(tg *ThreadGroup) *ThreadGroup {
	if c := tg.ctr; c != nil && !c.SharePIDs && c.init != nil && c.init != tg && !c.init.zombie && !c.init.exiting {
		return c.init
	}
	return k.init
}

// SignalContainer sends sig to c's init, or with all to every process of
// c, as the runtime's kill does (SignalFromHost for one container).
func (k *Kernel) SignalContainer(c *Container, sig int, all bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c.init == nil {
		return
	}
	for _, t := range k.tasks {
		tg := t.tg
		if tg.leader != t || tg.ctr != c || tg.zombie || (!all && tg != c.init) {
			continue
		}
		// Only the init of a pid namespace drops signals it has no
		// handler for; a container sharing the pod's pid namespace has
		// the pod's pause as its init, so its own first process takes the
		// default action (as under runc, where CRI's pid mode POD does so).
		if tg == c.init && !c.SharePIDs && sig != int(unix.SIGKILL) && sig != int(unix.SIGSTOP) {
			if h := tg.handlers.actions[sig-1].Handler; h == SigDfl || h == SigIgn {
				continue
			}
		}
		k.deliverLocked(tg, nil, &arch.SignalInfo{Signo: int32(sig), Code: arch.SIUser})
	}
}

// InitExited is closed once the sandbox's init has begun to exit (its
// end takes every process, those of every container, with it).
func (k *Kernel) InitExited() <-chan struct{} { return k.initExited }

// ContainerProcSource is /proc as c's processes see it: with a pid
// namespace of its own (not SharePIDs), only c's processes are listed and
// reachable (their ids stay the sandbox's: the library OS has one pid
// space).
func (k *Kernel) ContainerProcSource(c *Container) proc.Source { return procSource{k: k, ctr: c} }

// visibleLocked reports whether the /proc of s shows process tg.
func (s procSource) visibleLocked(tg *ThreadGroup) bool {
	return s.ctr == nil || s.ctr.SharePIDs || tg.ctr == s.ctr
}

// seesLocked reports whether process tg is in t's pid namespace: every
// process is, but for a task of a container with a pid namespace of its
// own (see Container.SharePIDs), which sees its container's only.
func (t *Task) seesLocked(tg *ThreadGroup) bool {
	c := t.tg.ctr
	return c == nil || c.SharePIDs || tg.ctr == c
}

// isNSInitLocked reports whether tg is the init of t's own pid namespace
// (kill(-1) spares it): a container's init for a task of a container with
// its own.
func (t *Task) isNSInitLocked(tg *ThreadGroup) bool {
	c := t.tg.ctr
	return c != nil && !c.SharePIDs && tg == c.init
}
