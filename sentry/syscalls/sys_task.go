package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/kernel"
)

func init() {
	register(SysClone, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		// x86-64 argument order: flags, stack, parent_tid, child_tid, tls.
		// CLONE_PIDFD's pidfd goes where the parent's tid would.
		return clone(t, kernel.CloneArgs{
			Flags:      a[0] &^ 0xff,
			ExitSignal: int(a[0] & 0xff),
			Stack:      a[1],
			ParentTID:  a[2],
			ChildTID:   a[3],
			TLS:        a[4],
			PidFD:      a[2],
		})
	})
	register(SysFork, func(t *kernel.Task, _ [6]uint64) (uint64, error) {
		return clone(t, kernel.CloneArgs{ExitSignal: int(unix.SIGCHLD)})
	})
	register(SysVfork, func(t *kernel.Task, _ [6]uint64) (uint64, error) {
		return clone(t, kernel.CloneArgs{Flags: unix.CLONE_VM | unix.CLONE_VFORK, ExitSignal: int(unix.SIGCHLD)})
	})
	register(SysClone3, sysClone3)
	register(SysExecve, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return execveat(t, unix.AT_FDCWD, a[0], a[1], a[2], 0)
	})
	register(SysExecveat, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return execveat(t, fdArg(a[0]), a[1], a[2], a[3], intArg(a[4]))
	})
	register(SysExit, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		t.ExitThread(int(a[0] & 0xff))
		return 0, nil
	})
	register(SysExitGroup, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		t.ExitGroup(kernel.ExitStatus{Code: int(a[0] & 0xff)})
		return 0, nil
	})
	register(SysWait4, sysWait4)
	register(SysWaitid, sysWaitid)
	register(SysSetsid, func(t *kernel.Task, _ [6]uint64) (uint64, error) {
		sid, err := t.Setsid()
		return uint64(sid), err
	})
	register(SysGetsid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		sid, err := t.Getsid(int32(a[0]))
		return uint64(sid), err
	})
	register(SysGetpgid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		id, err := t.Getpgid(int32(a[0]))
		return uint64(id), err
	})
	register(SysGetpgrp, func(t *kernel.Task, _ [6]uint64) (uint64, error) {
		id, err := t.Getpgid(0)
		return uint64(id), err
	})
	register(SysSetpgid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, t.Setpgid(int32(a[0]), int32(a[1]))
	})
	register(SysUnshare, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		// New namespaces need privileges the container does not have.
		// CLONE_FILES and CLONE_FS give a thread that shares its fd table
		// or root, cwd and umask a copy of its own (a private one stays);
		// SysV undo lists are the process's here already.
		if a[0]&^uint64(unix.CLONE_FILES|unix.CLONE_FS|unix.CLONE_SYSVSEM) != 0 {
			return 0, unix.EPERM
		}
		if a[0]&unix.CLONE_FILES != 0 {
			t.FDs = t.FDs.Unshare()
		}
		if a[0]&unix.CLONE_FS != 0 {
			t.UnshareFS()
		}
		return 0, nil
	})
}

func clone(t *kernel.Task, a kernel.CloneArgs) (uint64, error) {
	var fp []byte
	if t.Ctx != nil {
		fp, _ = t.Ctx.FPState()
	}
	tid, err := t.Clone(a, fp)
	if err != nil {
		return 0, err
	}
	t.StartChild(tid)
	return uint64(tid), nil
}

// struct clone_args of clone3 (linux/sched.h), version 0 is 64 bytes.
func sysClone3(t *kernel.Task, a [6]uint64) (uint64, error) {
	size := a[1]
	if size < 64 || size > 4096 {
		return 0, unix.EINVAL
	}
	b := make([]byte, size)
	if _, err := t.MM.CopyIn(a[0], b); err != nil {
		return 0, unix.EFAULT
	}
	for _, x := range b[64:] {
		if x != 0 {
			return 0, unix.E2BIG // fields this kernel does not know
		}
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
	flags, pidfd, childTID, parentTID, exitSig, stack, stackSize, tls := u(0), u(1), u(2), u(3), u(4), u(5), u(6), u(7)
	if exitSig >= kernel.NumSignals || (stack == 0) != (stackSize == 0) {
		return 0, unix.EINVAL
	}
	sp := uint64(0)
	if stack != 0 {
		sp = stack + stackSize
	}
	return clone(t, kernel.CloneArgs{
		Flags:      flags,
		ExitSignal: int(exitSig),
		Stack:      sp,
		ParentTID:  parentTID,
		ChildTID:   childTID,
		TLS:        tls,
		PidFD:      pidfd,
	})
}

// copyInStrings reads a NULL-terminated array of string pointers (argv,
// envp), bounded like Linux's MAX_ARG_STRINGS.
func copyInStrings(t *kernel.Task, addr uint64) ([]string, error) {
	var out []string
	if addr == 0 {
		return nil, nil
	}
	total := 0
	for i := 0; ; i++ {
		if i >= 0x7fffffff/8 {
			return nil, unix.E2BIG
		}
		var b [8]byte
		if _, err := t.MM.CopyIn(addr+uint64(8*i), b[:]); err != nil {
			return nil, unix.EFAULT
		}
		p := binary.LittleEndian.Uint64(b[:])
		if p == 0 {
			return out, nil
		}
		s, err := t.MM.CopyInString(p, 128<<10)
		if err != nil {
			if err == unix.ENAMETOOLONG {
				return nil, unix.E2BIG
			}
			return nil, err
		}
		total += len(s) + 1
		if total > 2<<20 {
			return nil, unix.E2BIG
		}
		out = append(out, s)
	}
}

func execveat(t *kernel.Task, dirfd int, pathAddr, argvAddr, envAddr uint64, flags int) (uint64, error) {
	if flags&^(unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	p, err := copyInPathEmpty(t, pathAddr, flags)
	if err != nil {
		return 0, err
	}
	argv, err := copyInStrings(t, argvAddr)
	if err != nil {
		return 0, err
	}
	envv, err := copyInStrings(t, envAddr)
	if err != nil {
		return 0, err
	}
	if err := t.ExecAt(dirfd, p, flags, argv, envv); err != nil {
		return 0, err
	}
	// The new image starts with the registers exec set; rax is 0.
	return 0, nil
}

// waitOptions decodes wait4's and waitid's options. They are a 32-bit
// word: __WCLONE is its top bit, so it must not be sign-extended.
func waitOptions(pid int32, options int) (kernel.WaitOptions, error) {
	const known = unix.WNOHANG | unix.WUNTRACED | unix.WCONTINUED | unix.WEXITED | unix.WNOWAIT |
		unix.WALL | unix.WCLONE | 0x20000000 /* __WNOTHREAD */
	if options&^known != 0 {
		return kernel.WaitOptions{}, unix.EINVAL
	}
	return kernel.WaitOptions{
		Pid:       pid,
		Stopped:   options&unix.WUNTRACED != 0,
		Continued: options&unix.WCONTINUED != 0,
		NoHang:    options&unix.WNOHANG != 0,
		NoWait:    options&unix.WNOWAIT != 0,
		Clone:     options&unix.WCLONE != 0,
		All:       options&unix.WALL != 0,
	}, nil
}

func sysWait4(t *kernel.Task, a [6]uint64) (uint64, error) {
	o, err := waitOptions(int32(a[0]), int(uint32(a[2])))
	if err != nil || uint32(a[2])&(unix.WEXITED|unix.WNOWAIT) != 0 {
		return 0, unix.EINVAL
	}
	o.Exited = true
	if int32(a[0]) == -1<<31 {
		return 0, unix.ESRCH
	}
	r, err := t.Wait(o)
	if err != nil {
		return 0, err
	}
	if r.PID != 0 && a[1] != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(r.Status))
		if _, err := t.MM.CopyOut(a[1], b[:]); err != nil {
			return 0, unix.EFAULT
		}
	}
	if r.PID != 0 && a[3] != 0 {
		ru := rusage(t, r.Usage)
		ru.Maxrss = 0
		if _, err := t.MM.CopyOut(a[3], rusageBytes(&ru)); err != nil {
			return 0, unix.EFAULT
		}
	}
	return uint64(r.PID), nil
}

// sysWaitid is waitid(which, id, infop, options, rusage). As Linux's, it
// fills infop's si_signo, si_errno, si_code, si_pid, si_uid and si_status
// (zeros when no child is reported, even with an error) and no other
// byte of it; rusage only when a child is reported; a bad infop is
// EFAULT whatever the wait gave.
func sysWaitid(t *kernel.Task, a [6]uint64) (uint64, error) {
	r, err := waitid(t, intArg(a[0]), int32(a[1]), int(uint32(a[3])))
	if err == nil && r.PID != 0 && a[4] != 0 {
		ru := rusage(t, r.Usage)
		ru.Maxrss = 0
		if _, err := t.MM.CopyOut(a[4], rusageBytes(&ru)); err != nil {
			return 0, unix.EFAULT
		}
	}
	if infop := a[2]; infop != 0 {
		var info arch.SignalInfo
		if err == nil && r.PID != 0 {
			info.Signo = int32(unix.SIGCHLD)
			info.Code = r.Code
			info.SetChild(r.PID, r.UID, r.Value, 0, 0)
		}
		// si_signo, si_errno, si_code; then, past the union's
		// alignment, si_pid, si_uid, si_status.
		b := info.Marshal()
		if _, werr := t.MM.CopyOut(infop, b[:12]); werr != nil {
			return 0, unix.EFAULT
		}
		if _, werr := t.MM.CopyOut(infop+16, b[16:28]); werr != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, err
}

// waitid is waitid's wait: the child reported (PID 0 for none, with
// WNOHANG or a non-blocking pidfd's WNOHANG) or the error.
func waitid(t *kernel.Task, which int, id int32, options int) (kernel.WaitResult, error) {
	var pid int32
	var byPidFD, nonblock bool
	var target *kernel.ThreadGroup
	switch which {
	case unix.P_ALL:
		pid = -1
	case unix.P_PID:
		if id <= 0 {
			return kernel.WaitResult{}, unix.EINVAL
		}
		pid = id
	case unix.P_PGID:
		if id < 0 {
			return kernel.WaitResult{}, unix.EINVAL
		}
		pid = -id
		if id == 0 {
			pid = 0
		}
	case unix.P_PIDFD:
		if id < 0 {
			return kernel.WaitResult{}, unix.EINVAL
		}
		byPidFD = true
	default:
		return kernel.WaitResult{}, unix.EINVAL
	}
	o, err := waitOptions(pid, options)
	if err != nil {
		return kernel.WaitResult{}, err
	}
	o.Exited = options&unix.WEXITED != 0
	o.Stopped = options&unix.WSTOPPED != 0
	if !o.Exited && !o.Stopped && !o.Continued {
		return kernel.WaitResult{}, unix.EINVAL
	}
	if byPidFD {
		// The child the pidfd refers to; a non-blocking pidfd makes the
		// wait WNOHANG, and nothing to report then is EAGAIN unless the
		// caller asked for WNOHANG itself.
		if target, nonblock, err = pidFDWaitTarget(t, int(id)); err != nil {
			return kernel.WaitResult{}, err
		}
		o.ByPidFD, o.Target = true, target
		o.NoHang = o.NoHang || nonblock
	}
	r, err := t.Wait(o)
	if err == nil && r.PID == 0 && nonblock && options&unix.WNOHANG == 0 {
		return kernel.WaitResult{}, unix.EAGAIN
	}
	return r, err
}
