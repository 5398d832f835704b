package overlay

import (
	"errors"
	"sync"
	"sync/atomic"
	"weak"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/vfs"
)

// Inode is one overlay object: its lower inode, its upper one, or both. It
// implements vfs.Inode.
type Inode struct {
	fs *FS
	id uint64 // orders unrelated directories' locks
	// lower is the lower-layer inode, nil for an upper-only object. For a
	// directory it is nil too when the upper directory is opaque, so a
	// directory with a lower is a merged (or lower-only) one.
	lower vfs.Inode
	// upper is set once, on creation or copy-up, and read without locks.
	upper atomic.Pointer[tmpfs.Inode]
	// kind caches the S_IFMT bits, which copy-up preserves; 0 is unknown.
	kind atomic.Uint32

	mu      sync.Mutex
	parent  *Inode // nil for the root
	name    string
	removed bool // its name is gone: unlinked, removed or replaced

	dirMu   sync.RWMutex
	cacheMu sync.Mutex
	// children caches looked-up children by name, weakly.
	children map[string]weak.Pointer[Inode]
	sweepAt  int
}

// typ is the file type, looked up once.
func (x *Inode) typ() (uint32, error) {
	if k := x.kind.Load(); k != 0 {
		return k, nil
	}
	var k uint32
	if u := x.upper.Load(); u != nil {
		k = u.Type()
	} else {
		st, err := x.lower.Stat()
		if err != nil {
			return 0, err
		}
		k = st.Mode & unix.S_IFMT
	}
	x.kind.Store(k)
	return k, nil
}

func (x *Inode) isDir() bool {
	k, err := x.typ()
	return err == nil && k == unix.S_IFDIR
}

func (x *Inode) isRemoved() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.removed
}

func (x *Inode) parentName() (*Inode, string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.parent, x.name
}

// under reports whether x is d or lies below it.
func (x *Inode) under(d *Inode) bool {
	for p := x; p != nil; p, _ = p.parentName() {
		if p == d {
			return true
		}
	}
	return false
}

// layer is the inode operations go to: the upper one once there is one.
func (x *Inode) layer() vfs.Inode {
	if u := x.upper.Load(); u != nil {
		return u
	}
	return x.lower
}

// Stat implements vfs.Inode; see the package comment for st_dev, st_ino
// and st_nlink.
func (x *Inode) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	var err error
	if u := x.upper.Load(); u != nil {
		st, err = u.Stat()
		st.Ino = upperIno(u)
		if st.Mode&unix.S_IFMT == unix.S_IFDIR && x.lower != nil {
			st.Nlink = 1
		}
	} else {
		st, err = x.lower.Stat()
		if err == nil {
			// The VFS stats before it opens: remember the type, so Open
			// need not ask the lower layer (the host) again.
			x.kind.CompareAndSwap(0, st.Mode&unix.S_IFMT)
		}
	}
	if err != nil {
		return st, err
	}
	st.Dev = x.fs.dev
	return st, nil
}

// statxer is the VFS's Statxer, for inodes of the lower layer that have
// it.
type statxer interface {
	Statx(mask uint32) (unix.Statx_t, error)
}

// Statx implements vfs.Statxer: Stat's answer, with the birth time of
// the layer the file is on where that layer knows it.
func (x *Inode) Statx(mask uint32) (unix.Statx_t, error) {
	st, err := x.Stat()
	if err != nil {
		return unix.Statx_t{}, err
	}
	ts := func(t unix.Timespec) unix.StatxTimestamp {
		return unix.StatxTimestamp{Sec: t.Sec, Nsec: uint32(t.Nsec)}
	}
	sx := unix.Statx_t{
		Mask:    unix.STATX_BASIC_STATS,
		Blksize: uint32(st.Blksize), Nlink: uint32(st.Nlink),
		Uid: st.Uid, Gid: st.Gid, Mode: uint16(st.Mode), Ino: st.Ino,
		Size: uint64(st.Size), Blocks: uint64(st.Blocks),
		Atime: ts(st.Atim), Ctime: ts(st.Ctim), Mtime: ts(st.Mtim),
		Rdev_major: unix.Major(st.Rdev), Rdev_minor: unix.Minor(st.Rdev),
		Dev_major: unix.Major(st.Dev), Dev_minor: unix.Minor(st.Dev),
	}
	if mask&unix.STATX_BTIME != 0 {
		if l, ok := x.layer().(statxer); ok {
			if lx, err := l.Statx(unix.STATX_BTIME); err == nil && lx.Mask&unix.STATX_BTIME != 0 {
				sx.Mask |= unix.STATX_BTIME
				sx.Btime = lx.Btime
			}
		}
	}
	return sx, nil
}

// ino is the inode number Stat reports.
func (x *Inode) ino() uint64 {
	if u := x.upper.Load(); u != nil {
		return upperIno(u)
	}
	st, err := x.lower.Stat()
	if err != nil {
		return 0
	}
	return st.Ino
}

// upperIno is the inode number reported for an upper inode: its origin's
// if it was copied up, its own tagged otherwise.
func upperIno(u *tmpfs.Inode) uint64 {
	if o, ok := u.Origin(); ok {
		return o
	}
	return u.Ino() | upperInoBit
}

// Readlink implements vfs.Inode.
func (x *Inode) Readlink() (string, error) { return x.layer().Readlink() }

// Statfs implements vfs.Inode: the upper layer's figures, since that is
// where new data goes, under the overlay's magic number.
func (x *Inode) Statfs() (unix.Statfs_t, error) {
	st, err := x.fs.upper.RootInode().Statfs()
	st.Type = Magic
	return st, err
}

// Setattr implements vfs.Inode, copying the inode up first. A lower file
// being truncated has only what survives the truncation copied.
func (x *Inode) Setattr(a vfs.Attr) error {
	if a.Mask == 0 {
		return nil
	}
	limit := int64(-1)
	if a.Mask&vfs.AttrSize != 0 {
		k, err := x.typ()
		if err != nil {
			return err
		}
		switch {
		case k == unix.S_IFDIR:
			return unix.EISDIR
		case k != unix.S_IFREG || a.Size < 0:
			return unix.EINVAL
		}
		limit = a.Size
	}
	if err := x.copyUp(limit); err != nil {
		return err
	}
	return x.upper.Load().Setattr(a)
}

// Getxattr implements vfs.Inode.
func (x *Inode) Getxattr(name string) ([]byte, error) { return x.layer().Getxattr(name) }

// Listxattr implements vfs.Inode.
func (x *Inode) Listxattr() ([]string, error) { return x.layer().Listxattr() }

// Setxattr implements vfs.Inode, copying the inode up first.
func (x *Inode) Setxattr(name string, value []byte, flags int) error {
	if err := x.copyUp(-1); err != nil {
		return err
	}
	return x.upper.Load().Setxattr(name, value, flags)
}

// Removexattr implements vfs.Inode, copying the inode up first.
func (x *Inode) Removexattr(name string) error {
	if x.upper.Load() == nil {
		// Nothing to remove is no reason to copy up.
		if _, err := x.lower.Getxattr(name); err != nil {
			return err
		}
	}
	if err := x.copyUp(-1); err != nil {
		return err
	}
	return x.upper.Load().Removexattr(name)
}

// Open implements vfs.Inode. A regular file opened for writing or with
// O_TRUNC is copied up first (without its data, for O_TRUNC); otherwise
// the open goes to the layer the file is on, and a read-only file open on
// the lower layer moves to the upper copy once there is one, as Linux's
// does since 4.19.
func (x *Inode) Open(flags int) (vfs.File, error) {
	k, err := x.typ()
	if err != nil {
		return nil, err
	}
	if flags&unix.O_PATH != 0 {
		f, err := x.layer().Open(flags)
		if err != nil {
			return nil, err
		}
		return &file{x: x, flags: flags, f: f, onUpper: true}, nil
	}
	if k == unix.S_IFDIR {
		if flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0 {
			return nil, unix.EISDIR
		}
		return &dirFile{x: x}, nil
	}
	if flags&unix.O_DIRECTORY != 0 {
		return nil, unix.ENOTDIR
	}
	if k == unix.S_IFREG && (flags&unix.O_ACCMODE != unix.O_RDONLY || flags&unix.O_TRUNC != 0) {
		limit := int64(-1)
		if flags&unix.O_TRUNC != 0 {
			limit = 0
		}
		if err := x.copyUp(limit); err != nil {
			return nil, err
		}
	}
	u := x.upper.Load()
	var f vfs.File
	if u != nil {
		f, err = u.Open(flags)
	} else {
		f, err = x.lower.Open(flags)
	}
	if err != nil {
		return nil, err
	}
	return &file{x: x, flags: flags, f: f, onUpper: u != nil || k != unix.S_IFREG}, nil
}

// Directory operations.

// Lookup implements vfs.Inode.
func (d *Inode) Lookup(name string) (vfs.Inode, error) {
	if !d.isDir() {
		return nil, unix.ENOTDIR
	}
	d.dirMu.RLock()
	defer d.dirMu.RUnlock()
	if d.isRemoved() {
		return nil, unix.ENOENT
	}
	c, err := d.lookupLocked(name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// lookupLocked finds child name of d, whose dirMu the caller holds.
func (d *Inode) lookupLocked(name string) (*Inode, error) {
	if c := d.cached(name); c != nil {
		return c, nil
	}
	var u *tmpfs.Inode
	if up := d.upper.Load(); up != nil {
		c, err := up.Child(name)
		switch {
		case err == nil && c.IsWhiteout():
			return nil, unix.ENOENT
		case err == nil:
			u = c
		case !errors.Is(err, unix.ENOENT):
			return nil, err
		}
	}
	var l vfs.Inode
	if d.lower != nil && (u == nil || u.Type() == unix.S_IFDIR && !u.Opaque()) {
		c, err := d.lower.Lookup(name)
		switch {
		case err == nil:
			l = c
		case !errors.Is(err, unix.ENOENT) && u == nil:
			return nil, err
		}
		if l != nil && u != nil {
			// An upper directory merges only with a lower directory.
			if st, err := l.Stat(); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				l = nil
			}
		}
	}
	if u == nil && l == nil {
		return nil, unix.ENOENT
	}
	if u != nil && u.Type() != unix.S_IFDIR {
		// A non-directory never uses its lower: it was copied up or
		// replaced. Its origin, if any, is on the upper inode.
		l = nil
	}
	return d.remember(name, d.fs.newInode(d, name, l, u)), nil
}

// lowerHas reports whether d's lower directory (if it shows through) has
// name, so removing the name from the upper one needs a whiteout.
func (d *Inode) lowerHas(name string) bool {
	if d.lower == nil {
		return false
	}
	_, err := d.lower.Lookup(name)
	return err == nil
}

// The child cache.

func (d *Inode) cached(name string) *Inode {
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if wp, ok := d.children[name]; ok {
		if c := wp.Value(); c != nil {
			return c
		}
		delete(d.children, name)
	}
	return nil
}

// remember caches c as child name unless a live child is cached already,
// and returns the one that is.
func (d *Inode) remember(name string, c *Inode) *Inode {
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if wp, ok := d.children[name]; ok {
		if old := wp.Value(); old != nil {
			return old
		}
	}
	d.setCacheLocked(name, c)
	return c
}

// setCache makes c child name, replacing what was cached.
func (d *Inode) setCache(name string, c *Inode) {
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	d.setCacheLocked(name, c)
}

func (d *Inode) setCacheLocked(name string, c *Inode) {
	if d.children == nil {
		d.children = make(map[string]weak.Pointer[Inode])
	}
	d.children[name] = weak.Make(c)
	if len(d.children) >= d.sweepAt {
		// Drop the entries of children nobody holds any more, now and
		// then, so the map stays about as big as what is in use.
		for n, wp := range d.children {
			if wp.Value() == nil {
				delete(d.children, n)
			}
		}
		d.sweepAt = 2*len(d.children) + 64
	}
}

func (d *Inode) forget(name string) {
	d.cacheMu.Lock()
	delete(d.children, name)
	d.cacheMu.Unlock()
}

func (x *Inode) markRemoved() {
	x.mu.Lock()
	x.removed = true
	x.mu.Unlock()
}
