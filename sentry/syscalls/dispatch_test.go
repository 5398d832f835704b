package syscalls

import (
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/dirfs"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

type nopHost struct{}

func (nopHost) MapFile(addr, length, offset uint64, prot mm.Prot) error { return nil }
func (nopHost) Unmap(addr, length uint64) error                         { return nil }
func (nopHost) Protect(addr, length uint64, prot mm.Prot) error         { return nil }
func (nopHost) Release()                                                {}
func (nopHost) CPUTime() time.Duration                                  { return 0 }

// tinyELF is a minimal static x86-64 executable (its code is never run
// here; the task is only dispatched to).
func tinyELF() []byte {
	img := make([]byte, 0x80)
	le := binary.LittleEndian
	copy(img, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(img[16:], 2)
	le.PutUint16(img[18:], 0x3e)
	le.PutUint32(img[20:], 1)
	le.PutUint64(img[24:], 0x400078)
	le.PutUint64(img[32:], 64)
	le.PutUint16(img[52:], 64)
	le.PutUint16(img[54:], 56)
	le.PutUint16(img[56:], 1)
	ph := img[64:]
	le.PutUint32(ph[0:], 1)
	le.PutUint32(ph[4:], 5)
	le.PutUint64(ph[16:], 0x400000)
	le.PutUint64(ph[24:], 0x400000)
	le.PutUint64(ph[32:], 0x80)
	le.PutUint64(ph[40:], 0x80)
	le.PutUint64(ph[48:], 0x1000)
	img[0x78] = 0xcc
	return img
}

// newTestTask builds a task over a small memory quota and a temporary
// read-only rootfs, with one writable page at the returned address.
func newTestTask(t testing.TB) (*kernel.Task, uint64) {
	t.Helper()
	fd, err := unix.MemfdCreate("dispatch-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "mem")
	t.Cleanup(func() { f.Close() })
	f.Truncate(16 << 20)
	mem, err := mm.NewMemoryFile(f, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), []byte("contents"), 0o644)
	os.Symlink("/file", filepath.Join(dir, "link"))
	os.WriteFile(filepath.Join(dir, "prog"), tinyELF(), 0o755)
	os.Mkdir(filepath.Join(dir, "tmp"), 0o755) // a mount point for tests
	root, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	mounts := vfs.NewMountTable(dirfs.New(int(root.Fd()), false), vfs.MountOptions{ReadOnly: true})
	k := kernel.New(kernel.Config{
		Memory:          mem,
		Mounts:          mounts,
		Log:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		NewAddressSpace: func(string) (kernel.HostAddressSpace, error) { return nopHost{}, nil },
		StartTask:       func(*kernel.Task) {},
	})
	task, err := k.NewInitTask(kernel.InitSpec{Argv: []string{"/prog"}})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := task.MM.Map(mm.MapOpts{Length: 4096, Prot: mm.ProtRead | mm.ProtWrite})
	if err != nil {
		t.Fatal(err)
	}
	return task, addr
}

// blocking syscalls would hang the fuzzer on valid arguments, and exit
// ends the task; everything else must answer any arguments with a result
// or an errno, never a panic (a panic is turned into EIO and logged, which
// the fuzzer also rejects).
var skipFuzz = map[uintptr]bool{
	SysNanosleep: true, SysClockNanosleep: true, SysFutex: true,
	SysExit: true, SysExitGroup: true,
	// Waiting for signals or children, which never come here: the test's
	// tasks do not run, so a wait on them would never end.
	SysPause: true, SysRtSigsuspend: true, SysRtSigtimedwait: true,
	SysWait4: true, SysWaitid: true,
	// Process creation starts tasks and address spaces this harness has
	// no platform for; clone and exec are covered by the C tests.
	SysClone: true, SysClone3: true, SysFork: true, SysVfork: true,
	SysExecve: true, SysExecveat: true,
	// Waiting for readiness with a timeout the garbage may make infinite
	// (sys_poll_test.go drives these with bounded timeouts).
	SysPoll: true, SysPpoll: true, SysSelect: true, SysPselect6: true,
	SysEpollWait: true, SysEpollPwait: true, SysEpollPwait2: true,
}

func FuzzDispatch(f *testing.F) {
	f.Add(uint16(SysRead), uint64(0), uint64(0x10000), uint64(10), uint64(0), uint8(1))
	f.Add(uint16(SysOpenat), uint64(0xffffff9c), uint64(1), uint64(0), uint64(0), uint8(0))
	f.Add(uint16(SysMmap), uint64(0), uint64(1<<40), uint64(3), uint64(0x22), uint8(2))
	f.Add(uint16(SysMprotect), uint64(0x7000), uint64(^uint64(0)), uint64(7), uint64(0), uint8(3))
	f.Add(uint16(SysMremap), uint64(0), uint64(4096), uint64(1<<50), uint64(1), uint8(0))
	f.Add(uint16(SysWritev), uint64(1), uint64(0), uint64(1024), uint64(0), uint8(0))
	f.Add(uint16(SysMemfdCreate), uint64(0), uint64(0x1f), uint64(0), uint64(0), uint8(1))
	f.Fuzz(func(t *testing.T, nr16 uint16, a0, a1, a2, a3 uint64, useBuf uint8) {
		nr := uintptr(nr16) % MaxSyscall
		if skipFuzz[nr] || !Implemented(nr) {
			return
		}
		task, page := newTestTask(t)
		args := [6]uint64{a0, a1, a2, a3, 0, 0}
		// Point some arguments at real memory so handlers get past the
		// first copy and reach deeper code.
		for i := range args {
			if useBuf&(1<<i) != 0 {
				args[i] = page + args[i]%4096
			}
		}
		ret := Dispatch(task, nr, args)
		if ret == -int64(unix.EIO) && nr != SysRead && nr != SysWrite {
			t.Fatalf("%s%v = EIO: a handler failed inside the library OS", Name(nr), args)
		}
	})
}

func TestDispatchEveryImplementedSyscallWithGarbage(t *testing.T) {
	task, page := newTestTask(t)
	patterns := [][6]uint64{
		{},
		{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)},
		{1, 1, 1, 1, 1, 1},
		{page, page, 4096, page, page, page},
		{1 << 63, 1 << 47, 1 << 32, 1 << 31, 4095, 4097},
	}
	for nr := uintptr(0); nr < MaxSyscall; nr++ {
		if skipFuzz[nr] || !Implemented(nr) {
			continue
		}
		for _, p := range patterns {
			if ret := Dispatch(task, nr, p); ret == -int64(unix.EIO) {
				t.Errorf("%s%v = EIO", Name(nr), p)
			}
		}
	}
	if ret := Dispatch(task, 9999, [6]uint64{}); ret != -int64(unix.ENOSYS) {
		t.Errorf("unknown syscall = %d, want -ENOSYS", ret)
	}
}
