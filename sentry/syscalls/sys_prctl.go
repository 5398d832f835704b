package syscalls

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

func init() {
	register(SysPrctl, sysPrctl)
}

func sysPrctl(t *kernel.Task, a [6]uint64) (uint64, error) {
	switch intArg(a[0]) {
	case unix.PR_SET_NAME:
		var b [16]byte
		n, _ := t.MM.CopyIn(a[1], b[:])
		if n == 0 {
			return 0, unix.EFAULT
		}
		name := b[:n]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		t.Comm = string(name[:min(len(name), 15)])
		return 0, nil
	case unix.PR_GET_NAME:
		var b [16]byte
		copy(b[:15], t.Comm)
		if _, err := t.MM.CopyOut(a[1], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.PR_SET_NO_NEW_PRIVS:
		if a[1] != 1 || a[2] != 0 || a[3] != 0 || a[4] != 0 {
			return 0, unix.EINVAL
		}
		t.NoNewPrivs = true
		return 0, nil
	case unix.PR_GET_NO_NEW_PRIVS:
		if t.NoNewPrivs {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_DUMPABLE:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		t.Dumpable = a[1] == 1
		return 0, nil
	case unix.PR_GET_DUMPABLE:
		if t.Dumpable {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_PDEATHSIG:
		if sig := intArg(a[1]); sig < 0 || sig >= kernel.NumSignals {
			return 0, unix.EINVAL
		}
		t.PdeathSig = intArg(a[1])
		return 0, nil
	case unix.PR_GET_PDEATHSIG:
		var b [4]byte
		b[0] = byte(t.PdeathSig)
		if _, err := t.MM.CopyOut(a[1], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.PR_CAPBSET_READ:
		// The container's root holds the full bounding set of the library
		// OS; none of it reaches the host.
		if a[1] > unix.CAP_LAST_CAP {
			return 0, unix.EINVAL
		}
		return 1, nil
	case unix.PR_GET_SECCOMP:
		return 0, nil
	case unix.PR_SET_TIMERSLACK, unix.PR_SET_CHILD_SUBREAPER, unix.PR_SET_KEEPCAPS, unix.PR_SET_THP_DISABLE, unix.PR_SET_VMA:
		return 0, nil
	case unix.PR_GET_TIMERSLACK:
		return 50000, nil
	}
	return 0, unix.EINVAL
}
