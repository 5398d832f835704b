package vfs

import (
	"math"
	"sync"

	"golang.org/x/sys/unix"
)

// Advisory file locks, as Linux keeps them: flock(2) locks and
// open-file-description (F_OFD_*) record locks belong to a description
// and go with its last reference; POSIX (F_SETLK) record locks belong to
// the fd table of the process that took them (Linux's files_struct) and
// go when that process closes any fd of the file. Locks are kept per
// file, found by (st_dev, st_ino), so they hold across file systems whose
// inodes are re-made by every lookup (dirfs).
//
// Nothing here blocks: a lock that conflicts fails with EAGAIN, and a
// caller that wants to wait takes Locks.Changed before trying and waits
// on it, which is closed by any release.

// Locks is the container's lock table (one sentry serves one container).
var Locks = &LockTable{files: make(map[lockKey]*fileLocks)}

// Lock types (fcntl's F_RDLCK, F_WRLCK, F_UNLCK).
const (
	ReadLock  = unix.F_RDLCK
	WriteLock = unix.F_WRLCK
	Unlock    = unix.F_UNLCK
)

// LockEOF is the end of a record lock that runs to the end of the file.
const LockEOF = math.MaxInt64

type lockKey struct{ dev, ino uint64 }

// LockTable holds every advisory lock.
type LockTable struct {
	mu      sync.Mutex
	files   map[lockKey]*fileLocks
	changed chan struct{}
	// posixOwners counts each fd table's record locks, so a close by a
	// process that holds none skips the table.
	posixOwners map[*FDTable]int
}

type fileLocks struct {
	flocks []flockEntry
	ranges []rangeLock
}

type flockEntry struct {
	owner     *FileDescription
	exclusive bool
}

// rangeLock is one record lock over [start, end] (end inclusive).
type rangeLock struct {
	posix      *FDTable         // owner of a POSIX lock
	ofd        *FileDescription // owner of an OFD lock
	typ        int16
	start, end int64
	pid        int32
}

func (r *rangeLock) sameOwner(o *rangeLock) bool {
	return (r.posix != nil && r.posix == o.posix) || (r.ofd != nil && r.ofd == o.ofd)
}

// Changed returns a channel closed at the next release of any lock. Take
// it before trying a lock, so a release in between is not missed.
func (lt *LockTable) Changed() <-chan struct{} {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if lt.changed == nil {
		lt.changed = make(chan struct{})
	}
	return lt.changed
}

func (lt *LockTable) notifyLocked() {
	if lt.changed != nil {
		close(lt.changed)
		lt.changed = nil
	}
}

func (lt *LockTable) fileLocked(k lockKey) *fileLocks {
	fl := lt.files[k]
	if fl == nil {
		fl = &fileLocks{}
		lt.files[k] = fl
	}
	return fl
}

func (lt *LockTable) pruneLocked(k lockKey, fl *fileLocks) {
	if len(fl.flocks) == 0 && len(fl.ranges) == 0 {
		delete(lt.files, k)
	}
}

// keyOf returns the file identity of d, remembering it for the release.
func keyOf(d *FileDescription) (lockKey, error) {
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	if d.lockKey == nil {
		st, err := d.File.Stat()
		if err != nil {
			return lockKey{}, err
		}
		d.lockKey = &lockKey{st.Dev, st.Ino}
	}
	return *d.lockKey, nil
}

// Flock is flock(2) on description d: LOCK_SH, LOCK_EX or LOCK_UN. A
// conflicting lock fails with EWOULDBLOCK (EAGAIN).
func (lt *LockTable) Flock(d *FileDescription, op int) error {
	k, err := keyOf(d)
	if err != nil {
		return err
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	fl := lt.fileLocked(k)
	mine := -1
	for i, e := range fl.flocks {
		if e.owner == d {
			mine = i
		}
	}
	if op == unix.LOCK_UN {
		if mine >= 0 {
			fl.flocks = append(fl.flocks[:mine], fl.flocks[mine+1:]...)
			lt.notifyLocked()
		}
		lt.pruneLocked(k, fl)
		return nil
	}
	excl := op == unix.LOCK_EX
	for _, e := range fl.flocks {
		if e.owner != d && (excl || e.exclusive) {
			lt.pruneLocked(k, fl)
			return unix.EWOULDBLOCK
		}
	}
	if mine >= 0 {
		if fl.flocks[mine].exclusive && !excl {
			lt.notifyLocked()
		}
		fl.flocks[mine].exclusive = excl
		return nil
	}
	fl.flocks = append(fl.flocks, flockEntry{owner: d, exclusive: excl})
	d.hasLocks.Store(true)
	return nil
}

// RecordLock is one fcntl record lock request or answer.
type RecordLock struct {
	Type       int16 // ReadLock, WriteLock or Unlock
	Start, End int64 // inclusive; End is LockEOF to the end of the file
	PID        int32 // the holder's process (-1 for an OFD lock)
}

// owner of a record lock: POSIX locks are the fd table's, OFD locks the
// description's.
func recordOwner(d *FileDescription, fds *FDTable, ofd bool) rangeLock {
	if ofd {
		return rangeLock{ofd: d}
	}
	return rangeLock{posix: fds}
}

// GetLock is F_GETLK/F_OFD_GETLK: the first lock that would conflict
// with l, or l with Type Unlock if none.
func (lt *LockTable) GetLock(d *FileDescription, fds *FDTable, ofd bool, l RecordLock) (RecordLock, error) {
	k, err := keyOf(d)
	if err != nil {
		return l, err
	}
	me := recordOwner(d, fds, ofd)
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if fl := lt.files[k]; fl != nil {
		for _, r := range fl.ranges {
			if !r.sameOwner(&me) && r.start <= l.End && l.Start <= r.end && (r.typ == WriteLock || l.Type == WriteLock) {
				return RecordLock{Type: r.typ, Start: r.start, End: r.end, PID: r.pid}, nil
			}
		}
	}
	l.Type = Unlock
	return l, nil
}

// SetLock is F_SETLK/F_OFD_SETLK: take, change or drop (Type Unlock) the
// record lock l for d's owner (the fd table fds for a POSIX lock, the
// description for an OFD lock), splitting and merging the owner's other
// locks on the file as Linux does. A conflict fails with EAGAIN.
func (lt *LockTable) SetLock(d *FileDescription, fds *FDTable, ofd bool, l RecordLock) error {
	k, err := keyOf(d)
	if err != nil {
		return err
	}
	me := recordOwner(d, fds, ofd)
	me.typ, me.start, me.end, me.pid = l.Type, l.Start, l.End, l.PID
	lt.mu.Lock()
	defer lt.mu.Unlock()
	fl := lt.fileLocked(k)
	if l.Type != Unlock {
		for _, r := range fl.ranges {
			if !r.sameOwner(&me) && r.start <= l.End && l.Start <= r.end && (r.typ == WriteLock || l.Type == WriteLock) {
				lt.pruneLocked(k, fl)
				return unix.EAGAIN
			}
		}
	}
	// Cut the range out of the owner's locks, then add the new one and
	// merge it with the owner's adjacent locks of the same type.
	var kept []rangeLock
	released := false
	before := 0
	for _, r := range fl.ranges {
		if !r.sameOwner(&me) {
			kept = append(kept, r)
			continue
		}
		before++
		if r.end < l.Start || r.start > l.End {
			kept = append(kept, r)
			continue
		}
		if r.typ != l.Type {
			released = true
		}
		if r.start < l.Start {
			left := r
			left.end = l.Start - 1
			kept = append(kept, left)
		}
		if r.end > l.End {
			right := r
			right.start = l.End + 1
			kept = append(kept, right)
		}
	}
	if l.Type != Unlock {
		n := me
		var merged []rangeLock
		for _, r := range kept {
			if r.sameOwner(&me) && r.typ == n.typ && (r.end != LockEOF && r.end+1 == n.start || n.end != LockEOF && n.end+1 == r.start) {
				n.start, n.end = min(n.start, r.start), max(n.end, r.end)
				continue
			}
			merged = append(merged, r)
		}
		kept = append(merged, n)
	}
	fl.ranges = kept
	after := 0
	for _, r := range kept {
		if r.sameOwner(&me) {
			after++
		}
	}
	if !ofd {
		if lt.posixOwners == nil {
			lt.posixOwners = make(map[*FDTable]int)
		}
		lt.posixOwners[fds] += after - before
		if lt.posixOwners[fds] <= 0 {
			delete(lt.posixOwners, fds)
		}
	} else if after > 0 {
		d.hasLocks.Store(true)
	}
	if released {
		lt.notifyLocked()
	}
	lt.pruneLocked(k, fl)
	return nil
}

// closedByTable drops the POSIX locks fds holds on d's file: any close of
// a file by a process releases all of its record locks on that file.
func (lt *LockTable) closedByTable(d *FileDescription, fds *FDTable) {
	lt.mu.Lock()
	n := lt.posixOwners[fds]
	lt.mu.Unlock()
	if n == 0 {
		return
	}
	k, err := keyOf(d)
	if err != nil {
		return
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	fl := lt.files[k]
	if fl == nil {
		return
	}
	kept := fl.ranges[:0]
	dropped := 0
	for _, r := range fl.ranges {
		if r.posix == fds {
			dropped++
			continue
		}
		kept = append(kept, r)
	}
	fl.ranges = kept
	if dropped > 0 {
		lt.posixOwners[fds] -= dropped
		if lt.posixOwners[fds] <= 0 {
			delete(lt.posixOwners, fds)
		}
		lt.notifyLocked()
	}
	lt.pruneLocked(k, fl)
}

// releasedDesc drops the flock and OFD locks of a description whose last
// reference is gone.
func (lt *LockTable) releasedDesc(d *FileDescription) {
	if !d.hasLocks.Load() {
		return
	}
	k, err := keyOf(d)
	if err != nil {
		return
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	fl := lt.files[k]
	if fl == nil {
		return
	}
	flocks := fl.flocks[:0]
	for _, e := range fl.flocks {
		if e.owner != d {
			flocks = append(flocks, e)
		}
	}
	fl.flocks = flocks
	ranges := fl.ranges[:0]
	for _, r := range fl.ranges {
		if r.ofd != d {
			ranges = append(ranges, r)
		}
	}
	fl.ranges = ranges
	lt.notifyLocked()
	lt.pruneLocked(k, fl)
}
