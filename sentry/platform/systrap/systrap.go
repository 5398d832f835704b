// Package systrap is the default platform: every workload thread runs in a
// stub process under a seccomp filter that turns each of its syscalls into
// a SIGSYS, and the stub's handler hands the thread's registers to the
// sentry through memory both share, instead of stopping under ptrace.
//
// A stub process maps, besides the workload's memory, a control file the
// sentry maps too: read-only in the stub, a config page (the BPF filters,
// the batch of address-space calls the sentry wants) and the table of the
// threads' signal stacks; writable, a result page and one slot per thread
// holding its message (state word, trap details, spin budget) and its
// signal stack. The kernel writes the signal frame, the ucontext with the
// registers and the xsave area, onto that stack, so the sentry reads and
// replaces registers in place and the handler's rt_sigreturn loads them.
//
// The stub's first thread is the address-space worker: assembly that keeps
// its state in registers and runs mmap, munmap, mprotect and clone in
// batches the sentry writes into the read-only page, reporting completion
// through an eventfd that no workload thread may write to.
package systrap

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
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

// interruptSignal is what Interrupt sends to a stub thread; the stub
// handles it like a trap. Nothing else sends SIGCHLD to a stub: its
// processes have no children.
const interruptSignal = unix.SIGCHLD

// Spinning: each side of a handoff polls the other's answer for a while
// before it sleeps on a futex. A round trip with both sides asleep costs two
// futex wakes and two trips through the scheduler; a polled one costs the
// signal alone. How long to poll adapts per thread (spinBudget): a poll
// that found the answer restores the maximum below, one that had to sleep
// halves it, down to nothing, so a side whose polls keep failing (more
// runnable threads than CPUs, where a spinner only delays the thread it
// waits for, or a blocking syscall) soon stops spinning. With one CPU
// neither side spins at all.
//
// The maxima were measured on the reference 2-core machine (AMD EPYC VM,
// PAUSE ≈ 28 ns) with the getpid loop of tools/bench/c/loop.c (20000
// calls, three runs), EXO_SYSTRAP_SPIN=STUB,SENTRY, everything under
// `chrt -f 10` so that other jobs on the machine (load average 12) did not
// take the CPUs away mid-measurement:
//
//	stub,sentry   ns/getpid      (native ≈ 175, SIGSYS floor ≈ 2830-3120)
//	0,0           35000-38100    every handoff sleeps and wakes
//	5µs,10µs       7700-10200
//	10µs,20µs      4310-4540
//	20µs,50µs      4200-4250
//	50µs,100µs     4070-4170
//
// 20 µs and 50 µs are the knee: longer budgets gain little and cost CPU
// (the stub's poll counts as the workload's CPU time, the sentry's does
// not) whenever the other side is slow. Without chrt, with the same load,
// every budget gives 10-30 µs: both sides are descheduled for longer than
// any budget, and polling only makes it worse, which the adaptation
// (halving on failure) limits.
var (
	// maxStubSpin bounds the stub's wait for the sentry's answer.
	maxStubSpin = 20 * time.Microsecond
	// maxSentrySpin bounds the sentry's wait for the next trap: the
	// signal round trip plus the workload's own work between syscalls.
	maxSentrySpin = 50 * time.Microsecond
)

// probeEvery: once a side has stopped spinning, every probeEvery-th
// handoff spins with the full budget again, to notice when CPUs free up.
const probeEvery = 16

// spinBudget is one side's adaptive polling budget for one thread: a poll
// that found the answer restores the full budget, one that had to sleep
// halves it, and below a sixteenth of the maximum it stops.
type spinBudget struct {
	cur, max time.Duration
	n        int
}

func newSpinBudget(max time.Duration) spinBudget { return spinBudget{cur: max, max: max} }

func (b *spinBudget) next() time.Duration {
	if b.cur == 0 && b.max > 0 {
		b.n++
		if b.n%probeEvery == 0 {
			return b.max
		}
	}
	return b.cur
}

func (b *spinBudget) result(found bool) {
	if found {
		b.cur = b.max
		return
	}
	if b.cur /= 2; b.cur < b.max/16 {
		b.cur = 0
	}
}

// pauseNs is the measured cost of one PAUSE instruction, to turn the
// stub's budget into the iterations its loop counts.
var pauseNs = sync.OnceValue(func() float64 {
	const n = 2000
	start := time.Now()
	for range n {
		cpuRelax()
	}
	return max(float64(time.Since(start).Nanoseconds())/n, 1)
})

// futexTimeout bounds each sleep so a stub that died without clearing its
// state word (a process's last thread does not) is noticed.
const futexTimeout = 100 * time.Millisecond

// Options configure the platform.
type Options struct {
	// FSGSBase says the host lets user code use rd/wrfsbase (AT_HWCAP2
	// bit 1); otherwise the stub sets FS with arch_prctl when it changes.
	FSGSBase bool
	// NoSpin disables spinning, as on a machine with one CPU.
	NoSpin bool
	// PlaceThread, if set, is told of each stub thread that will run
	// workload code (its stub's pid and its tid), once it exists; the
	// address-space worker is not.
	PlaceThread func(pid, tid int)
}

// Platform creates systrap stubs from a stub executable.
type Platform struct {
	stubPath string
	opts     Options
	cfg      config
	// spawn runs stub starts on one OS thread that lives as long as the
	// platform: a stub's parent-death signal fires when the thread that
	// forked it exits, not the process.
	spawn chan func()
}

// HWCap2FSGSBase is AT_HWCAP2's bit for FSGSBASE in user mode.
const HWCap2FSGSBase = 1 << 1

// New writes the stub executable into dir (a directory private to the
// sentry) and returns the platform.
func New(dir string, opts Options) (*Platform, error) {
	path := dir + "/exo-stub"
	if err := os.WriteFile(path, stubImage(), 0o500); err != nil {
		return nil, fmt.Errorf("write systrap stub: %w", err)
	}
	pf, err := processFilter()
	if err != nil {
		return nil, fmt.Errorf("systrap process filter: %w", err)
	}
	tf, err := threadFilter()
	if err != nil {
		return nil, fmt.Errorf("systrap thread filter: %w", err)
	}
	if v := os.Getenv("EXO_SYSTRAP_SPIN"); v != "" {
		// For measuring: "STUB,SENTRY" maxima as Go durations.
		a, b, _ := strings.Cut(v, ",")
		if d, err := time.ParseDuration(a); err == nil {
			maxStubSpin = d
		}
		if d, err := time.ParseDuration(b); err == nil {
			maxSentrySpin = d
		}
	}
	if runtime.NumCPU() < 2 || runtime.GOMAXPROCS(0) < 2 {
		// Spinning on the only CPU keeps the other side from running.
		opts.NoSpin = true
	}
	p := &Platform{stubPath: path, opts: opts, spawn: make(chan func())}
	p.cfg.processFilter, p.cfg.threadFilter = pf, tf
	go func() {
		runtime.LockOSThread() // never unlocked: see spawn
		for f := range p.spawn {
			f()
		}
	}()
	return p, nil
}

// stubName is what a stub for a process named name calls itself: the
// name, or exo-stub for none.
func stubName(name string) string {
	if name == "" || strings.ContainsRune(name, 0) {
		return "exo-stub"
	}
	return name
}

// Name implements platform.Platform.
func (*Platform) Name() string { return "systrap" }

type config struct {
	processFilter, threadFilter []unix.SockFilter
}

// Mirrors of stub.c's structures.
type sockFprog struct {
	Len    uint16
	_      [6]byte
	Filter uint64
}

type request struct {
	Nr   uint64
	Args [6]uint64
}

type configPage struct {
	_           uint32
	FSGSBase    uint32
	ProcessProg sockFprog
	ThreadProg  sockFprog
	ReqSeq      uint32
	ReqCount    uint32
	Reqs        [reqMax]request
}

type msg struct {
	State         uint32
	StubWaiting   uint32
	SentryWaiting uint32
	Signo         int32
	Code          int32
	Nr            int32
	Addr          uint64
	Uc            uint64
	FSBase        uint64
	GSBase        uint64
	FSBaseCur     uint64
	Spin          uint32
}

// sigcontext is the kernel's struct sigcontext (x86-64), inside the
// ucontext at offset ucMcontext.
type sigcontext struct {
	R8, R9, R10, R11, R12, R13, R14, R15 uint64
	Rdi, Rsi, Rbp, Rbx, Rdx, Rax, Rcx    uint64
	Rsp, Rip, Eflags                     uint64
	Cs, Gs, Fs, Ss                       uint16
	Err, Trapno, Oldmask, Cr2, Fpstate   uint64
}

const (
	ucMcontext = 40
	ucSize     = ucMcontext + 256 + 8 // with uc_sigmask
	// fpSize is the legacy (fxsave) part of a frame's FP area; an
	// xsave image says its own size (arch.XstateSize).
	fpSize = 512
)

// addressSpace is one stub process.
type addressSpace struct {
	p      *Platform
	pid    int
	pidfd  int
	ctlFD  int
	doneFD int
	ctl    []byte // the sentry's mapping of the control file

	reqMu sync.Mutex // one batch at a time
	seq   uint32

	slotMu sync.Mutex
	free   []int

	released atomic.Bool
	refs     atomic.Int32
	relOnce  sync.Once
	gone     chan struct{}
	cpu      atomic.Int64
}

// NewAddressSpace implements platform.Platform.
func (p *Platform) NewAddressSpace(mem *mm.MemoryFile, name string) (platform.AddressSpace, error) {
	as := &addressSpace{p: p, pid: -1, pidfd: -1, ctlFD: -1, doneFD: -1, gone: make(chan struct{})}
	as.refs.Store(1)
	if err := as.start(mem.FD(), name); err != nil {
		as.cleanup()
		return nil, err
	}
	return as, nil
}

// start runs the stub process; name becomes its command name (the stub
// sets it from its argv[1]), so host tools show the workload's name.
func (as *addressSpace) start(memFD int, name string) error {
	var err error
	if as.ctlFD, err = unix.MemfdCreate("systrap-ctl", unix.MFD_CLOEXEC); err != nil {
		return fmt.Errorf("systrap: control file: %w", err)
	}
	if err := unix.Ftruncate(as.ctlFD, ctlSize); err != nil {
		return fmt.Errorf("systrap: size control file: %w", err)
	}
	if as.ctl, err = unix.Mmap(as.ctlFD, 0, ctlSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fmt.Errorf("systrap: map control file: %w", err)
	}
	if as.doneFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("systrap: eventfd: %w", err)
	}
	cfg := as.config()
	if as.p.opts.FSGSBase {
		cfg.FSGSBase = 1
	}
	for _, f := range []struct {
		insns []unix.SockFilter
		off   uint64
		prog  *sockFprog
	}{{as.p.cfg.processFilter, processFilterOff, &cfg.ProcessProg}, {as.p.cfg.threadFilter, threadFilterOff, &cfg.ThreadProg}} {
		for i, in := range f.insns {
			*(*unix.SockFilter)(unsafe.Pointer(&as.ctl[f.off+uint64(i)*8])) = in
		}
		f.prog.Len = uint16(len(f.insns))
		f.prog.Filter = ctlBase + f.off
	}
	for i := range nSlots {
		ss := (*[3]uint64)(unsafe.Pointer(&as.ctl[altStacksOff+24*i]))
		ss[0], ss[1], ss[2] = slotAddr(i)+pageSize, 0, slotSize-pageSize
	}
	as.free = make([]int, 0, nSlots)
	for i := nSlots - 1; i >= 0; i-- {
		as.free = append(as.free, i)
	}
	errc := make(chan error, 1)
	as.p.spawn <- func() {
		pidfd := -1
		pid, err := syscall.ForkExec(as.p.stubPath, []string{"exo-stub", stubName(name)}, &syscall.ProcAttr{
			Env:   []string{},
			Files: []uintptr{uintptr(memFD), uintptr(as.ctlFD), uintptr(as.doneFD)},
			Sys: &syscall.SysProcAttr{
				Pdeathsig: syscall.SIGKILL,
				// Its own session: a terminal's signals go to the
				// runtime, which forwards them, never to a stub.
				Setsid: true,
				PidFD:  &pidfd,
			},
		})
		as.pid, as.pidfd = pid, pidfd
		errc <- err
	}
	if err := <-errc; err != nil {
		as.pid = -1
		return fmt.Errorf("start systrap stub: %w", err)
	}
	// The stub is ready once its worker answers an empty batch.
	if err := as.batch(nil); err != nil {
		return fmt.Errorf("systrap stub %d did not start: %w", as.pid, err)
	}
	return nil
}

func (as *addressSpace) config() *configPage {
	return (*configPage)(unsafe.Pointer(&as.ctl[0]))
}

func (as *addressSpace) slotMsg(slot int) *msg {
	return (*msg)(unsafe.Pointer(&as.ctl[slotSize*(slot+1)]))
}

func slotAddr(slot int) uint64 { return ctlBase + slotSize*uint64(slot+1) }

// alive reports why the stub can no longer run, or nil.
func (as *addressSpace) alive() error {
	if as.released.Load() {
		return errors.New("systrap: address space released")
	}
	fds := []unix.PollFd{{Fd: int32(as.pidfd), Events: unix.POLLIN}}
	if n, _ := unix.Poll(fds, 0); n > 0 {
		return fmt.Errorf("systrap stub %d died", as.pid)
	}
	return nil
}

// batch has the worker make the host syscalls reqs, in order, stopping at
// the first that fails.
func (as *addressSpace) batch(reqs []request) error {
	_, err := as.batchResult(reqs)
	return err
}

// batchResult runs reqs as batch does and returns the first call's
// result, read while the batch still holds reqMu: once it lets go,
// another thread's batch may overwrite the results (a new stub thread
// then got an mmap address or another thread's tid as its own).
func (as *addressSpace) batchResult(reqs []request) (uint64, error) {
	if len(reqs) > reqMax {
		return 0, fmt.Errorf("systrap: batch of %d calls, most %d", len(reqs), reqMax)
	}
	// The control mapping must outlive the batch even if the address
	// space is released meanwhile.
	if !as.tryRef() {
		return 0, errors.New("systrap: address space released")
	}
	defer as.unref()
	as.reqMu.Lock()
	defer as.reqMu.Unlock()
	if err := as.alive(); err != nil {
		return 0, err
	}
	cfg := as.config()
	copy(cfg.Reqs[:], reqs)
	cfg.ReqCount = uint32(len(reqs))
	as.seq++
	atomic.StoreUint32(&cfg.ReqSeq, as.seq)
	futexWake(&cfg.ReqSeq)
	v, err := as.waitDone()
	if err != nil {
		return 0, err
	}
	if v == 1 {
		return as.result(0), nil
	}
	i := int(v - 2)
	if i < 0 || i >= len(reqs) {
		return 0, fmt.Errorf("systrap stub %d: bad batch result %d", as.pid, v)
	}
	ret := int64(as.result(i))
	if ret >= 0 || ret < -4095 {
		ret = -int64(unix.EIO)
	}
	return 0, fmt.Errorf("host syscall %d: %w", reqs[i].Nr, unix.Errno(-ret))
}

func (as *addressSpace) result(i int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&as.ctl[resultsOff+8*i])))
}

// waitDone reads the worker's completion value from the eventfd.
func (as *addressSpace) waitDone() (uint64, error) {
	var buf [8]byte
	deadline := time.Now().Add(maxSentrySpin)
	spin := !as.p.opts.NoSpin
	for {
		n, err := unix.Read(as.doneFD, buf[:])
		if err == nil && n == 8 {
			return *(*uint64)(unsafe.Pointer(&buf[0])), nil
		}
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			return 0, fmt.Errorf("systrap: read done eventfd: %w", err)
		}
		if spin && time.Now().Before(deadline) {
			cpuRelax()
			continue
		}
		spin = false
		fds := []unix.PollFd{{Fd: int32(as.doneFD), Events: unix.POLLIN}, {Fd: int32(as.pidfd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(futexTimeout/time.Millisecond)); err != nil && err != unix.EINTR {
			return 0, fmt.Errorf("systrap: poll: %w", err)
		}
		if fds[0].Revents == 0 && fds[1].Revents != 0 {
			return 0, fmt.Errorf("systrap stub %d died", as.pid)
		}
		if as.released.Load() {
			return 0, errors.New("systrap: address space released")
		}
	}
}

func protBits(prot mm.Prot) uint64 { return uint64(prot) }

// MapFile implements mm.HostMapper.
func (as *addressSpace) MapFile(addr, length, offset uint64, prot mm.Prot) error {
	return as.batch([]request{{Nr: unix.SYS_MMAP, Args: [6]uint64{addr, length, protBits(prot), unix.MAP_SHARED | unix.MAP_FIXED, stubMemFD, offset}}})
}

// MapFiles implements mm.BatchMapper: up to reqMax mappings, unmappings
// and protection changes per round trip to the worker.
func (as *addressSpace) MapFiles(maps []mm.HostMap) error {
	reqs := make([]request, 0, min(len(maps), reqMax))
	for len(maps) > 0 {
		reqs = reqs[:0]
		for _, m := range maps[:min(len(maps), reqMax)] {
			if m.Unmap {
				reqs = append(reqs, request{Nr: unix.SYS_MUNMAP, Args: [6]uint64{m.Addr, m.Length}})
				continue
			}
			if m.Protect {
				reqs = append(reqs, request{Nr: unix.SYS_MPROTECT, Args: [6]uint64{m.Addr, m.Length, protBits(m.Prot)}})
				continue
			}
			reqs = append(reqs, request{Nr: unix.SYS_MMAP, Args: [6]uint64{m.Addr, m.Length, protBits(m.Prot), unix.MAP_SHARED | unix.MAP_FIXED, stubMemFD, m.Offset}})
		}
		if err := as.batch(reqs); err != nil {
			return err
		}
		maps = maps[len(reqs):]
	}
	return nil
}

// Unmap implements mm.HostMapper.
func (as *addressSpace) Unmap(addr, length uint64) error {
	return as.batch([]request{{Nr: unix.SYS_MUNMAP, Args: [6]uint64{addr, length}}})
}

// Protect implements mm.HostMapper.
func (as *addressSpace) Protect(addr, length uint64, prot mm.Prot) error {
	return as.batch([]request{{Nr: unix.SYS_MPROTECT, Args: [6]uint64{addr, length, protBits(prot)}}})
}

// CPUTime implements platform.AddressSpace: the host's account of the CPU
// the stub's threads used, from its process CPU clock.
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
// gone from the host; the control mapping stays until the last context
// that ran in it has let go.
func (as *addressSpace) Release() {
	as.relOnce.Do(func() {
		as.cpu.Store(int64(as.liveCPUTime()))
		as.released.Store(true)
		if as.pid > 0 {
			unix.Kill(as.pid, unix.SIGKILL)
			var ws unix.WaitStatus
			for {
				if _, err := unix.Wait4(as.pid, &ws, 0, nil); err != unix.EINTR {
					break
				}
			}
		}
		close(as.gone)
		as.unref()
	})
}

// tryRef takes a reference unless the last one is gone already.
func (as *addressSpace) tryRef() bool {
	for {
		n := as.refs.Load()
		if n <= 0 {
			return false
		}
		if as.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (as *addressSpace) unref() {
	if as.refs.Add(-1) == 0 {
		as.cleanup()
	}
}

func (as *addressSpace) cleanup() {
	if as.pid > 0 && !as.released.Load() {
		unix.Kill(as.pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(as.pid, &ws, 0, nil)
	}
	if as.ctl != nil {
		unix.Munmap(as.ctl)
		as.ctl = nil
	}
	for _, fd := range []int{as.ctlFD, as.doneFD, as.pidfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

func (as *addressSpace) allocSlot() (int, error) {
	as.slotMu.Lock()
	defer as.slotMu.Unlock()
	if len(as.free) == 0 {
		return 0, fmt.Errorf("systrap: more than %d threads in one process", nSlots)
	}
	s := as.free[len(as.free)-1]
	as.free = as.free[:len(as.free)-1]
	return s, nil
}

func (as *addressSpace) freeSlot(s int) {
	as.slotMu.Lock()
	as.free = append(as.free, s)
	as.slotMu.Unlock()
}

// newThread clones a stub thread into slot and waits for its first trap.
func (as *addressSpace) newThread(slot int) (int, error) {
	m := as.slotMsg(slot)
	*m = msg{}
	atomic.StoreUint32(&m.State, stateStarting)
	const flags = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND |
		unix.CLONE_THREAD | unix.CLONE_SYSVSEM | unix.CLONE_CHILD_CLEARTID
	base := slotAddr(slot)
	r, err := as.batchResult([]request{{Nr: unix.SYS_CLONE, Args: [6]uint64{flags, base + pageSize, 0, base, 0}}})
	if err != nil {
		return 0, err
	}
	tid := int(r)
	s, _, err := as.wait(m, stateStarting, 0)
	if err != nil {
		return 0, err
	}
	if s != stateTrapped {
		return 0, fmt.Errorf("systrap stub %d: new thread did not start (state %d)", as.pid, s)
	}
	return tid, nil
}

// wait returns once m's state is no longer old: polling for up to spin
// first, then sleeping on the state word. found says the poll saw it.
func (as *addressSpace) wait(m *msg, old uint32, spin time.Duration) (uint32, bool, error) {
	if spin > 0 && !as.p.opts.NoSpin {
		start := time.Now()
		for i := 0; ; i++ {
			if s := atomic.LoadUint32(&m.State); s != old {
				return s, true, nil
			}
			if i%64 == 63 && time.Since(start) > spin {
				break
			}
			cpuRelax()
		}
	}
	atomic.StoreUint32(&m.SentryWaiting, 1)
	defer atomic.StoreUint32(&m.SentryWaiting, 0)
	for {
		if s := atomic.LoadUint32(&m.State); s != old {
			return s, false, nil
		}
		futexWait(&m.State, old, futexTimeout)
		if s := atomic.LoadUint32(&m.State); s != old {
			return s, false, nil
		}
		if err := as.alive(); err != nil {
			return 0, false, err
		}
	}
}

// futexWake never blocks, so it is a raw call: a call the scheduler knows
// of that is slow to return (the woken thread may preempt this one) lets
// sysmon hand the P to another thread.
func futexWake(w *uint32) {
	unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), 1 /* FUTEX_WAKE */, 1, 0, 0, 0)
}

func futexWait(w *uint32, val uint32, timeout time.Duration) {
	ts := unix.NsecToTimespec(int64(timeout))
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), 0 /* FUTEX_WAIT */, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
}

func cpuRelax()

// NewContext implements platform.Platform.
func (p *Platform) NewContext() platform.Context {
	c := &context{slot: -1, sentrySpin: newSpinBudget(maxSentrySpin), stubSpin: newSpinBudget(maxStubSpin)}
	if p.opts.NoSpin {
		c.sentrySpin, c.stubSpin = spinBudget{}, spinBudget{}
	}
	return c
}

// context is one task's stub thread in the address space it last ran in.
type context struct {
	as   *addressSpace
	slot int
	m    *msg

	mu  sync.Mutex // guards tid and pid for Interrupt
	tid int
	pid int
	// pendingFP is state to load into the next thread the context gets.
	pendingFP []byte
	// Polling budgets of the two sides of this thread's handoffs;
	// stubSpun says the stub was given a budget last time.
	sentrySpin, stubSpin spinBudget
	stubSpun             bool
}

// Switch implements platform.Context.
func (c *context) Switch(pas platform.AddressSpace, regs *arch.Registers) (platform.Exit, error) {
	as, ok := pas.(*addressSpace)
	if !ok {
		return platform.Exit{}, fmt.Errorf("systrap: address space of another platform")
	}
	if c.as != as {
		if err := c.enter(as); err != nil {
			return platform.Exit{}, err
		}
	}
	m := c.m
	if s := atomic.LoadUint32(&m.State); s != stateTrapped {
		return platform.Exit{}, c.lost(s)
	}
	sc, err := c.sigcontext()
	if err != nil {
		return platform.Exit{}, err
	}
	putRegs(sc, regs)
	m.FSBase, m.GSBase = regs.Fs_base, regs.Gs_base
	stubSpin := c.stubSpin.next()
	m.Spin = uint32(float64(stubSpin.Nanoseconds()) / pauseNs())
	atomic.StoreUint32(&m.State, stateRun)
	asleep := atomic.LoadUint32(&m.StubWaiting) != 0
	if asleep {
		futexWake(&m.State)
	}
	if c.stubSpun {
		c.stubSpin.result(!asleep)
	}
	c.stubSpun = stubSpin > 0
	s, found, err := as.wait(m, stateRun, c.sentrySpin.next())
	if err != nil {
		return platform.Exit{}, err
	}
	c.sentrySpin.result(found)
	if s != stateTrapped {
		return platform.Exit{}, c.lost(s)
	}
	if sc, err = c.sigcontext(); err != nil {
		return platform.Exit{}, err
	}
	getRegs(sc, regs)
	if as.p.opts.FSGSBase {
		regs.Fs_base, regs.Gs_base = m.FSBase, m.GSBase
	}
	regs.Orig_rax = ^uint64(0)
	signo, code := unix.Signal(m.Signo), m.Code
	switch {
	case signo == unix.SIGSYS && code == 1: // SYS_SECCOMP
		// As ptrace reports a syscall stop: the number in orig_rax,
		// -ENOSYS in rax.
		regs.Orig_rax = uint64(int64(m.Nr))
		regs.Rax = ^uint64(unix.ENOSYS) + 1
		return platform.Exit{Kind: platform.ExitSyscall}, nil
	case signo == interruptSignal:
		return platform.Exit{Kind: platform.ExitInterrupt}, nil
	case signo == unix.SIGSEGV || signo == unix.SIGBUS || signo == unix.SIGFPE || signo == unix.SIGILL || signo == unix.SIGTRAP:
		// si_code > 0: raised by the CPU, not sent with kill.
		if code > 0 {
			return platform.Exit{Kind: platform.ExitFault, Signo: int(signo), Code: int(code), Addr: m.Addr}, nil
		}
	}
	return platform.Exit{Kind: platform.ExitSignal, Signo: int(signo)}, nil
}

func (c *context) lost(state uint32) error {
	if err := c.as.alive(); err != nil {
		return err
	}
	return fmt.Errorf("systrap stub %d: thread %d lost (state %d)", c.as.pid, c.tid, state)
}

// frame translates a stub address in the context's slot, for size bytes,
// into the sentry's mapping. The slot is writable by the workload, so
// pointers read from it are checked.
func (c *context) frame(addr, size uint64) (unsafe.Pointer, error) {
	lo := slotAddr(c.slot) + pageSize
	hi := slotAddr(c.slot) + slotSize
	if addr < lo || addr > hi || size > hi-addr {
		return nil, fmt.Errorf("systrap stub %d: signal frame at %#x outside the thread's stack", c.as.pid, addr)
	}
	return unsafe.Pointer(&c.as.ctl[addr-ctlBase]), nil
}

func (c *context) sigcontext() (*sigcontext, error) {
	p, err := c.frame(c.m.Uc, ucSize)
	if err != nil {
		return nil, err
	}
	return (*sigcontext)(unsafe.Add(p, ucMcontext)), nil
}

// fpstate is the FP area of the host's signal frame: the xsave image the
// kernel wrote (its size in the software-reserved words) or, on a CPU
// without xsave, the fxsave one.
func (c *context) fpstate() ([]byte, error) {
	sc, err := c.sigcontext()
	if err != nil {
		return nil, err
	}
	p, err := c.frame(sc.Fpstate, fpSize)
	if err != nil {
		return nil, err
	}
	size := uint64(fpSize)
	if n := arch.XstateSize(unsafe.Slice((*byte)(p), fpSize)); n > 0 {
		size = uint64(n)
	}
	if p, err = c.frame(sc.Fpstate, size); err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), size), nil
}

func putRegs(sc *sigcontext, r *arch.Registers) {
	sc.R8, sc.R9, sc.R10, sc.R11 = r.R8, r.R9, r.R10, r.R11
	sc.R12, sc.R13, sc.R14, sc.R15 = r.R12, r.R13, r.R14, r.R15
	sc.Rdi, sc.Rsi, sc.Rbp, sc.Rbx = r.Rdi, r.Rsi, r.Rbp, r.Rbx
	sc.Rdx, sc.Rax, sc.Rcx, sc.Rsp = r.Rdx, r.Rax, r.Rcx, r.Rsp
	sc.Rip, sc.Eflags = r.Rip, r.Eflags
	sc.Cs, sc.Ss = uint16(r.Cs), uint16(r.Ss)
	if sc.Cs == 0 {
		sc.Cs = arch.UserCS
	}
	if sc.Ss == 0 {
		sc.Ss = arch.UserSS
	}
}

func getRegs(sc *sigcontext, r *arch.Registers) {
	r.R8, r.R9, r.R10, r.R11 = sc.R8, sc.R9, sc.R10, sc.R11
	r.R12, r.R13, r.R14, r.R15 = sc.R12, sc.R13, sc.R14, sc.R15
	r.Rdi, r.Rsi, r.Rbp, r.Rbx = sc.Rdi, sc.Rsi, sc.Rbp, sc.Rbx
	r.Rdx, r.Rax, r.Rcx, r.Rsp = sc.Rdx, sc.Rax, sc.Rcx, sc.Rsp
	r.Rip, r.Eflags = sc.Rip, sc.Eflags
	r.Cs, r.Ss = uint64(sc.Cs), uint64(sc.Ss)
}

// enter leaves the current address space and starts a thread in as.
func (c *context) enter(as *addressSpace) error {
	c.leave()
	if !as.tryRef() {
		return errors.New("systrap: address space released")
	}
	if err := as.alive(); err != nil {
		as.unref()
		return err
	}
	slot, err := as.allocSlot()
	if err != nil {
		as.unref()
		return err
	}
	tid, err := as.newThread(slot)
	if err != nil {
		as.freeSlot(slot)
		as.unref()
		return fmt.Errorf("systrap: new stub thread: %w", err)
	}
	c.as, c.slot, c.m = as, slot, as.slotMsg(slot)
	c.mu.Lock()
	c.tid, c.pid = tid, as.pid
	c.mu.Unlock()
	if place := as.p.opts.PlaceThread; place != nil {
		place(as.pid, tid)
	}
	if c.pendingFP != nil {
		fp := c.pendingFP
		c.pendingFP = nil
		if err := c.SetFPState(fp); err != nil {
			return err
		}
	}
	return nil
}

// leave ends the context's stub thread; the rest of the stub lives on.
func (c *context) leave() {
	as := c.as
	if as == nil {
		return
	}
	c.mu.Lock()
	c.tid, c.pid = 0, 0
	c.mu.Unlock()
	m := c.m
	if atomic.LoadUint32(&m.State) == stateTrapped {
		atomic.StoreUint32(&m.State, stateExit)
		futexWake(&m.State)
		// The slot's stack is in use until the thread is gone.
		if s, _, err := as.wait(m, stateExit, 0); err == nil && s == stateDead {
			as.freeSlot(c.slot)
		}
	}
	c.as, c.m, c.slot = nil, nil, -1
	c.stubSpun = false
	as.unref()
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
	if c.as == nil {
		if c.pendingFP != nil {
			return append([]byte(nil), c.pendingFP...), nil
		}
		return nil, nil
	}
	fp, err := c.fpstate()
	if err != nil {
		return nil, err
	}
	// The whole image, the kernel's words describing it included: a
	// signal frame built from it is an xsave one, as Linux's.
	return append([]byte(nil), fp...), nil
}

// SetFPState implements platform.Context.
func (c *context) SetFPState(fp []byte) error {
	if len(fp) < fpSize {
		return fmt.Errorf("fp state of %d bytes, want %d", len(fp), fpSize)
	}
	if c.as == nil {
		c.pendingFP = append([]byte(nil), fp...)
		return nil
	}
	dst, err := c.fpstate()
	if err != nil {
		return err
	}
	arch.MergeFPState(dst, fp)
	return nil
}

// Release implements platform.Context.
func (c *context) Release() { c.leave() }
