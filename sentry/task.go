package sentry

import (
	"fmt"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/sentry/platform"
	"exokernelul.dev/exo/sentry/syscalls"
)

// runTask is the task run loop: switch into the workload until it traps,
// serve the trap, repeat until the task exits. It owns t and as and runs on
// one locked OS thread.
func (s *Sandbox) runTask(t *kernel.Task, as platform.AddressSpace) (kernel.ExitStatus, error) {
	for {
		exit, err := as.Switch(&t.Regs)
		if err != nil {
			return kernel.ExitStatus{}, fmt.Errorf("run task %d: %w", t.TID, err)
		}
		switch exit.Kind {
		case platform.ExitSyscall:
			nr := arch.SyscallNumber(&t.Regs)
			args := arch.SyscallArgs(&t.Regs)
			var before string
			if s.strace != nil && (nr == syscalls.SysExecve || nr == syscalls.SysExecveat) {
				// A successful exec replaces the memory its arguments were in.
				before = syscalls.FormatCall(nr, args, 0, t.MM)
			}
			ret := syscalls.Dispatch(t, nr, args)
			if s.strace != nil {
				s.traceSyscall(t, nr, args, ret, before)
			}
			arch.SetReturn(&t.Regs, uint64(ret))
		case platform.ExitFault:
			// No signal frames yet: a fault ends the process with its signal.
			s.log.Debug("workload fault", "tid", t.TID, "fault", exit.String(), "rip", fmt.Sprintf("%#x", t.Regs.Rip))
			t.SendSignal(exit.Signo)
		case platform.ExitSignal:
			t.SendSignal(exit.Signo)
		}
		if done, status := t.Exited(); done {
			return status, nil
		}
	}
}

// traceSyscall prints one strace line; call is the call already rendered
// before dispatch, or "" to render it now.
func (s *Sandbox) traceSyscall(t *kernel.Task, nr uintptr, args [6]uint64, ret int64, call string) {
	if call == "" {
		call = syscalls.FormatCall(nr, args, ret, t.MM)
	}
	if done, _ := t.Exited(); done {
		fmt.Fprintf(s.strace, "[pid %d] %s = ?\n", t.TID, call)
		return
	}
	fmt.Fprintf(s.strace, "[pid %d] %s%s\n", t.TID, call, syscalls.FormatReturn(nr, ret))
}
