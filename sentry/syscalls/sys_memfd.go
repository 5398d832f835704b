package syscalls

import (
	"errors"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

func init() {
	register(SysMemfdCreate, sysMemfdCreate)
}

const (
	// mfdFlags are the memfd_create flags Linux 6.x knows.
	mfdFlags = unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING | unix.MFD_HUGETLB | unix.MFD_NOEXEC_SEAL | unix.MFD_EXEC
	// mfdNameMax is the longest name: NAME_MAX less the "memfd:" the
	// kernel puts in front.
	mfdNameMax = 255 - len("memfd:")
)

// sysMemfdCreate makes an anonymous tmpfs file. As on Linux with
// vm.memfd_noexec at 0, a file asked for with neither MFD_EXEC nor
// MFD_NOEXEC_SEAL is executable (mode 0777); MFD_NOEXEC_SEAL makes it
// 0666 and sealed against becoming executable, and sealable. Huge pages
// are not offered: MFD_HUGETLB is EINVAL, as from a kernel whose
// hugetlbfs has no such page size.
func sysMemfdCreate(t *kernel.Task, a [6]uint64) (uint64, error) {
	flags := u32Arg(a[1])
	known := uint32(mfdFlags)
	if flags&unix.MFD_HUGETLB != 0 {
		// The page size may be encoded in the flags then.
		known |= unix.MFD_HUGE_MASK << unix.MFD_HUGE_SHIFT
	}
	if flags&^known != 0 || flags&(unix.MFD_EXEC|unix.MFD_NOEXEC_SEAL) == unix.MFD_EXEC|unix.MFD_NOEXEC_SEAL {
		return 0, unix.EINVAL
	}
	name, err := t.MM.CopyInString(a[0], mfdNameMax)
	if errors.Is(err, unix.ENAMETOOLONG) {
		return 0, unix.EINVAL
	}
	if err != nil {
		return 0, unix.EFAULT
	}
	if flags&unix.MFD_HUGETLB != 0 {
		t.K.WarnOnce("memfd-hugetlb", "memfd_create with MFD_HUGETLB is not supported: returning EINVAL")
		return 0, unix.EINVAL
	}
	mode, seals := uint32(0o777), uint32(tmpfs.SealSeal)
	switch {
	case flags&unix.MFD_NOEXEC_SEAL != 0:
		mode, seals = 0o666, tmpfs.SealExec
	case flags&unix.MFD_ALLOW_SEALING != 0:
		seals = 0
	}
	d, err := t.K.NewMemfd(name, mode, t.Cred(), seals)
	if err != nil {
		return 0, err
	}
	return install(t, d, 0, flags&unix.MFD_CLOEXEC != 0)
}

// sealer is an open file that has seals: a tmpfs file opened directly
// (not through the overlay, as Linux's overlayfs has none either).
type sealer interface {
	Seals() (uint32, error)
	AddSeals(seals uint32) error
}

// fcntlSeals serves F_ADD_SEALS and F_GET_SEALS, in Linux's order of
// checks: an O_PATH descriptor is EBADF, adding needs a file open for
// writing (EPERM), and a file without seals is EINVAL.
func fcntlSeals(d *vfs.FileDescription, cmd int, seals uint32) (uint64, error) {
	if d.Flags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	if cmd == unix.F_ADD_SEALS && d.Flags()&unix.O_ACCMODE == unix.O_RDONLY {
		return 0, unix.EPERM
	}
	s, ok := d.File.(sealer)
	if !ok {
		return 0, unix.EINVAL
	}
	if cmd == unix.F_GET_SEALS {
		v, err := s.Seals()
		return uint64(v), err
	}
	return 0, s.AddSeals(seals)
}
