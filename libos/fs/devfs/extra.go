package devfs

import (
	"sort"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// Node is a device node a container's spec lists (linux.devices), made
// directly in /dev with the spec's type, numbers, mode and owner. Opening
// it serves the device the library OS models at those numbers (the memory
// devices, tty, console, ptmx) whatever the node is called; any other
// device has no driver here and fails with ENXIO, as a node without one
// does on Linux.
type Node struct {
	Name string
	// Mode is S_IFCHR, S_IFBLK or S_IFIFO with the permission bits; a
	// FIFO's opens are the VFS's (a pipe of the library OS), its
	// numbers unused.
	Mode         uint32
	Major, Minor uint32
	UID, GID     uint32
}

// DeviceAccess says whether a device may be opened for acc ("r", "w" or
// "rw"), as the device cgroup's rules would: typ is 'c' or 'b'.
type DeviceAccess func(typ byte, major, minor uint32, acc string) bool

// AddNode makes n in /dev, replacing a built-in node of the same name.
func (fs *FS) AddNode(n Node) {
	if fs.nodes == nil {
		fs.nodes = map[string]*specNode{}
	}
	fs.nodes[n.Name] = &specNode{fs: fs, n: n, ino: 400 + uint64(len(fs.nodes))}
}

// AddFile makes an empty regular file name in /dev for a bind mount of a
// single file to go on (CRI's /dev/termination-log), as runc creates one
// in its /dev tmpfs.
func (fs *FS) AddFile(name string) {
	if fs.files == nil {
		fs.files = map[string]uint64{}
	}
	if _, ok := fs.files[name]; !ok {
		fs.files[name] = 500 + uint64(len(fs.files))
	}
}

// SetDeviceAccess makes every device open of this /dev ask allow first;
// a refusal is EPERM, as the device cgroup gives.
func (fs *FS) SetDeviceAccess(allow DeviceAccess) { fs.allow = allow }

// mayOpen checks the device rules for an open of a device with flags.
func (fs *FS) mayOpen(typ byte, major, minor uint32, flags int) error {
	if fs.allow == nil {
		return nil
	}
	acc := "r"
	switch flags & unix.O_ACCMODE {
	case unix.O_WRONLY:
		acc = "w"
	case unix.O_RDWR:
		acc = "rw"
	}
	if !fs.allow(typ, major, minor, acc) {
		return unix.EPERM
	}
	return nil
}

// extraEntries are the directory entries of the spec's nodes and the
// file mount points.
func (fs *FS) extraEntries() []vfs.Dirent {
	var es []vfs.Dirent
	for name, n := range fs.nodes {
		typ := uint8(unix.DT_CHR)
		switch n.n.Mode & unix.S_IFMT {
		case unix.S_IFBLK:
			typ = unix.DT_BLK
		case unix.S_IFIFO:
			typ = unix.DT_FIFO
		}
		es = append(es, vfs.Dirent{Name: name, Ino: n.ino, Type: typ})
	}
	for name, ino := range fs.files {
		es = append(es, vfs.Dirent{Name: name, Ino: ino, Type: unix.DT_REG})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	return es
}

// specNode is a node of linux.devices.
type specNode struct {
	vfs.ReadOnlyInode
	fs  *FS
	n   Node
	ino uint64
}

// Stat implements vfs.Inode.
func (s *specNode) Stat() (unix.Stat_t, error) {
	st := s.fs.stat(s.ino, s.n.Mode)
	if s.n.Mode&unix.S_IFMT != unix.S_IFIFO {
		st.Rdev = unix.Mkdev(s.n.Major, s.n.Minor)
	}
	st.Uid, st.Gid = s.n.UID, s.n.GID
	return st, nil
}

// Statfs implements vfs.Inode.
func (s *specNode) Statfs() (unix.Statfs_t, error) { return statfs() }

// Setattr implements vfs.Inode: as the built-in nodes, touching works.
func (s *specNode) Setattr(a vfs.Attr) error {
	if a.Mask&^(vfs.AttrAtime|vfs.AttrMtime|vfs.AttrSize) != 0 {
		return unix.EPERM
	}
	return nil
}

// Open implements vfs.Inode.
func (s *specNode) Open(flags int) (vfs.File, error) {
	if s.n.Mode&unix.S_IFMT == unix.S_IFIFO {
		// Reached only without the kernel's FIFO opener.
		return nil, unix.ENXIO
	}
	typ := byte('c')
	if s.n.Mode&unix.S_IFMT == unix.S_IFBLK {
		typ = 'b'
	}
	if err := s.fs.mayOpen(typ, s.n.Major, s.n.Minor, flags); err != nil {
		return nil, err
	}
	if typ == 'c' {
		switch s.n.Major {
		case memMajor:
			for _, d := range devices {
				if d.minor == s.n.Minor {
					return &file{node: &node{fs: s.fs, dev: d}}, nil
				}
			}
		case ttyMajor:
			if s.n.Minor <= 2 {
				return (&ttyNode{fs: s.fs, minor: s.n.Minor}).Open(flags)
			}
		}
	}
	return nil, unix.ENXIO
}

// mountFile is an empty regular file that a bind mount covers.
type mountFile struct {
	vfs.ReadOnlyInode
	fs  *FS
	ino uint64
}

// Stat implements vfs.Inode.
func (m *mountFile) Stat() (unix.Stat_t, error) { return m.fs.stat(m.ino, unix.S_IFREG|0o755), nil }

// Statfs implements vfs.Inode.
func (m *mountFile) Statfs() (unix.Statfs_t, error) { return statfs() }

// Open implements vfs.Inode: it is empty and stays so.
func (m *mountFile) Open(flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EACCES
	}
	return &file{node: &node{fs: m.fs, dev: devices["null"]}}, nil
}
