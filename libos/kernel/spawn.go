package kernel

import (
	"errors"
	"fmt"
	"path"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/devpts"
	"exokernelul.dev/exo/libos/vfs"
)

// SpawnSpec is a process the runtime starts in a running sandbox (an OCI
// exec).
type SpawnSpec struct {
	Argv    []string
	Env     []string
	Cwd     string
	Creds   Creds
	Rlimits map[int]Rlimit
	// Stdio are the process's fds 0-2 (nil: closed); the process owns
	// them.
	Stdio [3]vfs.File
	// Exited is told, once, how the process ended.
	Exited func(ExitStatus)
	// TTY, if set, is the process's terminal (exec --tty): its slave is
	// fds 0-2 (Stdio must be empty) and its controlling terminal.
	TTY *devpts.Terminal
	// Container, if set, is the pod container the process joins: its
	// mount tree, its processes (see Container).
	Container *Container
	// Seccomp, if set, is the process's seccomp filter from its first
	// syscall (its container's linux.seccomp).
	Seccomp *SeccompFilter

	// containerInit makes the process Container's init
	// (SpawnContainerInit).
	containerInit bool
}

// outsideLocked is the stand-in parent of spawned processes: the runtime,
// outside the sandbox's pid namespace. Its pid is 0, as getppid shows a
// parent in an ancestor namespace, and it ignores SIGCHLD, so its children
// are reaped as they exit.
func (k *Kernel) outsideLocked() *ThreadGroup {
	if k.outside == nil {
		h := &SignalHandlers{}
		h.actions[unix.SIGCHLD-1].Handler = SigIgn
		k.outside = &ThreadGroup{k: k, children: make(map[*ThreadGroup]struct{}), handlers: h, waitCh: make(chan struct{})}
	}
	return k.outside
}

// Spawn creates a process whose parent is outside the sandbox, as a
// runtime's exec makes one: it leads a session of its own, its ppid is 0,
// and its end goes to spec.Exited. The caller runs the returned task
// (Config.StartTask). The stdio files are the process's even on failure.
func (k *Kernel) Spawn(spec SpawnSpec) (_ *Task, err error) {
	// The stdio files are the process's from here on: on failure, the
	// ones its fd table did not take are closed here.
	var installed [3]bool
	defer func() {
		if err != nil {
			for i, f := range spec.Stdio {
				if f != nil && !installed[i] {
					f.Close()
				}
			}
		}
	}()
	if len(spec.Argv) == 0 {
		return nil, errors.New("no command to run")
	}
	mounts := k.Mounts
	if c := spec.Container; c != nil {
		mounts = c.Mounts
	}
	root := mounts.Root()
	fs := NewFSContext(root, root, 0o022)
	if spec.Cwd != "" {
		ctx := &vfs.Context{Root: root, Start: root, Cred: vfs.Cred{UID: spec.Creds.FSUID, GID: spec.Creds.FSGID, Groups: spec.Creds.Groups}}
		cwd, err := mounts.Lookup(ctx, path.Clean("/"+spec.Cwd), vfs.LookupFollow|vfs.LookupDirectory)
		if err != nil {
			return nil, fmt.Errorf("working directory %q: %w", spec.Cwd, err)
		}
		fs.SetCwd(cwd)
	}
	k.mu.Lock()
	if k.init == nil || k.init.exiting || k.init.zombie {
		k.mu.Unlock()
		return nil, errors.New("the container's init has ended")
	}
	if c := spec.Container; c != nil && !spec.containerInit && (c.init == nil || c.init.exiting || c.init.zombie) {
		k.mu.Unlock()
		return nil, errors.New("the container's init has ended")
	}
	if c := spec.Container; c != nil && spec.containerInit && c.init != nil {
		k.mu.Unlock()
		return nil, errors.New("the container already has an init")
	}
	if k.pidsLimit > 0 && k.liveTasksLocked()+k.cloning >= k.pidsLimit {
		k.mu.Unlock()
		return nil, unix.EAGAIN
	}
	pid := k.allocPIDLocked()
	if pid < 0 {
		k.mu.Unlock()
		return nil, unix.EAGAIN
	}
	parent := k.outsideLocked()
	tg := &ThreadGroup{
		k:        k,
		tgid:     pid,
		parent:   parent,
		children: make(map[*ThreadGroup]struct{}),
		handlers: &SignalHandlers{},
		rlimits:  initRlimits(spec.Rlimits),
		waitCh:   make(chan struct{}),
		termSig:  int(unix.SIGCHLD),
		onExit:   spec.Exited,
		ctr:      spec.Container,
	}
	if c := spec.Container; c != nil {
		c.live++
		if spec.containerInit {
			c.init = tg
		}
	}
	t := &Task{
		K:         k,
		tg:        tg,
		TID:       pid,
		affinity:  1<<min(runtime.NumCPU(), 64) - 1,
		FDs:       vfs.NewFDTable(),
		FS:        fs,
		creds:     spec.Creds,
		interrupt: make(chan struct{}, 1),
		Start:     time.Now(),
	}
	t.seccomp.start(spec.Seccomp)
	tg.leader = t
	tg.tasks = []*Task{t}
	sess := &Session{sid: pid}
	tg.pgrp = &ProcessGroup{id: pid, session: sess, members: 1}
	sess.foreground = tg.pgrp
	parent.children[tg] = struct{}{}
	k.tasks[pid] = t
	k.running++
	k.mu.Unlock()

	fail := func(err error) (*Task, error) {
		// The task never ran: unregister it and let go of what it holds.
		t.FDs.DecUsers()
		t.releaseMM()
		k.mu.Lock()
		delete(k.tasks, pid)
		delete(parent.children, tg)
		k.running--
		if c := spec.Container; c != nil {
			c.live--
			if c.init == tg {
				c.init = nil
			}
		}
		k.mu.Unlock()
		return nil, err
	}
	if spec.TTY != nil {
		if err := t.installTTY(spec.TTY); err != nil {
			return fail(err)
		}
	}
	for i, f := range spec.Stdio {
		if f == nil {
			continue
		}
		if _, err := t.FDs.Install(vfs.NewDescription(f, "", stdioFlags[i]), i, false, i+1); err != nil {
			return fail(fmt.Errorf("install stdio fd %d: %w", i, err))
		}
		installed[i] = true
	}
	file := spec.Argv[0]
	if !strings.Contains(file, "/") {
		p, err := t.lookPath(file, spec.Env)
		if err != nil {
			return fail(err)
		}
		file = p
	}
	if err := t.Exec(file, spec.Argv, spec.Env); err != nil {
		return fail(fmt.Errorf("exec %q: %w", file, err))
	}
	return t, nil
}
