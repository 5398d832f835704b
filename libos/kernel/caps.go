package kernel

// Capabilities follow Linux's model (capabilities(7)): five sets per
// process, changed by capset, prctl, execve and the set*id calls. They are
// the library OS's own: a capability lets a workload do something to the
// sandbox's kernel, never to the host.

// CapSet is a set of capabilities, bit n for capability n.
type CapSet uint64

// LastCap is CAP_CHECKPOINT_RESTORE, the highest capability of Linux 6.x
// (/proc/sys/kernel/cap_last_cap).
const LastCap = 40

// AllCaps holds every capability the library OS knows.
const AllCaps = CapSet(1)<<(LastCap+1) - 1

// Capability numbers the library OS checks.
const (
	CapChown          = 0
	CapDacOverride    = 1
	CapDacReadSearch  = 2
	CapFowner         = 3
	CapFsetid         = 4
	CapKill           = 5
	CapSetgid         = 6
	CapSetuid         = 7
	CapSetpcap        = 8
	CapLinuxImmutable = 9
	CapNetRaw         = 13
	CapIPCLock        = 14
	CapSysChroot      = 18
	CapSysPtrace      = 19
	CapSysAdmin       = 21
	CapSysNice        = 23
	CapSysResource    = 24
	CapMknod          = 27
	CapMacOverride    = 32
	CapSyslog         = 34
)

// capFSMask are the capabilities that follow the fsuid to and from 0
// (CAP_FS_MASK in Linux).
const capFSMask = CapSet(1)<<CapChown | 1<<CapDacOverride | 1<<CapDacReadSearch |
	1<<CapFowner | 1<<CapFsetid | 1<<CapLinuxImmutable | 1<<CapMknod | 1<<CapMacOverride

// CapSets are a process's capability sets.
type CapSets struct {
	Effective, Permitted, Inheritable, Bounding, Ambient CapSet
}

// Has says whether c holds capability n.
func (c CapSet) Has(n int) bool { return n >= 0 && n <= LastCap && c&(1<<n) != 0 }

// RootCaps are the sets of a process that holds every capability, as the
// container's root had before the OCI spec could name its own.
func RootCaps() CapSets {
	return CapSets{Effective: AllCaps, Permitted: AllCaps, Bounding: AllCaps}
}

// HasCap says whether the credentials hold capability n in their
// effective set.
func (c *Creds) HasCap(n int) bool { return c.Caps.Effective.Has(n) }

// execCaps computes the sets after an execve of a file without file
// capabilities or set-id bits (the library OS supports neither), as
// Linux's cap_bprm_creds_from_file: root (real or effective uid 0) gains
// its bounding and inheritable sets, and effective uid 0 makes them
// effective; anyone else keeps only the ambient set.
func (c *Creds) execCaps() {
	s := &c.Caps
	// SECBIT_KEEP_CAPS never survives an execve.
	c.KeepCaps = false
	s.Ambient &= s.Permitted & s.Inheritable
	p := CapSet(0)
	if c.EUID == 0 || c.UID == 0 {
		p = s.Bounding | s.Inheritable
	}
	s.Permitted = (p | s.Ambient) & AllCaps
	if c.EUID == 0 {
		s.Effective = s.Permitted
	} else {
		s.Effective = s.Ambient
	}
}

// execCreds changes the process's credentials as a successful execve
// does: the saved and file system ids become the effective ones, and the
// capability sets are recomputed.
func (t *Task) execCreds() {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	c := t.creds
	c.SUID, c.FSUID = c.EUID, c.EUID
	c.SGID, c.FSGID = c.EGID, c.EGID
	c.execCaps()
	for _, o := range t.tg.tasks {
		o.creds = c
	}
}

// fixSetuidCaps applies Linux's rules for a change of uids
// (cap_emulate_setxuid) from old to c: leaving uid 0 in every one of real,
// effective and saved uid drops the permitted and effective sets (unless
// KeepCaps) and always the ambient set; leaving effective uid 0 drops the
// effective set; gaining it makes the permitted set effective.
func (c *Creds) fixSetuidCaps(old Creds) {
	s := &c.Caps
	wasRoot := old.UID == 0 || old.EUID == 0 || old.SUID == 0
	if wasRoot && c.UID != 0 && c.EUID != 0 && c.SUID != 0 {
		if !c.KeepCaps {
			s.Permitted, s.Effective = 0, 0
		}
		s.Ambient = 0
	}
	switch {
	case old.EUID == 0 && c.EUID != 0:
		s.Effective = 0
	case old.EUID != 0 && c.EUID == 0:
		s.Effective = s.Permitted
	}
}

// fixSetfsuidCaps applies Linux's rule for a change of fsuid: the file
// system capabilities leave the effective set with fsuid 0 and come back
// from the permitted set with it.
func (c *Creds) fixSetfsuidCaps(oldFSUID uint32) {
	s := &c.Caps
	switch {
	case oldFSUID == 0 && c.FSUID != 0:
		s.Effective &^= capFSMask
	case oldFSUID != 0 && c.FSUID == 0:
		s.Effective |= s.Permitted & capFSMask
	}
}

// SetUIDs replaces the uids as a set*uid call does, with the capability
// changes that go with it.
func (c *Creds) SetUIDs(r, e, s, fs uint32) {
	old := *c
	c.UID, c.EUID, c.SUID, c.FSUID = r, e, s, fs
	c.fixSetuidCaps(old)
	// Linux applies the fsuid rule only for setfsuid; the other calls
	// move fsuid along with euid and the rule above covers it.
}

// SetFSUID replaces the fsuid as setfsuid does.
func (c *Creds) SetFSUID(fs uint32) {
	old := c.FSUID
	c.FSUID = fs
	c.fixSetfsuidCaps(old)
}

// SetCaps checks and applies a capset(2) of the effective, permitted and
// inheritable sets, with Linux's rules (cap_capset); false means EPERM.
func (c *Creds) SetCaps(eff, perm, inh CapSet) bool {
	s := &c.Caps
	if !c.HasCap(CapSetpcap) && inh&^(s.Inheritable|s.Permitted) != 0 {
		return false
	}
	if inh&^(s.Inheritable|s.Bounding) != 0 {
		return false
	}
	if perm&^s.Permitted != 0 || eff&^perm != 0 {
		return false
	}
	s.Effective, s.Permitted, s.Inheritable = eff, perm, inh
	s.Ambient &= perm & inh
	return true
}

// CredsOf returns a copy of the credentials of thread tid.
func (k *Kernel) CredsOf(tid int32) (Creds, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.tasks[tid]
	if !ok {
		return Creds{}, false
	}
	c := t.creds
	c.Groups = append([]uint32(nil), c.Groups...)
	return c, true
}
