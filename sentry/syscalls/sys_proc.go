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
	register(SysPersonality, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return uint64(t.Personality(uint32(a[0]))), nil
	})
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
		return 0, prlimit(t, int32(a[0]), intArg(a[1]), a[2], a[3])
	})
	register(SysGetrlimit, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, prlimit(t, 0, intArg(a[0]), 0, a[1]) })
	register(SysSetrlimit, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, prlimit(t, 0, intArg(a[0]), a[1], 0) })
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

// perLinux32 is PER_LINUX32 (linux/personality.h).
const perLinux32 = 0x0008

func sysUname(t *kernel.Task, a [6]uint64) (uint64, error) {
	var u unix.Utsname
	put := func(dst *[65]byte, s string) { copy(dst[:64], s) }
	put(&u.Sysname, kernel.Sysname)
	put(&u.Nodename, t.K.Hostname)
	put(&u.Release, kernel.Release)
	put(&u.Version, kernel.Version)
	if t.Personality(0xffffffff)&0xff == perLinux32 {
		put(&u.Machine, "i686") // override_architecture
	} else {
		put(&u.Machine, kernel.Machine)
	}
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

// prlimit serves prlimit64, getrlimit and setrlimit: tid 0 is the caller.
// As Linux, the new limit is read and checked before the target is looked
// up, and the old one is written out after the change.
func prlimit(t *kernel.Task, tid int32, res int, newAddr, oldAddr uint64) error {
	if res < 0 || res >= kernel.NumRlimits {
		return unix.EINVAL
	}
	var nl *kernel.Rlimit
	if newAddr != 0 {
		var b [16]byte
		if _, err := t.MM.CopyIn(newAddr, b[:]); err != nil {
			return unix.EFAULT
		}
		nl = &kernel.Rlimit{Cur: binary.LittleEndian.Uint64(b[:]), Max: binary.LittleEndian.Uint64(b[8:])}
		if nl.Cur > nl.Max {
			return unix.EINVAL
		}
		if res == unix.RLIMIT_NOFILE && nl.Max > 1<<20 {
			return unix.EPERM // above fs.nr_open
		}
	}
	old, err := t.Prlimit(tid, res, nl)
	if err != nil {
		return err
	}
	if oldAddr != 0 {
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:], old.Cur)
		binary.LittleEndian.PutUint64(b[8:], old.Max)
		if _, err := t.MM.CopyOut(oldAddr, b[:]); err != nil {
			return unix.EFAULT
		}
	}
	return nil
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
