package syscalls

import (
	"encoding/binary"
	"math/rand"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

// cstrAt puts a NUL-terminated string in the task's page.
func (x *ioTask) cstrAt(off uint64, s string) uint64 { return x.put(off, append([]byte(s), 0)) }

// readFD reads up to n bytes of fd through the task.
func (x *ioTask) readFD(fd uint64, n int) string {
	x.tb.Helper()
	got := x.ok(SysRead, fd, x.page+scratch, uint64(n))
	return string(x.get(scratch, int(got)))
}

func TestSpliceFileAndPipes(t *testing.T) {
	x := newIOTask(t)
	file := x.ok(SysOpen, x.cstrAt(2000, "/file"), unix.O_RDONLY)
	r, w := x.pipe(0)

	// From the file at an offset: the offset moves, the position stays.
	off := x.put(2100, le64(3))
	if n := x.ok(SysSplice, file, off, w, 0, 100, 0); n != 5 {
		t.Fatalf("splice file to pipe = %d, want 5", n)
	}
	if got := binary.LittleEndian.Uint64(x.get(2100, 8)); got != 8 {
		t.Fatalf("offset after splice = %d, want 8", got)
	}
	if pos := x.ok(SysLseek, file, 0, unix.SEEK_CUR); pos != 0 {
		t.Fatalf("file position moved to %d", pos)
	}
	// At the file's position: it moves.
	if n := x.ok(SysSplice, file, 0, w, 0, 2, 0); n != 2 {
		t.Fatalf("splice without offset = %d", n)
	}
	if pos := x.ok(SysLseek, file, 0, unix.SEEK_CUR); pos != 2 {
		t.Fatalf("file position = %d, want 2", pos)
	}

	// tee copies without consuming; splice moves.
	r2, w2 := x.pipe(0)
	if n := x.ok(SysTee, r, w2, 3, 0); n != 3 {
		t.Fatalf("tee = %d", n)
	}
	if n := x.ok(SysSplice, r, 0, w2, 0, 100, 0); n != 7 {
		t.Fatalf("splice pipe to pipe = %d", n)
	}
	if got := x.readFD(r2, 100); got != "tententsco" {
		t.Fatalf("second pipe holds %q", got)
	}

	// vmsplice both ways.
	iov := x.put(2200, le64(x.page+2300, 3, x.page+2400, 2))
	x.put(2300, []byte("abc"))
	x.put(2400, []byte("de"))
	if n := x.ok(SysVmsplice, w, iov, 2, 0); n != 5 {
		t.Fatalf("vmsplice to pipe = %d", n)
	}
	x.put(2300, []byte("..."))
	x.put(2400, []byte(".."))
	if n := x.ok(SysVmsplice, r, iov, 2, 0); n != 5 || string(x.get(2300, 3))+string(x.get(2400, 2)) != "abcde" {
		t.Fatalf("vmsplice from pipe = %d: %q %q", n, x.get(2300, 3), x.get(2400, 2))
	}

	// Errors.
	efd := x.ok(SysEventfd2, 0, 0)
	x.fails(unix.EINVAL, SysSplice, file, 0, efd, 0, 10, 0)
	x.fails(unix.EBADF, SysSplice, file, 0, file, 0, 10, 0)
	x.fails(unix.ESPIPE, SysSplice, r, off, w2, 0, 10, 0)
	x.fails(unix.EINVAL, SysSplice, r, 0, w, 0, 10, 0)
	x.fails(unix.EBADF, SysSplice, w, 0, w2, 0, 10, 0)
	x.fails(unix.EAGAIN, SysSplice, r, 0, w2, 0, 10, spliceFNonblock)
	x.fails(unix.EINVAL, SysSplice, r, 0, w2, 0, 10, 0x100)
	if n := x.ok(SysSplice, r, 0, w2, 0, 0, 0x100); n != 0 {
		t.Fatalf("splice of 0 bytes = %d", n)
	}
	x.fails(unix.EINVAL, SysTee, r, w2, 0, 0x100)
	x.fails(unix.EINVAL, SysTee, file, w2, 10, 0)
	x.fails(unix.EAGAIN, SysTee, r, w2, 10, spliceFNonblock)
	x.fails(unix.EBADF, SysVmsplice, file, iov, 2, 0)
	x.fails(unix.EINVAL, SysVmsplice, w, iov, 2000, 0)
	x.fails(unix.EFAULT, SysVmsplice, w, 8, 1, 0)
	x.fails(unix.EAGAIN, SysVmsplice, r, iov, 2, spliceFNonblock)

	// No reader: EPIPE and SIGPIPE.
	x.ok(SysClose, r2)
	x.fails(unix.EPIPE, SysSplice, file, 0, w2, 0, 10, 0)
	if x.t.Pending()&(1<<(unix.SIGPIPE-1)) == 0 {
		t.Fatal("no SIGPIPE pending after EPIPE")
	}
	// No writer: end of file.
	x.ok(SysClose, w)
	_, w3 := x.pipe(0)
	if n := x.ok(SysTee, r, w3, 10, 0); n != 0 {
		t.Fatalf("tee at EOF = %d", n)
	}
}

func TestSpliceBlocksAndIsInterrupted(t *testing.T) {
	x := newIOTask(t)
	r, w := x.pipe(0)
	r2, w2 := x.pipe(0)
	wd, err := x.t.FDs.Get(int(w))
	if err != nil {
		t.Fatal(err)
	}
	defer wd.DecRef()
	go func() {
		time.Sleep(30 * time.Millisecond)
		wd.File.Write([]byte("late"))
	}()
	if n := x.ok(SysSplice, r, 0, w2, 0, 100, 0); n != 4 {
		t.Fatalf("blocking splice = %d", n)
	}
	if got := x.readFD(r2, 10); got != "late" {
		t.Fatalf("read %q", got)
	}
	x.t.SendSignal(x.t.SignalInfoUser(int(unix.SIGUSR1), 0))
	x.fails(kernel.ERestartSys, SysTee, r, w2, 10, 0)
}

func TestCopyFileRange(t *testing.T) {
	x := newIOTask(t)
	// A file of the read-only host directory, and a tmpfs to write in.
	lower := x.ok(SysOpen, x.cstrAt(2000, "/file"), unix.O_RDONLY)
	if _, err := x.t.K.Mounts.Attach("/tmp", tmpfs.New(x.t.K.Memory, tmpfs.Options{}), vfs.MountOptions{}); err != nil {
		t.Fatal(err)
	}
	src := x.ok(SysOpen, x.cstrAt(2000, "/tmp/src"), unix.O_RDWR|unix.O_CREAT, 0o644)
	x.ok(SysWrite, src, x.put(scratch, []byte("0123456789")), 10)
	dst := x.ok(SysOpen, x.cstrAt(2000, "/tmp/dst"), unix.O_RDWR|unix.O_CREAT, 0o644)

	offs := x.put(2300, le64(2, 1))
	if n := x.ok(SysCopyFileRange, src, x.page+2300, dst, x.page+2308, 100, 0); n != 8 {
		t.Fatalf("copy_file_range = %d, want 8 (to the end of the source)", n)
	}
	if in, out := binary.LittleEndian.Uint64(x.get(2300, 8)), binary.LittleEndian.Uint64(x.get(2308, 8)); in != 10 || out != 9 {
		t.Fatalf("offsets after copy: %d %d, want 10 9", in, out)
	}
	if n := x.ok(SysPread64, dst, x.page+scratch, 100, 0); n != 9 || string(x.get(scratch, 9)) != "\x0023456789" {
		t.Fatalf("destination = %q", x.get(scratch, int(n)))
	}
	if n := x.ok(SysCopyFileRange, src, offs, dst, offs+8, 100, 0); n != 0 {
		t.Fatalf("copy at the source's end = %d", n)
	}
	// Without offsets the positions move.
	x.ok(SysLseek, src, 4, unix.SEEK_SET)
	x.ok(SysLseek, dst, 0, unix.SEEK_SET)
	if n := x.ok(SysCopyFileRange, src, 0, dst, 0, 3, 0); n != 3 {
		t.Fatalf("copy at positions = %d", n)
	}
	if a, b := x.ok(SysLseek, src, 0, unix.SEEK_CUR), x.ok(SysLseek, dst, 0, unix.SEEK_CUR); a != 7 || b != 3 {
		t.Fatalf("positions %d %d, want 7 3", a, b)
	}

	// From the host directory into tmpfs: across file systems, EXDEV as
	// Linux since 5.19, even for nothing to copy.
	x.put(2300, le64(0, 0))
	x.fails(unix.EXDEV, SysCopyFileRange, lower, offs, src, offs+8, 3, 0)
	x.fails(unix.EXDEV, SysCopyFileRange, lower, offs, src, offs+8, 0, 0)

	dir := x.ok(SysOpen, x.cstrAt(2000, "/tmp"), unix.O_RDONLY|unix.O_DIRECTORY)
	r, _ := x.pipe(0)
	ro := x.ok(SysOpen, x.cstrAt(2000, "/tmp/dst"), unix.O_RDONLY)
	app := x.ok(SysOpen, x.cstrAt(2000, "/tmp/dst"), unix.O_WRONLY|unix.O_APPEND)
	x.put(2300, le64(0, 5))
	x.fails(unix.EINVAL, SysCopyFileRange, src, offs, src, offs+8, 100, 0)
	x.fails(unix.EINVAL, SysCopyFileRange, src, 0, dst, 0, 1, 1)
	x.fails(unix.EISDIR, SysCopyFileRange, dir, 0, dst, 0, 1, 0)
	x.fails(unix.EINVAL, SysCopyFileRange, r, 0, dst, 0, 1, 0)
	x.fails(unix.EBADF, SysCopyFileRange, src, 0, ro, 0, 1, 0)
	x.fails(unix.EBADF, SysCopyFileRange, src, 0, app, 0, 1, 0)
	x.fails(unix.EBADF, SysCopyFileRange, 999, 0, dst, 0, 1, 0)
	x.fails(unix.EFAULT, SysCopyFileRange, src, 8, dst, 0, 1, 0)
	// Linux checks for a wrap in unsigned arithmetic first: -1 wraps,
	// -5 is only negative.
	x.put(2300, le64(^uint64(0), 0))
	x.fails(unix.EOVERFLOW, SysCopyFileRange, src, offs, dst, offs+8, 1, 0)
	x.put(2300, le64(^uint64(4), 0))
	x.fails(unix.EINVAL, SysCopyFileRange, src, offs, dst, offs+8, 1, 0)
}

// TestSpliceGarbage drives the splice family with random arguments over
// real pipes and files; as in the dispatch fuzzer, every call must end
// with a result or an errno. The pipes are non-blocking and vmsplice is
// told SPLICE_F_NONBLOCK, so no call may wait.
func TestSpliceGarbage(t *testing.T) {
	x := newIOTask(t)
	fds := []uint64{^uint64(0), 999}
	for range 3 {
		r, w := x.pipe(unix.O_NONBLOCK)
		fds = append(fds, r, w)
	}
	fds = append(fds, x.ok(SysOpen, x.cstrAt(2000, "/file"), unix.O_RDONLY))
	fds = append(fds, x.ok(SysOpen, x.cstrAt(2000, "/"), unix.O_RDONLY|unix.O_DIRECTORY))
	fds = append(fds, x.ok(SysOpen, x.cstrAt(2000, "/file"), unix.O_PATH))
	x.put(2300, le64(x.page+2400, 50, x.page+2400, 1<<40))
	rng := rand.New(rand.NewSource(1))
	arg := func() uint64 {
		switch rng.Intn(5) {
		case 0:
			return 0
		case 1:
			return x.page + uint64(rng.Intn(4096))
		case 2:
			return uint64(rng.Intn(200))
		case 3:
			return rng.Uint64()
		default:
			return fds[rng.Intn(len(fds))]
		}
	}
	fd := func() uint64 { return fds[rng.Intn(len(fds))] }
	for i := range 5000 {
		var nr uintptr
		var a [6]uint64
		switch i % 4 {
		case 0:
			nr, a = SysSplice, [6]uint64{fd(), arg(), fd(), arg(), arg(), arg() & 0x1f}
		case 1:
			nr, a = SysTee, [6]uint64{fd(), fd(), arg(), arg() & 0x1f}
		case 2:
			nr, a = SysVmsplice, [6]uint64{fd(), x.page + 2300, uint64(rng.Intn(3)), arg()&0x1d | spliceFNonblock}
		case 3:
			nr, a = SysCopyFileRange, [6]uint64{fd(), arg(), fd(), arg(), arg(), arg() & 1}
		}
		if ret := Dispatch(x.t, nr, a); ret == -int64(unix.EIO) {
			t.Fatalf("%s%v = EIO", Name(nr), a)
		}
	}
}
