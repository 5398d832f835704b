package vfs

import "golang.org/x/sys/unix"

// Directory notification (fcntl F_NOTIFY, Linux's dnotify): a process asks
// for a signal when a directory it holds open, or a file in it, is
// accessed, modified, created, removed, renamed or has its attributes
// changed. A registration belongs to an open description and the fd
// table that registered it, as Linux keys it by filp and files_struct:
// closing any fd of the description in that table ends it (dnotify_flush
// from filp_flush). It rides on inotify's event sources (notify.go): the
// events that reach a directory's watches, with or without a child's
// name, reach its registrations too.

// DN_* bits of fcntl(F_NOTIFY).
const (
	DnAccess    = 0x1
	DnModify    = 0x2
	DnCreate    = 0x4
	DnDelete    = 0x8
	DnRename    = 0x10
	DnAttrib    = 0x20
	DnMultishot = 0x80000000
)

// dnotify is one F_NOTIFY registration.
type dnotify struct {
	desc  *FileDescription
	table *FDTable
	key   FileKey
	// Guarded by notify.mu.
	fd     int32
	mask   uint32 // DN_* bits, DN_MULTISHOT among them
	events uint32 // the IN_* events mask asks for
	send   func(d *FileDescription, fd int32)
}

// dnEvents is the inotify events that a DN_* mask asks for (Linux's
// convert_arg): a creation includes a move in, a deletion a move out,
// and a rename is reported to the directory the name left.
func dnEvents(mask uint32) uint32 {
	var ev uint32
	if mask&DnAccess != 0 {
		ev |= InAccess
	}
	if mask&DnModify != 0 {
		ev |= InModify
	}
	if mask&DnCreate != 0 {
		ev |= InCreate | InMovedTo
	}
	if mask&DnDelete != 0 {
		ev |= InDelete | InMovedFrom
	}
	if mask&DnRename != 0 {
		ev |= InMovedFrom
	}
	if mask&DnAttrib != 0 {
		ev |= InAttrib
	}
	return ev
}

// DirNotify implements fcntl(fd, F_NOTIFY, mask) for the description d,
// installed as fd in table: it adds mask to the registration of d in
// table (making one), and send is called with d and the fd of the latest
// F_NOTIFY each time an event it asks for happens (it must not block: it
// runs with the registry locked). Without DN_MULTISHOT the registration
// ends after its first signal. A mask with no event removes it. The file
// must be a directory (ENOTDIR).
func DirNotify(d *FileDescription, table *FDTable, fd int32, mask uint32, send func(d *FileDescription, fd int32)) error {
	if mask&^DnMultishot == 0 {
		notify.dnotifyFlush(d, table)
		return nil
	}
	of := d.notify
	if of == nil || !of.isDir || of.path {
		return unix.ENOTDIR
	}
	notify.mu.Lock()
	defer notify.mu.Unlock()
	for _, r := range notify.dn[of.key] {
		if r.desc == d && r.table == table {
			r.fd = fd
			r.mask |= mask
			r.events = dnEvents(r.mask)
			r.send = send
			return nil
		}
	}
	r := &dnotify{desc: d, table: table, key: of.key, fd: fd, mask: mask, events: dnEvents(mask), send: send}
	if notify.dn == nil {
		notify.dn = make(map[FileKey][]*dnotify)
	}
	notify.dn[of.key] = append(notify.dn[of.key], r)
	// The hooks run only while some watch exists: a registration counts.
	notify.watches.Add(1)
	notify.dnCount.Add(1)
	return nil
}

// dnotifySendLocked signals the registrations on key that want an event
// of mask, dropping those without DN_MULTISHOT.
func (n *notifier) dnotifySendLocked(key FileKey, mask uint32) {
	rs := n.dn[key]
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if r.events&mask == 0 {
			continue
		}
		r.send(r.desc, r.fd)
		if r.mask&DnMultishot == 0 {
			n.dnotifyRemoveLocked(r)
			rs = n.dn[key]
			i--
		}
	}
}

// dnotifyRemoveLocked ends the registration r.
func (n *notifier) dnotifyRemoveLocked(r *dnotify) {
	rs := n.dn[r.key]
	for i, o := range rs {
		if o == r {
			rs = append(rs[:i:i], rs[i+1:]...)
			break
		}
	}
	if len(rs) == 0 {
		delete(n.dn, r.key)
	} else {
		n.dn[r.key] = rs
	}
	n.watches.Add(-1)
	n.dnCount.Add(-1)
}

// dnotifyFlush ends the registration of d made through table, if any:
// an fd of d in table was closed.
func (n *notifier) dnotifyFlush(d *FileDescription, table *FDTable) {
	if n.dnCount.Load() == 0 || d.notify == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, r := range n.dn[d.notify.key] {
		if r.desc == d && r.table == table {
			n.dnotifyRemoveLocked(r)
			return
		}
	}
}
