package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

// The library OS's credentials follow Linux's rules for a process with or
// without CAP_SETUID/CAP_SETGID in its effective set (the library OS's
// capabilities, none of the host's), with the capability changes Linux
// makes when uids move away from or back to 0.

func init() {
	register(SysGetuid, func(t *kernel.Task, _ [6]uint64) (uint64, error) { return uint64(t.Creds().UID), nil })
	register(SysGeteuid, func(t *kernel.Task, _ [6]uint64) (uint64, error) { return uint64(t.Creds().EUID), nil })
	register(SysGetgid, func(t *kernel.Task, _ [6]uint64) (uint64, error) { return uint64(t.Creds().GID), nil })
	register(SysGetegid, func(t *kernel.Task, _ [6]uint64) (uint64, error) { return uint64(t.Creds().EGID), nil })
	register(SysGetresuid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		c := t.Creds()
		return 0, putIDs(t, a, c.UID, c.EUID, c.SUID)
	})
	register(SysGetresgid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		c := t.Creds()
		return 0, putIDs(t, a, c.GID, c.EGID, c.SGID)
	})
	register(SysGetgroups, sysGetgroups)
	register(SysSetgroups, sysSetgroups)
	register(SysSetuid, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, setuid(t, uint32(a[0])) })
	register(SysSetgid, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, setgid(t, uint32(a[0])) })
	register(SysSetreuid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, setresuid(t, uint32(a[0]), uint32(a[1]), noChange, true)
	})
	register(SysSetregid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, setresgid(t, uint32(a[0]), uint32(a[1]), noChange, true)
	})
	register(SysSetresuid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, setresuid(t, uint32(a[0]), uint32(a[1]), uint32(a[2]), false)
	})
	register(SysSetresgid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		return 0, setresgid(t, uint32(a[0]), uint32(a[1]), uint32(a[2]), false)
	})
	register(SysSetfsuid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		c := t.Creds()
		old := c.FSUID
		u := uint32(a[0])
		if c.HasCap(kernel.CapSetuid) || u == c.UID || u == c.EUID || u == c.SUID || u == c.FSUID {
			c.SetFSUID(u)
			t.SetCreds(c)
		}
		return uint64(old), nil
	})
	register(SysSetfsgid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		c := t.Creds()
		old := c.FSGID
		g := uint32(a[0])
		if c.HasCap(kernel.CapSetgid) || g == c.GID || g == c.EGID || g == c.SGID || g == c.FSGID {
			c.FSGID = g
			t.SetCreds(c)
		}
		return uint64(old), nil
	})
	register(SysCapget, sysCapget)
	register(SysCapset, sysCapset)
}

// noChange is -1 in the set*id calls.
const noChange = ^uint32(0)

func putIDs(t *kernel.Task, a [6]uint64, ids ...uint32) error {
	for i, id := range ids {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], id)
		if _, err := t.MM.CopyOut(a[i], b[:]); err != nil {
			return unix.EFAULT
		}
	}
	return nil
}

func setuid(t *kernel.Task, u uint32) error {
	if u == noChange {
		return unix.EINVAL
	}
	c := t.Creds()
	switch {
	case c.HasCap(kernel.CapSetuid):
		c.SetUIDs(u, u, u, u)
	case u == c.UID || u == c.SUID:
		c.SetUIDs(c.UID, u, c.SUID, u)
	default:
		return unix.EPERM
	}
	t.SetCreds(c)
	return nil
}

func setgid(t *kernel.Task, g uint32) error {
	if g == noChange {
		return unix.EINVAL
	}
	c := t.Creds()
	switch {
	case c.HasCap(kernel.CapSetgid):
		c.GID, c.EGID, c.SGID, c.FSGID = g, g, g, g
	case g == c.GID || g == c.SGID:
		c.EGID, c.FSGID = g, g
	default:
		return unix.EPERM
	}
	t.SetCreds(c)
	return nil
}

// setresuid implements setresuid and, with re set, setreuid's rules.
func setresuid(t *kernel.Task, r, e, s uint32, re bool) error {
	c := t.Creds()
	allowed := func(id uint32) bool {
		return id == noChange || c.HasCap(kernel.CapSetuid) || id == c.UID || id == c.EUID || id == c.SUID
	}
	if re && r != noChange && !c.HasCap(kernel.CapSetuid) && r != c.UID && r != c.EUID {
		return unix.EPERM
	}
	if !allowed(r) || !allowed(e) || !allowed(s) {
		return unix.EPERM
	}
	n := c
	if r != noChange {
		n.UID = r
	}
	if e != noChange {
		n.EUID = e
	}
	if s != noChange {
		n.SUID = s
	} else if re && (r != noChange || (e != noChange && e != c.UID)) {
		n.SUID = n.EUID
	}
	c.SetUIDs(n.UID, n.EUID, n.SUID, n.EUID)
	t.SetCreds(c)
	return nil
}

func setresgid(t *kernel.Task, r, e, s uint32, re bool) error {
	c := t.Creds()
	allowed := func(id uint32) bool {
		return id == noChange || c.HasCap(kernel.CapSetgid) || id == c.GID || id == c.EGID || id == c.SGID
	}
	if re && r != noChange && !c.HasCap(kernel.CapSetgid) && r != c.GID && r != c.EGID {
		return unix.EPERM
	}
	if !allowed(r) || !allowed(e) || !allowed(s) {
		return unix.EPERM
	}
	oldR := c.GID
	if r != noChange {
		c.GID = r
	}
	if e != noChange {
		c.EGID = e
	}
	if s != noChange {
		c.SGID = s
	} else if re && (r != noChange || (e != noChange && e != oldR)) {
		c.SGID = c.EGID
	}
	c.FSGID = c.EGID
	t.SetCreds(c)
	return nil
}

func sysGetgroups(t *kernel.Task, a [6]uint64) (uint64, error) {
	size := intArg(a[0])
	groups := t.Creds().Groups
	if size < 0 {
		return 0, unix.EINVAL
	}
	if size == 0 {
		return uint64(len(groups)), nil
	}
	if size < len(groups) {
		return 0, unix.EINVAL
	}
	b := make([]byte, 4*len(groups))
	for i, g := range groups {
		binary.LittleEndian.PutUint32(b[4*i:], g)
	}
	if _, err := t.MM.CopyOut(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	return uint64(len(groups)), nil
}

func sysSetgroups(t *kernel.Task, a [6]uint64) (uint64, error) {
	n := intArg(a[0])
	if n < 0 || n > 65536 {
		return 0, unix.EINVAL
	}
	c := t.Creds()
	if !c.HasCap(kernel.CapSetgid) {
		return 0, unix.EPERM
	}
	b := make([]byte, 4*n)
	if _, err := t.MM.CopyIn(a[1], b); err != nil {
		return 0, unix.EFAULT
	}
	groups := make([]uint32, n)
	for i := range groups {
		groups[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	c.Groups = groups
	t.SetCreds(c)
	return 0, nil
}

// capVersion1 is _LINUX_CAPABILITY_VERSION_1 (32-bit sets); versions 2
// and 3 carry 64-bit sets as two 32-bit words.
const (
	capVersion1 = 0x19980330
	capVersion2 = 0x20071026
	capVersion3 = 0x20080522
)

// capHeader reads a capget/capset header: the number of 32-bit words of
// the version it names and the pid. An unknown version is answered with
// the preferred one written back and EINVAL, as Linux does.
func capHeader(t *kernel.Task, addr, data uint64) (words int, pid int32, err error) {
	var hdr [8]byte
	if _, err := t.MM.CopyIn(addr, hdr[:]); err != nil {
		return 0, 0, unix.EFAULT
	}
	pid = int32(binary.LittleEndian.Uint32(hdr[4:]))
	switch binary.LittleEndian.Uint32(hdr[:]) {
	case capVersion1:
		return 1, pid, nil
	case capVersion2, capVersion3:
		return 2, pid, nil
	}
	binary.LittleEndian.PutUint32(hdr[:], capVersion3)
	if _, err := t.MM.CopyOut(addr, hdr[:4]); err != nil {
		return 0, 0, unix.EFAULT
	}
	if data == 0 {
		// Probing for the version with a null data pointer succeeds.
		return 0, 0, nil
	}
	return 0, 0, unix.EINVAL
}

// sysCapget reports the effective, permitted and inheritable sets of the
// caller or of another process of the sandbox.
func sysCapget(t *kernel.Task, a [6]uint64) (uint64, error) {
	words, pid, err := capHeader(t, a[0], a[1])
	if err != nil || words == 0 {
		return 0, err
	}
	if pid < 0 {
		return 0, unix.EINVAL
	}
	c := t.Creds()
	if pid != 0 && pid != t.TID {
		o, ok := t.K.CredsOf(pid)
		if !ok {
			return 0, unix.ESRCH
		}
		c = o
	}
	if a[1] == 0 {
		return 0, nil
	}
	data := make([]byte, 12*words)
	for i := 0; i < words; i++ {
		for j, set := range []kernel.CapSet{c.Caps.Effective, c.Caps.Permitted, c.Caps.Inheritable} {
			binary.LittleEndian.PutUint32(data[12*i+4*j:], uint32(set>>(32*i)))
		}
	}
	if _, err := t.MM.CopyOut(a[1], data); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// sysCapset changes the caller's own sets; Linux refuses any other target
// since 2.6.24.
func sysCapset(t *kernel.Task, a [6]uint64) (uint64, error) {
	words, pid, err := capHeader(t, a[0], a[1])
	if err != nil {
		return 0, err
	}
	if words == 0 {
		return 0, unix.EINVAL
	}
	if pid != 0 && pid != t.TID {
		return 0, unix.EPERM
	}
	data := make([]byte, 12*words)
	if _, err := t.MM.CopyIn(a[1], data); err != nil {
		return 0, unix.EFAULT
	}
	var sets [3]kernel.CapSet
	for i := 0; i < words; i++ {
		for j := range sets {
			sets[j] |= kernel.CapSet(binary.LittleEndian.Uint32(data[12*i+4*j:])) << (32 * i)
		}
	}
	for j := range sets {
		sets[j] &= kernel.AllCaps
	}
	c := t.Creds()
	if !c.SetCaps(sets[0], sets[1], sets[2]) {
		return 0, unix.EPERM
	}
	t.SetCreds(c)
	return 0, nil
}
