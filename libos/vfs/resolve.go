package vfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Limits of path resolution, as Linux has them.
const (
	// MaxSymlinks is how many symlinks one path walk may follow before
	// it fails with ELOOP.
	MaxSymlinks = 40
	// NameMax is the longest file name (one path component).
	NameMax = 255
)

// Context is who walks a path and where a relative path starts.
type Context struct {
	// Root is the caller's root directory: absolute paths and absolute
	// symlink targets start there, and ".." does not climb above it.
	Root *Dentry
	// Start is where a relative path starts: the working directory, or
	// the directory of the dirfd an *at call named.
	Start *Dentry
	// Cred is who is asking, for permission checks (the file system
	// ids; access(2) passes the real ones).
	Cred Cred
	// Resolve holds openat2's RESOLVE_* flags for this walk.
	Resolve uint64
	// Caller is the task walking (a *kernel.Task), for links whose target
	// depends on who follows them (see MagicLinker).
	Caller any
}

// MagicLinker is implemented by symlink inodes whose target depends on
// the caller or that lead straight to a file rather than to a path
// (/proc/self, /proc/PID/cwd, /proc/PID/fd/N). Following one, the walk
// jumps to the returned dentry when it is not nil, and otherwise resolves
// target like an ordinary symlink's; readlink(2) shows target.
// RESOLVE_NO_MAGICLINKS refuses to follow links that return a dentry.
type MagicLinker interface {
	MagicLink(caller any) (d *Dentry, target string, err error)
}

// FileLinker is implemented by magic links that stand for an open file
// with no dentry (/proc/PID/fd/N of a pipe): following one reaches that
// file, as on Linux, where bash opens /dev/fd/63 for a <(...) pipe.
type FileLinker interface {
	// Linked returns the file; ok is false if there is none (then the
	// link's text is resolved).
	Linked() (f File, ok bool, err error)
}

// Reopener opens an already open file again with open(2)'s flags, for a
// new description (a pipe reached through /proc/PID/fd/N gets a new end);
// the kernel installs one (SetReopener).
type Reopener func(f File, flags int) (File, error)

// SetReopener installs how files reached through a FileLinker are opened.
func (t *MountTable) SetReopener(fn Reopener) { t.reopen = fn }

// linkedInode is the inode of a file reached through a FileLinker: it
// stats as the file and opens by reopening it.
type linkedInode struct {
	ReadOnlyInode
	t *MountTable
	f File
}

// Stat implements Inode.
func (l *linkedInode) Stat() (unix.Stat_t, error) { return l.f.Stat() }

// ServesFIFO implements FIFOServer: a pipe reached this way is reopened,
// not looked up as a named FIFO.
func (l *linkedInode) ServesFIFO() bool { return true }

// Open implements Inode.
func (l *linkedInode) Open(flags int) (File, error) {
	if l.t.reopen == nil {
		return nil, unix.ENXIO
	}
	return l.t.reopen(l.f, flags)
}

// LookupFlags change how Lookup treats the last component.
type LookupFlags int

// Lookup flags.
const (
	// LookupFollow follows a final symlink (stat, not lstat).
	LookupFollow LookupFlags = 1 << iota
	// LookupDirectory requires the result to be a directory (ENOTDIR).
	LookupDirectory
	// LookupEmptyPath makes "" name Start itself (AT_EMPTY_PATH).
	LookupEmptyPath
)

// rootName is the "last component" of a path made only of slashes.
const rootName = "/"

// walker is the state of one path walk.
type walker struct {
	t       *MountTable
	ctx     *Context
	start   *Dentry // where relative paths start
	root    *Dentry // where absolute paths start and ".." stops
	scoped  bool    // RESOLVE_BENEATH: leaving root is an error, not a stop
	resolve uint64
	links   int

	// The attributes of the dentry the walk stepped onto last, so the
	// next step does not stat the same inode again to check it is a
	// searchable directory.
	lastD  *Dentry
	lastSt unix.Stat_t
}

func (t *MountTable) walker(ctx *Context) *walker {
	w := &walker{t: t, ctx: ctx, root: ctx.Root, resolve: ctx.Resolve}
	if w.root == nil {
		w.root = t.Root()
	}
	w.start = ctx.Start
	if w.start == nil {
		w.start = w.root
	}
	if ctx.Resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) != 0 {
		// Both scope the walk to the starting directory; BENEATH fails
		// where IN_ROOT clamps.
		w.root = w.start
		w.scoped = ctx.Resolve&unix.RESOLVE_BENEATH != 0
	}
	return w
}

// stat returns d's attributes, from the walk's cache when d is the
// dentry it has just stepped onto.
func (w *walker) stat(d *Dentry) (unix.Stat_t, error) {
	if d == w.lastD {
		return w.lastSt, nil
	}
	st, err := d.inode.Stat()
	if err != nil {
		return st, err
	}
	w.lastD, w.lastSt = d, st
	return st, nil
}

// forget drops the cached attributes after a change to the file.
func (w *walker) forget() { w.lastD = nil }

// nextComponent splits off the first component of p (which has no
// leading slash). slash reports whether a slash followed it, which for the
// last component means the path had a trailing slash.
func nextComponent(p string) (name, rest string, slash bool) {
	i := strings.IndexByte(p, '/')
	if i < 0 {
		return p, "", false
	}
	return p[:i], strings.TrimLeft(p[i:], "/"), true
}

// walkParent resolves every component of p but the last, following
// symlinks on the way, and returns the directory reached, the last
// component and whether a slash followed it. A path of only slashes ends
// at the root with the name "/".
func (w *walker) walkParent(start *Dentry, p string) (dir *Dentry, name string, slash bool, err error) {
	if p == "" {
		return nil, "", false, unix.ENOENT
	}
	if len(p) >= unix.PathMax {
		return nil, "", false, unix.ENAMETOOLONG
	}
	cur := start
	if p[0] == '/' {
		if w.scoped {
			return nil, "", false, unix.EXDEV
		}
		cur = w.root
		p = strings.TrimLeft(p, "/")
		if p == "" {
			return cur, rootName, false, nil
		}
	}
	for {
		name, rest, slash := nextComponent(p)
		if rest == "" {
			return cur, name, slash, nil
		}
		if cur, err = w.step(cur, name, true); err != nil {
			return nil, "", false, err
		}
		p = rest
	}
}

// searchable checks that dir is a directory the caller may search.
func (w *walker) searchable(dir *Dentry) (unix.Stat_t, error) {
	st, err := w.stat(dir)
	if err != nil {
		return st, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return st, unix.ENOTDIR
	}
	return st, w.ctx.Cred.may(&st, MayExec)
}

// step moves from dir to its component name, crossing mounts, and
// follows the result if it is a symlink and follow is set.
func (w *walker) step(dir *Dentry, name string, follow bool) (*Dentry, error) {
	if _, err := w.searchable(dir); err != nil {
		return nil, err
	}
	switch name {
	case ".":
		return dir, nil
	case "..":
		return w.dotdot(dir)
	}
	child, err := w.lookup(dir, name)
	if err != nil {
		return nil, err
	}
	if !follow {
		return child, nil
	}
	return w.follow(dir, child)
}

// lookupHere finds name in dir without crossing a mount that sits on it.
func (w *walker) lookupHere(dir *Dentry, name string) (*Dentry, error) {
	if len(name) > NameMax {
		return nil, unix.ENAMETOOLONG
	}
	ino, err := dir.inode.Lookup(name)
	if err != nil {
		return nil, err
	}
	return dir.child(name, ino), nil
}

// lookup finds name in dir and goes to the root of whatever is mounted
// there.
func (w *walker) lookup(dir *Dentry, name string) (*Dentry, error) {
	d, err := w.lookupHere(dir, name)
	if err != nil {
		return nil, err
	}
	return w.crossMounts(d)
}

// crossMounts goes from d to the root of the topmost mount on it.
func (w *walker) crossMounts(d *Dentry) (*Dentry, error) {
	for {
		m := w.t.mountedOn(d)
		if m == nil {
			return d, nil
		}
		if w.resolve&unix.RESOLVE_NO_XDEV != 0 {
			return nil, unix.EXDEV
		}
		d = m.root
	}
}

// dotdot is "..": the parent directory, except at the walk's root (where
// it stays, or fails under RESOLVE_BENEATH), and from a mount's root it is
// the parent of the mount point.
func (w *walker) dotdot(d *Dentry) (*Dentry, error) {
	for {
		if d.Same(w.root) {
			if w.scoped {
				return nil, unix.EXDEV
			}
			return d, nil
		}
		if d.parent != nil {
			break
		}
		if d.mount.parent == nil {
			// The top of the mount tree, outside the caller's root (a
			// directory left outside a chroot): it is its own parent.
			return d, nil
		}
		if w.resolve&unix.RESOLVE_NO_XDEV != 0 {
			return nil, unix.EXDEV
		}
		d = d.mount.point
	}
	return w.crossMounts(d.parent)
}

// follow resolves d if it is a symlink found in dir; anything else is
// returned as is.
func (w *walker) follow(dir, d *Dentry) (*Dentry, error) {
	st, err := w.stat(d)
	if err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return d, nil
	}
	target, jump, err := w.readLink(d)
	if err != nil {
		return nil, err
	}
	if jump != nil {
		return jump, nil
	}
	return w.resolvePath(dir, target, true)
}

// readLink counts one more symlink followed and returns where it leads:
// a dentry for a magic link, else the target path.
func (w *walker) readLink(d *Dentry) (string, *Dentry, error) {
	if w.resolve&unix.RESOLVE_NO_SYMLINKS != 0 {
		return "", nil, unix.ELOOP
	}
	w.links++
	if w.links > MaxSymlinks {
		return "", nil, unix.ELOOP
	}
	if ml, ok := d.inode.(MagicLinker); ok {
		jump, target, err := ml.MagicLink(w.ctx.Caller)
		if err != nil {
			return "", nil, err
		}
		if fl, ok := d.inode.(FileLinker); ok && jump == nil {
			if f, ok, err := fl.Linked(); err != nil {
				return "", nil, err
			} else if ok {
				if w.resolve&unix.RESOLVE_NO_MAGICLINKS != 0 {
					return "", nil, unix.ELOOP
				}
				// A link to an open file with no name (a pipe): the walk
				// ends at the file itself.
				return "", d.parent.child(d.name, &linkedInode{t: w.t, f: f}), nil
			}
		}
		if jump != nil {
			if w.resolve&unix.RESOLVE_NO_MAGICLINKS != 0 {
				return "", nil, unix.ELOOP
			}
			if w.resolve&(unix.RESOLVE_BENEATH|unix.RESOLVE_IN_ROOT) != 0 {
				// A jump could land anywhere: a scoped walk may not take it.
				return "", nil, unix.EXDEV
			}
			return "", jump, nil
		}
		if target == "" {
			return "", nil, unix.ENOENT
		}
		return target, nil, nil
	}
	target, err := d.inode.Readlink()
	if err != nil {
		return "", nil, err
	}
	if target == "" {
		return "", nil, unix.ENOENT
	}
	return target, nil, nil
}

// resolvePath walks all of p from start. follow says whether a final
// symlink is followed; a trailing slash always follows it and requires a
// directory.
func (w *walker) resolvePath(start *Dentry, p string, follow bool) (*Dentry, error) {
	dir, name, slash, err := w.walkParent(start, p)
	if err != nil {
		return nil, err
	}
	return w.last(dir, name, slash, follow)
}

// last resolves the final component name in dir.
func (w *walker) last(dir *Dentry, name string, slash, follow bool) (*Dentry, error) {
	if name == rootName {
		return dir, nil
	}
	d, err := w.step(dir, name, follow || slash)
	if err != nil {
		return nil, err
	}
	if slash {
		if err := w.isDir(d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// isDir fails with ENOTDIR unless d is a directory.
func (w *walker) isDir(d *Dentry) error {
	st, err := w.stat(d)
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	return nil
}

// LookupStat is Lookup that also returns the attributes of what it
// found, which the walk has usually fetched already (stat(2) then costs
// the file system no second call).
func (t *MountTable) LookupStat(ctx *Context, p string, flags LookupFlags) (*Dentry, unix.Stat_t, error) {
	w := t.walker(ctx)
	d, err := w.lookupFlags(p, flags)
	if err != nil {
		return nil, unix.Stat_t{}, err
	}
	st, err := w.stat(d)
	return d, st, err
}

// Lookup resolves p for ctx.
func (t *MountTable) Lookup(ctx *Context, p string, flags LookupFlags) (*Dentry, error) {
	return t.walker(ctx).lookupFlags(p, flags)
}

func (w *walker) lookupFlags(p string, flags LookupFlags) (*Dentry, error) {
	var d *Dentry
	if p == "" {
		if flags&LookupEmptyPath == 0 {
			return nil, unix.ENOENT
		}
		d = w.start
	} else {
		var err error
		if d, err = w.resolvePath(w.start, p, flags&LookupFollow != 0); err != nil {
			return nil, err
		}
	}
	if flags&LookupDirectory != 0 {
		if err := w.isDir(d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Permission bits asked for, as in a mode's "other" triplet.
const (
	MayExec  uint32 = 1
	MayWrite uint32 = 2
	MayRead  uint32 = 4
)

// may checks whether c may access a file with attributes st as want asks.
// Root passes every check but executing a file nobody may execute.
func (c Cred) may(st *unix.Stat_t, want uint32) error {
	if c.UID == 0 {
		if want&MayExec != 0 && st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Mode&0o111 == 0 {
			return unix.EACCES
		}
		return nil
	}
	var granted uint32
	switch {
	case st.Uid == c.UID:
		granted = st.Mode >> 6
	case c.InGroup(st.Gid):
		granted = st.Mode >> 3
	default:
		granted = st.Mode
	}
	if want&^granted&7 != 0 {
		return unix.EACCES
	}
	return nil
}

// May reports with EACCES whether c may access a file with attributes st
// as want (MayRead|MayWrite|MayExec) asks.
func (c Cred) May(st *unix.Stat_t, want uint32) error { return c.may(st, want) }

// InGroup reports whether gid is c's group or one of its supplementary
// groups.
func (c Cred) InGroup(gid uint32) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// owns reports whether c owns a file with attributes st, or is root.
func (c Cred) owns(st *unix.Stat_t) bool { return c.UID == 0 || c.UID == st.Uid }
