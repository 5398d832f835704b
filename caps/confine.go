package caps

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The sentry's confinement: a seccomp allowlist the sentry installs on
// itself (every thread, and every stub it forks afterwards) once it holds
// its capabilities. It allows the host syscalls the sentry needs on the
// fds it was granted and nothing that reaches further: no socket(2) (the
// only sockets it uses are the ones exo granted), no mount, namespace,
// chroot, module, kexec, bpf, perf, keyring, io_uring or file-handle call,
// no path-free way to run another program (execveat, fchdir), no tracing
// unless the platform is ptrace. Arguments are checked where a syscall is
// needed for one purpose but can do more: clone (threads, the vfork of
// ForkExec), ioctl (the terminal and socket queries the library OS
// passes through), prctl, arch_prctl, ptrace, prlimit64, seccomp.
//
// Everything else fails with EPERM, and the kernel writes an audit record
// for it (SECCOMP_FILTER_FLAG_LOG: "type=1326 ... syscall=N" in dmesg),
// rather than killing the sentry as gVisor's filter does. The reason is
// the stubs: they inherit this filter, and the kernel returns the most
// severe action of all the filters on a thread. A workload syscall must
// reach the stub's SECCOMP_RET_TRAP (or be skipped by PTRACE_SYSEMU), so
// this filter cannot kill on syscalls it does not know: the workload makes
// those all the time. SECCOMP_RET_TRAP takes precedence over
// SECCOMP_RET_ERRNO, so workload syscalls still reach the library OS. A
// syscall the sentry needs but the list misses then shows up as an EPERM
// error in the sentry's log plus an audit line, not as a dead sandbox.
//
// What arguments cannot show is covered by where the sentry runs: it is
// chrooted into an empty read-only tmpfs, so execve can run only the stub
// there (chdir and fchdir are refused, so a relative path cannot start
// from a granted directory), and it has its own pid namespace, so kill,
// tgkill, wait4 and ptrace reach only its stubs.

// SentryNet says which network the sentry serves its workload.
type SentryNet int

const (
	// SentryNetSandbox: the library OS's own TCP/IP (on a NIC, or
	// loopback only).
	SentryNetSandbox SentryNet = iota
	// SentryNetHost: host sockets exo made (KindHostNet).
	SentryNetHost
)

// SentryPolicy is what the sentry's filter allows beyond its base list.
type SentryPolicy struct {
	// Net: bind, listen, accept and connect are allowed only with host
	// sockets (--network=host): on exo's sockets, for the workload.
	Net SentryNet
	// Ptrace: the platform traces its stubs (--platform=ptrace), so the
	// ptrace requests it uses are allowed; with systrap, none is.
	Ptrace bool
}

// sentryAllowed are the syscalls the sentry may make with any arguments.
var sentryAllowed = []uint32{
	// Go runtime: memory, threads, scheduling, signals, timers, netpoll.
	unix.SYS_FUTEX, unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MPROTECT, unix.SYS_MADVISE,
	unix.SYS_MREMAP, unix.SYS_MINCORE, unix.SYS_MSYNC,
	unix.SYS_SCHED_YIELD, unix.SYS_SCHED_GETAFFINITY, unix.SYS_NANOSLEEP, unix.SYS_CLOCK_NANOSLEEP,
	unix.SYS_CLOCK_GETTIME, unix.SYS_CLOCK_GETRES, unix.SYS_GETTIMEOFDAY, unix.SYS_TIME,
	unix.SYS_RT_SIGACTION, unix.SYS_RT_SIGPROCMASK, unix.SYS_RT_SIGRETURN, unix.SYS_SIGALTSTACK,
	unix.SYS_RESTART_SYSCALL, unix.SYS_GETPID, unix.SYS_GETTID, unix.SYS_GETPPID,
	// Its own identity: a directory capability granted after boot (a pod's
	// next container) maps host owners from the sentry's ids.
	unix.SYS_GETUID, unix.SYS_GETEUID, unix.SYS_GETGID, unix.SYS_GETEGID,
	unix.SYS_GETRESUID, unix.SYS_GETRESGID, unix.SYS_GETGROUPS,
	unix.SYS_TGKILL, unix.SYS_KILL, unix.SYS_EXIT, unix.SYS_EXIT_GROUP,
	unix.SYS_EPOLL_CREATE1, unix.SYS_EPOLL_CTL, unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_WAIT,
	unix.SYS_EPOLL_PWAIT2, unix.SYS_EVENTFD2, unix.SYS_PIPE2, unix.SYS_GETRANDOM,
	// I/O on the fds the sentry holds: granted files and directories, its
	// memory file, the stubs' control files and eventfds, stdio, ptys.
	unix.SYS_READ, unix.SYS_WRITE, unix.SYS_READV, unix.SYS_WRITEV, unix.SYS_PREAD64, unix.SYS_PWRITE64,
	unix.SYS_PREADV, unix.SYS_PWRITEV, unix.SYS_PREADV2, unix.SYS_PWRITEV2, unix.SYS_LSEEK,
	unix.SYS_CLOSE, unix.SYS_DUP, unix.SYS_DUP2, unix.SYS_DUP3, unix.SYS_FCNTL,
	unix.SYS_FSTAT, unix.SYS_NEWFSTATAT, unix.SYS_STATX, unix.SYS_FSTATFS, unix.SYS_GETDENTS64,
	unix.SYS_FTRUNCATE, unix.SYS_FALLOCATE, unix.SYS_FSYNC, unix.SYS_FDATASYNC,
	unix.SYS_SENDFILE, unix.SYS_SPLICE, unix.SYS_COPY_FILE_RANGE,
	unix.SYS_POLL, unix.SYS_PPOLL, unix.SYS_MEMFD_CREATE,
	// Directory capabilities: every path call is relative to a granted
	// O_PATH fd (openat2 with RESOLVE_BENEATH and friends).
	unix.SYS_OPENAT, unix.SYS_OPENAT2, unix.SYS_READLINKAT, unix.SYS_MKDIRAT, unix.SYS_MKNODAT,
	unix.SYS_UNLINKAT, unix.SYS_RENAMEAT2, unix.SYS_LINKAT, unix.SYS_SYMLINKAT,
	unix.SYS_FCHMOD, unix.SYS_FCHMODAT, unix.SYS_FCHMODAT2, unix.SYS_FCHOWN, unix.SYS_FCHOWNAT,
	unix.SYS_UTIMENSAT, unix.SYS_FGETXATTR, unix.SYS_FSETXATTR, unix.SYS_FLISTXATTR,
	unix.SYS_FREMOVEXATTR, unix.SYS_UMASK,
	// Sockets exo granted: the capability channel (fds come by
	// SCM_RIGHTS), a NIC's relay, host sockets in host mode.
	unix.SYS_RECVMSG, unix.SYS_SENDMSG, unix.SYS_RECVMMSG, unix.SYS_SENDMMSG,
	unix.SYS_RECVFROM, unix.SYS_SENDTO, unix.SYS_SHUTDOWN, unix.SYS_GETSOCKOPT,
	unix.SYS_SETSOCKOPT, unix.SYS_GETSOCKNAME, unix.SYS_GETPEERNAME,
	// Stubs: ForkExec (the vforked child sets its session, parent-death
	// signal and fds, then execs the stub in the sentry's chroot) and the
	// reaping of stubs; the stub's own start-up calls (it inherits this
	// filter) are in this list or in the argument rules.
	unix.SYS_EXECVE, unix.SYS_SETSID, unix.SYS_WAIT4, unix.SYS_WAITID, unix.SYS_PAUSE,
	// glibc's thread start and malloc, when the runtime is built with cgo
	// (go build's default where gcc is at hand, as in the tests).
	unix.SYS_SET_ROBUST_LIST, unix.SYS_RSEQ, unix.SYS_BRK,
}

// sentryNoSys fail with ENOSYS rather than EPERM: clone3 takes its flags
// in memory, which a filter cannot read, and glibc's pthread_create falls
// back to clone(2), whose flags it can, only on ENOSYS.
var sentryNoSys = []uint32{unix.SYS_CLONE3}

// hostNetAllowed are allowed only with host sockets.
var hostNetAllowed = []uint32{unix.SYS_BIND, unix.SYS_LISTEN, unix.SYS_ACCEPT, unix.SYS_ACCEPT4, unix.SYS_CONNECT}

// argIn holds when syscall argument arg is one of vals. word32 compares
// only the low 32 bits, for arguments the kernel takes as int.
type argIn struct {
	arg    int
	word32 bool
	vals   []uint64
}

// argRule allows syscall nr when all its conditions hold; several rules
// for one nr are alternatives.
type argRule struct {
	nr  uint32
	all []argIn
}

const (
	// Clone flags: the ptrace stub's threads, Go's runtime threads (which
	// set their TLS in clone), the systrap stub's threads (which clear
	// their tid for the sentry),
	// glibc's threads (cgo builds), ForkExec's vfork with and without a
	// pidfd, and os's pidfd probe.
	cloneThread      = unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_SYSVSEM | unix.CLONE_THREAD
	cloneGoThread    = cloneThread | unix.CLONE_SETTLS
	cloneStubThread  = cloneThread | unix.CLONE_CHILD_CLEARTID
	cloneGlibcThread = cloneStubThread | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID
	cloneForkExec    = unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD)
	clonePidfdProbe  = unix.CLONE_VM | unix.CLONE_VFORK | unix.CLONE_PIDFD

	archSetFS = 0x1002
	prSetVMA  = 0x53564d41 // Go names its anonymous mappings
)

// sentryArgRules are the syscalls allowed only with some arguments.
var sentryArgRules = []argRule{
	{unix.SYS_CLONE, []argIn{{arg: 0, vals: []uint64{
		cloneThread, cloneGoThread, cloneStubThread, cloneGlibcThread, cloneForkExec, cloneForkExec | unix.CLONE_PIDFD, clonePidfdProbe,
	}}}},
	// The requests the library OS passes through to host terminals and
	// host sockets (hostfd, hostinet); ioctl's request is an int.
	{unix.SYS_IOCTL, []argIn{{arg: 1, word32: true, vals: []uint64{
		unix.TCGETS, unix.TIOCGWINSZ, unix.TIOCINQ, unix.TIOCOUTQ, unix.SIOCATMARK,
		unix.SIOCGIFNAME, unix.SIOCGIFINDEX, unix.SIOCGIFFLAGS, unix.SIOCGIFADDR,
		unix.SIOCGIFBRDADDR, unix.SIOCGIFNETMASK, unix.SIOCGIFDSTADDR, unix.SIOCGIFMTU,
		unix.SIOCGIFHWADDR, unix.SIOCGIFTXQLEN,
	}}}},
	// ForkExec's child (parent-death signal), the stub (no_new_privs, its
	// name), Go's runtime (mapping names).
	{unix.SYS_PRCTL, []argIn{{arg: 0, word32: true, vals: []uint64{
		unix.PR_SET_PDEATHSIG, unix.PR_SET_NAME, unix.PR_SET_NO_NEW_PRIVS, prSetVMA,
	}}}},
	// New Go threads and stub threads set their TLS base.
	{unix.SYS_ARCH_PRCTL, []argIn{{arg: 0, word32: true, vals: []uint64{archSetFS}}}},
	// Its own limits only; ForkExec's child resets RLIMIT_NOFILE.
	{unix.SYS_PRLIMIT64, []argIn{{arg: 0, word32: true, vals: []uint64{0}}, {arg: 2, vals: []uint64{0}}}},
	{unix.SYS_PRLIMIT64, []argIn{{arg: 0, word32: true, vals: []uint64{0}}, {arg: 1, word32: true, vals: []uint64{unix.RLIMIT_NOFILE}}}},
	// Each stub stacks its own filters, and the sentry its quiet one: no
	// user-notification listener, no other operation.
	{unix.SYS_SECCOMP, []argIn{
		{arg: 0, word32: true, vals: []uint64{unix.SECCOMP_SET_MODE_FILTER}},
		{arg: 1, word32: true, vals: []uint64{0, unix.SECCOMP_FILTER_FLAG_TSYNC}},
	}},
}

// ptraceRequests are what the ptrace platform does to its stubs: the
// child's PTRACE_TRACEME before exec, then seize, run, read and write
// registers.
var ptraceRequests = []uint64{
	unix.PTRACE_TRACEME, unix.PTRACE_CONT, unix.PTRACE_GETREGSET, unix.PTRACE_SETREGSET,
	unix.PTRACE_GETFPREGS, unix.PTRACE_SETFPREGS, unix.PTRACE_SYSEMU, unix.PTRACE_SETOPTIONS,
	unix.PTRACE_GETSIGINFO, unix.PTRACE_SEIZE, unix.PTRACE_INTERRUPT,
}

// SentryAllowed lists the syscall numbers the sentry's filter allows in
// policy p, with or without argument checks.
func SentryAllowed(p SentryPolicy) []uint32 {
	out := append([]uint32(nil), sentryAllowed...)
	if p.Net == SentryNetHost {
		out = append(out, hostNetAllowed...)
	}
	for _, r := range sentryRules(p) {
		out = append(out, r.nr)
	}
	return out
}

func sentryRules(p SentryPolicy) []argRule {
	rules := append([]argRule(nil), sentryArgRules...)
	if p.Ptrace {
		rules = append(rules, argRule{unix.SYS_PTRACE, []argIn{{arg: 0, vals: ptraceRequests}}})
	}
	return rules
}

// sentryDeny is the action for everything not allowed (see above).
const sentryDeny = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)

const (
	auditArchX86_64 = 0xc000003e
	seccompDataNr   = 0
	seccompDataArch = 4
	seccompDataArgs = 16
)

// SentryFilter is the classic BPF program of the sentry's confinement in
// policy p. Syscalls of another ABI (i386; x32 numbers never match) are
// refused like unknown ones.
func SentryFilter(p SentryPolicy) ([]unix.SockFilter, error) {
	a := &bpfAsm{labels: map[string]int{}}
	a.ld(seccompDataArch)
	a.jeq(auditArchX86_64, a.next(1), "")
	a.ret(sentryDeny)
	a.ld(seccompDataNr)
	// An allowed syscall is one jeq and a return, never a far jump, so the
	// program has no 255-instruction jump limit to respect; and its result
	// does not depend on arguments, so the kernel caches it per syscall
	// number and runs no BPF for it at all.
	allowed := append([]uint32(nil), sentryAllowed...)
	if p.Net == SentryNetHost {
		allowed = append(allowed, hostNetAllowed...)
	}
	for _, nr := range allowed {
		a.jeq(nr, "", a.next(1))
		a.ret(unix.SECCOMP_RET_ALLOW)
	}
	for _, nr := range sentryNoSys {
		a.jeq(nr, "", a.next(1))
		a.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	}
	for i, r := range sentryRules(p) {
		end := fmt.Sprintf("rule%d", i)
		a.jeq(r.nr, "", end)
		for j, c := range r.all {
			ok := fmt.Sprintf("rule%d.%d", i, j)
			for k, v := range c.vals {
				nextVal := fmt.Sprintf("rule%d.%d.%d", i, j, k)
				off := uint32(seccompDataArgs + 8*c.arg)
				if !c.word32 {
					a.ld(off + 4)
					a.jeq(uint32(v>>32), "", nextVal)
				}
				a.ld(off)
				a.jeq(uint32(v), ok, "")
				a.label(nextVal)
			}
			a.ja(end) // the next rule for nr may hold
			a.label(ok)
		}
		a.ret(unix.SECCOMP_RET_ALLOW)
		a.label(end)
		// The next rule compares the syscall number again.
		a.ld(seccompDataNr)
	}
	a.ret(sentryDeny)
	return a.assemble()
}

// quietFilter repeats the filter's ENOSYS answers, from a filter the
// kernel does not log: glibc tries clone3 before every thread it starts,
// an expected refusal that would otherwise flood the audit log. The
// kernel reports the newest of equally severe filters, so this one is
// installed last.
func quietFilter() ([]unix.SockFilter, error) {
	a := &bpfAsm{labels: map[string]int{}}
	a.ld(seccompDataNr)
	for _, nr := range sentryNoSys {
		a.jeq(nr, "", a.next(1))
		a.ret(unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS))
	}
	a.ret(unix.SECCOMP_RET_ALLOW)
	return a.assemble()
}

// InstallSentryFilter installs SentryFilter(p) on every thread of the
// calling process, with refusals logged by the kernel. Without
// CAP_SYS_ADMIN it sets no_new_privs first, as the kernel then requires.
func InstallSentryFilter(p SentryPolicy) error {
	if runtime.GOARCH != "amd64" {
		return fmt.Errorf("caps: sentry filter: %s not supported", runtime.GOARCH)
	}
	prog, err := SentryFilter(p)
	if err != nil {
		return fmt.Errorf("caps: sentry filter: %w", err)
	}
	quiet, err := quietFilter()
	if err != nil {
		return fmt.Errorf("caps: sentry filter: %w", err)
	}
	install := func(prog []unix.SockFilter, flags uintptr) error {
		fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
		r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
			unix.SECCOMP_FILTER_FLAG_TSYNC|flags, uintptr(unsafe.Pointer(&fprog)))
		runtime.KeepAlive(prog)
		if errno != 0 {
			return errno
		}
		if r != 0 {
			return fmt.Errorf("thread %d could not be synchronised", r)
		}
		return nil
	}
	err = install(prog, unix.SECCOMP_FILTER_FLAG_LOG)
	if errors.Is(err, unix.EACCES) {
		if perr := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); perr != nil {
			return fmt.Errorf("caps: sentry filter: no_new_privs: %w", perr)
		}
		err = install(prog, unix.SECCOMP_FILTER_FLAG_LOG)
	}
	if err == nil {
		err = install(quiet, 0)
	}
	if err != nil {
		return fmt.Errorf("caps: sentry filter: seccomp: %w", err)
	}
	return nil
}

// bpfAsm assembles classic BPF with forward jumps to labels.
type bpfAsm struct {
	insns  []unix.SockFilter
	fixups []bpfFixup
	labels map[string]int
	anon   int
}

type bpfFixup struct {
	at     int
	jt, jf string
	ja     string
}

func (a *bpfAsm) ld(off uint32) {
	a.insns = append(a.insns, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off})
}

func (a *bpfAsm) ret(v uint32) {
	a.insns = append(a.insns, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: v})
}

func (a *bpfAsm) label(l string) { a.labels[l] = len(a.insns) }

// jeq jumps to jt if the accumulator is k, else to jf; an empty label
// is the next instruction.
func (a *bpfAsm) jeq(k uint32, jt, jf string) {
	a.fixups = append(a.fixups, bpfFixup{at: len(a.insns), jt: jt, jf: jf})
	a.insns = append(a.insns, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k})
}

// ja jumps to l.
func (a *bpfAsm) ja(l string) {
	a.fixups = append(a.fixups, bpfFixup{at: len(a.insns), ja: l})
	a.insns = append(a.insns, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA})
}

// next names the instruction n instructions after the next one to be
// added.
func (a *bpfAsm) next(n int) string {
	a.anon++
	l := fmt.Sprintf(".%d", a.anon)
	a.labels[l] = len(a.insns) + 1 + n
	return l
}

func (a *bpfAsm) assemble() ([]unix.SockFilter, error) {
	for _, f := range a.fixups {
		if f.ja != "" {
			to, ok := a.labels[f.ja]
			if !ok || to <= f.at {
				return nil, fmt.Errorf("bpf: bad jump to %q from %d", f.ja, f.at)
			}
			a.insns[f.at].K = uint32(to - f.at - 1)
			continue
		}
		for _, j := range []struct {
			label string
			dst   *uint8
		}{{f.jt, &a.insns[f.at].Jt}, {f.jf, &a.insns[f.at].Jf}} {
			if j.label == "" {
				continue
			}
			to, ok := a.labels[j.label]
			if !ok || to <= f.at || to-f.at-1 > 255 {
				return nil, fmt.Errorf("bpf: bad jump to %q from %d", j.label, f.at)
			}
			*j.dst = uint8(to - f.at - 1)
		}
	}
	if len(a.insns) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("bpf: %d instructions, at most %d", len(a.insns), unix.BPF_MAXINSNS)
	}
	return a.insns, nil
}
