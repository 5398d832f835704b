package caps

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestSentryFilter runs the sentry's seccomp filter in a child process,
// in each policy: network none and host, platform systrap and ptrace.
func TestSentryFilter(t *testing.T) {
	for _, mode := range []string{"sandbox", "host", "ptrace"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFilter$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "CAPS_TEST_FILTER="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "PASS") {
				t.Fatalf("child: %v\n%s", err, out)
			}
		})
	}
}

func TestSentryFilterAssembles(t *testing.T) {
	for _, p := range []SentryPolicy{{}, {Net: SentryNetHost}, {Ptrace: true}, {Net: SentryNetHost, Ptrace: true}} {
		prog, err := SentryFilter(p)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if len(prog) == 0 || prog[len(prog)-1].K != sentryDeny {
			t.Errorf("%+v: the program does not end by refusing", p)
		}
	}
	if _, err := quietFilter(); err != nil {
		t.Fatal(err)
	}
	seen := map[uint32]bool{}
	for _, nr := range SentryAllowed(SentryPolicy{Net: SentryNetHost, Ptrace: true}) {
		seen[nr] = true
	}
	for _, nr := range refusedAlways {
		if seen[nr] {
			t.Errorf("syscall %d is allowed", nr)
		}
	}
}

// refusedAlways are syscalls no policy may allow.
var refusedAlways = []uint32{
	unix.SYS_SOCKET, unix.SYS_SOCKETPAIR, unix.SYS_MOUNT, unix.SYS_UMOUNT2, unix.SYS_PIVOT_ROOT,
	unix.SYS_CHROOT, unix.SYS_CHDIR, unix.SYS_FCHDIR, unix.SYS_SETNS, unix.SYS_UNSHARE,
	unix.SYS_OPEN_BY_HANDLE_AT, unix.SYS_NAME_TO_HANDLE_AT, unix.SYS_KEXEC_LOAD, unix.SYS_KEXEC_FILE_LOAD,
	unix.SYS_BPF, unix.SYS_PERF_EVENT_OPEN, unix.SYS_INIT_MODULE, unix.SYS_FINIT_MODULE,
	unix.SYS_DELETE_MODULE, unix.SYS_EXECVEAT, unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV,
	unix.SYS_PIDFD_GETFD, unix.SYS_KEYCTL, unix.SYS_ADD_KEY, unix.SYS_REQUEST_KEY,
	unix.SYS_IO_URING_SETUP, unix.SYS_USERFAULTFD, unix.SYS_OPEN_TREE, unix.SYS_MOVE_MOUNT,
	unix.SYS_FSOPEN, unix.SYS_FSMOUNT, unix.SYS_MOUNT_SETATTR, unix.SYS_REBOOT, unix.SYS_SETUID,
	unix.SYS_CAPSET, unix.SYS_PERSONALITY, unix.SYS_IOPL, unix.SYS_IOPERM, unix.SYS_SWAPON,
}

// TestHelperFilter is the child half of TestSentryFilter.
func TestHelperFilter(t *testing.T) {
	mode := os.Getenv("CAPS_TEST_FILTER")
	if mode == "" {
		t.Skip("child-process helper")
	}
	p := SentryPolicy{Net: SentryNetSandbox}
	switch mode {
	case "host":
		p.Net = SentryNetHost
	case "ptrace":
		p.Ptrace = true
	}
	// A socket made before, as exo would grant it, and the channel.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := InstallSentryFilter(p); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6, unix.AF_UNIX, unix.AF_PACKET, unix.AF_NETLINK} {
		if s, err := unix.Socket(fam, unix.SOCK_DGRAM, 0); err != unix.EPERM {
			unix.Close(s)
			t.Errorf("socket(%d) = %v, want EPERM", fam, err)
		}
	}
	if _, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0); err != unix.EPERM {
		t.Errorf("socketpair = %v, want EPERM", err)
	}
	err = unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	if p.Net == SentryNetHost && err != nil {
		t.Errorf("host mode: bind on a granted socket = %v", err)
	}
	if p.Net == SentryNetSandbox && err != unix.EPERM {
		t.Errorf("sandbox mode: bind = %v, want EPERM", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}}); (p.Net == SentryNetSandbox) != (err == unix.EPERM) {
		t.Errorf("%s mode: connect = %v", mode, err)
	}

	// Refused: each call's arguments would make it fail otherwise with
	// another error (or harmlessly succeed), so EPERM is the filter's.
	var keep []*byte
	str := func(s string) uintptr {
		b, _ := unix.BytePtrFromString(s)
		keep = append(keep, b)
		return uintptr(unsafe.Pointer(b))
	}
	var word uint64
	refused := []struct {
		name string
		nr   uintptr
		args [6]uintptr
		want unix.Errno
	}{
		{"mount", unix.SYS_MOUNT, [6]uintptr{str("none"), str("/nonexistent-exo"), str("tmpfs")}, unix.EPERM},
		{"umount2", unix.SYS_UMOUNT2, [6]uintptr{str("/nonexistent-exo")}, unix.EPERM},
		{"pivot_root", unix.SYS_PIVOT_ROOT, [6]uintptr{str("/nonexistent-exo"), str("/nonexistent-exo")}, unix.EPERM},
		{"chroot", unix.SYS_CHROOT, [6]uintptr{str("/nonexistent-exo")}, unix.EPERM},
		{"chdir", unix.SYS_CHDIR, [6]uintptr{str("/")}, unix.EPERM},
		{"fchdir", unix.SYS_FCHDIR, [6]uintptr{^uintptr(0)}, unix.EPERM},
		{"unshare", unix.SYS_UNSHARE, [6]uintptr{unix.CLONE_NEWUSER | unix.CLONE_NEWNS}, unix.EPERM},
		{"setns", unix.SYS_SETNS, [6]uintptr{^uintptr(0), 0}, unix.EPERM},
		{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, [6]uintptr{^uintptr(0), 0, 0}, unix.EPERM},
		{"name_to_handle_at", unix.SYS_NAME_TO_HANDLE_AT, [6]uintptr{^uintptr(0), 0, 0, 0, 0}, unix.EPERM},
		// An architecture no kernel loads.
		{"kexec_load", unix.SYS_KEXEC_LOAD, [6]uintptr{0, 0, 0, 0xffff_0000}, unix.EPERM},
		{"kexec_file_load", unix.SYS_KEXEC_FILE_LOAD, [6]uintptr{^uintptr(0), ^uintptr(0), 0, 0, 0xffff}, unix.EPERM},
		{"bpf", unix.SYS_BPF, [6]uintptr{0xffff, 0, 0}, unix.EPERM},
		{"perf_event_open", unix.SYS_PERF_EVENT_OPEN, [6]uintptr{0, 0, ^uintptr(0), ^uintptr(0), 0}, unix.EPERM},
		{"finit_module", unix.SYS_FINIT_MODULE, [6]uintptr{^uintptr(0), str(""), 0}, unix.EPERM},
		{"execveat", unix.SYS_EXECVEAT, [6]uintptr{^uintptr(0), str(""), 0, 0, unix.AT_EMPTY_PATH}, unix.EPERM},
		{"pidfd_getfd", unix.SYS_PIDFD_GETFD, [6]uintptr{^uintptr(0), 0, 0}, unix.EPERM},
		{"process_vm_readv", unix.SYS_PROCESS_VM_READV, [6]uintptr{0x7fff_fffe, 0, 0, 0, 0, 0}, unix.EPERM},
		{"io_uring_setup", unix.SYS_IO_URING_SETUP, [6]uintptr{0, 0}, unix.EPERM},
		{"open_tree", unix.SYS_OPEN_TREE, [6]uintptr{^uintptr(0), str(""), 0}, unix.EPERM},
		{"fsopen", unix.SYS_FSOPEN, [6]uintptr{0, 0}, unix.EPERM},
		{"keyctl", unix.SYS_KEYCTL, [6]uintptr{0xffff}, unix.EPERM},
		{"setuid", unix.SYS_SETUID, [6]uintptr{uintptr(os.Getuid())}, unix.EPERM},
		// Clone flags the kernel would reject with EINVAL: a user or mount
		// namespace sharing the parent's fs.
		{"clone newuser", unix.SYS_CLONE, [6]uintptr{unix.CLONE_NEWUSER | unix.CLONE_FS}, unix.EPERM},
		{"clone newns", unix.SYS_CLONE, [6]uintptr{unix.CLONE_NEWNS | unix.CLONE_FS}, unix.EPERM},
		{"clone3", unix.SYS_CLONE3, [6]uintptr{0, 0}, unix.ENOSYS},
		{"ioctl TIOCSTI", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), unix.TIOCSTI, 0}, unix.EPERM},
		{"ioctl TIOCSCTTY", unix.SYS_IOCTL, [6]uintptr{^uintptr(0), unix.TIOCSCTTY, 0}, unix.EPERM},
		{"prctl PR_SET_DUMPABLE", unix.SYS_PRCTL, [6]uintptr{unix.PR_SET_DUMPABLE, 5}, unix.EPERM},
		{"prctl PR_SET_SECCOMP", unix.SYS_PRCTL, [6]uintptr{unix.PR_SET_SECCOMP, 5}, unix.EPERM},
		{"arch_prctl ARCH_GET_FS", unix.SYS_ARCH_PRCTL, [6]uintptr{0x1003, uintptr(unsafe.Pointer(&word))}, unix.EPERM},
		{"prlimit64 of pid 1", unix.SYS_PRLIMIT64, [6]uintptr{1, unix.RLIMIT_NOFILE, 0, uintptr(unsafe.Pointer(&word))}, unix.EPERM},
		{"prlimit64 set CPU", unix.SYS_PRLIMIT64, [6]uintptr{0, unix.RLIMIT_CPU, uintptr(unsafe.Pointer(&word)), 0}, unix.EPERM},
		{"seccomp get action", unix.SYS_SECCOMP, [6]uintptr{unix.SECCOMP_GET_ACTION_AVAIL, 0, 0}, unix.EPERM},
		{"seccomp new listener", unix.SYS_SECCOMP, [6]uintptr{unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, 0}, unix.EPERM},
		// A pid no process has: ESRCH, were ptrace allowed.
		{"ptrace attach", unix.SYS_PTRACE, [6]uintptr{unix.PTRACE_ATTACH, 0x7fff_fffe}, unix.EPERM},
		{"ptrace peekdata", unix.SYS_PTRACE, [6]uintptr{unix.PTRACE_PEEKDATA, 0x7fff_fffe}, unix.EPERM},
		// x32's getpid.
		{"x32", 0x4000_0000 | unix.SYS_GETPID, [6]uintptr{}, unix.EPERM},
	}
	if !p.Ptrace {
		refused = append(refused, struct {
			name string
			nr   uintptr
			args [6]uintptr
			want unix.Errno
		}{"ptrace getregset (systrap)", unix.SYS_PTRACE, [6]uintptr{unix.PTRACE_GETREGSET, 0x7fff_fffe}, unix.EPERM})
	} else {
		var regs unix.PtraceRegs
		if err := unix.PtraceGetRegs(0x7fff_fffe, &regs); err != unix.ESRCH {
			t.Errorf("ptrace mode: PTRACE_GETREGSET of no process = %v, want ESRCH", err)
		}
	}
	for _, c := range refused {
		if _, _, e := unix.Syscall6(c.nr, c.args[0], c.args[1], c.args[2], c.args[3], c.args[4], c.args[5]); e != c.want {
			t.Errorf("%s: %v, want %v", c.name, e, c.want)
		}
	}
	runtime.KeepAlive(keep)

	// Allowed, with checked arguments: what the sentry does.
	if _, err := unix.IoctlGetTermios(-1, unix.TCGETS); err != unix.EBADF {
		t.Errorf("ioctl TCGETS on a bad fd = %v, want EBADF", err)
	}
	if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(unsafe.StringData("exo-test\x00"))), 0, 0, 0); err != nil {
		t.Errorf("prctl PR_SET_NAME: %v", err)
	}
	var lim unix.Rlimit
	if err := unix.Prlimit(0, unix.RLIMIT_NOFILE, nil, &lim); err != nil {
		t.Errorf("prlimit64 of itself: %v", err)
	}
	mfd, err := unix.MemfdCreate("exo-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatalf("memfd_create: %v", err)
	}
	if err := unix.Ftruncate(mfd, 4096); err != nil {
		t.Fatal(err)
	}
	if m, err := unix.Mmap(mfd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		t.Errorf("mmap: %v", err)
	} else {
		m[0] = 1
		unix.Munmap(m)
	}
	// New threads (Go's clone flags, TLS set by clone or arch_prctl), and
	// timers and futexes between them.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			time.Sleep(time.Millisecond)
		}()
	}
	wg.Wait()
	// A stub's start: ForkExec's vfork, session, parent-death signal, fd
	// shuffle and exec, then the reaping.
	if bin, err := exec.LookPath("true"); err == nil {
		pidfd := -1
		pid, err := syscall.ForkExec(bin, []string{"true"}, &syscall.ProcAttr{
			Env:   []string{},
			Files: []uintptr{uintptr(mfd), 1, 2},
			Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setsid: true, PidFD: &pidfd},
		})
		if err != nil {
			t.Errorf("ForkExec: %v", err)
		} else {
			var ws unix.WaitStatus
			if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || ws.ExitStatus() != 0 {
				t.Errorf("wait4: %v, status %v", err, ws)
			}
			unix.Close(pidfd)
		}
	}
	// The capability channel still works, from every thread.
	done := make(chan error)
	go func() {
		_, err := unix.Write(pair[0], []byte("x"))
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, _, _, _, err := unix.Recvmsg(pair[1], b[:], nil, 0); err != nil {
		t.Errorf("recvmsg on the channel: %v", err)
	}
}
