package sentry

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Confine walls the sentry off from the host file system. The runtime
// starts the sentry in fresh mount, pid, network, IPC and UTS namespaces;
// here the sentry makes its mounts private, puts an empty tmpfs at /tmp and
// chroots into it, so from now on a host file is reachable only through a
// dir capability. It returns the directory for the platform's stub, which
// the sentry writes before remounting that tmpfs read-only (see Seal).
//
// After boot, caps.InstallSentryFilter limits the sentry to the host
// syscalls the library OS needs; its execve can then run only what this
// root holds. What is not done yet, and would make the wall complete: a
// user namespace and dropping capabilities.
func Confine() (string, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "", fmt.Errorf("confine sentry: make mounts private: %w", err)
	}
	const root = "/tmp"
	if err := unix.Mount("exo-sentry", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,mode=0700"); err != nil {
		return "", fmt.Errorf("confine sentry: mount tmpfs at %s: %w", root, err)
	}
	if err := unix.Chroot(root); err != nil {
		return "", fmt.Errorf("confine sentry: chroot: %w", err)
	}
	if err := os.Chdir("/"); err != nil {
		return "", fmt.Errorf("confine sentry: chdir: %w", err)
	}
	return "/", nil
}

// Seal makes the sentry's private root read-only once the platform has
// written what it needs there.
func Seal() error {
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("seal sentry root: %w", err)
	}
	return nil
}
