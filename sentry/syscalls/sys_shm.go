package syscalls

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/mm"
)

// System V shared memory (libos/kernel/shm.go keeps the segments).

func init() {
	register(SysShmget, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		id, err := t.K.Shm().Get(t, int32(a[0]), a[1], intArg(a[2]))
		return uint64(id), err
	})
	register(SysShmat, sysShmat)
	register(SysShmdt, sysShmdt)
	register(SysShmctl, sysShmctl)
}

// shmat's flags and the alignment SHM_RND rounds to.
const (
	shmRdonly = 0o10000
	shmRnd    = 0o20000
	shmRemap  = 0o40000
	shmExec   = 0o100000
	shmLBA    = arch.PageSize
)

// shmName is how /proc/PID/maps names an attachment of segment id, as
// Linux does; the mapping's inode number is the id, as on Linux, which is
// how shmdt finds the segment.
func shmName(key int32) string { return fmt.Sprintf("/SYSV%08x (deleted)", uint32(key)) }

func sysShmat(t *kernel.Task, a [6]uint64) (uint64, error) {
	id, addr, flags := int32(a[0]), a[1], intArg(a[2])
	if addr%shmLBA != 0 {
		if flags&shmRnd == 0 {
			return 0, unix.EINVAL
		}
		addr &^= shmLBA - 1
	}
	if flags&shmRemap != 0 && addr == 0 {
		return 0, unix.EINVAL
	}
	readOnly := flags&shmRdonly != 0
	shm := t.K.Shm()
	frames, key, err := shm.Attach(t, id, readOnly)
	if err != nil {
		return 0, err
	}
	prot := mm.ProtRead
	if !readOnly {
		prot |= mm.ProtWrite
	}
	if flags&shmExec != 0 {
		prot |= mm.ProtExec
	}
	o := mm.MapOpts{Addr: addr, Length: uint64(len(frames)) * arch.PageSize, Prot: prot, Shared: true}
	if addr != 0 {
		// Without SHM_REMAP a range in use is refused (EINVAL).
		o.Fixed = flags&shmRemap != 0
		o.NoReplace = !o.Fixed
	}
	got, err := t.MM.MapSharedFrames(o, frames)
	if errors.Is(err, unix.EEXIST) {
		return 0, unix.EINVAL
	}
	if err != nil {
		return 0, err
	}
	t.MM.Name(got, o.Length, shmName(key), 1, uint64(uint32(id)), 0)
	shm.Attached(t, id, false)
	return got, nil
}

func sysShmdt(t *kernel.Task, a [6]uint64) (uint64, error) {
	addr := a[0]
	if addr%arch.PageSize != 0 {
		return 0, unix.EINVAL
	}
	for _, m := range t.MM.Mappings() {
		if m.Start != addr || !m.Shared || !strings.HasPrefix(m.Name, "/SYSV") {
			continue
		}
		id := int32(uint32(m.Ino))
		size, ok := t.K.Shm().SegmentSize(id)
		if !ok {
			// Removed and gone from the registry: the mapping alone.
			size = m.End - m.Start
		}
		length, _ := arch.PageRoundUp(size)
		if err := t.MM.Unmap(addr, length); err != nil {
			return 0, err
		}
		t.K.Shm().Attached(t, id, true)
		return 0, nil
	}
	return 0, unix.EINVAL
}

// shmctl's commands (IPC_64 is implied on x86-64 and stripped).
const (
	ipc64      = 0x100
	ipcRmid    = 0
	ipcSet     = 1
	ipcStat    = 2
	ipcInfo    = 3
	shmLock    = 11
	shmUnlock  = 12
	shmStat    = 13
	shmInfo    = 14
	shmStatAny = 15
)

func sysShmctl(t *kernel.Task, a [6]uint64) (uint64, error) {
	id, cmd, buf := int32(a[0]), intArg(a[1])&^ipc64, a[2]
	shm := t.K.Shm()
	le := binary.LittleEndian
	switch cmd {
	case ipcRmid:
		return 0, shm.Remove(t, id)
	case shmLock, shmUnlock:
		return 0, shm.Lock(t, id, cmd == shmLock)
	case ipcSet:
		uid, gid, mode, err := copyInIPCSet(t, buf)
		if err != nil {
			return 0, err
		}
		return 0, shm.Set(t, id, uid, gid, mode)
	case ipcStat, shmStat, shmStatAny:
		st, err := shm.Stat(t, id, cmd != ipcStat, cmd == shmStatAny)
		if err != nil {
			return 0, err
		}
		b := make([]byte, 112)
		putIPCPerm(b, st.IPCPerm)
		le.PutUint64(b[48:], st.Size)
		putIPCTime(b[56:], st.ATime)
		putIPCTime(b[64:], st.DTime)
		putIPCTime(b[72:], st.CTime)
		le.PutUint32(b[80:], uint32(st.CPID))
		le.PutUint32(b[84:], uint32(st.LPID))
		le.PutUint64(b[88:], st.Attached)
		if _, err := t.MM.CopyOut(buf, b); err != nil {
			return 0, unix.EFAULT
		}
		if cmd == ipcStat {
			return 0, nil
		}
		return uint64(st.ID), nil
	case ipcInfo:
		highest, _, _ := shm.Info(t.K)
		b := make([]byte, 72)
		le.PutUint64(b[0:], kernel.ShmMax)
		le.PutUint64(b[8:], kernel.ShmMin)
		le.PutUint64(b[16:], kernel.ShmMNI)
		le.PutUint64(b[24:], kernel.ShmMNI) // shmseg
		le.PutUint64(b[32:], kernel.ShmAll)
		if _, err := t.MM.CopyOut(buf, b); err != nil {
			return 0, unix.EFAULT
		}
		return uint64(highest), nil
	case shmInfo:
		highest, used, pages := shm.Info(t.K)
		b := make([]byte, 48)
		le.PutUint32(b[0:], uint32(used))
		le.PutUint64(b[8:], pages)  // shm_tot
		le.PutUint64(b[16:], pages) // shm_rss: frames are resident
		if _, err := t.MM.CopyOut(buf, b); err != nil {
			return 0, unix.EFAULT
		}
		return uint64(highest), nil
	}
	return 0, unix.EINVAL
}

// putIPCPerm lays p out as struct ipc64_perm, the first 48 bytes of
// shmid_ds and semid_ds on x86-64.
func putIPCPerm(b []byte, p kernel.IPCPerm) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(p.Key))
	le.PutUint32(b[4:], p.UID)
	le.PutUint32(b[8:], p.GID)
	le.PutUint32(b[12:], p.CUID)
	le.PutUint32(b[16:], p.CGID)
	le.PutUint32(b[20:], uint32(p.Mode))
	le.PutUint16(b[24:], p.Seq)
}

// copyInIPCSet reads what IPC_SET takes from the ipc64_perm at addr: the
// owner, group and mode.
func copyInIPCSet(t *kernel.Task, addr uint64) (uid, gid uint32, mode uint16, err error) {
	var b [48]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return 0, 0, 0, unix.EFAULT
	}
	le := binary.LittleEndian
	return le.Uint32(b[4:]), le.Uint32(b[8:]), uint16(le.Uint32(b[20:])), nil
}

// putIPCTime writes an IPC object's time as seconds, 0 for never.
func putIPCTime(b []byte, tm time.Time) {
	if !tm.IsZero() {
		binary.LittleEndian.PutUint64(b, uint64(tm.Unix()))
	}
}
