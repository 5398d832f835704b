// Package ptrace is the reference platform: each workload process is a stub
// process, each of its threads a stub thread traced with PTRACE_SYSEMU, so
// its syscalls stop in the sentry and never run on the host.
//
// Linux binds a tracee to one tracing thread. So each address space has a
// worker goroutine, locked to its OS thread, that owns the stub's first
// thread and injects the host syscalls that change the address space; and
// each task's Context, used from the task's own locked goroutine, seizes a
// stub thread of its own in every address space it runs in.
package ptrace

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/sentry/platform"
	"exokernelul.dev/exo/sentry/platform/internal/hoststub"
)

// interruptSignal is what Interrupt sends to a stub thread. The library OS
// never lets the workload see host signals directly, and SIGCHLD's host
// default action is to ignore it, so a stray one before a thread is seized
// does no harm.
const interruptSignal = unix.SIGCHLD

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

// request is an address-space operation for the worker goroutine.
type request struct {
	nr    uintptr
	args  []uint64
	entry uint64
	reply chan result
}

type result struct {
	val uint64
	err error
}

// addressSpace is one stub process.
type addressSpace struct {
	pid  int
	reqs chan request
	done chan struct{}
	// gone is closed when the worker has killed and reaped the stub.
	gone chan struct{}
	once sync.Once
	// cpu is the stub's CPU time in nanoseconds, taken just before the
	// worker kills it (until then CPUTime reads the live clock).
	cpu atomic.Int64
}

// NewAddressSpace implements platform.Platform: it starts a worker whose
// OS thread starts and traces the stub.
// The ptrace stubs are not named after their workload (name is unused):
// they all show as exo-stub.
func (p *Platform) NewAddressSpace(mem *mm.MemoryFile, name string) (platform.AddressSpace, error) {
	as := &addressSpace{reqs: make(chan request), done: make(chan struct{}), gone: make(chan struct{})}
	started := make(chan error)
	go as.worker(p.stubPath, mem.FD(), started)
	if err := <-started; err != nil {
		<-as.gone
		return nil, err
	}
	return as, nil
}

func (as *addressSpace) worker(stubPath string, memFD int, started chan<- error) {
	// The thread stays locked until the goroutine exits, and then dies with
	// it: it is the stub's tracer and must not run anything else.
	runtime.LockOSThread()
	pid, err := syscall.ForkExec(stubPath, []string{"exo-stub"}, &syscall.ProcAttr{
		Env:   []string{},
		Files: []uintptr{uintptr(memFD)}, // becomes stubMemFD
		Sys: &syscall.SysProcAttr{
			Ptrace:    true,
			Pdeathsig: syscall.SIGKILL,
			// Its own session: a terminal's signals go to the runtime,
			// which forwards them, never straight to a stub.
			Setsid: true,
		},
	})
	if err != nil {
		started <- fmt.Errorf("start ptrace stub: %w", err)
		return
	}
	as.pid = pid
	t := &thread{tid: pid}
	if err := as.initStub(t); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		waitExit(pid)
		close(as.gone)
		started <- err
		return
	}
	started <- nil
	for {
		select {
		case r := <-as.reqs:
			v, err := t.inject(r.entry, r.nr, r.args...)
			r.reply <- result{v, err}
		case <-as.done:
			as.cpu.Store(int64(as.liveCPUTime()))
			unix.Kill(pid, unix.SIGKILL)
			waitExit(pid)
			close(as.gone)
			return
		}
	}
}

func (as *addressSpace) initStub(t *thread) error {
	ws, err := t.wait()
	if err != nil {
		return err
	}
	if !ws.Stopped() || ws.StopSignal() != unix.SIGTRAP {
		return fmt.Errorf("ptrace stub %d: unexpected first stop %#x", t.tid, uint32(ws))
	}
	if err := unix.PtraceSetOptions(t.tid, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		return fmt.Errorf("ptrace stub %d: set options: %w", t.tid, err)
	}
	if err := unix.PtraceGetRegs(t.tid, &t.base); err != nil {
		return fmt.Errorf("ptrace stub %d: get registers: %w", t.tid, err)
	}
	// Clear everything the kernel put in the stub (its stack, the host
	// vDSO) so the workload's address space holds only what the library
	// OS maps.
	if _, err := t.inject(stubInject, unix.SYS_MUNMAP, 0, stubBase); err != nil {
		return fmt.Errorf("ptrace stub %d: clear low address space: %w", t.tid, err)
	}
	const taskSize = 0x7fff_ffff_f000
	if _, err := t.inject(stubInject, unix.SYS_MUNMAP, stubBase+stubSize, taskSize-(stubBase+stubSize)); err != nil {
		return fmt.Errorf("ptrace stub %d: clear high address space: %w", t.tid, err)
	}
	return nil
}

// call runs a host syscall in the stub through the worker.
func (as *addressSpace) call(entry uint64, nr uintptr, args ...uint64) (uint64, error) {
	r := request{nr: nr, args: args, entry: entry, reply: make(chan result, 1)}
	select {
	case as.reqs <- r:
	case <-as.done:
		return 0, fmt.Errorf("ptrace stub %d: address space released", as.pid)
	}
	res := <-r.reply
	return res.val, res.err
}

// MapFile implements mm.HostMapper.
func (as *addressSpace) MapFile(addr, length, offset uint64, prot mm.Prot) error {
	_, err := as.call(stubInject, unix.SYS_MMAP, addr, length, uint64(prot), unix.MAP_SHARED|unix.MAP_FIXED, stubMemFD, offset)
	return err
}

// Unmap implements mm.HostMapper.
func (as *addressSpace) Unmap(addr, length uint64) error {
	_, err := as.call(stubInject, unix.SYS_MUNMAP, addr, length)
	return err
}

// Protect implements mm.HostMapper.
func (as *addressSpace) Protect(addr, length uint64, prot mm.Prot) error {
	_, err := as.call(stubInject, unix.SYS_MPROTECT, addr, length, uint64(prot))
	return err
}

// newThread clones a parked thread in the stub and returns its tid.
func (as *addressSpace) newThread() (int, error) {
	const flags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD | unix.CLONE_SYSVSEM
	tid, err := as.call(stubClone, unix.SYS_CLONE, flags, 0, 0, 0, 0)
	return int(tid), err
}

// CPUTime implements platform.AddressSpace: the host's account of the
// CPU the stub's threads used, read from its process CPU clock.
func (as *addressSpace) CPUTime() time.Duration {
	select {
	case <-as.gone:
		return time.Duration(as.cpu.Load())
	default:
		return as.liveCPUTime()
	}
}

func (as *addressSpace) liveCPUTime() time.Duration {
	d, err := hoststub.CPUTime(as.pid)
	if err != nil {
		return time.Duration(as.cpu.Load())
	}
	return d
}

// Release implements platform.AddressSpace. It returns once the stub is
// gone from the host, so a pids limit in the library OS bounds the host's
// stubs too. Threads of the address space must have been released first.
func (as *addressSpace) Release() {
	as.once.Do(func() { close(as.done) })
	<-as.gone
}

// waitExit reaps a traced thread that is on its way out. Stops it reports
// first (an interrupt signal still queued for it) are let go, so the exit
// can proceed.
func waitExit(pid int) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(pid, &ws, unix.WALL, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil, ws.Exited(), ws.Signaled():
			return
		case ws.Stopped():
			unix.PtraceCont(pid, 0)
		}
	}
}

// thread is one traced stub thread.
type thread struct {
	tid int
	// base holds register values valid for running stub code in this
	// thread, the template for injected syscalls.
	base arch.Registers
}

func (t *thread) wait() (unix.WaitStatus, error) {
	var ws unix.WaitStatus
	for {
		_, err := unix.Wait4(t.tid, &ws, unix.WALL, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return ws, fmt.Errorf("wait for stub thread %d: %w", t.tid, err)
		}
		if ws.Exited() || ws.Signaled() {
			return ws, fmt.Errorf("stub thread %d died (status %#x)", t.tid, uint32(ws))
		}
		return ws, nil
	}
}

// inject makes a host syscall inside the stub thread, starting at entry.
func (t *thread) inject(entry uint64, nr uintptr, args ...uint64) (uint64, error) {
	regs := t.base
	regs.Rax = uint64(nr)
	regs.Orig_rax = ^uint64(0)
	regs.Rip = entry
	dst := []*uint64{&regs.Rdi, &regs.Rsi, &regs.Rdx, &regs.R10, &regs.R8, &regs.R9}
	for i, a := range args {
		*dst[i] = a
	}
	if err := unix.PtraceSetRegs(t.tid, &regs); err != nil {
		return 0, fmt.Errorf("set registers: %w", err)
	}
	if err := unix.PtraceCont(t.tid, 0); err != nil {
		return 0, fmt.Errorf("continue: %w", err)
	}
	for {
		ws, err := t.wait()
		if err != nil {
			return 0, err
		}
		if ws.Stopped() && ws.StopSignal() == unix.SIGTRAP {
			break
		}
		if ws.Stopped() && ws.StopSignal() == interruptSignal {
			// An interrupt meant for a workload thread of this stub;
			// drop it and finish the injected call.
			if err := unix.PtraceCont(t.tid, 0); err != nil {
				return 0, fmt.Errorf("continue: %w", err)
			}
			continue
		}
		return 0, fmt.Errorf("injected syscall %d: unexpected stop %#x", nr, uint32(ws))
	}
	if err := unix.PtraceGetRegs(t.tid, &regs); err != nil {
		return 0, fmt.Errorf("get registers: %w", err)
	}
	if ret := int64(regs.Rax); ret < 0 && ret > -4096 {
		return 0, unix.Errno(-ret)
	}
	return regs.Rax, nil
}

// NewContext implements platform.Platform.
func (p *Platform) NewContext() platform.Context { return &context{} }

// context is one task's view: the stub thread it has seized in the address
// space it last ran in.
type context struct {
	as     *addressSpace
	thread *thread

	mu  sync.Mutex // guards tid for Interrupt
	tid int
	pid int
	// pendingFP is state to load into the next thread the context seizes.
	pendingFP []byte
}

// Switch implements platform.Context.
func (c *context) Switch(pas platform.AddressSpace, regs *arch.Registers) (platform.Exit, error) {
	as := pas.(*addressSpace)
	if c.as != as {
		if err := c.enter(as); err != nil {
			return platform.Exit{}, err
		}
	}
	t := c.thread
	// orig_rax = -1 keeps the kernel's syscall restart logic away from
	// registers the library OS set.
	saved := regs.Orig_rax
	regs.Orig_rax = ^uint64(0)
	err := unix.PtraceSetRegs(t.tid, regs)
	regs.Orig_rax = saved
	if err != nil {
		return platform.Exit{}, fmt.Errorf("stub thread %d: set registers: %w", t.tid, err)
	}
	// PTRACE_SYSEMU stops the thread at its next syscall without running
	// it; this is the whole isolation wall of this platform.
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SYSEMU, uintptr(t.tid), 0, 0, 0, 0); e != 0 {
		return platform.Exit{}, fmt.Errorf("stub thread %d: resume: %w", t.tid, e)
	}
	ws, err := t.wait()
	if err != nil {
		return platform.Exit{}, err
	}
	if err := unix.PtraceGetRegs(t.tid, regs); err != nil {
		return platform.Exit{}, fmt.Errorf("stub thread %d: get registers: %w", t.tid, err)
	}
	if !ws.Stopped() {
		return platform.Exit{}, fmt.Errorf("stub thread %d: unexpected wait status %#x", t.tid, uint32(ws))
	}
	sig := ws.StopSignal()
	if sig == unix.SIGTRAP|0x80 {
		return platform.Exit{Kind: platform.ExitSyscall}, nil
	}
	if ws.TrapCause() == unix.PTRACE_EVENT_STOP {
		return platform.Exit{Kind: platform.ExitInterrupt}, nil
	}
	var info siginfo
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(t.tid), 0, uintptr(unsafe.Pointer(&info)), 0, 0); e != 0 {
		return platform.Exit{}, fmt.Errorf("stub thread %d: get siginfo: %w", t.tid, e)
	}
	switch sig {
	case unix.SIGSEGV, unix.SIGBUS, unix.SIGFPE, unix.SIGILL, unix.SIGTRAP:
		// si_code > 0 means the kernel raised it for an instruction;
		// otherwise someone sent it with kill and it is a host signal.
		if info.Code > 0 {
			return platform.Exit{Kind: platform.ExitFault, Signo: int(sig), Code: int(info.Code), Addr: info.Addr}, nil
		}
	case interruptSignal:
		return platform.Exit{Kind: platform.ExitInterrupt}, nil
	}
	return platform.Exit{Kind: platform.ExitSignal, Signo: int(sig)}, nil
}

// enter leaves the current address space and seizes a new thread in as.
func (c *context) enter(as *addressSpace) error {
	c.leave()
	tid, err := as.newThread()
	if err != nil {
		return fmt.Errorf("ptrace: new stub thread: %w", err)
	}
	const opts = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_EXITKILL
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(tid), 0, opts, 0, 0); e != 0 {
		unix.Tgkill(as.pid, tid, unix.SIGKILL)
		return fmt.Errorf("ptrace: seize stub thread %d: %w", tid, e)
	}
	t := &thread{tid: tid}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(tid), 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("ptrace: interrupt stub thread %d: %w", tid, e)
	}
	for {
		ws, err := t.wait()
		if err != nil {
			return err
		}
		if ws.Stopped() && ws.TrapCause() == unix.PTRACE_EVENT_STOP {
			break
		}
		// A signal that reached the parked thread first: drop it.
		if err := unix.PtraceCont(tid, 0); err != nil {
			return fmt.Errorf("ptrace: continue stub thread %d: %w", tid, err)
		}
	}
	if err := unix.PtraceGetRegs(tid, &t.base); err != nil {
		return fmt.Errorf("ptrace: registers of stub thread %d: %w", tid, err)
	}
	c.as, c.thread = as, t
	c.mu.Lock()
	c.tid, c.pid = tid, as.pid
	c.mu.Unlock()
	if c.pendingFP != nil {
		fp := c.pendingFP
		c.pendingFP = nil
		if err := c.SetFPState(fp); err != nil {
			return err
		}
	}
	return nil
}

// leave ends the context's thread in its current address space: the thread
// makes an exit syscall, so the rest of the stub lives on.
func (c *context) leave() {
	if c.thread == nil {
		return
	}
	t := c.thread
	c.mu.Lock()
	c.tid, c.pid = 0, 0
	c.mu.Unlock()
	c.as, c.thread = nil, nil
	regs := t.base
	regs.Rip, regs.Rax, regs.Rdi, regs.Orig_rax = stubInject, unix.SYS_EXIT, 0, ^uint64(0)
	if unix.PtraceSetRegs(t.tid, &regs) == nil && unix.PtraceCont(t.tid, 0) == nil {
		waitExit(t.tid)
		return
	}
	// The stub is gone already (its address space was released).
	waitExit(t.tid)
}

// Interrupt implements platform.Context.
func (c *context) Interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tid != 0 {
		unix.Tgkill(c.pid, c.tid, interruptSignal)
	}
}

// FPState implements platform.Context.
func (c *context) FPState() ([]byte, error) {
	if c.thread == nil {
		if c.pendingFP != nil {
			return append([]byte(nil), c.pendingFP...), nil
		}
		return nil, nil
	}
	if xs, err := c.xstate(); err == nil {
		return xs, nil
	}
	fp := make([]byte, 512)
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETFPREGS, uintptr(c.thread.tid), 0, uintptr(unsafe.Pointer(&fp[0])), 0, 0); e != 0 {
		return nil, fmt.Errorf("stub thread %d: get fp registers: %w", c.thread.tid, e)
	}
	return fp, nil
}

// ntX86Xstate is the regset of the whole xsave state (NT_X86_XSTATE); its
// first software-reserved word is XCR0, the features the kernel enabled,
// where gdb looks for it.
const ntX86Xstate = 0x202

// maxXstate bounds the xsave image asked for.
const maxXstate = 64 << 10

// xstate reads the thread's xsave image, cut to the size the image itself
// gives; an error on a CPU or kernel without it.
func (c *context) xstate() ([]byte, error) {
	buf := make([]byte, maxXstate)
	iov := unix.Iovec{Base: &buf[0], Len: uint64(len(buf))}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGSET, uintptr(c.thread.tid), ntX86Xstate, uintptr(unsafe.Pointer(&iov)), 0, 0); e != 0 {
		return nil, e
	}
	n := int(iov.Len)
	if n <= 576 {
		return nil, fmt.Errorf("stub thread %d: xstate regset of %d bytes", c.thread.tid, n)
	}
	img := buf[:n:n]
	// Described as a signal frame's image is, which is what the rest of
	// the sentry reads.
	xcr0 := binary.LittleEndian.Uint64(img[464:])
	clear(img[464:512])
	binary.LittleEndian.PutUint32(img[464:], 0x46505853) // FP_XSTATE_MAGIC1
	binary.LittleEndian.PutUint32(img[468:], uint32(n)+4)
	binary.LittleEndian.PutUint64(img[472:], xcr0)
	binary.LittleEndian.PutUint32(img[480:], uint32(n))
	return img, nil
}

// SetFPState implements platform.Context.
func (c *context) SetFPState(fp []byte) error {
	if len(fp) < 512 {
		return fmt.Errorf("fp state of %d bytes, want 512", len(fp))
	}
	if c.thread == nil {
		c.pendingFP = append([]byte(nil), fp...)
		return nil
	}
	if cur, err := c.xstate(); err == nil {
		arch.MergeFPState(cur, fp)
		xcr0 := binary.LittleEndian.Uint64(cur[472:])
		clear(cur[464:512])
		binary.LittleEndian.PutUint64(cur[464:], xcr0)
		iov := unix.Iovec{Base: &cur[0], Len: uint64(len(cur))}
		if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SETREGSET, uintptr(c.thread.tid), ntX86Xstate, uintptr(unsafe.Pointer(&iov)), 0, 0); e != 0 {
			return fmt.Errorf("stub thread %d: set xstate: %w", c.thread.tid, e)
		}
		return nil
	}
	if _, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SETFPREGS, uintptr(c.thread.tid), 0, uintptr(unsafe.Pointer(&fp[0])), 0, 0); e != 0 {
		return fmt.Errorf("stub thread %d: set fp registers: %w", c.thread.tid, e)
	}
	return nil
}

// Release implements platform.Context.
func (c *context) Release() { c.leave() }

// siginfo is the head of the kernel's siginfo_t for fault signals.
type siginfo struct {
	Signo int32
	Errno int32
	Code  int32
	_     int32
	Addr  uint64
	_     [112]byte
}
