// Package sentry boots a sandbox's library OS inside the sentry process and
// runs its tasks: it turns the capabilities exo granted into the kernel's
// memory, file systems and stdio, picks the platform, and drives each task
// between the platform (run until trap) and the syscall table.
package sentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/libos/fs/devfs"
	"exokernelul.dev/exo/libos/fs/dirfs"
	"exokernelul.dev/exo/libos/fs/hostfd"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/loader"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/sentry/platform"
	"exokernelul.dev/exo/sentry/platform/ptrace"
)

// Config is what the runtime asks the sentry to run.
type Config struct {
	Argv     []string `json:"argv"`
	Env      []string `json:"env"`
	Cwd      string   `json:"cwd"`
	UID      uint32   `json:"uid"`
	GID      uint32   `json:"gid"`
	Hostname string   `json:"hostname"`
	Platform string   `json:"platform"`
	Strace   bool     `json:"strace"`
	// PidsLimit caps the sandbox's tasks (0: no limit).
	PidsLimit int `json:"pidsLimit"`
}

// Sandbox is a booted library OS with its platform.
type Sandbox struct {
	cfg      Config
	log      *slog.Logger
	kernel   *kernel.Kernel
	platform platform.Platform
	mem      *mm.MemoryFile
	strace   *os.File
	// grants holds the granted files for the sandbox's lifetime: the file
	// systems and stdio use their raw fds, which the *os.File finalizers
	// would otherwise close once the files became unreachable.
	grants []caps.Grant
}

// HostState is what the sentry reads from the host before it confines
// itself: the CPU description for the auxv, and a private directory for the
// platform's stub executable.
type HostState struct {
	Aux     loader.HostAux
	StubDir string
	// TSC says whether the host's TSC can drive the vDSO's clocks
	// (loader.HostTSC, read before the sentry confines itself).
	TSC bool
}

// ReadHostAux reads the CPU-describing auxv entries of the sentry process
// itself, so workloads see the same CPU features the host offers.
func ReadHostAux() (loader.HostAux, error) {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return loader.HostAux{}, fmt.Errorf("read host auxv: %w", err)
	}
	var a loader.HostAux
	for i := 0; i+16 <= len(b); i += 16 {
		tag, val := binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])
		switch tag {
		case 16:
			a.HWCap = val
		case 26:
			a.HWCap2 = val
		case 51:
			a.MinSigStkSz = val
		}
	}
	return a, nil
}

// Boot builds the library OS from the grants exo gave this sentry.
func Boot(client *caps.Client, cfg Config, host HostState, log *slog.Logger) (*Sandbox, error) {
	grants, err := client.Grants()
	if err != nil {
		return nil, fmt.Errorf("receive capabilities: %w", err)
	}
	byName := make(map[string]caps.Grant, len(grants))
	for _, g := range grants {
		byName[g.Name] = g
	}
	memGrant, ok := byName["memory"]
	if !ok || memGrant.Kind != caps.KindMemory {
		return nil, errors.New("exo granted no memory capability")
	}
	mem, err := mm.NewMemoryFile(memGrant.File, memGrant.Size)
	if err != nil {
		return nil, err
	}
	root, ok := byName["rootfs"]
	if !ok || root.Kind != caps.KindDir {
		return nil, errors.New("exo granted no rootfs capability")
	}
	mounts := &vfs.MountTable{}
	mounts.Attach("/", dirfs.New(int(root.File.Fd()), root.Rights&caps.RightWrite != 0))
	mounts.Attach("/dev", devfs.New())
	var stdio [3]vfs.File
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		if g, ok := byName[name]; ok && g.Kind == caps.KindFile {
			stdio[i] = hostfd.New(int(g.File.Fd()))
		}
	}
	var plat platform.Platform
	switch cfg.Platform {
	case "", "ptrace":
		plat, err = ptrace.New(host.StubDir)
	default:
		err = fmt.Errorf("unknown platform %q (available: ptrace)", cfg.Platform)
	}
	if err != nil {
		return nil, err
	}
	vdso, err := loader.NewVDSO(mem, loader.VDSOConfig{TSC: host.TSC, Log: log})
	if err != nil {
		return nil, err
	}
	s := &Sandbox{cfg: cfg, log: log, platform: plat, mem: mem, grants: grants}
	s.kernel = kernel.New(kernel.Config{
		Memory:   mem,
		Mounts:   mounts,
		Stdio:    stdio,
		Hostname: cfg.Hostname,
		HostAux:  host.Aux,
		VDSO:     vdso,
		Log:      log,
		NewAddressSpace: func() (kernel.HostAddressSpace, error) {
			return plat.NewAddressSpace(mem)
		},
		StartTask: s.startTask,
		PidsLimit: cfg.PidsLimit,
	})
	if cfg.Strace {
		s.strace = os.Stderr
	}
	return s, nil
}

// ForwardSignals makes host signals the sentry receives go to the
// workload's init instead; call it before Run.
func (s *Sandbox) ForwardSignals(sigs ...os.Signal) {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, sigs...)
	go func() {
		for sig := range ch {
			s.kernel.SignalInit(int(sig.(unix.Signal)))
		}
	}()
}

// Run starts the container's init and waits until it and every other
// task are gone. The boot error of a program that cannot start is
// returned as err, with errno inside.
func (s *Sandbox) Run() (kernel.ExitStatus, error) {
	t, err := s.kernel.NewInitTask(kernel.InitSpec{
		Argv: s.cfg.Argv,
		Env:  s.cfg.Env,
		Cwd:  s.cfg.Cwd,
		Creds: kernel.Creds{
			UID: s.cfg.UID, EUID: s.cfg.UID, SUID: s.cfg.UID, FSUID: s.cfg.UID,
			GID: s.cfg.GID, EGID: s.cfg.GID, SGID: s.cfg.GID, FSGID: s.cfg.GID,
		},
	})
	if err != nil {
		return kernel.ExitStatus{}, err
	}
	s.startTask(t)
	<-s.kernel.Done()
	return s.kernel.InitStatus(), nil
}

// ExitCode turns a boot failure into the exit status shells use: 127 when
// the program does not exist, 126 when it cannot be executed.
func ExitCode(err error) int {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return 127
	case errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EACCES), errors.Is(err, unix.EISDIR):
		return 126
	}
	return 125
}
