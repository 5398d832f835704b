package syscalls

import (
	"math/bits"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/fs/proc"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

func init() {
	register(SysPidfdOpen, sysPidfdOpen)
	register(SysPidfdSendSignal, sysPidfdSendSignal)
	register(SysPidfdGetfd, sysPidfdGetfd)
}

// sysPidfdOpen is pidfd_open(pid, flags): a close-on-exec pidfd of
// process pid, or of thread pid with PIDFD_THREAD; PIDFD_NONBLOCK makes
// waitid on it non-blocking.
func sysPidfdOpen(t *kernel.Task, a [6]uint64) (uint64, error) {
	pid, flags := int32(a[0]), int(uint32(a[1]))
	if flags&^(kernel.PidFDNonblock|kernel.PidFDThread) != 0 || pid <= 0 {
		return 0, unix.EINVAL
	}
	f, err := t.OpenPidFD(pid, flags&kernel.PidFDThread != 0)
	if err != nil {
		return 0, err
	}
	return install(t, vfs.NewDescription(f, "", unix.O_RDWR|flags), 0, true)
}

// pidFD returns the pidfd at fd (the caller DecRefs d): EBADF for a
// closed fd or any other file, as Linux's pidfd_pid.
func pidFD(t *kernel.Task, fd int) (*vfs.FileDescription, *kernel.PidFD, error) {
	d, err := t.FDs.Get(fd)
	if err != nil {
		return nil, nil, err
	}
	f, ok := vfs.Underlying(d.File).(*kernel.PidFD)
	if !ok {
		d.DecRef()
		return nil, nil, unix.EBADF
	}
	return d, f, nil
}

// pidFDWaitTarget is waitid(P_PIDFD, fd)'s child, and whether the pidfd
// is non-blocking.
func pidFDWaitTarget(t *kernel.Task, fd int) (*kernel.ThreadGroup, bool, error) {
	d, f, err := pidFD(t, fd)
	if err != nil {
		return nil, false, err
	}
	defer d.DecRef()
	return f.WaitTarget(), d.Flags()&unix.O_NONBLOCK != 0, nil
}

// sysPidfdSendSignal is pidfd_send_signal(pidfd, sig, info, flags): kill
// through a pidfd, with at most one scope flag (PIDFD_SIGNAL_THREAD,
// _THREAD_GROUP, _PROCESS_GROUP) and an optional siginfo whose si_signo
// must be sig.
func sysPidfdSendSignal(t *kernel.Task, a [6]uint64) (uint64, error) {
	sig, infoAddr, flags := intArg(a[1]), a[2], uint32(a[3])
	const scopes = kernel.PidFDSignalThread | kernel.PidFDSignalThreadGroup | kernel.PidFDSignalProcessGroup
	if flags&^scopes != 0 || bits.OnesCount32(flags) > 1 {
		return 0, unix.EINVAL
	}
	d, err := t.FDs.Get(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	f, ok := vfs.Underlying(d.File).(*kernel.PidFD)
	if !ok {
		// A /proc/<pid> directory stands for its process here (only).
		var tgid int32
		var start time.Duration
		var isDir bool
		if d.Dentry != nil {
			tgid, start, isDir = proc.ProcessDir(d.Dentry.Inode())
		}
		if !isDir {
			return 0, unix.EBADF
		}
		if f, err = t.ProcDirPidFD(tgid, start); err != nil {
			return 0, err
		}
	}
	var info *arch.SignalInfo
	if infoAddr != 0 {
		b := make([]byte, arch.SignalInfoSize)
		if _, err := t.MM.CopyIn(infoAddr, b); err != nil {
			return 0, unix.EFAULT
		}
		info = &arch.SignalInfo{}
		if err := info.Unmarshal(b); err != nil || int(info.Signo) != sig {
			return 0, unix.EINVAL
		}
	}
	return 0, t.SignalPidFD(f, sig, info, int(flags))
}

// sysPidfdGetfd is pidfd_getfd(pidfd, targetfd, flags): a close-on-exec
// duplicate in the caller of fd targetfd of the pidfd's process.
func sysPidfdGetfd(t *kernel.Task, a [6]uint64) (uint64, error) {
	if uint32(a[2]) != 0 {
		return 0, unix.EINVAL
	}
	d, f, err := pidFD(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	nd, err := t.PidFDGetFD(f, fdArg(a[1]))
	if err != nil {
		return 0, err
	}
	return install(t, nd, 0, true)
}
