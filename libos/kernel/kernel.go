// Package kernel is the core of the library OS: the kernel object a sandbox
// boots; its processes (thread groups) and threads (tasks) with their
// process groups, sessions, credentials, limits, fd tables and working
// directories; clone, exec, exit and wait; signals; futexes; and the
// blocking primitive every sleeping syscall uses.
//
// Lock order: Kernel.mu (the task tree, signal and exit state of every
// task) before anything a single task or file owns. Each task's goroutine
// owns the task's registers and its platform context.
package kernel

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/devpts"
	"exokernelul.dev/exo/libos/loader"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/net/hostinet"
	"exokernelul.dev/exo/libos/net/inet"
	unixsock "exokernelul.dev/exo/libos/net/unix"
	"exokernelul.dev/exo/libos/vfs"
)

// The kernel release the library OS reports: a Linux 6.x ABI that says
// which kernel it really is.
const (
	Sysname = "Linux"
	Release = "6.6.0-runsc-exo"
	Version = "#1 SMP runsc-exo library OS"
	Machine = "x86_64"
)

// HostAddressSpace is the platform side of an address space, as the kernel
// needs it: the memory manager maps into it, and it is released with the
// last task using it.
type HostAddressSpace interface {
	mm.HostMapper
	Release()
	// CPUTime is the host's account of the CPU the address space's
	// threads used.
	CPUTime() time.Duration
}

// Config is what a sandbox gives its kernel at boot.
type Config struct {
	Memory   *mm.MemoryFile
	Mounts   *vfs.MountTable
	Stdio    [3]vfs.File
	Hostname string
	// Domainname is the NIS domain name uname reports ("" is "(none)").
	Domainname string
	HostAux    loader.HostAux
	// VDSO, if set, is mapped into every process image.
	VDSO *loader.VDSO
	Log  *slog.Logger
	// NewAddressSpace makes a host address space for a new process image
	// of the process named name (its comm: what the host shows for it).
	NewAddressSpace func(name string) (HostAddressSpace, error)
	// StartTask runs a new task (from clone) on its own goroutine; the
	// kernel calls it with the task ready to switch into.
	StartTask func(*Task)
	// PidsLimit caps the number of live tasks (threads count), like the
	// pids cgroup; 0 means no limit.
	PidsLimit int
}

// Kernel is one sandbox's library OS instance.
type Kernel struct {
	Memory     *mm.MemoryFile
	Mounts     *vfs.MountTable
	Hostname   string
	Domainname string
	HostAux    loader.HostAux
	VDSO       *loader.VDSO
	Log        *slog.Logger
	Boot       time.Time
	// UnixSockets holds the sandbox's AF_UNIX sockets and their names.
	UnixSockets *unixsock.Namespace
	// Net is the sandbox's TCP/IP stack; nil leaves AF_INET and
	// AF_INET6 unsupported.
	Net *inet.Stack
	// HostNet, when set (--network=host), serves AF_INET and AF_INET6
	// sockets with host sockets exo makes; Net then only answers
	// netlink and the interface ioctls on other sockets.
	HostNet *hostinet.Net

	// shm is the System V shared memory registry, made on first use.
	shmOnce sync.Once
	shm     *ShmRegistry
	// sem is the System V semaphore registry, made on first use.
	semOnce sync.Once
	sem     *SemRegistry
	// msg is the System V message queue registry, made on first use.
	msgOnce sync.Once
	msg     *MsgRegistry

	stdio           [3]vfs.File
	newAddressSpace func(name string) (HostAddressSpace, error)
	startTask       func(*Task)
	pidsLimit       int

	// mu guards the task tree and every task's signal and exit state.
	mu      sync.Mutex
	tasks   map[int32]*Task // live and zombie tasks by tid
	nextPID int32
	// lastPidIno is the last pidfs inode number given out (pidfd.go).
	lastPidIno uint64
	init       *ThreadGroup
	// outside is the stand-in parent of spawned processes (Spawn).
	outside *ThreadGroup
	// done is closed when the init process has exited and every task is
	// gone.
	done chan struct{}
	// initExited is closed when init begins to exit.
	initExited chan struct{}
	running    int // tasks whose goroutine has not finished
	cloning    int // clones between the pids check and registration
	futexes    futexTable
	fifos      fifoTable
	// asUsers counts the tasks using each address space.
	asUsers map[*mm.MemoryManager]int

	// warned records the warnings already logged, so each is logged once
	// per sandbox.
	warned sync.Map
	// memfds is where memfd_create's files live.
	memfds memfds
	// async holds the descriptions with O_ASYNC set (fasync.go).
	async asyncTable
}

// New boots an empty kernel.
func New(c Config) *Kernel {
	k := &Kernel{
		Memory:          c.Memory,
		Mounts:          c.Mounts,
		Hostname:        c.Hostname,
		Domainname:      c.Domainname,
		HostAux:         c.HostAux,
		VDSO:            c.VDSO,
		Log:             c.Log,
		Boot:            time.Now(),
		UnixSockets:     unixsock.NewNamespace(),
		stdio:           c.Stdio,
		newAddressSpace: c.NewAddressSpace,
		startTask:       c.StartTask,
		pidsLimit:       c.PidsLimit,
		tasks:           make(map[int32]*Task),
		asUsers:         make(map[*mm.MemoryManager]int),
		done:            make(chan struct{}),
		initExited:      make(chan struct{}),
	}
	k.futexes.init()
	if k.Mounts != nil {
		k.Mounts.SetFIFOOpener(k.openFIFO)
		k.Mounts.SetReopener(k.reopen)
	}
	if k.Hostname == "" {
		k.Hostname = "runsc-exo"
	}
	if k.Domainname == "" {
		k.Domainname = "(none)"
	}
	if k.Log == nil {
		k.Log = slog.Default()
	}
	return k
}

// WarnOnce logs msg the first time key is seen.
func (k *Kernel) WarnOnce(key, msg string, attrs ...any) {
	if _, loaded := k.warned.LoadOrStore(key, true); !loaded {
		k.Log.Warn(msg, attrs...)
	}
}

// Uptime is the time since the kernel booted.
func (k *Kernel) Uptime() time.Duration { return time.Since(k.Boot) }

// Done is closed once the container's init has exited and every task has
// finished.
func (k *Kernel) Done() <-chan struct{} { return k.done }

// InitStatus is how the container's init ended; valid after Done.
func (k *Kernel) InitStatus() ExitStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.init.exitStatus
}

// Creds are a task's identities as the library OS tracks them; they never
// become host credentials.
type Creds struct {
	UID, EUID, SUID, FSUID uint32
	GID, EGID, SGID, FSGID uint32
	Groups                 []uint32
	// Caps are the library OS's capability sets of the process (caps.go);
	// they grant privileges inside the sandbox only.
	Caps CapSets
	// KeepCaps is prctl(PR_SET_KEEPCAPS): the permitted set survives a
	// change of every uid away from 0.
	KeepCaps bool
	// NoNewPrivs is prctl(PR_SET_NO_NEW_PRIVS), inherited by children and
	// kept across execve.
	NoNewPrivs bool
}

// Rlimit is one resource limit.
type Rlimit struct{ Cur, Max uint64 }

// RlimInfinity is RLIM_INFINITY.
const RlimInfinity = ^uint64(0)

// NumRlimits is RLIM_NLIMITS.
const NumRlimits = 16

// defaultRlimits are Linux's defaults for a fresh login.
func defaultRlimits() [NumRlimits]Rlimit {
	var r [NumRlimits]Rlimit
	for i := range r {
		r[i] = Rlimit{RlimInfinity, RlimInfinity}
	}
	r[unix.RLIMIT_STACK] = Rlimit{8 << 20, RlimInfinity}
	r[unix.RLIMIT_CORE] = Rlimit{0, RlimInfinity}
	r[unix.RLIMIT_NOFILE] = Rlimit{1024, 1 << 20}
	r[unix.RLIMIT_NPROC] = Rlimit{63704, 63704}
	r[unix.RLIMIT_MEMLOCK] = Rlimit{8 << 20, 8 << 20}
	r[unix.RLIMIT_SIGPENDING] = Rlimit{63704, 63704}
	r[unix.RLIMIT_MSGQUEUE] = Rlimit{819200, 819200}
	r[unix.RLIMIT_RTPRIO] = Rlimit{0, 0}
	r[unix.RLIMIT_NICE] = Rlimit{0, 0}
	return r
}

// initRlimits are the defaults with the runtime's overrides applied.
func initRlimits(over map[int]Rlimit) [NumRlimits]Rlimit {
	r := defaultRlimits()
	for n, l := range over {
		if n >= 0 && n < NumRlimits {
			r[n] = l
		}
	}
	return r
}

// ExitStatus is how a process ended: a code from exit, or a signal.
type ExitStatus struct {
	Code   int
	Signal int
	Core   bool
}

// WaitStatus encodes the status as wait4 reports it.
func (s ExitStatus) WaitStatus() int {
	if s.Signal != 0 {
		w := s.Signal & 0x7f
		if s.Core {
			w |= 0x80
		}
		return w
	}
	return (s.Code & 0xff) << 8
}

// InitSpec is the container's first process.
type InitSpec struct {
	Argv  []string
	Env   []string
	Cwd   string
	Creds Creds
	// Rlimits override the default resource limits, by RLIMIT_* number.
	Rlimits map[int]Rlimit
	// OOMScoreAdj is init's /proc/self/oom_score_adj (-1000..1000).
	OOMScoreAdj int32
	// TTY, if set, is init's terminal (process.terminal): its slave is
	// fds 0-2 instead of the sandbox's stdio, and its controlling
	// terminal.
	TTY *devpts.Terminal
	// Seccomp, if set, is init's seccomp filter from its first syscall
	// (linux.seccomp, which runc attaches just before the execve).
	Seccomp *SeccompFilter
}

// NewInitTask creates pid 1 with fds 0-2 on the sandbox's stdio and loads
// its program. The caller runs it (the kernel does not call StartTask for
// init).
func (k *Kernel) NewInitTask(spec InitSpec) (*Task, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("no command to run")
	}
	root := k.Mounts.Root()
	fs := NewFSContext(root, root, 0o022)
	if spec.Cwd != "" {
		ctx := &vfs.Context{Root: root, Start: root, Cred: vfs.Cred{UID: spec.Creds.FSUID, GID: spec.Creds.FSGID, Groups: spec.Creds.Groups}}
		cwd, err := k.Mounts.Lookup(ctx, path.Clean("/"+spec.Cwd), vfs.LookupFollow|vfs.LookupDirectory)
		if err != nil {
			return nil, fmt.Errorf("working directory %q: %w", spec.Cwd, err)
		}
		fs.SetCwd(cwd)
	}
	k.mu.Lock()
	tg := &ThreadGroup{
		k:        k,
		children: make(map[*ThreadGroup]struct{}),
		handlers: &SignalHandlers{},
		rlimits:  initRlimits(spec.Rlimits),
		oomAdj:   spec.OOMScoreAdj,
		waitCh:   make(chan struct{}),
		termSig:  int(unix.SIGCHLD),
	}
	t := &Task{
		K:         k,
		tg:        tg,
		affinity:  1<<min(runtime.NumCPU(), 64) - 1,
		FDs:       vfs.NewFDTable(),
		FS:        fs,
		creds:     spec.Creds,
		interrupt: make(chan struct{}, 1),
		Start:     time.Now(),
	}
	t.seccomp.start(spec.Seccomp)
	k.nextPID = 1
	t.TID = 1
	tg.tgid = 1
	tg.leader = t
	tg.tasks = []*Task{t}
	sess := &Session{sid: 1}
	tg.pgrp = &ProcessGroup{id: 1, session: sess, members: 1}
	sess.foreground = tg.pgrp
	k.tasks[1] = t
	k.init = tg
	k.running = 1
	k.mu.Unlock()

	if spec.TTY != nil {
		if err := t.installTTY(spec.TTY); err != nil {
			return nil, err
		}
	}
	for i, f := range k.stdio {
		if f == nil || spec.TTY != nil {
			continue
		}
		// The sandbox's stdio belongs to the kernel; each description only
		// borrows it.
		if _, err := t.FDs.Install(vfs.NewDescription(borrowed{f}, "", stdioFlags[i]), i, false, i+1); err != nil {
			return nil, fmt.Errorf("install stdio fd %d: %w", i, err)
		}
	}
	file := spec.Argv[0]
	if !strings.Contains(file, "/") {
		p, err := t.lookPath(file, spec.Env)
		if err != nil {
			return nil, err
		}
		file = p
	}
	if err := t.Exec(file, spec.Argv, spec.Env); err != nil {
		return nil, fmt.Errorf("exec %q: %w", file, err)
	}
	return t, nil
}

var stdioFlags = [3]int{unix.O_RDONLY, unix.O_WRONLY, unix.O_WRONLY}

// borrowed shares a file without letting a close of the description close
// the underlying file.
type borrowed struct{ vfs.File }

func (borrowed) Close() error { return nil }

// lookPath finds file in the PATH of env, as execvp would inside the
// container.
func (t *Task) lookPath(file string, env []string) (string, error) {
	pathVar := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			dir = "."
		}
		p := path.Join(dir, file)
		st, err := t.Stat(unix.AT_FDCWD, p, true)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: executable file not found in $PATH: %w", file, unix.ENOENT)
}
