// Package platform defines how the sentry runs workload code: an address
// space it fills with memory-capability frames, and a context switch into a
// workload thread that returns when the thread makes a syscall or faults.
// Implementations live in subpackages (ptrace; systrap and kvm later).
package platform

import (
	"fmt"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
)

// Platform creates address spaces.
type Platform interface {
	// Name is the --platform value that selects this platform.
	Name() string
	// NewAddressSpace creates an empty address space that can map the
	// memory file. Implementations may require every later call on the
	// address space to come from the same goroutine (ptrace does).
	NewAddressSpace(mem *mm.MemoryFile) (AddressSpace, error)
}

// AddressSpace is a host address space holding one workload thread.
type AddressSpace interface {
	mm.HostMapper
	// Switch runs the thread with regs until it traps; regs is updated with
	// the thread's state at the trap.
	Switch(regs *arch.Registers) (Exit, error)
	// Interrupt makes a running Switch return ExitSignal with sig, so a
	// signal meant for the workload reaches the library OS. It may be
	// called from any goroutine.
	Interrupt(sig int) error
	// Release destroys the address space and its thread.
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
	// ExitSignal: a host signal was sent to the stub from outside (for
	// example a terminal's SIGINT to the foreground process group).
	ExitSignal
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
	default:
		return fmt.Sprintf("host signal %d", e.Signo)
	}
}
