package syscalls

import (
	"crypto/rand"
	"encoding/binary"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

func init() {
	register(SysArchPrctl, sysArchPrctl)
	register(SysSetTidAddress, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		t.ClearTID = a[0]
		return uint64(t.TID), nil
	})
	register(SysSetRobustList, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if a[1] != 24 { // sizeof(struct robust_list_head)
			return 0, unix.EINVAL
		}
		t.RobustList = a[0]
		return 0, nil
	})
	// rseq is deliberately absent from the library OS: libc treats ENOSYS
	// as "not available" and carries on, so it is answered without the
	// unimplemented-syscall warning.
	register(SysRseq, func(*kernel.Task, [6]uint64) (uint64, error) { return 0, unix.ENOSYS })
	register(SysUname, sysUname)
	register(SysGetpid, func(t *kernel.Task, _ [6]uint64) (uint64, error) { return uint64(t.TGID()), nil })
	register(SysGettid, func(t *kernel.Task, _ [6]uint64) (uint64, error) { return uint64(t.TID), nil })
	register(SysGetppid, func(t *kernel.Task, _ [6]uint64) (uint64, error) { return uint64(t.PPID()), nil })
	register(SysUmask, func(t *kernel.Task, a [6]uint64) (uint64, error) { return uint64(t.FS.SwapUmask(uint32(a[0]))), nil })
	register(SysClockGettime, sysClockGettime)
	register(SysClockGetres, sysClockGetres)
	register(SysGettimeofday, sysGettimeofday)
	register(SysTime, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		now := uint64(time.Now().Unix())
		if a[0] != 0 {
			var b [8]byte
			binary.LittleEndian.PutUint64(b[:], now)
			if _, err := t.MM.CopyOut(a[0], b[:]); err != nil {
				return 0, unix.EFAULT
			}
		}
		return now, nil
	})
	register(SysNanosleep, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return clockNanosleep(t, unix.CLOCK_MONOTONIC, 0, a[0], a[1], true)
	})
	register(SysClockNanosleep, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return clockNanosleep(t, int32(a[0]), intArg(a[1]), a[2], a[3], false)
	})
	register(SysGetrandom, sysGetrandom)
	register(SysPrlimit64, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		pid := int32(a[0])
		if pid != 0 && pid != t.TGID() {
			return 0, unix.ESRCH
		}
		return 0, prlimit(t, intArg(a[1]), a[2], a[3])
	})
	register(SysGetrlimit, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, prlimit(t, intArg(a[0]), 0, a[1]) })
	register(SysSetrlimit, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, prlimit(t, intArg(a[0]), a[1], 0) })
	register(SysSchedGetaffinity, sysSchedGetaffinity)
	register(SysSchedYield, func(*kernel.Task, [6]uint64) (uint64, error) { runtime.Gosched(); return 0, nil })
	register(SysSysinfo, sysSysinfo)
	// The container holds no capabilities over the machine: these are the
	// answers an unprivileged process gets on Linux. (chroot is not among
	// them: it changes only the caller's view of the container's own mount
	// tree, and sys_fs.go serves it.)
	for _, nr := range []int{SysReboot, SysMount, SysUmount2, SysPtrace, SysPivotRoot, SysSwapon, SysSwapoff,
		SysInitModule, SysFinitModule, SysDeleteModule, SysKexecLoad, SysKexecFileLoad, SysAcct,
		SysSettimeofday, SysClockSettime, SysAdjtimex, SysClockAdjtime, SysSethostname, SysSetdomainname,
		SysIopl, SysIoperm, SysSetns, SysBpf, SysPerfEventOpen,
		SysFsopen, SysFsmount, SysFsconfig, SysFspick, SysMoveMount, SysOpenTree, SysMountSetattr} {
		register(nr, func(*kernel.Task, [6]uint64) (uint64, error) { return 0, unix.EPERM })
	}
}

// arch_prctl codes (asm/prctl.h).
const (
	archSetGs = 0x1001
	archSetFs = 0x1002
	archGetFs = 0x1003
	archGetGs = 0x1004
)

func sysArchPrctl(t *kernel.Task, a [6]uint64) (uint64, error) {
	const canonicalEnd = 1 << 47
	switch a[0] {
	case archSetFs, archSetGs:
		if a[1] >= canonicalEnd {
			return 0, unix.EPERM
		}
		if a[0] == archSetFs {
			t.Regs.Fs_base = a[1]
		} else {
			t.Regs.Gs_base = a[1]
		}
		return 0, nil
	case archGetFs, archGetGs:
		v := t.Regs.Fs_base
		if a[0] == archGetGs {
			v = t.Regs.Gs_base
		}
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], v)
		if _, err := t.MM.CopyOut(a[1], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	return 0, unix.EINVAL
}

func sysUname(t *kernel.Task, a [6]uint64) (uint64, error) {
	var u unix.Utsname
	put := func(dst *[65]byte, s string) { copy(dst[:64], s) }
	put(&u.Sysname, kernel.Sysname)
	put(&u.Nodename, t.K.Hostname)
	put(&u.Release, kernel.Release)
	put(&u.Version, kernel.Version)
	put(&u.Machine, kernel.Machine)
	put(&u.Domainname, t.K.Domainname)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&u)), unsafe.Sizeof(u))
	if _, err := t.MM.CopyOut(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// hostClock maps a workload clock id to the host clock that serves it.
// CPU-time clocks are answered with the sentry's own CPU time, which
// includes the work done on the workload's behalf.
func hostClock(id int32) (int32, bool) {
	switch id {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_MONOTONIC_RAW, unix.CLOCK_REALTIME_COARSE,
		unix.CLOCK_MONOTONIC_COARSE, unix.CLOCK_BOOTTIME, unix.CLOCK_TAI:
		return id, true
	case unix.CLOCK_REALTIME_ALARM:
		return unix.CLOCK_REALTIME, true
	case unix.CLOCK_BOOTTIME_ALARM:
		return unix.CLOCK_BOOTTIME, true
	case unix.CLOCK_PROCESS_CPUTIME_ID, unix.CLOCK_THREAD_CPUTIME_ID:
		return unix.CLOCK_PROCESS_CPUTIME_ID, true
	}
	return 0, false
}

func putTimespec(t *kernel.Task, addr uint64, ts unix.Timespec) error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:], uint64(ts.Sec))
	binary.LittleEndian.PutUint64(b[8:], uint64(ts.Nsec))
	if _, err := t.MM.CopyOut(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

func getTimespec(t *kernel.Task, addr uint64) (unix.Timespec, error) {
	var b [16]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return unix.Timespec{}, unix.EFAULT
	}
	ts := unix.Timespec{Sec: int64(binary.LittleEndian.Uint64(b[:])), Nsec: int64(binary.LittleEndian.Uint64(b[8:]))}
	if ts.Sec < 0 || ts.Nsec < 0 || ts.Nsec >= 1e9 {
		return ts, unix.EINVAL
	}
	return ts, nil
}

func sysClockGettime(t *kernel.Task, a [6]uint64) (uint64, error) {
	if clock := int32(a[0]); kernel.IsCPUClock(clock) {
		d, _, err := t.CPUClock(clock)
		if err != nil {
			return 0, err
		}
		return 0, putTimespec(t, a[1], unix.NsecToTimespec(d.Nanoseconds()))
	}
	id, ok := hostClock(int32(a[0]))
	if !ok {
		return 0, unix.EINVAL
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(id, &ts); err != nil {
		return 0, err
	}
	return 0, putTimespec(t, a[1], ts)
}

// cpuClockTick is the resolution Linux reports for a CPU-time clock that
// counts in ticks (PROF, VIRT): one jiffy, at the usual CONFIG_HZ=250.
const cpuClockTick = 4 * time.Millisecond

func sysClockGetres(t *kernel.Task, a [6]uint64) (uint64, error) {
	var ts unix.Timespec
	if clock := int32(a[0]); kernel.IsCPUClock(clock) {
		_, sched, err := t.CPUClock(clock)
		if err != nil {
			return 0, err
		}
		ts.Nsec = 1
		if !sched {
			ts.Nsec = int64(cpuClockTick)
		}
	} else {
		id, ok := hostClock(clock)
		if !ok {
			return 0, unix.EINVAL
		}
		if err := unix.ClockGetres(id, &ts); err != nil {
			return 0, err
		}
	}
	if a[1] == 0 {
		return 0, nil
	}
	return 0, putTimespec(t, a[1], ts)
}

func sysGettimeofday(t *kernel.Task, a [6]uint64) (uint64, error) {
	if a[0] != 0 {
		now := time.Now()
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:], uint64(now.Unix()))
		binary.LittleEndian.PutUint64(b[8:], uint64(now.Nanosecond()/1000))
		if _, err := t.MM.CopyOut(a[0], b[:]); err != nil {
			return 0, unix.EFAULT
		}
	}
	if a[1] != 0 {
		var tz [8]byte // UTC: no minutes west, no DST
		if _, err := t.MM.CopyOut(a[1], tz[:]); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, nil
}

func clockNanosleep(t *kernel.Task, clock int32, flags int, reqAddr, remAddr uint64, plain bool) (uint64, error) {
	id, ok := hostClock(clock)
	if !ok || clock == unix.CLOCK_THREAD_CPUTIME_ID {
		return 0, unix.EINVAL
	}
	req, err := getTimespec(t, reqAddr)
	if err != nil {
		return 0, err
	}
	d := time.Duration(req.Sec)*time.Second + time.Duration(req.Nsec)
	if flags&unix.TIMER_ABSTIME != 0 {
		var now unix.Timespec
		if err := unix.ClockGettime(id, &now); err != nil {
			return 0, err
		}
		d -= time.Duration(now.Sec)*time.Second + time.Duration(now.Nsec)
	}
	if d <= 0 {
		return 0, nil
	}
	start := time.Now()
	err = t.Sleep(d)
	if err == nil {
		return 0, nil
	}
	// Interrupted: a relative sleep reports what is left. Linux restarts
	// it transparently when no handler ran (and then sleeps only the
	// rest); restarting the whole request is the library OS's
	// approximation of that.
	if flags&unix.TIMER_ABSTIME == 0 && remAddr != 0 {
		left := d - time.Since(start)
		if left < 0 {
			left = 0
		}
		if err := putTimespec(t, remAddr, unix.NsecToTimespec(left.Nanoseconds())); err != nil {
			return 0, err
		}
	}
	return 0, kernel.ERestartRestartBlock
}

func sysGetrandom(t *kernel.Task, a [6]uint64) (uint64, error) {
	if a[2]&^uint64(unix.GRND_NONBLOCK|unix.GRND_RANDOM|unix.GRND_INSECURE) != 0 ||
		a[2]&(unix.GRND_RANDOM|unix.GRND_INSECURE) == unix.GRND_RANDOM|unix.GRND_INSECURE {
		return 0, unix.EINVAL
	}
	n := int(min(a[1], 1<<25-1))
	if n == 0 {
		return 0, nil
	}
	if ok := t.MM.Accessible(a[0], n, 2); ok < n {
		if ok == 0 {
			return 0, unix.EFAULT
		}
		n = ok
	}
	b := make([]byte, n)
	rand.Read(b)
	t.MM.CopyOut(a[0], b)
	return uint64(n), nil
}

func prlimit(t *kernel.Task, res int, newAddr, oldAddr uint64) error {
	if res < 0 || res >= kernel.NumRlimits {
		return unix.EINVAL
	}
	var nl kernel.Rlimit
	if newAddr != 0 {
		var b [16]byte
		if _, err := t.MM.CopyIn(newAddr, b[:]); err != nil {
			return unix.EFAULT
		}
		nl = kernel.Rlimit{Cur: binary.LittleEndian.Uint64(b[:]), Max: binary.LittleEndian.Uint64(b[8:])}
		if nl.Cur > nl.Max {
			return unix.EINVAL
		}
		if res == unix.RLIMIT_NOFILE && nl.Max > 1<<20 {
			return unix.EPERM // above fs.nr_open
		}
	}
	if oldAddr != 0 {
		var b [16]byte
		old := t.Rlimit(res)
		binary.LittleEndian.PutUint64(b[:], old.Cur)
		binary.LittleEndian.PutUint64(b[8:], old.Max)
		if _, err := t.MM.CopyOut(oldAddr, b[:]); err != nil {
			return unix.EFAULT
		}
	}
	if newAddr != 0 {
		t.SetRlimit(res, nl)
	}
	return nil
}

// Scheduling policies (linux/sched.h).
const (
	schedOther    = 0
	schedFIFO     = 1
	schedRR       = 2
	schedBatch    = 3
	schedIdle     = 5
	schedDeadline = 6
)

// schedSetParam is sched_setscheduler (policy, with SCHED_RESET_ON_FORK)
// and sched_setparam (keepPolicy): a struct sched_param at addr.
func schedSetParam(t *kernel.Task, pid, policy int32, addr uint64, keepPolicy bool) error {
	if pid < 0 || addr == 0 {
		return unix.EINVAL
	}
	var b [4]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return unix.EFAULT
	}
	if policy < 0 && !keepPolicy {
		return unix.EINVAL
	}
	sa := kernel.SchedAttr{
		Policy:      uint32(policy) &^ kernel.SchedResetOnFork,
		ResetOnFork: policy&kernel.SchedResetOnFork != 0,
		Priority:    binary.LittleEndian.Uint32(b[:]),
	}
	flags := uint64(kernel.SchedKeepNice)
	if keepPolicy {
		flags |= kernel.SchedFlagKeepPolicy
	}
	return t.SchedSetAttr(pid, sa, flags)
}

// struct sched_attr: the first version's size, and the one this kernel
// knows (with the utilization clamps).
const (
	schedAttrSizeVer0 = 48
	schedAttrSize     = 56
	schedAttrMaxSize  = 4096 // a page
)

// sysSchedGetattr is sched_getattr(pid, attr, size, flags): the attributes
// in the first min(size, 56) bytes, size among them, zeros after. The
// runtime field (Linux reports the EEVDF slice of a normal thread) is 0.
func sysSchedGetattr(t *kernel.Task, a [6]uint64) (uint64, error) {
	pid, size := int32(a[0]), u32Arg(a[2])
	if pid < 0 || a[1] == 0 || a[3] != 0 || size < schedAttrSizeVer0 || size > schedAttrMaxSize {
		return 0, unix.EINVAL
	}
	sa, err := t.SchedGetAttr(pid)
	if err != nil {
		return 0, err
	}
	// The bytes past the kernel's struct are zeroed (copy_struct_to_user).
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b[0:], min(size, schedAttrSize))
	binary.LittleEndian.PutUint32(b[4:], sa.Policy)
	if sa.ResetOnFork {
		binary.LittleEndian.PutUint64(b[8:], kernel.SchedFlagResetOnFork)
	}
	binary.LittleEndian.PutUint32(b[16:], uint32(sa.Nice))
	binary.LittleEndian.PutUint32(b[20:], sa.Priority)
	if _, err := t.MM.CopyOut(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// sysSchedSetattr is sched_setattr(pid, attr, flags). A size of 0 means
// the first version; one below it or above a page is E2BIG, with the size
// this kernel knows written back, as is a larger struct whose extra bytes
// are not zero. Utilization clamps are EOPNOTSUPP (a kernel without
// CONFIG_UCLAMP_TASK).
func sysSchedSetattr(t *kernel.Task, a [6]uint64) (uint64, error) {
	pid := int32(a[0])
	if pid < 0 || a[1] == 0 || a[2] != 0 {
		return 0, unix.EINVAL
	}
	var hdr [4]byte
	if _, err := t.MM.CopyIn(a[1], hdr[:]); err != nil {
		return 0, unix.EFAULT
	}
	size := binary.LittleEndian.Uint32(hdr[:])
	if size == 0 {
		size = schedAttrSizeVer0
	}
	if size < schedAttrSizeVer0 || size > schedAttrMaxSize {
		binary.LittleEndian.PutUint32(hdr[:], schedAttrSize)
		t.MM.CopyOut(a[1], hdr[:])
		return 0, unix.E2BIG
	}
	b := make([]byte, size)
	if _, err := t.MM.CopyIn(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	for _, x := range b[min(size, schedAttrSize):] {
		if x != 0 {
			binary.LittleEndian.PutUint32(hdr[:], schedAttrSize)
			t.MM.CopyOut(a[1], hdr[:])
			return 0, unix.E2BIG
		}
	}
	policy := int32(binary.LittleEndian.Uint32(b[4:]))
	flags := binary.LittleEndian.Uint64(b[8:])
	if policy < 0 || flags&^kernel.SchedFlagAll != 0 {
		return 0, unix.EINVAL
	}
	if flags&kernel.SchedFlagUtilClamp != 0 {
		return 0, unix.EOPNOTSUPP
	}
	sa := kernel.SchedAttr{
		Policy:      uint32(policy),
		ResetOnFork: flags&kernel.SchedFlagResetOnFork != 0,
		Nice:        int32(binary.LittleEndian.Uint32(b[16:])),
		Priority:    binary.LittleEndian.Uint32(b[20:]),
	}
	return 0, t.SchedSetAttr(pid, sa, flags)
}

// cpuMaskBytes is the size of the kernel's CPU mask (nr_cpu_ids rounded
// up to a long).
const cpuMaskBytes = 8

func sysSchedGetaffinity(t *kernel.Task, a [6]uint64) (uint64, error) {
	if a[1] < cpuMaskBytes || a[1]%8 != 0 {
		return 0, unix.EINVAL
	}
	mask, err := t.Affinity(int32(a[0]))
	if err != nil {
		return 0, err
	}
	if err := putU64(t, a[2], mask, cpuMaskBytes); err != nil {
		return 0, err
	}
	return cpuMaskBytes, nil
}

func sysSchedSetaffinity(t *kernel.Task, a [6]uint64) (uint64, error) {
	n := min(a[1], 128)
	b := make([]byte, n)
	if _, err := t.MM.CopyIn(a[2], b); err != nil {
		return 0, unix.EFAULT
	}
	var mask uint64
	for i := 0; i < len(b) && i < 8; i++ {
		mask |= uint64(b[i]) << (8 * i)
	}
	online := uint64(1)<<min(runtime.NumCPU(), 64) - 1
	if mask&online == 0 {
		return 0, unix.EINVAL
	}
	return 0, t.SetAffinity(int32(a[0]), mask&online)
}

func init() {
	register(SysSchedSetaffinity, sysSchedSetaffinity)
	// Scheduling policy: the library OS records a thread's policy and nice
	// value (prio.go) and leaves scheduling to the host; real-time
	// policies need a privilege the sandbox does not grant.
	register(SysSchedGetscheduler, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		sa, err := t.SchedGetAttr(int32(a[0]))
		if err != nil {
			return 0, err
		}
		if sa.ResetOnFork {
			return uint64(sa.Policy) | kernel.SchedResetOnFork, nil
		}
		return uint64(sa.Policy), nil
	})
	register(SysSchedGetparam, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if int32(a[0]) < 0 || a[1] == 0 {
			return 0, unix.EINVAL
		}
		sa, err := t.SchedGetAttr(int32(a[0]))
		if err != nil {
			return 0, err
		}
		return 0, putU64(t, a[1], uint64(sa.Priority), 4)
	})
	register(SysSchedSetscheduler, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, schedSetParam(t, int32(a[0]), int32(a[1]), a[2], false)
	})
	register(SysSchedSetparam, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, schedSetParam(t, int32(a[0]), 0, a[1], true)
	})
	register(SysSchedGetattr, sysSchedGetattr)
	register(SysSchedSetattr, sysSchedSetattr)
	register(SysSchedGetPriorityMax, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		switch intArg(a[0]) {
		case schedFIFO, schedRR:
			return 99, nil
		case schedOther, schedBatch, schedIdle, schedDeadline:
			return 0, nil
		}
		return 0, unix.EINVAL
	})
	register(SysSchedGetPriorityMin, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		switch intArg(a[0]) {
		case schedFIFO, schedRR:
			return 1, nil
		case schedOther, schedBatch, schedIdle, schedDeadline:
			return 0, nil
		}
		return 0, unix.EINVAL
	})
	register(SysSchedRrGetInterval, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		// The normal policies' interval is their time slice in whole
		// ticks: with EEVDF's slice (0.75 ms per CPU doubling) shorter
		// than a tick of a 250 Hz kernel, 0, as the host reports it. No
		// thread here has SCHED_RR, whose interval would be 100 ms.
		if _, err := t.SchedGetAttr(int32(a[0])); err != nil {
			return 0, err
		}
		return 0, putTimespec(t, a[1], unix.Timespec{})
	})
	register(SysGetpriority, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		p, err := t.GetPriority(int32(a[0]), int32(a[1]))
		return uint64(p), err // 20 - nice, as the kernel encodes it
	})
	register(SysSetpriority, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, t.SetPriority(int32(a[0]), int32(a[1]), int32(a[2]))
	})
	register(SysGetcpu, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		mask, _ := t.Affinity(0)
		cpu := uint64(0)
		for mask&1 == 0 && cpu < 63 {
			mask >>= 1
			cpu++
		}
		if a[0] != 0 {
			if err := putU64(t, a[0], cpu, 4); err != nil {
				return 0, err
			}
		}
		if a[1] != 0 {
			if err := putU64(t, a[1], 0, 4); err != nil {
				return 0, err
			}
		}
		return 0, nil
	})
}

func sysSysinfo(t *kernel.Task, a [6]uint64) (uint64, error) {
	var si unix.Sysinfo_t
	// Whole seconds, rounded up: a sandbox that booted a moment ago has
	// been up for some time, not none.
	si.Uptime = int64(t.K.Uptime()/time.Second) + 1
	si.Totalram = t.K.Memory.Size()
	si.Freeram = t.K.Memory.FreeBytes()
	si.Procs = uint16(t.K.TaskCount())
	si.Unit = 1
	b := unsafe.Slice((*byte)(unsafe.Pointer(&si)), unsafe.Sizeof(si))
	if _, err := t.MM.CopyOut(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}
