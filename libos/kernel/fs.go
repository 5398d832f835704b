package kernel

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// This file is the task's side of the VFS: it turns a syscall's dirfd and
// path into a vfs.Context (the task's root, where the walk starts, and
// its credentials) and calls the VFS operation. The syscall layer copies
// arguments in and out; the VFS resolves and checks.

// Cred is who the task is for file permission checks: its file system
// ids, as Linux uses them.
func (t *Task) Cred() vfs.Cred {
	c := t.Creds()
	return vfs.Cred{UID: c.FSUID, GID: c.FSGID, Groups: c.Groups}
}

// Context is the resolution context for path p given relative to dirfd
// (AT_FDCWD for the working directory). A relative path needs dirfd to
// name a directory (ENOTDIR); with emptyPath, "" names dirfd's own file,
// whatever it is. An absolute path ignores dirfd unless resolve scopes
// the walk to it (RESOLVE_BENEATH, RESOLVE_IN_ROOT).
func (t *Task) Context(dirfd int, p string, emptyPath bool, resolve uint64) (*vfs.Context, error) {
	if p == "" && !emptyPath {
		// An empty path is ENOENT before anything about dirfd is asked.
		return nil, unix.ENOENT
	}
	ctx := &vfs.Context{Root: t.FS.Root(), Cred: t.Cred(), Resolve: resolve, Caller: t}
	scoped := resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) != 0
	if p != "" && p[0] == '/' && !scoped {
		ctx.Start = ctx.Root
		return ctx, nil
	}
	if dirfd == unix.AT_FDCWD {
		ctx.Start = t.FS.Cwd()
		return ctx, nil
	}
	d, err := t.FDs.Get(dirfd)
	if err != nil {
		return nil, err
	}
	defer d.DecRef()
	if d.Dentry == nil {
		return nil, unix.ENOTDIR
	}
	if p != "" || !emptyPath {
		st, err := d.Dentry.Stat()
		if err != nil {
			return nil, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil, unix.ENOTDIR
		}
	}
	ctx.Start = d.Dentry
	return ctx, nil
}

// Lookup resolves p relative to dirfd.
func (t *Task) Lookup(dirfd int, p string, flags vfs.LookupFlags) (*vfs.Dentry, error) {
	ctx, err := t.Context(dirfd, p, flags&vfs.LookupEmptyPath != 0, 0)
	if err != nil {
		return nil, err
	}
	return t.Mounts().Lookup(ctx, p, flags)
}

// LookupStat is Lookup that also returns the attributes of the file
// found, fetched by the walk itself.
func (t *Task) LookupStat(dirfd int, p string, flags vfs.LookupFlags) (*vfs.Dentry, unix.Stat_t, error) {
	ctx, err := t.Context(dirfd, p, flags&vfs.LookupEmptyPath != 0, 0)
	if err != nil {
		return nil, unix.Stat_t{}, err
	}
	return t.Mounts().LookupStat(ctx, p, flags)
}

// Open opens p relative to dirfd and returns a new description; mode is
// masked with the umask here.
func (t *Task) Open(dirfd int, p string, flags int, mode uint32) (*vfs.FileDescription, error) {
	return t.Openat2(dirfd, p, flags, mode, 0)
}

// Openat2 is Open with openat2's RESOLVE_* flags.
func (t *Task) Openat2(dirfd int, p string, flags int, mode uint32, resolve uint64) (*vfs.FileDescription, error) {
	if p == "" {
		return nil, unix.ENOENT
	}
	ctx, err := t.Context(dirfd, p, false, resolve)
	if err != nil {
		return nil, err
	}
	d, err := t.Mounts().Open(ctx, p, vfs.OpenOptions{Flags: flags, Mode: mode &^ t.FS.Umask()})
	if err != nil {
		return nil, err
	}
	return t.FinishOpen(d, flags)
}

// OpenExec opens a program (or ELF interpreter) for execve: it needs
// execute permission, not read permission.
func (t *Task) OpenExec(dirfd int, p string, follow bool) (*vfs.FileDescription, error) {
	ctx, err := t.Context(dirfd, p, false, 0)
	if err != nil {
		return nil, err
	}
	flags := unix.O_RDONLY
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	return t.Mounts().Open(ctx, p, vfs.OpenOptions{Flags: flags, Exec: true})
}

// Stat stats p relative to dirfd.
func (t *Task) Stat(dirfd int, p string, follow bool) (unix.Stat_t, error) {
	flags := vfs.LookupFlags(0)
	if follow {
		flags = vfs.LookupFollow
	}
	_, st, err := t.LookupStat(dirfd, p, flags)
	return st, err
}

// Readlink reads the symlink p relative to dirfd ("" reads dirfd's own
// file, an O_PATH symlink).
func (t *Task) Readlink(dirfd int, p string) (string, error) {
	ctx, err := t.Context(dirfd, p, true, 0)
	if err != nil {
		return "", err
	}
	d, err := t.Mounts().Lookup(ctx, p, vfs.LookupEmptyPath)
	if err != nil {
		return "", err
	}
	target, err := t.Mounts().Readlink(ctx, d)
	if p == "" && err == unix.EINVAL {
		// readlinkat(fd, "") of an fd that is not an O_PATH symlink.
		return "", unix.ENOENT
	}
	return target, err
}

// searchableDir checks that d is a directory the task may search, as
// chdir and chroot require.
func (t *Task) searchableDir(d *vfs.Dentry) error {
	st, err := d.Stat()
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return t.Cred().May(&st, vfs.MayExec)
}

// Chdir makes p the working directory.
func (t *Task) Chdir(p string) error {
	d, err := t.Lookup(unix.AT_FDCWD, p, vfs.LookupFollow|vfs.LookupDirectory)
	if err != nil {
		return err
	}
	if err := t.searchableDir(d); err != nil {
		return err
	}
	t.FS.SetCwd(d)
	return nil
}

// Fchdir makes the directory open at fd the working directory.
func (t *Task) Fchdir(fd int) error {
	desc, err := t.FDs.Get(fd)
	if err != nil {
		return err
	}
	defer desc.DecRef()
	if desc.Dentry == nil {
		return unix.ENOTDIR
	}
	if err := t.searchableDir(desc.Dentry); err != nil {
		return err
	}
	t.FS.SetCwd(desc.Dentry)
	return nil
}

// Chroot makes p the root directory of the task's FSContext. Only root
// may.
func (t *Task) Chroot(p string) error {
	d, err := t.Lookup(unix.AT_FDCWD, p, vfs.LookupFollow|vfs.LookupDirectory)
	if err != nil {
		return err
	}
	if err := t.searchableDir(d); err != nil {
		return err
	}
	if c := t.Creds(); !c.HasCap(CapSysChroot) {
		return unix.EPERM
	}
	t.FS.SetRoot(d)
	return nil
}

// Getcwd is the working directory's path as getcwd(2) returns it: ENOENT
// once the directory has been removed.
func (t *Task) Getcwd() (string, error) {
	if st, err := t.FS.Cwd().Stat(); err != nil || st.Nlink == 0 {
		return "", unix.ENOENT
	}
	p, ok := t.FS.CwdPath()
	if !ok {
		return "(unreachable)" + p, nil
	}
	return p, nil
}

// Access checks whether the task may access p with mode (R_OK|W_OK|X_OK,
// or F_OK), with its real ids as access(2) does, or its effective ones
// with AT_EACCESS.
func (t *Task) Access(dirfd int, p string, mode uint32, flags int) error {
	lf := vfs.LookupFollow
	if flags&unix.AT_SYMLINK_NOFOLLOW != 0 {
		lf = 0
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		lf |= vfs.LookupEmptyPath
	}
	ctx, err := t.Context(dirfd, p, flags&unix.AT_EMPTY_PATH != 0, 0)
	if err != nil {
		return err
	}
	if flags&unix.AT_EACCESS == 0 {
		c := t.Creds()
		ctx.Cred = vfs.Cred{UID: c.UID, GID: c.GID, Groups: c.Groups}
	}
	d, err := t.Mounts().Lookup(ctx, p, lf)
	if err != nil {
		return err
	}
	return t.Mounts().Access(ctx, d, mode)
}

// Statfs reports the file system holding p.
func (t *Task) Statfs(p string) (unix.Statfs_t, error) {
	d, err := t.Lookup(unix.AT_FDCWD, p, vfs.LookupFollow)
	if err != nil {
		return unix.Statfs_t{}, err
	}
	return vfs.Statfs(d)
}

// Mkdir makes directory p relative to dirfd; mode is masked with the
// umask here.
func (t *Task) Mkdir(dirfd int, p string, mode uint32) error {
	ctx, err := t.Context(dirfd, p, false, 0)
	if err != nil {
		return err
	}
	return t.Mounts().Mkdir(ctx, p, mode&^t.FS.Umask())
}

// Mknod makes a FIFO, socket or regular file p relative to dirfd; the
// permission bits of mode are masked with the umask here.
func (t *Task) Mknod(dirfd int, p string, mode uint32, dev uint64) error {
	ctx, err := t.Context(dirfd, p, false, 0)
	if err != nil {
		return err
	}
	return t.Mounts().Mknod(ctx, p, mode&^t.FS.Umask(), dev)
}

// Symlink makes p (relative to dirfd) a symlink to target.
func (t *Task) Symlink(target string, dirfd int, p string) error {
	ctx, err := t.Context(dirfd, p, false, 0)
	if err != nil {
		return err
	}
	return t.Mounts().Symlink(ctx, target, p)
}

// Link makes newp a hard link to oldp, linkat(2)'s way: flags may hold
// AT_SYMLINK_FOLLOW and AT_EMPTY_PATH.
func (t *Task) Link(olddirfd int, oldp string, newdirfd int, newp string, flags int) error {
	lf := vfs.LookupFlags(0)
	if flags&unix.AT_SYMLINK_FOLLOW != 0 {
		lf |= vfs.LookupFollow
	}
	if flags&unix.AT_EMPTY_PATH != 0 && oldp == "" {
		// Linking an open file by its fd needs CAP_DAC_READ_SEARCH;
		// without it Linux answers as if the path were missing.
		if c := t.Creds(); !c.HasCap(CapDacReadSearch) {
			return unix.ENOENT
		}
		lf |= vfs.LookupEmptyPath
	}
	octx, err := t.Context(olddirfd, oldp, lf&vfs.LookupEmptyPath != 0, 0)
	if err != nil {
		return err
	}
	old, err := t.Mounts().Lookup(octx, oldp, lf)
	if err != nil {
		return err
	}
	nctx, err := t.Context(newdirfd, newp, false, 0)
	if err != nil {
		return err
	}
	return t.Mounts().Link(nctx, old, newp)
}

// Unlink removes the non-directory p relative to dirfd.
func (t *Task) Unlink(dirfd int, p string) error {
	ctx, err := t.Context(dirfd, p, false, 0)
	if err != nil {
		return err
	}
	return t.Mounts().Unlink(ctx, p)
}

// Rmdir removes the empty directory p relative to dirfd.
func (t *Task) Rmdir(dirfd int, p string) error {
	ctx, err := t.Context(dirfd, p, false, 0)
	if err != nil {
		return err
	}
	return t.Mounts().Rmdir(ctx, p)
}

// Rename is renameat2(2).
func (t *Task) Rename(olddirfd int, oldp string, newdirfd int, newp string, flags uint32) error {
	octx, err := t.Context(olddirfd, oldp, false, 0)
	if err != nil {
		return err
	}
	nctx, err := t.Context(newdirfd, newp, false, 0)
	if err != nil {
		return err
	}
	return t.Mounts().Rename(octx, oldp, nctx, newp, flags)
}

// VFSContext is the task's resolution context for a file it already has
// (the f* calls): its root, its working directory and its credentials.
func (t *Task) VFSContext() *vfs.Context {
	return &vfs.Context{Root: t.FS.Root(), Start: t.FS.Cwd(), Cred: t.Cred(), Caller: t}
}
