package proc

import (
	"time"

	"exokernelul.dev/exo/libos/vfs"
)

// Source is the kernel's side of /proc: every figure the file system shows
// comes from it, read afresh when a file is opened (a file's content is a
// snapshot taken at open, as Linux's seq_file gives one per read from
// offset 0). The kernel implements it; proc never imports the kernel.
//
// Ids are as the container sees them (its pid namespace: the container's
// init is 1). Every method may be called concurrently, from any task's
// goroutine, and must not call back into the VFS. Snapshots (the returned
// pointers and slices) become the caller's: the Source must not change
// them afterwards.
type Source interface {
	// Caller returns the process and thread ids of caller, the
	// vfs.Context.Caller of the path walk following /proc/self or
	// /proc/thread-self (the kernel's task; proc passes it through the
	// VFS's MagicLinker). caller is nil when Readlink is called outside a
	// walk; the kernel may then answer from a record of the task its
	// goroutine runs, or return 0. tgid 0 means no task: /proc/self is
	// then ENOENT.
	Caller(caller any) (tgid, tid int32)

	// Processes returns the thread group ids of the container's
	// processes, live and zombie (exited but not yet reaped), ascending.
	Processes() []int32

	// ThreadGroupOf returns the process thread tid belongs to: tgid == tid
	// for a thread group leader, including a zombie's. ok is false if no
	// task has that id. /proc/TID of a non-leader thread resolves through
	// it, as on Linux (such ids are looked up but not listed).
	ThreadGroupOf(tid int32) (tgid int32, ok bool)

	// Process returns a snapshot of process tgid; ok is false once it has
	// been reaped.
	Process(tgid int32) (p *Process, ok bool)

	// Files returns the process's open fds, ascending by number (empty for
	// a zombie); ok is false once it has been reaped.
	Files(tgid int32) (fds []FD, ok bool)

	// Maps returns the process's memory mappings, ascending by address
	// (empty for a zombie); ok is false once it has been reaped.
	Maps(tgid int32) (maps []Mapping, ok bool)

	// Mounts returns the mount table as process tgid sees it, parents
	// before children (mount order); ok is false once it has been reaped.
	Mounts(tgid int32) (mounts []Mount, ok bool)

	// System returns the machine-wide figures.
	System() System
}

// OOMScoreAdjSetter is implemented by a Source that lets the workload write
// /proc/PID/oom_score_adj; without it the file is read-only (EACCES).
type OOMScoreAdjSetter interface {
	// SetOOMScoreAdj sets process tgid's oom_score_adj to adj, already
	// checked to lie in [-1000, 1000]. The Source decides permission
	// (Linux asks CAP_SYS_RESOURCE to go below the current minimum:
	// EACCES) and returns ESRCH if the process has gone.
	SetOOMScoreAdj(tgid int32, adj int32) error
}

// CommSetter is implemented by a Source that lets the workload rename a
// thread by writing /proc/PID/comm or /proc/PID/task/TID/comm (glibc's
// pthread_setname_np does so for a thread other than the caller's);
// without it comm is read-only (EACCES).
type CommSetter interface {
	// SetComm renames thread tid of process tgid; comm has its trailing
	// newline removed and is cut to 15 bytes. Linux lets only threads of
	// the same process do it (EINVAL otherwise); the Source decides.
	SetComm(tgid, tid int32, comm string) error
}

// OLargefile is O_LARGEFILE as Linux x86-64 shows it in F_GETFL and
// fdinfo (x/sys/unix defines O_LARGEFILE as 0 on amd64).
const OLargefile = 0o100000

// NumRlimits is RLIM_NLIMITS; Process.Rlimits is indexed by RLIMIT_*.
const NumRlimits = 16

// RlimInfinity is RLIM_INFINITY ("unlimited").
const RlimInfinity = ^uint64(0)

// Rlimit is one resource limit: the soft (Cur) and hard (Max) values.
type Rlimit struct{ Cur, Max uint64 }

// Process is a snapshot of one process (thread group). Times are since the
// sandbox booted (System.Boot) or durations of CPU time; sizes are in
// bytes. Zero values are valid and show as zeros.
type Process struct {
	// PID is the thread group id; PPID the parent's (0 for the
	// container's init); PGID and SID the process group and session.
	PID, PPID, PGID, SID int32
	// TTY is the controlling terminal's device number (unix.Mkdev), 0 if
	// none; TPGID is that terminal's foreground process group, -1 if none.
	TTY   uint64
	TPGID int32
	// Comm is the leader thread's name (at most 15 bytes are shown).
	Comm string
	// State is the process's state letter as stat shows it: 'R' running
	// or runnable, 'S' sleeping, 'D' uninterruptible, 'T' stopped by job
	// control, 't' traced, 'Z' zombie. The state of the leader, or 'Z'
	// once every thread has exited.
	State byte
	// Flags is stat's flags field, the PF_* bits (Linux shows 0x400000,
	// PF_RANDOMIZE, for an ordinary process).
	Flags uint32
	// ExitSignal is the signal sent to the parent when the process ends
	// (SIGCHLD, or clone's choice); ExitCode is the wait status of a
	// zombie (0 while it lives).
	ExitSignal int32
	ExitCode   int32

	// UID and GID are the real, effective, saved and filesystem ids;
	// Groups the supplementary groups.
	UID, GID [4]uint32
	Groups   []uint32
	// Umask is the file creation mask.
	Umask uint32
	// Capability sets (bit n is capability n).
	CapInh, CapPrm, CapEff, CapBnd, CapAmb uint64
	// NoNewPrivs is prctl(PR_SET_NO_NEW_PRIVS); Seccomp the seccomp mode
	// (0 none, 1 strict, 2 filter).
	NoNewPrivs bool
	Seccomp    int
	// Dumpable is prctl(PR_GET_DUMPABLE) == 1. As on Linux, the files of
	// a process that is not dumpable are owned by root.
	Dumpable bool

	// Threads are the live threads, leader first when it lives. A
	// zombie has none.
	Threads []Thread

	// Cmdline and Environ are the argument and environment strings of the
	// current image (what /proc shows, NUL-separated; empty for a zombie).
	Cmdline, Environ []string
	// Auxv is the raw auxiliary vector exec gave the image (pairs of
	// little-endian uint64, up to and including AT_NULL), as
	// /proc/PID/auxv returns it; nil reads as an empty file.
	Auxv []byte
	// Exe is the executable's absolute path, Cwd the working directory
	// and Root the root directory, each as the container sees them
	// (Linux shows paths relative to the reader's root; the container
	// has one root, so they are absolute container paths). Empty means
	// none (a zombie): the link is ENOENT. Exe of a deleted file ends in
	// " (deleted)".
	Exe, Cwd, Root string
	// ExeDentry, CwdDentry and RootDentry are the same files as dentries,
	// optional: following exe, cwd or root then jumps straight to them
	// (a magic link, see vfs.MagicLinker) instead of resolving the text,
	// which reaches a deleted executable and does not depend on the
	// follower's root. nil resolves the text.
	ExeDentry, CwdDentry, RootDentry *vfs.Dentry

	// Rlimits are the resource limits, indexed by RLIMIT_*.
	Rlimits [NumRlimits]Rlimit
	// Mem is the address space's size and residency.
	Mem MemUsage
	// Layout is where the image's segments, arguments and environment
	// lie (stat's fields 26-28 and 45-51).
	Layout Layout

	// Utime and Stime are the user and system CPU time of the whole
	// process (live threads and exited ones); CUtime and CStime those of
	// its reaped children.
	Utime, Stime, CUtime, CStime time.Duration
	// MinFlt and MajFlt are the process's page faults (minor: served
	// without I/O); CMinFlt and CMajFlt its reaped children's.
	MinFlt, MajFlt, CMinFlt, CMajFlt uint64
	// Start is when the process started, since boot. It also tells two
	// processes with the same pid apart: an inode looked up for one
	// process answers ENOENT once the pid belongs to another.
	Start time.Duration

	// ShdPnd are the signals pending for the whole process; SigIgn and
	// SigCgt those whose action is SIG_IGN and a handler (bit n-1 is
	// signal n).
	ShdPnd, SigIgn, SigCgt uint64
	// SigQueued is the number of signals queued to the process's real
	// user (status SigQ's first figure; the second is RLIMIT_SIGPENDING).
	SigQueued uint64

	// OOMScoreAdj is oom_score_adj, -1000..1000; OOMScore is oom_score
	// (0 if the kernel keeps none).
	OOMScoreAdj int32
	OOMScore    uint64
	// LoginUID and SessionID are the audit ids (4294967295 when unset,
	// as for every process of a container).
	LoginUID, SessionID uint32
	// Cgroup is the process's cgroup v2 path ("" shows as "/").
	Cgroup string
	// FDSize is the fd table's capacity (status FDSize).
	FDSize int
	// IO are the process's I/O counters (/proc/PID/io).
	IO IOCounters
}

// Thread is a snapshot of one thread of a process.
type Thread struct {
	// TID is the thread id.
	TID int32
	// Comm is the thread's name (at most 15 bytes shown).
	Comm string
	// State is the thread's state letter (see Process.State).
	State byte
	// Utime and Stime are the thread's own CPU times.
	Utime, Stime time.Duration
	// Start is when the thread started, since boot.
	Start time.Duration
	// SigPnd are the signals pending for this thread alone; SigBlk its
	// signal mask.
	SigPnd, SigBlk uint64
	// CPU is the CPU it last ran on; CPUs its affinity mask (0 means
	// every CPU of System.NumCPU).
	CPU  int32
	CPUs uint64
	// Nice is the nice value (-20..19); Policy the scheduling policy
	// (SCHED_*); RTPriority the real-time priority (0 for SCHED_OTHER).
	Nice       int32
	Policy     uint32
	RTPriority uint32
	// VoluntaryCtxt and NonvoluntaryCtxt count the thread's context
	// switches (blocking, and preemption).
	VoluntaryCtxt, NonvoluntaryCtxt uint64
	// MinFlt and MajFlt are this thread's page faults.
	MinFlt, MajFlt uint64
}

// MemUsage is an address space's accounting, in bytes, as status shows it
// in kB (and statm and stat in pages).
type MemUsage struct {
	// Peak is the largest Size so far; Size the mapped virtual size.
	Peak, Size uint64
	// Locked is mlocked memory; Pinned pinned pages.
	Locked, Pinned uint64
	// HWM is the largest RSS so far; RSS the resident set, split into
	// anonymous, file-backed and shared-memory pages.
	HWM, RSS, RSSAnon, RSSFile, RSSShmem uint64
	// Data is private writable non-stack memory; Stack the main thread's
	// stack; Exe the executable's text; Lib the shared libraries' text.
	Data, Stack, Exe, Lib uint64
	// PTE is page-table memory; Swap swapped-out anonymous memory.
	PTE, Swap uint64
}

// Layout is where an image's pieces lie in its address space (the
// addresses Linux keeps in mm_struct).
type Layout struct {
	// StartCode and EndCode bound the executable's text; StartStack is
	// the main thread's stack pointer at exec (the top of its stack).
	StartCode, EndCode, StartStack uint64
	// StartData and EndData bound its initialized data; StartBrk is where
	// the heap began (the initial program break).
	StartData, EndData, StartBrk uint64
	// ArgStart..ArgEnd hold the argument strings and EnvStart..EnvEnd the
	// environment strings, as exec laid them out on the stack.
	ArgStart, ArgEnd, EnvStart, EnvEnd uint64
}

// IOCounters are a process's I/O counts (/proc/PID/io).
type IOCounters struct {
	// RChar and WChar are bytes read and written by syscalls; SyscR and
	// SyscW the number of read and write syscalls; ReadBytes and
	// WriteBytes bytes that reached storage.
	RChar, WChar, SyscR, SyscW, ReadBytes, WriteBytes uint64
}

// FD is one open file descriptor of a process.
type FD struct {
	// Num is the descriptor number.
	Num int32
	// Target is what readlink(/proc/PID/fd/Num) returns: the absolute
	// path a file was opened by (with " (deleted)" once unlinked), or
	// for files with no path "pipe:[INO]", "socket:[INO]",
	// "anon_inode:[eventfd]", "anon_inode:[eventpoll]",
	// "anon_inode:[signalfd]", "anon_inode:[timerfd]", "/memfd:NAME
	// (deleted)".
	Target string
	// Flags are the file status and access flags as fcntl(F_GETFL)
	// returns them (with OLargefile for a file open(2) opened: Linux
	// x86-64 sets it there, not on pipes, sockets or anonymous files), plus
	// O_CLOEXEC when the fd is close-on-exec: fdinfo prints them in octal,
	// and the link's mode follows the access mode (lr-x, l-wx, lrwx).
	Flags int
	// Pos is the file offset.
	Pos int64
	// MntID is the id of the mount the file is on (Mount.ID).
	MntID int32
	// Ino is the file's inode number.
	Ino uint64
	// Extra is appended to fdinfo as is: whole lines, each ending in
	// "\n" (eventfd's "eventfd-count: ...", epoll's "tfd: ...").
	Extra string
	// Dentry is the file the fd was opened from (the description's
	// Dentry), optional: following fd/Num then jumps straight to it (a
	// magic link, see vfs.MagicLinker). nil resolves Target as a path.
	Dentry *vfs.Dentry
	// File is the open file itself, optional, for files with no dentry
	// (pipes, sockets): the fd link offers it through LinkedFile, since
	// "pipe:[INO]" names no path.
	File vfs.File
}

// Mapping is one memory mapping (a line of /proc/PID/maps).
type Mapping struct {
	// Start and End bound the mapping: [Start, End).
	Start, End uint64
	// Read, Write and Exec are its protection; Shared says MAP_SHARED
	// ('s'), otherwise private ('p').
	Read, Write, Exec, Shared bool
	// Offset is the file offset in bytes of Start (0 if anonymous).
	Offset uint64
	// Dev is the file's device (unix.Mkdev) and Inode its inode number;
	// 0 for anonymous memory.
	Dev   uint64
	Inode uint64
	// Path is the file's absolute path (with " (deleted)" once
	// unlinked), or a pseudo-name: "[heap]", "[stack]", "[vdso]",
	// "[vvar]", "[anon:NAME]"; "" for unnamed anonymous memory.
	Path string
}

// Mount is one mount as a process sees it (a line of mountinfo).
type Mount struct {
	// ID is the mount's id and ParentID its parent's (the root mount's
	// parent is an id shown nowhere else, as on Linux).
	ID, ParentID int32
	// Dev is the file system's st_dev (unix.Mkdev).
	Dev uint64
	// Root is the path, within its file system, of the mount's root ("/"
	// unless a bind mount of a subtree).
	Root string
	// Point is the mount point, relative to the process's root.
	Point string
	// Options are the per-mount options ("rw,nosuid,nodev,relatime").
	Options string
	// Optional are mountinfo's optional fields, space-separated
	// ("shared:1 master:2"), "" for none.
	Optional string
	// FSType is the file system type ("proc", "tmpfs", "overlay").
	FSType string
	// Source is the mounted source ("proc", "tmpfs", "overlay", "none").
	Source string
	// SuperOptions are the file system's options
	// ("rw,size=65536k,mode=755").
	SuperOptions string
}

// System holds the machine-wide figures, as the container sees them.
type System struct {
	// Hostname and Domainname are the UTS names (sethostname's).
	Hostname, Domainname string
	// Boot is when the sandbox booted (btime); Uptime how long ago.
	Boot   time.Time
	Uptime time.Duration
	// Idle is the idle time summed over CPUs (uptime's second figure).
	Idle time.Duration
	// NumCPU is the number of CPUs the container has.
	NumCPU int
	// CPUs are per-CPU counters (len NumCPU), or nil to show zeros.
	CPUs []CPUTimes
	// Mem is the memory the container has (its limit, not the host's).
	Mem Meminfo
	// Load are the 1, 5 and 15 minute load averages.
	Load [3]float64
	// Running and Blocked count runnable threads and threads in
	// uninterruptible sleep; Threads counts every thread.
	Running, Blocked, Threads int
	// LastPID is the most recently allocated id.
	LastPID int32
	// Forks counts processes and threads created since boot; Ctxt
	// context switches since boot.
	Forks, Ctxt uint64
}

// CPUTimes are one CPU's time counters (/proc/stat's cpu lines).
type CPUTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal, Guest, GuestNice time.Duration
}

// Meminfo are /proc/meminfo's figures in bytes; figures left zero show as
// zero, except CommitLimit, which defaults to Total/2 + SwapTotal.
type Meminfo struct {
	Total, Free, Available, Buffers, Cached, Shmem, AnonPages, Mapped uint64
	Active, Inactive, Mlocked, SwapTotal, SwapFree, Dirty, Slab       uint64
	KernelStack, PageTables, CommitLimit, Committed                   uint64
}
