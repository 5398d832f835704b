package security

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"exokernelul.dev/exo/test/internal/harness"
)

// These tests make the test process a child subreaper (see
// becomeSubreaper), so they do not run in parallel with the others: go test
// runs them before it resumes the parallel ones.

const (
	// pidsLimit is the --pids-limit given to the fork bomb.
	pidsLimit = 16
	// hostSlack is how many host processes a sandbox may have besides one
	// per workload process: exo (runsc-exo do), the sentry, helpers.
	hostSlack = 8
	// runaway is the count of processes below the test at which the fork
	// bomb is stopped from outside: the limit does not hold.
	runaway = 4 * (pidsLimit + hostSlack)
	// goneWithin is how long processes may outlive their sandbox.
	goneWithin = 5 * time.Second
)

// checkNoLeftovers fails the test if anything of the sandbox outlived it:
// a process below the test process (stubs, the sentry, exo), or a process
// running this package's runtime binary that was not there before.
func checkNoLeftovers(t *testing.T, rt *harness.Runtime, before map[int]procInfo, skip ...int) {
	t.Helper()
	left := awaitNoDescendants(goneWithin, skip...)
	if len(left) > 0 {
		var stubs, others []procInfo
		for _, p := range left {
			if p.isStub() {
				stubs = append(stubs, p)
			} else {
				others = append(others, p)
			}
		}
		t.Errorf("%d process(es) of the sandbox still alive %v after it ended (%d exo-stub):\n%s",
			len(left), goneWithin, len(stubs), describe(append(stubs, others...)))
	}
	if os.Getenv("EXO_RUNTIME") != "" {
		t.Logf("EXO_RUNTIME is set: other test packages may run the same binary, so only this test's descendants were checked")
		return
	}
	if rest := runtimeLeftovers(rt.Bin, before); len(rest) > 0 {
		t.Errorf("processes running the runtime binary %s are left:\n%s", rt.Bin, describe(rest))
	}
}

// TestPidsLimit: under --pids-limit 16 (a flag of `runsc-exo do`), a fork
// bomb inside the sandbox gets EAGAIN from fork at or below 16 processes
// (and fork works again once they are reaped), the host never holds more
// than 16 exo-stub processes of it nor more than 16+8 processes in all, and
// once the sandbox exits none of its processes is left on the host.
func TestPidsLimit(t *testing.T) {
	rt, bin := setup(t, "forkbomb")
	becomeSubreaper(t)
	for _, mode := range []string{"line", "tree"} {
		t.Run(mode, func(t *testing.T) {
			before := allProcs()
			args := rt.DoArgs(harness.DoOpts{PidsLimit: pidsLimit}, bin, mode)
			t.Logf("sandboxed: %s", harness.ShellQuote(args))
			p, err := harness.Start(harness.Cmd{Args: args})
			if err != nil {
				t.Fatalf("starting the runtime: %v", err)
			}
			done := make(chan *harness.Result, 1)
			go func() { done <- p.Wait() }()

			// Count the host processes below the test while the bomb runs.
			var r *harness.Result
			most, stubs, mostStubs, stopped := 0, 0, 0, false
			tick := time.NewTicker(5 * time.Millisecond)
			for r == nil {
				select {
				case r = <-done:
				case <-tick.C:
					below := live(descendants(allProcs(), os.Getpid()))
					n := 0
					for _, q := range below {
						if q.isStub() {
							n++
						}
					}
					if len(below) > most {
						most, stubs = len(below), n
					}
					mostStubs = max(mostStubs, n)
					if len(below) > runaway && !stopped {
						stopped = true
						t.Errorf("%d host processes below the test: the pids limit does not hold; killing them", len(below))
						killDescendants(time.Second, p.Pid())
					}
				}
			}
			tick.Stop()
			noPanic(t, r)
			t.Logf("at most %d host processes of the sandbox at once (%d exo-stub), at most %d exo-stub; host processes before: %d, after: %d",
				most, stubs, mostStubs, len(before), len(allProcs()))
			// Each workload process is a stub on the host: a process must
			// count against the limit until its stub is gone, or a bomb that
			// kills and forks could pile up stubs on the host.
			if mostStubs > pidsLimit {
				t.Errorf("the host had up to %d exo-stub processes of a sandbox limited to %d processes", mostStubs, pidsLimit)
			}
			if most > pidsLimit+hostSlack {
				t.Errorf("the host had up to %d processes of a sandbox limited to %d processes (allowed: %d for the runtime itself)",
					most, pidsLimit, hostSlack)
			}
			out := string(r.Stdout)
			switch {
			case r.ExitCode == 3:
				t.Errorf("fork never failed: --pids-limit %d was not enforced\n%s", pidsLimit, r)
			case r.ExitCode != 0:
				t.Errorf("want exit status 0 (fork failed with EAGAIN), got %s\n%s", r.Status(), r)
			case mode == "line":
				m := regexp.MustCompile(`line: EAGAIN after (\d+) children`).FindStringSubmatch(out)
				if m == nil {
					t.Errorf("no EAGAIN report\n%s", r)
					break
				}
				children, _ := strconv.Atoi(m[1])
				if children+1 > pidsLimit {
					t.Errorf("the sandbox held %d processes (%d children and the parent) under --pids-limit %d",
						children+1, children, pidsLimit)
				}
				if children+1 < pidsLimit/2 {
					t.Errorf("fork failed at %d processes, far below --pids-limit %d", children+1, pidsLimit)
				}
				if !strings.Contains(out, "line: fork works again after reaping") {
					t.Errorf("fork did not work again once the children were reaped: the limit must count live processes\n%s", r)
				}
			case mode == "tree":
				if !strings.Contains(out, "tree: EAGAIN") || !strings.Contains(out, "every process reaped") {
					t.Errorf("want EAGAIN and every process of the bomb reaped\n%s", r)
				}
			}
			checkNoLeftovers(t, rt, before)
		})
	}
}

// TestKillRuntime: SIGKILL to `runsc-exo do` while the workload sleeps
// leaves no sentry (`runsc-exo boot`) and no exo-stub process behind.
func TestKillRuntime(t *testing.T) {
	rt := suite.Runtime(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatalf("/bin/busybox is needed (apt-get install -y busybox-static): %v", err)
	}
	becomeSubreaper(t)
	before := allProcs()
	args := rt.DoArgs(harness.DoOpts{}, "/bin/busybox", "sleep", "100")
	t.Logf("sandboxed: %s", harness.ShellQuote(args))
	p, err := harness.Start(harness.Cmd{Args: args})
	if err != nil {
		t.Fatalf("starting the runtime: %v", err)
	}
	pid := p.Pid()
	done := make(chan *harness.Result, 1)

	// Wait for the workload to run: a stub process below the runtime.
	var tree []procInfo
	found := false
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		tree = live(descendants(allProcs(), os.Getpid()))
		for _, q := range tree {
			found = found || q.isStub()
		}
		if found {
			break
		}
		if _, alive := readProc(pid); !alive {
			break
		}
	}
	if !found {
		go func() { done <- p.Wait() }()
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("no exo-stub process appeared below the runtime within 15 s; processes:\n%s\n%s", describe(tree), <-done)
	}
	time.Sleep(300 * time.Millisecond) // let busybox reach its sleep
	tree = live(descendants(allProcs(), os.Getpid()))
	t.Logf("the sandbox's host processes:\n%s", describe(tree))

	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL to runsc-exo do (pid %d): %v", pid, err)
	}
	// os/exec reaps the runtime itself; everything else must go by itself.
	checkNoLeftovers(t, rt, before, pid)
	go func() { done <- p.Wait() }()
	r := <-done
	if r.Signal != syscall.SIGKILL {
		t.Errorf("want runsc-exo do killed by SIGKILL, got %s\n%s", r.Status(), r)
	}
	noPanic(t, r)
}
