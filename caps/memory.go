package caps

import (
	"errors"
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

const pageSize = 4096

// maxMemfdName leaves room for the kernel's "memfd:" prefix within NAME_MAX.
const maxMemfdName = 249

// quotaSeals fix the memfd's size. The library OS still frees pages by
// punching holes (that needs no write seal), but nobody holding the fd, the
// sentry included, can grow it: the host kernel enforces the quota.
const quotaSeals = unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL

// NewMemory creates a sealed memfd of quota bytes rounded up to whole pages
// and returns it with its size. The fd is close-on-exec; the caller owns it.
//
// Pages are charged to the memory cgroup of whoever faults them in (the
// sentry or its stubs), so the seal caps the size of the sentry's memory while
// the container's cgroup still accounts for its use.
func NewMemory(name string, quota int64) (*os.File, int64, error) {
	if name == "" || len(name) > maxMemfdName {
		return nil, 0, fmt.Errorf("caps: memory name %q: length must be 1..%d: %w", name, maxMemfdName, ErrInvalid)
	}
	if quota <= 0 || quota > math.MaxInt64-(pageSize-1) {
		return nil, 0, fmt.Errorf("caps: memory %q: quota %d: %w", name, quota, ErrInvalid)
	}
	size := (quota + pageSize - 1) &^ (pageSize - 1)

	// MFD_NOEXEC_SEAL (Linux 6.3+) keeps the memfd from being execve'd as a
	// host binary and silences the kernel's warning about memfds without an
	// exec policy; mmap(PROT_EXEC), which the sentry needs for workload code,
	// is unaffected. Older kernels reject the flag with EINVAL.
	const base = unix.MFD_ALLOW_SEALING | unix.MFD_CLOEXEC
	fd, err := unix.MemfdCreate(name, base|unix.MFD_NOEXEC_SEAL)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(name, base)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("caps: memory %q: memfd_create: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := sealMemory(fd, size); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("caps: memory %q (%d bytes): %w", name, size, err)
	}
	return f, size, nil
}

func sealMemory(fd int, size int64) error {
	if err := unix.Ftruncate(fd, size); err != nil {
		return fmt.Errorf("ftruncate: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, quotaSeals); err != nil {
		return fmt.Errorf("add seals: %w", err)
	}
	// The quota is the whole point of this handle; read the seals back rather
	// than trust that F_ADD_SEALS did what it said.
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return fmt.Errorf("get seals: %w", err)
	}
	if seals&quotaSeals != quotaSeals {
		return fmt.Errorf("seals %#x lack %#x", seals, quotaSeals)
	}
	return nil
}

// Resident is how many bytes of memory file f the host holds: the pages
// its holders have touched and not punched out. exo reads it to check a
// sentry's real use against a quota that is below the memfd's size,
// without taking the sentry's word for it.
func Resident(f *os.File) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("caps: memory: fstat: %w", err)
	}
	return st.Blocks * 512, nil
}
