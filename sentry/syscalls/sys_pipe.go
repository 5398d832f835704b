package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/pipe"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

func init() {
	register(SysPipe, func(t *kernel.Task, a [6]uint64) (uint64, error) { return pipe2(t, a[0], 0) })
	register(SysPipe2, func(t *kernel.Task, a [6]uint64) (uint64, error) { return pipe2(t, a[0], intArg(a[1])) })
}

// oNotificationPipe is O_NOTIFICATION_PIPE (watch_queue), which the
// library OS does not offer.
const oNotificationPipe = unix.O_EXCL

// pipe2 makes a pipe and puts its read and write ends at the two lowest
// free fds, in that order.
func pipe2(t *kernel.Task, addr uint64, flags int) (uint64, error) {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT|oNotificationPipe) != 0 {
		return 0, unix.EINVAL
	}
	if flags&oNotificationPipe != 0 {
		// Linux without CONFIG_WATCH_QUEUE.
		return 0, unix.EINVAL
	}
	if flags&unix.O_DIRECT != 0 {
		t.K.WarnOnce("pipe2:O_DIRECT", "pipe2 with O_DIRECT: packet mode is not implemented, the pipe is a byte stream")
	}
	c := t.Creds()
	r, w := pipe.NewPair(c.FSUID, c.FSGID)
	cloexec := flags&unix.O_CLOEXEC != 0
	// As on Linux, O_DIRECT (packet mode) is a flag of the write end only.
	rd := vfs.NewDescription(r, "", unix.O_RDONLY|flags&unix.O_NONBLOCK)
	wd := vfs.NewDescription(w, "", unix.O_WRONLY|flags&(unix.O_NONBLOCK|unix.O_DIRECT))
	rfd, err := t.FDs.Install(rd, 0, cloexec, t.NoFileLimit())
	if err != nil {
		rd.DecRef()
		wd.DecRef()
		return 0, err
	}
	wfd, err := t.FDs.Install(wd, 0, cloexec, t.NoFileLimit())
	if err != nil {
		t.FDs.Remove(rfd)
		wd.DecRef()
		return 0, err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], uint32(rfd))
	binary.LittleEndian.PutUint32(b[4:], uint32(wfd))
	if _, err := t.MM.CopyOut(addr, b[:]); err != nil {
		t.FDs.Remove(rfd)
		t.FDs.Remove(wfd)
		return 0, unix.EFAULT
	}
	return 0, nil
}
