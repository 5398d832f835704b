package syscalls

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/eventfd"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

func init() {
	register(SysEventfd, func(t *kernel.Task, a [6]uint64) (uint64, error) { return eventfd2(t, u32Arg(a[0]), 0) })
	register(SysEventfd2, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return eventfd2(t, u32Arg(a[0]), intArg(a[1]))
	})
}

// efdSemaphore is EFD_SEMAPHORE.
const efdSemaphore = 1

func eventfd2(t *kernel.Task, initval uint32, flags int) (uint64, error) {
	if flags&^(unix.EFD_CLOEXEC|unix.EFD_NONBLOCK|efdSemaphore) != 0 {
		return 0, unix.EINVAL
	}
	f := eventfd.New(uint64(initval), flags&efdSemaphore != 0)
	d := vfs.NewDescription(f, "", unix.O_RDWR|flags&unix.O_NONBLOCK)
	return install(t, d, 0, flags&unix.EFD_CLOEXEC != 0)
}
