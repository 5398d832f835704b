package overlay

import (
	"errors"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/vfs"
)

// copyUp gives x an upper inode, copying its parents up first. limit
// bounds the data copied from a regular file (-1: all of it), for a copy-up
// that a truncation is about to cut short. The caller holds no lock of x
// or its parent.
func (x *Inode) copyUp(limit int64) error {
	for {
		if x.upper.Load() != nil {
			return nil
		}
		p, _ := x.parentName()
		if p == nil {
			// Only the root has no parent, and it always has an upper.
			return nil
		}
		if err := p.copyUp(-1); err != nil {
			return err
		}
		p.dirMu.Lock()
		retry, err := x.copyUpLocked(p, limit)
		p.dirMu.Unlock()
		if !retry {
			return err
		}
	}
}

// copyUpLocked copies x up into p, which the caller has found to be its
// parent and whose dirMu it holds. It asks for a retry if x moved to
// another parent meanwhile.
func (x *Inode) copyUpLocked(p *Inode, limit int64) (retry bool, err error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.upper.Load() != nil {
		return false, nil
	}
	if x.parent != p {
		return true, nil
	}
	if x.removed {
		// Copying up a file whose name is gone would bring the name back.
		return false, unix.ENOENT
	}
	pu := p.upper.Load()
	if e, err := pu.Child(x.name); err == nil && !e.IsWhiteout() {
		// Another Inode of the same name got there first (the cache lost
		// this one for a while); share its copy.
		x.upper.Store(e)
		return false, nil
	}
	st, err := x.lower.Stat()
	if err != nil {
		return false, err
	}
	cred := vfs.Cred{UID: st.Uid, GID: st.Gid}
	perm := st.Mode & 0o7777
	var u *tmpfs.Inode
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		u, err = copyFile(pu, x.name, x.lower, st, limit)
		if err != nil {
			return false, err
		}
	case unix.S_IFDIR:
		n, err := pu.Mkdir(x.name, perm, cred)
		if err != nil {
			return false, err
		}
		u = n.(*tmpfs.Inode)
	case unix.S_IFLNK:
		target, err := x.lower.Readlink()
		if err != nil {
			return false, err
		}
		n, err := pu.Symlink(x.name, target, cred)
		if err != nil {
			return false, err
		}
		u = n.(*tmpfs.Inode)
	default:
		n, err := pu.Mknod(x.name, st.Mode, st.Rdev, cred)
		if err != nil {
			return false, err
		}
		u = n.(*tmpfs.Inode)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		// A regular file got these before it was linked in; the rest get
		// them while the parent's lock hides them from the overlay's view.
		if err := setAttrs(u, st); err != nil {
			if u.Type() == unix.S_IFDIR {
				pu.Rmdir(x.name)
			} else {
				pu.Unlink(x.name)
			}
			return false, err
		}
		copyXattrs(x.lower, u)
		setOrigin(u, st)
	}
	x.upper.Store(u)
	return false, nil
}

// setAttrs gives a copy its original's mode, owner and times. ctime cannot
// be kept: it records the copy's change, as on Linux.
func setAttrs(u *tmpfs.Inode, st unix.Stat_t) error {
	a := vfs.Attr{
		Mask: vfs.AttrUID | vfs.AttrGID | vfs.AttrAtime | vfs.AttrMtime,
		UID:  st.Uid, GID: st.Gid,
		Atime: st.Atim, Mtime: st.Mtim,
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		// A symlink's permission bits are always 0777.
		a.Mask |= vfs.AttrMode
		a.Mode = st.Mode & 0o7777
	}
	return u.Setattr(a)
}

// setOrigin makes the copy report its original's inode number, so that
// copy-up does not change st_ino, which find, fts and tar compare across
// calls. A non-directory with other links in the lower layer is the
// exception: the copy no longer shares their data, so sharing their
// number would make it look like one of them (to tar, say); it reports
// its own, as Linux's overlay without an index does.
func setOrigin(u *tmpfs.Inode, st unix.Stat_t) {
	if st.Mode&unix.S_IFMT == unix.S_IFDIR || st.Nlink <= 1 {
		u.SetOrigin(st.Ino)
	}
}

// copyXattrs copies what extended attributes the upper layer can hold;
// namespaces it cannot (system.*) are dropped, as Linux's copy-up does
// for attributes the upper file system refuses.
func copyXattrs(from vfs.Inode, to *tmpfs.Inode) {
	names, err := from.Listxattr()
	if err != nil {
		return
	}
	for _, n := range names {
		v, err := from.Getxattr(n)
		if err != nil {
			continue
		}
		_ = to.Setxattr(n, v, 0)
	}
}

// copyBuf is how much of a file copy-up reads at a time.
const copyBuf = 128 << 10

// copyFile copies a lower regular file into a new upper file named name
// in pu, complete with attributes, before giving it the name: a failure
// (the quota running out) leaves nothing behind, and nobody sees a half
// copy. Pages of zeroes are not written, so holes stay holes.
func copyFile(pu *tmpfs.Inode, name string, lower vfs.Inode, st unix.Stat_t, limit int64) (*tmpfs.Inode, error) {
	t, err := pu.NewTmpfile(st.Mode&0o7777, vfs.Cred{UID: st.Uid, GID: st.Gid})
	if err != nil {
		return nil, err
	}
	// The open file keeps the nameless copy alive until it is linked, and
	// lets it go if anything fails first.
	tf, err := t.Open(unix.O_RDWR)
	if err != nil {
		return nil, err
	}
	defer tf.Close()
	size := st.Size
	if limit >= 0 && limit < size {
		size = limit
	}
	if size > 0 {
		if err := copyData(tf, lower, size); err != nil {
			return nil, err
		}
	}
	if err := t.Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: size}); err != nil {
		return nil, err
	}
	if err := setAttrs(t, st); err != nil {
		return nil, err
	}
	copyXattrs(lower, t)
	setOrigin(t, st)
	if err := pu.Link(name, t); err != nil {
		return nil, err
	}
	return t, nil
}

func copyData(to vfs.File, lower vfs.Inode, size int64) error {
	lf, err := lower.Open(unix.O_RDONLY)
	if err != nil {
		return err
	}
	defer lf.Close()
	buf := make([]byte, copyBuf)
	for off := int64(0); off < size; {
		n, err := lf.Pread(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		if n == 0 {
			if err == nil {
				break // the lower file is shorter than it was
			}
			continue
		}
		for k := 0; k < n; k += 4096 {
			chunk := buf[k:min(k+4096, n)]
			if allZero(chunk) {
				continue
			}
			if _, err := to.Pwrite(chunk, off+int64(k)); err != nil {
				return err
			}
		}
		off += int64(n)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
