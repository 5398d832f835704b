package syscalls

import (
	"encoding/binary"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

func init() {
	register(SysStatfs, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		p, err := t.MM.CopyInString(a[0], unix.PathMax)
		if err != nil {
			return 0, err
		}
		st, err := t.Statfs(p)
		if err != nil {
			return 0, err
		}
		return copyOutStatfs(t, a[1], st)
	})
	register(SysFstatfs, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		d, err := t.FDs.Get(fdArg(a[0]))
		if err != nil {
			return 0, err
		}
		defer d.DecRef()
		s, ok := d.File.(vfs.StatFSer)
		if !ok {
			return 0, unix.ENOSYS
		}
		st, err := s.Statfs("")
		if err != nil {
			return 0, err
		}
		return copyOutStatfs(t, a[1], st)
	})
	register(SysFutex, sysFutex)
}

func copyOutStatfs(t *kernel.Task, addr uint64, st unix.Statfs_t) (uint64, error) {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&st)), unsafe.Sizeof(st))
	if _, err := t.MM.CopyOut(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Futex operations (linux/futex.h).
const (
	futexWait          = 0
	futexWake          = 1
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWakeOp        = 5
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivateFlag   = 128
	futexClockRealtime = 256
)

// sysFutex serves futexes for a process with a single thread, which is all
// the library OS runs so far: nobody else can wake a waiter, so a wait
// whose value matches sleeps out its timeout (or forever, as it would on
// Linux), and wakes find no waiters.
func sysFutex(t *kernel.Task, a [6]uint64) (uint64, error) {
	op := intArg(a[1]) &^ (futexPrivateFlag | futexClockRealtime)
	switch op {
	case futexWake, futexWakeBitset, futexRequeue:
		return 0, nil
	case futexCmpRequeue, futexWakeOp:
		var b [4]byte
		if _, err := t.MM.CopyIn(a[0], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		if op == futexCmpRequeue && binary.LittleEndian.Uint32(b[:]) != uint32(a[5]) {
			return 0, unix.EAGAIN
		}
		return 0, nil
	case futexWait, futexWaitBitset:
		if op == futexWaitBitset && uint32(a[5]) == 0 {
			return 0, unix.EINVAL
		}
		var b [4]byte
		if _, err := t.MM.CopyIn(a[0], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		if binary.LittleEndian.Uint32(b[:]) != uint32(a[2]) {
			return 0, unix.EAGAIN
		}
		if a[3] == 0 {
			t.K.WarnOnce("futex-deadlock", "single-threaded futex wait with no timeout: the task can never be woken")
			select {}
		}
		ts, err := getTimespec(t, a[3])
		if err != nil {
			return 0, err
		}
		d := time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
		if op == futexWaitBitset {
			// The bitset form takes an absolute time on the chosen clock.
			clock := int32(unix.CLOCK_MONOTONIC)
			if intArg(a[1])&futexClockRealtime != 0 {
				clock = unix.CLOCK_REALTIME
			}
			var now unix.Timespec
			unix.ClockGettime(clock, &now)
			d -= time.Duration(now.Sec)*time.Second + time.Duration(now.Nsec)
		}
		if d > 0 {
			time.Sleep(d)
		}
		return 0, unix.ETIMEDOUT
	}
	t.K.WarnOnce("futex-op", "futex operation not supported: returning ENOSYS", "op", op)
	return 0, unix.ENOSYS
}
