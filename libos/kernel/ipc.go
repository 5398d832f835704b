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
