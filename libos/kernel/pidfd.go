package kernel

import (
	"encoding/binary"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// PidFD is a pidfd (pidfd_open(2), clone's CLONE_PIDFD): a file that
// refers to one process, or with PIDFD_THREAD to one thread, for the
// life of the file rather than by a number that may be reused. It is
// readable (poll) once the process has exited, can be signalled
// (pidfd_send_signal), waited for by its parent (waitid P_PIDFD) and
// have its fds copied (pidfd_getfd).
type PidFD struct {
	// task is the thread the file was made for: a process's leader when
	// thread is false. tg is its process; neither changes. leader says
	// task led tg then: the pidfd then follows the leader's pid to the
	// thread that takes it over by an exec (Linux's exchange_tids).
	task   *Task
	tg     *ThreadGroup
	thread bool
	leader bool
	// tid is task's tid then: a thread other than the leader that execs
	// takes the leader's, and its own pid is gone.
	tid int32
	// ino is the identity Linux's pidfs gives the pid: every pidfd of one
	// process has the same inode number, never reused.
	ino uint64
}

var (
	_ vfs.File        = (*PidFD)(nil)
	_ vfs.StatFSer    = (*PidFD)(nil)
	_ waiter.Waitable = (*PidFD)(nil)
)

// Flags of pidfd_open and the description of a pidfd (linux/pidfd.h).
const (
	// PidFDThread (PIDFD_THREAD, Linux 6.9) makes the pidfd refer to a
	// thread; it is kept in the file's status flags, as O_EXCL.
	PidFDThread = unix.O_EXCL
	// PidFDNonblock (PIDFD_NONBLOCK): waitid on the pidfd does not block.
	PidFDNonblock = unix.O_NONBLOCK
)

// Scopes of pidfd_send_signal's flags (linux/pidfd.h, Linux 6.9).
const (
	PidFDSignalThread       = 1 << 0
	PidFDSignalThreadGroup  = 1 << 1
	PidFDSignalProcessGroup = 1 << 2
)

// pidfsMagic is the f_type fstatfs reports for a pidfd (PID_FS_MAGIC):
// programs that compare pidfds by inode number check for it.
const pidfsMagic = 0x50494446

// pidfsDev is the st_dev of pidfds: pidfs is a pseudo file system of its
// own, apart from anon_inodefs.
var pidfsDev = unix.Mkdev(0, 15)

// OpenPidFD is pidfd_open's lookup of pid: ESRCH when no such process or
// thread exists (or it has been reaped), ENOENT for a thread that is not
// a process's leader unless thread is set (Linux 6.15 on; EINVAL before).
func (t *Task) OpenPidFD(pid int32, thread bool) (*PidFD, error) {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	o := k.tasks[pid]
	if o == nil || !t.seesLocked(o.tg) || (o != o.tg.leader && o.exited) {
		return nil, unix.ESRCH
	}
	if !thread && o != o.tg.leader {
		return nil, unix.ENOENT
	}
	return k.newPidFDLocked(o, thread), nil
}

// newPidFDLocked makes a pidfd of task o (of its process unless thread).
func (k *Kernel) newPidFDLocked(o *Task, thread bool) *PidFD {
	if o.pidIno == 0 {
		k.lastPidIno++
		o.pidIno = k.lastPidIno
	}
	return &PidFD{task: o, tg: o.tg, thread: thread, leader: o == o.tg.leader, tid: o.TID, ino: o.pidIno}
}

// taskLocked is the thread the pidfd's pid names now.
func (f *PidFD) taskLocked() *Task {
	if f.leader {
		return f.tg.leader
	}
	return f.task
}

// stateLocked says whether the pidfd's process (or thread) has exited and
// whether it is gone altogether: reaped, or a thread other than the leader
// (which is released as it exits, and whose pid an exec ends).
func (f *PidFD) stateLocked() (exited, gone bool) {
	if !f.leader {
		gone := f.task.exited || f.task.TID != f.tid
		return gone, gone
	}
	if f.thread {
		return f.tg.leader.exited || f.tg.zombie, f.tg.reaped
	}
	return f.tg.zombie, f.tg.reaped
}

// pidLocked is the pid the pidfd refers to, as fdinfo shows it: -1 once
// it is gone.
func (f *PidFD) pidLocked() int32 {
	if _, gone := f.stateLocked(); gone {
		return -1
	}
	return f.taskLocked().TID
}

// FDInfo is what /proc/PID/fdinfo adds for a pidfd: the pid in the
// reader's pid namespace and in each namespace down to its own (the
// sandbox has one pid space), -1 once the process is reaped.
func (f *PidFD) FDInfo() string {
	k := f.tg.k
	k.mu.Lock()
	pid := f.pidLocked()
	k.mu.Unlock()
	s := strconv.Itoa(int(pid))
	return "Pid:\t" + s + "\nNSpid:\t" + s + "\n"
}

// WaitTarget is the process waitid(P_PIDFD) waits for, nil if the pidfd
// refers to a thread other than a leader (no process is that child).
func (f *PidFD) WaitTarget() *ThreadGroup {
	k := f.tg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if !f.leader {
		return nil
	}
	return f.tg
}

// Readiness implements waiter.Waitable: readable once the process has
// exited (every thread, or the thread itself for PIDFD_THREAD), with
// POLLHUP too once it is gone, as Linux's pidfd_poll.
func (f *PidFD) Readiness(mask uint32) uint32 {
	k := f.tg.k
	k.mu.Lock()
	exited, gone := f.stateLocked()
	k.mu.Unlock()
	var r uint32
	if exited || gone {
		r = waiter.EventIn | waiter.EventRdNorm
	}
	if gone {
		r |= waiter.EventHUp
	}
	return r & mask
}

// EventRegister implements waiter.Waitable: the process's pidfd queue is
// told of each thread's exit and of the reaping.
func (f *PidFD) EventRegister(e *waiter.Entry) { f.tg.pidfdQ.Register(e) }

// EventUnregister implements waiter.Waitable.
func (f *PidFD) EventUnregister(e *waiter.Entry) { f.tg.pidfdQ.Unregister(e) }

// notifyPidFDsLocked wakes tg's pidfds' pollers after an exit or a reap
// (from a goroutine: their callbacks take k.mu).
func (tg *ThreadGroup) notifyPidFDsLocked() {
	if !tg.pidfdQ.Empty() {
		go tg.pidfdQ.Notify(waiter.EventIn | waiter.EventRdNorm | waiter.EventHUp)
	}
}

// Read implements vfs.File: a pidfd has no data.
func (f *PidFD) Read([]byte) (int, error) { return 0, unix.EINVAL }

// Write implements vfs.File.
func (f *PidFD) Write([]byte) (int, error) { return 0, unix.EINVAL }

// Pread implements vfs.File.
func (f *PidFD) Pread([]byte, int64) (int, error) { return 0, unix.EINVAL }

// Pwrite implements vfs.File.
func (f *PidFD) Pwrite([]byte, int64) (int, error) { return 0, unix.EINVAL }

// Seek implements vfs.File.
func (f *PidFD) Seek(int64, int) (int64, error) { return 0, unix.ESPIPE }

// Getdents implements vfs.File.
func (f *PidFD) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// PIDFD_GET_INFO (linux/pidfd.h, Linux 6.13) is _IOWR(0xFF, 11, struct
// pidfd_info), whose size field gives the caller's struct size.
const (
	pidfsIoctlMagic = 0xFF
	pidfdGetInfoNr  = 11
	pidfdInfoSizeV0 = 64 // the first struct pidfd_info
	pidfdInfoSize   = 72 // this kernel's, with coredump_mask
	pidfdInfoPID    = 1 << 0
	pidfdInfoCreds  = 1 << 1
	pidfdInfoExit   = 1 << 3
	iocReadWrite    = 3 // _IOC_READ|_IOC_WRITE
)

// Ioctl implements vfs.File: PIDFD_GET_INFO, of any struct size from
// the first one up; the namespace ioctls are not served (ENOTTY).
func (f *PidFD) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	// _IOC: nr in bits 0-7, type 8-15, size 16-29, direction 30-31.
	nr, typ := req&0xff, req>>8&0xff
	size, dir := int(req>>16&(1<<14-1)), req>>30&3
	if typ != pidfsIoctlMagic || nr != pidfdGetInfoNr || size < pidfdInfoSizeV0 || dir != iocReadWrite {
		return 0, unix.ENOTTY
	}
	if arg == 0 {
		return 0, unix.EINVAL
	}
	var m [8]byte
	if _, err := mem.CopyIn(arg, m[:]); err != nil {
		return 0, unix.EFAULT
	}
	info, err := f.info(binary.LittleEndian.Uint64(m[:]))
	if err != nil {
		return 0, err
	}
	// A larger struct than this kernel's gets zeros past it, as
	// copy_struct_to_user.
	out := make([]byte, size)
	copy(out, info[:])
	if _, err := mem.CopyOut(arg, out); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// info is PIDFD_GET_INFO's struct pidfd_info for the request mask: the
// pid, tgid, parent and credentials while the thread exists (a zombie
// too), ESRCH once it is gone unless PIDFD_INFO_EXIT asks for the wait
// status, which a process has once reaped. No cgroup id: the sandbox has
// no cgroup file system to give one.
func (f *PidFD) info(mask uint64) ([pidfdInfoSize]byte, error) {
	var b [pidfdInfoSize]byte
	le := binary.LittleEndian
	k := f.tg.k
	k.mu.Lock()
	defer k.mu.Unlock()
	var got uint64
	if _, gone := f.stateLocked(); gone {
		if mask&pidfdInfoExit == 0 {
			return b, unix.ESRCH
		}
		if f.leader && f.tg.reaped {
			got |= pidfdInfoExit
			le.PutUint32(b[60:], uint32(int32(f.tg.exitStatus.WaitStatus())))
		}
	} else {
		o := f.taskLocked()
		c := o.creds
		for i, v := range []uint32{c.UID, c.GID, c.EUID, c.EGID, c.SUID, c.SGID, c.FSUID, c.FSGID} {
			le.PutUint32(b[28+4*i:], v)
		}
		ppid := int32(0)
		if p := f.tg.parent; p != nil {
			ppid = p.tgid
		}
		le.PutUint32(b[16:], uint32(o.TID))
		le.PutUint32(b[20:], uint32(f.tg.tgid))
		le.PutUint32(b[24:], uint32(ppid))
		got |= pidfdInfoPID | pidfdInfoCreds
	}
	le.PutUint64(b[0:], got)
	return b, nil
}

// Close implements vfs.File.
func (f *PidFD) Close() error { return nil }

// Stat implements vfs.File: pidfs's inode of the process, mode 0700 with
// no file type, the same inode number for every pidfd of it.
func (f *PidFD) Stat() (unix.Stat_t, error) {
	return unix.Stat_t{
		Dev:     pidfsDev,
		Ino:     f.ino,
		Nlink:   1,
		Mode:    0o700,
		Blksize: 4096,
	}, nil
}

// Statfs implements vfs.StatFSer: pidfs.
func (f *PidFD) Statfs(string) (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: pidfsMagic, Bsize: 4096, Frsize: 4096, Namelen: vfs.NameMax}, nil
}

// IsThread says whether the pidfd refers to a thread (PIDFD_THREAD).
func (f *PidFD) IsThread() bool { return f.thread }

// SignalPidFD is pidfd_send_signal: sig (0: only the checks) to f's
// process, or its thread, or the process group it leads, as scope (one of
// the PidFDSignal* flags, 0 for the pidfd's own kind) says. info is the
// caller's siginfo or nil for the one kill and tgkill send; a forged
// si_code may only be sent to the caller's own thread. The rest is kill's:
// the same permission rule, the same delivery.
func (t *Task) SignalPidFD(f *PidFD, sig int, info *arch.SignalInfo, scope int) error {
	if scope == 0 {
		scope = PidFDSignalThreadGroup
		if f.thread {
			scope = PidFDSignalThread
		}
	}
	if info != nil {
		if (f.task != t || scope == PidFDSignalProcessGroup) && (info.Code >= 0 || info.Code == arch.SITkill) {
			return unix.EPERM
		}
	}
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	if !t.seesLocked(f.tg) {
		// A process of another pid namespace (access_pidfd_pidns).
		return unix.EINVAL
	}
	if _, gone := f.stateLocked(); gone {
		return unix.ESRCH
	}
	if sig < 0 || sig >= NumSignals {
		return unix.EINVAL
	}
	if info == nil {
		code := int32(arch.SIUser)
		if scope == PidFDSignalThread {
			code = arch.SITkill
		}
		info = &arch.SignalInfo{Signo: int32(sig), Code: code}
		info.SetPIDUID(t.tg.tgid, t.creds.UID)
	}
	o := f.taskLocked()
	switch scope {
	case PidFDSignalThread:
		return t.signalGroupsLocked([]*ThreadGroup{f.tg}, o, sig, info)
	case PidFDSignalThreadGroup:
		return t.signalGroupsLocked([]*ThreadGroup{f.tg}, nil, sig, info)
	default:
		// The process group whose id is the pidfd's pid.
		return t.signalGroupsLocked(t.pgrpMembersLocked(o.TID), nil, sig, info)
	}
}

// PidFDGetFD is pidfd_getfd's lookup: a new reference to the description
// at fd in the fd table of f's process (its thread for PIDFD_THREAD).
// ESRCH when the thread has exited; EPERM unless the caller may ptrace
// it; EBADF for a closed fd.
func (t *Task) PidFDGetFD(f *PidFD, fd int) (*vfs.FileDescription, error) {
	k := t.K
	k.mu.Lock()
	o := f.taskLocked()
	if _, gone := f.stateLocked(); gone || o.exited || f.tg.zombie {
		k.mu.Unlock()
		return nil, unix.ESRCH
	}
	if !t.mayPtraceLocked(o) {
		k.mu.Unlock()
		return nil, unix.EPERM
	}
	fds := o.FDs
	k.mu.Unlock()
	d, err := fds.Get(fd)
	if err != nil {
		// A thread on its way out may have dropped its table already.
		k.mu.Lock()
		exiting := o.exiting || o.exited || f.tg.exiting
		k.mu.Unlock()
		if exiting {
			return nil, unix.ESRCH
		}
		return nil, err
	}
	return d, nil
}

// mayPtraceLocked is Linux's ptrace_may_access with
// PTRACE_MODE_ATTACH_REALCREDS: a thread of the caller's own process, or
// one whose real, effective and saved ids all match the caller's real
// ids, or any for a holder of CAP_SYS_PTRACE.
func (t *Task) mayPtraceLocked(o *Task) bool {
	if o.tg == t.tg {
		return true
	}
	c, oc := t.creds, o.creds
	if c.UID == oc.UID && c.UID == oc.EUID && c.UID == oc.SUID &&
		c.GID == oc.GID && c.GID == oc.EGID && c.GID == oc.SGID {
		return true
	}
	return c.HasCap(CapSysPtrace)
}

// ProcDirPidFD is the pidfd a /proc/<pid> directory stands for in
// pidfd_send_signal: process tgid, if it is still the one that started
// at start (since boot); ESRCH once it is reaped or its pid reused.
func (t *Task) ProcDirPidFD(tgid int32, start time.Duration) (*PidFD, error) {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	tg := k.groupLocked(tgid)
	if tg == nil || tg.leader.Start.Sub(k.Boot) != start {
		return nil, unix.ESRCH
	}
	return &PidFD{task: tg.leader, tg: tg, leader: true, tid: tg.tgid}, nil
}

// PidFDOfGroup is a pidfd of process tg, which may have been reaped
// since it was recorded (SO_PEERPIDFD's peer: Linux's PIDFD_STALE).
func (t *Task) PidFDOfGroup(tg *ThreadGroup) *PidFD {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.newPidFDLocked(tg.leader, false)
}

// ProcessVM returns the address space of thread tid's process for
// process_vm_readv/writev, if the caller may read and write it as
// ptrace_may_access (PTRACE_MODE_ATTACH_REALCREDS) allows: ESRCH for no
// such live thread, EPERM otherwise.
func (t *Task) ProcessVM(tid int32) (*mm.MemoryManager, error) {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	o, err := t.threadLocked(tid)
	if err != nil || o.MM == nil {
		return nil, unix.ESRCH
	}
	if !t.mayPtraceLocked(o) {
		return nil, unix.EPERM
	}
	return o.MM, nil
}
