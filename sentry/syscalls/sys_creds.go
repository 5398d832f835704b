package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

// The library OS's credentials follow Linux's rules for a process with or
// without CAP_SETUID/CAP_SETGID, where "privileged" means euid 0 (the
// container's root holds every capability of the library OS, none of the
// host's).

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
		if c.EUID == 0 || u == c.UID || u == c.EUID || u == c.SUID || u == c.FSUID {
			c.FSUID = u
			t.SetCreds(c)
		}
		return uint64(old), nil
	})
	register(SysSetfsgid, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		c := t.Creds()
		old := c.FSGID
		g := uint32(a[0])
		if c.EUID == 0 || g == c.GID || g == c.EGID || g == c.SGID || g == c.FSGID {
			c.FSGID = g
			t.SetCreds(c)
		}
		return uint64(old), nil
	})
	register(SysCapget, sysCapget)
	register(SysCapset, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if t.Creds().EUID != 0 {
			return 0, unix.EPERM
		}
		return 0, nil
	})
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
	case c.EUID == 0:
		c.UID, c.EUID, c.SUID, c.FSUID = u, u, u, u
	case u == c.UID || u == c.SUID:
		c.EUID, c.FSUID = u, u
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
	case c.EUID == 0:
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
		return id == noChange || c.EUID == 0 || id == c.UID || id == c.EUID || id == c.SUID
	}
	if re && r != noChange && c.EUID != 0 && r != c.UID && r != c.EUID {
		return unix.EPERM
	}
	if !allowed(r) || !allowed(e) || !allowed(s) {
		return unix.EPERM
	}
	oldR := c.UID
	if r != noChange {
		c.UID = r
	}
	if e != noChange {
		c.EUID = e
	}
	if s != noChange {
		c.SUID = s
	} else if re && (r != noChange || (e != noChange && e != oldR)) {
		c.SUID = c.EUID
	}
	c.FSUID = c.EUID
	t.SetCreds(c)
	return nil
}

func setresgid(t *kernel.Task, r, e, s uint32, re bool) error {
	c := t.Creds()
	allowed := func(id uint32) bool {
		return id == noChange || c.EUID == 0 || id == c.GID || id == c.EGID || id == c.SGID
	}
	if re && r != noChange && c.EUID != 0 && r != c.GID && r != c.EGID {
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
	if c.EUID != 0 {
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

// sysCapget reports the full capability sets for root and none otherwise,
// the library OS's view of the container's capabilities.
func sysCapget(t *kernel.Task, a [6]uint64) (uint64, error) {
	var hdr [8]byte
	if _, err := t.MM.CopyIn(a[0], hdr[:]); err != nil {
		return 0, unix.EFAULT
	}
	version := binary.LittleEndian.Uint32(hdr[:])
	const v3 = 0x20080522
	if version != v3 && version != 0x20071026 && version != 0x19980330 {
		binary.LittleEndian.PutUint32(hdr[:], v3)
		t.MM.CopyOut(a[0], hdr[:4])
		if a[1] == 0 {
			return 0, nil
		}
		return 0, unix.EINVAL
	}
	if a[1] == 0 {
		return 0, nil
	}
	words := 2
	if version == 0x19980330 {
		words = 1
	}
	data := make([]byte, 12*words)
	if t.Creds().EUID == 0 {
		for i := 0; i < words; i++ {
			full := uint32(0xffffffff)
			if i == 1 {
				full = 1<<(unix.CAP_LAST_CAP-31) - 1
			}
			binary.LittleEndian.PutUint32(data[12*i:], full)
			binary.LittleEndian.PutUint32(data[12*i+4:], full)
		}
	}
	if _, err := t.MM.CopyOut(a[1], data); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}
