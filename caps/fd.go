package caps

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// withFD runs fn on f's descriptor. Going through SyscallConn holds a
// reference, so a concurrent Close cannot let the number be recycled under
// fn, and unlike (*os.File).Fd it does not flip a shared file description to
// blocking mode behind the sentry's back.
func withFD(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("syscall conn: %w", err)
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	return ferr
}

// dupCloexec keeps new descriptors above stdio so a process that closed its
// stdio never has a granted fd land on 0-2 by accident.
func dupCloexec(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return -1, fmt.Errorf("dup fd %d: %w", fd, err)
	}
	return nfd, nil
}

// dupRaw returns a bare close-on-exec duplicate of f for sending; the caller
// closes it with unix.Close.
func dupRaw(f *os.File) (int, error) {
	nfd := -1
	err := withFD(f, func(fd int) error {
		var err error
		nfd, err = dupCloexec(fd)
		return err
	})
	return nfd, err
}

func dupFile(f *os.File) (*os.File, error) {
	nfd, err := dupRaw(f)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), f.Name()), nil
}

// access reports which data directions an open file description allows.
func access(flags int) (read, write bool) {
	if flags&unix.O_PATH != 0 {
		return false, false
	}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		return true, false
	case unix.O_WRONLY:
		return false, true
	case unix.O_RDWR:
		return true, true
	}
	return false, false
}

// narrowFile returns a new descriptor for f's file whose access mode does not
// exceed rights, so a handle without RightWrite really cannot write. A plain
// dup would share the original open file description and with it the
// original access mode.
//
// Reopening goes through /proc/self/fd, which some files refuse (sockets,
// most anon inodes); then the handle falls back to a dup and the missing
// restriction is logged, since the library OS is then the only one keeping it.
// The same magic-link reopen would let a holder widen its own fd again, which
// is why the sentry must run without procfs magic links (own mount namespace,
// and openat2 with RESOLVE_NO_MAGICLINKS).
func narrowFile(f *os.File, rights Rights, log *slog.Logger) (*os.File, error) {
	var out *os.File
	err := withFD(f, func(fd int) error {
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			return fmt.Errorf("get flags: %w", err)
		}
		r, w := access(fl)
		wantR, wantW := rights&RightRead != 0, rights&RightWrite != 0
		if (wantR && !r) || (wantW && !w) {
			return fmt.Errorf("fd open for read=%t write=%t cannot carry rights %s: %w", r, w, rights, ErrInvalid)
		}
		if r == wantR && w == wantW {
			nfd, err := dupCloexec(fd)
			if err != nil {
				return err
			}
			out = os.NewFile(uintptr(nfd), f.Name())
			return nil
		}
		nfd, err := reopen(fd, fl, wantR, wantW)
		if err != nil {
			log.Warn("caps: cannot narrow fd on the host; rights are enforced only by the library OS",
				"file", f.Name(), "rights", rights, "err", err)
			if nfd, err = dupCloexec(fd); err != nil {
				return err
			}
		}
		out = os.NewFile(uintptr(nfd), f.Name())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("narrow %s to %s: %w", f.Name(), rights, err)
	}
	return out, nil
}

// reopen opens fd's file afresh with only the wanted access.
func reopen(fd, oldFlags int, read, write bool) (int, error) {
	var flags int
	switch {
	case read && write:
		flags = unix.O_RDWR
	case read:
		flags = unix.O_RDONLY
	case write:
		flags = unix.O_WRONLY
	default:
		flags = unix.O_PATH
	}
	flags |= unix.O_CLOEXEC
	if flags&unix.O_PATH == 0 {
		// O_NONBLOCK: reopening the write side of a pipe whose reader is gone
		// would otherwise block exo forever; with it the open fails (ENXIO).
		// O_NOCTTY: exo must not pick up a controlling terminal by
		// reopening a tty.
		flags |= unix.O_NONBLOCK | unix.O_NOCTTY | oldFlags&unix.O_APPEND
	}
	nfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), flags, 0)
	if err != nil {
		return -1, fmt.Errorf("reopen fd %d: %w", fd, err)
	}
	if flags&unix.O_PATH != 0 {
		return nfd, nil
	}
	if oldFlags&unix.O_NONBLOCK == 0 {
		if err := unix.SetNonblock(nfd, false); err != nil {
			unix.Close(nfd)
			return -1, fmt.Errorf("reopen fd %d: clear O_NONBLOCK: %w", fd, err)
		}
	}
	// A fresh open starts at offset 0; a regular file (say, stdout redirected
	// to a log) would then be overwritten from the start.
	var st unix.Stat_t
	if err := unix.Fstat(nfd, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
		if off, err := unix.Seek(fd, 0, unix.SEEK_CUR); err == nil {
			if _, err := unix.Seek(nfd, off, unix.SEEK_SET); err != nil {
				unix.Close(nfd)
				return -1, fmt.Errorf("reopen fd %d: seek: %w", fd, err)
			}
		}
	}
	return nfd, nil
}
