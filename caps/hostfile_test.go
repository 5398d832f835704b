package caps

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGrantHostFile: a bind-mount source file is granted with the access
// its rights say; a read-only one cannot be chmodded through the fd
// either, and anything but a regular file is refused.
func TestGrantHostFile(t *testing.T) {
	needRoot(t)
	log, _ := testLogger(t)
	exo := NewExo(log)
	defer exo.Close()
	dir := t.TempDir()
	p := filepath.Join(dir, "hosts")
	if err := os.WriteFile(p, []byte("127.0.0.1 localhost\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	rw, err := exo.GrantHostFile("rw", p, RightRead|RightWrite)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := exo.Table().Dup(rw, KindFile, RightRead|RightWrite)
	if err != nil {
		t.Fatal(err)
	}
	if r, w := accessOf(t, f); !r || !w {
		t.Errorf("rw grant read=%t write=%t", r, w)
	}
	if _, err := f.WriteAt([]byte("10"), 0); err != nil {
		t.Errorf("write through rw grant: %v", err)
	}
	f.Close()
	if b, _ := os.ReadFile(p); string(b[:2]) != "10" {
		t.Errorf("host file = %q, want the write", b)
	}

	ro, err := exo.GrantHostFile("ro", p, RightRead)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err = exo.Table().Dup(ro, KindFile, RightRead)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r, w := accessOf(t, f); !r || w {
		t.Errorf("ro grant read=%t write=%t", r, w)
	}
	if err := unix.Fchmod(fileFD(t, f), 0o777); !errors.Is(err, unix.EROFS) {
		t.Errorf("fchmod through ro grant = %v, want EROFS", err)
	}

	if _, err := exo.GrantHostFile("dir", dir, RightRead); !errors.Is(err, ErrInvalid) {
		t.Errorf("grant of a directory = %v, want ErrInvalid", err)
	}
	if _, err := exo.GrantHostFile("null", "/dev/null", RightRead); !errors.Is(err, ErrInvalid) {
		t.Errorf("grant of a device = %v, want ErrInvalid", err)
	}
	if _, err := exo.GrantHostFile("none", filepath.Join(dir, "none"), RightRead); !errors.Is(err, unix.ENOENT) {
		t.Errorf("grant of a missing file = %v, want ENOENT", err)
	}
}
