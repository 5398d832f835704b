// Package busybox runs Debian's busybox-static (/bin/busybox, a static glibc
// binary) under `runsc-exo do`: echo, cat of a rootfs file, ls /, uname,
// true, false and the error of a missing file, compared with the host where
// the answer is the host's.
package busybox

import (
	"bytes"
	"debug/elf"
	"flag"
	"fmt"
	"os"
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
