// Package proc is the library OS's /proc: the container's processes (and
// only those: pid 1 is its init) and the machine as the container sees it,
// generated from a Source the kernel implements.
//
// The file system is mounted once per container and shared by every
// task: what depends on who is looking (/proc/self, /proc/thread-self)
// asks Source.Caller, which the kernel answers for the goroutine the call
// runs on.
//
// Files are snapshots: the content is generated when the file is opened,
// and read, pread and lseek work on that content. Inodes are cheap views
// that query the Source on every call, so a VFS may cache them: one looked
// up for a process that has since gone (or whose pid was reused) answers
// ENOENT.
//
// Wiring: the kernel implements Source (its documentation says what each
// figure means), and the sandbox mounts
//
//	proc.New(src, proc.Options{CPUInfo: hostCPUInfo, Release: kernel.Release, Version: kernel.Version})
//
// at /proc as a vfs.FS (type "proc", source "proc", mount options
// "rw,nosuid,nodev,noexec,relatime"). Permission checks are the VFS's, from
// the modes and owners Stat reports (environ and auxv 0400, fd/ 0500, owned
// by the process's euid). Every inode implements vfs.MagicLinker, so
// /proc/self follows the walking task (vfs.Context.Caller, mapped to ids by
// Source.Caller), and fd/N, exe, cwd and root jump to the dentries the
// Source gives; LinkedFile offers the open file of an fd without one (a
// pipe).
package proc

import (
	"crypto/rand"
	"fmt"
	"hash/fnv"
	"path"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// SuperMagic is PROC_SUPER_MAGIC, statfs's f_type for /proc.
const SuperMagic = 0x9fa0

// Defaults of Options.
const (
	DefaultRelease = "6.6.0-runsc-exo"
	DefaultVersion = "#1 SMP runsc-exo library OS"
)

// Options configure a /proc instance. The zero value works.
type Options struct {
	// Dev is the st_dev of every file (default 0:21).
	Dev uint64
	// CPUInfo is /proc/cpuinfo's content, passed through: the sentry
	// reads the host's at boot, before it confines itself. Nil generates
	// a minimal one with System.NumCPU processors.
	CPUInfo []byte
	// Release and Version are uname's release and version (defaults
	// DefaultRelease and DefaultVersion); they make /proc/version and
	// sys/kernel/{osrelease,version}.
	Release, Version string
	// KernelCmdline is /proc/cmdline without its newline.
	KernelCmdline string
	// FileSystems are /proc/filesystems' lines ("nodev\ttmpfs"); nil
	// lists the library OS's file systems.
	FileSystems []string
	// BootID is sys/kernel/random/boot_id; "" draws a random one.
	BootID string
	// Sysctl adds or replaces files under /proc/sys: keys are paths below
	// it ("kernel/pid_max"), values the content (a newline is added if
	// missing). Directories are made as needed.
	Sysctl map[string]string
	// CgroupV1 are the cgroup v1 hierarchies /proc/PID/cgroup lists
	// (each with the root path) before the v2 line; none: v2 only.
	CgroupV1 []string
}

// FS is a /proc instance.
type FS struct {
	src     Source
	opts    Options
	created unix.Timespec
	root    *inode
	sys     *sysDir

	bootOnce sync.Once
	bootTime time.Time
}

// boot returns System.Boot, which does not change, asking the Source once.
func (fs *FS) boot() time.Time {
	fs.bootOnce.Do(func() { fs.bootTime = fs.src.System().Boot })
	return fs.bootTime
}

// New returns a /proc served from src.
func New(src Source, opts Options) *FS {
	if opts.Dev == 0 {
		opts.Dev = unix.Mkdev(0, 21)
	}
	if opts.Release == "" {
		opts.Release = DefaultRelease
	}
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.FileSystems == nil {
		opts.FileSystems = []string{
			"nodev\tsysfs", "nodev\ttmpfs", "nodev\tproc", "nodev\tdevtmpfs",
			"nodev\tdevpts", "nodev\toverlay", "nodev\tdirfs", "nodev\tpipefs",
			"nodev\tanon_inodefs", "nodev\tsockfs",
		}
	}
	if opts.BootID == "" {
		opts.BootID = newUUID()
	}
	fs := &FS{src: src, opts: opts, created: unix.NsecToTimespec(time.Now().UnixNano())}
	fs.sys = newSysDir(fs)
	fs.root = fs.newNode("/", unix.S_IFDIR|0o555, nil)
	fs.root.dir = rootDir{fs}
	fs.root.nlink = func() (uint64, error) { return 3 + uint64(len(src.Processes())), nil }
	return fs
}

// Name implements vfs.FS.
func (*FS) Name() string { return "proc" }

// Root implements vfs.FS.
func (fs *FS) Root() vfs.Inode { return fs.root }

var _ vfs.FS = (*FS)(nil)

// ino is the inode number of the file at p (a path within /proc): stable
// for as long as the path names the same thing, as st_ino should be.
func ino(p string) uint64 {
	if p == "/" {
		return 1
	}
	h := fnv.New64a()
	h.Write([]byte(p))
	n := h.Sum64() >> 1 // stay clear of the sign bit for tools that print it signed
	if n < 2 {
		n += 2
	}
	return n
}

// newUUID returns a random (version 4) UUID in its text form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// versionLine is /proc/version.
func (fs *FS) versionLine() string {
	return fmt.Sprintf("Linux version %s (runsc-exo@library-os) (%s) %s\n",
		fs.opts.Release, runtime.Version(), fs.opts.Version)
}

// kind is what an inode is.
type kind uint8

const (
	kindDir kind = iota
	kindFile
	kindLink
)

// inode is every /proc inode: a directory, a generated file or a symlink,
// with the functions that produce its content.
type inode struct {
	vfs.ReadOnlyInode
	fs   *FS
	path string // within /proc, for st_ino
	mode uint32 // file type and permission bits
	// owner is the process whose euid/egid own the inode; nil for root.
	owner *pctx

	dir   dirOps                 // directories
	read  func() ([]byte, error) // files
	write func([]byte) error     // writable files
	// link is a symlink's target for the task caller (the VFS's
	// Context.Caller; nil from Readlink), with the dentry a magic link
	// jumps to.
	link   func(caller any) (*vfs.Dentry, string, error)
	size   int64                    // st_size
	sizeFn func() (int64, error)    // st_size when it changes
	nlink  func() (uint64, error)   // directories' link counts; nil is 2
	file   func() (vfs.File, error) // fd links' open files
	errW   unix.Errno               // error for opening a read-only file for writing
	alive  func() error             // nil if always there
	kind   kind
}

func (fs *FS) newNode(p string, mode uint32, owner *pctx) *inode {
	n := &inode{fs: fs, path: p, mode: mode, owner: owner, errW: unix.EACCES}
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		n.kind = kindDir
	case unix.S_IFLNK:
		n.kind = kindLink
	default:
		n.kind = kindFile
	}
	return n
}

// dirOps are a directory's contents.
type dirOps interface {
	// list returns the entries other than "." and "..", in a stable
	// order.
	list() ([]dirent, error)
	// lookup finds one entry.
	lookup(name string) (*inode, error)
}

// dirent is one directory entry; its inode number comes from its path.
type dirent struct {
	name string
	typ  uint8 // DT_*
}

func dtype(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	}
	return unix.DT_REG
}

// Stat implements vfs.Inode.
func (n *inode) Stat() (unix.Stat_t, error) {
	st := unix.Stat_t{
		Dev:     n.fs.opts.Dev,
		Ino:     ino(n.path),
		Mode:    n.mode,
		Nlink:   1,
		Blksize: 1024,
		Size:    n.size,
		Atim:    n.fs.created,
		Mtim:    n.fs.created,
		Ctim:    n.fs.created,
	}
	if n.owner != nil {
		v, err := n.owner.view()
		if err != nil {
			return unix.Stat_t{}, err
		}
		if v.p.Dumpable {
			st.Uid, st.Gid = v.p.UID[1], v.p.GID[1]
		}
		t := unix.NsecToTimespec(n.fs.boot().Add(v.p.Start).UnixNano())
		st.Atim, st.Mtim, st.Ctim = t, t, t
	}
	if n.alive != nil {
		if err := n.alive(); err != nil {
			return unix.Stat_t{}, err
		}
	}
	if n.sizeFn != nil {
		sz, err := n.sizeFn()
		if err != nil {
			return unix.Stat_t{}, err
		}
		st.Size = sz
	}
	if n.kind == kindDir {
		st.Nlink = 2
		if n.nlink != nil {
			l, err := n.nlink()
			if err != nil {
				return unix.Stat_t{}, err
			}
			st.Nlink = l
		}
	}
	return st, nil
}

// Lookup implements vfs.Inode.
func (n *inode) Lookup(name string) (vfs.Inode, error) {
	if n.kind != kindDir {
		return nil, unix.ENOTDIR
	}
	c, err := n.dir.lookup(name)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Readlink implements vfs.Inode. The VFS calls MagicLink instead, with
// the task walking; Readlink answers /proc/self with Source.Caller(nil).
func (n *inode) Readlink() (string, error) {
	_, target, err := n.MagicLink(nil)
	return target, err
}

// MagicLink implements vfs.MagicLinker: /proc/self and thread-self
// answer for caller, and fd/N, exe, cwd and root jump to the dentry the
// Source gave, if any.
func (n *inode) MagicLink(caller any) (*vfs.Dentry, string, error) {
	if n.kind != kindLink {
		return nil, "", unix.EINVAL
	}
	return n.link(caller)
}

var _ vfs.MagicLinker = (*inode)(nil)

// LinkedFile is implemented by every /proc inode; only those of
// /proc/PID/fd/N return a file. Linux's fd links are "magic": following
// one reaches the open file itself, even a pipe's, whose text
// ("pipe:[123]") names no path and which has no dentry for
// vfs.MagicLinker to jump to. A VFS that follows such a link as the last
// component of an open or stat can use the file instead (bash's <(...)
// opens /dev/fd/63, a pipe). vfs does not use it yet.
type LinkedFile interface {
	// Linked returns the open file the link stands for; ok is false if
	// the Source gave none (then resolve the text).
	Linked() (f vfs.File, ok bool, err error)
}

// Linked implements LinkedFile for fd links.
func (n *inode) Linked() (vfs.File, bool, error) {
	if n.file == nil {
		return nil, false, nil
	}
	f, err := n.file()
	if err != nil {
		return nil, false, err
	}
	return f, f != nil, nil
}

// Open implements vfs.Inode.
func (n *inode) Open(flags int) (vfs.File, error) {
	st, err := n.Stat()
	if err != nil {
		return nil, err
	}
	if flags&unix.O_PATH != 0 {
		return &pathFile{st: st}, nil
	}
	acc := flags & unix.O_ACCMODE
	switch n.kind {
	case kindLink:
		return nil, unix.ELOOP
	case kindDir:
		if acc != unix.O_RDONLY {
			return nil, unix.EISDIR
		}
		d := &dirFile{n: n, st: st}
		if err := d.fill(); err != nil {
			return nil, err
		}
		return d, nil
	}
	if flags&unix.O_DIRECTORY != 0 {
		return nil, unix.ENOTDIR
	}
	if acc != unix.O_RDONLY && n.write == nil {
		return nil, n.errW
	}
	f := &seqFile{st: st, acc: acc, write: n.write}
	if acc != unix.O_WRONLY {
		if f.data, err = n.read(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Setattr implements vfs.Inode: /proc's modes and owners are fixed
// (EPERM); a truncation, which echo > oom_score_adj asks for, does
// nothing.
func (n *inode) Setattr(a vfs.Attr) error {
	if a.Mask&^vfs.AttrSize != 0 {
		return unix.EPERM
	}
	if n.kind != kindFile || n.write == nil {
		return unix.EACCES
	}
	return nil
}

// Statfs implements vfs.Inode.
func (n *inode) Statfs() (unix.Statfs_t, error) { return statfs(), nil }

func statfs() unix.Statfs_t {
	return unix.Statfs_t{
		Type:    SuperMagic,
		Bsize:   4096,
		Frsize:  4096,
		Namelen: 255,
		Flags:   unix.ST_NOSUID | unix.ST_NODEV | unix.ST_NOEXEC | unix.ST_RELATIME,
	}
}

// parent returns the path of p's parent directory.
func parent(p string) string { return path.Dir(p) }
