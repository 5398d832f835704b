// Package busybox runs Debian's busybox-static (/bin/busybox, a static glibc
// binary) under `runsc-exo do`: echo, cat of a rootfs file, ls /, uname,
// true, false and the error of a missing file, compared with the host where
// the answer is the host's; and a shell script (testdata/script.sh:
// pipelines, $(…), subshells, & and wait, trap, kill, here-documents, read
// from a pipe, exit statuses, set -e) whose output and exit status must be
// those of the same script run natively.
package busybox

import (
	"bytes"
	"debug/elf"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"exokernelul.dev/exo/test/internal/harness"
)

// Busybox is where Debian's busybox-static package installs the binary.
const Busybox = "/bin/busybox"

var suite *harness.Suite

func TestMain(m *testing.M) {
	flag.Parse()
	harness.LimitParallel()
	s, err := harness.NewSuite("busybox")
	if err != nil {
		fmt.Fprintln(os.Stderr, "busybox: cannot create a scratch directory:", err)
		os.Exit(1)
	}
	suite = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// busybox checks that the static busybox is installed and returns the runtime.
func busybox(t *testing.T) *harness.Runtime {
	t.Helper()
	f, err := elf.Open(Busybox)
	if err != nil {
		t.Fatalf("%s is needed (apt-get install -y busybox-static): %v", Busybox, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatalf("%s is dynamically linked; the sandbox runs static programs: apt-get install -y busybox-static", Busybox)
		}
	}
	return suite.Runtime(t)
}

func noPanic(t *testing.T, r *harness.Result) {
	t.Helper()
	if bytes.Contains(r.Stderr, []byte("panic:")) || bytes.Contains(r.Stderr, []byte("goroutine ")) {
		t.Errorf("the runtime panicked:\n%s", r)
	}
}

// run runs busybox with args sandboxed and checks its exit status.
func run(t *testing.T, rt *harness.Runtime, want int, args ...string) *harness.Result {
	t.Helper()
	r := rt.Do(t, harness.DoOpts{}, append([]string{Busybox}, args...)...)
	noPanic(t, r)
	harness.CheckExit(t, "busybox "+strings.Join(args, " "), r, want)
	return r
}

func TestEcho(t *testing.T) {
	t.Parallel()
	r := run(t, busybox(t), 0, "echo", "hi")
	if got := string(r.Stdout); got != "hi\n" {
		t.Errorf("busybox echo hi printed %q, want %q\n%s", got, "hi\n", r)
	}
}

func TestCatRootfsFile(t *testing.T) {
	t.Parallel()
	rt := busybox(t)
	want, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, rt, 0, "cat", "/etc/passwd")
	if d := harness.FirstDifference("host file", want, "sandbox", r.Stdout); d != "" {
		t.Errorf("busybox cat /etc/passwd differs from the host file: %s\n%s", d, r)
	}
}

func TestLsRoot(t *testing.T) {
	t.Parallel()
	rt := busybox(t)
	native := harness.Native(t, Busybox, "ls", "/")
	if native.ExitCode != 0 {
		t.Fatalf("native busybox ls / failed\n%s", native)
	}
	r := run(t, rt, 0, "ls", "/")
	if d := harness.FirstDifference("native", native.Stdout, "sandbox", r.Stdout); d != "" {
		t.Errorf("busybox ls / differs from the native run: %s\n=== native\n%s=== sandboxed\n%s", d, native, r)
	}
}

func TestUname(t *testing.T) {
	t.Parallel()
	rt := busybox(t)
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		t.Fatal(err)
	}
	var rel []byte
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	hostRelease := string(rel)

	all := run(t, rt, 0, "uname", "-a")
	if len(bytes.TrimSpace(all.Stdout)) == 0 {
		t.Errorf("busybox uname -a printed nothing\n%s", all)
	}
	r := run(t, rt, 0, "uname", "-r")
	got := strings.TrimSpace(string(r.Stdout))
	if got == "" {
		t.Errorf("busybox uname -r printed nothing\n%s", r)
	}
	if got == hostRelease {
		t.Errorf("the sandbox reports the host's kernel release %q; it must report the library OS's own", hostRelease)
	}
	if strings.Contains(string(all.Stdout), hostRelease) {
		t.Errorf("busybox uname -a shows the host's kernel release %q: %s", hostRelease, all.Stdout)
	}
	t.Logf("sandbox: uname -a: %s", bytes.TrimSpace(all.Stdout))
}

func TestTrue(t *testing.T) {
	t.Parallel()
	r := run(t, busybox(t), 0, "true")
	if len(r.Stdout) != 0 {
		t.Errorf("busybox true printed %q", r.Stdout)
	}
}

func TestFalse(t *testing.T) {
	t.Parallel()
	run(t, busybox(t), 1, "false")
}

func TestCatMissingFile(t *testing.T) {
	t.Parallel()
	r := run(t, busybox(t), 1, "cat", "/nonexistent")
	if !bytes.Contains(r.Stderr, []byte("No such file or directory")) {
		t.Errorf("busybox cat /nonexistent: stderr lacks %q\n%s", "No such file or directory", r)
	}
	if !bytes.Contains(r.Stderr, []byte("/nonexistent")) {
		t.Errorf("busybox cat /nonexistent: stderr does not name the file\n%s", r)
	}
}

// TestShellScript runs testdata/script.sh with `busybox sh` natively and
// sandboxed: the same stdout and the same exit status (3, from the script's
// last line). The script runs from the scratch directory (readable in the
// sandbox, whose rootfs is the host's /); busybox's shell starts its applets
// (sort, sed, sleep, …) as child processes, so this needs fork, execve,
// wait, pipes and signals in the sandbox.
func TestShellScript(t *testing.T) {
	t.Parallel()
	rt := busybox(t)
	src, err := os.ReadFile(filepath.Join("testdata", "script.sh"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(suite.Dir, "script.sh")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	const wantExit = 3
	native := harness.Native(t, Busybox, "sh", script)
	if native.ExitCode != wantExit || !bytes.HasSuffix(native.Stdout, []byte("end\n")) {
		t.Fatalf("the native run of the script does not exit %d after printing \"end\", so the script or this host "+
			"is at fault, not the sandbox\n%s", wantExit, native)
	}
	r := rt.Do(t, harness.DoOpts{}, Busybox, "sh", script)
	noPanic(t, r)
	var problems []string
	if r.TimedOut || r.ExitCode != native.ExitCode {
		problems = append(problems, fmt.Sprintf("exit: native %s, sandboxed %s", native.Status(), r.Status()))
	}
	if d := harness.FirstDifference("native", native.Stdout, "sandbox", r.Stdout); d != "" {
		problems = append(problems, "stdout differs; "+d)
	}
	if len(problems) > 0 {
		t.Errorf("the sandboxed script differs from the native run:\n  %s\n=== native\n%s=== sandboxed\n%s",
			strings.Join(problems, "\n  "), native, r)
	}
}
