package caps

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/sys/unix"
)

// resource is the host side of one handle: the fds exo owns for it.
type resource struct {
	// file is what the sentry gets. For a dir, an O_PATH fd at the root of a
	// detached mount clone, or a plain O_PATH fd when the mount API is
	// unavailable.
	file *os.File
	// origin is a plain O_PATH fd on the same directory in exo's own mount
	// namespace, kept only while the handle can still write, so that a
	// read-only clone can be cut from it on attenuation. Cloning the detached
	// clone itself needs Linux 6.15+, and Debian 12 ships 6.1.
	origin *os.File
	// roMount is set when a dir's read-only-ness is enforced by the mount.
	roMount bool
}

func (d resource) close() error {
	var errs []error
	for _, f := range []*os.File{d.file, d.origin} {
		if f != nil {
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// OpenDir opens hostPath as an O_PATH|O_DIRECTORY fd for a directory handle
// with the given rights. The fd is close-on-exec; the caller owns it.
//
// The fd is the root of a detached clone of the mount tree at hostPath,
// always nosuid and nodev, and read-only unless rights include RightWrite.
// nodev matters for read-write trees too: an image may ship device nodes, and
// an O_PATH fd is not a promise that nobody will open /dev/sda beneath it.
// Being the root of a detached mount also means ".." cannot climb out of it;
// absolute symlinks still resolve against the opener's root, so consumers
// must open beneath the fd with openat2 and RESOLVE_IN_ROOT (or
// RESOLVE_BENEATH) plus RESOLVE_NO_MAGICLINKS.
//
// Only exo's user namespace (the host's) may change the clone's mount flags,
// so the sentry cannot undo them from its own user namespace; its seccomp
// policy must still deny open_tree, mount_setattr and fsmount.
//
// Without permission for the mount API (not root), OpenDir falls back to a
// plain O_PATH fd and logs that the library OS alone enforces read-only.
func OpenDir(hostPath string, rights Rights) (*os.File, error) {
	d, err := openDir(hostPath, rights, slog.Default())
	if err != nil {
		return nil, err
	}
	if d.origin != nil {
		d.origin.Close()
	}
	return d.file, nil
}

func openDir(hostPath string, rights Rights, log *slog.Logger) (resource, error) {
	if rights&^AllRights != 0 {
		return resource{}, fmt.Errorf("caps: open dir %s: rights %s: %w", hostPath, rights, ErrInvalid)
	}
	// Resolve the path once and clone from the fd, so a concurrent rename on
	// the host cannot make the clone differ from what was opened.
	ofd, err := unix.Open(hostPath, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return resource{}, fmt.Errorf("caps: open dir %s: %w", hostPath, err)
	}
	origin := os.NewFile(uintptr(ofd), hostPath)
	write := rights&RightWrite != 0
	attr := uint64(unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV)
	if !write {
		attr |= unix.MOUNT_ATTR_RDONLY
	}
	clone, err := cloneTree(origin, attr)
	switch {
	case err == nil && write:
		return resource{file: clone, origin: origin}, nil
	case err == nil:
		origin.Close()
		return resource{file: clone, roMount: true}, nil
	case !mountAPIDenied(err):
		origin.Close()
		return resource{}, fmt.Errorf("caps: open dir %s: %w", hostPath, err)
	case write:
		log.Warn("caps: mount API not permitted; nosuid/nodev not enforced on dir",
			"path", hostPath, "err", err)
	default:
		log.Warn("caps: mount API not permitted; dir read-only is enforced only by the library OS",
			"path", hostPath, "err", err)
	}
	return resource{file: origin}, nil
}

// mountAPIDenied tells "this process may not clone mounts" (fall back, with
// a warning) from real failures such as an unbindable mount (fail: silently
// handing out a writable tree would be worse).
func mountAPIDenied(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS)
}

// cloneTree makes a detached clone of the mount at src with attr set on it.
func cloneTree(src *os.File, attr uint64) (*os.File, error) {
	var out *os.File
	err := withFD(src, func(fd int) error {
		// Not AT_RECURSIVE: only the tree's own mount is granted. Host
		// mounts below it (a host /proc, /sys or /dev under a rootfs of "/")
		// stay behind as the empty directories they are mounted on.
		cfd, err := unix.OpenTree(fd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
		if err != nil {
			return fmt.Errorf("open_tree: %w", err)
		}
		// MS_PRIVATE takes the clone out of src's peer group: mounts the host
		// makes later under the source do not show up in the sandbox's view.
		ma := unix.MountAttr{Attr_set: attr, Propagation: unix.MS_PRIVATE}
		if err := unix.MountSetattr(cfd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &ma); err != nil {
			unix.Close(cfd)
			return fmt.Errorf("mount_setattr: %w", err)
		}
		out = os.NewFile(uintptr(cfd), src.Name())
		return nil
	})
	return out, err
}

// deriveDir makes the resource for a dir handle derived from d with rights keep.
func deriveDir(d resource, keep Rights, log *slog.Logger) (resource, error) {
	if keep&RightWrite == 0 && !d.roMount {
		src := d.origin
		if src == nil {
			src = d.file
		}
		clone, err := cloneTree(src, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV)
		if err == nil {
			return resource{file: clone, roMount: true}, nil
		}
		if !mountAPIDenied(err) {
			return resource{}, fmt.Errorf("read-only clone: %w", err)
		}
		log.Warn("caps: mount API not permitted; derived dir read-only is enforced only by the library OS",
			"dir", d.file.Name(), "err", err)
	}
	f, err := dupFile(d.file)
	if err != nil {
		return resource{}, err
	}
	out := resource{file: f, roMount: d.roMount}
	if keep&RightWrite != 0 && d.origin != nil {
		if out.origin, err = dupFile(d.origin); err != nil {
			f.Close()
			return resource{}, err
		}
	}
	return out, nil
}
