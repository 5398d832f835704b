// Package arch holds the x86-64 machine state the library OS keeps for each
// workload thread and the syscall calling convention on top of it.
package arch

import "golang.org/x/sys/unix"

// Registers is the general-purpose register file of one workload thread, laid
// out as the kernel's user_regs_struct so platforms can hand it to the host
// unchanged.
type Registers = unix.PtraceRegs

// SyscallNumber is the number of the syscall the thread is making; the
// platform leaves it in orig_rax when it reports a syscall.
func SyscallNumber(r *Registers) uintptr { return uintptr(r.Orig_rax) }

// SyscallArgs returns the six syscall arguments in ABI order.
func SyscallArgs(r *Registers) [6]uint64 {
	return [6]uint64{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9}
}

// SetReturn stores a syscall's result as the workload will see it in rax.
func SetReturn(r *Registers, v uint64) { r.Rax = v }

// Page geometry of the only architecture we run.
const (
	PageSize  = 4096
	PageShift = 12
)

// PageRoundDown and PageRoundUp align addresses to page boundaries; PageRoundUp
// reports false when rounding overflows.
func PageRoundDown(a uint64) uint64 { return a &^ (PageSize - 1) }

// PageRoundUp rounds a up to the next page boundary.
func PageRoundUp(a uint64) (uint64, bool) {
	r := (a + PageSize - 1) &^ (PageSize - 1)
	return r, r >= a
}

// Initial register values for a new thread: user code and data segments as
// Linux x86-64 sets them, interrupts enabled in eflags.
const (
	UserCS       = 0x33
	UserSS       = 0x2b
	InitialFlags = 0x202
)
