// Package security tries to escape runsc-exo's sandbox, one test per
// attempt, with the static C programs of testdata/: reboot, mount, ptrace
// and kill of host processes, opening host files outside --rootfs, sockets,
// and allocating past --memory-limit, a fork bomb under --pids-limit. Each
// must fail inside the sandbox (or have an effect confined to it) and leave
// the host as it was. The first process must also see itself as pid 1, and
// no process of a sandbox may outlive it, even when `runsc-exo do` is
// killed with SIGKILL (leak_test.go).
//
// Calls that would harm the host if the sandbox let them through (reboot,
// mount) run the runtime inside a pid and mount namespace of the test's own,
// so that a broken sandbox fails the test instead of powering off the machine
// or changing its mounts.
package security

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/test/internal/harness"
)

var (
	suite    *harness.Suite
	bins     map[string]string
	buildErr error
)

func TestMain(m *testing.M) {
	flag.Parse()
	harness.LimitParallel()
	s, err := harness.NewSuite("security")
	if err != nil {
		fmt.Fprintln(os.Stderr, "security: cannot create a scratch directory:", err)
		os.Exit(1)
	}
	suite = s
	if err := harness.GlibcStatic.Available(); err != nil {
		buildErr = err
	} else {
		var errs map[string]error
		bins, errs, buildErr = harness.CompileDir("testdata", s.Dir, harness.GlibcStatic)
		for name, e := range errs {
			buildErr = fmt.Errorf("%s: %v", name, e)
		}
	}
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// setup returns the runtime and the helper program name, or ends the test.
func setup(t *testing.T, name string) (*harness.Runtime, string) {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the test programs failed: %v", buildErr)
	}
	bin, ok := bins[name]
	if !ok {
		t.Fatalf("testdata/%s.c was not built", name)
	}
	return suite.Runtime(t), bin
}

// confined is the outcome of a run inside the test's own namespaces.
type confined struct {
	*harness.Result        // of the sentinel shell; Stderr without the marker line
	finished        bool   // the sentinel outlived the runtime and reported its status
	status          int    // the runtime's exit status as the sentinel saw it
	mountsBefore    []byte // the namespace's mount table before the runtime ran
	mountsAfter     []byte // and after
}

var sentinelRC = regexp.MustCompile(`(?m)^EXO-SENTINEL-RC=(\d+)\n?`)

// runConfined runs args (a runtime command line) as the child of a shell
// that is pid 1 of a new pid namespace, in a new private mount namespace.
// If the workload's reboot reached the kernel, only that namespace ends
// (the sentinel is killed and never reports); if its mount did, only the
// namespace's mount table changes.
func runConfined(t *testing.T, args []string) *confined {
	t.Helper()
	dir := t.TempDir()
	// The files are opened first: a mount that got through may cover dir.
	const script = `exec 3>"$0/before" 4>"$0/after"
cat /proc/self/mountinfo >&3
"$@" 3>&- 4>&-
rc=$?
cat /proc/self/mountinfo >&4
echo "EXO-SENTINEL-RC=$rc" >&2`
	t.Logf("in a new pid+mount namespace: %s", harness.ShellQuote(args))
	r := harness.Run(harness.Cmd{
		Args: append([]string{"/bin/sh", "-c", script, dir}, args...),
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:   syscall.CLONE_NEWPID,
			Unshareflags: syscall.CLONE_NEWNS, // Go makes it MS_REC|MS_PRIVATE
		},
	})
	c := &confined{Result: r}
	if m := sentinelRC.FindSubmatch(r.Stderr); m != nil {
		c.finished = true
		c.status, _ = strconv.Atoi(string(m[1]))
		r.Stderr = sentinelRC.ReplaceAll(r.Stderr, nil)
	}
	c.mountsBefore, _ = os.ReadFile(filepath.Join(dir, "before"))
	c.mountsAfter, _ = os.ReadFile(filepath.Join(dir, "after"))
	return c
}

func hostMounts(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func uptime(t *testing.T) float64 {
	t.Helper()
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	f, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func noPanic(t *testing.T, r *harness.Result) {
	t.Helper()
	if bytes.Contains(r.Stderr, []byte("panic:")) || bytes.Contains(r.Stderr, []byte("goroutine ")) {
		t.Errorf("the runtime panicked:\n%s", r)
	}
}

// TestReboot: reboot(POWER_OFF) fails inside with EPERM or ENOSYS (or ends
// only the sandbox), and the host keeps running: this test surviving shows
// it, the pid namespace around the runtime makes sure of it.
func TestReboot(t *testing.T) {
	rt, bin := setup(t, "reboot")
	up := uptime(t)
	c := runConfined(t, rt.DoArgs(harness.DoOpts{}, bin, "--sandboxed"))
	if up2 := uptime(t); up2 < up {
		t.Fatalf("host uptime went from %.2f to %.2f: the host rebooted?!", up, up2)
	}
	if !c.finished {
		// Linux ends a pid namespace whose process calls reboot: its init
		// (the sentinel) dies, reported as killed by SIGINT for POWER_OFF.
		t.Fatalf("the reboot reached the host kernel: it ended the pid namespace the test put the runtime in "+
			"(without that namespace the host would have powered off)\n%s", c.Result)
	}
	noPanic(t, c.Result)
	out := string(c.Stdout)
	switch {
	case c.status == 0 && regexp.MustCompile(`reboot returned -1 errno (EPERM|ENOSYS)`).MatchString(out):
		t.Logf("refused inside: %s", strings.TrimSpace(out))
	case strings.Contains(out, "reboot returned"):
		t.Errorf("reboot returned, but not an error with EPERM or ENOSYS (runtime exit status %d)\n%s", c.status, c.Result)
	default:
		// reboot did not return: acceptable only as the library OS ending
		// its own container.
		t.Logf("reboot did not return; the sandbox ended with status %d (an effect confined to it)\n%s", c.status, c.Result)
		if c.status == 0 {
			t.Errorf("the workload's reboot did not return, yet the sandbox reported success")
		}
	}
}

// TestMount: mount calls fail or stay inside the library OS; neither the
// host's mount table nor that of the namespace the runtime was started in
// changes.
func TestMount(t *testing.T) {
	rt, bin := setup(t, "mount")
	before := hostMounts(t)
	c := runConfined(t, rt.DoArgs(harness.DoOpts{}, bin))
	after := hostMounts(t)
	if !bytes.Equal(before, after) {
		t.Errorf("the host's /proc/self/mountinfo changed:\n%s", harness.FirstDifference("before", before, "after", after))
	}
	if !c.finished {
		t.Fatalf("the runtime's namespace ended abnormally\n%s", c.Result)
	}
	if len(c.mountsBefore) == 0 || !bytes.Equal(c.mountsBefore, c.mountsAfter) {
		t.Errorf("the mount table of the namespace the runtime ran in changed (a mount reached the host kernel):\n%s",
			harness.FirstDifference("before", c.mountsBefore, "after", c.mountsAfter))
	}
	noPanic(t, c.Result)
	if c.status != 0 {
		t.Errorf("want the workload's exit status 0, got %d\n%s", c.status, c.Result)
	}
	t.Logf("results inside the sandbox:\n%s", c.Stdout)
}

// startHelper starts `sleep 100` on the host and returns it and a channel
// closed when it exits.
func startHelper(t *testing.T) (*exec.Cmd, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the helper: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return cmd, done
}

func tracerPid(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "TracerPid:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// TestPtrace: PTRACE_ATTACH/PTRACE_SEIZE of host pids (this test's own and
// a helper's) fail; the host processes stay untraced.
func TestPtrace(t *testing.T) {
	t.Parallel()
	rt, bin := setup(t, "ptrace")
	helper, done := startHelper(t)
	r := rt.Do(t, harness.DoOpts{}, bin, strconv.Itoa(helper.Process.Pid), strconv.Itoa(os.Getpid()))
	noPanic(t, r)
	harness.CheckExit(t, "ptrace of host pids", r, 0)
	if tp := tracerPid(helper.Process.Pid); tp != "0" {
		t.Errorf("the helper (pid %d) has TracerPid %s", helper.Process.Pid, tp)
	}
	if tp := tracerPid(os.Getpid()); tp != "0" {
		t.Errorf("the test process has TracerPid %s", tp)
	}
	select {
	case <-done:
		t.Errorf("the helper process died")
	default:
	}
	t.Logf("results inside the sandbox:\n%s", r.Stdout)
}

// TestKill: kill(host pid, SIGKILL) fails and the host process lives on.
func TestKill(t *testing.T) {
	t.Parallel()
	rt, bin := setup(t, "kill")
	helper, done := startHelper(t)
	r := rt.Do(t, harness.DoOpts{}, bin, strconv.Itoa(helper.Process.Pid))
	noPanic(t, r)
	harness.CheckExit(t, "kill of a host pid", r, 0)
	select {
	case <-done:
		t.Fatalf("the host helper process (pid %d) was killed: %v\n%s", helper.Process.Pid, helper.ProcessState, r)
	case <-time.After(200 * time.Millisecond):
	}
	if err := helper.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the helper is gone: %v", err)
	}
	t.Logf("results inside the sandbox:\n%s", r.Stdout)
}

// TestOpenOutsideRootfs: with --rootfs DIR, no path reaches a host file
// outside DIR: absolute paths, ../ chains, /proc/self/root, symlinks out.
func TestOpenOutsideRootfs(t *testing.T) {
	t.Parallel()
	rt, bin := setup(t, "escape")
	rootfs, err := os.MkdirTemp(suite.Dir, "rootfs-")
	if err != nil {
		t.Fatal(err)
	}
	secretDir, err := os.MkdirTemp(suite.Dir, "secret-")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{rootfs, secretDir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	token := make([]byte, 16)
	rand.Read(token)
	secretText := "EXO-SECRET-" + hex.EncodeToString(token) + "\n"
	secret := filepath.Join(secretDir, "secret.txt")
	rel, err := filepath.Rel(rootfs, secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []error{
		os.WriteFile(secret, []byte(secretText), 0o644),
		harness.CopyExecutable(bin, filepath.Join(rootfs, "escape")),
		os.WriteFile(filepath.Join(rootfs, "inside.txt"), []byte("inside\n"), 0o644),
		os.Symlink(secret, filepath.Join(rootfs, "abs-link")),
		os.Symlink(rel, filepath.Join(rootfs, "rel-link")),
		os.Symlink("../../../../..", filepath.Join(rootfs, "up")),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}

	r := rt.Do(t, harness.DoOpts{Rootfs: rootfs}, "/escape", secret, rel)
	noPanic(t, r)
	for _, out := range [][]byte{r.Stdout, r.Stderr} {
		if bytes.Contains(out, []byte(strings.TrimSpace(secretText))) {
			t.Errorf("the secret's contents came out of the sandbox\n%s", r)
		}
	}
	switch r.ExitCode {
	case 0:
		t.Logf("every attempt failed:\n%s", r.Stdout)
	case 3:
		t.Fatalf("the workload could not read /inside.txt from its --rootfs %s, so the failed escapes prove nothing\n%s", rootfs, r)
	default:
		t.Errorf("the workload reached a host file outside --rootfs (or failed otherwise)\n%s", r)
	}
}

// TestSocket: the sandbox's loopback is the library OS's own: a connect
// to a listener on the host's 127.0.0.1 reaches nothing, and AF_PACKET
// sockets do not exist in the sandbox.
func TestSocket(t *testing.T) {
	t.Parallel()
	rt, bin := setup(t, "socket")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	r := rt.Do(t, harness.DoOpts{}, bin, strconv.Itoa(port))
	time.Sleep(100 * time.Millisecond)
	ln.Close()
	noPanic(t, r)
	if n := accepted.Load(); n != 0 {
		t.Errorf("the host listener on 127.0.0.1:%d accepted %d connection(s) from the sandbox", port, n)
	}
	harness.CheckExit(t, "socket", r, 0)
	t.Logf("results inside the sandbox:\n%s", r.Stdout)
}

// TestSentrySeccomp: the sentry itself (not only the workload's stubs)
// runs under its seccomp allowlist, on each platform, in the default
// network mode (none) and with --network=host: the filter the kernel holds
// for the real sentry is caps.SentryFilter of that policy (caps.
// TestSentryFilter checks the policy syscall by syscall: mount, unshare,
// kexec_load, bpf, ptrace outside the ptrace platform and the rest
// refused), and the sandbox still runs its workload under it (this whole
// suite does, on both platforms).
func TestSentrySeccomp(t *testing.T) {
	t.Parallel()
	rt, _ := setup(t, "socket")
	for _, plat := range harness.AllPlatforms {
		for _, extra := range [][]string{nil, {"--network=host"}} {
			policy := caps.SentryPolicy{Ptrace: plat == "ptrace"}
			if extra != nil {
				policy.Net = caps.SentryNetHost
			}
			want, err := caps.SentryFilter(policy)
			if err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("%s %v", plat, extra)
			p, err := harness.Start(harness.Cmd{Args: rt.On(plat).DoArgs(harness.DoOpts{Extra: extra}, "/bin/sh", "-c", "echo up; sleep 30")})
			if err != nil {
				t.Fatal(err)
			}
			var status string
			for i := 0; i < 200 && status == ""; i++ {
				time.Sleep(50 * time.Millisecond)
				if !bytes.Contains(p.Stdout(), []byte("up")) {
					continue
				}
				status = sentryStatus(p.Pid())
			}
			var filters [][]byte
			var ferr error
			if m := regexp.MustCompile(`(?m)^Pid:\s+(\d+)$`).FindStringSubmatch(status); m != nil {
				pid, _ := strconv.Atoi(m[1])
				filters, ferr = seccompFilters(pid)
			}
			p.Cmd.Process.Signal(syscall.SIGKILL)
			syscall.Kill(-p.Pid(), syscall.SIGKILL)
			p.Wait()
			if status == "" {
				t.Fatalf("%s: found no sentry (runsc-exo boot) below runsc-exo do %d\n%s", name, p.Pid(), p.Stderr())
			}
			m := regexp.MustCompile(`(?m)^Seccomp:\s+(\d+)$`).FindStringSubmatch(status)
			if m == nil || m[1] != "2" {
				t.Errorf("%s: the sentry is not in seccomp filter mode:\n%s", name, status)
			}
			if ferr != nil {
				t.Errorf("%s: reading the sentry's filters: %v", name, ferr)
				continue
			}
			// The allowlist first, then the unlogged clone3 one.
			if len(filters) != 2 {
				t.Errorf("%s: the sentry has %d seccomp filters, want 2 (allowlist, then clone3's)", name, len(filters))
				continue
			}
			wantBytes := unsafe.Slice((*byte)(unsafe.Pointer(&want[0])), len(want)*8)
			if !bytes.Equal(filters[0], wantBytes) {
				t.Errorf("%s: the sentry's filter (%d instructions) is not caps.SentryFilter(%+v) (%d)", name, len(filters[0])/8, policy, len(want))
			}
		}
	}
}

// seccompFilters reads the seccomp filters of process pid, oldest first,
// with PTRACE_SECCOMP_GET_FILTER (it stops the process while it reads).
func seccompFilters(pid int) ([][]byte, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const opts = 0
	if _, _, e := syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, opts, 0, 0); e != 0 {
		return nil, fmt.Errorf("seize %d: %w", pid, e)
	}
	defer syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_DETACH, uintptr(pid), 0, 0, 0, 0)
	if _, _, e := syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_INTERRUPT, uintptr(pid), 0, 0, 0, 0); e != 0 {
		return nil, fmt.Errorf("interrupt %d: %w", pid, e)
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
		return nil, fmt.Errorf("wait %d: %w", pid, err)
	}
	var out [][]byte
	for i := 0; ; i++ {
		n, _, e := syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(pid), uintptr(i), 0, 0, 0)
		if e == unix.ENOENT {
			return out, nil
		}
		if e != 0 {
			return nil, fmt.Errorf("filter %d of %d: %w", i, pid, e)
		}
		buf := make([]unix.SockFilter, n)
		if _, _, e := syscall.Syscall6(syscall.SYS_PTRACE, unix.PTRACE_SECCOMP_GET_FILTER, uintptr(pid), uintptr(i), uintptr(unsafe.Pointer(&buf[0])), 0, 0); e != 0 {
			return nil, fmt.Errorf("filter %d of %d: %w", i, pid, e)
		}
		out = append(out, unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), n*8))
	}
}

// sentryStatus is /proc/PID/status of the sentry below runsc-exo do pid,
// or "".
func sentryStatus(pid int) string {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil || !strings.Contains(string(st), fmt.Sprintf("\nPPid:\t%d\n", pid)) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(child), "cmdline"))
		if bytes.Contains(cmd, []byte("\x00boot\x00")) {
			return string(st)
		}
	}
	return ""
}

// TestPid1: the first process of the sandbox is pid 1.
func TestPid1(t *testing.T) {
	t.Parallel()
	rt, bin := setup(t, "pid1")
	r := rt.Do(t, harness.DoOpts{}, bin)
	noPanic(t, r)
	harness.CheckExit(t, "pid1", r, 0)
}

// TestMemoryLimit: under --memory-limit 64M, allocating and touching 256
// MiB through mmap, brk or malloc is stopped below the quota: by ENOMEM,
// which the workload sees and reports, or, as pages get memory when
// first touched, by the OOM kill a memory cgroup would deliver (SIGKILL),
// and no host process grew past the quota.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	rt, bin := setup(t, "memhog")
	enomem := regexp.MustCompile(`ENOMEM after (\d+) MiB`)
	touched := regexp.MustCompile(`touched (\d+) MiB\n$`)
	for _, mode := range []string{"mmap", "brk", "malloc"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := rt.Do(t, harness.DoOpts{MemoryLimit: "64M"}, bin, mode)
			noPanic(t, r)
			var n int
			switch {
			case r.ExitCode == 0:
				m := enomem.FindSubmatch(r.Stdout)
				if m == nil {
					t.Fatalf("exit 0 without an ENOMEM report\n%s", r)
				}
				n, _ = strconv.Atoi(string(m[1]))
			case r.ExitCode == 128+int(syscall.SIGKILL) && !r.TimedOut:
				m := touched.FindSubmatch(r.Stdout)
				if m == nil {
					t.Fatalf("killed before touching anything\n%s", r)
				}
				n, _ = strconv.Atoi(string(m[1]))
			default:
				t.Fatalf("allocating 256 MiB under a 64 MiB quota: want ENOMEM (exit 0) or SIGKILL (137), got %s\n%s", r.Status(), r)
			}
			if n > 64 {
				t.Errorf("the workload got %d MiB under a 64 MiB quota", n)
			}
			if n < 8 {
				t.Errorf("the workload got only %d MiB under a 64 MiB quota: the quota is not what was asked", n)
			}
			if r.Rusage != nil {
				maxrss := r.Rusage.Maxrss / 1024 // KiB to MiB
				t.Logf("%s: stopped after %d MiB (exit %d); largest host process of the run: %d MiB resident", mode, n, r.ExitCode, maxrss)
				if maxrss >= 192 {
					t.Errorf("a host process of the run reached %d MiB resident under a 64 MiB quota", maxrss)
				}
			}
		})
	}
}

// TestRawSyscall, on each platform: host-only syscalls made with a raw
// `syscall` instruction, from the workload's code and from every syscall
// instruction of the platform's stub code, reach the library OS or kill
// the workload, never the host (reboot would end the test's pid
// namespace, so the sentinel reports).
func TestRawSyscall(t *testing.T) {
	rt, bin := setup(t, "rawsyscall")
	for _, plat := range harness.AllPlatforms {
		t.Run(plat, func(t *testing.T) {
			c := runConfined(t, rt.On(plat).DoArgs(harness.DoOpts{}, bin, "--sandboxed"))
			if !c.finished {
				t.Fatalf("a raw reboot reached the host kernel: it ended the test's pid namespace\n%s", c.Result)
			}
			noPanic(t, c.Result)
			if c.status != 0 || !bytes.Contains(c.Stdout, []byte("done (some syscall sites")) {
				t.Fatalf("rawsyscall failed (status %d)\n%s", c.status, c.Result)
			}
			t.Logf("%s", c.Stdout)
		})
	}
}
