package caps

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMemorySealedQuota(t *testing.T) {
	f, size, err := NewMemory("test-mem", 5000)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size != 8192 {
		t.Fatalf("size = %d, want 8192 (5000 rounded up to pages)", size)
	}
	fd := fileFD(t, f)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != size {
		t.Errorf("fstat size = %d, want %d", st.Size, size)
	}
	if !isCloexec(t, f) {
		t.Error("memfd is not close-on-exec")
	}
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if seals&quotaSeals != quotaSeals {
		t.Errorf("seals = %#x, want %#x set", seals, quotaSeals)
	}

	if err := unix.Ftruncate(fd, size+pageSize); !errors.Is(err, unix.EPERM) {
		t.Errorf("ftruncate grow = %v, want EPERM", err)
	}
	if err := unix.Ftruncate(fd, pageSize); !errors.Is(err, unix.EPERM) {
		t.Errorf("ftruncate shrink = %v, want EPERM", err)
	}
	if _, err := unix.Pwrite(fd, []byte("x"), size); !errors.Is(err, unix.EPERM) {
		t.Errorf("pwrite at end = %v, want EPERM", err)
	}
	// A write straddling the end is cut short at the quota.
	if n, err := unix.Pwrite(fd, []byte("xy"), size-1); n != 1 || err != nil {
		t.Errorf("pwrite across end = %d, %v; want 1, nil", n, err)
	}
	if err := unix.Fallocate(fd, 0, size, pageSize); !errors.Is(err, unix.EPERM) {
		t.Errorf("fallocate past end = %v, want EPERM", err)
	}
	// F_SEAL_SEAL: the seals cannot be changed, not even tightened.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_WRITE); !errors.Is(err, unix.EPERM) {
		t.Errorf("adding a seal = %v, want EPERM", err)
	}
	if err := unix.Fstat(fd, &st); err != nil || st.Size != size {
		t.Errorf("size after attempts = %d (%v), want %d", st.Size, err, size)
	}
}

// TestMemoryPunchHole checks the library OS's way of freeing pages still
// works on a sealed memfd, through a mapping as the sentry uses it.
func TestMemoryPunchHole(t *testing.T) {
	f, size, err := NewMemory("test-punch", 4*pageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := fileFD(t, f)
	m, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	for i := range m {
		m[i] = 0xAB
	}
	var before unix.Stat_t
	if err := unix.Fstat(fd, &before); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, pageSize, 2*pageSize); err != nil {
		t.Fatalf("punch hole in sealed memfd: %v", err)
	}
	var after unix.Stat_t
	if err := unix.Fstat(fd, &after); err != nil {
		t.Fatal(err)
	}
	if after.Size != size {
		t.Errorf("size after punch = %d, want %d", after.Size, size)
	}
	if after.Blocks >= before.Blocks {
		t.Errorf("blocks %d -> %d: punch freed nothing", before.Blocks, after.Blocks)
	}
	if !bytes.Equal(m[pageSize:3*pageSize], make([]byte, 2*pageSize)) {
		t.Error("punched range does not read as zeros")
	}
	if m[0] != 0xAB || m[3*pageSize] != 0xAB {
		t.Error("punch hole touched pages outside its range")
	}
	// Punched pages can be used again: the sentry reallocates them.
	m[pageSize] = 1
	buf := make([]byte, 1)
	if _, err := unix.Pread(fd, buf, pageSize); err != nil || buf[0] != 1 {
		t.Errorf("reuse after punch: %v %v", buf, err)
	}
}

// TestMemoryExecMappable: the sentry maps workload code from its memory, so
// MFD_NOEXEC_SEAL must not get in the way of PROT_EXEC mappings.
func TestMemoryExecMappable(t *testing.T) {
	f, _, err := NewMemory("test-exec", pageSize)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(fileFD(t, f), 0, pageSize, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_SHARED)
	if err != nil {
		t.Fatalf("mmap PROT_EXEC: %v", err)
	}
	unix.Munmap(m)
}

func TestMemoryBadArgs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		quota int64
	}{
		{"m", 0},
		{"m", -1},
		{"m", math.MaxInt64},
		{"", pageSize},
		{string(bytes.Repeat([]byte("n"), maxMemfdName+1)), pageSize},
	} {
		if f, _, err := NewMemory(tc.name, tc.quota); !errors.Is(err, ErrInvalid) {
			if f != nil {
				f.Close()
			}
			t.Errorf("NewMemory(%.10q, %d) = %v, want ErrInvalid", tc.name, tc.quota, err)
		}
	}
}

// TestResidentCountsTouchedPages: Resident is what the host holds of a
// memory file, whatever its size: touched pages, less punched ones.
func TestResidentCountsTouchedPages(t *testing.T) {
	f, size, err := NewMemory("resident", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, err := Resident(f); err != nil || n != 0 {
		t.Fatalf("fresh memory: Resident = %d, %v; want 0", n, err)
	}
	if _, err := f.WriteAt(make([]byte, 3*pageSize), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{1}, size-1); err != nil {
		t.Fatal(err)
	}
	if n, _ := Resident(f); n != 4*pageSize {
		t.Errorf("after touching 4 pages: Resident = %d, want %d", n, 4*pageSize)
	}
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, 2*pageSize); err != nil {
		t.Fatal(err)
	}
	if n, _ := Resident(f); n != 2*pageSize {
		t.Errorf("after punching 2 pages: Resident = %d, want %d", n, 2*pageSize)
	}
}
