package kernel

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// System V semaphores (semget, semop, semtimedop, semctl): sets of
// counters named by key in the sandbox's one IPC namespace. semop applies
// its operations all at once or not at all, waiting while any of them
// cannot be (a decrement below zero, a wait for zero on a non-zero
// value); every change wakes the waiters of the set, which try again.
// SEM_UNDO adjustments are the process's and are applied when it exits.

// Limits Linux reports by default (include/uapi/linux/sem.h).
const (
	SemMSL = 32000      // semaphores per set
	SemMNS = 1024000000 // semaphores in all
	SemOPM = 500        // operations per semop
	SemMNI = 32000      // sets
	SemVMX = 32767      // largest value
	SemAEM = SemVMX     // largest undo adjustment
)

// semaphore is one counter of a set.
type semaphore struct {
	val  int
	pid  int32 // the last process to change it
	ncnt int   // tasks waiting for it to grow
	zcnt int   // tasks waiting for it to be zero
}

// SemSet is one set; guarded by the registry's lock.
type SemSet struct {
	IPCPerm
	ID           int32
	sems         []semaphore
	OTime, CTime time.Time
	removed      bool
	// changed is closed, and replaced, at every change of the set.
	changed chan struct{}
}

// SemRegistry is the sandbox's semaphore sets and processes' undo
// adjustments.
type SemRegistry struct {
	mu   sync.Mutex
	sets map[int32]*SemSet
	seq  uint16
	// undo holds each process's adjustments by set id and semaphore.
	undo map[*ThreadGroup]map[int32][]int
}

// Sem returns the kernel's semaphore registry.
func (k *Kernel) Sem() *SemRegistry {
	k.semOnce.Do(func() {
		k.sem = &SemRegistry{sets: make(map[int32]*SemSet), undo: make(map[*ThreadGroup]map[int32][]int)}
	})
	return k.sem
}

func (s *SemSet) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Get is semget.
func (r *SemRegistry) Get(t *Task, key int32, nsems int, flags int) (int32, error) {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	if nsems < 0 || nsems > SemMSL {
		return 0, unix.EINVAL
	}
	check := func(s *SemSet) error {
		if nsems > len(s.sems) {
			return unix.EINVAL
		}
		return nil
	}
	if id, found, err := ipcLookup(r.sets, key, flags, &creds, check); found {
		return id, err
	}
	if nsems == 0 {
		return 0, unix.EINVAL
	}
	if len(r.sets) >= SemMNI {
		return 0, unix.ENOSPC
	}
	r.seq++
	s := &SemSet{
		IPCPerm: newIPCPerm(&creds, key, flags, r.seq), ID: ipcNewID(r.sets, r.seq), sems: make([]semaphore, nsems),
		CTime: time.Now(), changed: make(chan struct{}),
	}
	r.sets[s.ID] = s
	return s.ID, nil
}

// SemOp is one struct sembuf.
type SemOp struct {
	Num   uint16
	Op    int16
	Flags int16
}

// semop's flags.
const (
	ipcNowait = 0o4000
	semUndo   = 0x1000
)

// Op is semop and semtimedop: the operations, applied together once they
// all can be; the wait ends at deadline (zero: none) with EAGAIN, on a
// signal with EINTR, on the set's removal with EIDRM.
func (r *SemRegistry) Op(t *Task, id int32, ops []SemOp, deadline time.Time) error {
	creds := t.Creds()
	tg := t.tg
	alter := false
	for _, o := range ops {
		if o.Op != 0 {
			alter = true
		}
	}
	r.mu.Lock()
	s, ok := r.sets[id]
	if !ok {
		r.mu.Unlock()
		return unix.EINVAL
	}
	for _, o := range ops {
		if int(o.Num) >= len(s.sems) {
			r.mu.Unlock()
			return unix.EFBIG
		}
	}
	want := uint16(4)
	if alter {
		want = 2
	}
	if !s.access(&creds, want) {
		r.mu.Unlock()
		return unix.EACCES
	}
	for {
		blocked, err := r.tryLocked(s, tg, ops)
		if err != nil || blocked < 0 {
			r.mu.Unlock()
			return err
		}
		o := ops[blocked]
		if o.Flags&ipcNowait != 0 {
			r.mu.Unlock()
			return unix.EAGAIN
		}
		sem := &s.sems[o.Num]
		if o.Op == 0 {
			sem.zcnt++
		} else {
			sem.ncnt++
		}
		ch := s.changed
		r.mu.Unlock()
		err = t.Block(ch, deadline)
		r.mu.Lock()
		if o.Op == 0 {
			sem.zcnt--
		} else {
			sem.ncnt--
		}
		switch {
		case s.removed:
			r.mu.Unlock()
			return unix.EIDRM
		case err == unix.ETIMEDOUT:
			r.mu.Unlock()
			return unix.EAGAIN
		case err != nil:
			r.mu.Unlock()
			return unix.EINTR // semop is never restarted
		}
	}
}

// tryLocked applies ops if all of them can be, and returns -1; otherwise
// it changes nothing and returns the index of the first that must wait.
func (r *SemRegistry) tryLocked(s *SemSet, tg *ThreadGroup, ops []SemOp) (int, error) {
	vals := make([]int, len(s.sems))
	for i := range s.sems {
		vals[i] = s.sems[i].val
	}
	for i, o := range ops {
		v := vals[o.Num]
		switch {
		case o.Op > 0:
			if v+int(o.Op) > SemVMX {
				return 0, unix.ERANGE
			}
			vals[o.Num] = v + int(o.Op)
		case o.Op == 0:
			if v != 0 {
				return i, nil
			}
		default:
			if v+int(o.Op) < 0 {
				return i, nil
			}
			vals[o.Num] = v + int(o.Op)
		}
	}
	for _, o := range ops {
		if o.Flags&semUndo != 0 && o.Op != 0 {
			adj := r.undoLocked(tg, s)
			adj[o.Num] -= int(o.Op)
		}
	}
	pid := tg.tgid
	for _, o := range ops {
		s.sems[o.Num].pid = pid
	}
	for i := range s.sems {
		s.sems[i].val = vals[i]
	}
	s.OTime = time.Now()
	s.changedLocked()
	return -1, nil
}

// undoLocked is tg's adjustments for s.
func (r *SemRegistry) undoLocked(tg *ThreadGroup, s *SemSet) []int {
	m := r.undo[tg]
	if m == nil {
		m = make(map[int32][]int)
		r.undo[tg] = m
	}
	adj := m[s.ID]
	if adj == nil {
		adj = make([]int, len(s.sems))
		m[s.ID] = adj
	}
	return adj
}

// exit applies tg's undo adjustments (each value kept within 0 and
// SEMVMX) and forgets them.
func (r *SemRegistry) exit(tg *ThreadGroup) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, adj := range r.undo[tg] {
		s, ok := r.sets[id]
		if !ok {
			continue
		}
		for i, a := range adj {
			if a != 0 {
				s.sems[i].val = min(max(s.sems[i].val+a, 0), SemVMX)
				s.sems[i].pid = tg.tgid
			}
		}
		s.changedLocked()
	}
	delete(r.undo, tg)
}

// clearUndoLocked drops every process's adjustments of semaphore num of
// s (all of them for num -1), as SETVAL and SETALL do.
func (r *SemRegistry) clearUndoLocked(s *SemSet, num int) {
	for _, m := range r.undo {
		if adj := m[s.ID]; adj != nil {
			for i := range adj {
				if num < 0 || i == num {
					adj[i] = 0
				}
			}
		}
	}
}

// SemStat is what IPC_STAT reports of a set.
type SemStat struct {
	IPCPerm
	ID           int32
	OTime, CTime time.Time
	NSems        int
}

// Stat returns set id's state.
func (r *SemRegistry) Stat(t *Task, id int32, byIndex, any bool) (SemStat, error) {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := ipcAt(r.sets, id, byIndex)
	if !ok {
		return SemStat{}, unix.EINVAL
	}
	if !any && !s.access(&creds, 4) {
		return SemStat{}, unix.EACCES
	}
	return SemStat{IPCPerm: s.IPCPerm, ID: s.ID, OTime: s.OTime, CTime: s.CTime, NSems: len(s.sems)}, nil
}

// Set is IPC_SET.
func (r *SemRegistry) Set(t *Task, id int32, uid, gid uint32, mode uint16) error {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := ipcOwned(r.sets, id, &creds)
	if err != nil {
		return err
	}
	s.set(uid, gid, mode)
	s.CTime = time.Now()
	return nil
}

// Remove is IPC_RMID: the set goes at once and its waiters fail with
// EIDRM.
func (r *SemRegistry) Remove(t *Task, id int32) error {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := ipcOwned(r.sets, id, &creds)
	if err != nil {
		return err
	}
	s.removed = true
	delete(r.sets, id)
	for _, m := range r.undo {
		delete(m, id)
	}
	s.changedLocked()
	return nil
}

// SemValue selects what Value reads of a semaphore.
type SemValue int

// What GETVAL, GETPID, GETNCNT and GETZCNT read.
const (
	SemVal SemValue = iota
	SemPID
	SemNCnt
	SemZCnt
)

// Value reads one semaphore of set id.
func (r *SemRegistry) Value(t *Task, id int32, num int, what SemValue) (int, error) {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sets[id]
	if !ok {
		return 0, unix.EINVAL
	}
	if num < 0 || num >= len(s.sems) {
		return 0, unix.EINVAL
	}
	if !s.access(&creds, 4) {
		return 0, unix.EACCES
	}
	sem := s.sems[num]
	switch what {
	case SemPID:
		return int(sem.pid), nil
	case SemNCnt:
		return sem.ncnt, nil
	case SemZCnt:
		return sem.zcnt, nil
	}
	return sem.val, nil
}

// Values reads every semaphore of set id (GETALL).
func (r *SemRegistry) Values(t *Task, id int32) ([]uint16, error) {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sets[id]
	if !ok {
		return nil, unix.EINVAL
	}
	if !s.access(&creds, 4) {
		return nil, unix.EACCES
	}
	out := make([]uint16, len(s.sems))
	for i, sem := range s.sems {
		out[i] = uint16(sem.val)
	}
	return out, nil
}

// SetValues is SETVAL (num >= 0, one value) and SETALL (num -1, a value
// per semaphore): values above SEMVMX are ERANGE; the processes' undo
// adjustments of what changed are dropped.
func (r *SemRegistry) SetValues(t *Task, id int32, num int, vals []int) error {
	creds := t.Creds()
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sets[id]
	if !ok {
		return unix.EINVAL
	}
	if num >= len(s.sems) || num < 0 && len(vals) != len(s.sems) {
		return unix.EINVAL
	}
	for _, v := range vals {
		if v < 0 || v > SemVMX {
			return unix.ERANGE
		}
	}
	if !s.access(&creds, 2) {
		return unix.EACCES
	}
	pid := t.tg.tgid
	if num >= 0 {
		s.sems[num].val, s.sems[num].pid = vals[0], pid
	} else {
		for i, v := range vals {
			s.sems[i].val, s.sems[i].pid = v, pid
		}
	}
	r.clearUndoLocked(s, num)
	s.CTime = time.Now()
	s.changedLocked()
	return nil
}

// NSems is how many semaphores set id has (for GETALL's and SETALL's
// buffers); 0 if there is no such set.
func (r *SemRegistry) NSems(id int32) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s, ok := r.sets[id]; ok {
		return len(s.sems)
	}
	return 0
}

// Info returns the highest index in use, the sets and the semaphores.
func (r *SemRegistry) Info() (highest int32, sets, sems int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sets {
		highest = max(highest, s.ID&0x7fff)
		sets++
		sems += len(s.sems)
	}
	return highest, sets, sems
}
