package ptrace

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/sentry/platform"
)

func TestStubAboveUserRange(t *testing.T) {
	if stubBase < mm.MaxUserAddress {
		t.Fatalf("stub at %#x overlaps the library OS's user range (up to %#x)", stubBase, mm.MaxUserAddress)
	}
}

// TestSyscallTrappedNotRun runs machine code that makes a raw exit_group
// syscall, then executes ud2. The syscall must stop in the sentry without
// running (the stub stays alive), and ud2 must come back as a SIGILL fault.
func TestSyscallTrappedNotRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ptrace stubs need root here")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p, as, m := newTestAddressSpace(t)
	const text = 0x400000
	if _, err := m.Map(mm.MapOpts{Addr: text, Length: 4096, Prot: mm.ProtRead | mm.ProtExec, Fixed: true}); err != nil {
		t.Fatal(err)
	}
	code := []byte{
		0xb8, 0xe7, 0, 0, 0, // mov $231 (exit_group), %eax
		0xbf, 42, 0, 0, 0, // mov $42, %edi
		0x0f, 0x05, // syscall
		0x0f, 0x0b, // ud2
	}
	if err := m.WriteImage(text, code); err != nil {
		t.Fatal(err)
	}
	ctx := p.NewContext()
	defer ctx.Release()
	regs := arch.Registers{Rip: text, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: arch.InitialFlags}
	exit, err := ctx.Switch(as, &regs)
	if err != nil {
		t.Fatal(err)
	}
	if exit.Kind != platform.ExitSyscall || arch.SyscallNumber(&regs) != unix.SYS_EXIT_GROUP || regs.Rdi != 42 {
		t.Fatalf("first trap = %v, nr %d, rdi %d; want exit_group(42)", exit, arch.SyscallNumber(&regs), regs.Rdi)
	}
	exit, err = ctx.Switch(as, &regs)
	if err != nil {
		t.Fatalf("stub did not survive its own exit_group (it ran on the host?): %v", err)
	}
	if exit.Kind != platform.ExitFault || exit.Signo != int(unix.SIGILL) || regs.Rip != text+12 {
		t.Fatalf("second trap = %v at %#x, want SIGILL at %#x", exit, regs.Rip, text+12)
	}
}

// TestThreadsAndInterrupt runs two contexts in one address space: both see
// the same memory, and Interrupt stops a thread spinning in the workload.
func TestThreadsAndInterrupt(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ptrace stubs need root here")
	}
	p, as, m := newTestAddressSpace(t)
	const text = 0x400000
	if _, err := m.Map(mm.MapOpts{Addr: text, Length: 4096, Prot: mm.ProtRead | mm.ProtExec, Fixed: true}); err != nil {
		t.Fatal(err)
	}
	// spin: jmp spin
	if err := m.WriteImage(text, []byte{0xeb, 0xfe}); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	var ctxs [2]platform.Context
	ready := make(chan struct{}, 2)
	for i := range ctxs {
		ctxs[i] = p.NewContext()
		go func(c platform.Context) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			defer c.Release()
			regs := arch.Registers{Rip: text, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: arch.InitialFlags}
			ready <- struct{}{}
			for {
				exit, err := c.Switch(as, &regs)
				if err != nil {
					errs <- err
					return
				}
				if exit.Kind == platform.ExitInterrupt {
					errs <- nil
					return
				}
			}
		}(ctxs[i])
	}
	<-ready
	<-ready
	for i := 0; i < 2; i++ {
		// Keep interrupting until each context has seized its thread.
		deadline := time.After(10 * time.Second)
		tick := time.NewTicker(10 * time.Millisecond)
	loop:
		for {
			select {
			case err := <-errs:
				if err != nil {
					t.Fatal(err)
				}
				break loop
			case <-tick.C:
				ctxs[0].Interrupt()
				ctxs[1].Interrupt()
			case <-deadline:
				t.Fatal("interrupt did not stop a spinning thread")
			}
		}
		tick.Stop()
	}
}

// newTestAddressSpace starts a stub over a 1 MiB memory file, with a
// memory manager for it; the stub is released when the test ends.
func newTestAddressSpace(t *testing.T) (*Platform, platform.AddressSpace, *mm.MemoryManager) {
	t.Helper()
	fd, err := unix.MemfdCreate("ptrace-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "mem")
	t.Cleanup(func() { f.Close() })
	f.Truncate(1 << 20)
	mem, err := mm.NewMemoryFile(f, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	as, err := p.NewAddressSpace(mem, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.Release)
	return p, as, mm.New(mem, as)
}
