package caps

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const nobody = 65534

// TestDirFallbackUnprivileged runs OpenDir as an unprivileged user, where the
// host refuses open_tree with EPERM: the dir must still open, with a warning
// that read-only is now the library OS's job.
func TestDirFallbackUnprivileged(t *testing.T) {
	needRoot(t)
	// Everything the child touches must be reachable by nobody; t.TempDir
	// and the go-build dir are 0700.
	base, err := os.MkdirTemp("", "caps-fallback")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "caps.test")
	if err := copyFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(base, "tree")
	if err := os.Mkdir(tree, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "file"), []byte("data"), 0o666); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{base, tree, filepath.Join(tree, "file")} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(bin, "-test.run=^TestHelperUnprivileged$", "-test.count=1", "-test.v")
	// Under `bazel test`, TEST_SRCDIR makes the test binary chdir into its
	// runfiles at start-up, which nobody may not enter; the child needs none.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TEST_SRCDIR=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "CAPS_TEST_UNPRIV="+tree)
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("unprivileged child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestHelperUnprivileged") {
		t.Fatalf("child did not run the helper:\n%s", out)
	}
}

// TestHelperUnprivileged is the child half of TestDirFallbackUnprivileged.
func TestHelperUnprivileged(t *testing.T) {
	tree := os.Getenv("CAPS_TEST_UNPRIV")
	if tree == "" {
		t.Skip("child-process helper")
	}
	if os.Geteuid() == 0 {
		t.Fatal("helper is running as root")
	}
	// Confirm the premise: the mount API really is refused here.
	if fd, err := unix.OpenTree(unix.AT_FDCWD, tree, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC); err == nil {
		unix.Close(fd)
		t.Skip("open_tree permitted without root here")
	} else if !errors.Is(err, unix.EPERM) {
		t.Fatalf("open_tree as nobody: %v, want EPERM", err)
	}

	var logs bytes.Buffer
	exo := NewExo(slog.New(slog.NewTextHandler(&logs, nil)))
	defer exo.Close()
	roID, err := exo.GrantDir("rootfs", tree, RightRead)
	if err != nil {
		t.Fatalf("GrantDir read-only without privilege: %v", err)
	}
	if !strings.Contains(logs.String(), "read-only is enforced only by the library OS") {
		t.Errorf("no warning about the missing host enforcement:\n%s", logs.String())
	}
	rwID, err := exo.GrantDir("data", tree, RightRead|RightWrite|RightGrant)
	if err != nil {
		t.Fatalf("GrantDir read-write without privilege: %v", err)
	}
	if !strings.Contains(logs.String(), "nosuid/nodev not enforced") {
		t.Errorf("no warning about nosuid/nodev:\n%s", logs.String())
	}
	// Attenuating rw -> ro falls back the same way instead of failing.
	if _, err := exo.Table().Attenuate(rwID, RightRead); err != nil {
		t.Errorf("attenuate without privilege: %v", err)
	}

	dir, _, err := exo.Table().Dup(roID, KindDir, RightRead)
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if got := readIn(t, dir, "../../file"); got != "data" {
		t.Errorf("read through fallback dir = %q", got)
	}
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
