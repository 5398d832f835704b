// Package kernel is the core of the library OS: the kernel object a sandbox
// boots, its tasks with their credentials, limits, fd tables and working
// directories, and the exec path that turns a file into a running image.
package kernel

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/loader"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

// Release is the kernel release the library OS reports. It is a Linux 6.x
// ABI, and says which kernel it really is.
const (
	Sysname = "Linux"
	Release = "6.6.0-runsc-exo"
	Version = "#1 SMP runsc-exo library OS"
	Machine = "x86_64"
)

// Config is what a sandbox gives its kernel at boot.
type Config struct {
	Memory   *mm.MemoryFile
	Mounts   *vfs.MountTable
	Stdio    [3]vfs.File
	Hostname string
	HostAux  loader.HostAux
	Log      *slog.Logger
}

// Kernel is one sandbox's library OS instance.
type Kernel struct {
	Memory   *mm.MemoryFile
	Mounts   *vfs.MountTable
	Hostname string
	HostAux  loader.HostAux
	Log      *slog.Logger
	Boot     time.Time

	stdio   [3]vfs.File
	nextPID atomic.Int32
	// warned records the syscalls already logged as unimplemented, so each
	// is logged once per sandbox.
	warned sync.Map
}

// New boots an empty kernel.
func New(c Config) *Kernel {
	k := &Kernel{
		Memory:   c.Memory,
		Mounts:   c.Mounts,
		Hostname: c.Hostname,
		HostAux:  c.HostAux,
		Log:      c.Log,
		Boot:     time.Now(),
		stdio:    c.Stdio,
	}
	if k.Hostname == "" {
		k.Hostname = "runsc-exo"
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

// Creds are a task's identities as the library OS tracks them; they never
// become host credentials.
type Creds struct {
	UID, EUID, SUID, FSUID uint32
	GID, EGID, SGID, FSGID uint32
	Groups                 []uint32
}

// Rlimit is one resource limit.
type Rlimit struct{ Cur, Max uint64 }

// RlimInfinity is RLIM_INFINITY.
const RlimInfinity = ^uint64(0)

// NumRlimits is RLIM_NLIMITS.
const NumRlimits = 16

// Task is one workload thread. Fields without a lock are touched only by
// the task's own goroutine.
type Task struct {
	K          *Kernel
	TID, TGID  int32
	PPID       int32
	MM         *mm.MemoryManager
	FDs        *vfs.FDTable
	Cwd        string
	Creds      Creds
	Umask      uint32
	Rlimits    [NumRlimits]Rlimit
	Regs       arch.Registers
	ClearTID   uint64
	RobustList uint64
	SigMask    uint64
	SigActions [64][32]byte // struct sigaction as the workload set it
	Exe        string
	Argv       []string
	Comm       string // the thread name, PR_SET_NAME / the exec'd file's base name
	NoNewPrivs bool
	Dumpable   bool
	PdeathSig  int
	Start      time.Time

	exited     bool
	exitStatus ExitStatus
}

// ExitStatus is how a process ended: a code from exit, or a signal.
type ExitStatus struct {
	Code   int
	Signal int
}

// WaitStatus encodes the status as wait4 reports it.
func (s ExitStatus) WaitStatus() int {
	if s.Signal != 0 {
		return s.Signal & 0x7f
	}
	return (s.Code & 0xff) << 8
}

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

// NewTask creates a task with the next pid, an empty address space whose
// host side is host, and an empty fd table, running as creds in "/".
func (k *Kernel) NewTask(host mm.HostMapper, creds Creds) *Task {
	pid := k.nextPID.Add(1)
	return &Task{
		K:       k,
		TID:     pid,
		TGID:    pid,
		MM:      mm.New(k.Memory, host),
		FDs:     vfs.NewFDTable(),
		Cwd:     "/",
		Creds:   creds,
		Umask:   0o022,
		Rlimits: defaultRlimits(),
		Start:   time.Now(),
	}
}

// InitSpec is the container's first process.
type InitSpec struct {
	Argv  []string
	Env   []string
	Cwd   string
	Creds Creds
}

// NewInitTask creates pid 1, its fds 0-2 on the sandbox's stdio, and loads
// its program into an address space whose host side is host.
func (k *Kernel) NewInitTask(host mm.HostMapper, spec InitSpec) (*Task, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("no command to run")
	}
	t := k.NewTask(host, spec.Creds)
	if spec.Cwd != "" {
		t.Cwd = path.Clean("/" + spec.Cwd)
	}
	for i, f := range k.stdio {
		if f == nil {
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
		if !path.IsAbs(p) {
			p = path.Join(t.Cwd, p)
		}
		st, err := t.Stat(unix.AT_FDCWD, p, true)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%q: executable file not found in $PATH: %w", file, unix.ENOENT)
}

// Exec replaces the task's image with the program at file. On failure
// before the old image is gone, the task keeps running it.
func (t *Task) Exec(file string, argv, envv []string) error {
	d, err := t.Open(unix.AT_FDCWD, file, unix.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer d.DecRef()
	st, err := d.File.Stat()
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return unix.EACCES
	}
	var a loader.Args
	a.Filename = file
	a.Argv, a.Envv = argv, envv
	a.Creds = [4]uint32{t.Creds.UID, t.Creds.EUID, t.Creds.GID, t.Creds.EGID}
	a.HostAux = t.K.HostAux
	if _, err := io.ReadFull(rand.Reader, a.Random[:]); err != nil {
		return fmt.Errorf("AT_RANDOM: %w", err)
	}
	img, err := loader.Load(t.MM, readerAt{d.File}, t.openInterp, a)
	if err != nil {
		return err
	}
	t.Regs = arch.Registers{
		Rip:    img.Entry,
		Rsp:    img.Stack,
		Cs:     arch.UserCS,
		Ss:     arch.UserSS,
		Eflags: arch.InitialFlags,
	}
	t.Exe = path.Clean(file)
	if !path.IsAbs(t.Exe) {
		t.Exe = path.Join(t.Cwd, t.Exe)
	}
	t.Argv = argv
	t.Comm = path.Base(t.Exe)
	if len(t.Comm) > 15 {
		t.Comm = t.Comm[:15]
	}
	t.Dumpable = true
	return nil
}

func (t *Task) openInterp(p string) (io.ReaderAt, func(), error) {
	d, err := t.Open(unix.AT_FDCWD, p, unix.O_RDONLY, 0)
	if err != nil {
		return nil, nil, err
	}
	return readerAt{d.File}, d.DecRef, nil
}

// readerAt adapts a vfs.File to io.ReaderAt for the loader and mm.
type readerAt struct{ f vfs.File }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := r.f.Pread(p[done:], off+int64(done))
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}

// Exit ends the task with status.
func (t *Task) Exit(s ExitStatus) {
	if t.exited {
		return
	}
	t.exited = true
	t.exitStatus = s
	t.FDs.CloseAll()
}

// Exited reports whether the task has ended and how.
func (t *Task) Exited() (bool, ExitStatus) { return t.exited, t.exitStatus }

// Uptime is the time since the kernel booted.
func (k *Kernel) Uptime() time.Duration { return time.Since(k.Boot) }
