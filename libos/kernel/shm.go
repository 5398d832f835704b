package kernel

import (
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// System V shared memory (shmget, shmat, shmdt, shmctl): segments of
// frames of the memory capability, named by key in the sandbox's one IPC
// namespace. A segment holds a reference on its frames; every attachment
// is a MAP_SHARED mapping of them, holding one more (fork shares it, exit
// and exec drop it), so the segment's attach count is read off its first
// frame's reference count rather than kept by hand. A segment removed
// with IPC_RMID while attached stays, under the private key and marked
// SHM_DEST, until a System V call finds it detached and frees it.

// Limits Linux reports by default (ipc/shm.c, include/uapi/linux/shm.h).
const (
	ShmMax = ^uint64(0) - 1<<24
	ShmMin = 1
	ShmMNI = 4096
	ShmAll = ^uint64(0) - 1<<24
)

// shm_perm.mode flags beyond the permission bits.
const (
	ShmDest   = 0o1000
	ShmLocked = 0o2000
)

// ShmSegment is one segment. Its fields are guarded by the registry's
// lock.
type ShmSegment struct {
	IPCPerm
	ID     int32
	Size   uint64
	frames []uint64

	ATime, DTime, CTime time.Time
	CPID, LPID          int32
}

// ShmRegistry is the sandbox's set of segments.
type ShmRegistry struct {
	mu   sync.Mutex
	segs map[int32]*ShmSegment // by id
	seq  uint16
}

// Shm returns the kernel's segment registry.
func (k *Kernel) Shm() *ShmRegistry {
	k.shmOnce.Do(func() { k.shm = &ShmRegistry{segs: make(map[int32]*ShmSegment)} })
	return k.shm
}

// attachedLocked is how many mappings share the segment's frames.
func (r *ShmRegistry) attachedLocked(k *Kernel, s *ShmSegment) uint64 {
	return uint64(k.Memory.RefCount(s.frames[0])) - 1
}

// pruneLocked frees the removed segments nobody has attached any more.
func (r *ShmRegistry) pruneLocked(k *Kernel) {
	for id, s := range r.segs {
		if s.Mode&ShmDest != 0 && r.attachedLocked(k, s) == 0 {
			k.Memory.DecRef(s.frames)
			delete(r.segs, id)
		}
	}
}

// Get is shmget: the segment with key (a new one for IPC_PRIVATE or with
// IPC_CREAT), its id.
func (r *ShmRegistry) Get(t *Task, key int32, size uint64, flags int) (int32, error) {
	k := t.K
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(k)
	check := func(s *ShmSegment) error {
		if size > s.Size {
			return unix.EINVAL
		}
		return nil
	}
	if id, found, err := ipcLookup(r.segs, key, flags, &creds, check); found {
		return id, err
	}
	if size < ShmMin || size > ShmMax {
		return 0, unix.EINVAL
	}
	if len(r.segs) >= ShmMNI {
		return 0, unix.ENOSPC
	}
	pages, ok := arch.PageRoundUp(size)
	if !ok || pages/arch.PageSize > uint64(int(^uint(0)>>1)) {
		return 0, unix.ENOMEM
	}
	frames, err := k.Memory.Allocate(int(pages / arch.PageSize))
	if err != nil {
		return 0, unix.ENOMEM
	}
	// ids: the index in the low 15 bits and a sequence number above, as
	// Linux makes them, so that a stale id rarely names a new segment.
	r.seq++
	s := &ShmSegment{
		IPCPerm: newIPCPerm(&creds, key, flags, r.seq), ID: ipcNewID(r.segs, r.seq), Size: size, frames: frames,
		CTime: time.Now(), CPID: t.TGID(),
	}
	r.segs[s.ID] = s
	return s.ID, nil
}

// Attach checks t may attach segment id (read only or read and write)
// and returns its frames, for the caller to map, and its key; Attached
// then records the attach time and pid.
func (r *ShmRegistry) Attach(t *Task, id int32, readOnly bool) ([]uint64, int32, error) {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.segs[id]
	if !ok {
		return nil, 0, unix.EINVAL
	}
	want := uint16(4)
	if !readOnly {
		want |= 2
	}
	if !s.access(&creds, want) {
		return nil, 0, unix.EACCES
	}
	return slices.Clone(s.frames), s.Key, nil
}

// Attached records an attach or detach of segment id by t.
func (r *ShmRegistry) Attached(t *Task, id int32, detach bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.segs[id]; ok {
		if detach {
			s.DTime = time.Now()
		} else {
			s.ATime = time.Now()
		}
		s.LPID = t.TGID()
	}
	r.pruneLocked(t.K)
}

// SegmentSize is the size of segment id, for shmdt.
func (r *ShmRegistry) SegmentSize(id int32) (uint64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.segs[id]
	if !ok {
		return 0, false
	}
	return s.Size, true
}

// ShmStat is what IPC_STAT reports of a segment.
type ShmStat struct {
	ShmSegment
	Attached uint64
}

// Stat returns segment id's state (IPC_STAT needs read access; SHM_STAT
// and SHM_STAT_ANY name it by index, any said whether access is checked).
func (r *ShmRegistry) Stat(t *Task, id int32, byIndex, any bool) (ShmStat, error) {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(t.K)
	s, ok := ipcAt(r.segs, id, byIndex)
	if !ok {
		return ShmStat{}, unix.EINVAL
	}
	if !any && !s.access(&creds, 4) {
		return ShmStat{}, unix.EACCES
	}
	return ShmStat{ShmSegment: *s, Attached: r.attachedLocked(t.K, s)}, nil
}

// Set is IPC_SET: the owner, group and permission bits, by the owner, the
// creator or CAP_SYS_ADMIN.
func (r *ShmRegistry) Set(t *Task, id int32, uid, gid uint32, mode uint16) error {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := ipcOwned(r.segs, id, &creds)
	if err != nil {
		return err
	}
	s.set(uid, gid, mode)
	s.CTime = time.Now()
	return nil
}

// Remove is IPC_RMID: the segment loses its key at once and goes when the
// last attachment does.
func (r *ShmRegistry) Remove(t *Task, id int32) error {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := ipcOwned(r.segs, id, &creds)
	if err != nil {
		return err
	}
	s.Mode |= ShmDest
	s.Key = unix.IPC_PRIVATE
	s.CTime = time.Now()
	r.pruneLocked(t.K)
	return nil
}

// Lock is SHM_LOCK and SHM_UNLOCK: it only marks the segment, whose frames
// are never swapped anyway.
func (r *ShmRegistry) Lock(t *Task, id int32, lock bool) error {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.segs[id]
	if !ok {
		return unix.EINVAL
	}
	if !creds.HasCap(unix.CAP_IPC_LOCK) && creds.EUID != s.UID && creds.EUID != s.CUID {
		return unix.EPERM
	}
	if lock {
		s.Mode |= ShmLocked
	} else {
		s.Mode &^= ShmLocked
	}
	return nil
}

// Info returns the highest index in use and the number of segments and
// pages they hold (IPC_INFO, SHM_INFO).
func (r *ShmRegistry) Info(k *Kernel) (highest int32, used int, pages uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneLocked(k)
	highest = -1
	for _, s := range r.segs {
		highest = max(highest, s.ID&0x7fff)
		used++
		pages += uint64(len(s.frames))
	}
	return max(highest, 0), used, pages
}
