package oci

import (
	"fmt"
	"net"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// NewPty opens a host pseudo-terminal pair for a container's process with
// process.terminal: the master goes to the caller's console socket, the
// slave to the sentry, which bridges it to the library OS's own terminal
// (see sentry/console.go).
func NewPty() (master, slave *os.File, err error) {
	mfd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(mfd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	return master, os.NewFile(uintptr(sfd), name), nil
}

// SendConsole sends the pty master over the unix socket at path, as runc
// does for --console-socket: one message whose data is the master's name
// and whose SCM_RIGHTS carry its fd.
func SendConsole(path string, master *os.File) error {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("console socket %q: %w", path, err)
	}
	defer c.Close()
	if _, _, err := c.WriteMsgUnix([]byte(master.Name()), unix.UnixRights(int(master.Fd())), nil); err != nil {
		return fmt.Errorf("console socket %q: send the pty master: %w", path, err)
	}
	return nil
}

// PrepareHostPty readies a host pty whose slave the sentry bridges to the
// library OS's terminal: raw mode, so the host's line discipline passes
// every byte through and the library OS's alone edits, echoes and turns
// ^C into SIGINT; and the initial window size when the spec gives one
// (process.consoleSize), as runc sets it before handing the master out.
func PrepareHostPty(master, slave *os.File, size *specs.Box) error {
	fd := int(slave.Fd())
	tios, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("host pty: get termios: %w", err)
	}
	// cfmakeraw.
	tios.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	tios.Oflag &^= unix.OPOST
	tios.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	tios.Cflag &^= unix.CSIZE | unix.PARENB
	tios.Cflag |= unix.CS8
	tios.Cc[unix.VMIN], tios.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, tios); err != nil {
		return fmt.Errorf("host pty: raw mode: %w", err)
	}
	if size != nil {
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, ws); err != nil {
			return fmt.Errorf("host pty: window size: %w", err)
		}
	}
	return nil
}

// ControlTerminal makes the host pty's slave the controlling terminal of
// the calling process, in a session of its own: the host kernel then
// sends this process SIGWINCH when the client resizes the master, and
// SIGHUP when the client closes it. The caller must be able to lead a
// session (not a process group leader, or a session leader already).
func ControlTerminal(slave *os.File) error {
	if sid, _ := unix.Getsid(0); sid != unix.Getpid() {
		if _, err := unix.Setsid(); err != nil {
			return fmt.Errorf("host pty: setsid: %w", err)
		}
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("host pty: make it the controlling terminal: %w", err)
	}
	return nil
}
