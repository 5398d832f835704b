// Package devfs is the library OS's /dev: the memory character devices
// (null, zero, full, random, urandom) served entirely inside the sandbox,
// so no host device node is ever opened for them, the terminal nodes tty,
// console and ptmx, the fd, stdin, stdout and stderr symlinks into
// /proc/self/fd, and the pts and shm directories the sandbox mounts
// devpts and a tmpfs on.
package devfs

import (
	"crypto/rand"
	"slices"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/devpts"
	"exokernelul.dev/exo/libos/vfs"
)

type device struct {
	minor uint32
	read  func(p []byte) (int, error)
	write func(p []byte) (int, error)
}

func readZero(p []byte) (int, error) { clear(p); return len(p), nil }
func readRandom(p []byte) (int, error) {
	rand.Read(p)
	return len(p), nil
}
func discard(p []byte) (int, error) { return len(p), nil }

// devices are the nodes of /dev with their Linux numbers (major 1).
var devices = map[string]device{
	"null":    {3, func([]byte) (int, error) { return 0, nil }, discard},
	"zero":    {5, readZero, discard},
	"full":    {7, readZero, func([]byte) (int, error) { return 0, unix.ENOSPC }},
	"random":  {8, readRandom, discard},
	"urandom": {9, readRandom, discard},
}

const memMajor = 1

// links are /dev's symlinks into /proc, as a Linux /dev has them (they
// resolve once a proc file system is mounted).
var links = map[string]string{
	"fd":     "/proc/self/fd",
	"stdin":  "/proc/self/fd/0",
	"stdout": "/proc/self/fd/1",
	"stderr": "/proc/self/fd/2",
}

// FS is a devfs instance.
type FS struct {
	created time.Time
	root    *root
	// pts serves /dev/ptmx; without it ptmx is ENODEV.
	pts *devpts.FS
	// console opens /dev/console; without it the node is ENXIO.
	console func() (vfs.File, error)
	// consoleStat, if set, describes /dev/console (SetConsoleTerminal).
	consoleStat func() unix.Stat_t
	// extraDirs are more empty directories that serve as mount points
	// (mqueue for an OCI container's mounts).
	extraDirs []string
	// nodes are the spec's device nodes (extra.go), by name; files are
	// mount points of single-file binds, by name, with their inode
	// numbers; allow checks device opens.
	nodes map[string]*specNode
	files map[string]uint64
	allow DeviceAccess
	// ptmxLink makes /dev/ptmx a symlink to pts/ptmx (SetPtmxLink).
	ptmxLink bool
}

// SetPTS makes /dev/ptmx open new terminals of pts (the devpts mounted
// at /dev/pts).
func (fs *FS) SetPTS(pts *devpts.FS) { fs.pts = pts }

// SetPtmxLink makes /dev/ptmx a symlink to pts/ptmx instead of a
// character device, as runc makes a container's /dev: each devpts
// instance then serves its own ptmx.
func (fs *FS) SetPtmxLink() { fs.ptmxLink = true }

// SetConsole makes /dev/console open what open returns. This is the hook
// for a container with a terminal: its runtime attaches the terminal it
// hands the workload (a pty slave) as the console. Without one, opening
// /dev/console fails with ENXIO, as on a Linux without a console.
func (fs *FS) SetConsole(open func() (vfs.File, error)) { fs.console = open }

// SetConsoleTerminal makes t's slave /dev/console, as runc bind-mounts
// a container's pty slave there: opening it opens the slave, and stat
// shows the slave's node (136:N, its owner and mode), so ttyname of the
// console finds it.
func (fs *FS) SetConsoleTerminal(t *devpts.Terminal) {
	fs.console = t.OpenSlave
	fs.consoleStat = t.SlaveStat
}

// New returns a devfs; mountPoints name more empty directories in it for
// other file systems to be mounted on.
func New(mountPoints ...string) *FS {
	fs := &FS{created: time.Now()}
	for _, n := range mountPoints {
		_, dev := devices[n]
		_, tty := ttyNodes[n]
		_, fixed := dirs[n]
		if !dev && !tty && !fixed && links[n] == "" && !slices.Contains(fs.extraDirs, n) {
			fs.extraDirs = append(fs.extraDirs, n)
		}
	}
	sort.Strings(fs.extraDirs)
	fs.root = &root{fs: fs}
	return fs
}

// Name implements vfs.FS.
func (*FS) Name() string { return "devtmpfs" }

// Root implements vfs.FS.
func (fs *FS) Root() vfs.Inode { return fs.root }

func (fs *FS) stat(ino uint64, mode uint32) unix.Stat_t {
	ts := unix.NsecToTimespec(fs.created.UnixNano())
	return unix.Stat_t{Dev: unix.Mkdev(0, 5), Ino: ino, Mode: mode, Nlink: 1, Blksize: 4096, Atim: ts, Mtim: ts, Ctim: ts}
}

func statfs() (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: 0x01021994, Bsize: 4096, Namelen: 255, Frsize: 4096, Flags: unix.ST_NOSUID}, nil
}

// Terminal nodes (major 5) and the directories mounts go on.
var (
	ttyNodes = map[string]uint32{"tty": 0, "console": 1, "ptmx": 2}
	dirs     = map[string]uint64{"pts": 300, "shm": 301}
)

// root is the /dev directory. Nothing can be created in it.
type root struct {
	vfs.ReadOnlyInode
	fs *FS
}

// Stat implements vfs.Inode.
func (r *root) Stat() (unix.Stat_t, error) {
	st := r.fs.stat(1, unix.S_IFDIR|0o755)
	st.Nlink = 2
	return st, nil
}

// Statfs implements vfs.Inode.
func (r *root) Statfs() (unix.Statfs_t, error) { return statfs() }

// Lookup implements vfs.Inode.
func (r *root) Lookup(name string) (vfs.Inode, error) {
	if n, ok := r.fs.nodes[name]; ok {
		return n, nil
	}
	if ino, ok := r.fs.files[name]; ok {
		return &mountFile{fs: r.fs, ino: ino}, nil
	}
	if d, ok := devices[name]; ok {
		return &node{fs: r.fs, dev: d}, nil
	}
	if target, ok := links[name]; ok {
		return &link{fs: r.fs, name: name, target: target}, nil
	}
	if name == "ptmx" && r.fs.ptmxLink {
		return &link{fs: r.fs, name: name, target: "pts/ptmx", ino: ttyIno(ttyNodes[name])}, nil
	}
	if minor, ok := ttyNodes[name]; ok {
		return &ttyNode{fs: r.fs, minor: minor}, nil
	}
	if ino, ok := dirs[name]; ok {
		return &dir{fs: r.fs, ino: ino}, nil
	}
	if i := slices.Index(r.fs.extraDirs, name); i >= 0 {
		return &dir{fs: r.fs, ino: 200 + uint64(i)}, nil
	}
	return nil, unix.ENOENT
}

// Create implements vfs.Inode: /dev is not the workload's to fill.
func (r *root) Create(string, uint32, vfs.Cred) (vfs.Inode, error) { return nil, unix.EACCES }

// Open implements vfs.Inode.
func (r *root) Open(flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EISDIR
	}
	return vfs.NewDirFile(r, func() ([]vfs.Dirent, error) {
		var es []vfs.Dirent
		for _, e := range entries() {
			_, node := r.fs.nodes[e.Name]
			_, file := r.fs.files[e.Name]
			if e.Name == "ptmx" && r.fs.ptmxLink {
				e.Type = unix.DT_LNK
			}
			if !node && !file {
				es = append(es, e)
			}
		}
		for i, n := range r.fs.extraDirs {
			es = append(es, vfs.Dirent{Name: n, Ino: 200 + uint64(i), Type: unix.DT_DIR})
		}
		return append(es, r.fs.extraEntries()...), nil
	}), nil
}

func linkIno(name string) uint64 {
	names := make([]string, 0, len(links))
	for n := range links {
		names = append(names, n)
	}
	sort.Strings(names)
	return 100 + uint64(sort.SearchStrings(names, name))
}

func entries() []vfs.Dirent {
	var es []vfs.Dirent
	var names []string
	for n := range devices {
		names = append(names, n)
	}
	for n := range links {
		names = append(names, n)
	}
	for n := range ttyNodes {
		names = append(names, n)
	}
	for n := range dirs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if d, ok := devices[n]; ok {
			es = append(es, vfs.Dirent{Name: n, Ino: uint64(d.minor) + 1, Type: unix.DT_CHR})
		} else if m, ok := ttyNodes[n]; ok {
			es = append(es, vfs.Dirent{Name: n, Ino: ttyIno(m), Type: unix.DT_CHR})
		} else if ino, ok := dirs[n]; ok {
			es = append(es, vfs.Dirent{Name: n, Ino: ino, Type: unix.DT_DIR})
		} else {
			es = append(es, vfs.Dirent{Name: n, Ino: linkIno(n), Type: unix.DT_LNK})
		}
	}
	return es
}

// node is a memory character device.
type node struct {
	vfs.ReadOnlyInode
	fs  *FS
	dev device
}

// Stat implements vfs.Inode.
func (n *node) Stat() (unix.Stat_t, error) {
	st := n.fs.stat(uint64(n.dev.minor)+1, unix.S_IFCHR|0o666)
	st.Rdev = unix.Mkdev(memMajor, n.dev.minor)
	return st, nil
}

// Statfs implements vfs.Inode.
func (n *node) Statfs() (unix.Statfs_t, error) { return statfs() }

// Setattr implements vfs.Inode: the nodes' modes are fixed, but touching
// them (as shells do to /dev/null) succeeds.
func (n *node) Setattr(a vfs.Attr) error {
	if a.Mask&^(vfs.AttrAtime|vfs.AttrMtime|vfs.AttrSize) != 0 {
		return unix.EPERM
	}
	return nil
}

// Open implements vfs.Inode.
func (n *node) Open(flags int) (vfs.File, error) {
	if err := n.fs.mayOpen('c', memMajor, n.dev.minor, flags); err != nil {
		return nil, err
	}
	return &file{node: n}, nil
}

// link is one of /dev's symlinks.
type link struct {
	vfs.ReadOnlyInode
	fs     *FS
	name   string
	target string
	// ino, if set, numbers a link that is not one of links (ptmx).
	ino uint64
}

// Stat implements vfs.Inode.
func (l *link) Stat() (unix.Stat_t, error) {
	ino := l.ino
	if ino == 0 {
		ino = linkIno(l.name)
	}
	st := l.fs.stat(ino, unix.S_IFLNK|0o777)
	st.Size = int64(len(l.target))
	return st, nil
}

// Statfs implements vfs.Inode.
func (l *link) Statfs() (unix.Statfs_t, error) { return statfs() }

// Readlink implements vfs.Inode.
func (l *link) Readlink() (string, error) { return l.target, nil }

// Open implements vfs.Inode; the VFS follows symlinks before opening.
func (l *link) Open(int) (vfs.File, error) { return nil, unix.ELOOP }

type file struct{ node *node }

func (f *file) Read(p []byte) (int, error)                       { return f.node.dev.read(p) }
func (f *file) Write(p []byte) (int, error)                      { return f.node.dev.write(p) }
func (f *file) Pread(p []byte, _ int64) (int, error)             { return f.node.dev.read(p) }
func (f *file) Pwrite(p []byte, _ int64) (int, error)            { return f.node.dev.write(p) }
func (f *file) Seek(int64, int) (int64, error)                   { return 0, nil }
func (f *file) Stat() (unix.Stat_t, error)                       { return f.node.Stat() }
func (f *file) Getdents([]byte) (int, error)                     { return 0, unix.ENOTDIR }
func (f *file) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }
func (f *file) Close() error                                     { return nil }
func (f *file) Statfs(string) (unix.Statfs_t, error)             { return statfs() }
