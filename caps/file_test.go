package caps

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestGrantFileNarrows: a handle with fewer rights than its fd's access mode
// gets a reopened fd that really lacks them, at the same offset.
func TestGrantFileNarrows(t *testing.T) {
	log, audit := testLogger(t)
	exo := NewExo(log)
	defer exo.Close()
	p := filepath.Join(t.TempDir(), "log")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("0123456789"); err != nil {
		t.Fatal(err)
	}
	id, err := exo.GrantFile("stdout", f, RightWrite)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()

	w, _, err := exo.Table().Dup(id, KindFile, RightWrite)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if r, wr := accessOf(t, w); r || !wr {
		t.Errorf("granted fd read=%t write=%t, want write-only", r, wr)
	}
	if _, err := w.Read(make([]byte, 1)); err == nil {
		t.Error("read through a write-only grant succeeded")
	}
	// Appends where the original left off rather than clobbering from 0.
	if _, err := w.WriteString("AB"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "0123456789AB" {
		t.Errorf("file = %q", b)
	}
	if audit.count("caps: cannot narrow fd on the host; rights are enforced only by the library OS") != 0 {
		t.Error("regular file should narrow without a warning")
	}
}

// TestGrantFileSocketFallback: sockets cannot be reopened through procfs, so
// narrowing falls back to a dup and says so.
func TestGrantFileSocketFallback(t *testing.T) {
	log, audit := testLogger(t)
	exo := NewExo(log)
	defer exo.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer b.Close()
	id, err := exo.GrantFile("stdout", a, RightWrite)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if audit.count("caps: cannot narrow fd on the host; rights are enforced only by the library OS") != 1 {
		t.Error("socket narrowing fallback not logged")
	}
	w, _, err := exo.Table().Dup(id, KindFile, RightWrite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	exo.Close()
	buf := make([]byte, 2)
	if n, err := io.ReadAtLeast(b, buf, 1); n != 1 || err != nil {
		t.Errorf("peer read %d, %v", n, err)
	}
}

// TestAttenuateMemoryReadOnly covers memory handles derived through the
// table (exo-side code may grant a grantable memory handle via Insert): the
// derived memfd cannot be mapped writable.
func TestAttenuateMemoryReadOnly(t *testing.T) {
	tab := NewTable(quiet)
	defer tab.Close()
	f, size, err := NewMemory("m", pageSize)
	if err != nil {
		t.Fatal(err)
	}
	id, err := tab.Insert(KindMemory, RightRead|RightWrite|RightMap|RightGrant, "m", size, f)
	if err != nil {
		t.Fatal(err)
	}
	ro, err := tab.Attenuate(id, RightRead|RightMap)
	if err != nil {
		t.Fatal(err)
	}
	rf, info, err := tab.Dup(ro, KindMemory, RightMap)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	if info.Size != size {
		t.Errorf("derived size = %d", info.Size)
	}
	if _, err := unix.Mmap(fileFD(t, rf), 0, pageSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); !errors.Is(err, unix.EACCES) {
		t.Errorf("writable mapping of read-only memory = %v, want EACCES", err)
	}
	m, err := unix.Mmap(fileFD(t, rf), 0, pageSize, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("read-only mapping: %v", err)
	}
	unix.Munmap(m)
}
