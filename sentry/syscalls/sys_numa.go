package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

// NUMA memory policies and memory protection keys. The library OS has one
// memory node (node 0, as /sys/devices/system/node shows), so a policy is
// checked and recorded as Linux would on a one-node machine and changes
// nothing else; libnuma, numactl and the JVM probe these calls and expect
// answers, not ENOSYS. Protection keys are those of a CPU without any to
// give: pkey_alloc fails with ENOSPC, as Linux's does where the CPU has no
// PKU, since the stubs' PKRU is not the library OS's to hand out.

func init() {
	register(SysGetMempolicy, sysGetMempolicy)
	register(SysSetMempolicy, sysSetMempolicy)
	register(SysMbind, sysMbind)
	register(SysPkeyAlloc, sysPkeyAlloc)
	register(SysPkeyFree, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, unix.EINVAL })
	register(SysPkeyMprotect, sysPkeyMprotect)
}

// Memory policy modes and flags (linux/mempolicy.h).
const (
	mpolDefault       = 0
	mpolPreferred     = 1
	mpolBind          = 2
	mpolInterleave    = 3
	mpolLocal         = 4
	mpolMax           = 7 // PREFERRED_MANY and WEIGHTED_INTERLEAVE come before it
	mpolFStaticNodes  = 1 << 15
	mpolFRelative     = 1 << 14
	mpolFNumaBalance  = 1 << 13
	mpolModeFlags     = mpolFStaticNodes | mpolFRelative | mpolFNumaBalance
	mpolFNode         = 1
	mpolFAddr         = 2
	mpolFMemsAllowed  = 4
	mpolMFValid       = 1 | 2 | 4 // MPOL_MF_STRICT, MOVE, MOVE_ALL
	mpolMFMoveAll     = 4
	maxNumNodes       = 1024 // CONFIG_NODES_SHIFT=10, Debian's
	nodeMaskMaxBits   = 4096 * 8
	mpolPreferredMany = 5
)

// sanitizeMpol splits mode into its mode and flags, as Linux's
// sanitize_mpol_flags checks them.
func sanitizeMpol(mode int32) (int32, int32, error) {
	flags := mode & mpolModeFlags
	mode &^= mpolModeFlags
	if uint32(mode) >= mpolMax {
		return 0, 0, unix.EINVAL
	}
	if flags&mpolFStaticNodes != 0 && flags&mpolFRelative != 0 {
		return 0, 0, unix.EINVAL
	}
	if flags&mpolFNumaBalance != 0 && mode != mpolBind && mode != mpolPreferredMany {
		return 0, 0, unix.EINVAL
	}
	return mode, flags, nil
}

// copyInNodes reads the node mask of maxnode-1 bits at addr (Linux's
// get_nodes): bits past the largest node number a kernel supports must be
// clear.
func copyInNodes(t *kernel.Task, addr, maxnode uint64) ([]uint64, error) {
	maxnode--
	if maxnode == 0 || addr == 0 {
		return nil, nil
	}
	if maxnode > nodeMaskMaxBits {
		return nil, unix.EINVAL
	}
	words := (maxnode + 63) / 64
	b := make([]byte, 8*words)
	if _, err := t.MM.CopyIn(addr, b); err != nil {
		return nil, unix.EFAULT
	}
	nodes := make([]uint64, words)
	for i := range nodes {
		nodes[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	if rem := maxnode % 64; rem != 0 {
		nodes[words-1] &= 1<<rem - 1
	}
	for bit := uint64(maxNumNodes); bit < maxnode; bit++ {
		if nodes[bit/64]&(1<<(bit%64)) != 0 {
			return nil, unix.EINVAL
		}
	}
	return nodes, nil
}

func nodesEmpty(nodes []uint64) bool {
	for _, w := range nodes {
		if w != 0 {
			return false
		}
	}
	return true
}

// newMemPolicy is Linux's mpol_new and mpol_set_nodemask on a machine whose
// only node is 0: the policy as get_mempolicy will report it.
func newMemPolicy(mode, flags int32, nodes []uint64) (kernel.MemPolicy, error) {
	if mode == mpolDefault {
		if !nodesEmpty(nodes) {
			return kernel.MemPolicy{}, unix.EINVAL
		}
		return kernel.MemPolicy{}, nil
	}
	switch {
	case mode == mpolPreferred && nodesEmpty(nodes):
		if flags&(mpolFStaticNodes|mpolFRelative) != 0 {
			return kernel.MemPolicy{}, unix.EINVAL
		}
		return kernel.MemPolicy{Mode: mpolLocal | flags}, nil
	case mode == mpolLocal:
		if !nodesEmpty(nodes) || flags&(mpolFStaticNodes|mpolFRelative) != 0 {
			return kernel.MemPolicy{}, unix.EINVAL
		}
		return kernel.MemPolicy{Mode: mode | flags}, nil
	case nodesEmpty(nodes):
		return kernel.MemPolicy{}, unix.EINVAL
	}
	p := kernel.MemPolicy{Mode: mode | flags}
	if flags&(mpolFStaticNodes|mpolFRelative) != 0 {
		// Kept as given, and reported so.
		p.Nodes = nodes
		return p, nil
	}
	// The nodes that exist: node 0 or nothing.
	if nodes[0]&1 == 0 {
		return kernel.MemPolicy{}, unix.EINVAL
	}
	p.Nodes = []uint64{1}
	return p, nil
}

func sysSetMempolicy(t *kernel.Task, a [6]uint64) (uint64, error) {
	mode, flags, err := sanitizeMpol(int32(a[0]))
	if err != nil {
		return 0, err
	}
	nodes, err := copyInNodes(t, a[1], a[2])
	if err != nil {
		return 0, err
	}
	p, err := newMemPolicy(mode, flags, nodes)
	if err != nil {
		return 0, err
	}
	t.SetMemPolicy(p)
	return 0, nil
}

func sysGetMempolicy(t *kernel.Task, a [6]uint64) (uint64, error) {
	policyAddr, maskAddr, maxnode, addr, flags := a[0], a[1], a[2], a[3], a[4]
	if flags&^(mpolFNode|mpolFAddr|mpolFMemsAllowed) != 0 {
		return 0, unix.EINVAL
	}
	if maskAddr != 0 && maxnode < 1 {
		return 0, unix.EINVAL
	}
	var policy int32
	var nodes []uint64
	switch {
	case flags&mpolFMemsAllowed != 0:
		if flags&(mpolFNode|mpolFAddr) != 0 {
			return 0, unix.EINVAL
		}
		nodes = []uint64{1}
	default:
		p := t.MemPolicy()
		if flags&mpolFAddr != 0 {
			// A range's own policy (mbind) is not kept: the default.
			if !t.MM.Mapped(addr&^4095, 4096) {
				return 0, unix.EFAULT
			}
			p = kernel.MemPolicy{}
		} else if addr != 0 {
			return 0, unix.EINVAL
		}
		switch {
		case flags&mpolFNode != 0 && flags&mpolFAddr != 0:
			policy = 0 // the node of the page at addr
		case flags&mpolFNode != 0:
			if p.Mode&^mpolModeFlags != mpolInterleave {
				return 0, unix.EINVAL
			}
			policy = 0 // the next node to interleave on
		default:
			policy = p.Mode
		}
		nodes = p.Nodes
	}
	if policyAddr != 0 {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(policy))
		if _, err := t.MM.CopyOut(policyAddr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
	}
	if maskAddr != 0 {
		// Linux writes ALIGN(maxnode-1, 64)/8 bytes: its node words,
		// then zeroes, up to a page.
		n := (maxnode - 1 + 63) / 64 * 8
		if n > 4096 {
			return 0, unix.EINVAL
		}
		b := make([]byte, n)
		for i, w := range nodes {
			if 8*i+8 <= len(b) {
				binary.LittleEndian.PutUint64(b[8*i:], w)
			}
		}
		if _, err := t.MM.CopyOut(maskAddr, b); err != nil {
			return 0, unix.EFAULT
		}
	}
	return 0, nil
}

func sysMbind(t *kernel.Task, a [6]uint64) (uint64, error) {
	start, length, flags := a[0], a[1], a[5]
	mode, mflags, err := sanitizeMpol(int32(a[2]))
	if err != nil {
		return 0, err
	}
	nodes, err := copyInNodes(t, a[3], a[4])
	if err != nil {
		return 0, err
	}
	if flags&^mpolMFValid != 0 {
		return 0, unix.EINVAL
	}
	if creds := t.Creds(); flags&mpolMFMoveAll != 0 && !creds.HasCap(unix.CAP_SYS_NICE) {
		return 0, unix.EPERM
	}
	if start%4096 != 0 {
		return 0, unix.EINVAL
	}
	// As Linux: the rounding may wrap to an empty range.
	length = (length + 4095) &^ 4095
	if start+length < start {
		return 0, unix.EINVAL
	}
	if length == 0 {
		return 0, nil
	}
	if _, err := newMemPolicy(mode, mflags, nodes); err != nil {
		return 0, err
	}
	if !t.MM.Mapped(start, length) {
		return 0, unix.EFAULT
	}
	return 0, nil
}

func sysPkeyAlloc(t *kernel.Task, a [6]uint64) (uint64, error) {
	const pkeyAccessMask = 0x3 // PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE
	if a[0] != 0 || a[1]&^pkeyAccessMask != 0 {
		return 0, unix.EINVAL
	}
	return 0, unix.ENOSPC
}

// sysPkeyMprotect is mprotect for key -1; no other key can have been
// allocated.
func sysPkeyMprotect(t *kernel.Task, a [6]uint64) (uint64, error) {
	if int32(a[3]) == -1 {
		return call(t, SysMprotect, a)
	}
	if a[0]%4096 != 0 {
		return 0, unix.EINVAL
	}
	if a[1] == 0 {
		return 0, nil
	}
	return 0, unix.EINVAL
}
