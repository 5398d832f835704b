package kernel

import (
	"path"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// maxPath is PATH_MAX: the longest path a syscall accepts, with its NUL.
const maxPath = unix.PathMax

// AbsPath turns a path given relative to dirfd into an absolute one. It
// does not clean it: ".." must be resolved by the file system, which knows
// the symlinks.
func (t *Task) AbsPath(dirfd int, p string) (string, error) {
	if p == "" {
		return "", unix.ENOENT
	}
	if len(p) >= maxPath {
		return "", unix.ENAMETOOLONG
	}
	if path.IsAbs(p) {
		return p, nil
	}
	base := t.FS.Cwd()
	if dirfd != unix.AT_FDCWD {
		d, err := t.FDs.Get(dirfd)
		if err != nil {
			return "", err
		}
		defer d.DecRef()
		st, err := d.File.Stat()
		if err != nil {
			return "", err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", unix.ENOTDIR
		}
		base = d.Path
	}
	return base + "/" + p, nil
}

// Open opens p relative to dirfd and returns a new description.
func (t *Task) Open(dirfd int, p string, flags int, mode uint32) (*vfs.FileDescription, error) {
	abs, err := t.AbsPath(dirfd, p)
	if err != nil {
		return nil, err
	}
	fs, rel, err := t.K.Mounts.Resolve(abs)
	if err != nil {
		return nil, err
	}
	f, err := fs.Open(rel, flags, mode&^t.FS.Umask())
	if err != nil {
		return nil, err
	}
	return vfs.NewDescription(f, path.Clean(abs), flags&^(unix.O_CLOEXEC|unix.O_CREAT|unix.O_EXCL|unix.O_NOCTTY|unix.O_TRUNC)), nil
}

// Stat stats p relative to dirfd.
func (t *Task) Stat(dirfd int, p string, follow bool) (unix.Stat_t, error) {
	abs, err := t.AbsPath(dirfd, p)
	if err != nil {
		return unix.Stat_t{}, err
	}
	fs, rel, err := t.K.Mounts.Resolve(abs)
	if err != nil {
		return unix.Stat_t{}, err
	}
	return fs.Stat(rel, follow)
}

// Readlink reads the symlink p relative to dirfd.
func (t *Task) Readlink(dirfd int, p string) (string, error) {
	abs, err := t.AbsPath(dirfd, p)
	if err != nil {
		return "", err
	}
	fs, rel, err := t.K.Mounts.Resolve(abs)
	if err != nil {
		return "", err
	}
	return fs.Readlink(rel)
}

// Chdir makes p the working directory.
func (t *Task) Chdir(p string) error {
	abs, err := t.AbsPath(unix.AT_FDCWD, p)
	if err != nil {
		return err
	}
	st, err := t.Stat(unix.AT_FDCWD, abs, true)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	t.FS.SetCwd(path.Clean(abs))
	return nil
}

// Access checks whether the task may access p with mode (R_OK|W_OK|X_OK,
// or F_OK) using its real ids, as access(2) does.
func (t *Task) Access(dirfd int, p string, mode uint32, follow bool) error {
	abs, err := t.AbsPath(dirfd, p)
	if err != nil {
		return err
	}
	fs, rel, err := t.K.Mounts.Resolve(abs)
	if err != nil {
		return err
	}
	st, err := fs.Stat(rel, follow)
	if err != nil {
		return err
	}
	if mode == unix.F_OK {
		return nil
	}
	if mode&unix.W_OK != 0 {
		if ro, ok := fs.(vfs.ReadOnlyFS); ok && ro.ReadOnly() {
			return unix.EROFS
		}
	}
	perm := st.Mode & 0o777
	creds := t.Creds()
	if creds.UID == 0 {
		// Root may read and write anything, and execute what anyone may.
		if mode&unix.X_OK != 0 && st.Mode&unix.S_IFMT != unix.S_IFDIR && perm&0o111 == 0 {
			return unix.EACCES
		}
		return nil
	}
	var granted uint32
	switch {
	case st.Uid == creds.UID:
		granted = perm >> 6
	case st.Gid == creds.GID || inGroup(creds, st.Gid):
		granted = perm >> 3
	default:
		granted = perm
	}
	if mode&^granted&7 != 0 {
		return unix.EACCES
	}
	return nil
}

func inGroup(c Creds, gid uint32) bool {
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// Statfs reports the file system holding p.
func (t *Task) Statfs(p string) (unix.Statfs_t, error) {
	abs, err := t.AbsPath(unix.AT_FDCWD, p)
	if err != nil {
		return unix.Statfs_t{}, err
	}
	fs, rel, err := t.K.Mounts.Resolve(abs)
	if err != nil {
		return unix.Statfs_t{}, err
	}
	s, ok := fs.(vfs.StatFSer)
	if !ok {
		return unix.Statfs_t{}, unix.ENOSYS
	}
	return s.Statfs(rel)
}
