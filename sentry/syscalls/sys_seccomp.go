package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/bpf"

	"exokernelul.dev/exo/libos/kernel"
)

// seccomp(2)'s operations and SECCOMP_SET_MODE_FILTER's flags
// (linux/seccomp.h).
const (
	seccompSetModeStrict   = 0
	seccompSetModeFilter   = 1
	seccompGetActionAvail  = 2
	seccompGetNotifSizes   = 3
	seccompFlagTsync       = 1 << 0
	seccompFlagLog         = 1 << 1
	seccompFlagSpecAllow   = 1 << 2
	seccompFlagNewListener = 1 << 3
	seccompFlagTsyncESRCH  = 1 << 4
	seccompFlagWaitKillRcv = 1 << 5
)

func init() {
	register(SysSeccomp, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return doSeccomp(t, intArg(a[0]), uint32(a[1]), a[2])
	})
}

// doSeccomp is seccomp(op, flags, args), which prctl(PR_SET_SECCOMP) also
// reaches.
func doSeccomp(t *kernel.Task, op int, flags uint32, args uint64) (uint64, error) {
	switch op {
	case seccompSetModeStrict:
		if flags != 0 || args != 0 {
			return 0, unix.EINVAL
		}
		return 0, t.SetSeccompStrict()
	case seccompSetModeFilter:
		return setSeccompFilter(t, flags, args)
	case seccompGetActionAvail:
		if flags != 0 {
			return 0, unix.EINVAL
		}
		var b [4]byte
		if _, err := t.MM.CopyIn(args, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		switch binary.LittleEndian.Uint32(b[:]) {
		case kernel.SeccompRetKillProcess, kernel.SeccompRetKillThread, kernel.SeccompRetTrap,
			kernel.SeccompRetErrno, kernel.SeccompRetUserNotif, kernel.SeccompRetTrace,
			kernel.SeccompRetLog, kernel.SeccompRetAllow:
			return 0, nil
		}
		return 0, unix.EOPNOTSUPP
	case seccompGetNotifSizes:
		if flags != 0 {
			return 0, unix.EINVAL
		}
		// struct seccomp_notif, seccomp_notif_resp, seccomp_data.
		b := []byte{80, 0, 24, 0, 64, 0}
		if _, err := t.MM.CopyOut(args, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	return 0, unix.EINVAL
}

// setSeccompFilter reads a struct sock_fprog and attaches its program.
// A filter with a listener (SECCOMP_FILTER_FLAG_NEW_LISTENER) would need
// a supervisor inside the sandbox to answer it: refused with EINVAL, as a
// kernel without user notifications refuses the flag.
func setSeccompFilter(t *kernel.Task, flags uint32, args uint64) (uint64, error) {
	const known = seccompFlagTsync | seccompFlagLog | seccompFlagSpecAllow | seccompFlagNewListener |
		seccompFlagTsyncESRCH | seccompFlagWaitKillRcv
	if flags&^known != 0 || flags&seccompFlagNewListener != 0 {
		return 0, unix.EINVAL
	}
	if c := t.Creds(); !c.NoNewPrivs && !c.HasCap(kernel.CapSysAdmin) {
		return 0, unix.EACCES
	}
	var fprog [16]byte // struct sock_fprog: u16 len, then the pointer
	if _, err := t.MM.CopyIn(args, fprog[:]); err != nil {
		return 0, unix.EFAULT
	}
	n := int(binary.LittleEndian.Uint16(fprog[0:]))
	addr := binary.LittleEndian.Uint64(fprog[8:])
	if n == 0 || n > bpf.MaxInstructions {
		return 0, unix.EINVAL
	}
	raw := make([]byte, 8*n)
	if _, err := t.MM.CopyIn(addr, raw); err != nil {
		return 0, unix.EFAULT
	}
	insns := make([]bpf.Instruction, n)
	for i := range insns {
		b := raw[8*i:]
		insns[i] = bpf.Instruction{
			OpCode:      binary.LittleEndian.Uint16(b[0:]),
			JumpIfTrue:  b[2],
			JumpIfFalse: b[3],
			K:           binary.LittleEndian.Uint32(b[4:]),
		}
	}
	f, err := kernel.CompileSeccompFilter(insns)
	if err != nil {
		return 0, err
	}
	tid, err := t.AttachSeccompFilter(f, flags&seccompFlagTsync != 0, flags&seccompFlagTsyncESRCH != 0)
	return uint64(tid), err
}
