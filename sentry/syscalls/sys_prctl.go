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
		c := t.Creds()
		c.NoNewPrivs = true
		t.SetCreds(c)
		return 0, nil
	case unix.PR_GET_NO_NEW_PRIVS:
		if t.Creds().NoNewPrivs {
			return 1, nil
		}
		return 0, nil
	case unix.PR_GET_SECCOMP:
		return uint64(t.SeccompMode()), nil
	case unix.PR_SET_SECCOMP:
		switch a[1] {
		case kernel.SeccompModeStrict:
			return doSeccomp(t, seccompSetModeStrict, 0, 0)
		case kernel.SeccompModeFilter:
			return doSeccomp(t, seccompSetModeFilter, 0, a[2])
		}
		return 0, unix.EINVAL
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
	case unix.PR_CAPBSET_READ, unix.PR_CAPBSET_DROP, unix.PR_CAP_AMBIENT, unix.PR_SET_KEEPCAPS, unix.PR_GET_KEEPCAPS:
		return prctlCaps(t, a)
	case unix.PR_GET_SECUREBITS:
		// Only SECBIT_KEEP_CAPS, which mirrors PR_SET_KEEPCAPS.
		if t.Creds().KeepCaps {
			return 1 << 4, nil
		}
		return 0, nil
	case unix.PR_SET_TIMERSLACK, unix.PR_SET_CHILD_SUBREAPER, unix.PR_SET_THP_DISABLE, unix.PR_SET_VMA:
		return 0, nil
	case unix.PR_GET_TIMERSLACK:
		return 50000, nil
	}
	return 0, unix.EINVAL
}

// prctlCaps serves the prctl options on the library OS's capability sets
// (the bounding and ambient sets, keep-caps), with Linux's checks.
func prctlCaps(t *kernel.Task, a [6]uint64) (uint64, error) {
	c := t.Creds()
	capArg := func(v uint64) (int, error) {
		if v > kernel.LastCap {
			return 0, unix.EINVAL
		}
		return int(v), nil
	}
	switch intArg(a[0]) {
	case unix.PR_CAPBSET_READ:
		n, err := capArg(a[1])
		if err != nil {
			return 0, err
		}
		if c.Caps.Bounding.Has(n) {
			return 1, nil
		}
		return 0, nil
	case unix.PR_CAPBSET_DROP:
		n, err := capArg(a[1])
		if err != nil {
			return 0, err
		}
		if !c.HasCap(kernel.CapSetpcap) {
			return 0, unix.EPERM
		}
		c.Caps.Bounding &^= 1 << n
	case unix.PR_GET_KEEPCAPS:
		if c.KeepCaps {
			return 1, nil
		}
		return 0, nil
	case unix.PR_SET_KEEPCAPS:
		if a[1] > 1 {
			return 0, unix.EINVAL
		}
		c.KeepCaps = a[1] == 1
	case unix.PR_CAP_AMBIENT:
		if a[3] != 0 || a[4] != 0 {
			return 0, unix.EINVAL
		}
		if a[1] == unix.PR_CAP_AMBIENT_CLEAR_ALL {
			if a[2] != 0 {
				return 0, unix.EINVAL
			}
			c.Caps.Ambient = 0
			break
		}
		n, err := capArg(a[2])
		if err != nil {
			return 0, err
		}
		switch a[1] {
		case unix.PR_CAP_AMBIENT_IS_SET:
			if c.Caps.Ambient.Has(n) {
				return 1, nil
			}
			return 0, nil
		case unix.PR_CAP_AMBIENT_RAISE:
			if !c.Caps.Permitted.Has(n) || !c.Caps.Inheritable.Has(n) {
				return 0, unix.EPERM
			}
			c.Caps.Ambient |= 1 << n
		case unix.PR_CAP_AMBIENT_LOWER:
			c.Caps.Ambient &^= 1 << n
		default:
			return 0, unix.EINVAL
		}
	}
	t.SetCreds(c)
	return 0, nil
}
