package tmpfs

import (
	"slices"
	"sort"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// Directory offsets (getdents' d_off, telldir) are cookies: "." is 1,
// ".." is 2 and every entry gets the next number of its directory when it
// is added. A reader resumes after the last cookie it returned, so
// concurrent creates and unlinks never make it skip or repeat an entry
// that stays put: removed entries vanish, new ones show up at the end.
const (
	cookieDot    = 1
	cookieDotDot = 2
	firstCookie  = 3
)

// dirData is a directory's entries, by name and in cookie order.
type dirData struct {
	entries map[string]*dirent
	// order holds the entries by increasing cookie, including removed ones
	// (tombstones) until there are enough to compact, so a removal costs
	// no copying of the slice.
	order   []*dirent
	tombs   int
	next    uint64 // the next entry's cookie
	subdirs uint32 // for st_nlink: 2 + subdirectories
	removed bool   // rmdir'd: nothing may be added, getdents is ENOENT
}

type dirent struct {
	name    string
	cookie  uint64
	inode   *Inode
	removed bool
}

func (d *dirData) add(name string, i *Inode) {
	if d.entries == nil {
		d.entries = make(map[string]*dirent)
	}
	e := &dirent{name: name, cookie: d.next, inode: i}
	d.next++
	d.entries[name] = e
	d.order = append(d.order, e)
}

func (d *dirData) remove(e *dirent) {
	delete(d.entries, e.name)
	e.removed = true
	d.tombs++
	if d.tombs > 32 && d.tombs > len(d.order)/2 {
		d.order = slices.DeleteFunc(d.order, func(e *dirent) bool { return e.removed })
		d.tombs = 0
	}
}

// after returns the index in order of the first entry with a cookie
// greater than c.
func (d *dirData) after(c uint64) int {
	return sort.Search(len(d.order), func(k int) bool { return d.order[k].cookie > c })
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." {
		return unix.EINVAL
	}
	if len(name) > nameMax {
		return unix.ENAMETOOLONG
	}
	return nil
}

// Lookup implements vfs.Inode.
func (i *Inode) Lookup(name string) (vfs.Inode, error) {
	c, err := i.Child(name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Child is Lookup with the concrete type. Whiteouts are found like any
// other entry; the overlay is the one to hide them.
func (i *Inode) Child(name string) (*Inode, error) {
	if i.dir == nil {
		return nil, unix.ENOTDIR
	}
	if len(name) > nameMax {
		return nil, unix.ENAMETOOLONG
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	e, ok := i.dir.entries[name]
	if !ok {
		return nil, unix.ENOENT
	}
	return e.inode, nil
}

// newChild makes the inode for a new entry of directory i, owned as
// inode_init_owner does: by the caller, except that a set-group-ID
// directory passes on its group (and, to subdirectories, the bit itself),
// and a new set-group-ID executable in such a directory loses the bit
// unless its creator belongs to the group. uid 0 stands for the
// CAP_FSETID a root caller has. The caller holds i.mu.
func (i *Inode) newChild(kind, mode uint32, c vfs.Cred) *Inode {
	mode &= 0o7777
	uid, gid := c.UID, c.GID
	if i.mode&unix.S_ISGID != 0 {
		gid = i.gid
		if kind == unix.S_IFDIR {
			mode |= unix.S_ISGID
		} else if mode&(unix.S_ISGID|unix.S_IXGRP) == unix.S_ISGID|unix.S_IXGRP && c.UID != 0 && !inGroup(c, gid) {
			mode &^= unix.S_ISGID
		}
	}
	return i.fs.newInode(kind, mode, uid, gid)
}

func inGroup(c vfs.Cred, gid uint32) bool {
	return c.GID == gid || slices.Contains(c.Groups, gid)
}

// create adds a new entry made by mk to directory i.
func (i *Inode) create(name string, mk func() *Inode) (*Inode, error) {
	if i.dir == nil {
		return nil, unix.ENOTDIR
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.dir.removed {
		return nil, unix.ENOENT
	}
	if _, ok := i.dir.entries[name]; ok {
		return nil, unix.EEXIST
	}
	if err := i.fs.reserveInode(); err != nil {
		return nil, err
	}
	c := mk()
	i.dir.add(name, c)
	if c.kind == unix.S_IFDIR {
		c.parent.Store(i)
		i.dir.subdirs++
	}
	t := now()
	i.mtime, i.ctime = t, t
	return c, nil
}

// Create implements vfs.Inode.
func (i *Inode) Create(name string, mode uint32, c vfs.Cred) (vfs.Inode, error) {
	n, err := i.create(name, func() *Inode { return i.newChild(unix.S_IFREG, mode, c) })
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Mkdir implements vfs.Inode.
func (i *Inode) Mkdir(name string, mode uint32, c vfs.Cred) (vfs.Inode, error) {
	n, err := i.create(name, func() *Inode { return i.newChild(unix.S_IFDIR, mode, c) })
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Mknod implements vfs.Inode: FIFOs, sockets, character and block devices
// (their rdev is kept), and regular files for a type of 0 or S_IFREG, as
// mknod(2) allows. Whether the caller may make a device is the VFS's call.
func (i *Inode) Mknod(name string, mode uint32, dev uint64, c vfs.Cred) (vfs.Inode, error) {
	kind := mode & unix.S_IFMT
	switch kind {
	case 0:
		kind = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
	case unix.S_IFDIR:
		return nil, unix.EPERM
	default:
		return nil, unix.EINVAL
	}
	n, err := i.create(name, func() *Inode {
		n := i.newChild(kind, mode, c)
		if kind == unix.S_IFCHR || kind == unix.S_IFBLK {
			n.rdev = dev
		}
		return n
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Symlink implements vfs.Inode. Symlinks are 0777 as on Linux.
func (i *Inode) Symlink(name, target string, c vfs.Cred) (vfs.Inode, error) {
	if target == "" {
		return nil, unix.ENOENT
	}
	if len(target) > symlinkMax {
		return nil, unix.ENAMETOOLONG
	}
	n, err := i.create(name, func() *Inode {
		n := i.newChild(unix.S_IFLNK, 0o777, c)
		n.target = target
		return n
	})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Whiteout adds an overlay whiteout named name: a character device 0/0
// owned by root, marked so the overlay can tell it from one a workload
// made. It does not count against the inode bound, so that restoring a
// whiteout after a failed operation cannot fail for lack of inodes.
func (i *Inode) Whiteout(name string) error {
	if i.dir == nil {
		return unix.ENOTDIR
	}
	if err := checkName(name); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.dir.removed {
		return unix.ENOENT
	}
	if _, ok := i.dir.entries[name]; ok {
		return unix.EEXIST
	}
	w := i.fs.newInode(unix.S_IFCHR, 0, 0, 0)
	w.whiteout = true
	i.fs.inodes.Add(1)
	i.dir.add(name, w)
	t := now()
	i.mtime, i.ctime = t, t
	return nil
}

// ClearWhiteouts removes every whiteout from a directory, so that a
// directory the overlay sees as empty can be removed or replaced.
func (i *Inode) ClearWhiteouts() {
	if i.dir == nil {
		return
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, e := range i.dir.entries {
		if e.inode.whiteout {
			i.dir.remove(e)
			e.inode.mu.Lock()
			e.inode.nlink = 0
			e.inode.maybeReleaseLocked()
			e.inode.mu.Unlock()
		}
	}
}

// Entry is one name of a directory, as Entries lists it.
type Entry struct {
	Name  string
	Inode *Inode
}

// Entries lists a directory in getdents order (without "." and ".."),
// whiteouts included.
func (i *Inode) Entries() []Entry {
	if i.dir == nil {
		return nil
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	es := make([]Entry, 0, len(i.dir.entries))
	for _, e := range i.dir.order {
		if !e.removed {
			es = append(es, Entry{e.name, e.inode})
		}
	}
	return es
}

// Tmpfile makes a regular file with no name in directory i and opens it
// with flags, for O_TMPFILE (and memfd_create, in a tmpfs of its own): it
// implements the VFS's TmpfileMaker. Link may give the file a name while
// it has no links; if none has, its data goes when the last file opened
// on it closes.
func (i *Inode) Tmpfile(mode uint32, flags int, c vfs.Cred) (vfs.Inode, vfs.File, error) {
	n, err := i.tmpfile(mode, c)
	if err != nil {
		return nil, nil, err
	}
	f, err := n.Open(flags)
	if err != nil {
		n.mu.Lock()
		freed := n.maybeReleaseLocked()
		n.mu.Unlock()
		n.fs.acct.free(freed)
		return nil, nil, err
	}
	return n, f, nil
}

// NewTmpfile makes a nameless file like Tmpfile, without opening it: it
// lives until Link names it or a file opened on it closes.
func (i *Inode) NewTmpfile(mode uint32, c vfs.Cred) (*Inode, error) { return i.tmpfile(mode, c) }

func (i *Inode) tmpfile(mode uint32, c vfs.Cred) (*Inode, error) {
	if i.dir == nil {
		return nil, unix.ENOTDIR
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.dir.removed {
		return nil, unix.ENOENT
	}
	if err := i.fs.reserveInode(); err != nil {
		return nil, err
	}
	n := i.newChild(unix.S_IFREG, mode, c)
	n.nlink = 0
	n.linkable = true
	return n, nil
}

// Link implements vfs.Inode.
func (i *Inode) Link(name string, target vfs.Inode) error {
	t, ok := target.(*Inode)
	if !ok || t.fs != i.fs {
		return unix.EXDEV
	}
	if i.dir == nil {
		return unix.ENOTDIR
	}
	if t.kind == unix.S_IFDIR {
		return unix.EPERM
	}
	if err := checkName(name); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.dir.removed {
		return unix.ENOENT
	}
	if _, ok := i.dir.entries[name]; ok {
		return unix.EEXIST
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.released || t.nlink == 0 && !t.linkable {
		return unix.ENOENT
	}
	if t.nlink == ^uint32(0) {
		return unix.EMLINK
	}
	t.nlink++
	t.linkable = false
	tm := now()
	t.ctime = tm
	i.dir.add(name, t)
	i.mtime, i.ctime = tm, tm
	return nil
}

// Unlink implements vfs.Inode.
func (i *Inode) Unlink(name string) error {
	if i.dir == nil {
		return unix.ENOTDIR
	}
	if err := checkName(name); err != nil {
		return err
	}
	i.mu.Lock()
	e, ok := i.dir.entries[name]
	if !ok {
		i.mu.Unlock()
		return unix.ENOENT
	}
	c := e.inode
	if c.kind == unix.S_IFDIR {
		i.mu.Unlock()
		return unix.EISDIR
	}
	i.dir.remove(e)
	t := now()
	i.mtime, i.ctime = t, t
	c.mu.Lock()
	c.nlink--
	c.ctime = t
	freed := c.maybeReleaseLocked()
	c.mu.Unlock()
	i.mu.Unlock()
	i.fs.acct.free(freed)
	return nil
}

// Rmdir implements vfs.Inode.
func (i *Inode) Rmdir(name string) error {
	if i.dir == nil {
		return unix.ENOTDIR
	}
	if err := checkName(name); err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	e, ok := i.dir.entries[name]
	if !ok {
		return unix.ENOENT
	}
	c := e.inode
	if c.kind != unix.S_IFDIR {
		return unix.ENOTDIR
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dir.entries) > 0 {
		return unix.ENOTEMPTY
	}
	i.dir.remove(e)
	i.dir.subdirs--
	t := now()
	i.mtime, i.ctime = t, t
	c.removeDirLocked(t)
	return nil
}

// removeDirLocked marks a directory gone once its last name is.
func (i *Inode) removeDirLocked(t unix.Timespec) {
	i.dir.removed = true
	i.ctime = t
	i.xattrs = nil
	i.fs.inodes.Add(-1)
}

// isDescendant reports whether directory i is d or lies below it. Parents
// change only under renameMu, which the caller holds.
func (i *Inode) isDescendant(d *Inode) bool {
	for p := i; p != nil; p = p.parent.Load() {
		if p == d {
			return true
		}
	}
	return false
}

// lockDirs locks one or two directories in the package's lock order and
// returns the function that unlocks them.
func lockDirs(a, b *Inode) func() {
	if a == b {
		a.mu.Lock()
		return a.mu.Unlock
	}
	first, second := a, b
	switch {
	case b.isDescendant(a):
	case a.isDescendant(b):
		first, second = b, a
	case b.ino < a.ino:
		first, second = b, a
	}
	first.mu.Lock()
	second.mu.Lock()
	return func() {
		second.mu.Unlock()
		first.mu.Unlock()
	}
}

// Rename implements vfs.Inode, with renameat2's RENAME_NOREPLACE and
// RENAME_EXCHANGE. Renaming a file onto another name of itself does
// nothing, as POSIX says. A replaced directory must be empty; a directory
// cannot move below itself (EINVAL).
func (i *Inode) Rename(oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) != 0 ||
		flags == unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE {
		return unix.EINVAL
	}
	nd, ok := newDir.(*Inode)
	if !ok || nd.fs != i.fs {
		return unix.EXDEV
	}
	od := i
	if od.dir == nil || nd.dir == nil {
		return unix.ENOTDIR
	}
	if err := checkName(oldName); err != nil {
		return err
	}
	if err := checkName(newName); err != nil {
		return err
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0

	fs := i.fs
	fs.renameMu.Lock()
	defer fs.renameMu.Unlock()
	unlock := lockDirs(od, nd)
	defer unlock()
	if od.dir.removed || nd.dir.removed {
		return unix.ENOENT
	}
	oe, ok := od.dir.entries[oldName]
	if !ok {
		return unix.ENOENT
	}
	src := oe.inode
	ne := nd.dir.entries[newName]
	var dst *Inode
	if ne != nil {
		dst = ne.inode
	}
	if exchange && dst == nil {
		return unix.ENOENT
	}
	if dst == src {
		return nil
	}
	if dst != nil && flags&unix.RENAME_NOREPLACE != 0 {
		return unix.EEXIST
	}
	srcDir := src.kind == unix.S_IFDIR
	dstDir := dst != nil && dst.kind == unix.S_IFDIR
	// Checks that need the tree's shape come before locking the children:
	// past them, neither child is an ancestor of a locked directory, so
	// locking them after their parents keeps the lock order.
	if srcDir && nd.isDescendant(src) {
		return unix.EINVAL
	}
	if dstDir && od.isDescendant(dst) {
		if exchange {
			return unix.EINVAL
		}
		// The target is an ancestor of the source, so not empty.
		return unix.ENOTEMPTY
	}
	if !exchange && dst != nil {
		if srcDir && !dstDir {
			return unix.ENOTDIR
		}
		if !srcDir && dstDir {
			return unix.EISDIR
		}
	}
	a, b := src, dst
	if b != nil && b.ino < a.ino {
		a, b = b, a
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if b != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
	}
	if !exchange && dstDir && len(dst.dir.entries) > 0 {
		return unix.ENOTEMPTY
	}

	t := now()
	var freed []uint64
	if exchange {
		oe.inode, ne.inode = dst, src
		if od != nd {
			if srcDir {
				od.dir.subdirs--
				nd.dir.subdirs++
				src.parent.Store(nd)
			}
			if dstDir {
				nd.dir.subdirs--
				od.dir.subdirs++
				dst.parent.Store(od)
			}
		}
		dst.ctime = t
	} else {
		if dst != nil {
			nd.dir.remove(ne)
			if dstDir {
				nd.dir.subdirs--
				dst.removeDirLocked(t)
			} else {
				dst.nlink--
				dst.ctime = t
				freed = dst.maybeReleaseLocked()
			}
		}
		od.dir.remove(oe)
		nd.dir.add(newName, src)
		if srcDir {
			od.dir.subdirs--
			nd.dir.subdirs++
			src.parent.Store(nd)
		}
	}
	src.ctime = t
	od.mtime, od.ctime = t, t
	nd.mtime, nd.ctime = t, t
	// A replaced file's frames go back with the locks still held: the
	// memory file's lock is a leaf, and a rename rarely frees any.
	fs.acct.free(freed)
	return nil
}
