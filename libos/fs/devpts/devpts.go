// Package devpts is the library OS's pseudo-terminals: the devpts file
// system mounted at /dev/pts, whose ptmx node (like /dev/ptmx in devfs)
// makes a new terminal on every open and hands back its master, while the
// terminal's slave appears as /dev/pts/N until the master closes.
//
// Between master and slave sits a line discipline that behaves as Linux's
// n_tty (ldisc.go): canonical line editing, echo, input and output
// processing, VMIN/VTIME and the signal characters. Job control (which
// session a terminal controls, its foreground process group, SIGTTIN and
// SIGTTOU) is the kernel's: it attaches itself to a terminal as its
// Controller and answers the ioctls that need the calling process.
//
// Files never block: an operation that cannot proceed returns EAGAIN and
// the caller waits for the file's readiness (a File is a
// waiter.Waitable), as with pipes.
//
// Not implemented: packet mode (TIOCPKT on is EINVAL), TIOCSTI, ECHOPRT,
// IXANY, PARMRK and IMAXBEL, and the legacy termio ioctls (TCGETA...).
package devpts

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

const (
	// ttyAuxMajor is the major of /dev/tty (5:0), /dev/console (5:1) and
	// /dev/ptmx (5:2).
	ttyAuxMajor = 5
	// PtmxRdev is /dev/ptmx's device number.
	PtmxRdev = 5<<8 | 2
	// maxTerminals is /proc/sys/kernel/pty/max's default.
	maxTerminals = 4096
	// ttyGID is the group a new slave belongs to, devpts's gid=5 mount
	// option as distributions mount it.
	ttyGID = 5
)

// FS is a devpts instance.
type FS struct {
	created time.Time
	dev     uint64
	root    *root

	// ptmxMode is the permission bits of /dev/pts/ptmx, the mount's
	// ptmxmode= option (0 by default, as Linux mounts devpts).
	ptmxMode uint32

	mu    sync.Mutex
	terms map[uint32]*Terminal
}

// New returns a devpts whose files report st_dev dev.
func New(dev uint64) *FS {
	fs := &FS{created: time.Now(), dev: dev, terms: make(map[uint32]*Terminal)}
	fs.root = &root{fs: fs}
	return fs
}

// Name implements vfs.FS.
func (*FS) Name() string { return "devpts" }

// SetPtmxMode sets the permission bits of /dev/pts/ptmx (devpts's
// ptmxmode= option): a container's /dev/ptmx is a symlink to it, so
// unprivileged processes open terminals only if these bits let them.
func (fs *FS) SetPtmxMode(mode uint32) { fs.ptmxMode = mode & 0o777 }

// Root implements vfs.FS.
func (fs *FS) Root() vfs.Inode { return fs.root }

// OpenMaster makes a new terminal, locked as a fresh pty is, and returns
// its master: what opening a ptmx node does. stat describes that node.
func (fs *FS) OpenMaster(stat func() (unix.Stat_t, error)) (*File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var idx uint32
	for ; idx < maxTerminals; idx++ {
		if _, used := fs.terms[idx]; !used {
			break
		}
	}
	if idx == maxTerminals {
		return nil, unix.ENOSPC
	}
	t := &Terminal{fs: fs, index: idx, ld: newLdisc(), locked: true, mode: 0o620, gid: ttyGID, mtime: time.Now()}
	fs.terms[idx] = t
	return &File{t: t, master: true, stat: stat}, nil
}

// release frees a terminal's index once both sides have gone.
func (fs *FS) release(t *Terminal) {
	fs.mu.Lock()
	if fs.terms[t.index] == t {
		delete(fs.terms, t.index)
	}
	fs.mu.Unlock()
}

// lookup returns the terminal /dev/pts/name names, if its master is open.
func (fs *FS) lookup(name string) *Terminal {
	n, err := strconv.ParseUint(name, 10, 32)
	if err != nil || strconv.FormatUint(n, 10) != name {
		return nil
	}
	fs.mu.Lock()
	t := fs.terms[uint32(n)]
	fs.mu.Unlock()
	if t == nil || t.HungUp() {
		return nil
	}
	return t
}

func (fs *FS) stat(ino uint64, mode uint32) unix.Stat_t {
	ts := unix.NsecToTimespec(fs.created.UnixNano())
	return unix.Stat_t{Dev: fs.dev, Ino: ino, Mode: mode, Nlink: 1, Blksize: 1024, Atim: ts, Mtim: ts, Ctim: ts}
}

// slaveStat describes /dev/pts/N: inode N+3, as devpts numbers them.
func (fs *FS) slaveStat(t *Terminal) unix.Stat_t {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := fs.stat(uint64(t.index)+3, unix.S_IFCHR|t.mode)
	st.Rdev = t.Rdev()
	st.Uid, st.Gid = t.uid, t.gid
	ts := unix.NsecToTimespec(t.mtime.UnixNano())
	st.Atim, st.Mtim, st.Ctim = ts, ts, ts
	return st
}

func statfs() (unix.Statfs_t, error) {
	return unix.Statfs_t{Type: 0x1cd1, Bsize: 4096, Namelen: 255, Frsize: 4096, Flags: unix.ST_NOSUID | unix.ST_NOEXEC}, nil
}

// root is /dev/pts: ptmx and a node per terminal.
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
	if name == "ptmx" {
		return &ptmx{fs: r.fs}, nil
	}
	if t := r.fs.lookup(name); t != nil {
		return &slave{t: t}, nil
	}
	return nil, unix.ENOENT
}

// Create implements vfs.Inode: only terminals make nodes here.
func (r *root) Create(string, uint32, vfs.Cred) (vfs.Inode, error) { return nil, unix.EACCES }

// Open implements vfs.Inode.
func (r *root) Open(flags int) (vfs.File, error) {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return nil, unix.EISDIR
	}
	return vfs.NewDirFile(r, func() ([]vfs.Dirent, error) { return r.entries(), nil }), nil
}

func (r *root) entries() []vfs.Dirent {
	r.fs.mu.Lock()
	var idx []uint32
	for i, t := range r.fs.terms {
		if !t.HungUp() {
			idx = append(idx, i)
		}
	}
	r.fs.mu.Unlock()
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	es := []vfs.Dirent{{Name: "ptmx", Ino: 2, Type: unix.DT_CHR}}
	for _, i := range idx {
		es = append(es, vfs.Dirent{Name: strconv.FormatUint(uint64(i), 10), Ino: uint64(i) + 3, Type: unix.DT_CHR})
	}
	return es
}

// ptmx is /dev/pts/ptmx, mode ptmxmode= (0 as Linux mounts devpts by
// default).
type ptmx struct {
	vfs.ReadOnlyInode
	fs *FS
}

// Stat implements vfs.Inode.
func (p *ptmx) Stat() (unix.Stat_t, error) {
	st := p.fs.stat(2, unix.S_IFCHR|p.fs.ptmxMode)
	st.Rdev = PtmxRdev
	return st, nil
}

// Statfs implements vfs.Inode.
func (p *ptmx) Statfs() (unix.Statfs_t, error) { return statfs() }

// Open implements vfs.Inode.
func (p *ptmx) Open(int) (vfs.File, error) { return p.fs.OpenMaster(p.Stat) }

// slave is /dev/pts/N.
type slave struct {
	vfs.ReadOnlyInode
	t *Terminal
}

// Stat implements vfs.Inode.
func (s *slave) Stat() (unix.Stat_t, error) { return s.t.fs.slaveStat(s.t), nil }

// Statfs implements vfs.Inode.
func (s *slave) Statfs() (unix.Statfs_t, error) { return statfs() }

// Open implements vfs.Inode.
func (s *slave) Open(int) (vfs.File, error) { return s.t.OpenSlavePeer() }

// Setattr implements vfs.Inode: the owner and mode may change (grantpt
// of old C libraries sets them), and times are kept.
func (s *slave) Setattr(a vfs.Attr) error {
	t := s.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if a.Mask&vfs.AttrMode != 0 {
		t.mode = a.Mode & 0o7777
	}
	if a.Mask&vfs.AttrUID != 0 {
		t.uid = a.UID
	}
	if a.Mask&vfs.AttrGID != 0 {
		t.gid = a.GID
	}
	if a.Mask&vfs.AttrMtime != 0 {
		t.mtime = time.Unix(a.Mtime.Unix())
	}
	return nil
}

// SlaveStat describes the slave's node, /dev/pts/N.
func (t *Terminal) SlaveStat() unix.Stat_t { return t.fs.slaveStat(t) }

// SetOwner makes uid the owner of the slave node, as devpts gives a new
// slave to the fsuid of the process that opened ptmx.
func (t *Terminal) SetOwner(uid uint32) {
	t.mu.Lock()
	t.uid = uid
	t.mu.Unlock()
}
