package oci

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// NewPty opens a host pseudo-terminal pair for a container's process with
// process.terminal: the master goes to the caller's console socket, the
// slave becomes the process's stdio. (The library OS has no terminal of
// its own yet: the workload's terminal ioctls reach this host pty.)
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
