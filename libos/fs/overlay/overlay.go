// Package overlay is a union of a read-only lower file system and a tmpfs
// upper one, as Linux's overlayfs builds one from a single lower layer. It
// is the container's default root file system: the lower layer is the
// image (a dirfs over the host rootfs, read-only), and every change the
// workload makes lands in the upper tmpfs, inside the sandbox's memory
// quota, so the host tree is never written.
//
// The rules are Linux's:
//   - A name in the upper directory hides the same name in the lower one;
//     a directory present in both is merged, unless the upper one is
//     opaque.
//   - Changing a lower file (opening it for writing, truncating it,
//     changing its attributes or extended attributes, linking or renaming
//     it) first copies it up: its data, mode, owner, times and extended
//     attributes go to the upper layer, after the chain of its parent
//     directories.
//   - Removing a name the lower layer has leaves a whiteout in the upper
//     directory; a directory made over a whiteout is opaque.
//   - Renaming a directory that has lower content is EXDEV (no
//     redirect_dir), so mv falls back to copying.
//   - st_dev is the overlay's own; st_ino is the lower file's for anything
//     that has a lower origin (so copy-up does not change it, except for a
//     file with several lower links, see setOrigin), the upper tmpfs inode
//     number with the top bit set for files that exist only in the upper
//     layer, so the two ranges do not collide as long as the lower's
//     numbers stay below 2^63. Merged directories report st_nlink 1, which
//     tells find not to count subdirectories.
//
// Whiteouts, opaque directories and copy-up origins are markers on tmpfs
// inodes (see tmpfs.Inode.Whiteout), never extended attributes, so a
// workload can neither see nor forge them.
//
// # Locking
//
// The VFS resolves paths itself and keeps the inodes it got; copy-up must
// therefore change the very Inode the VFS holds. Each directory Inode
// caches its children by name (weakly, so the cache holds nothing alive),
// so a name maps to one Inode for as long as anybody holds it.
//
// Locks, in the order they are taken:
//
//  1. FS.renameMu, held by Rename for its whole run.
//  2. Inode.dirMu of directories: it guards the directory's namespace as
//     the overlay sees it (its upper entries, whiteouts and child cache);
//     readers (Lookup, listing) share it, changes hold it exclusively.
//     A parent is locked before its child; only Rename holds two
//     directories that are not parent and child, in increasing id order,
//     and it holds renameMu so the tree's shape cannot change meanwhile.
//  3. Inode.mu, which guards an inode's parent, name and removed flag, and
//     serializes its copy-up. Copying an inode up holds its parent's
//     dirMu, then its own mu.
//  4. Inode.cacheMu, a leaf guarding the child cache map.
//  5. The upper tmpfs's and the lower file system's own locks, inside
//     their calls.
//
// Copy-up of an inode's parent chain happens before any lock is taken on
// the inode itself, from the root down, each step holding one parent.
package overlay

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/vfs"
)

// Magic is OVERLAYFS_SUPER_MAGIC, the f_type statfs reports.
const Magic = unix.OVERLAYFS_SUPER_MAGIC

// upperInoBit marks the inode numbers of upper-only files, so they cannot
// equal those of lower files, which report the lower's own numbers.
const upperInoBit = 1 << 63

// Options configure an overlay.
type Options struct {
	// Dev is the device number reported as st_dev; 0 picks an anonymous
	// one.
	Dev uint64
}

// nextDev numbers the anonymous devices of overlays made without one.
var nextDev atomic.Uint32

// FS is one overlay instance. It implements vfs.FS.
type FS struct {
	dev   uint64
	upper *tmpfs.FS
	root  *Inode
	ids   atomic.Uint64
	// renameMu serializes renames; see the package comment.
	renameMu sync.Mutex
}

// New makes an overlay of lower (the root directory of a read-only file
// system) and upper (an empty tmpfs) with an anonymous device number.
func New(lower vfs.Inode, upper *tmpfs.FS) *FS {
	return NewWithOptions(lower, upper, Options{})
}

// NewWithOptions is New with options.
//
// The upper root takes the lower root's mode, owner, times and extended
// attributes, since the merged root shows the upper's.
func NewWithOptions(lower vfs.Inode, upper *tmpfs.FS, opts Options) *FS {
	dev := opts.Dev
	if dev == 0 {
		dev = unix.Mkdev(0, 0x100+nextDev.Add(1))
	}
	fs := &FS{dev: dev, upper: upper}
	ur := upper.RootInode()
	if st, err := lower.Stat(); err == nil {
		_ = ur.Setattr(vfs.Attr{
			Mask: vfs.AttrMode | vfs.AttrUID | vfs.AttrGID | vfs.AttrAtime | vfs.AttrMtime,
			Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid,
			Atime: st.Atim, Mtime: st.Mtim,
		})
		copyXattrs(lower, ur)
		ur.SetOrigin(st.Ino)
	}
	fs.root = fs.newInode(nil, "", lower, ur)
	fs.root.kind.Store(unix.S_IFDIR)
	return fs
}

// Name implements vfs.FS.
func (*FS) Name() string { return "overlay" }

// Root implements vfs.FS.
func (fs *FS) Root() vfs.Inode { return fs.root }

// Dev is the device number the overlay reports as st_dev.
func (fs *FS) Dev() uint64 { return fs.dev }

// Upper is the upper tmpfs.
func (fs *FS) Upper() *tmpfs.FS { return fs.upper }

func (fs *FS) newInode(parent *Inode, name string, lower vfs.Inode, upper *tmpfs.Inode) *Inode {
	x := &Inode{fs: fs, id: fs.ids.Add(1), lower: lower, parent: parent, name: name}
	if upper != nil {
		x.upper.Store(upper)
		x.kind.Store(upper.Type())
	}
	return x
}

var (
	_ vfs.FS        = (*FS)(nil)
	_ vfs.Inode     = (*Inode)(nil)
	_ vfs.File      = (*file)(nil)
	_ vfs.File      = (*dirFile)(nil)
	_ vfs.Unwrapper = (*file)(nil)
)
