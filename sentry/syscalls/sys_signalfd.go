package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

func init() {
	register(SysSignalfd, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return signalfd4(t, fdArg(a[0]), a[1], a[2], 0)
	})
	register(SysSignalfd4, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return signalfd4(t, fdArg(a[0]), a[1], a[2], intArg(a[3]))
	})
}

// signalfd4 makes a signalfd of the signals in the sigset at maskAddr, or
// with fd not -1 changes the mask of the signalfd fd.
func signalfd4(t *kernel.Task, fd int, maskAddr, size uint64, flags int) (uint64, error) {
	if flags&^(unix.SFD_CLOEXEC|unix.SFD_NONBLOCK) != 0 || size != 8 {
		return 0, unix.EINVAL
	}
	var b [8]byte
	if _, err := t.MM.CopyIn(maskAddr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	mask := binary.LittleEndian.Uint64(b[:])
	if fd != -1 {
		d, err := t.FDs.Get(fd)
		if err != nil {
			return 0, err
		}
		defer d.DecRef()
		f, ok := d.File.(*kernel.SignalFD)
		if !ok {
			return 0, unix.EINVAL
		}
		f.SetMask(mask)
		return uint64(fd), nil
	}
	d := vfs.NewDescription(kernel.NewSignalFD(t, mask), "", unix.O_RDWR|flags&unix.O_NONBLOCK)
	return install(t, d, 0, flags&unix.SFD_CLOEXEC != 0)
}
