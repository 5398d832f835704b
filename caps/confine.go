package caps

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The sentry's network confinement: a seccomp filter the sentry installs
// on itself (every thread, and the stubs it forks) once it holds its
// capabilities. The sentry never creates a socket: socket(2) and
// socketpair(2) fail with EPERM in every mode, so the only sockets it can
// use are the ones exo granted (the capability channel, a NIC's relay, the
// host sockets of a host-network handle). Without a host-network handle
// (the default sandbox network, or none) it has no business binding,
// listening, accepting or connecting either; with one (--network=host) those
// are what it does on exo's sockets for the workload.
//
// A filter only narrows: workload syscalls the stub's own filter traps stay
// trapped (SECCOMP_RET_TRAP takes precedence over SECCOMP_RET_ERRNO), so the
// workload's socket calls still reach the library OS.

// SentryNet says which network the sentry serves its workload.
type SentryNet int

const (
	// SentryNetSandbox: the library OS's own TCP/IP (on a NIC, or
	// loopback only).
	SentryNetSandbox SentryNet = iota
	// SentryNetHost: host sockets exo made (KindHostNet).
	SentryNetHost
)

// alwaysDenied are refused in every mode: the sentry makes no socket.
var alwaysDenied = []uint32{unix.SYS_SOCKET, unix.SYS_SOCKETPAIR}

// sandboxDenied are refused unless the sentry serves host sockets.
var sandboxDenied = []uint32{unix.SYS_BIND, unix.SYS_LISTEN, unix.SYS_ACCEPT, unix.SYS_ACCEPT4, unix.SYS_CONNECT}

const (
	auditArchX86_64 = 0xc000003e
	x32SyscallBit   = 0x40000000
	seccompDataNr   = 0
	seccompDataArch = 4
)

// DeniedSyscalls lists the syscall numbers the sentry's filter refuses in
// mode n.
func DeniedSyscalls(n SentryNet) []uint32 {
	out := append([]uint32(nil), alwaysDenied...)
	if n != SentryNetHost {
		out = append(out, sandboxDenied...)
	}
	return out
}

// SentryFilter is the classic BPF program of the sentry's network
// confinement in mode n: the denied syscalls (and any syscall of another
// ABI: i386 or x32) fail with EPERM, the rest are allowed.
func SentryFilter(n SentryNet) []unix.SockFilter {
	denied := DeniedSyscalls(n)
	deny := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	var p []unix.SockFilter
	stmt := func(code uint16, k uint32) { p = append(p, unix.SockFilter{Code: code, K: k}) }
	jump := func(code uint16, k uint32, jt, jf uint8) {
		p = append(p, unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf})
	}
	// Layout: arch check, nr load, x32 check, one jeq per denied nr,
	// allow, deny. Jump offsets count from the next instruction.
	n32 := uint8(len(denied))
	stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, seccompDataArch)
	jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, auditArchX86_64, 0, n32+3)
	stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, seccompDataNr)
	jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, x32SyscallBit, n32+1, 0)
	for i, nr := range denied {
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, nr, n32-uint8(i), 0)
	}
	stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW)
	stmt(unix.BPF_RET|unix.BPF_K, deny)
	return p
}

// InstallSentryFilter installs SentryFilter(n) on every thread of the
// calling process. Without CAP_SYS_ADMIN it sets no_new_privs first, as
// the kernel then requires.
func InstallSentryFilter(n SentryNet) error {
	if runtime.GOARCH != "amd64" {
		return fmt.Errorf("caps: sentry filter: %s not supported", runtime.GOARCH)
	}
	prog := SentryFilter(n)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	install := func() error {
		r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
		runtime.KeepAlive(prog)
		if errno != 0 {
			return errno
		}
		if r != 0 {
			return fmt.Errorf("thread %d could not be synchronised", r)
		}
		return nil
	}
	err := install()
	if errors.Is(err, unix.EACCES) {
		if perr := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); perr != nil {
			return fmt.Errorf("caps: sentry filter: no_new_privs: %w", perr)
		}
		err = install()
	}
	if err != nil {
		return fmt.Errorf("caps: sentry filter: seccomp: %w", err)
	}
	return nil
}
