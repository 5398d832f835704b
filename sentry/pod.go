package sentry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/libos/fs/hostfd"
	"exokernelul.dev/exo/libos/fs/proc"
	"exokernelul.dev/exo/libos/fs/sysfs"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

// A pod's sandbox runs its first container (the pod's init, a pause
// process) as the kernel's init, and each further container as a
// kernel.Container: the same kernel (pids, IPC, hostname, network), a
// mount tree of its own built from its own capabilities, and an init
// whose parent is the runtime, held until the container starts.

// ContainerGrants is the prefix of the names exo gives the capabilities
// of pod container id: its rootfs ("rootfs"), bind mounts (BindGrant) and
// stdio ("stdin", "stdout", "stderr") follow it.
func ContainerGrants(id string) string {
	// By the id's hash: ids are up to 1024 bytes (CRI's are 64) and a
	// capability name at most 128 (caps).
	h := sha256.Sum256([]byte(id))
	return "container:" + hex.EncodeToString(h[:8]) + ":"
}

// pod is the sandbox's other containers.
type pod struct {
	mu         sync.Mutex
	containers map[string]*podContainer
	// watching says the sandbox's init is watched for held inits.
	watching bool
	// retired are the gone containers' dir capabilities, kept so their
	// fd numbers stay taken (retireGrants).
	retired []caps.Grant
}

type podContainer struct {
	c    *kernel.Container
	init *kernel.Task
	// terms hold the container's own devpts (its execs' terminals are
	// made there) and its init's console, if it has a terminal.
	terms *terminals
	// start runs init once: at start, or to let a kill reach it.
	start sync.Once
	// grants are the container's capabilities, held for its life: its
	// file systems use their raw fds.
	grants []caps.Grant
	// seccomp is the container's filter, for its init and execs.
	seccomp *kernel.SeccompFilter
}

// CreateContainer builds container id from cfg (its rootfs and mounts
// from the capabilities exo granted under ContainerGrants(id), its
// process from cfg's Argv, Env, Cwd, credentials and limits) and loads its
// init without running it. exited is told how init ended once the
// container has no process left; the container is then forgotten.
func (s *Sandbox) CreateContainer(id string, cfg Config, exited func(kernel.ExitStatus)) (int32, error) {
	if s.client == nil {
		return 0, errors.New("no capability client")
	}
	s.pod.mu.Lock()
	if s.pod.containers == nil {
		s.pod.containers = map[string]*podContainer{}
	}
	if _, ok := s.pod.containers[id]; ok {
		s.pod.mu.Unlock()
		return 0, fmt.Errorf("container %q is already in the sandbox", id)
	}
	// Reserved while it is built, so a second create of id fails.
	pc := &podContainer{}
	s.pod.containers[id] = pc
	if !s.pod.watching {
		s.pod.watching = true
		go func() {
			// The sandbox's init takes every process with it, held
			// ones too: they must run to die.
			<-s.kernel.InitExited()
			s.startHeldContainers()
		}()
	}
	s.pod.mu.Unlock()
	forget := func() {
		s.pod.mu.Lock()
		delete(s.pod.containers, id)
		s.pod.mu.Unlock()
	}
	pid, err := s.createContainer(pc, id, cfg, exited)
	if err != nil {
		s.retireGrants(pc.grants)
		forget()
		return 0, fmt.Errorf("container %q: %w", id, err)
	}
	return pid, nil
}

func (s *Sandbox) createContainer(pc *podContainer, id string, cfg Config, exited func(kernel.ExitStatus)) (_ int32, err error) {
	all, err := s.client.Grants()
	if err != nil {
		return 0, fmt.Errorf("receive capabilities: %w", err)
	}
	prefix := ContainerGrants(id)
	byName := map[string]caps.Grant{}
	for _, g := range all {
		name, ok := strings.CutPrefix(g.Name, prefix)
		if !ok {
			g.File.Close()
			continue
		}
		byName[name] = g
		pc.grants = append(pc.grants, g)
	}
	root, ok := byName["rootfs"]
	if !ok || root.Kind != caps.KindDir {
		return 0, errors.New("exo granted no rootfs capability")
	}
	// The container's mount tree has a devpts of its own, as a runc
	// container's has: its terminals are made there, its init's
	// (bridged to the host pty exo granted, as the sandbox's init's) and
	// its execs' (Exec).
	terms := &terminals{log: s.log}
	if cfg.Terminal {
		g, ok := byName["console"]
		if !ok || g.Kind != caps.KindFile {
			return 0, errors.New("process.terminal: exo granted no console capability")
		}
		// newConsole takes the file it is given; the grant stays in
		// pc.grants until the container is gone.
		fd, err := unix.Dup(int(g.File.Fd()))
		if err != nil {
			return 0, fmt.Errorf("terminal: dup the host pty: %w", err)
		}
		unix.CloseOnExec(fd)
		terms.initHost = os.NewFile(uintptr(fd), "console")
	}
	// The container's /proc shows its own processes (or the pod's, if
	// it shares the pod's pid namespace): its source is set once the
	// container exists. One kernel: the pod's sysctls (containerd sets
	// them on the sandbox's config) hold for every container, its own
	// on top.
	sysctl := maps.Clone(s.cfg.Sysctl)
	if sysctl == nil {
		sysctl = map[string]string{}
	}
	maps.Copy(sysctl, cfg.Sysctl)
	popts := proc.Options{CPUInfo: s.host.CPUInfo, Release: kernel.Release, Version: kernel.Version, Sysctl: sysctl}
	if cfg.Cgroup.V1 {
		popts.CgroupV1 = sysfs.V1Controllers
	}
	procSrc := &lateProc{}
	mounts, dev, err := buildMounts(cfg, root, byName, s.mem, s.log, terms, proc.New(procSrc, popts))
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			// No process will ever have init's terminal.
			terms.closeAll()
		}
	}()
	if cfg.ShareIPC {
		s.sharePodShm(cfg, mounts)
	}
	var stdio [3]vfs.File
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		if cfg.Terminal {
			// The terminal is init's stdio.
			break
		}
		if g, ok := byName[name]; ok && g.Kind == caps.KindFile {
			// The file system owns a raw fd; the granted *os.File
			// stays in pc.grants until the container is gone.
			if fd, err := unix.Dup(int(g.File.Fd())); err == nil {
				unix.CloseOnExec(fd)
				stdio[i] = hostfd.New(fd)
			}
		}
	}
	c := s.kernel.NewContainer(id, mounts, func(st kernel.ExitStatus) {
		s.pod.mu.Lock()
		delete(s.pod.containers, id)
		s.pod.mu.Unlock()
		s.retireGrants(pc.grants)
		// The client hears of the end once the container's output on
		// its terminal has reached it, as the sandbox's end waits
		// (Wait); not for long if it does not read.
		terms.drain(5 * time.Second)
		exited(st)
	})
	c.SharePIDs = cfg.SharePIDs
	procSrc.Source = s.kernel.ContainerProcSource(c)
	if err := applyMasks(mounts, dev, cfg, s.mem, s.log); err != nil {
		return 0, err
	}
	var rlimits map[int]kernel.Rlimit
	if len(cfg.Rlimits) > 0 {
		rlimits = make(map[int]kernel.Rlimit, len(cfg.Rlimits))
		for _, r := range cfg.Rlimits {
			rlimits[r.Resource] = kernel.Rlimit{Cur: r.Soft, Max: r.Hard}
		}
	}
	filter, err := seccompFilter(cfg.Seccomp)
	if err != nil {
		return 0, err
	}
	t, err := s.kernel.SpawnContainerInit(c, kernel.SpawnSpec{
		Argv:    cfg.Argv,
		Env:     cfg.Env,
		Cwd:     cfg.Cwd,
		Creds:   creds(cfg.UID, cfg.GID, cfg.Groups, cfg.Caps, cfg.NoNewPrivileges),
		Rlimits: rlimits,
		Stdio:   stdio,
		TTY:     terms.initTTY(),
		Seccomp: filter,
	})
	if err != nil {
		return 0, err
	}
	s.pod.mu.Lock()
	pc.c, pc.init, pc.terms, pc.seccomp = c, t, terms, filter
	s.pod.mu.Unlock()
	return t.TID, nil
}

// retireGrants lets go of a gone container's capabilities. Its file
// systems use the dir capabilities' raw fds, and a dentry of them may
// still be reachable (an fd passed to another container), so such an fd
// is not closed, whose number the next grant could take: an eventfd
// takes its place, where every path lookup fails (ENOTDIR), and the
// directory is let go.
func (s *Sandbox) retireGrants(gs []caps.Grant) {
	for _, g := range gs {
		if g.Kind != caps.KindDir {
			g.File.Close()
			continue
		}
		efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		if err != nil {
			s.pod.mu.Lock()
			s.pod.retired = append(s.pod.retired, g)
			s.pod.mu.Unlock()
			continue
		}
		unix.Dup3(efd, int(g.File.Fd()), unix.O_CLOEXEC)
		unix.Close(efd)
		s.pod.mu.Lock()
		s.pod.retired = append(s.pod.retired, g)
		s.pod.mu.Unlock()
	}
}

// sharePodShm mounts the sandbox's /dev/shm on the container's, unless
// the container mounts one itself (the CRI binds the pod's shm directory
// into each container): POSIX shared memory and named semaphores live
// there, so a pod's IPC namespace is that file system.
func (s *Sandbox) sharePodShm(cfg Config, mounts *vfs.MountTable) {
	for _, m := range cfg.Mounts {
		if path.Clean(m.Destination) == "/dev/shm" {
			return
		}
	}
	root := s.kernel.Mounts.Root()
	d, err := s.kernel.Mounts.Lookup(&vfs.Context{Root: root, Start: root}, "/dev/shm", vfs.LookupFollow|vfs.LookupDirectory)
	if err != nil || !d.IsMountRoot() {
		return
	}
	m := d.Mount()
	if err := attachMaking(mounts, "/dev/shm", m.FS(), m.Options()); err != nil {
		s.log.Debug("the pod's /dev/shm not mounted in the container", "err", err)
	}
}

// container finds pod container id.
func (s *Sandbox) container(id string) (*podContainer, error) {
	s.pod.mu.Lock()
	defer s.pod.mu.Unlock()
	pc, ok := s.pod.containers[id]
	if !ok || pc.c == nil {
		return nil, fmt.Errorf("container %q is not in the sandbox", id)
	}
	return pc, nil
}

// StartContainer lets container id's init run.
func (s *Sandbox) StartContainer(id string) error {
	pc, err := s.container(id)
	if err != nil {
		return err
	}
	pc.start.Do(func() { s.startTask(pc.init) })
	return nil
}

// SignalContainer sends sig to container id's init, or with all to every
// process of the container. A SIGKILL before start ends init without it
// running.
func (s *Sandbox) SignalContainer(id string, sig int, all bool) error {
	pc, err := s.container(id)
	if err != nil {
		return err
	}
	s.kernel.SignalContainer(pc.c, sig, all)
	if sig == int(unix.SIGKILL) {
		pc.start.Do(func() { s.startTask(pc.init) })
	}
	return nil
}

// startHeldContainers runs every container init still held at create, so
// a kill already sent to them takes effect.
func (s *Sandbox) startHeldContainers() {
	s.pod.mu.Lock()
	var held []*podContainer
	for _, pc := range s.pod.containers {
		if pc.init != nil {
			held = append(held, pc)
		}
	}
	s.pod.mu.Unlock()
	for _, pc := range held {
		pc.start.Do(func() { s.startTask(pc.init) })
	}
}

// ResizeContainer copies the host pty's window size of container id's
// init terminal to its library OS terminal: the container's exo process
// asks on SIGWINCH.
func (s *Sandbox) ResizeContainer(id string) error {
	pc, err := s.container(id)
	if err != nil {
		return err
	}
	pc.terms.mu.Lock()
	c := pc.terms.consoles[0]
	pc.terms.mu.Unlock()
	if c == nil {
		return fmt.Errorf("container %q has no terminal", id)
	}
	c.resize()
	return nil
}
