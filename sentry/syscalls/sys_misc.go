package syscalls

import (
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

func init() {
	register(SysFutex, sysFutex)
	register(SysGetRobustList, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		pid := int32(a[0])
		if pid != 0 && pid != t.TID {
			if !t.K.TaskExists(pid) {
				return 0, unix.ESRCH
			}
			return 0, unix.EPERM
		}
		if err := putU64(t, a[1], t.RobustList, 8); err != nil {
			return 0, err
		}
		return 0, putU64(t, a[2], 24, 8)
	})
}

// Futex operations (linux/futex.h).
const (
	futexWait          = 0
	futexWake          = 1
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexLockPI        = 6
	futexUnlockPI      = 7
	futexTrylockPI     = 8
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexLockPI2       = 13
	futexPrivateFlag   = 128
	futexClockRealtime = 256
)

func sysFutex(t *kernel.Task, a [6]uint64) (uint64, error) {
	addr, op, val := a[0], intArg(a[1]), uint32(a[2])
	private := op&futexPrivateFlag != 0
	cmd := op &^ (futexPrivateFlag | futexClockRealtime)
	if op&futexClockRealtime != 0 && cmd != futexWait && cmd != futexWaitBitset && cmd != futexLockPI2 {
		return 0, unix.ENOSYS
	}
	switch cmd {
	case futexLockPI, futexLockPI2, futexTrylockPI:
		var deadline time.Time
		if a[3] != 0 && cmd != futexTrylockPI {
			ts, err := getTimespec(t, a[3])
			if err != nil {
				return 0, err
			}
			// An absolute time: CLOCK_REALTIME for LOCK_PI, the chosen
			// clock for LOCK_PI2.
			clock := int32(unix.CLOCK_REALTIME)
			if cmd == futexLockPI2 && op&futexClockRealtime == 0 {
				clock = unix.CLOCK_MONOTONIC
			}
			var now unix.Timespec
			unix.ClockGettime(clock, &now)
			deadline = time.Now().Add(time.Duration(ts.Nano() - now.Nano()))
		}
		return 0, t.FutexLockPI(addr, private, cmd == futexTrylockPI, deadline)
	case futexUnlockPI:
		return 0, t.FutexUnlockPI(addr, private)
	case futexWait, futexWaitBitset:
		bitset := ^uint32(0)
		if cmd == futexWaitBitset {
			bitset = uint32(a[5])
			if bitset == 0 {
				return 0, unix.EINVAL
			}
		}
		var deadline time.Time
		if a[3] != 0 {
			ts, err := getTimespec(t, a[3])
			if err != nil {
				return 0, err
			}
			d := time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
			if cmd == futexWaitBitset {
				// The bitset form takes an absolute time on the chosen clock.
				clock := int32(unix.CLOCK_MONOTONIC)
				if op&futexClockRealtime != 0 {
					clock = unix.CLOCK_REALTIME
				}
				var now unix.Timespec
				unix.ClockGettime(clock, &now)
				d -= time.Duration(now.Nano())
			}
			deadline = time.Now().Add(d)
		}
		err := t.FutexWait(addr, private, val, bitset, deadline)
		if err == kernel.ERestartSys && a[3] != 0 {
			// A timed wait is not restarted with the same timeout.
			return 0, unix.EINTR
		}
		return 0, err
	case futexWake, futexWakeBitset:
		bitset := ^uint32(0)
		if cmd == futexWakeBitset {
			bitset = uint32(a[5])
		}
		n, err := t.FutexWake(addr, private, int(int32(val)), bitset)
		return uint64(n), err
	case futexRequeue, futexCmpRequeue:
		nMove := int(int32(a[3]))
		if int32(val) < 0 || nMove < 0 {
			return 0, unix.EINVAL
		}
		n, err := t.FutexRequeue(addr, a[4], private, int(val), nMove, cmd == futexCmpRequeue, uint32(a[5]))
		return uint64(n), err
	case futexWakeOp:
		n, err := t.FutexWakeOp(addr, a[4], private, int(int32(val)), int(int32(a[3])), uint32(a[5]))
		return uint64(n), err
	}
	t.K.WarnOnce("futex-op", "futex operation not supported: returning ENOSYS", "op", cmd)
	return 0, unix.ENOSYS
}
