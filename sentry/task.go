package sentry

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/sentry/platform"
	"exokernelul.dev/exo/sentry/syscalls"
)

// startTask gives a task its platform context and its goroutine.
func (s *Sandbox) startTask(t *kernel.Task) {
	ctx := s.platform.NewContext()
	if t.InitialFP != nil {
		ctx.SetFPState(t.InitialFP)
	}
	t.SetContext(ctx)
	go s.runTask(t, ctx)
}

// runTask is the task run loop: deliver what is pending, switch into the
// workload until it traps, serve the trap, repeat until the task exits.
// The goroutine owns t's registers and ctx, on one locked OS thread (the
// ptrace platform binds stub threads to it).
func (s *Sandbox) runTask(t *kernel.Task, ctx platform.Context) {
	runtime.LockOSThread()
	defer func() {
		ctx.Release()
		runtime.UnlockOSThread()
		s.kernel.TaskDone()
	}()
	for {
		if !t.HandlePending(ctx) {
			return
		}
		start := time.Now()
		t.EnterUser(start)
		exit, err := ctx.Switch(t.AS.(platform.AddressSpace), &t.Regs)
		t.ChargeUser(time.Since(start))
		if err != nil {
			if !t.Exiting() {
				s.log.Error("task lost its host thread; killing its process", "tid", t.TID, "err", err)
				t.ExitGroup(kernel.ExitStatus{Signal: int(unix.SIGKILL)})
			}
			continue
		}
		switch exit.Kind {
		case platform.ExitSyscall:
			// Serving the syscall is not charged as the task's system time:
			// on this platform it is mostly the trap's own cost (fork
			// builds a whole stub), which would make short-lived children
			// look busy.
			s.syscall(t)
		case platform.ExitFault:
			if exit.Signo == int(unix.SIGSEGV) && (exit.Code == arch.SEGVAccErr || exit.Code == arch.SEGVMapErr) {
				// A page touched for the first time (the host shows
				// nothing there) or written while shared copy-on-write
				// (the host shows it read-only).
				handled, err := t.MM.HandleFault(exit.Addr, exit.Code == arch.SEGVAccErr)
				if handled {
					continue
				}
				if err != nil {
					// Out of memory quota for the page: what Linux's
					// OOM killer would do.
					s.log.Warn("page fault past the memory quota; killing the process", "tid", t.TID)
					t.ExitGroup(kernel.ExitStatus{Signal: int(unix.SIGKILL)})
					continue
				}
			}
			signo, code := exit.Signo, exit.Code
			if signo == int(unix.SIGSEGV) && (code == arch.SEGVMapErr || code == arch.SEGVAccErr) {
				// The host saw an unmapped or protected page; what the
				// workload sees depends on the library OS's mappings.
				signo, code = t.MM.FaultSignal(exit.Addr)
			}
			t.Fault(signo, code, exit.Addr)
		case platform.ExitSignal:
			t.SendSignal(&arch.SignalInfo{Signo: int32(exit.Signo), Code: arch.SIKernel})
		case platform.ExitInterrupt:
			// HandlePending, next, does what the interrupt was for.
		}
	}
}

// syscall serves the syscall the task trapped with.
func (s *Sandbox) syscall(t *kernel.Task) {
	nr := arch.SyscallNumber(&t.Regs)
	args := arch.SyscallArgs(&t.Regs)
	var before string
	if s.strace != nil && (nr == syscalls.SysExecve || nr == syscalls.SysExecveat) {
		// A successful exec replaces the memory its arguments were in.
		before = syscalls.FormatCall(nr, args, 0, t.MM)
	}
	var ret int64
	if v := t.CheckSeccomp(nr, args, t.Regs.Rip); v.Skip {
		ret = v.Return
	} else {
		ret = syscalls.Dispatch(t, nr, args)
	}
	if s.strace != nil {
		s.traceSyscall(t, nr, args, ret, before)
	}
	if nr == syscalls.SysRtSigreturn {
		return // the registers are the restored ones, rax included
	}
	if ret < 0 && kernel.IsRestartErrno(unix.Errno(-ret)) {
		t.SetRestart(uint64(nr), unix.Errno(-ret))
	}
	arch.SetReturn(&t.Regs, uint64(ret))
}

// traceSyscall prints one strace line; call is the call already rendered
// before dispatch, or "" to render it now.
func (s *Sandbox) traceSyscall(t *kernel.Task, nr uintptr, args [6]uint64, ret int64, call string) {
	if call == "" {
		if t.MM == nil {
			call = syscalls.Name(nr) + "(...)"
		} else {
			call = syscalls.FormatCall(nr, args, ret, t.MM)
		}
	}
	if (nr == syscalls.SysExit || nr == syscalls.SysExitGroup) && t.Exiting() {
		fmt.Fprintf(s.strace, "[pid %d] %s = ?\n", t.TID, call)
		return
	}
	fmt.Fprintf(s.strace, "[pid %d] %s%s\n", t.TID, call, syscalls.FormatReturn(nr, ret))
}
