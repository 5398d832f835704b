// Package goprog runs a static Go program (testdata/prog, built with
// CGO_ENABLED=0 by the test) natively and under `runsc-exo do`: goroutines
// on several threads, channels, sync, timers, os/exec of a child, a signal
// through signal.Notify, garbage collection and unix sockets through net.
// Both runs must print the same lines and exit 0.
package goprog

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"exokernelul.dev/exo/test/internal/harness"
)

var suite *harness.Suite

func TestMain(m *testing.M) {
	flag.Parse()
	harness.LimitParallel()
	s, err := harness.NewSuite("goprog")
	if err != nil {
		fmt.Fprintln(os.Stderr, "goprog: cannot create a scratch directory:", err)
		os.Exit(1)
	}
	suite = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

var (
	buildOnce sync.Once
	progBin   string
	buildErr  error
)

// program builds testdata/prog once, static, into the scratch directory.
// (The go tool leaves testdata/ out of ./... patterns, but builds a
// package there when named explicitly.)
func program(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := harness.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		progBin = filepath.Join(suite.Dir, "goprog")
		cmd := exec.Command("go", "build", "-o", progBin, "./test/goprog/testdata/prog")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("CGO_ENABLED=0 go build ./test/goprog/testdata/prog in %s: %v\n%s", root, err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return progBin
}

const okLine = "goprog: ok\n"

// TestNative checks the program itself on the host.
func TestNative(t *testing.T) {
	t.Parallel()
	r := harness.Native(t, program(t))
	if !harness.CheckExit(t, "native run", r, 0) {
		return
	}
	if !bytes.HasSuffix(r.Stdout, []byte(okLine)) {
		t.Errorf("stdout does not end with %q\n%s", okLine, r)
	}
}

// TestSandbox requires the sandboxed run to print what the native run does.
func TestSandbox(t *testing.T) {
	t.Parallel()
	bin := program(t)
	rt := suite.Runtime(t)
	native := harness.Native(t, bin)
	if native.ExitCode != 0 || !bytes.HasSuffix(native.Stdout, []byte(okLine)) {
		t.Fatalf("the native run fails, so the program or this host is at fault, not the sandbox\n%s", native)
	}
	// (A Go workload's own crash prints "panic:" and goroutines too, so
	// stderr is shown, not searched.)
	r := rt.Do(t, harness.DoOpts{}, bin)
	var problems []string
	if r.TimedOut || r.ExitCode != 0 {
		problems = append(problems, fmt.Sprintf("exit: native %s, sandboxed %s", native.Status(), r.Status()))
	}
	if d := harness.FirstDifference("native", native.Stdout, "sandbox", r.Stdout); d != "" {
		problems = append(problems, "stdout differs; "+d)
	}
	if len(problems) > 0 {
		t.Errorf("the sandboxed Go program differs from the native run:\n  %s\n=== native\n%s=== sandboxed\n%s",
			strings.Join(problems, "\n  "), native, r)
	}
}
