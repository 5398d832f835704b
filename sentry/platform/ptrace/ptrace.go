// Package ptrace is the reference platform: each workload thread is a stub
// process traced with PTRACE_SYSEMU, so its syscalls stop in the sentry and
// never run on the host. Address-space changes are host syscalls the sentry
// injects into the stub at the stub's own `syscall` instruction.
//
// Linux binds a tracee to the tracing thread, so an address space must be
// created and driven from one goroutine that has called
// runtime.LockOSThread and keeps it locked until Release.
package ptrace

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/sentry/platform"
)

// Platform creates ptrace stubs from a stub executable.
type Platform struct {
	stubPath string
}

// New writes the stub executable into dir (a directory private to the
// sentry) and returns the platform.
func New(dir string) (*Platform, error) {
	path := dir + "/exo-stub"
	if err := os.WriteFile(path, stubImage(), 0o500); err != nil {
		return nil, fmt.Errorf("write ptrace stub: %w", err)
	}
	return &Platform{stubPath: path}, nil
}

// Name implements platform.Platform.
func (*Platform) Name() string { return "ptrace" }

// NewAddressSpace starts a stub traced by the calling OS thread.
func (p *Platform) NewAddressSpace(mem *mm.MemoryFile) (platform.AddressSpace, error) {
	pid, err := syscall.ForkExec(p.stubPath, []string{"exo-stub"}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{uintptr(mem.FD())}, // becomes stubMemFD
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Pdeathsig: syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("start ptrace stub: %w", err)
	}
	s := &stub{pid: pid}
	if err := s.init(); err != nil {
		s.Release()
		return nil, err
	}
	return s, nil
}

// stub is one traced stub process: the address space and its only thread.
type stub struct {
	pid int
	// base holds the register values the kernel gave the stub at exec, used
	// as the template for injected syscalls.
	base arch.Registers
}

func (s *stub) init() error {
	ws, err := s.wait()
	if err != nil {
		return err
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
		return fmt.Errorf("ptrace stub %d: unexpected first stop %#x", s.pid, uint32(ws))
	}
	if err := unix.PtraceSetOptions(s.pid, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		return fmt.Errorf("ptrace stub %d: set options: %w", s.pid, err)
	}
	if err := unix.PtraceGetRegs(s.pid, &s.base); err != nil {
		return fmt.Errorf("ptrace stub %d: get registers: %w", s.pid, err)
	}
	// Clear everything the kernel put in the stub (its stack, the host
	// vDSO) so the workload's address space holds only what the library
	// OS maps.
	if _, err := s.inject(unix.SYS_MUNMAP, 0, stubBase); err != nil {
		return fmt.Errorf("ptrace stub %d: clear low address space: %w", s.pid, err)
	}
	const taskSize = 0x7fff_ffff_f000
	if _, err := s.inject(unix.SYS_MUNMAP, stubBase+stubSize, taskSize-(stubBase+stubSize)); err != nil {
		return fmt.Errorf("ptrace stub %d: clear high address space: %w", s.pid, err)
	}
	return nil
}

func (s *stub) wait() (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(s.pid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, fmt.Errorf("wait for stub %d: %w", s.pid, err)
		}
		if ws.Exited() || ws.Signaled() {
			return ws, fmt.Errorf("stub %d died (status %#x)", s.pid, uint32(ws))
		}
		return ws, nil
	}
}

// inject makes a host syscall inside the stub and returns its result.
func (s *stub) inject(nr uintptr, args ...uint64) (uint64, error) {
	regs := s.base
	regs.Rax = uint64(nr)
	regs.Orig_rax = ^uint64(0)
	regs.Rip = stubSyscall
	dst := []*uint64{&regs.Rdi, &regs.Rsi, &regs.Rdx, &regs.R10, &regs.R8, &regs.R9}
	for i, a := range args {
		*dst[i] = a
	}
	if err := unix.PtraceSetRegs(s.pid, &regs); err != nil {
		return 0, fmt.Errorf("set registers: %w", err)
	}
	if err := unix.PtraceCont(s.pid, 0); err != nil {
		return 0, fmt.Errorf("continue: %w", err)
	}
	ws, err := s.wait()
	if err != nil {
		return 0, err
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
		return 0, fmt.Errorf("injected syscall %d: unexpected stop %#x", nr, uint32(ws))
	}
	if err := unix.PtraceGetRegs(s.pid, &regs); err != nil {
		return 0, fmt.Errorf("get registers: %w", err)
	}
	if ret := int64(regs.Rax); ret < 0 && ret > -4096 {
		return 0, unix.Errno(-ret)
	}
	return regs.Rax, nil
}

// MapFile implements mm.HostMapper.
func (s *stub) MapFile(addr, length, offset uint64, prot mm.Prot) error {
	_, err := s.inject(unix.SYS_MMAP, addr, length, uint64(prot), unix.MAP_SHARED|unix.MAP_FIXED, stubMemFD, offset)
	return err
}

// Unmap implements mm.HostMapper.
func (s *stub) Unmap(addr, length uint64) error {
	_, err := s.inject(unix.SYS_MUNMAP, addr, length)
	return err
}

// Protect implements mm.HostMapper.
func (s *stub) Protect(addr, length uint64, prot mm.Prot) error {
	_, err := s.inject(unix.SYS_MPROTECT, addr, length, uint64(prot))
	return err
}

// Switch implements platform.AddressSpace.
func (s *stub) Switch(regs *arch.Registers) (platform.Exit, error) {
	if err := unix.PtraceSetRegs(s.pid, regs); err != nil {
		return platform.Exit{}, fmt.Errorf("stub %d: set registers: %w", s.pid, err)
	}
	// PTRACE_SYSEMU stops the thread at its next syscall without running
	// it; this is the whole isolation wall of this platform.
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SYSEMU, uintptr(s.pid), 0, 0, 0, 0); e != 0 && e != unix.ESRCH {
		return platform.Exit{}, fmt.Errorf("stub %d: resume: %w", s.pid, e)
	}
	ws, err := s.wait()
	if err != nil {
		return platform.Exit{}, err
	}
	if err := unix.PtraceGetRegs(s.pid, regs); err != nil {
		return platform.Exit{}, fmt.Errorf("stub %d: get registers: %w", s.pid, err)
	}
	if !ws.Stopped() {
		return platform.Exit{}, fmt.Errorf("stub %d: unexpected wait status %#x", s.pid, uint32(ws))
	}
	sig := ws.StopSignal()
	if sig == unix.SIGTRAP|0x80 {
		return platform.Exit{Kind: platform.ExitSyscall}, nil
	}
	var info siginfo
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(s.pid), 0, uintptr(unsafe.Pointer(&info)), 0, 0); e != 0 {
		return platform.Exit{}, fmt.Errorf("stub %d: get siginfo: %w", s.pid, e)
	}
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP:
		// si_code > 0 means the kernel raised it for an instruction;
		// otherwise someone sent it with kill and it is a host signal.
		if info.Code > 0 {
			return platform.Exit{Kind: platform.ExitFault, Signo: int(sig), Code: int(info.Code), Addr: info.Addr}, nil
		}
	}
	return platform.Exit{Kind: platform.ExitSignal, Signo: int(sig)}, nil
}

// siginfo is the head of the kernel's siginfo_t for fault signals.
type siginfo struct {
	Signo int32
	Errno int32
	Code  int32
	_     int32
	Addr  uint64
	_     [112]byte
}

// Interrupt implements platform.AddressSpace: the signal stops the traced
// stub, and Switch reports it without delivering it on the host.
func (s *stub) Interrupt(sig int) error {
	return unix.Kill(s.pid, unix.Signal(sig))
}

// Release implements platform.AddressSpace.
func (s *stub) Release() {
	unix.Kill(s.pid, unix.SIGKILL)
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(s.pid, &ws, unix.WALL, nil); err != unix.EINTR {
			return
		}
	}
}
