package vfs

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// This file is the VFS side of inotify: the watches every inotify instance
// holds, and the events the VFS operations send them. An inotify instance
// (libos/fs/inotify) is a NotifyGroup plus a queue; the group's watches
// live here, because the operations that make events are here.
//
// Dentries are made per walk and file systems may make a new Inode object
// per lookup (dirfs), so a watch is keyed by what names a file for as
// long as it exists: its file system instance and its inode number
// (FileKey). Events about a file go to the watches on the file itself
// and, with the file's name, to the watches on the directory it is in.
//
// Open descriptions are tracked by key too, always (a program may open a
// file before it watches it, as tail -f does): Linux sends IN_DELETE_SELF
// only when the last name and the last open file are gone, and events
// about an open file name it by its current name, which a rename changes.

// Event and flag bits of inotify(7).
const (
	InAccess       uint32 = unix.IN_ACCESS
	InModify       uint32 = unix.IN_MODIFY
	InAttrib       uint32 = unix.IN_ATTRIB
	InCloseWrite   uint32 = unix.IN_CLOSE_WRITE
	InCloseNowrite uint32 = unix.IN_CLOSE_NOWRITE
	InOpen         uint32 = unix.IN_OPEN
	InMovedFrom    uint32 = unix.IN_MOVED_FROM
	InMovedTo      uint32 = unix.IN_MOVED_TO
	InCreate       uint32 = unix.IN_CREATE
	InDelete       uint32 = unix.IN_DELETE
	InDeleteSelf   uint32 = unix.IN_DELETE_SELF
	InMoveSelf     uint32 = unix.IN_MOVE_SELF
	InAllEvents    uint32 = unix.IN_ALL_EVENTS
	InUnmount      uint32 = unix.IN_UNMOUNT
	InQOverflow    uint32 = unix.IN_Q_OVERFLOW
	InIgnored      uint32 = unix.IN_IGNORED
	InOnlyDir      uint32 = unix.IN_ONLYDIR
	InDontFollow   uint32 = unix.IN_DONT_FOLLOW
	InExclUnlink   uint32 = unix.IN_EXCL_UNLINK
	InMaskCreate   uint32 = unix.IN_MASK_CREATE
	InMaskAdd      uint32 = unix.IN_MASK_ADD
	InIsDir        uint32 = unix.IN_ISDIR
	InOneshot      uint32 = unix.IN_ONESHOT

	// InAllBits are the bits inotify_add_watch knows; a mask with none
	// of them is EINVAL.
	InAllBits = InAllEvents | InUnmount | InQOverflow | InIgnored | InOnlyDir | InDontFollow |
		InExclUnlink | InMaskCreate | InMaskAdd | InIsDir | InOneshot
	// inUserMask are the bits a watch keeps (and fdinfo shows).
	inUserMask = InAllEvents | InOneshot | InExclUnlink
)

// Limits of fs.inotify per user, as /proc/sys/fs/inotify reports them
// (Linux's historical defaults).
const (
	MaxUserWatches   = 8192
	MaxUserInstances = 128
)

// FileKey names a file for inotify: its file system instance and inode
// number.
type FileKey struct {
	fs  FS
	ino uint64
}

// fileKeyOf is the key of the file d names, whose attributes are st.
func fileKeyOf(d *Dentry, st *unix.Stat_t) FileKey { return FileKey{d.mount.fs, st.Ino} }

// NotifySink receives a group's events, in order: it is the inotify
// instance's queue. Enqueue is called with the registry locked, so it
// must not call back into the VFS.
type NotifySink interface {
	Enqueue(wd int32, mask, cookie uint32, name string)
}

// NotifyGroup is the set of watches of one inotify instance.
type NotifyGroup struct {
	sink NotifySink
	uid  uint32
	// The fields below are guarded by notify.mu.
	byWD     map[int32]*watch
	byKey    map[FileKey]*watch
	nextWD   int32
	released bool
}

// watch is one file a group watches.
type watch struct {
	g    *NotifyGroup
	wd   int32
	key  FileKey
	dev  uint64 // st_dev, for fdinfo
	mask uint32 // inUserMask bits
}

// openFile is what the registry knows of an open description with a
// dentry: which file it is and the name its directory's watches know it
// by. Fields below key are guarded by notify.mu.
type openFile struct {
	key   FileKey
	isDir bool
	// path marks an O_PATH description: it holds the file, so it delays
	// IN_DELETE_SELF, but opening, using and closing it are not events.
	path  bool
	write bool

	// dir is the directory the file was opened in (nil at a mount's
	// root, which has no parent to notify) and dirKey its key, found
	// when an event first needs it.
	dir      *Dentry
	dirKey   FileKey
	dirKnown bool
	name     string
	// unlinked: the name the file was opened by is gone (IN_EXCL_UNLINK
	// watches hear no more of it).
	unlinked bool

	prev, next *openFile
}

// notifier is the registry of every watch and every open description.
type notifier struct {
	// watches counts live watches: with none, every hook returns after
	// this one load.
	watches atomic.Int64

	mu     sync.Mutex
	byKey  map[FileKey][]*watch
	opens  map[FileKey]*openFile // a list per file, linked through prev/next
	gone   map[FileKey]bool      // no name left but still open: IN_DELETE_SELF waits
	cookie uint32
	// Per user: instances and watches, for the fs.inotify limits.
	userInstances map[uint32]int
	userWatches   map[uint32]int

	// dn are the F_NOTIFY registrations on each directory (dnotify.go);
	// dnCount counts them, so a close looks no further without one.
	dn      map[FileKey][]*dnotify
	dnCount atomic.Int64
}

var notify = notifier{
	byKey:         make(map[FileKey][]*watch),
	opens:         make(map[FileKey]*openFile),
	gone:          make(map[FileKey]bool),
	userInstances: make(map[uint32]int),
	userWatches:   make(map[uint32]int),
}

// NewNotifyGroup makes the watch set of a new inotify instance for the
// user uid; EMFILE past MaxUserInstances.
func NewNotifyGroup(sink NotifySink, uid uint32) (*NotifyGroup, error) {
	notify.mu.Lock()
	defer notify.mu.Unlock()
	if notify.userInstances[uid] >= MaxUserInstances {
		return nil, unix.EMFILE
	}
	notify.userInstances[uid]++
	return &NotifyGroup{
		sink: sink, uid: uid, nextWD: 1,
		byWD: make(map[int32]*watch), byKey: make(map[FileKey]*watch),
	}, nil
}

// AddWatch watches the file d (whose attributes are st) for the events
// in mask, or changes the group's watch on it (IN_MASK_ADD adds to its
// mask, IN_MASK_CREATE refuses with EEXIST), and returns the watch
// descriptor. The caller has checked mask and resolved d with
// IN_DONT_FOLLOW and IN_ONLYDIR applied.
func (g *NotifyGroup) AddWatch(d *Dentry, st *unix.Stat_t, mask uint32) (int32, error) {
	key := fileKeyOf(d, st)
	notify.mu.Lock()
	defer notify.mu.Unlock()
	if g.released {
		return 0, unix.EBADF
	}
	if w := g.byKey[key]; w != nil {
		if mask&InMaskCreate != 0 {
			return 0, unix.EEXIST
		}
		if mask&InMaskAdd != 0 {
			w.mask |= mask & inUserMask
		} else {
			w.mask = mask & inUserMask
		}
		return w.wd, nil
	}
	if notify.userWatches[g.uid] >= MaxUserWatches {
		return 0, unix.ENOSPC
	}
	wd, ok := g.allocWD()
	if !ok {
		return 0, unix.ENOSPC
	}
	w := &watch{g: g, wd: wd, key: key, dev: st.Dev, mask: mask & inUserMask}
	g.byWD[wd] = w
	g.byKey[key] = w
	notify.byKey[key] = append(notify.byKey[key], w)
	notify.userWatches[g.uid]++
	notify.watches.Add(1)
	return wd, nil
}

// allocWD hands out watch descriptors in increasing order, wrapping at
// INT_MAX, so a removed one is not soon reused (Linux's idr_alloc_cyclic).
func (g *NotifyGroup) allocWD() (int32, bool) {
	const maxWD = 1<<31 - 1
	for range len(g.byWD) + 1 {
		wd := g.nextWD
		if wd <= 0 {
			wd = 1
		}
		g.nextWD = wd + 1
		if wd == maxWD {
			g.nextWD = 1
		}
		if _, used := g.byWD[wd]; !used {
			return wd, true
		}
	}
	return 0, false
}

// SetNextWD makes wd the next watch descriptor tried
// (INOTIFY_IOC_SETNEXTWD, for checkpoint/restore).
func (g *NotifyGroup) SetNextWD(wd int32) {
	notify.mu.Lock()
	g.nextWD = wd
	notify.mu.Unlock()
}

// RemoveWatch removes the watch wd, which then reports IN_IGNORED;
// EINVAL if the group has no such watch.
func (g *NotifyGroup) RemoveWatch(wd int32) error {
	notify.mu.Lock()
	defer notify.mu.Unlock()
	w := g.byWD[wd]
	if w == nil {
		return unix.EINVAL
	}
	notify.removeLocked(w, true)
	return nil
}

// WatchInfo describes one watch, for /proc/PID/fdinfo.
type WatchInfo struct {
	WD   int32
	Dev  uint64 // st_dev of the file
	Ino  uint64
	Mask uint32 // the events and IN_ONESHOT, IN_EXCL_UNLINK
}

// Watches lists the group's watches, the newest first as Linux lists
// them.
func (g *NotifyGroup) Watches() []WatchInfo {
	notify.mu.Lock()
	out := make([]WatchInfo, 0, len(g.byWD))
	for _, w := range g.byWD {
		out = append(out, WatchInfo{WD: w.wd, Dev: w.dev, Ino: w.key.ino, Mask: w.mask})
	}
	notify.mu.Unlock()
	slices.SortFunc(out, func(a, b WatchInfo) int { return cmp.Compare(b.WD, a.WD) })
	return out
}

// Release drops every watch of a closing instance, with no events.
func (g *NotifyGroup) Release() {
	notify.mu.Lock()
	defer notify.mu.Unlock()
	if g.released {
		return
	}
	g.released = true
	for _, w := range g.byWD {
		notify.removeLocked(w, false)
	}
	if notify.userInstances[g.uid]--; notify.userInstances[g.uid] <= 0 {
		delete(notify.userInstances, g.uid)
	}
}

// removeLocked detaches w from its group and file, telling the group
// with IN_IGNORED unless the group is going away.
func (n *notifier) removeLocked(w *watch, ignored bool) {
	g := w.g
	delete(g.byWD, w.wd)
	delete(g.byKey, w.key)
	ws := n.byKey[w.key]
	for i, o := range ws {
		if o == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(n.byKey, w.key)
	} else {
		n.byKey[w.key] = ws
	}
	if n.userWatches[g.uid]--; n.userWatches[g.uid] <= 0 {
		delete(n.userWatches, g.uid)
	}
	n.watches.Add(-1)
	if ignored {
		g.sink.Enqueue(w.wd, InIgnored, 0, "")
	}
}

// sendLocked gives the event mask to the F_NOTIFY registrations on key
// and to every watch on key that wants it (name is "" for the file's own
// watches). A watch with IN_ONESHOT is removed after its first event; one
// with IN_EXCL_UNLINK hears nothing of a file through a name that is
// gone.
func (n *notifier) sendLocked(key FileKey, mask, cookie uint32, name string, unlinked bool) {
	if n.dnCount.Load() != 0 {
		n.dnotifySendLocked(key, mask)
	}
	ws := n.byKey[key]
	if len(ws) == 0 {
		return
	}
	// A oneshot removal edits the slice; walk a copy.
	for _, w := range append([]*watch(nil), ws...) {
		if w.mask&mask&InAllEvents == 0 || unlinked && w.mask&InExclUnlink != 0 {
			continue
		}
		w.g.sink.Enqueue(w.wd, mask, cookie, name)
		if w.mask&InOneshot != 0 {
			n.removeLocked(w, true)
		}
	}
}

// deleteSelfLocked reports that the file key no longer exists: its
// watches get IN_DELETE_SELF and are removed (IN_IGNORED).
func (n *notifier) deleteSelfLocked(key FileKey) {
	delete(n.gone, key)
	n.sendLocked(key, InDeleteSelf, 0, "", false)
	for _, w := range append([]*watch(nil), n.byKey[key]...) {
		n.removeLocked(w, true)
	}
}

// lostLinkLocked reports that the file key has lost its last name: it is
// deleted now, or at the last close of the descriptions still open on it.
func (n *notifier) lostLinkLocked(key FileKey) {
	if n.opens[key] != nil {
		if len(n.byKey[key]) > 0 {
			n.gone[key] = true
		}
		return
	}
	n.deleteSelfLocked(key)
}

// Open descriptions.

// opened records a new description of the file d, whose attributes are
// st.
func (n *notifier) opened(desc *FileDescription, d *Dentry, st *unix.Stat_t) {
	acc := desc.Flags() & unix.O_ACCMODE
	of := &openFile{
		key:   fileKeyOf(d, st),
		isDir: fileType(st) == unix.S_IFDIR,
		path:  desc.Flags()&unix.O_PATH != 0,
		write: acc == unix.O_WRONLY || acc == unix.O_RDWR,
		dir:   d.parent,
		name:  d.name,
	}
	desc.notify = of
	n.mu.Lock()
	if head := n.opens[of.key]; head != nil {
		of.next = head
		head.prev = of
	}
	n.opens[of.key] = of
	n.mu.Unlock()
}

// closed forgets a description whose last reference went, after telling
// the watches IN_CLOSE_WRITE or IN_CLOSE_NOWRITE; the file's last close
// after its last name went is its IN_DELETE_SELF.
func (n *notifier) closed(of *openFile) {
	if !of.path && n.watches.Load() != 0 {
		mask := InCloseNowrite
		if of.write {
			mask = InCloseWrite
		}
		n.fileEvent(of, mask)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if of.prev != nil {
		of.prev.next = of.next
	} else if n.opens[of.key] == of {
		if of.next != nil {
			n.opens[of.key] = of.next
		} else {
			delete(n.opens, of.key)
		}
	}
	if of.next != nil {
		of.next.prev = of.prev
	}
	of.prev, of.next = nil, nil
	if n.opens[of.key] == nil && n.gone[of.key] {
		n.deleteSelfLocked(of.key)
	}
}

// fileEvent sends mask (IN_ACCESS, IN_MODIFY, IN_OPEN, IN_CLOSE_*,
// IN_ATTRIB) about an open file: to its directory's watches with its
// name, then to its own.
func (n *notifier) fileEvent(of *openFile, mask uint32) {
	if of.isDir {
		mask |= InIsDir
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if dir := of.dir; dir != nil && !of.dirKnown {
		// The directory's identity costs a stat, made once per
		// description and not under the registry's lock.
		n.mu.Unlock()
		st, err := dir.inode.Stat()
		n.mu.Lock()
		if err == nil && of.dir == dir && !of.dirKnown {
			of.dirKey, of.dirKnown = fileKeyOf(dir, &st), true
		}
	}
	if of.dirKnown {
		n.sendLocked(of.dirKey, mask, 0, of.name, of.unlinked)
	}
	n.sendLocked(of.key, mask, 0, "", of.unlinked)
}

// sameDir reports whether of was opened in the directory dir (whose key
// is dirKey) under name.
func (of *openFile) sameDir(dir *Dentry, dirKey FileKey, name string) bool {
	if of.name != name || of.dir == nil {
		return false
	}
	if of.dirKnown {
		return of.dirKey == dirKey
	}
	return of.dir.Same(dir)
}

// unlinkedLocked marks the descriptions of key opened as dir/name: that
// name is gone.
func (n *notifier) unlinkedLocked(key FileKey, dir *Dentry, dirKey FileKey, name string) {
	for of := n.opens[key]; of != nil; of = of.next {
		if of.sameDir(dir, dirKey, name) {
			of.unlinked = true
		}
	}
}

// Hooks the VFS operations call. Each returns at once when no watch
// exists anywhere.

// notifyDentry sends mask about the file d (attributes st), found by a
// path walk: to its directory's watches with its name, then to its own.
func notifyDentry(d *Dentry, st *unix.Stat_t, mask uint32) {
	if notify.watches.Load() == 0 || mask == 0 {
		return
	}
	if fileType(st) == unix.S_IFDIR {
		mask |= InIsDir
	}
	var dirKey FileKey
	hasDir := false
	if d.parent != nil {
		if dst, err := d.parent.inode.Stat(); err == nil {
			dirKey, hasDir = fileKeyOf(d.parent, &dst), true
		}
	}
	notify.mu.Lock()
	defer notify.mu.Unlock()
	if hasDir {
		notify.sendLocked(dirKey, mask, 0, d.name, false)
	}
	notify.sendLocked(fileKeyOf(d, st), mask, 0, "", false)
}

// notifyDentryStat is notifyDentry for a caller without d's attributes.
func notifyDentryStat(d *Dentry, mask uint32) {
	if notify.watches.Load() == 0 {
		return
	}
	if st, err := d.inode.Stat(); err == nil {
		notifyDentry(d, &st, mask)
	}
}

// notifyCreate sends IN_CREATE for name, new in the directory dir
// (attributes dst).
func notifyCreate(dir *Dentry, dst *unix.Stat_t, name string, isDir bool) {
	if notify.watches.Load() == 0 {
		return
	}
	mask := InCreate
	if isDir {
		mask |= InIsDir
	}
	notify.mu.Lock()
	notify.sendLocked(fileKeyOf(dir, dst), mask, 0, name, false)
	notify.mu.Unlock()
}

// notifyLink reports a new hard link name in dir to the file old: its
// link count changed (IN_ATTRIB), and the directory has a new entry.
func notifyLink(old *Dentry, st *unix.Stat_t, dir *Dentry, dst *unix.Stat_t, name string) {
	if notify.watches.Load() == 0 {
		return
	}
	notify.mu.Lock()
	defer notify.mu.Unlock()
	notify.sendLocked(fileKeyOf(old, st), InAttrib, 0, "", false)
	notify.sendLocked(fileKeyOf(dir, dst), InCreate, 0, name, false)
}

// notifyRemove reports that name (the file child, attributes st, which
// had st.Nlink links) was removed from dir (attributes dst): IN_ATTRIB
// for a non-directory's link count, IN_DELETE_SELF when that was its last
// name (or later, at its last close), and IN_DELETE to the directory.
func notifyRemove(dir *Dentry, dst *unix.Stat_t, child *Dentry, st *unix.Stat_t, name string) {
	if notify.watches.Load() == 0 {
		return
	}
	key, dirKey := fileKeyOf(child, st), fileKeyOf(dir, dst)
	isDir := fileType(st) == unix.S_IFDIR
	notify.mu.Lock()
	defer notify.mu.Unlock()
	notify.unlinkedLocked(key, dir, dirKey, name)
	if !isDir {
		notify.sendLocked(key, InAttrib, 0, "", false)
	}
	if isDir || st.Nlink <= 1 {
		notify.lostLinkLocked(key)
	}
	mask := InDelete
	if isDir {
		mask |= InIsDir
	}
	notify.sendLocked(dirKey, mask, 0, name, false)
}

// renameSide is one end of a rename: a directory and a name in it.
type renameSide struct {
	dir  *Dentry
	dst  *unix.Stat_t
	name string
}

// notifyRename reports that the file src (attributes st) moved from
// from.name to to.name: IN_MOVED_FROM and IN_MOVED_TO with one cookie,
// IN_MOVE_SELF to the file. replaced (attributes rst), when not nil, is
// the file that to.name named before, which lost that name. Open
// descriptions of src opened by its old name now go by the new one.
func notifyRename(from, to renameSide, src *Dentry, st *unix.Stat_t, replaced *Dentry, rst *unix.Stat_t) {
	if notify.watches.Load() == 0 {
		// Open descriptions still follow the new name, for a watch made
		// later; that costs the rename a lock only when one is open.
		notify.mu.Lock()
		notify.renamedLocked(fileKeyOf(src, st), from, to)
		notify.mu.Unlock()
		return
	}
	fromKey, toKey := fileKeyOf(from.dir, from.dst), fileKeyOf(to.dir, to.dst)
	mask := uint32(0)
	if fileType(st) == unix.S_IFDIR {
		mask = InIsDir
	}
	notify.mu.Lock()
	defer notify.mu.Unlock()
	notify.cookie++
	if notify.cookie == 0 {
		notify.cookie = 1
	}
	c := notify.cookie
	notify.sendLocked(fromKey, InMovedFrom|mask, c, from.name, false)
	notify.sendLocked(toKey, InMovedTo|mask, c, to.name, false)
	var rkey FileKey
	if replaced != nil {
		rkey = fileKeyOf(replaced, rst)
		notify.unlinkedLocked(rkey, to.dir, toKey, to.name)
		rmask := InAttrib
		if fileType(rst) == unix.S_IFDIR {
			rmask |= InIsDir
		}
		notify.sendLocked(rkey, rmask, 0, "", false)
	}
	notify.sendLocked(fileKeyOf(src, st), InMoveSelf, 0, "", false)
	notify.renamedLocked(fileKeyOf(src, st), from, to)
	if replaced != nil && (fileType(rst) == unix.S_IFDIR || rst.Nlink <= 1) {
		notify.lostLinkLocked(rkey)
	}
}

// renamedLocked moves the descriptions of key opened as from to to's
// directory and name.
func (n *notifier) renamedLocked(key FileKey, from, to renameSide) {
	head := n.opens[key]
	if head == nil {
		return
	}
	fromKey, toKey := fileKeyOf(from.dir, from.dst), fileKeyOf(to.dir, to.dst)
	for of := head; of != nil; of = of.next {
		if of.sameDir(from.dir, fromKey, from.name) {
			of.dir, of.dirKey, of.dirKnown, of.name = to.dir, toKey, true, to.name
		}
	}
}

// notifyAttr sends the event a change of attributes a makes to d: Linux's
// fsnotify_change (a size change is IN_MODIFY; times alone are
// IN_ACCESS or IN_MODIFY; both times, owners and mode are IN_ATTRIB).
func notifyAttr(d *Dentry, st *unix.Stat_t, a Attr) {
	var mask uint32
	if a.Mask&(AttrUID|AttrGID|AttrMode) != 0 {
		mask |= InAttrib
	}
	if a.Mask&AttrSize != 0 {
		mask |= InModify
	}
	switch a.Mask & (AttrAtime | AttrMtime) {
	case AttrAtime | AttrMtime:
		mask |= InAttrib
	case AttrAtime:
		mask |= InAccess
	case AttrMtime:
		mask |= InModify
	}
	notifyDentry(d, st, mask)
}

// NotifyAccess tells the watches that data was read from d (IN_ACCESS).
func NotifyAccess(d *FileDescription) { d.notifyFile(InAccess) }

// NotifyModify tells the watches that d's file was written, truncated or
// allocated (IN_MODIFY).
func NotifyModify(d *FileDescription) { d.notifyFile(InModify) }

func (d *FileDescription) notifyFile(mask uint32) {
	if notify.watches.Load() == 0 || d.notify == nil || d.notify.path {
		return
	}
	notify.fileEvent(d.notify, mask)
}
