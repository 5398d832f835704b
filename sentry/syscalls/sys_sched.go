package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

// Scheduling attributes: nice values, policies, sched_attr and I/O
// priorities, recorded per thread by the kernel (libos/kernel/sched.go).

// struct sched_attr: the first version's size, and the size this kernel
// knows (with the utilization clamps), as Linux 5.3+.
const (
	schedAttrSizeVer0 = 48
	schedAttrSize     = 56
	// schedAttrMaxSize bounds a caller's struct (a page, as Linux).
	schedAttrMaxSize = 4096
)

// sched_attr.sched_flags (linux/sched/types.h).
const (
	schedFlagResetOnFork = 0x01
	schedFlagKeepPolicy  = 0x08
	schedFlagKeepParams  = 0x10
	schedFlagUtilClamp   = 0x60
	schedFlagAll         = 0x7f
)

// fairPolicy says whether policy takes no static priority.
func fairPolicy(p int32) bool {
	return p == kernel.SchedOther || p == kernel.SchedBatch || p == kernel.SchedIdle
}

func validPolicy(p int32) bool {
	return fairPolicy(p) || p == kernel.SchedFIFO || p == kernel.SchedRR || p == kernel.SchedDeadline
}

// checkPriority is what Linux asks of sched_param's priority for a policy:
// 0 for the fair ones, 1..99 for the real-time ones.
func checkPriority(policy, prio int32) error {
	switch {
	case fairPolicy(policy) && prio != 0,
		(policy == kernel.SchedFIFO || policy == kernel.SchedRR) && (prio < 1 || prio > 99),
		policy == kernel.SchedDeadline:
		// A deadline task needs sched_setattr's runtime and period.
		return unix.EINVAL
	}
	return nil
}

// schedParam reads sched_param's priority at addr.
func schedParam(t *kernel.Task, addr uint64) (int32, error) {
	var b [4]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return int32(binary.LittleEndian.Uint32(b[:])), nil
}

func init() {
	register(SysGetpriority, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		p, err := t.Getpriority(intArg(a[0]), int32(a[1]))
		return uint64(p), err
	})
	register(SysSetpriority, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, t.Setpriority(intArg(a[0]), int32(a[1]), int32(a[2]))
	})
	register(SysSchedGetscheduler, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if int32(a[0]) < 0 {
			return 0, unix.EINVAL
		}
		s, err := t.SchedAttr(int32(a[0]))
		if err != nil {
			return 0, err
		}
		p := uint64(s.Policy)
		if s.ResetOnFork {
			p |= kernel.SchedResetOnFork
		}
		return p, nil
	})
	register(SysSchedGetparam, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if int32(a[0]) < 0 || a[1] == 0 {
			return 0, unix.EINVAL
		}
		if _, err := t.SchedAttr(int32(a[0])); err != nil {
			return 0, err
		}
		return 0, putU64(t, a[1], 0, 4)
	})
	register(SysSchedSetscheduler, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if int32(a[0]) < 0 || a[2] == 0 {
			return 0, unix.EINVAL
		}
		prio, err := schedParam(t, a[2])
		if err != nil {
			return 0, err
		}
		policy := int32(a[1])
		reset := policy&kernel.SchedResetOnFork != 0
		policy &^= kernel.SchedResetOnFork
		if !validPolicy(policy) {
			return 0, unix.EINVAL
		}
		if err := checkPriority(policy, prio); err != nil {
			return 0, err
		}
		return 0, t.SetSchedAttr(int32(a[0]), kernel.SchedAttr{Policy: policy, ResetOnFork: reset}, true)
	})
	register(SysSchedSetparam, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if int32(a[0]) < 0 || a[1] == 0 {
			return 0, unix.EINVAL
		}
		prio, err := schedParam(t, a[1])
		if err != nil {
			return 0, err
		}
		s, err := t.SchedAttr(int32(a[0]))
		if err != nil {
			return 0, err
		}
		if err := checkPriority(s.Policy, prio); err != nil {
			return 0, err
		}
		return 0, t.SetSchedAttr(int32(a[0]), s, true)
	})
	register(SysSchedGetattr, sysSchedGetattr)
	register(SysSchedSetattr, sysSchedSetattr)
	register(SysSchedGetPriorityMax, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		switch p := int32(a[0]); {
		case p == kernel.SchedFIFO || p == kernel.SchedRR:
			return 99, nil
		case validPolicy(p):
			return 0, nil
		}
		return 0, unix.EINVAL
	})
	register(SysSchedGetPriorityMin, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		switch p := int32(a[0]); {
		case p == kernel.SchedFIFO || p == kernel.SchedRR:
			return 1, nil
		case validPolicy(p):
			return 0, nil
		}
		return 0, unix.EINVAL
	})
	register(SysSchedRrGetInterval, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if int32(a[0]) < 0 {
			return 0, unix.EINVAL
		}
		if _, err := t.SchedAttr(int32(a[0])); err != nil {
			return 0, err
		}
		// Every thread is a fair-class one, for which Linux 6.6+
		// (EEVDF) reports no round-robin slice.
		return 0, putTimespec(t, a[1], unix.Timespec{})
	})
	register(SysIoprioGet, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		p, err := t.Ioprio(intArg(a[0]), int32(a[1]))
		return uint64(p), err
	})
	register(SysIoprioSet, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		prio := int32(a[2])
		if err := t.CheckIoprio(prio); err != nil {
			return 0, err
		}
		return 0, t.SetIoprio(intArg(a[0]), int32(a[1]), prio)
	})
}

// sysSchedGetattr writes thread pid's struct sched_attr, cut to the
// caller's size (at least the first version's); bytes the caller's larger
// struct has beyond this kernel's are zeroed, as copy_struct_to_user does.
func sysSchedGetattr(t *kernel.Task, a [6]uint64) (uint64, error) {
	addr, size, flags := a[1], uint32(a[2]), uint32(a[3])
	if addr == 0 || int32(a[0]) < 0 || size > schedAttrMaxSize || size < schedAttrSizeVer0 || flags != 0 {
		return 0, unix.EINVAL
	}
	s, err := t.SchedAttr(int32(a[0]))
	if err != nil {
		return 0, err
	}
	b := make([]byte, max(size, schedAttrSize))
	le := binary.LittleEndian
	le.PutUint32(b[0:], min(size, schedAttrSize))
	le.PutUint32(b[4:], uint32(s.Policy))
	if s.ResetOnFork {
		le.PutUint64(b[8:], schedFlagResetOnFork)
	}
	le.PutUint32(b[16:], uint32(s.Nice))
	if _, err := t.MM.CopyOut(addr, b[:size]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// sysSchedSetattr sets thread pid's policy and nice value from a struct
// sched_attr of any version: a size below the first version's, or a larger
// struct with non-zero bytes past what this kernel knows, is E2BIG with
// the kernel's size written back, as Linux's sched_copy_attr.
func sysSchedSetattr(t *kernel.Task, a [6]uint64) (uint64, error) {
	addr := a[1]
	if addr == 0 || int32(a[0]) < 0 || a[2] != 0 {
		return 0, unix.EINVAL
	}
	var sz [4]byte
	if _, err := t.MM.CopyIn(addr, sz[:]); err != nil {
		return 0, unix.EFAULT
	}
	le := binary.LittleEndian
	size := le.Uint32(sz[:])
	if size == 0 {
		size = schedAttrSizeVer0
	}
	tooBig := func() (uint64, error) {
		if err := putU64(t, addr, schedAttrSize, 4); err != nil {
			return 0, err
		}
		return 0, unix.E2BIG
	}
	if size < schedAttrSizeVer0 || size > schedAttrMaxSize {
		return tooBig()
	}
	b := make([]byte, size)
	if _, err := t.MM.CopyIn(addr, b); err != nil {
		return 0, unix.EFAULT
	}
	for _, x := range b[min(size, schedAttrSize):] {
		if x != 0 {
			return tooBig()
		}
	}
	b = append(b, make([]byte, max(0, schedAttrSize-int(size)))...)
	policy, flags := int32(le.Uint32(b[4:])), le.Uint64(b[8:])
	nice, prio := int32(le.Uint32(b[16:])), int32(le.Uint32(b[20:]))
	if policy < 0 || flags&^schedFlagAll != 0 {
		return 0, unix.EINVAL
	}
	if flags&schedFlagUtilClamp != 0 {
		// Utilization clamps: as a kernel without CONFIG_UCLAMP_TASK,
		// which this host's is (sched_getattr shows no clamps).
		return 0, unix.EOPNOTSUPP
	}
	cur, err := t.SchedAttr(int32(a[0]))
	if err != nil {
		return 0, err
	}
	reset := flags&schedFlagResetOnFork != 0
	switch {
	case flags&schedFlagKeepParams != 0:
		// Neither the policy nor its parameters change, only the
		// reset-on-fork flag (Linux skips __setscheduler_params).
		policy, nice = cur.Policy, cur.Nice
		if flags&schedFlagKeepPolicy != 0 {
			reset = cur.ResetOnFork
		}
	case flags&schedFlagKeepPolicy != 0:
		// SETPARAM_POLICY: the policy and its reset-on-fork flag stay.
		policy, reset = cur.Policy, cur.ResetOnFork
	}
	if !validPolicy(policy) {
		return 0, unix.EINVAL
	}
	// A deadline policy's own parameters are not checked: SetSchedAttr
	// refuses the policy anyway.
	if policy != kernel.SchedDeadline {
		if err := checkPriority(policy, prio); err != nil {
			return 0, err
		}
	}
	want := kernel.SchedAttr{Policy: policy, ResetOnFork: reset, Nice: nice}
	return 0, t.SetSchedAttr(int32(a[0]), want, false)
}
