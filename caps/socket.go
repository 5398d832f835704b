package caps

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// SocketPair returns two connected SOCK_SEQPACKET unix conns, both
// close-on-exec: exo serves exoEnd, the sentry uses sentryEnd. To hand
// sentryEnd to a child, pass sentryEnd.File() (a dup) in exec.Cmd.ExtraFiles
// and close both in the parent once the child has started; the child calls
// ConnFromFD on the inherited number.
func SocketPair() (exoEnd, sentryEnd *net.UnixConn, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("caps: socketpair: %w", err)
	}
	exoEnd, err = fileConn(fds[0], "caps-exo")
	if err != nil {
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("caps: socketpair: %w", err)
	}
	sentryEnd, err = fileConn(fds[1], "caps-sentry")
	if err != nil {
		exoEnd.Close()
		return nil, nil, fmt.Errorf("caps: socketpair: %w", err)
	}
	return exoEnd, sentryEnd, nil
}

// ConnFromFD turns an inherited descriptor into the sentry's conn. It takes
// ownership of fd, closing it even on error, and checks that it really is a
// unix SOCK_SEQPACKET socket. The conn is close-on-exec, which the inherited
// fd was not: the exo socket must not leak into processes the sentry starts.
func ConnFromFD(fd int) (*net.UnixConn, error) {
	for _, want := range []struct{ opt, val int }{
		{unix.SO_DOMAIN, unix.AF_UNIX},
		{unix.SO_TYPE, unix.SOCK_SEQPACKET},
	} {
		got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, want.opt)
		if err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("caps: conn from fd %d: getsockopt: %w", fd, err)
		}
		if got != want.val {
			unix.Close(fd)
			return nil, fmt.Errorf("caps: conn from fd %d: not a unix seqpacket socket (opt %d = %d): %w", fd, want.opt, got, ErrInvalid)
		}
	}
	c, err := fileConn(fd, "caps-sentry")
	if err != nil {
		return nil, fmt.Errorf("caps: conn from fd %d: %w", fd, err)
	}
	return c, nil
}

// fileConn wraps fd in a *net.UnixConn and closes fd: net.FileConn works on a
// close-on-exec dup of its own.
func fileConn(fd int, name string) (*net.UnixConn, error) {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("file conn: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("file conn: got %T, want *net.UnixConn: %w", c, ErrInvalid)
	}
	return uc, nil
}
