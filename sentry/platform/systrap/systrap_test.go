package systrap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/sentry/platform"
)

// TestStubLayout checks the constants stub.c was built with against ours.
func TestStubLayout(t *testing.T) {
	if stubBase < mm.MaxUserAddress {
		t.Fatalf("stub at %#x overlaps the library OS's user range (up to %#x)", stubBase, mm.MaxUserAddress)
	}
	want := []uint64{stubBase, ctlBase, slotSize, nSlots, reqMax, 48 + reqMax*56, 72, altStacksOff, resultsOff}
	for i, w := range want {
		if got := binary.LittleEndian.Uint64(stubCode[symStubLayout+8*i:]); got != w {
			t.Errorf("stub layout word %d = %#x, Go side has %#x", i, got, w)
		}
	}
	if ctlBase+ctlSize > 0x7fff_ffff_f000 || stubEnd() > ctlBase {
		t.Errorf("stub layout does not fit")
	}
}

func hostFSGSBase(t *testing.T) bool {
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		if t == nil {
			return false
		}
		t.Fatal(err)
	}
	for i := 0; i+16 <= len(b); i += 16 {
		if binary.LittleEndian.Uint64(b[i:]) == 26 {
			return binary.LittleEndian.Uint64(b[i+8:])&HWCap2FSGSBase != 0
		}
	}
	return false
}

// forEachMode runs f with the options the host supports: with and without
// wrfsbase, spinning and not.
func forEachMode(t *testing.T, f func(t *testing.T, opts Options)) {
	modes := map[string]Options{
		"arch_prctl": {},
		"nospin":     {NoSpin: true},
	}
	if hostFSGSBase(t) {
		modes["fsgsbase"] = Options{FSGSBase: true}
	}
	for name, o := range modes {
		t.Run(name, func(t *testing.T) { f(t, o) })
	}
}

// TestSyscallTrappedNotRun runs machine code that makes a raw exit_group
// syscall, then executes ud2. The syscall must come to the sentry without
// running, and ud2 must come back as a SIGILL fault.
func TestSyscallTrappedNotRun(t *testing.T) {
	forEachMode(t, func(t *testing.T, opts Options) {
		p, as, m := newTestAddressSpace(t, opts)
		const text = 0x400000
		mapText(t, m, text, []byte{
			0xb8, 0xe7, 0, 0, 0, // mov $231 (exit_group), %eax
			0xbf, 42, 0, 0, 0, // mov $42, %edi
			0x0f, 0x05, // syscall
			0x0f, 0x0b, // ud2
		})
		ctx := p.NewContext()
		defer ctx.Release()
		regs := arch.Registers{Rip: text, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: arch.InitialFlags, Fs_base: 0x1234000}
		exit, err := ctx.Switch(as, &regs)
		if err != nil {
			t.Fatal(err)
		}
		if exit.Kind != platform.ExitSyscall || arch.SyscallNumber(&regs) != unix.SYS_EXIT_GROUP || regs.Rdi != 42 || regs.Rip != text+12 {
			t.Fatalf("first trap = %v, nr %d, rdi %d, rip %#x; want exit_group(42)", exit, arch.SyscallNumber(&regs), regs.Rdi, regs.Rip)
		}
		if regs.Fs_base != 0x1234000 {
			t.Errorf("fs base = %#x, want %#x", regs.Fs_base, 0x1234000)
		}
		exit, err = ctx.Switch(as, &regs)
		if err != nil {
			t.Fatalf("stub did not survive its own exit_group (it ran on the host?): %v", err)
		}
		if exit.Kind != platform.ExitFault || exit.Signo != int(unix.SIGILL) || regs.Rip != text+12 {
			t.Fatalf("second trap = %v at %#x, want SIGILL at %#x", exit, regs.Rip, text+12)
		}
	})
}

// TestRegistersAndFP round-trips general registers and an SSE register
// through the workload: its code changes them and traps.
func TestRegistersAndFP(t *testing.T) {
	forEachMode(t, func(t *testing.T, opts Options) {
		p, as, m := newTestAddressSpace(t, opts)
		const text = 0x400000
		mapText(t, m, text, []byte{
			0x48, 0xff, 0xc3, // inc %rbx
			0x49, 0xff, 0xc7, // inc %r15
			0x66, 0x0f, 0xd4, 0xc0, // paddq %xmm0,%xmm0
			0x0f, 0x05, // syscall
		})
		ctx := p.NewContext()
		defer ctx.Release()
		regs := arch.Registers{Rip: text, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: arch.InitialFlags, Rbx: 41, R15: 99, Rsp: 0x7777}
		fp := make([]byte, 512)
		binary.LittleEndian.PutUint16(fp[0:], 0x37f)
		binary.LittleEndian.PutUint32(fp[24:], 0x1f80)
		binary.LittleEndian.PutUint64(fp[160:], 21) // xmm0 low
		if err := ctx.SetFPState(fp); err != nil {
			t.Fatal(err)
		}
		exit, err := ctx.Switch(as, &regs)
		if err != nil || exit.Kind != platform.ExitSyscall {
			t.Fatalf("trap = %v, %v", exit, err)
		}
		if regs.Rbx != 42 || regs.R15 != 100 || regs.Rsp != 0x7777 {
			t.Errorf("rbx %d r15 %d rsp %#x, want 42 100 0x7777", regs.Rbx, regs.R15, regs.Rsp)
		}
		got, err := ctx.FPState()
		if err != nil {
			t.Fatal(err)
		}
		if x := binary.LittleEndian.Uint64(got[160:]); x != 42 {
			t.Errorf("xmm0 = %d, want 42", x)
		}
	})
}

// TestThreadsAndInterrupt runs two contexts in one address space spinning
// in the workload; Interrupt must stop both.
func TestThreadsAndInterrupt(t *testing.T) {
	forEachMode(t, func(t *testing.T, opts Options) {
		p, as, m := newTestAddressSpace(t, opts)
		const text = 0x400000
		mapText(t, m, text, []byte{0xeb, 0xfe}) // spin: jmp spin
		errs := make(chan error, 2)
		var ctxs [2]platform.Context
		started := make(chan struct{}, 2)
		for i := range ctxs {
			ctxs[i] = p.NewContext()
			go func(c platform.Context) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				defer c.Release()
				regs := arch.Registers{Rip: text, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: arch.InitialFlags}
				started <- struct{}{}
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
		<-started
		<-started
		deadline := time.After(30 * time.Second) // a hang detector, not a timing test
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for n := 0; n < 2; {
			select {
			case err := <-errs:
				if err != nil {
					t.Fatal(err)
				}
				n++
			case <-tick.C:
				ctxs[0].Interrupt()
				ctxs[1].Interrupt()
			case <-deadline:
				t.Fatal("interrupt did not stop a spinning thread")
			}
		}
	})
}

// TestStubDeath: a stub killed from outside makes Switch fail, not hang.
func TestStubDeath(t *testing.T) {
	p, as, m := newTestAddressSpace(t, Options{})
	const text = 0x400000
	mapText(t, m, text, []byte{0xeb, 0xfe})
	ctx := p.NewContext()
	defer ctx.Release()
	go func() {
		time.Sleep(200 * time.Millisecond)
		unix.Kill(as.(*addressSpace).pid, unix.SIGKILL)
	}()
	regs := arch.Registers{Rip: text, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: arch.InitialFlags}
	done := make(chan error, 1)
	go func() {
		_, err := ctx.Switch(as, &regs)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Switch into a killed stub succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Switch hung on a killed stub")
	}
}

// TestStubCodeSyscall jumps into the stub's code, at its restorer's
// syscall instruction, with a host-only syscall number: the host must not
// run it. The stub either reports a trap or is killed by its filter.
func TestStubCodeSyscall(t *testing.T) {
	p, as, m := newTestAddressSpace(t, Options{})
	const text = 0x400000
	// mov $169 (reboot), %eax; movabs $target, %rcx; jmp *%rcx
	code := []byte{0xb8, 169, 0, 0, 0, 0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe1}
	binary.LittleEndian.PutUint64(code[7:], stubCodeBase+symStubRestorer+5)
	mapText(t, m, text, code)
	ctx := p.NewContext()
	defer ctx.Release()
	regs := arch.Registers{Rip: text, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: arch.InitialFlags}
	exit, err := ctx.Switch(as, &regs)
	switch {
	case err == nil && exit.Kind == platform.ExitSyscall:
		t.Logf("reboot from stub code trapped: %v", exit)
	case err == nil:
		t.Fatalf("reboot from stub code: %v, want a trap or the stub's death", exit)
	default:
		t.Logf("reboot from stub code killed the stub: %v", err)
	}
}

// TestStubCodeSetup: the calls a new stub thread makes before its thread
// filter (sigaltstack, rt_sigprocmask, seccomp) trap when a workload
// thread makes them from the stub's code.
func TestStubCodeSetup(t *testing.T) {
	for _, nr := range []uint64{unix.SYS_SIGALTSTACK, unix.SYS_RT_SIGPROCMASK, unix.SYS_SECCOMP, unix.SYS_MMAP, unix.SYS_CLONE} {
		p, as, m := newTestAddressSpace(t, Options{})
		const text = 0x400000
		// mov $nr, %eax; movabs $target, %rcx; jmp *%rcx
		code := []byte{0xb8, 0, 0, 0, 0, 0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xe1}
		binary.LittleEndian.PutUint32(code[1:], uint32(nr))
		binary.LittleEndian.PutUint64(code[7:], stubCodeBase+symStubRestorer+5)
		mapText(t, m, text, code)
		ctx := p.NewContext()
		regs := arch.Registers{Rip: text, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: arch.InitialFlags}
		exit, err := ctx.Switch(as, &regs)
		if err != nil || exit.Kind != platform.ExitSyscall || arch.SyscallNumber(&regs) != uintptr(nr) {
			t.Errorf("syscall %d from stub code: %v, %v, nr %d; want it trapped", nr, exit, err, arch.SyscallNumber(&regs))
		}
		ctx.Release()
	}
}

func mapText(t *testing.T, m *mm.MemoryManager, addr uint64, code []byte) {
	t.Helper()
	if _, err := m.Map(mm.MapOpts{Addr: addr, Length: 4096, Prot: mm.ProtRead | mm.ProtExec, Fixed: true}); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteImage(addr, code); err != nil {
		t.Fatal(err)
	}
}

// newTestAddressSpace starts a stub over a 1 MiB memory file, with a
// memory manager for it; the stub is released when the test ends.
func newTestAddressSpace(t *testing.T, opts Options) (*Platform, platform.AddressSpace, *mm.MemoryManager) {
	t.Helper()
	fd, err := unix.MemfdCreate("systrap-test", unix.MFD_CLOEXEC)
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
	p, err := New(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	as, err := p.NewAddressSpace(mem, "workload-name")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(as.Release)
	return p, as, mm.New(mem, as)
}

// TestStubNamedAfterWorkload: the host shows a stub by its workload
// process's name (ps, docker top), not as exo-stub.
func TestStubNamedAfterWorkload(t *testing.T) {
	_, as, _ := newTestAddressSpace(t, Options{})
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", as.(*addressSpace).pid))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(comm)); got != "workload-name" {
		t.Errorf("stub's comm is %q, want %q", got, "workload-name")
	}
}

// TestStubUpToDate regenerates stub_amd64.go when the compiler that made
// it is at hand, and requires the same result: stub.c and the checked-in
// code must not drift apart.
func TestStubUpToDate(t *testing.T) {
	out, err := exec.Command("gcc", "--version").Output()
	if err != nil {
		t.Skip("no gcc:", err)
	}
	if v, _, _ := strings.Cut(string(out), "\n"); v != stubCompiler {
		t.Skipf("gcc is %q, the stub was built with %q", v, stubCompiler)
	}
	gen := filepath.Join(t.TempDir(), "stub_amd64.go")
	if out, err := exec.Command("go", "run", "./genstub", gen).CombinedOutput(); err != nil {
		t.Fatalf("genstub: %v\n%s", err, out)
	}
	want, err := os.ReadFile(gen)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("stub_amd64.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("stub_amd64.go is stale: run `go generate ./sentry/platform/systrap`")
	}
}

// TestBatchMapping maps more pages than one batch holds in one MapFiles
// call, checks the stub's mappings, and that a failing call in a batch
// reports its error.
func TestBatchMapping(t *testing.T) {
	_, pas, _ := newTestAddressSpace(t, Options{})
	as := pas.(*addressSpace)
	const base, n = 0x500000, reqMax + 8
	var maps []mm.HostMap
	for i := range n {
		maps = append(maps, mm.HostMap{Addr: base + uint64(i)*0x2000, Length: 0x1000, Offset: uint64(i) * 0x1000, Prot: mm.ProtRead})
	}
	if err := as.MapFiles(maps); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", as.pid))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, l := range strings.Split(string(b), "\n") {
		var lo, hi uint64
		if _, err := fmt.Sscanf(l, "%x-%x", &lo, &hi); err == nil && lo >= base && hi <= base+2*n*0x1000 {
			got++
		}
	}
	if got != n {
		t.Errorf("%d mappings in the stub, want %d:\n%s", got, n, b)
	}
	err = as.MapFiles([]mm.HostMap{{Addr: base, Length: 0x1000, Prot: mm.ProtRead}, {Addr: base + 1, Length: 0x1000, Prot: mm.ProtRead}})
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("batch with an unaligned mapping: %v, want EINVAL", err)
	}
}

// BenchmarkSyscall is the platform's own round trip: a workload loop of
// raw syscalls, each served by doing nothing.
func BenchmarkSyscall(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd, err := unix.MemfdCreate("systrap-bench", unix.MFD_CLOEXEC)
	if err != nil {
		b.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "mem")
	defer f.Close()
	f.Truncate(1 << 20)
	mem, err := mm.NewMemoryFile(f, 1<<20)
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(b.TempDir(), Options{FSGSBase: hostFSGSBase(nil)})
	if err != nil {
		b.Fatal(err)
	}
	as, err := p.NewAddressSpace(mem, "test")
	if err != nil {
		b.Fatal(err)
	}
	defer as.Release()
	m := mm.New(mem, as)
	const text = 0x400000
	if _, err := m.Map(mm.MapOpts{Addr: text, Length: 4096, Prot: mm.ProtRead | mm.ProtExec, Fixed: true}); err != nil {
		b.Fatal(err)
	}
	m.WriteImage(text, []byte{0x0f, 0x05, 0xeb, 0xfc}) // syscall; jmp back
	ctx := p.NewContext()
	defer ctx.Release()
	regs := arch.Registers{Rip: text, Cs: arch.UserCS, Ss: arch.UserSS, Eflags: arch.InitialFlags}
	b.ResetTimer()
	for range b.N {
		if _, err := ctx.Switch(as, &regs); err != nil {
			b.Fatal(err)
		}
	}
}
