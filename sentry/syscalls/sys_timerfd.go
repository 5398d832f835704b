package syscalls

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/timerfd"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

func init() {
	register(SysTimerfdCreate, sysTimerfdCreate)
	register(SysTimerfdSettime, sysTimerfdSettime)
	register(SysTimerfdGettime, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		f, err := timerfdFor(t, fdArg(a[0]))
		if err != nil {
			return 0, err
		}
		v, i := f.Get()
		return 0, putItimerspec(t, a[1], v, i)
	})
}

// timerfd_settime's flags (linux/timerfd.h).
const (
	tfdTimerAbstime     = 1
	tfdTimerCancelOnSet = 2
)

func sysTimerfdCreate(t *kernel.Task, a [6]uint64) (uint64, error) {
	clock, flags := int32(a[0]), intArg(a[1])
	if flags&^(unix.TFD_CLOEXEC|unix.TFD_NONBLOCK) != 0 {
		return 0, unix.EINVAL
	}
	switch clock {
	case unix.CLOCK_REALTIME, unix.CLOCK_MONOTONIC, unix.CLOCK_BOOTTIME:
	case unix.CLOCK_REALTIME_ALARM, unix.CLOCK_BOOTTIME_ALARM:
		if c := t.Creds(); !c.HasCap(unix.CAP_WAKE_ALARM) {
			return 0, unix.EPERM
		}
	default:
		return 0, unix.EINVAL
	}
	d := vfs.NewDescription(timerfd.New(clock), "", unix.O_RDWR|flags&unix.O_NONBLOCK)
	return install(t, d, 0, flags&unix.TFD_CLOEXEC != 0)
}

// timerfdFor is the timerfd open as fd: EBADF, or EINVAL for another file.
func timerfdFor(t *kernel.Task, fd int) (*timerfd.File, error) {
	d, err := t.FDs.Get(fd)
	if err != nil {
		return nil, err
	}
	defer d.DecRef()
	f, ok := d.File.(*timerfd.File)
	if !ok {
		return nil, unix.EINVAL
	}
	return f, nil
}

func sysTimerfdSettime(t *kernel.Task, a [6]uint64) (uint64, error) {
	flags := intArg(a[1])
	if flags&^(tfdTimerAbstime|tfdTimerCancelOnSet) != 0 {
		return 0, unix.EINVAL
	}
	f, err := timerfdFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	// TFD_TIMER_CANCEL_ON_SET would make a read fail with ECANCELED when
	// the realtime clock is set; the sandbox cannot set it, so the flag
	// changes nothing (Linux accepts it on any clock too).
	interval, value, err := copyInItimerspec(t, a[2])
	if err != nil {
		return 0, err
	}
	if flags&tfdTimerAbstime != 0 && value != 0 {
		value = untilAbsolute(f.Clock, value)
	}
	oldV, oldI := f.Set(value, interval)
	if a[3] != 0 {
		return 0, putItimerspec(t, a[3], oldV, oldI)
	}
	return 0, nil
}
