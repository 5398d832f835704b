package devfs

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// ttyMajor is the major of /dev/tty, /dev/console and /dev/ptmx.
const ttyMajor = 5

func ttyIno(minor uint32) uint64 { return 200 + uint64(minor) }

// ttyNode is /dev/tty, /dev/console or /dev/ptmx.
type ttyNode struct {
	vfs.ReadOnlyInode
	fs    *FS
	minor uint32
}

// Stat implements vfs.Inode: tty and ptmx are open to all (0666), the
// console to root (0600).
func (n *ttyNode) Stat() (unix.Stat_t, error) {
	if n.minor == 1 && n.fs.consoleStat != nil {
		return n.fs.consoleStat(), nil
	}
	mode := uint32(0o666)
	if n.minor == 1 {
		mode = 0o600
	}
	st := n.fs.stat(ttyIno(n.minor), unix.S_IFCHR|mode)
	st.Rdev = unix.Mkdev(ttyMajor, n.minor)
	return st, nil
}

// Statfs implements vfs.Inode.
func (n *ttyNode) Statfs() (unix.Statfs_t, error) { return statfs() }

// Setattr implements vfs.Inode: as the memory devices, touching works.
func (n *ttyNode) Setattr(a vfs.Attr) error {
	if a.Mask&^(vfs.AttrAtime|vfs.AttrMtime|vfs.AttrSize) != 0 {
		return unix.EPERM
	}
	return nil
}

// Open implements vfs.Inode.
func (n *ttyNode) Open(flags int) (vfs.File, error) {
	if err := n.fs.mayOpen('c', ttyMajor, n.minor, flags); err != nil {
		return nil, err
	}
	switch n.minor {
	case 0:
		return &ControllingTTY{}, nil
	case 1:
		if n.fs.console == nil {
			return nil, unix.ENXIO
		}
		return n.fs.console()
	default:
		if n.fs.pts == nil {
			return nil, unix.ENODEV
		}
		return n.fs.pts.OpenMaster(n.Stat)
	}
}

// ControllingTTY is what opening /dev/tty yields at the file system
// level: only the kernel knows who is opening, so it swaps this stand-in
// for the opener's controlling terminal (ENXIO without one). Left
// unswapped, every operation fails with ENXIO.
type ControllingTTY struct{}

func (*ControllingTTY) Read([]byte) (int, error)                         { return 0, unix.ENXIO }
func (*ControllingTTY) Write([]byte) (int, error)                        { return 0, unix.ENXIO }
func (*ControllingTTY) Pread([]byte, int64) (int, error)                 { return 0, unix.ESPIPE }
func (*ControllingTTY) Pwrite([]byte, int64) (int, error)                { return 0, unix.ESPIPE }
func (*ControllingTTY) Seek(int64, int) (int64, error)                   { return 0, unix.ESPIPE }
func (*ControllingTTY) Stat() (unix.Stat_t, error)                       { return unix.Stat_t{}, unix.ENXIO }
func (*ControllingTTY) Getdents([]byte) (int, error)                     { return 0, unix.ENOTDIR }
func (*ControllingTTY) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENXIO }
func (*ControllingTTY) Close() error                                     { return nil }

// dir is /dev/pts or /dev/shm: an empty directory the sandbox mounts a
// file system on.
type dir struct {
	vfs.ReadOnlyInode
	fs  *FS
	ino uint64
}

// Stat implements vfs.Inode.
func (d *dir) Stat() (unix.Stat_t, error) {
	mode := uint32(0o755)
	if d.ino == dirs["shm"] {
		mode = 0o1777
	}
	st := d.fs.stat(d.ino, unix.S_IFDIR|mode)
	st.Nlink = 2
	return st, nil
}

// Statfs implements vfs.Inode.
func (d *dir) Statfs() (unix.Statfs_t, error) { return statfs() }

// Lookup implements vfs.Inode.
func (d *dir) Lookup(string) (vfs.Inode, error) { return nil, unix.ENOENT }

// Create implements vfs.Inode.
func (d *dir) Create(string, uint32, vfs.Cred) (vfs.Inode, error) { return nil, unix.EACCES }

// Open implements vfs.Inode.
func (d *dir) Open(flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EISDIR
	}
	return vfs.NewDirFile(d, func() ([]vfs.Dirent, error) { return nil, nil }), nil
}
