// Package hostfd implements a library OS file on top of a host fd the sentry
// holds through a capability (a granted stdio fd, or a file dirfs opened
// beneath a dir capability). Reads, writes and the offset are the host fd's
// own; only the ioctls a terminal client needs to query are passed through.
//
// A host fd that is not a regular file or directory (a terminal, pipe or
// socket granted as stdio, a FIFO in a granted tree) is a waiter.Waitable:
// see poll.go. Its reads and writes first ask the host whether they can
// proceed and fail with EAGAIN if not, so the syscall layer waits for
// readiness, where a signal can interrupt the wait, instead of the sentry
// blocking in the host kernel. (Another reader of the same host fd can
// still take the data between the check and the read; the read then blocks
// in the host until more arrives.)
package hostfd

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// File is a library OS file backed by a host fd it owns.
type File struct {
	fd int

	pollOnce sync.Once
	canPoll  bool
	w        watcher
}

// New takes ownership of fd.
func New(fd int) *File { return &File{fd: fd} }

// FD is the host fd.
func (f *File) FD() int { return f.fd }

func (f *File) Read(p []byte) (int, error) {
	f.rearm()
	if !f.ready(unix.POLLIN) {
		return 0, unix.EAGAIN
	}
	return retry(func() (int, error) { return unix.Read(f.fd, p) })
}

func (f *File) Write(p []byte) (int, error) {
	f.rearm()
	if !f.ready(unix.POLLOUT) {
		return 0, unix.EAGAIN
	}
	return retry(func() (int, error) { return unix.Write(f.fd, p) })
}

// Pread implements vfs.File.
func (f *File) Pread(p []byte, off int64) (int, error) {
	return retry(func() (int, error) { return unix.Pread(f.fd, p, off) })
}

// Pwrite implements vfs.File.
func (f *File) Pwrite(p []byte, off int64) (int, error) {
	return retry(func() (int, error) { return unix.Pwrite(f.fd, p, off) })
}

// ReadAt lets mm copy file contents into private mappings.
func (f *File) ReadAt(p []byte, off int64) (int, error) { return ReadFull(f.fd, p, off) }

// ReadFull reads the host fd at off until p is full or the file ends.
func ReadFull(fd int, p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := retry(func() (int, error) { return unix.Pread(fd, p[done:], off+int64(done)) })
		if err != nil {
			return done, err
		}
		if n == 0 {
			break
		}
		done += n
	}
	return done, nil
}

// WriteFull writes all of p to the host fd at off.
func WriteFull(fd int, p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := retry(func() (int, error) { return unix.Pwrite(fd, p[done:], off+int64(done)) })
		if err != nil {
			return done, err
		}
		if n == 0 {
			return done, unix.EIO
		}
		done += n
	}
	return done, nil
}

// Seek implements vfs.File.
func (f *File) Seek(off int64, whence int) (int64, error) { return unix.Seek(f.fd, off, whence) }

// Stat implements vfs.File.
func (f *File) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstat(f.fd, &st)
	return st, err
}

// Getdents implements vfs.File.
func (f *File) Getdents(p []byte) (int, error) {
	return retry(func() (int, error) { return unix.Getdents(f.fd, p) })
}

// kernelTermiosSize is sizeof(struct termios) as TCGETS copies it: the
// x/sys type carries two extra speed fields that belong to termios2.
const kernelTermiosSize = 36

// Ioctl passes through the terminal queries; everything else is ENOTTY,
// which is what Linux answers for ioctls a file does not know.
func (f *File) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	switch req {
	case unix.TCGETS:
		t, err := unix.IoctlGetTermios(f.fd, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(t)), kernelTermiosSize)
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	case unix.TIOCGWINSZ:
		w, err := unix.IoctlGetWinsize(f.fd, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		b := unsafe.Slice((*byte)(unsafe.Pointer(w)), unsafe.Sizeof(*w))
		if _, err := mem.CopyOut(arg, b); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	return 0, unix.ENOTTY
}

// Close implements vfs.File.
func (f *File) Close() error {
	f.stopWatching()
	return unix.Close(f.fd)
}

// retry repeats a host call interrupted by a signal the sentry received;
// the workload never asked for that interruption.
func retry(call func() (int, error)) (int, error) {
	for {
		n, err := call()
		if err == unix.EINTR {
			continue
		}
		if n < 0 {
			n = 0
		}
		return n, err
	}
}

// Statfs implements vfs.StatFSer for fstatfs.
func (f *File) Statfs(string) (unix.Statfs_t, error) {
	var st unix.Statfs_t
	err := unix.Fstatfs(f.fd, &st)
	return st, err
}

// Truncate implements vfs.Truncater.
func (f *File) Truncate(size int64) error {
	_, err := retry(func() (int, error) { return 0, unix.Ftruncate(f.fd, size) })
	return err
}

// Allocate implements vfs.Allocator: the host decides which modes its
// file system supports.
func (f *File) Allocate(mode uint32, off, length int64) error {
	_, err := retry(func() (int, error) { return 0, unix.Fallocate(f.fd, mode, off, length) })
	return err
}

// Sync implements vfs.Syncer.
func (f *File) Sync(dataOnly bool) error {
	_, err := retry(func() (int, error) {
		if dataOnly {
			return 0, unix.Fdatasync(f.fd)
		}
		return 0, unix.Fsync(f.fd)
	})
	return err
}

// Statx implements vfs.Statxer with the host's answer.
func (f *File) Statx(mask uint32) (unix.Statx_t, error) {
	var sx unix.Statx_t
	_, err := retry(func() (int, error) { return 0, unix.Statx(f.fd, "", unix.AT_EMPTY_PATH, int(mask), &sx) })
	return sx, err
}

// SetStatusFlags implements vfs.StatusFlagsSetter: O_APPEND must reach
// the host fd, where the host's writes honour it. O_NONBLOCK stays as the
// file was opened: the library OS waits for readiness itself.
func (f *File) SetStatusFlags(flags int) {
	const mirrored = unix.O_APPEND | unix.O_DIRECT | unix.O_NOATIME
	cur, err := unix.FcntlInt(uintptr(f.fd), unix.F_GETFL, 0)
	if err != nil {
		return
	}
	if n := cur&^mirrored | flags&mirrored; n != cur {
		unix.FcntlInt(uintptr(f.fd), unix.F_SETFL, n)
	}
}
