package vfs

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// This file holds the operations the syscall layer calls: each resolves
// its path(s) with a walker, checks what Linux checks in the order Linux
// checks it (so the same errno comes out first), and then calls the one
// Inode method that does the work.

// TmpfileMaker is implemented by directory inodes of file systems that
// support O_TMPFILE: it makes an unnamed regular file in the directory
// and opens it with flags.
type TmpfileMaker interface {
	Tmpfile(mode uint32, flags int, c Cred) (Inode, File, error)
}

// FIFOServer is implemented by inodes whose file system opens its FIFOs
// itself (dirfs: a host FIFO, which host processes may share). Every other
// FIFO is a pipe of the library OS, which the FIFOOpener makes.
type FIFOServer interface {
	ServesFIFO() bool
}

// FIFOOpener opens the FIFO d for ctx.Caller with open(2)'s flags: it
// finds or makes the pipe behind it and waits, unless O_NONBLOCK, for the
// other end as Linux does. The kernel installs it (SetFIFOOpener), since
// waiting is the task's business.
type FIFOOpener func(ctx *Context, d *Dentry, flags int) (File, error)

// SetFIFOOpener installs how FIFOs of file systems that are not
// FIFOServers are opened; without one, the file system's Open is asked.
func (t *MountTable) SetFIFOOpener(fn FIFOOpener) { t.fifo = fn }

// OpenOptions are what open(2), openat2(2) and execve ask for.
type OpenOptions struct {
	// Flags are open(2)'s flags.
	Flags int
	// Mode is the mode of a file O_CREAT or O_TMPFILE makes, with the
	// umask already applied.
	Mode uint32
	// Exec opens a program for execve: execute permission instead of
	// read permission, and only regular files.
	Exec bool
}

// openOnlyFlags act at open time only; a description does not keep them.
const openOnlyFlags = unix.O_CLOEXEC | unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_TRUNC

func fileType(st *unix.Stat_t) uint32 { return st.Mode & unix.S_IFMT }

// writesData reports whether a file of this type lives in its file system
// (a read-only mount refuses writes to it), unlike device nodes, FIFOs
// and sockets, which may be written on a read-only mount.
func writesData(st *unix.Stat_t) bool {
	switch fileType(st) {
	case unix.S_IFREG, unix.S_IFDIR, unix.S_IFLNK:
		return true
	}
	return false
}

// Open opens p for ctx and returns a new description with one reference.
func (t *MountTable) Open(ctx *Context, p string, o OpenOptions) (*FileDescription, error) {
	flags := o.Flags
	if flags&unix.O_PATH != 0 {
		// O_PATH keeps only these; the rest are ignored, as Linux does.
		flags &= unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	w := t.walker(ctx)
	if flags&unix.O_TMPFILE == unix.O_TMPFILE {
		return w.openTmpfile(p, flags, o.Mode)
	}
	if flags&(unix.O_CREAT|unix.O_DIRECTORY) == unix.O_CREAT|unix.O_DIRECTORY {
		// Linux 6.4 and later: a directory cannot be made by open.
		return nil, unix.EINVAL
	}
	var (
		d       *Dentry
		created bool
		err     error
	)
	if flags&unix.O_CREAT != 0 {
		d, created, err = w.openCreate(p, flags, o.Mode)
	} else {
		d, err = w.resolvePath(w.start, p, flags&unix.O_NOFOLLOW == 0)
	}
	if err != nil {
		return nil, err
	}
	st, err := w.stat(d)
	if err != nil {
		return nil, err
	}
	if flags&unix.O_DIRECTORY != 0 && fileType(&st) != unix.S_IFDIR {
		// Before ELOOP: O_NOFOLLOW|O_DIRECTORY on a symlink is ENOTDIR.
		return nil, unix.ENOTDIR
	}
	if fileType(&st) == unix.S_IFLNK && flags&unix.O_PATH == 0 {
		// Only O_NOFOLLOW leaves a final symlink unfollowed.
		return nil, unix.ELOOP
	}
	return w.openDentry(d, &st, flags, o.Exec, created)
}

// OpenDentry opens the file d names, which the caller has resolved
// (execveat with AT_EMPTY_PATH, a magic link reopened), with the checks
// of open(2).
func (t *MountTable) OpenDentry(ctx *Context, d *Dentry, o OpenOptions) (*FileDescription, error) {
	flags := o.Flags
	if flags&(unix.O_CREAT|unix.O_TMPFILE) != 0 {
		return nil, unix.EINVAL
	}
	if flags&unix.O_PATH != 0 {
		flags &= unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	w := t.walker(ctx)
	st, err := w.stat(d)
	if err != nil {
		return nil, err
	}
	if flags&unix.O_DIRECTORY != 0 && fileType(&st) != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	if fileType(&st) == unix.S_IFLNK && flags&unix.O_PATH == 0 {
		return nil, unix.ELOOP
	}
	return w.openDentry(d, &st, flags, o.Exec, false)
}

func (w *walker) openDentry(d *Dentry, st *unix.Stat_t, flags int, exec, created bool) (*FileDescription, error) {
	t := w.t
	ctx := w.ctx
	if flags&unix.O_PATH != 0 {
		return t.describe(ctx, &pathFile{d: d}, d, st, flags), nil
	}
	if !created {
		if err := w.mayOpen(d, st, flags, exec); err != nil {
			return nil, err
		}
	}
	if fileType(st) == unix.S_IFIFO && t.fifo != nil {
		if s, ok := d.inode.(FIFOServer); !ok || !s.ServesFIFO() {
			f, err := t.fifo(ctx, d, flags&^openOnlyFlags)
			if err != nil {
				return nil, err
			}
			desc := t.describe(ctx, f, d, st, flags)
			desc.notifyFile(InOpen)
			return desc, nil
		}
	}
	if created || fileType(st) != unix.S_IFREG {
		// A new file is empty; truncating anything but a regular file
		// is a no-op.
		flags &^= unix.O_TRUNC
	}
	f, err := d.inode.Open(flags &^ (unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY | unix.O_CLOEXEC))
	if err != nil {
		return nil, err
	}
	desc := t.describe(ctx, f, d, st, flags)
	desc.notifyFile(InOpen)
	if flags&unix.O_TRUNC != 0 {
		// Linux truncates after the open: IN_OPEN, then IN_MODIFY.
		desc.notifyFile(InModify)
	}
	return desc, nil
}

// describe makes the description of f, opened from d (attributes st).
func (t *MountTable) describe(ctx *Context, f File, d *Dentry, st *unix.Stat_t, flags int) *FileDescription {
	root := ctx.Root
	if root == nil {
		root = t.Root()
	}
	p, _ := d.PathFrom(root)
	desc := NewDescription(f, p, flags&^openOnlyFlags)
	desc.Dentry = d
	notify.opened(desc, d, st)
	return desc
}

// mayOpen checks an open of an existing file: type, read-only mount and
// permission.
func (w *walker) mayOpen(d *Dentry, st *unix.Stat_t, flags int, exec bool) error {
	acc := flags & unix.O_ACCMODE
	typ := fileType(st)
	if exec {
		if typ == unix.S_IFDIR {
			return unix.EACCES
		}
		if typ != unix.S_IFREG {
			return unix.EACCES
		}
		if d.mount.opts.NoExec {
			return unix.EACCES
		}
		return w.ctx.Cred.may(st, MayExec)
	}
	if (typ == unix.S_IFCHR || typ == unix.S_IFBLK) && d.mount.opts.NoDev {
		return unix.EACCES
	}
	var want uint32
	if acc != unix.O_WRONLY {
		want |= MayRead
	}
	if acc != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
		want |= MayWrite
	}
	if typ == unix.S_IFDIR && want&MayWrite != 0 {
		return unix.EISDIR
	}
	if want&MayWrite != 0 && d.mount.ReadOnly() && writesData(st) {
		return unix.EROFS
	}
	return w.ctx.Cred.may(st, want)
}

// openCreate resolves p for an O_CREAT open: an existing file is
// returned (following a final symlink unless O_NOFOLLOW, even a dangling
// one, whose target is then created), a missing one is created.
func (w *walker) openCreate(p string, flags int, mode uint32) (*Dentry, bool, error) {
	dir, name, slash, err := w.walkParent(w.start, p)
	for {
		if err != nil {
			return nil, false, err
		}
		switch {
		case name == rootName || name == "." || name == "..":
			if flags&unix.O_EXCL != 0 {
				return nil, false, unix.EEXIST
			}
			return nil, false, unix.EISDIR
		case slash:
			return nil, false, unix.EISDIR
		}
		dst, err := w.searchable(dir)
		if err != nil {
			return nil, false, err
		}
		child, err := w.lookup(dir, name)
		if err == unix.ENOENT {
			if dir.mount.ReadOnly() {
				return nil, false, unix.EROFS
			}
			if err := w.ctx.Cred.may(&dst, MayWrite|MayExec); err != nil {
				return nil, false, err
			}
			c, mode := w.ctx.Cred.forNew(&dst, mode&0o7777, false)
			ino, err := dir.inode.Create(name, mode, c)
			if err != nil {
				return nil, false, err
			}
			notifyCreate(dir, &dst, name, false)
			return dir.child(name, ino), true, nil
		}
		if err != nil {
			return nil, false, err
		}
		if flags&unix.O_EXCL != 0 {
			return nil, false, unix.EEXIST
		}
		st, err := w.stat(child)
		if err != nil {
			return nil, false, err
		}
		switch fileType(&st) {
		case unix.S_IFLNK:
		case unix.S_IFDIR:
			// O_CREAT never opens a directory, whatever the access mode.
			return nil, false, unix.EISDIR
		default:
			return child, false, nil
		}
		if flags&unix.O_NOFOLLOW != 0 {
			return nil, false, unix.ELOOP
		}
		target, jump, lerr := w.readLink(child)
		if lerr != nil {
			return nil, false, lerr
		}
		if jump != nil {
			return jump, false, nil
		}
		dir, name, slash, err = w.walkParent(dir, target)
	}
}

// forNew returns the owner of a new file in a directory with attributes
// dst, and its mode: a set-group-ID directory gives new files its group
// (and new directories its set-group-ID bit); a set-group-ID bit for a
// group the creator is not in is dropped.
func (c Cred) forNew(dst *unix.Stat_t, mode uint32, dir bool) (Cred, uint32) {
	n := Cred{UID: c.UID, GID: c.GID, Groups: c.Groups}
	if dst.Mode&unix.S_ISGID != 0 {
		n.GID = dst.Gid
		if dir {
			mode |= unix.S_ISGID
		}
	}
	if !dir && mode&unix.S_ISGID != 0 && c.UID != 0 && !c.InGroup(n.GID) {
		mode &^= unix.S_ISGID
	}
	return n, mode
}

func (w *walker) openTmpfile(p string, flags int, mode uint32) (*FileDescription, error) {
	if acc := flags & unix.O_ACCMODE; acc != unix.O_WRONLY && acc != unix.O_RDWR {
		return nil, unix.EINVAL
	}
	dir, err := w.resolvePath(w.start, p, true)
	if err != nil {
		return nil, err
	}
	dst, err := w.stat(dir)
	if err != nil {
		return nil, err
	}
	if fileType(&dst) != unix.S_IFDIR {
		return nil, unix.ENOTDIR
	}
	tm, ok := dir.inode.(TmpfileMaker)
	if !ok {
		return nil, unix.EOPNOTSUPP
	}
	if dir.mount.ReadOnly() {
		return nil, unix.EROFS
	}
	if err := w.ctx.Cred.may(&dst, MayWrite|MayExec); err != nil {
		return nil, err
	}
	c, mode := w.ctx.Cred.forNew(&dst, mode&0o7777, false)
	// O_TMPFILE includes O_DIRECTORY, which the new file is not.
	flags &^= unix.O_TMPFILE
	ino, f, err := tm.Tmpfile(mode, flags&^openOnlyFlags, c)
	if err != nil {
		return nil, err
	}
	// The file has no name; its dentry carries one /proc can show, and
	// inotify reports events to the directory with, as Linux does.
	st, err := ino.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	name := "#" + strconv.FormatUint(st.Ino, 10)
	d := dir.child(name, ino)
	// O_EXCL makes the file one that linkat can never name.
	d.tmpfile = flags&unix.O_EXCL == 0
	desc := w.t.describe(w.ctx, f, d, &st, flags)
	notify.mu.Lock()
	desc.notify.unlinked = true
	notify.mu.Unlock()
	desc.notifyFile(InOpen)
	return desc, nil
}

// createParent resolves the parent directory of a file to make and checks
// what every creating call (mkdir, mknod, symlink, link) checks before
// calling the file system: the name is new, the mount writable, the
// directory writable.
func (w *walker) createParent(p string, isDir bool) (*Dentry, string, Cred, *unix.Stat_t, error) {
	dir, name, slash, err := w.walkParent(w.start, p)
	if err != nil {
		return nil, "", Cred{}, nil, err
	}
	if name == rootName || name == "." || name == ".." {
		return nil, "", Cred{}, nil, unix.EEXIST
	}
	dst, err := w.searchable(dir)
	if err != nil {
		return nil, "", Cred{}, nil, err
	}
	if len(name) > NameMax {
		return nil, "", Cred{}, nil, unix.ENAMETOOLONG
	}
	ro := dir.mount.ReadOnly()
	permErr := w.ctx.Cred.may(&dst, MayWrite|MayExec)
	if ro || permErr != nil || (slash && !isDir) {
		// These fail only for a name that does not exist yet: an
		// existing one is EEXIST first, as on Linux.
		if _, err := w.lookupHere(dir, name); err == nil {
			return nil, "", Cred{}, nil, unix.EEXIST
		} else if err != unix.ENOENT {
			return nil, "", Cred{}, nil, err
		}
		switch {
		case slash && !isDir:
			return nil, "", Cred{}, nil, unix.ENOENT
		case ro:
			return nil, "", Cred{}, nil, unix.EROFS
		}
		return nil, "", Cred{}, nil, permErr
	}
	return dir, name, w.ctx.Cred, &dst, nil
}

// Mkdir makes directory p with mode (umask applied).
func (t *MountTable) Mkdir(ctx *Context, p string, mode uint32) error {
	w := t.walker(ctx)
	dir, name, c, dst, err := w.createParent(p, true)
	if err != nil {
		return err
	}
	c, mode = c.forNew(dst, mode&(0o777|unix.S_ISVTX), true)
	if _, err := dir.inode.Mkdir(name, mode, c); err != nil {
		return err
	}
	notifyCreate(dir, dst, name, true)
	return nil
}

// Mknod makes a FIFO, socket or (mode S_IFREG or no type) regular file
// at p. Device nodes are refused: the sandbox has no devices to name.
func (t *MountTable) Mknod(ctx *Context, p string, mode uint32, dev uint64) error {
	switch mode & unix.S_IFMT {
	case 0, unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFDIR:
		return unix.EPERM
	default:
		return unix.EINVAL
	}
	w := t.walker(ctx)
	dir, name, c, dst, err := w.createParent(p, false)
	if err != nil {
		return err
	}
	typ := mode & unix.S_IFMT
	c, perm := c.forNew(dst, mode&0o7777, false)
	if typ == 0 || typ == unix.S_IFREG {
		_, err = dir.inode.Create(name, perm, c)
	} else {
		_, err = dir.inode.Mknod(name, typ|perm, 0, c)
	}
	if err != nil {
		return err
	}
	notifyCreate(dir, dst, name, false)
	return nil
}

// Symlink makes p a symlink to target.
func (t *MountTable) Symlink(ctx *Context, target, p string) error {
	if target == "" {
		return unix.ENOENT
	}
	if len(target) >= unix.PathMax {
		return unix.ENAMETOOLONG
	}
	w := t.walker(ctx)
	dir, name, c, dst, err := w.createParent(p, false)
	if err != nil {
		return err
	}
	c, _ = c.forNew(dst, 0o777, false)
	if _, err := dir.inode.Symlink(name, target, c); err != nil {
		return err
	}
	notifyCreate(dir, dst, name, false)
	return nil
}

// Link makes newp (for newCtx) a hard link to old, a dentry the caller
// resolved (following a final symlink or not, per AT_SYMLINK_FOLLOW).
func (t *MountTable) Link(ctx *Context, old *Dentry, newp string) error {
	w := t.walker(ctx)
	st, err := old.Stat()
	if err != nil {
		return err
	}
	// Linux checks in this order: the new name, the mount, who may link,
	// and only then the file itself (so a memfd, on a mount of its own,
	// is EXDEV).
	dir, name, c, dst, err := w.createParent(newp, false)
	if err != nil {
		return err
	}
	if dir.mount != old.mount {
		return unix.EXDEV
	}
	if !c.owns(&st) {
		// fs.protected_hardlinks (on by default): only the owner links a
		// file, or someone who could read and write it anyway, and never
		// a set-ID program.
		if fileType(&st) != unix.S_IFREG || st.Mode&unix.S_ISUID != 0 ||
			st.Mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP ||
			c.may(&st, MayRead|MayWrite) != nil {
			return unix.EPERM
		}
	}
	if fileType(&st) == unix.S_IFDIR {
		return unix.EPERM
	}
	if st.Nlink == 0 && !old.tmpfile {
		// A file removed while open (or an O_TMPFILE|O_EXCL one) cannot
		// get a name back.
		return unix.ENOENT
	}
	if err := dir.inode.Link(name, old.inode); err != nil {
		return err
	}
	notifyLink(old, &st, dir, dst, name)
	return nil
}

// removeParent resolves the parent of a file to remove and the file
// itself, without crossing a mount on it.
func (w *walker) removeParent(p string) (dir, child *Dentry, dst, st unix.Stat_t, slash bool, name string, err error) {
	var d *Dentry
	dir, name, slash, err = w.walkParent(w.start, p)
	if err != nil {
		return
	}
	if name == rootName || name == "." || name == ".." {
		return
	}
	if dst, err = w.searchable(dir); err != nil {
		return
	}
	if d, err = w.lookupHere(dir, name); err != nil {
		return
	}
	child = d
	st, err = w.stat(child)
	return
}

// mayRemove checks that the caller may remove child from dir: a writable
// mount and directory, and the sticky bit's rule.
func (w *walker) mayRemove(dir *Dentry, dst, st *unix.Stat_t) error {
	if dir.mount.ReadOnly() {
		return unix.EROFS
	}
	if err := w.ctx.Cred.may(dst, MayWrite|MayExec); err != nil {
		return err
	}
	c := w.ctx.Cred
	if dst.Mode&unix.S_ISVTX != 0 && c.UID != 0 && c.UID != st.Uid && c.UID != dst.Uid {
		return unix.EPERM
	}
	return nil
}

// Unlink removes the non-directory p.
func (t *MountTable) Unlink(ctx *Context, p string) error {
	w := t.walker(ctx)
	dir, child, dst, st, slash, name, err := w.removeParent(p)
	if err != nil {
		return err
	}
	if child == nil {
		// "/", "." or "..".
		return unix.EISDIR
	}
	if fileType(&st) == unix.S_IFDIR {
		return unix.EISDIR
	}
	if slash {
		return unix.ENOTDIR
	}
	if t.mountedOn(child) != nil {
		return unix.EBUSY
	}
	if err := w.mayRemove(dir, &dst, &st); err != nil {
		return err
	}
	if err := dir.inode.Unlink(name); err != nil {
		return err
	}
	notifyRemove(dir, &dst, child, &st, name)
	return nil
}

// Rmdir removes the empty directory p.
func (t *MountTable) Rmdir(ctx *Context, p string) error {
	w := t.walker(ctx)
	dir, child, dst, st, _, name, err := w.removeParent(p)
	if err != nil {
		return err
	}
	if child == nil {
		switch name {
		case ".":
			return unix.EINVAL
		case "..":
			return unix.ENOTEMPTY
		}
		return unix.EBUSY
	}
	if fileType(&st) != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	if t.mountedOn(child) != nil {
		return unix.EBUSY
	}
	if err := w.mayRemove(dir, &dst, &st); err != nil {
		return err
	}
	if err := dir.inode.Rmdir(name); err != nil {
		return err
	}
	notifyRemove(dir, &dst, child, &st, name)
	return nil
}

// renameat2 flags (linux/fs.h).
const (
	RenameNoReplace = 1 << 0
	RenameExchange  = 1 << 1
	RenameWhiteout  = 1 << 2
)

// Rename moves oldp (for oldCtx) to newp (for newCtx); flags are
// renameat2's.
func (t *MountTable) Rename(oldCtx *Context, oldp string, newCtx *Context, newp string, flags uint32) error {
	if flags&^(RenameNoReplace|RenameExchange|RenameWhiteout) != 0 ||
		flags&RenameExchange != 0 && flags&(RenameNoReplace|RenameWhiteout) != 0 {
		return unix.EINVAL
	}
	ow, nw := t.walker(oldCtx), t.walker(newCtx)
	oldDir, oldName, oldSlash, err := ow.walkParent(ow.start, oldp)
	if err != nil {
		return err
	}
	newDir, newName, newSlash, err := nw.walkParent(nw.start, newp)
	if err != nil {
		return err
	}
	if oldDir.mount != newDir.mount {
		return unix.EXDEV
	}
	special := func(n string) bool { return n == rootName || n == "." || n == ".." }
	if special(oldName) {
		return unix.EBUSY
	}
	if special(newName) {
		if flags&RenameNoReplace != 0 {
			return unix.EEXIST
		}
		return unix.EBUSY
	}
	odst, err := ow.searchable(oldDir)
	if err != nil {
		return err
	}
	ndst, err := nw.searchable(newDir)
	if err != nil {
		return err
	}
	if len(newName) > NameMax {
		return unix.ENAMETOOLONG
	}

	t.renameMu.Lock()
	defer t.renameMu.Unlock()
	old, err := ow.lookupHere(oldDir, oldName)
	if err != nil {
		return err
	}
	ost, err := old.Stat()
	if err != nil {
		return err
	}
	oldIsDir := fileType(&ost) == unix.S_IFDIR
	nu, err := nw.lookupHere(newDir, newName)
	var nst unix.Stat_t
	switch {
	case err == unix.ENOENT:
		nu = nil
		if flags&RenameExchange != 0 {
			return unix.ENOENT
		}
	case err != nil:
		return err
	default:
		if nst, err = nu.Stat(); err != nil {
			return err
		}
		if flags&RenameNoReplace != 0 {
			return unix.EEXIST
		}
	}
	newIsDir := nu != nil && fileType(&nst) == unix.S_IFDIR
	if flags&RenameExchange != 0 {
		if (oldSlash && !oldIsDir) || (newSlash && !newIsDir) {
			return unix.ENOTDIR
		}
	} else {
		if !oldIsDir && (oldSlash || newSlash) {
			return unix.ENOTDIR
		}
		if nu != nil {
			if oldIsDir && !newIsDir {
				return unix.ENOTDIR
			}
			if !oldIsDir && newIsDir {
				return unix.EISDIR
			}
		}
	}
	// A directory cannot move below itself, nor a directory replace one
	// of its own ancestors.
	under := func(d *Dentry, anc *Dentry) bool {
		return d.mount == anc.mount && (d.path == anc.path || strings.HasPrefix(d.path, anc.path+"/"))
	}
	if oldIsDir && under(newDir, old) {
		return unix.EINVAL
	}
	if nu != nil && under(oldDir, nu) {
		if flags&RenameExchange != 0 {
			return unix.EINVAL
		}
		return unix.ENOTEMPTY
	}
	if t.mountedOn(old) != nil || (nu != nil && t.mountedOn(nu) != nil) {
		return unix.EBUSY
	}
	if nu != nil && ost.Dev == nst.Dev && ost.Ino == nst.Ino && flags&RenameExchange == 0 {
		// Two names of one file: Linux does nothing and succeeds.
		return nil
	}
	if err := ow.mayRemove(oldDir, &odst, &ost); err != nil {
		return err
	}
	if nu != nil {
		if err := nw.mayRemove(newDir, &ndst, &nst); err != nil {
			return err
		}
	} else if err := nw.ctx.Cred.may(&ndst, MayWrite|MayExec); err != nil {
		return err
	}
	if oldDir.path != newDir.path {
		// Moving a directory rewrites its "..": that needs write
		// permission on the directory itself.
		if oldIsDir {
			if err := ow.ctx.Cred.may(&ost, MayWrite); err != nil {
				return err
			}
		}
		if flags&RenameExchange != 0 && newIsDir {
			if err := nw.ctx.Cred.may(&nst, MayWrite); err != nil {
				return err
			}
		}
	}
	if err := oldDir.inode.Rename(oldName, newDir.inode, newName, flags); err != nil {
		return err
	}
	from := renameSide{oldDir, &odst, oldName}
	to := renameSide{newDir, &ndst, newName}
	if flags&RenameExchange != 0 {
		notifyRename(from, to, old, &ost, nil, nil)
		notifyRename(to, from, nu, &nst, nil, nil)
	} else if nu != nil {
		notifyRename(from, to, old, &ost, nu, &nst)
	} else {
		notifyRename(from, to, old, &ost, nil, nil)
	}
	newPath := newDir.child(newName, nil).path
	if oldIsDir {
		t.moved(oldDir.mount, old.path, newPath)
	}
	if flags&RenameExchange != 0 && newIsDir {
		t.moved(oldDir.mount, nu.path, old.path)
	}
	return nil
}

// Access checks access(2)'s mode (R_OK|W_OK|X_OK, or F_OK) on d.
func (t *MountTable) Access(ctx *Context, d *Dentry, mode uint32) error {
	if mode == unix.F_OK {
		return nil
	}
	st, err := d.Stat()
	if err != nil {
		return err
	}
	if mode&unix.W_OK != 0 && d.mount.ReadOnly() && writesData(&st) {
		return unix.EROFS
	}
	if mode&unix.X_OK != 0 && fileType(&st) == unix.S_IFREG && d.mount.opts.NoExec {
		return unix.EACCES
	}
	return ctx.Cred.may(&st, mode&7)
}

// Readlink returns the target of the symlink d; EINVAL for anything else.
func (t *MountTable) Readlink(ctx *Context, d *Dentry) (string, error) {
	st, err := d.Stat()
	if err != nil {
		return "", err
	}
	if fileType(&st) != unix.S_IFLNK {
		return "", unix.EINVAL
	}
	if ml, ok := d.inode.(MagicLinker); ok {
		_, target, err := ml.MagicLink(ctx.Caller)
		return target, err
	}
	return d.inode.Readlink()
}

// stValid is ST_VALID: statfs's f_flags are meaningful (glibc's statvfs
// otherwise reads /proc/mounts).
const stValid = 0x20

// Statfs describes the file system holding d, with its mount's flags.
func Statfs(d *Dentry) (unix.Statfs_t, error) {
	st, err := d.inode.Statfs()
	if err != nil {
		return st, err
	}
	// f_flags are the mount's, as Linux's calculate_f_flags has them:
	// ST_VALID always, relatime (every mount here is, as /proc/mounts
	// says), and the read-only, nosuid, nodev and noexec options; of
	// what the file system says, only that it is read-only as a whole
	// (a host's flags behind a bind mount are not this mount's).
	st.Flags = st.Flags&unix.ST_RDONLY | stValid | unix.ST_RELATIME
	if d.mount.ReadOnly() {
		st.Flags |= unix.ST_RDONLY
	}
	for _, f := range []struct {
		on   bool
		flag int64
	}{{d.mount.opts.NoSuid, unix.ST_NOSUID}, {d.mount.opts.NoDev, unix.ST_NODEV}, {d.mount.opts.NoExec, unix.ST_NOEXEC}} {
		if f.on {
			st.Flags |= f.flag
		}
	}
	return st, nil
}

// Chmod changes d's permission bits: only its owner or root may; a
// set-group-ID bit for a group the caller is not in is dropped.
func Chmod(ctx *Context, d *Dentry, mode uint32) error {
	st, err := d.Stat()
	if err != nil {
		return err
	}
	if fileType(&st) == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	if d.mount.ReadOnly() {
		return unix.EROFS
	}
	c := ctx.Cred
	if !c.owns(&st) {
		return unix.EPERM
	}
	mode &= 0o7777
	if c.UID != 0 && fileType(&st) != unix.S_IFDIR && !c.InGroup(st.Gid) {
		mode &^= unix.S_ISGID
	}
	return setattr(d, &st, Attr{Mask: AttrMode, Mode: mode})
}

// setattr applies a to d (attributes st) and tells the watches.
func setattr(d *Dentry, st *unix.Stat_t, a Attr) error {
	if err := d.inode.Setattr(a); err != nil {
		return err
	}
	notifyAttr(d, st, a)
	return nil
}

// NoID is the "leave it" owner of chown(2) (-1).
const NoID = ^uint32(0)

// Chown changes d's owner and group (NoID leaves one as it is): root may
// give any; an owner may only change the group, to one of its own.
// Changing either of a non-directory clears its set-user-ID bit, and its
// set-group-ID bit when it is group-executable, as Linux does even for
// root.
func Chown(ctx *Context, d *Dentry, uid, gid uint32) error {
	st, err := d.Stat()
	if err != nil {
		return err
	}
	if d.mount.ReadOnly() {
		return unix.EROFS
	}
	c := ctx.Cred
	if c.UID != 0 {
		if uid != NoID && uid != st.Uid {
			return unix.EPERM
		}
		if gid != NoID && gid != st.Gid && (c.UID != st.Uid || !c.InGroup(gid)) {
			return unix.EPERM
		}
		if uid == NoID && gid == NoID && c.UID != st.Uid {
			return unix.EPERM
		}
	}
	var a Attr
	if uid != NoID {
		a.Mask |= AttrUID
		a.UID = uid
	}
	if gid != NoID {
		a.Mask |= AttrGID
		a.GID = gid
	}
	if typ := fileType(&st); typ != unix.S_IFDIR && typ != unix.S_IFLNK {
		mode := st.Mode & 0o7777
		kill := uint32(unix.S_ISUID)
		if mode&unix.S_IXGRP != 0 {
			kill |= unix.S_ISGID
		}
		if mode&kill != 0 {
			a.Mask |= AttrMode
			a.Mode = mode &^ kill
		}
	}
	if a.Mask == 0 {
		return nil
	}
	return setattr(d, &st, a)
}

// Utimes sets d's access and modification times. Each time may be
// UTIME_NOW or UTIME_OMIT in its Nsec. Setting both to now needs write
// permission or ownership; any other time needs ownership.
func Utimes(ctx *Context, d *Dentry, atime, mtime unix.Timespec) error {
	if atime.Nsec == unix.UTIME_OMIT && mtime.Nsec == unix.UTIME_OMIT {
		return nil
	}
	for _, ts := range []unix.Timespec{atime, mtime} {
		if ts.Nsec != unix.UTIME_NOW && ts.Nsec != unix.UTIME_OMIT && (ts.Nsec < 0 || ts.Nsec >= 1e9) {
			return unix.EINVAL
		}
	}
	st, err := d.Stat()
	if err != nil {
		return err
	}
	if d.mount.ReadOnly() {
		return unix.EROFS
	}
	c := ctx.Cred
	if !c.owns(&st) {
		now := (atime.Nsec == unix.UTIME_NOW || atime.Nsec == unix.UTIME_OMIT) &&
			(mtime.Nsec == unix.UTIME_NOW || mtime.Nsec == unix.UTIME_OMIT)
		if !now {
			return unix.EPERM
		}
		if err := c.may(&st, MayWrite); err != nil {
			return err
		}
	}
	now := unix.NsecToTimespec(time.Now().UnixNano())
	var a Attr
	if atime.Nsec != unix.UTIME_OMIT {
		a.Mask |= AttrAtime
		a.Atime = atime
		if atime.Nsec == unix.UTIME_NOW {
			a.Atime = now
		}
	}
	if mtime.Nsec != unix.UTIME_OMIT {
		a.Mask |= AttrMtime
		a.Mtime = mtime
		if mtime.Nsec == unix.UTIME_NOW {
			a.Mtime = now
		}
	}
	return setattr(d, &st, a)
}

// Truncate sets the size of the regular file d (truncate(2)).
func Truncate(ctx *Context, d *Dentry, size int64) error {
	if size < 0 {
		return unix.EINVAL
	}
	st, err := d.Stat()
	if err != nil {
		return err
	}
	switch fileType(&st) {
	case unix.S_IFDIR:
		return unix.EISDIR
	case unix.S_IFREG:
	default:
		return unix.EINVAL
	}
	if d.mount.ReadOnly() {
		return unix.EROFS
	}
	if err := ctx.Cred.may(&st, MayWrite); err != nil {
		return err
	}
	return setattr(d, &st, Attr{Mask: AttrSize, Size: size})
}

// Extended attribute limits (linux/limits.h).
const (
	XattrNameMax = 255
	XattrSizeMax = 65536
	xattrCreate  = 1
	xattrReplace = 2
)

// xattrCheck applies Linux's rules for who may touch which attribute
// namespace of d: user.* follows the file's permissions (and exists only
// on regular files and directories), trusted.* is root's, security.* and
// system.* are the file system's business.
func xattrCheck(ctx *Context, d *Dentry, name string, write bool) error {
	if name == "" || len(name) > XattrNameMax {
		return unix.ERANGE
	}
	st, err := d.Stat()
	if err != nil {
		return err
	}
	if write && d.mount.ReadOnly() {
		return unix.EROFS
	}
	c := ctx.Cred
	switch {
	case strings.HasPrefix(name, "user."):
		if typ := fileType(&st); typ != unix.S_IFREG && typ != unix.S_IFDIR {
			if write {
				return unix.EPERM
			}
			return unix.ENODATA
		}
		want := MayRead
		if write {
			want = MayWrite
		}
		return c.may(&st, want)
	case strings.HasPrefix(name, "trusted."):
		if c.UID != 0 {
			if write {
				return unix.EPERM
			}
			return unix.ENODATA
		}
	case strings.HasPrefix(name, "security."), strings.HasPrefix(name, "system."):
		if write && !c.owns(&st) {
			return unix.EPERM
		}
	default:
		return unix.EOPNOTSUPP
	}
	return nil
}

// Getxattr reads the extended attribute name of d.
func Getxattr(ctx *Context, d *Dentry, name string) ([]byte, error) {
	if err := xattrCheck(ctx, d, name, false); err != nil {
		return nil, err
	}
	return d.inode.Getxattr(name)
}

// Setxattr sets the extended attribute name of d; flags are
// XATTR_CREATE or XATTR_REPLACE.
func Setxattr(ctx *Context, d *Dentry, name string, value []byte, flags int) error {
	if flags&^(xattrCreate|xattrReplace) != 0 {
		return unix.EINVAL
	}
	if len(value) > XattrSizeMax {
		return unix.E2BIG
	}
	if err := xattrCheck(ctx, d, name, true); err != nil {
		return err
	}
	if err := d.inode.Setxattr(name, value, flags); err != nil {
		return err
	}
	notifyDentryStat(d, InAttrib)
	return nil
}

// Listxattr lists the extended attributes of d the caller may see
// (trusted.* only for root).
func Listxattr(ctx *Context, d *Dentry) ([]string, error) {
	names, err := d.inode.Listxattr()
	if err != nil {
		return nil, err
	}
	if ctx.Cred.UID != 0 {
		kept := names[:0:0]
		for _, n := range names {
			if !strings.HasPrefix(n, "trusted.") {
				kept = append(kept, n)
			}
		}
		names = kept
	}
	return names, nil
}

// Removexattr removes the extended attribute name of d.
func Removexattr(ctx *Context, d *Dentry, name string) error {
	if err := xattrCheck(ctx, d, name, true); err != nil {
		return err
	}
	if err := d.inode.Removexattr(name); err != nil {
		return err
	}
	notifyDentryStat(d, InAttrib)
	return nil
}

// pathFile is an O_PATH description: it names a file without opening it,
// so the file system is never asked; only fstat, fstatfs, fchdir and the
// *at calls use it.
type pathFile struct{ d *Dentry }

func (f *pathFile) Read([]byte) (int, error)                     { return 0, unix.EBADF }
func (f *pathFile) Write([]byte) (int, error)                    { return 0, unix.EBADF }
func (f *pathFile) Pread([]byte, int64) (int, error)             { return 0, unix.EBADF }
func (f *pathFile) Pwrite([]byte, int64) (int, error)            { return 0, unix.EBADF }
func (f *pathFile) Seek(int64, int) (int64, error)               { return 0, unix.EBADF }
func (f *pathFile) Stat() (unix.Stat_t, error)                   { return f.d.inode.Stat() }
func (f *pathFile) Getdents([]byte) (int, error)                 { return 0, unix.EBADF }
func (f *pathFile) Ioctl(uint64, uint64, Memory) (uint64, error) { return 0, unix.EBADF }
func (f *pathFile) Close() error                                 { return nil }
func (f *pathFile) Statfs(string) (unix.Statfs_t, error)         { return Statfs(f.d) }
