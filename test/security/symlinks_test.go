package security

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"exokernelul.dev/exo/test/internal/harness"
)

// TestSymlinksStayInRootfs: symlinks and ".." chains inside a --rootfs
// directory that point outside it (escape -> /, link -> ../../../../etc,
// up -> ../SIBLING, an absolute link to the secret's host directory, a
// directory symlink loop, self -> .) resolve inside the rootfs, as they do
// for a process chroot'ed into it on the host: testdata/symlinks.c reads
// the decoys planted where each path lands inside the rootfs, never the
// secret file next to it on the host, and gets ENOENT or ELOOP where the
// rootfs has nothing. The native run in a chroot and the sandboxed run
// must print the same.
func TestSymlinksStayInRootfs(t *testing.T) {
	t.Parallel()
	rt, bin := setup(t, "symlinks")
	parent, err := os.MkdirTemp(suite.Dir, "symlinks-")
	if err != nil {
		t.Fatal(err)
	}
	token := make([]byte, 16)
	rand.Read(token)
	secretText := "EXO-SECRET-" + hex.EncodeToString(token) + "\n"
	secretDirName := "secret-" + hex.EncodeToString(token[:4])
	secretDir := filepath.Join(parent, secretDirName)
	secret := filepath.Join(secretDir, "secret.txt")
	rootfs := filepath.Join(parent, "rootfs")
	mkdir := func(p string) {
		t.Helper()
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, data string) {
		t.Helper()
		mkdir(filepath.Dir(p))
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(rootfs, name)); err != nil {
			t.Fatal(err)
		}
	}
	write(secret, secretText)
	mkdir(rootfs)
	for _, d := range []string{parent, secretDir, rootfs} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := harness.CopyExecutable(bin, filepath.Join(rootfs, "symlinks")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(rootfs, "etc", "marker"), "inside-etc\n")
	write(filepath.Join(rootfs, secretDirName, "secret.txt"), "decoy-sibling\n")
	write(filepath.Join(rootfs, secret), "decoy-abs\n")
	mkdir(filepath.Join(rootfs, "deep", "a"))
	link("/", "escape")
	link("../../../../etc", "link")
	link("../"+secretDirName, "up")
	link(secretDir, "abs")
	link("loopb", "loopa")
	link("loopa", "loopb")
	link(".", "self")
	link("../../..", "deep/a/b")

	argv := []string{"/symlinks", secret, secretDirName}
	var native *harness.Result
	if _, err := exec.LookPath("chroot"); err == nil {
		native = harness.Native(t, append([]string{"chroot", rootfs}, argv...)...)
		if native.ExitCode != 0 {
			t.Fatalf("in a chroot on the host the program fails, so the test is at fault:\n%s", native)
		}
	}
	r := rt.Do(t, harness.DoOpts{Rootfs: rootfs}, argv...)
	noPanic(t, r)
	for _, out := range [][]byte{r.Stdout, r.Stderr} {
		if bytes.Contains(out, []byte(strings.TrimSpace(secretText))) {
			t.Errorf("the secret's contents came out of the sandbox\n%s", r)
		}
	}
	switch r.ExitCode {
	case 0:
	case 3:
		t.Fatalf("the workload could not read /etc/marker from its --rootfs %s, so nothing is shown\n%s", rootfs, r)
	default:
		t.Errorf("a path left the rootfs, or resolved differently from Linux\n%s", r)
	}
	if native != nil {
		if d := harness.FirstDifference("chroot", native.Stdout, "sandbox", r.Stdout); d != "" {
			t.Errorf("the sandbox resolves differently from a chroot on the host: %s\n=== chroot\n%s=== sandboxed\n%s", d, native, r)
		}
	}
	if data, err := os.ReadFile(secret); err != nil || string(data) != secretText {
		t.Errorf("the secret file changed: %q, %v", data, err)
	}
}
