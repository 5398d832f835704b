package vfs

import (
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// A Dentry is one name in the mount tree: an inode, the name it was found
// by, and the directory it was found in. Dentries are made by each path
// walk and are not cached: the chain of parents is the path the walk took
// (symlinks already followed, ".." already applied), which is what getcwd,
// /proc/PID/cwd and the paths of open files are rebuilt from.
//
// Two dentries name the same file when they sit at the same place of the
// same mount (Same); a mount point is found by that place, not by the
// inode, so file systems whose inodes are paths (dirfs) need no inode
// identity. The cost is that a dentry held across a rename of one of its
// ancestors (a working directory, an open directory) keeps its old path.
type Dentry struct {
	mount  *Mount
	parent *Dentry // nil at the root of the mount
	name   string
	// path is the dentry's place inside its mount: "" for the mount's
	// root, else the names from the root joined by "/".
	path  string
	inode Inode
	// tmpfile marks the dentry of an O_TMPFILE file that linkat may
	// still give a name.
	tmpfile bool
	// unlinked marks the dentry of a file that is in no directory (see
	// Mount.Unlinked): its path ends in " (deleted)".
	unlinked bool
}

// Inode is the file the dentry names.
func (d *Dentry) Inode() Inode { return d.inode }

// Mount is the mount the dentry belongs to.
func (d *Dentry) Mount() *Mount { return d.mount }

// Name is the last component of the dentry's path ("" at a mount root).
func (d *Dentry) Name() string { return d.name }

// Stat stats the dentry's inode.
func (d *Dentry) Stat() (unix.Stat_t, error) { return d.inode.Stat() }

// Same reports whether d and o are the same place of the mount tree.
func (d *Dentry) Same(o *Dentry) bool {
	return d != nil && o != nil && d.mount == o.mount && d.path == o.path
}

// IsMountRoot reports whether d is the root of its mount.
func (d *Dentry) IsMountRoot() bool { return d.parent == nil }

func (d *Dentry) child(name string, inode Inode) *Dentry {
	p := name
	if d.path != "" {
		p = d.path + "/" + name
	}
	return &Dentry{mount: d.mount, parent: d, name: name, path: p, inode: inode}
}

// PathFrom rebuilds d's absolute path as seen from root (a task's root
// directory), crossing mount points upwards. When d is not below root
// (a working directory left outside a chroot), the path is from the
// mount tree's root and reachable is false; getcwd then prefixes
// "(unreachable)" as Linux does.
func (d *Dentry) PathFrom(root *Dentry) (p string, reachable bool) {
	var names []string
	cur := d
	for {
		if cur.Same(root) {
			reachable = true
			break
		}
		if cur.parent == nil {
			if cur.mount.parent == nil {
				break
			}
			cur = cur.mount.point
			continue
		}
		names = append(names, cur.name)
		cur = cur.parent
	}
	if len(names) == 0 {
		return "/", reachable
	}
	var b strings.Builder
	for i := len(names) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(names[i])
	}
	if d.unlinked {
		b.WriteString(" (deleted)")
	}
	return b.String(), reachable
}

// MountOptions are the per-mount flags.
type MountOptions struct {
	// ReadOnly makes every change beneath the mount fail with EROFS.
	ReadOnly bool
	// NoExec refuses execve of the mount's files (EACCES); NoDev refuses
	// opening its device nodes (EACCES); NoSuid makes execve ignore the
	// set-user-ID and set-group-ID bits of its files.
	NoExec, NoDev, NoSuid bool
	// Source is what /proc/mounts shows in its first field.
	Source string
	// Options are the file system's options as /proc/mounts shows them
	// after "rw"/"ro" (for example "mode=755").
	Options string
	// Root is what mountinfo shows as the path of the mount's root within
	// its file system (a bind mount's source directory); "" is "/".
	Root string
}

// A Mount is a file system attached to the mount tree.
type Mount struct {
	id     int
	fs     FS
	root   *Dentry
	parent *Mount  // nil for the root of the mount tree
	point  *Dentry // where the mount sits, a dentry of parent
	opts   MountOptions
}

// ID numbers the mount, as /proc/PID/mountinfo does.
func (m *Mount) ID() int { return m.id }

// FS is the mounted file system.
func (m *Mount) FS() FS { return m.fs }

// Root is the root dentry of the mount.
func (m *Mount) Root() *Dentry { return m.root }

// Options are the flags the mount was made with.
func (m *Mount) Options() MountOptions { return m.opts }

// ReadOnly reports whether the mount refuses changes.
func (m *Mount) ReadOnly() bool { return m.opts.ReadOnly }

// Parent is the mount this one sits on (nil for the root mount), and
// Point the dentry of that mount it covers.
func (m *Mount) Parent() *Mount { return m.parent }

// Point is the dentry this mount covers, in its parent mount.
func (m *Mount) Point() *Dentry { return m.point }

type mountKey struct {
	parent *Mount
	path   string
}

// MountTable is a container's mount tree: a root mount and mounts stacked
// on dentries of it. Path resolution (resolve.go) walks it one component
// at a time.
type MountTable struct {
	mu     sync.RWMutex
	root   *Mount
	mounts map[mountKey]*Mount // by the place each covers
	all    []*Mount            // in mount order, for /proc/mounts
	nextID int

	// fifo opens FIFOs that are library OS pipes (see FIFOOpener), and
	// reopen the files reached through a FileLinker.
	fifo   FIFOOpener
	reopen Reopener

	// renameMu serializes renames, so two concurrent renames cannot each
	// pass the "not into its own subtree" check and together make a loop.
	renameMu sync.Mutex
}

// NewDetachedMount makes a mount of fs that is in no mount tree, like
// the internal mounts Linux keeps for memfd_create's files: no path
// reaches it, its files are reached only through descriptions the kernel
// makes (and /proc/PID/fd links to them), and their paths are shown from
// its root.
func NewDetachedMount(fs FS, opts MountOptions) *Mount {
	m := &Mount{fs: fs, opts: opts}
	m.root = &Dentry{mount: m, inode: fs.Root()}
	return m
}

// Unlinked returns a dentry for inode, a file of the mount's file system
// that is in no directory, under name: its path ends in "/name
// (deleted)", as Linux shows a memfd ("/memfd:NAME (deleted)"), and
// linkat cannot give it a name.
func (m *Mount) Unlinked(name string, inode Inode) *Dentry {
	d := m.root.child(name, inode)
	d.unlinked = true
	return d
}

// NewMountTable makes a mount tree whose root is fs.
func NewMountTable(fs FS, opts MountOptions) *MountTable {
	t := &MountTable{mounts: make(map[mountKey]*Mount), nextID: 1}
	t.root = t.newMount(fs, opts)
	t.all = append(t.all, t.root)
	return t
}

func (t *MountTable) newMount(fs FS, opts MountOptions) *Mount {
	m := &Mount{id: t.nextID, fs: fs, opts: opts}
	t.nextID++
	m.root = &Dentry{mount: m, inode: fs.Root()}
	return m
}

// Root is the root of the mount tree, the initial root directory of every
// task.
func (t *MountTable) Root() *Dentry { return t.root.root }

// Mount attaches fs on point (a dentry the caller resolved, with mounts
// on it already followed). A later mount on the same place hides the
// earlier one. As with Linux bind mounts, a directory goes on a directory
// and a file on a non-directory (a bind of one file, /dev/null masking a
// file): ENOTDIR otherwise.
func (t *MountTable) Mount(point *Dentry, fs FS, opts MountOptions) (*Mount, error) {
	st, err := point.Stat()
	if err != nil {
		return nil, err
	}
	rst, err := fs.Root().Stat()
	if err != nil {
		return nil, err
	}
	if (st.Mode&unix.S_IFMT == unix.S_IFDIR) != (rst.Mode&unix.S_IFMT == unix.S_IFDIR) {
		return nil, unix.ENOTDIR
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.newMount(fs, opts)
	m.parent, m.point = point.mount, point
	t.mounts[mountKey{point.mount, point.path}] = m
	t.all = append(t.all, m)
	return m, nil
}

// Attach mounts fs at the absolute path point, resolved from the tree's
// root with root's credentials. It is how the sandbox builds its initial
// tree.
func (t *MountTable) Attach(point string, fs FS, opts MountOptions) (*Mount, error) {
	ctx := &Context{Root: t.Root(), Start: t.Root()}
	d, err := t.Lookup(ctx, point, LookupFollow)
	if err != nil {
		return nil, err
	}
	return t.Mount(d, fs, opts)
}

// Mounts lists the mounts in the order they were made, the root first,
// as /proc/mounts shows them (hidden ones included, as Linux does).
func (t *MountTable) Mounts() []*Mount {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]*Mount(nil), t.all...)
}

// mountedOn returns the mount covering d, or nil.
func (t *MountTable) mountedOn(d *Dentry) *Mount {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.mounts[mountKey{d.mount, d.path}]
}

// IsMountPoint reports whether a mount sits on d, or d is a mount's root:
// such a dentry cannot be removed or renamed (EBUSY).
func (t *MountTable) IsMountPoint(d *Dentry) bool {
	return d.parent == nil || t.mountedOn(d) != nil
}

// moved records that a directory of mount m was renamed from old to new,
// so mounts sitting below it keep their place.
func (t *MountTable) moved(m *Mount, old, new string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, sub := range t.mounts {
		if k.parent != m {
			continue
		}
		rest, ok := strings.CutPrefix(k.path, old+"/")
		if !ok {
			continue
		}
		delete(t.mounts, k)
		np := new + "/" + rest
		t.mounts[mountKey{m, np}] = sub
		// The mount point dentry's own path changes too; it is only read
		// by PathFrom (names) and by this table (path), so a new dentry
		// chain is not needed: rebuild the point by its path.
		sub.point = rebuild(m.root, np)
	}
}

// rebuild makes a dentry chain for the mount-relative path p under root,
// reusing nothing but names (the inodes of the intermediate directories
// are looked up again).
func rebuild(root *Dentry, p string) *Dentry {
	d := root
	for _, name := range strings.Split(p, "/") {
		ino, err := d.inode.Lookup(name)
		if err != nil {
			ino = d.inode
		}
		d = d.child(name, ino)
	}
	return d
}

// Bind returns the file system of a bind mount of root, an inode of fs:
// fs as seen from root, which may be a file. Mounts below root's place
// in fs are not carried over (a non-recursive bind).
func Bind(fs FS, root Inode) FS { return &bindFS{fs: fs, root: root} }

type bindFS struct {
	fs   FS
	root Inode
}

// Name implements FS.
func (b *bindFS) Name() string { return b.fs.Name() }

// Root implements FS.
func (b *bindFS) Root() Inode { return b.root }
