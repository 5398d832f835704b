package caps

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// OpenHostFile opens the regular file at hostPath for a file handle with
// the given rights: for reading, and for writing too with RightWrite. It is
// how exo grants the source of a bind mount of one file (docker's
// /etc/hosts, CRI's /dev/termination-log).
//
// Without RightWrite the fd is opened through a detached read-only,
// nosuid, nodev clone of the file's mount, so the host itself refuses
// fchmod, fchown and futimens on it (an O_RDONLY fd alone still allows
// them to the file's owner). Anything but a regular file is refused: a
// device node or FIFO reached by binding it would bypass nodev and block
// exo. The fd is close-on-exec; the caller owns it.
func OpenHostFile(hostPath string, rights Rights) (*os.File, error) {
	return openHostFile(hostPath, rights, slog.Default())
}

func openHostFile(hostPath string, rights Rights, log *slog.Logger) (*os.File, error) {
	if rights&^(RightRead|RightWrite) != 0 || rights&RightRead == 0 {
		return nil, fmt.Errorf("caps: open file %s: rights %s: %w", hostPath, rights, ErrInvalid)
	}
	// O_PATH first: opening a FIFO for reading would block, and the type
	// must be known before anything is opened for real.
	pfd, err := unix.Open(hostPath, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("caps: open file %s: %w", hostPath, err)
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, fmt.Errorf("caps: open file %s: %w", hostPath, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("caps: open file %s: not a regular file: %w", hostPath, ErrInvalid)
	}
	flags := unix.O_RDONLY
	if rights&RightWrite != 0 {
		flags = unix.O_RDWR
	}
	flags |= unix.O_CLOEXEC | unix.O_NOCTTY
	src := pfd
	if rights&RightWrite == 0 {
		cfd, err := unix.OpenTree(pfd, "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
		if err == nil {
			defer unix.Close(cfd)
			ma := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV, Propagation: unix.MS_PRIVATE}
			err = unix.MountSetattr(cfd, "", unix.AT_EMPTY_PATH, &ma)
			if err == nil {
				src = cfd
			}
		}
		switch {
		case err == nil:
		case mountAPIDenied(err):
			log.Warn("caps: mount API not permitted; read-only file is enforced by its access mode only",
				"path", hostPath, "err", err)
		default:
			return nil, fmt.Errorf("caps: open file %s: read-only clone: %w", hostPath, err)
		}
	}
	// Reopen what was checked, not the name again: a rename on the host in
	// between cannot swap in another file.
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(src), flags, 0)
	if err != nil {
		return nil, fmt.Errorf("caps: open file %s: %w", hostPath, err)
	}
	return os.NewFile(uintptr(fd), hostPath), nil
}

// GrantHostFile creates a file handle on the regular file at hostPath
// (see OpenHostFile).
func (e *Exo) GrantHostFile(name, hostPath string, rights Rights) (ID, error) {
	f, err := openHostFile(hostPath, rights, e.log)
	if err != nil {
		return 0, fmt.Errorf("caps: grant file %q: %w", name, err)
	}
	id, err := e.table.insert(HandleInfo{Kind: KindFile, Rights: rights, Name: name}, resource{file: f})
	if err != nil {
		f.Close()
		return 0, fmt.Errorf("caps: grant file %q: %w", name, err)
	}
	return id, nil
}
