package kernel

import (
	"slices"

	"golang.org/x/sys/unix"
)

// IPCPerm is who owns a System V object and who may use it (struct
// ipc64_perm), shared by shared memory segments and semaphore sets.
type IPCPerm struct {
	Key                  int32
	UID, GID, CUID, CGID uint32
	// Mode is the permission bits and, for a segment, SHM_DEST and
	// SHM_LOCKED.
	Mode uint16
	Seq  uint16
}

// newIPCPerm is the permission of an object creds make with key and
// semget's or shmget's flags (their low 9 bits are the mode).
func newIPCPerm(c *Creds, key int32, flags int, seq uint16) IPCPerm {
	return IPCPerm{Key: key, UID: c.EUID, GID: c.EGID, CUID: c.EUID, CGID: c.EGID, Mode: uint16(flags & 0o777), Seq: seq}
}

// access reports whether creds may use the object as want (4 read, 2
// write or alter), by the owner, group and other bits, or CAP_IPC_OWNER.
func (p *IPCPerm) access(c *Creds, want uint16) bool {
	if c.HasCap(unix.CAP_IPC_OWNER) {
		return true
	}
	mode := p.Mode
	switch {
	case c.EUID == p.UID || c.EUID == p.CUID:
		mode >>= 6
	case c.EGID == p.GID || c.EGID == p.CGID || slices.Contains(c.Groups, p.GID):
		mode >>= 3
	}
	return mode&want == want
}

// owner reports whether creds may change or remove the object (IPC_SET,
// IPC_RMID): its owner, its creator, or CAP_SYS_ADMIN.
func (p *IPCPerm) owner(c *Creds) bool {
	return c.EUID == p.UID || c.EUID == p.CUID || c.HasCap(unix.CAP_SYS_ADMIN)
}

// set is IPC_SET's change: the owner, group and permission bits.
func (p *IPCPerm) set(uid, gid uint32, mode uint16) {
	p.UID, p.GID = uid, gid
	p.Mode = p.Mode&^0o777 | mode&0o777
}

// ipcID makes an id as Linux does: the lowest index not in use in the
// low 15 bits and a sequence number above, so that a stale id rarely
// names a new object.
func ipcID(seq uint16, inUse []int32) int32 {
	used := make(map[int32]bool, len(inUse))
	for _, id := range inUse {
		used[id&0x7fff] = true
	}
	idx := int32(0)
	for used[idx] {
		idx++
	}
	return int32(seq)<<15 | idx
}

// ipcPerm gives the registries' helpers an object's permission.
func (p *IPCPerm) ipcPerm() *IPCPerm { return p }

// ipcObject is a segment, a semaphore set or a message queue.
type ipcObject interface{ ipcPerm() *IPCPerm }

// ipcLookup is the part of shmget, semget and msgget that finds an
// existing object by key: its id, with EEXIST for IPC_CREAT|IPC_EXCL,
// check's error (a size the object cannot give), then EACCES for an
// access the flags ask for and creds do not have. found is false when
// there is none and one may be made (ENOENT without IPC_CREAT).
func ipcLookup[T ipcObject](objs map[int32]T, key int32, flags int, c *Creds, check func(T) error) (id int32, found bool, err error) {
	if key == unix.IPC_PRIVATE {
		return 0, false, nil
	}
	for oid, o := range objs {
		p := o.ipcPerm()
		if p.Key != key {
			continue
		}
		if flags&unix.IPC_CREAT != 0 && flags&unix.IPC_EXCL != 0 {
			return 0, true, unix.EEXIST
		}
		if check != nil {
			if err := check(o); err != nil {
				return 0, true, err
			}
		}
		if !p.access(c, uint16(flags>>6)&7) {
			return 0, true, unix.EACCES
		}
		return oid, true, nil
	}
	if flags&unix.IPC_CREAT == 0 {
		return 0, true, unix.ENOENT
	}
	return 0, false, nil
}

// ipcNewID is the id of an object made next in objs, with seq.
func ipcNewID[T any](objs map[int32]T, seq uint16) int32 {
	ids := make([]int32, 0, len(objs))
	for id := range objs {
		ids = append(ids, id)
	}
	return ipcID(seq, ids)
}

// ipcAt is the object with id, or at index id for the *_STAT commands.
func ipcAt[T any](objs map[int32]T, id int32, byIndex bool) (T, bool) {
	if !byIndex {
		o, ok := objs[id]
		return o, ok
	}
	for oid, o := range objs {
		if oid&0x7fff == id {
			return o, true
		}
	}
	var zero T
	return zero, false
}

// ipcOwned is the object with id for IPC_SET and IPC_RMID: EINVAL if there
// is none, EPERM if creds may not change it.
func ipcOwned[T ipcObject](objs map[int32]T, id int32, c *Creds) (T, error) {
	o, ok := objs[id]
	if !ok {
		return o, unix.EINVAL
	}
	if !o.ipcPerm().owner(c) {
		return o, unix.EPERM
	}
	return o, nil
}
