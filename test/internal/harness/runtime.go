package harness

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// After maxTimeouts sandboxed runs of one test binary have timed out, the
// rest get shortTimeout: a runtime that hangs every workload then fails the
// suite in minutes instead of running into go test's own deadline.
const (
	maxTimeouts  = 3
	shortTimeout = 5 * time.Second
)

// Runtime is a built runsc-exo binary.
type Runtime struct {
	// Bin is the path of the runsc-exo binary.
	Bin string
	// Platform, when set (from EXO_PLATFORM), is passed as --platform.
	Platform string

	timeouts atomic.Int32

	onMu sync.Mutex
	on   map[string]*Runtime
}

// AllPlatforms are the platforms runsc-exo offers, the default first.
var AllPlatforms = []string{"systrap", "ptrace"}

// Platforms are the platforms tests that compare platforms run on: those
// of EXO_PLATFORMS, else EXO_PLATFORM alone, else AllPlatforms.
func Platforms() []string {
	if v := os.Getenv("EXO_PLATFORMS"); v != "" {
		return strings.Split(v, ",")
	}
	if v := os.Getenv("EXO_PLATFORM"); v != "" {
		return []string{v}
	}
	return AllPlatforms
}

// PlatformFlavour says whether the conformance suite runs programs of
// flavour f on platform p. The default platform runs every flavour; the
// others, unless EXO_PLATFORMS names them, only the first flavour: the
// flavours exercise the library OS's libc compatibility, which does not
// depend on the platform, and the whole matrix would double the suite's
// time on the 2-core reference machine.
func PlatformFlavour(p string, f Flavour) bool {
	return p == AllPlatforms[0] || os.Getenv("EXO_PLATFORMS") != "" || f.Name == Flavours[0].Name
}

// On returns the same runtime run with --platform p.
func (rt *Runtime) On(p string) *Runtime {
	rt.onMu.Lock()
	defer rt.onMu.Unlock()
	if r, ok := rt.on[p]; ok {
		return r
	}
	if rt.on == nil {
		rt.on = map[string]*Runtime{}
	}
	r := &Runtime{Bin: rt.Bin, Platform: p}
	rt.on[p] = r
	return r
}

// DoOpts are the options of one `runsc-exo do` run.
type DoOpts struct {
	// Rootfs is passed as --rootfs when set.
	Rootfs string
	// Strace adds --strace.
	Strace bool
	// MemoryLimit is passed as --memory-limit when set (e.g. "64M").
	MemoryLimit string
	// PidsLimit is passed as --pids-limit when positive: the most
	// processes and threads the sandbox may hold at once.
	PidsLimit int
	// Extra flags go after the others, before "--".
	Extra []string
}

// DoArgs is the command line of `runsc-exo do` running argv with o.
func (rt *Runtime) DoArgs(o DoOpts, argv ...string) []string {
	args := []string{rt.Bin, "do"}
	if rt.Platform != "" {
		args = append(args, "--platform", rt.Platform)
	}
	if o.Rootfs != "" {
		args = append(args, "--rootfs", o.Rootfs)
	}
	if o.Strace {
		args = append(args, "--strace")
	}
	if o.MemoryLimit != "" {
		args = append(args, "--memory-limit", o.MemoryLimit)
	}
	if o.PidsLimit > 0 {
		args = append(args, "--pids-limit", fmt.Sprint(o.PidsLimit))
	}
	args = append(args, o.Extra...)
	args = append(args, "--")
	return append(args, argv...)
}

// Do runs argv under `runsc-exo do` with stdin from /dev/null and logs the
// command line.
func (rt *Runtime) Do(t testing.TB, o DoOpts, argv ...string) *Result {
	t.Helper()
	args := rt.DoArgs(o, argv...)
	t.Logf("sandboxed: %s", ShellQuote(args))
	c := Cmd{Args: args}
	if rt.timeouts.Load() >= maxTimeouts {
		c.Timeout = shortTimeout
		t.Logf("%d sandboxed runs timed out already: this one gets %v", maxTimeouts, shortTimeout)
	}
	r := Run(c)
	if r.TimedOut {
		rt.timeouts.Add(1)
	}
	return r
}

// Native runs argv directly on the host with the same environment and
// stdio as a sandboxed run.
func Native(t testing.TB, argv ...string) *Result {
	t.Helper()
	t.Logf("native: %s", ShellQuote(argv))
	return Run(Cmd{Args: argv})
}

// CheckExit fails the test unless r ended with exit status want.
func CheckExit(t testing.TB, what string, r *Result, want int) bool {
	t.Helper()
	if r.ExitCode != want || r.TimedOut {
		t.Errorf("%s: want exit status %d, got %s\n%s", what, want, r.Status(), r)
		return false
	}
	return true
}

// Describe is a one-line summary of r for log messages.
func (r *Result) Describe() string {
	return fmt.Sprintf("%s: %s", ShellQuote(r.Args), r.Status())
}
