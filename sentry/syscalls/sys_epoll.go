package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/epoll"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

func init() {
	register(SysEpollCreate, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if intArg(a[0]) <= 0 {
			return 0, unix.EINVAL
		}
		return epollCreate(t, 0)
	})
	register(SysEpollCreate1, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return epollCreate(t, intArg(a[0]))
	})
	register(SysEpollCtl, sysEpollCtl)
	register(SysEpollWait, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return epollWait(t, fdArg(a[0]), a[1], intArg(a[2]), timeoutMillis(intArg(a[3])))
	})
	register(SysEpollPwait, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return withSigmask(t, a[4], a[5], unix.EINTR, func() (uint64, error) {
			return epollWait(t, fdArg(a[0]), a[1], intArg(a[2]), timeoutMillis(intArg(a[3])))
		})
	})
	register(SysEpollPwait2, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		to := waitForever
		if a[3] != 0 {
			var err error
			if to, err = copyInTimespec(t, a[3]); err != nil {
				return 0, err
			}
		}
		return withSigmask(t, a[4], a[5], unix.EINTR, func() (uint64, error) {
			return epollWait(t, fdArg(a[0]), a[1], intArg(a[2]), to)
		})
	})
}

// epollEventSize is sizeof(struct epoll_event), packed on x86-64.
const epollEventSize = 12

// maxEpollEvents is EP_MAX_EVENTS.
const maxEpollEvents = (1<<31 - 1) / epollEventSize

func epollCreate(t *kernel.Task, flags int) (uint64, error) {
	if flags&^unix.EPOLL_CLOEXEC != 0 {
		return 0, unix.EINVAL
	}
	d := vfs.NewDescription(epoll.New(), "", unix.O_RDWR)
	return install(t, d, 0, flags&unix.EPOLL_CLOEXEC != 0)
}

func sysEpollCtl(t *kernel.Task, a [6]uint64) (uint64, error) {
	epfd, op, fd := fdArg(a[0]), intArg(a[1]), fdArg(a[2])
	var ev epoll.Event
	if op != epoll.CtlDel {
		var b [epollEventSize]byte
		if _, err := t.MM.CopyIn(a[3], b[:]); err != nil {
			return 0, unix.EFAULT
		}
		ev = epoll.Event{Events: binary.LittleEndian.Uint32(b[:]), Data: binary.LittleEndian.Uint64(b[4:])}
	}
	epd, err := t.FDs.Get(epfd)
	if err != nil {
		return 0, err
	}
	defer epd.DecRef()
	td, err := t.FDs.Get(fd)
	if err != nil {
		return 0, err
	}
	defer td.DecRef()
	w, ok := vfs.Waitable(td.File)
	if !ok {
		// Regular files and directories cannot be polled.
		return 0, unix.EPERM
	}
	ep, ok := vfs.Underlying(epd.File).(*epoll.Instance)
	if !ok || epd == td {
		return 0, unix.EINVAL
	}
	return 0, ep.Ctl(op, fd, td, w, ev)
}

// epollWait waits for events on the epoll instance at epfd and copies up to
// maxevents of them to addr. Like Linux it fails with EINTR, never
// restarted, when a signal interrupts the wait.
func epollWait(t *kernel.Task, epfd int, addr uint64, maxevents int, to timeout) (uint64, error) {
	if maxevents <= 0 || maxevents > maxEpollEvents {
		return 0, unix.EINVAL
	}
	// Harvest only as many events as the buffer can take, so none is
	// consumed and then lost to a fault.
	room := t.MM.Accessible(addr, maxevents*epollEventSize, mm.ProtWrite) / epollEventSize
	if room == 0 {
		return 0, unix.EFAULT
	}
	d, err := t.FDs.Get(epfd)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	ep, ok := vfs.Underlying(d.File).(*epoll.Instance)
	if !ok {
		return 0, unix.EINVAL
	}
	var e *waiter.Entry
	defer func() {
		if e != nil {
			ep.EventUnregister(e)
		}
	}()
	timedOut := false
	for {
		if evs := ep.Wait(room); len(evs) > 0 {
			b := make([]byte, len(evs)*epollEventSize)
			for i, ev := range evs {
				binary.LittleEndian.PutUint32(b[i*epollEventSize:], ev.Events)
				binary.LittleEndian.PutUint64(b[i*epollEventSize+4:], ev.Data)
			}
			if _, err := t.MM.CopyOut(addr, b); err != nil {
				return 0, unix.EFAULT
			}
			return uint64(len(evs)), nil
		}
		if to.zero || timedOut {
			return 0, nil
		}
		if e == nil {
			e = waiter.NewEntry(waiter.EventIn)
			ep.EventRegister(e)
			continue
		}
		switch err := t.Block(e.Ch, to.blockDeadline()); err {
		case nil:
		case unix.ETIMEDOUT:
			timedOut = true
		default:
			return 0, unix.EINTR
		}
	}
}
