// Package platform defines how the sentry runs workload code: address
// spaces it fills with memory-capability frames, and per-task contexts that
// switch into a workload thread and return when it makes a syscall, faults
// or is interrupted. Implementations live in subpackages (systrap, the
// default; ptrace, the reference; kvm later).
package platform

import (
	"fmt"
	"time"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
)

// Platform creates address spaces and contexts.
type Platform interface {
	// Name is the --platform value that selects this platform.
	Name() string
	// NewAddressSpace creates an empty address space that can map the
	// memory file. Its methods may be called from any goroutine. name is
	// the workload process's command name, for the host process that
	// holds the address space to be shown by (ps, docker top).
	NewAddressSpace(mem *mm.MemoryFile, name string) (AddressSpace, error)
	// NewContext creates the context one task runs workload code through.
	// Implementations may require all its methods but Interrupt to be
	// called from one goroutine locked to its OS thread (ptrace does).
	NewContext() Context
}

// AddressSpace is a host address space shared by the threads of one
// workload process.
type AddressSpace interface {
	mm.HostMapper
	// CPUTime is the CPU time the host has accounted to the address
	// space's threads, as of now or of its release.
	CPUTime() time.Duration
	// Release destroys the address space; contexts still in it see their
	// next Switch fail.
	Release()
}

// Context runs one workload thread.
type Context interface {
	// Switch runs the thread in as with regs until it traps; regs is
	// updated with the thread's state at the trap.
	Switch(as AddressSpace, regs *arch.Registers) (Exit, error)
	// Interrupt makes a running Switch return ExitInterrupt soon, or the
	// next one return it at once. Any goroutine may call it.
	Interrupt()
	// FPState returns the thread's floating point state (fxsave layout)
	// as of the last trap; SetFPState replaces it for the next Switch.
	FPState() ([]byte, error)
	SetFPState(fp []byte) error
	// Release ends the context's host threads.
	Release()
}

// ExitKind says why Switch returned.
type ExitKind int

// Reasons the workload stopped running.
const (
	// ExitSyscall: the thread executed a syscall; its number is in
	// orig_rax and it has not run on the host.
	ExitSyscall ExitKind = iota
	// ExitFault: the thread faulted (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
	// SIGTRAP); Signo, Code and Addr describe it.
	ExitFault
	// ExitSignal: a host signal was sent to the stub from outside.
	ExitSignal
	// ExitInterrupt: Interrupt was called.
	ExitInterrupt
)

// Exit describes a trap out of the workload.
type Exit struct {
	Kind  ExitKind
	Signo int
	Code  int
	Addr  uint64
}

func (e Exit) String() string {
	switch e.Kind {
	case ExitSyscall:
		return "syscall"
	case ExitFault:
		return fmt.Sprintf("fault signal %d code %d addr %#x", e.Signo, e.Code, e.Addr)
	case ExitInterrupt:
		return "interrupt"
	default:
		return fmt.Sprintf("host signal %d", e.Signo)
	}
}
