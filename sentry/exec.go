package sentry

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/libos/fs/hostfd"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

// ExecSpec is a process the runtime starts in the running sandbox.
type ExecSpec struct {
	Argv    []string
	Env     []string
	Cwd     string
	UID     uint32
	GID     uint32
	Groups  []uint32
	Rlimits []Rlimit
	// Caps and NoNewPrivileges are as Config's for init.
	Caps            *CapSets
	NoNewPrivileges bool
	// Stdio names the file capabilities exo granted for fds 0-2 ("":
	// closed).
	Stdio [3]string
	// Console, for exec --tty, names the host pty slave exo granted: the
	// process gets a library OS terminal bridged to it (console.go),
	// which Resize(ID) finds.
	Console string
	ID      int
	// Container names the pod container to start the process in (""
	// the sandbox's own).
	Container string
}

// Exec starts spec's process with a parent outside the sandbox (the
// runtime) and returns its pid; exited is told how it ends.
func (s *Sandbox) Exec(spec ExecSpec, exited func(kernel.ExitStatus)) (int32, error) {
	if s.client == nil {
		return 0, errors.New("no capability client")
	}
	var ctr *kernel.Container
	// The terminal's devpts is the one the process's mount tree shows;
	// the container's seccomp filter applies, as runc applies it to exec.
	pts, filter := s.terms.pts, s.seccomp
	if spec.Container != "" {
		pc, err := s.container(spec.Container)
		if err != nil {
			return 0, err
		}
		ctr, pts, filter = pc.c, pc.terms.pts, pc.seccomp
	}
	grants, err := s.client.Grants()
	if err != nil {
		return 0, fmt.Errorf("receive the process's stdio: %w", err)
	}
	var stdio [3]vfs.File
	var host *os.File
	for _, g := range grants {
		if spec.Console != "" && g.Name == spec.Console && g.Kind == caps.KindFile && host == nil {
			host = g.File
			continue
		}
		for i, name := range spec.Stdio {
			if name != "" && g.Name == name && g.Kind == caps.KindFile && stdio[i] == nil {
				// The file system owns a raw fd; the granted *os.File
				// would close its own when collected.
				if fd, err := unix.Dup(int(g.File.Fd())); err == nil {
					unix.CloseOnExec(fd)
					stdio[i] = hostfd.New(fd)
				}
			}
		}
		g.File.Close()
	}
	for i, name := range spec.Stdio {
		if name != "" && stdio[i] == nil {
			for _, f := range stdio {
				if f != nil {
					f.Close()
				}
			}
			return 0, fmt.Errorf("exo granted no capability %q for fd %d", name, i)
		}
	}
	var cons *console
	if spec.Console != "" {
		for _, f := range stdio {
			if f != nil {
				f.Close()
			}
		}
		stdio = [3]vfs.File{}
		if host == nil {
			return 0, fmt.Errorf("exo granted no capability %q for the terminal", spec.Console)
		}
		if cons, err = s.terms.newConsole(spec.ID, host, pts); err != nil {
			return 0, err
		}
	}
	var rlimits map[int]kernel.Rlimit
	if len(spec.Rlimits) > 0 {
		rlimits = make(map[int]kernel.Rlimit, len(spec.Rlimits))
		for _, r := range spec.Rlimits {
			rlimits[r.Resource] = kernel.Rlimit{Cur: r.Soft, Max: r.Hard}
		}
	}
	ss := kernel.SpawnSpec{
		Argv:      spec.Argv,
		Env:       spec.Env,
		Cwd:       spec.Cwd,
		Creds:     creds(spec.UID, spec.GID, spec.Groups, spec.Caps, spec.NoNewPrivileges),
		Rlimits:   rlimits,
		Stdio:     stdio,
		Exited:    exited,
		Container: ctr,
		Seccomp:   filter,
	}
	if cons != nil {
		ss.TTY = cons.tty
		ss.Exited = func(st kernel.ExitStatus) {
			cons.processExited()
			exited(st)
		}
	}
	t, err := s.kernel.Spawn(ss)
	if err != nil {
		if cons != nil {
			cons.closeHost()
			cons.closeMaster()
		}
		return 0, err
	}
	s.startTask(t)
	return t.TID, nil
}
