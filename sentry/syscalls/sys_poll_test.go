package syscalls

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

// ioTask is a test task with helpers to run syscalls and reach its page.
type ioTask struct {
	tb   testing.TB
	t    *kernel.Task
	page uint64
}

func newIOTask(tb testing.TB) *ioTask {
	t, page := newTestTask(tb)
	x := &ioTask{tb, t, page}
	// The test task is the container's init, which is sent only the
	// signals it handles: give the ones the tests send a handler (an
	// address never run).
	act := x.put(4000, le64(0x1000, 0, 0, 0))
	for _, sig := range []unix.Signal{unix.SIGPIPE, unix.SIGUSR1} {
		x.ok(SysRtSigaction, uint64(sig), act, 0, 8)
	}
	return x
}

func (x *ioTask) call(nr uintptr, args ...uint64) int64 {
	var a [6]uint64
	copy(a[:], args)
	return Dispatch(x.t, nr, a)
}

// ok runs a syscall that must succeed.
func (x *ioTask) ok(nr uintptr, args ...uint64) uint64 {
	x.tb.Helper()
	r := x.call(nr, args...)
	if r < 0 {
		x.tb.Fatalf("%s%v = %v", Name(nr), args, unix.Errno(-r))
	}
	return uint64(r)
}

// fails runs a syscall that must fail with want.
func (x *ioTask) fails(want unix.Errno, nr uintptr, args ...uint64) {
	x.tb.Helper()
	if r := x.call(nr, args...); r != -int64(want) {
		x.tb.Fatalf("%s%v = %d, want %v", Name(nr), args, r, want)
	}
}

func (x *ioTask) put(off uint64, b []byte) uint64 {
	x.tb.Helper()
	if _, err := x.t.MM.CopyOut(x.page+off, b); err != nil {
		x.tb.Fatal(err)
	}
	return x.page + off
}

func (x *ioTask) get(off uint64, n int) []byte {
	b := make([]byte, n)
	x.t.MM.CopyIn(x.page+off, b)
	return b
}

func le64(vs ...uint64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

func (x *ioTask) pipe(flags int) (r, w uint64) {
	x.tb.Helper()
	x.ok(SysPipe2, x.page+4000, uint64(flags))
	b := x.get(4000, 8)
	return uint64(binary.LittleEndian.Uint32(b)), uint64(binary.LittleEndian.Uint32(b[4:]))
}

const scratch = 3000 // page offset the tests use for data buffers

func TestPipeSyscalls(t *testing.T) {
	x := newIOTask(t)
	r, w := x.pipe(unix.O_NONBLOCK | unix.O_CLOEXEC)
	if fl := x.ok(SysFcntl, r, unix.F_GETFL); fl != unix.O_RDONLY|unix.O_NONBLOCK {
		t.Fatalf("F_GETFL = %#x", fl)
	}
	if fd := x.ok(SysFcntl, w, unix.F_GETFD); fd != unix.FD_CLOEXEC {
		t.Fatalf("F_GETFD = %d", fd)
	}
	x.fails(unix.EAGAIN, SysRead, r, x.page+scratch, 10)
	x.fails(unix.EBADF, SysWrite, r, x.page, 1)
	// O_DIRECT is a flag of the write end only, and O_CLOEXEC of neither.
	dr, dw := x.pipe(unix.O_DIRECT | unix.O_CLOEXEC)
	if x.ok(SysFcntl, dr, unix.F_GETFL) != unix.O_RDONLY || x.ok(SysFcntl, dw, unix.F_GETFL) != unix.O_WRONLY|unix.O_DIRECT {
		t.Fatalf("O_DIRECT pipe flags %#x %#x", x.ok(SysFcntl, dr, unix.F_GETFL), x.ok(SysFcntl, dw, unix.F_GETFL))
	}
	x.fails(unix.EINVAL, SysPipe2, x.page, 0x1)
	x.fails(unix.EFAULT, SysPipe2, 0, 0)
	buf := x.put(scratch, []byte("hello"))
	if n := x.ok(SysWrite, w, buf, 5); n != 5 {
		t.Fatalf("write = %d", n)
	}
	if n := x.ok(SysRead, r, x.page+scratch+100, 100); n != 5 || string(x.get(scratch+100, 5)) != "hello" {
		t.Fatalf("read = %d %q", n, x.get(scratch+100, 5))
	}
	if sz := x.ok(SysFcntl, w, unix.F_GETPIPE_SZ); sz != 65536 {
		t.Fatalf("F_GETPIPE_SZ = %d", sz)
	}
	if sz := x.ok(SysFcntl, r, unix.F_SETPIPE_SZ, 5000); sz != 8192 {
		t.Fatalf("F_SETPIPE_SZ = %d", sz)
	}
	efd := x.ok(SysEventfd2, 0, 0)
	x.fails(unix.EBADF, SysFcntl, efd, unix.F_GETPIPE_SZ)

	// No reader: EPIPE and a SIGPIPE.
	x.ok(SysClose, r)
	x.fails(unix.EPIPE, SysWrite, w, buf, 5)
	if x.t.Pending()&(1<<(unix.SIGPIPE-1)) == 0 {
		t.Fatal("no SIGPIPE pending after EPIPE")
	}
}

func TestPipeBlockingRead(t *testing.T) {
	x := newIOTask(t)
	r, w := x.pipe(0)
	wd, err := x.t.FDs.Get(int(w))
	if err != nil {
		t.Fatal(err)
	}
	defer wd.DecRef()
	go func() {
		time.Sleep(30 * time.Millisecond)
		wd.File.Write([]byte("late"))
	}()
	start := time.Now()
	if n := x.ok(SysRead, r, x.page+scratch, 100); n != 4 || string(x.get(scratch, 4)) != "late" {
		t.Fatalf("read = %d", n)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("read did not wait for the writer")
	}
	// A blocking write larger than the pipe completes as the reader
	// drains it.
	rd, _ := x.t.FDs.Get(int(r))
	defer rd.DecRef()
	x.ok(SysFcntl, w, unix.F_SETPIPE_SZ, 4096)
	big := make([]byte, 3000)
	x.put(0, big)
	done := make(chan int)
	go func() {
		got, b := 0, make([]byte, 1000)
		for got < 9000 {
			n, err := rd.File.Read(b)
			if err == unix.EAGAIN {
				time.Sleep(time.Millisecond)
				continue
			}
			got += n
		}
		done <- got
	}()
	iov := x.put(scratch, le64(x.page, 3000, x.page, 3000, x.page, 3000))
	if n := x.ok(SysWritev, w, iov, 3); n != 9000 {
		t.Fatalf("writev = %d", n)
	}
	<-done
	// A pending signal interrupts a blocking read.
	x.t.SendSignal(x.t.SignalInfoUser(int(unix.SIGUSR1), 0))
	x.fails(kernel.ERestartSys, SysRead, r, x.page+scratch, 10)
}

func TestPoll(t *testing.T) {
	x := newIOTask(t)
	r, w := x.pipe(0)
	pfds := func(fds ...uint64) uint64 {
		b := make([]byte, 8*len(fds))
		for i, fd := range fds {
			binary.LittleEndian.PutUint32(b[8*i:], uint32(fd))
			binary.LittleEndian.PutUint16(b[8*i+4:], unix.POLLIN|unix.POLLOUT)
		}
		return x.put(scratch, b)
	}
	revents := func(i int) int16 { return int16(binary.LittleEndian.Uint16(x.get(scratch+uint64(8*i)+6, 2))) }
	addr := pfds(r, w, 999, ^uint64(0))
	if n := x.ok(SysPoll, addr, 4, 0); n != 2 {
		t.Fatalf("poll = %d", n)
	}
	if revents(0) != 0 || revents(1) != unix.POLLOUT || revents(2) != unix.POLLNVAL || revents(3) != 0 {
		t.Fatalf("revents = %#x %#x %#x %#x", revents(0), revents(1), revents(2), revents(3))
	}
	x.fails(unix.EINVAL, SysPoll, addr, 1<<20, 0)
	x.fails(unix.EFAULT, SysPoll, 8, 1, 0)

	// Waits for the timeout with nothing ready.
	addr = pfds(r)
	start := time.Now()
	if n := x.ok(SysPoll, addr, 1, 30); n != 0 {
		t.Fatalf("poll timed out with %d", n)
	}
	if time.Since(start) < 25*time.Millisecond {
		t.Fatal("poll returned before its timeout")
	}
	// Wakes when a writer writes.
	wd, _ := x.t.FDs.Get(int(w))
	defer wd.DecRef()
	go func() { time.Sleep(20 * time.Millisecond); wd.File.Write([]byte("x")) }()
	if n := x.ok(SysPoll, addr, 1, ^uint64(0)); n != 1 || revents(0) != unix.POLLIN {
		t.Fatalf("poll = %d revents %#x", n, revents(0))
	}
	// ppoll: the timespec is updated; with SIGUSR1 blocked by the
	// temporary mask a pending SIGUSR1 does not interrupt.
	x.ok(SysRead, r, x.page+3800, 10)
	ts := x.put(3900, le64(0, 20e6))
	mask := x.put(3950, le64(1<<(unix.SIGUSR1-1)))
	x.t.SendSignal(x.t.SignalInfoUser(int(unix.SIGUSR1), 0))
	if n := x.ok(SysPpoll, addr, 1, ts, mask, 8); n != 0 {
		t.Fatalf("ppoll = %d", n)
	}
	if left := x.get(3900, 16); binary.LittleEndian.Uint64(left) != 0 || binary.LittleEndian.Uint64(left[8:]) >= 20e6 {
		t.Fatalf("timespec left = %v", left)
	}
	if x.t.SignalMask() != 0 {
		t.Fatalf("mask not restored: %#x", x.t.SignalMask())
	}
	x.fails(unix.EINVAL, SysPpoll, addr, 1, ts, mask, 4)
	x.fails(unix.EINVAL, SysPpoll, addr, 1, x.put(3900, le64(0, 1e9)), 0, 0)
	// Without the mask, the pending signal interrupts poll.
	x.fails(kernel.ERestartNoHand, SysPoll, addr, 1, ^uint64(0))
}

func TestSelect(t *testing.T) {
	x := newIOTask(t)
	r, w := x.pipe(0)
	set := func(off uint64, fds ...uint64) uint64 {
		b := make([]byte, 128)
		for _, fd := range fds {
			b[fd/8] |= 1 << (fd % 8)
		}
		return x.put(off, b)
	}
	isSet := func(off, fd uint64) bool { return x.get(off, 128)[fd/8]&(1<<(fd%8)) != 0 }
	tv := x.put(3900, le64(0, 0))
	in, out := set(2000, r, w), set(2200, r, w)
	if n := x.ok(SysSelect, 1024, in, out, 0, tv); n != 1 || isSet(2000, r) || isSet(2000, w) || !isSet(2200, w) || isSet(2200, r) {
		t.Fatalf("select = %d", n)
	}
	x.fails(unix.EBADF, SysSelect, 1024, set(2000, 50), 0, 0, tv)
	// Bits past the fd table's max_fds (64 for a small table) are ignored.
	if n := x.ok(SysSelect, 1024, set(2000, 77), 0, 0, tv); n != 0 {
		t.Fatalf("select past max_fds = %d", n)
	}
	x.fails(unix.EINVAL, SysSelect, ^uint64(0), 0, 0, 0, tv)
	x.fails(unix.EINVAL, SysSelect, 10, 0, 0, 0, x.put(3900, le64(0, ^uint64(0))))
	// The timeval is updated; a usec over a second is folded in.
	tv = x.put(3900, le64(0, 1030000)) // 1.03 s
	wd, _ := x.t.FDs.Get(int(w))
	defer wd.DecRef()
	go func() { time.Sleep(20 * time.Millisecond); wd.File.Write([]byte("x")) }()
	if n := x.ok(SysSelect, r+1, set(2000, r), 0, 0, tv); n != 1 || !isSet(2000, r) {
		t.Fatalf("select = %d", n)
	}
	left := x.get(3900, 16)
	if s, us := binary.LittleEndian.Uint64(left), binary.LittleEndian.Uint64(left[8:]); s != 0 && s != 1 || s*1e6+us > 1020000 || s*1e6+us < 500000 {
		t.Fatalf("timeval left = %d.%06d", s, us)
	}
	// pselect6 with a regular file: always ready.
	fd := x.ok(SysOpen, x.put(3700, []byte("/file\x00")), unix.O_RDONLY)
	ts := x.put(3900, le64(5, 0))
	sig := x.put(3800, le64(x.page+3850, 8))
	x.put(3850, le64(0))
	if n := x.ok(SysPselect6, fd+1, set(2000, fd), set(2200, fd), 0, ts, sig); n != 2 {
		t.Fatalf("pselect6 on a regular file = %d", n)
	}
}

func TestEpollSyscalls(t *testing.T) {
	x := newIOTask(t)
	r, w := x.pipe(0)
	ep := x.ok(SysEpollCreate1, unix.EPOLL_CLOEXEC)
	if fl := x.ok(SysFcntl, ep, unix.F_GETFL); fl != unix.O_RDWR {
		t.Fatalf("epoll F_GETFL = %#x", fl)
	}
	x.fails(unix.EINVAL, SysEpollCreate1, 1)
	x.fails(unix.EINVAL, SysEpollCreate, 0)
	ev := func(events uint32, data uint64) uint64 {
		b := make([]byte, 12)
		binary.LittleEndian.PutUint32(b, events)
		binary.LittleEndian.PutUint64(b[4:], data)
		return x.put(3900, b)
	}
	x.ok(SysEpollCtl, ep, epoll_CTL_ADD, r, ev(unix.EPOLLIN, 0x1122334455667788))
	x.fails(unix.EEXIST, SysEpollCtl, ep, epoll_CTL_ADD, r, ev(unix.EPOLLIN, 0))
	x.fails(unix.EINVAL, SysEpollCtl, ep, epoll_CTL_ADD, ep, ev(unix.EPOLLIN, 0))
	x.fails(unix.EINVAL, SysEpollCtl, r, epoll_CTL_ADD, w, ev(unix.EPOLLIN, 0))
	x.fails(unix.EBADF, SysEpollCtl, ep, epoll_CTL_ADD, 99, ev(unix.EPOLLIN, 0))
	x.fails(unix.EFAULT, SysEpollCtl, ep, epoll_CTL_ADD, w, 8)
	x.fails(unix.ENOENT, SysEpollCtl, ep, epoll_CTL_DEL, w, 0)
	fd := x.ok(SysOpen, x.put(3700, []byte("/file\x00")), unix.O_RDONLY)
	x.fails(unix.EPERM, SysEpollCtl, ep, epoll_CTL_ADD, fd, ev(unix.EPOLLIN, 0))

	evs := x.page + scratch
	x.fails(unix.EINVAL, SysEpollWait, ep, evs, 0, 0)
	x.fails(unix.EFAULT, SysEpollWait, ep, 8, 1, 0)
	x.fails(unix.EINVAL, SysEpollWait, r, evs, 1, 0)
	if n := x.ok(SysEpollWait, ep, evs, 8, 0); n != 0 {
		t.Fatalf("epoll_wait on nothing = %d", n)
	}
	wd, _ := x.t.FDs.Get(int(w))
	defer wd.DecRef()
	go func() { time.Sleep(20 * time.Millisecond); wd.File.Write([]byte("x")) }()
	if n := x.ok(SysEpollWait, ep, evs, 8, ^uint64(0)); n != 1 {
		t.Fatalf("epoll_wait = %d", n)
	}
	got := x.get(scratch, 12)
	if binary.LittleEndian.Uint32(got) != unix.EPOLLIN || binary.LittleEndian.Uint64(got[4:]) != 0x1122334455667788 {
		t.Fatalf("event = %x", got)
	}
	// epoll_pwait2 with a timespec, after the event is consumed.
	x.ok(SysRead, r, x.page+3800, 10)
	start := time.Now()
	if n := x.ok(SysEpollPwait2, ep, evs, 8, x.put(3950, le64(0, 20e6)), 0, 0); n != 0 {
		t.Fatalf("epoll_pwait2 = %d", n)
	}
	if time.Since(start) < 15*time.Millisecond {
		t.Fatal("epoll_pwait2 returned before its timeout")
	}
	x.fails(unix.EINVAL, SysEpollPwait, ep, evs, 8, 0, x.page, 7)
	// Epoll fds can be polled.
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, uint32(ep))
	binary.LittleEndian.PutUint16(b[4:], unix.POLLIN)
	pfd := x.put(3600, b)
	if n := x.ok(SysPoll, pfd, 1, 0); n != 0 {
		t.Fatalf("poll of idle epoll = %d", n)
	}
	wd.File.Write([]byte("y"))
	if n := x.ok(SysPoll, pfd, 1, 0); n != 1 {
		t.Fatalf("poll of ready epoll = %d", n)
	}
	// A signal makes epoll_wait fail with EINTR.
	x.ok(SysRead, r, x.page+3800, 10)
	x.t.SendSignal(x.t.SignalInfoUser(int(unix.SIGUSR1), 0))
	x.fails(unix.EINTR, SysEpollWait, ep, evs, 8, ^uint64(0))
}

const (
	epoll_CTL_ADD = unix.EPOLL_CTL_ADD
	epoll_CTL_DEL = unix.EPOLL_CTL_DEL
)

func TestEventfdSyscalls(t *testing.T) {
	x := newIOTask(t)
	x.fails(unix.EINVAL, SysEventfd2, 0, 0x10)
	fd := x.ok(SysEventfd2, 5, unix.EFD_NONBLOCK|efdSemaphore)
	if fl := x.ok(SysFcntl, fd, unix.F_GETFL); fl != unix.O_RDWR|unix.O_NONBLOCK {
		t.Fatalf("F_GETFL = %#x", fl)
	}
	buf := x.page + scratch
	x.fails(unix.EINVAL, SysRead, fd, buf, 4)
	if n := x.ok(SysRead, fd, buf, 8); n != 8 || binary.LittleEndian.Uint64(x.get(scratch, 8)) != 1 {
		t.Fatalf("semaphore read = %d", n)
	}
	x.put(scratch, le64(^uint64(0)))
	x.fails(unix.EINVAL, SysWrite, fd, buf, 8)
	x.put(scratch, le64(^uint64(0)-1))
	x.fails(unix.EAGAIN, SysWrite, fd, buf, 8)
	// A blocking eventfd waits for a writer.
	bfd := x.ok(SysEventfd, 0)
	d, _ := x.t.FDs.Get(int(bfd))
	defer d.DecRef()
	go func() { time.Sleep(20 * time.Millisecond); d.File.Write(le64(7)) }()
	if n := x.ok(SysRead, bfd, buf, 8); n != 8 || binary.LittleEndian.Uint64(x.get(scratch, 8)) != 7 {
		t.Fatalf("blocking read = %d", n)
	}
}

func TestCloseRange(t *testing.T) {
	x := newIOTask(t)
	var fds []uint64
	for range 6 {
		fds = append(fds, x.ok(SysEventfd2, 0, 0))
	}
	x.fails(unix.EINVAL, SysCloseRange, 5, 4, 0)
	x.fails(unix.EINVAL, SysCloseRange, 0, 1, 1)
	x.ok(SysCloseRange, fds[1], fds[2], unix.CLOSE_RANGE_CLOEXEC)
	if x.ok(SysFcntl, fds[1], unix.F_GETFD) != unix.FD_CLOEXEC || x.ok(SysFcntl, fds[0], unix.F_GETFD) != 0 {
		t.Fatal("CLOSE_RANGE_CLOEXEC")
	}
	x.ok(SysCloseRange, fds[3], ^uint64(0)>>32, unix.CLOSE_RANGE_UNSHARE)
	x.fails(unix.EBADF, SysFcntl, fds[4], unix.F_GETFD)
	x.ok(SysFcntl, fds[2], unix.F_GETFD)
}

// The blocking handlers the fuzzer skips still answer garbage without a
// panic when the garbage cannot make them wait.
func TestPollFamilyWithGarbage(t *testing.T) {
	x := newIOTask(t)
	x.pipe(0)
	x.ok(SysEpollCreate1, 0)
	zero := x.page + 2048 // a zero timespec or timeval
	patterns := [][6]uint64{
		{},
		{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)},
		{1, 1, 1, 1, 1, 1},
		{x.page, x.page, 4096, x.page, x.page, x.page},
		{1 << 63, 1 << 47, 1 << 32, 1 << 31, 4095, 4097},
		{3, x.page, 1, 0, x.page, 8},
	}
	// Which argument is the timeout, and what makes it "do not wait".
	calls := []struct {
		nr       uintptr
		arg      int
		noWaitTo uint64
	}{
		{SysPoll, 2, 0}, {SysPpoll, 2, zero}, {SysSelect, 4, zero}, {SysPselect6, 4, zero},
		{SysEpollWait, 3, 0}, {SysEpollPwait, 3, 0}, {SysEpollPwait2, 3, zero},
	}
	for _, c := range calls {
		for _, p := range patterns {
			p[c.arg] = c.noWaitTo
			if ret := Dispatch(x.t, c.nr, p); ret == -int64(unix.EIO) {
				t.Errorf("%s%v = EIO", Name(c.nr), p)
			}
		}
	}
}
