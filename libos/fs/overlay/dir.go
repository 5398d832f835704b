package overlay

import (
	"errors"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/vfs"
)

// add makes a new entry name in directory d with mk, in the upper layer.
// A whiteout in the way is taken out first (and put back if mk fails); a
// directory made over one is opaque, so the lower directory of that name
// that was removed stays out of sight.
func (d *Inode) add(name string, mk func(up *tmpfs.Inode) (*tmpfs.Inode, error)) (*Inode, error) {
	if !d.isDir() {
		return nil, unix.ENOTDIR
	}
	if err := d.copyUp(-1); err != nil {
		return nil, err
	}
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if d.isRemoved() {
		return nil, unix.ENOENT
	}
	if _, err := d.lookupLocked(name); err == nil {
		return nil, unix.EEXIST
	} else if !errors.Is(err, unix.ENOENT) {
		return nil, err
	}
	up := d.upper.Load()
	whiteout := false
	if w, err := up.Child(name); err == nil && w.IsWhiteout() {
		if err := up.Unlink(name); err != nil {
			return nil, err
		}
		whiteout = true
	}
	u, err := mk(up)
	if err != nil {
		if whiteout {
			_ = up.Whiteout(name)
		}
		return nil, err
	}
	if whiteout && u.Type() == unix.S_IFDIR {
		u.SetOpaque(true)
	}
	c := d.fs.newInode(d, name, nil, u)
	d.setCache(name, c)
	return c, nil
}

// Create implements vfs.Inode.
func (d *Inode) Create(name string, mode uint32, c vfs.Cred) (vfs.Inode, error) {
	return d.addInode(name, func(up *tmpfs.Inode) (vfs.Inode, error) { return up.Create(name, mode, c) })
}

// Mkdir implements vfs.Inode.
func (d *Inode) Mkdir(name string, mode uint32, c vfs.Cred) (vfs.Inode, error) {
	return d.addInode(name, func(up *tmpfs.Inode) (vfs.Inode, error) { return up.Mkdir(name, mode, c) })
}

// Mknod implements vfs.Inode.
func (d *Inode) Mknod(name string, mode uint32, dev uint64, c vfs.Cred) (vfs.Inode, error) {
	return d.addInode(name, func(up *tmpfs.Inode) (vfs.Inode, error) { return up.Mknod(name, mode, dev, c) })
}

// Symlink implements vfs.Inode.
func (d *Inode) Symlink(name, target string, c vfs.Cred) (vfs.Inode, error) {
	return d.addInode(name, func(up *tmpfs.Inode) (vfs.Inode, error) { return up.Symlink(name, target, c) })
}

func (d *Inode) addInode(name string, mk func(up *tmpfs.Inode) (vfs.Inode, error)) (vfs.Inode, error) {
	c, err := d.add(name, func(up *tmpfs.Inode) (*tmpfs.Inode, error) {
		n, err := mk(up)
		if err != nil {
			return nil, err
		}
		return n.(*tmpfs.Inode), nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Tmpfile makes a nameless regular file in directory d and opens it with
// flags, for O_TMPFILE (the VFS's TmpfileMaker); Link gives it a name. It
// lives in the upper layer, as Linux's does.
func (d *Inode) Tmpfile(mode uint32, flags int, c vfs.Cred) (vfs.Inode, vfs.File, error) {
	if !d.isDir() {
		return nil, nil, unix.ENOTDIR
	}
	if err := d.copyUp(-1); err != nil {
		return nil, nil, err
	}
	u, uf, err := d.upper.Load().Tmpfile(mode, flags, c)
	if err != nil {
		return nil, nil, err
	}
	x := d.fs.newInode(nil, "", nil, u.(*tmpfs.Inode))
	x.removed = true
	return x, &file{x: x, flags: flags, f: uf, onUpper: true}, nil
}

// Link implements vfs.Inode. A lower file is copied up first, so the new
// name is a link to the copy (and the lower file keeps its own links), as
// Linux's overlay without an index does.
func (d *Inode) Link(name string, target vfs.Inode) error {
	x, ok := target.(*Inode)
	if !ok || x.fs != d.fs {
		return unix.EXDEV
	}
	if x.isDir() {
		return unix.EPERM
	}
	if x.upper.Load() == nil {
		if x.isRemoved() {
			return unix.ENOENT
		}
		if err := x.copyUp(-1); err != nil {
			return err
		}
	}
	xu := x.upper.Load()
	_, err := d.add(name, func(up *tmpfs.Inode) (*tmpfs.Inode, error) {
		if err := up.Link(name, xu); err != nil {
			return nil, err
		}
		return xu, nil
	})
	return err
}

// Unlink implements vfs.Inode. A name the lower layer has becomes a
// whiteout.
func (d *Inode) Unlink(name string) error {
	if !d.isDir() {
		return unix.ENOTDIR
	}
	if err := d.copyUp(-1); err != nil {
		return err
	}
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if d.isRemoved() {
		return unix.ENOENT
	}
	c, err := d.lookupLocked(name)
	if err != nil {
		return err
	}
	if c.isDir() {
		return unix.EISDIR
	}
	return d.removeLocked(name, c)
}

// removeLocked takes child c, found as name, out of d: its upper entry
// goes, and a whiteout takes its place if the lower layer has the name.
func (d *Inode) removeLocked(name string, c *Inode) error {
	up := d.upper.Load()
	if cu := c.upper.Load(); cu != nil {
		var err error
		if cu.Type() == unix.S_IFDIR {
			cu.ClearWhiteouts()
			err = up.Rmdir(name)
		} else {
			err = up.Unlink(name)
		}
		if err != nil {
			return err
		}
	}
	if c.lower != nil || d.lowerHas(name) {
		if err := up.Whiteout(name); err != nil {
			return err
		}
	}
	d.forget(name)
	c.markRemoved()
	return nil
}

// Rmdir implements vfs.Inode. A directory is empty if all it shows is
// nothing: whiteouts over every lower entry count as empty.
func (d *Inode) Rmdir(name string) error {
	if !d.isDir() {
		return unix.ENOTDIR
	}
	if err := d.copyUp(-1); err != nil {
		return err
	}
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if d.isRemoved() {
		return unix.ENOENT
	}
	c, err := d.lookupLocked(name)
	if err != nil {
		return err
	}
	if !c.isDir() {
		return unix.ENOTDIR
	}
	c.dirMu.Lock()
	defer c.dirMu.Unlock()
	if empty, err := c.emptyLocked(); err != nil {
		return err
	} else if !empty {
		return unix.ENOTEMPTY
	}
	return d.removeLocked(name, c)
}

// emptyLocked reports whether directory x shows no entries; the caller
// holds x.dirMu.
func (x *Inode) emptyLocked() (bool, error) {
	es, err := x.entriesLocked()
	if err != nil {
		return false, err
	}
	return len(es) == 0, nil
}

// lockDirs locks the dirMu of one or two directories in the lock order.
func lockDirs(a, b *Inode) func() {
	if a == b {
		a.dirMu.Lock()
		return a.dirMu.Unlock
	}
	first, second := a, b
	switch {
	case b.under(a):
	case a.under(b):
		first, second = b, a
	case b.id < a.id:
		first, second = b, a
	}
	first.dirMu.Lock()
	second.dirMu.Lock()
	return func() {
		second.dirMu.Unlock()
		first.dirMu.Unlock()
	}
}

// Rename implements vfs.Inode, with RENAME_NOREPLACE and RENAME_EXCHANGE.
// A lower non-directory is copied up and then renamed, leaving a whiteout
// at its old name; a directory with lower content cannot move (EXDEV), as
// with Linux's overlay without redirect_dir. A directory that lands on a
// name the lower layer has is made opaque.
func (s *Inode) Rename(oldName string, newDir vfs.Inode, newName string, flags uint32) error {
	if flags&^(unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE) != 0 ||
		flags == unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE {
		return unix.EINVAL
	}
	t, ok := newDir.(*Inode)
	if !ok || t.fs != s.fs {
		return unix.EXDEV
	}
	if !s.isDir() || !t.isDir() {
		return unix.ENOTDIR
	}
	exchange := flags&unix.RENAME_EXCHANGE != 0

	fs := s.fs
	fs.renameMu.Lock()
	defer fs.renameMu.Unlock()
	if err := s.copyUp(-1); err != nil {
		return err
	}
	if err := t.copyUp(-1); err != nil {
		return err
	}
	unlock := lockDirs(s, t)
	defer unlock()
	if s.isRemoved() || t.isRemoved() {
		return unix.ENOENT
	}
	old, err := s.lookupLocked(oldName)
	if err != nil {
		return err
	}
	nw, err := t.lookupLocked(newName)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if exchange && nw == nil {
		return unix.ENOENT
	}
	if nw == old || nw != nil && old.upper.Load() != nil && nw.upper.Load() == old.upper.Load() {
		// Two names of one file: nothing to do.
		return nil
	}
	if nw != nil && flags&unix.RENAME_NOREPLACE != 0 {
		return unix.EEXIST
	}
	oldDir := old.isDir()
	newIsDir := nw != nil && nw.isDir()
	if oldDir && old.lower != nil || exchange && newIsDir && nw.lower != nil {
		return unix.EXDEV
	}
	if oldDir && t.under(old) {
		return unix.EINVAL
	}
	if newIsDir && s.under(nw) {
		if exchange {
			return unix.EINVAL
		}
		return unix.ENOTEMPTY
	}
	if !exchange && nw != nil {
		if oldDir && !newIsDir {
			return unix.ENOTDIR
		}
		if !oldDir && newIsDir {
			return unix.EISDIR
		}
		if newIsDir {
			nw.dirMu.Lock()
			defer nw.dirMu.Unlock()
			if empty, err := nw.emptyLocked(); err != nil {
				return err
			} else if !empty {
				return unix.ENOTEMPTY
			}
		}
	}
	if old.upper.Load() == nil {
		if _, err := old.copyUpLocked(s, -1); err != nil {
			return err
		}
	}
	if exchange && nw.upper.Load() == nil {
		if _, err := nw.copyUpLocked(t, -1); err != nil {
			return err
		}
	}
	su, tu := s.upper.Load(), t.upper.Load()

	if exchange {
		if err := su.Rename(oldName, tu, newName, unix.RENAME_EXCHANGE); err != nil {
			return err
		}
		if oldDir && t.lowerHas(newName) {
			old.upper.Load().SetOpaque(true)
		}
		if newIsDir && s.lowerHas(oldName) {
			nw.upper.Load().SetOpaque(true)
		}
		old.move(t, newName)
		nw.move(s, oldName)
		s.setCache(oldName, nw)
		t.setCache(newName, old)
		return nil
	}

	whiteout := false
	if w, err := tu.Child(newName); err == nil && w.IsWhiteout() {
		if err := tu.Unlink(newName); err != nil {
			return err
		}
		whiteout = true
	}
	if newIsDir {
		if nu := nw.upper.Load(); nu != nil {
			nu.ClearWhiteouts()
		}
	}
	if err := su.Rename(oldName, tu, newName, 0); err != nil {
		if whiteout {
			_ = tu.Whiteout(newName)
		}
		return err
	}
	if oldDir && t.lowerHas(newName) {
		old.upper.Load().SetOpaque(true)
	}
	if s.lowerHas(oldName) {
		if err := su.Whiteout(oldName); err != nil {
			return err
		}
	}
	s.forget(oldName)
	if nw != nil {
		nw.markRemoved()
	}
	old.move(t, newName)
	t.setCache(newName, old)
	return nil
}

// move records x's new place after a rename.
func (x *Inode) move(parent *Inode, name string) {
	x.mu.Lock()
	x.parent, x.name = parent, name
	x.mu.Unlock()
}
