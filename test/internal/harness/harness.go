// Package harness holds the helpers shared by the runsc-exo end-to-end test
// packages (conformance, busybox, security, cli): building the runtime once
// per test binary, compiling the C test programs in each libc flavour,
// running a program natively or under `runsc-exo do`, and describing the
// results so that a failure message shows everything needed to diagnose it.
//
// Environment variables understood by every package that uses it:
//
//	EXO_RUNTIME   path of a prebuilt runsc-exo binary (skips `go build`)
//	EXO_PLATFORM  value for `runsc-exo do --platform` (default: flag not passed)
//	EXO_PLATFORMS platforms the conformance suite compares, comma-separated
//	              (default: systrap,ptrace; EXO_PLATFORM alone when set)
//	EXO_TIMEOUT   per-run timeout as a Go duration (default 30s)
//	EXO_KEEP_TMP  keep the scratch directories (built programs) after the run
package harness

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// MaxParallel is the number of tests run at once in each package unless
// -test.parallel is given explicitly: the reference machine has two cores and
// every sandboxed run occupies a tracer and a tracee.
const MaxParallel = 2

// LimitParallel sets -test.parallel to MaxParallel unless the flag was given
// on the command line. Call it from TestMain after flag.Parse and before m.Run.
func LimitParallel() {
	explicit := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			explicit = true
		}
	})
	if !explicit {
		_ = flag.Set("test.parallel", fmt.Sprint(MaxParallel))
	}
}

// RepoRoot returns the directory of the exokernelul.dev/exo module.
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err == nil {
		if dir := strings.TrimSpace(string(out)); dir != "" {
			return dir, nil
		}
	}
	// Fall back to walking up from the working directory to go.mod.
	dir, werr := os.Getwd()
	if werr != nil {
		return "", werr
	}
	for {
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("cannot find the module root (go list: %v; no go.mod above the working directory)", err)
		}
		dir = parent
	}
}

// Suite is the per-test-binary state: a scratch directory and the lazily
// built runtime. Create it in TestMain with NewSuite and Close it after m.Run.
type Suite struct {
	// Dir is a scratch directory removed by Close.
	Dir string

	once     sync.Once
	runtime  *Runtime
	err      error
	reported atomic.Bool
}

// NewSuite creates the scratch directory for one test package.
func NewSuite(name string) (*Suite, error) {
	dir, err := os.MkdirTemp("", "exo-"+name+"-")
	if err != nil {
		return nil, err
	}
	// The sandbox resolves the program path inside its rootfs (the host's /
	// by default), so the directory must be reachable by other users too
	// should the runtime drop privileges.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Suite{Dir: dir}, nil
}

// Close removes the scratch directory.
func (s *Suite) Close() {
	if s != nil && s.Dir != "" && os.Getenv("EXO_KEEP_TMP") == "" {
		os.RemoveAll(s.Dir)
	}
}

// RequireRoot skips the test unless it runs as root: the runtime needs root
// to create namespaces, trace its stubs and hand out host resources.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("runsc-exo needs root (euid is %d); run the tests as root", os.Geteuid())
	}
}

// Runtime returns the runsc-exo binary, building it on first use (once per
// test binary). It skips the test when not root and fails it, with the build
// output, when the build fails.
func (s *Suite) Runtime(t testing.TB) *Runtime {
	t.Helper()
	RequireRoot(t)
	s.once.Do(func() { s.runtime, s.err = buildRuntime(s.Dir) })
	if s.err != nil {
		if s.reported.CompareAndSwap(false, true) {
			t.Fatalf("runtime unavailable: %v", s.err)
		}
		first, _, _ := strings.Cut(s.err.Error(), "\n")
		t.Fatalf("runtime unavailable: %s (full output in the first test that failed this way)", first)
	}
	return s.runtime
}

func buildRuntime(dir string) (*Runtime, error) {
	rt := &Runtime{Platform: os.Getenv("EXO_PLATFORM")}
	if bin := os.Getenv("EXO_RUNTIME"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("EXO_RUNTIME=%s: %v", bin, err)
		}
		rt.Bin = bin
		return rt, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	rt.Bin = filepath.Join(dir, "runsc-exo")
	cmd := exec.Command("go", "build", "-o", rt.Bin, "./runsc-exo")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building the runtime (`go build -o %s ./runsc-exo` in %s) failed: %v\n%s",
			rt.Bin, root, err, out)
	}
	return rt, nil
}

// Timeout is the limit for one run of a program, native or sandboxed.
func Timeout() time.Duration {
	if v := os.Getenv("EXO_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return 30 * time.Second
}

// Env is the environment given to every program and to the runtime: small
// and fixed, so that native and sandboxed runs see the same one.
func Env() []string {
	env := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"LC_ALL=C",
		"EXO_CONFORMANCE=1",
	}
	if v := os.Getenv("TMPDIR"); v != "" {
		env = append(env, "TMPDIR="+v)
	}
	return env
}

// Cmd describes one process to run.
type Cmd struct {
	Args []string
	// Env defaults to Env().
	Env []string
	// Dir is the working directory (default: the test's).
	Dir string
	// Stdin defaults to /dev/null.
	Stdin *os.File
	// Timeout defaults to Timeout().
	Timeout time.Duration
	// SysProcAttr, if set, replaces the default (a new process group, so
	// that a timeout kills everything the process started in it).
	SysProcAttr *syscall.SysProcAttr
}

// Result is what a finished process left behind.
type Result struct {
	Args     []string
	Stdout   []byte
	Stderr   []byte
	ExitCode int // the exit status, 128+N after signal N, -1 if it never ran
	Signal   syscall.Signal
	TimedOut bool
	Err      error // start failure or timeout
	Duration time.Duration
	Rusage   *syscall.Rusage
}

// Run runs c to completion, with stdout and stderr collected through pipes.
// It waits for one of the machine-wide slots first (see acquireSlot); the
// timeout counts from the start of the process.
func Run(c Cmd) *Result {
	p, r := start(c)
	if p == nil {
		return r
	}
	return p.Wait()
}

// Proc is a process started by Start and still to be waited for.
type Proc struct {
	// Cmd is the running command; Cmd.Process.Pid is its pid.
	Cmd *exec.Cmd

	r              *Result
	ctx            context.Context
	cancel         context.CancelFunc
	release        func()
	devnull        *os.File
	stdout, stderr lockedBuffer
	begin          time.Time
	timeout        time.Duration
	once           sync.Once
}

// lockedBuffer is a bytes.Buffer that a test may read while the process
// writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// Start starts c like Run does (a slot, the timeout, stdio through pipes)
// and returns without waiting for it: for tests that act on a process while
// it runs. Wait must be called.
func Start(c Cmd) (*Proc, error) {
	p, r := start(c)
	if p == nil {
		return nil, r.Err
	}
	return p, nil
}

// Pid is the process's pid.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Stdout is what the process has written to stdout so far.
func (p *Proc) Stdout() []byte { return p.stdout.Bytes() }

// Stderr is what the process has written to stderr so far.
func (p *Proc) Stderr() []byte { return p.stderr.Bytes() }

func start(c Cmd) (*Proc, *Result) {
	r := &Result{Args: c.Args, ExitCode: -1}
	if len(c.Args) == 0 {
		r.Err = errors.New("no command")
		return nil, r
	}
	release := acquireSlot()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = Timeout()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	p := &Proc{r: r, ctx: ctx, cancel: cancel, release: release, timeout: timeout}
	fail := func(err error) (*Proc, *Result) {
		r.Err = err
		p.cleanup()
		return nil, r
	}
	cmd := exec.CommandContext(ctx, c.Args[0], c.Args[1:]...)
	p.Cmd = cmd
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = Env()
	}
	cmd.Dir = c.Dir
	if c.Stdin != nil {
		cmd.Stdin = c.Stdin
	} else {
		devnull, err := os.Open(os.DevNull)
		if err != nil {
			return fail(err)
		}
		p.devnull = devnull
		cmd.Stdin = devnull
	}
	cmd.Stdout = &p.stdout
	cmd.Stderr = &p.stderr
	cmd.SysProcAttr = c.SysProcAttr
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	cmd.Cancel = func() error {
		if cmd.SysProcAttr.Setpgid {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		return cmd.Process.Kill()
	}
	// Grandchildren that keep the pipes open must not hang the test.
	cmd.WaitDelay = 5 * time.Second
	p.begin = time.Now()
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	return p, r
}

func (p *Proc) cleanup() {
	p.once.Do(func() {
		p.cancel()
		if p.devnull != nil {
			p.devnull.Close()
		}
		p.release()
	})
}

// Wait waits for the process to end (or its timeout to kill it) and
// returns what it left behind.
func (p *Proc) Wait() *Result {
	defer p.cleanup()
	r := p.r
	cmd := p.Cmd
	err := cmd.Wait()
	r.Duration = time.Since(p.begin)
	r.Stdout, r.Stderr = p.stdout.Bytes(), p.stderr.Bytes()
	if p.ctx.Err() == context.DeadlineExceeded {
		r.TimedOut = true
		r.Err = fmt.Errorf("timed out after %v", p.timeout)
	}
	if cmd.ProcessState == nil {
		if r.Err == nil {
			r.Err = err
		}
		return r
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.Rusage = ru
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Exited():
		r.ExitCode = ws.ExitStatus()
	case ws.Signaled():
		r.Signal = ws.Signal()
		r.ExitCode = 128 + int(ws.Signal())
	}
	return r
}

// Status describes how the process ended, e.g. "exit status 0" or
// "killed by signal 9 (killed) => 137".
func (r *Result) Status() string {
	switch {
	case r.TimedOut:
		return fmt.Sprintf("TIMED OUT (%v)", r.Err)
	case r.ExitCode < 0:
		return fmt.Sprintf("did not run: %v", r.Err)
	case r.Signal != 0:
		return fmt.Sprintf("killed by signal %d (%v) => %d", int(r.Signal), r.Signal, r.ExitCode)
	default:
		return fmt.Sprintf("exit status %d", r.ExitCode)
	}
}

// String is a full report of the run for failure messages.
func (r *Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "command: %s\n", ShellQuote(r.Args))
	fmt.Fprintf(&b, "result:  %s after %v\n", r.Status(), r.Duration.Round(time.Millisecond))
	b.WriteString(Section("stdout", r.Stdout))
	b.WriteString(Section("stderr", r.Stderr))
	return b.String()
}

// Section formats captured output for a failure message, truncated in the
// middle when long.
func Section(name string, data []byte) string {
	const limit = 6000
	if len(data) == 0 {
		return fmt.Sprintf("--- %s: (empty)\n", name)
	}
	s := string(data)
	if len(s) > limit {
		s = s[:limit/2] + fmt.Sprintf("\n[... %d bytes elided ...]\n", len(s)-limit) + s[len(s)-limit/2:]
	}
	if !strings.HasSuffix(s, "\n") {
		s += "\n[no newline at end]\n"
	}
	return fmt.Sprintf("--- %s (%d bytes):\n%s", name, len(data), s)
}

// FirstDifference describes the first line where a and b differ, or "" if
// they are equal.
func FirstDifference(aName string, a []byte, bName string, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	al := strings.SplitAfter(string(a), "\n")
	bl := strings.SplitAfter(string(b), "\n")
	for i := 0; ; i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("first difference at line %d:\n  %-8s %q\n  %-8s %q\n", i+1, aName+":", x, bName+":", y)
		}
	}
}

// ShellQuote renders args as a shell command line.
func ShellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}
