package mm

import "golang.org/x/sys/unix"

// Lock implements mlock (lock set) and munlock over [start, end), which
// must be page aligned and entirely mapped (ENOMEM otherwise). Memory-
// capability frames are never swapped, so locking gives the untouched
// pages their frames, as mlock faults them in, and otherwise only counts;
// EAGAIN when the quota cannot hold them.
func (mm *MemoryManager) Lock(start, end uint64, lock bool) error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if !mm.coveredLocked(start, end) {
		return unix.ENOMEM
	}
	mm.splitLocked(start)
	mm.splitLocked(end)
	for _, m := range mm.maps {
		if m.start >= start && m.end <= end {
			if lock {
				if err := mm.lockPagesLocked(m); err != nil {
					return err
				}
			}
			m.locked = lock
		}
	}
	return nil
}

// lockPagesLocked gives m's untouched pages their frames and maps them.
func (mm *MemoryManager) lockPagesLocked(m *mapping) error {
	if err := mm.populateLocked(m, m.start, m.end); err != nil {
		return unix.EAGAIN
	}
	return mm.hostMapLocked(m, m.start, m.end)
}

// LockAll implements mlockall: current locks every mapping, future every
// later one. unlock (munlockall) clears both.
func (mm *MemoryManager) LockAll(current, future, unlock bool) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if unlock {
		mm.lockFuture = false
		for _, m := range mm.maps {
			m.locked = false
		}
		return
	}
	mm.lockFuture = future
	if current {
		for _, m := range mm.maps {
			// mlockall locks what the quota can hold, as Linux's
			// does what it can fault in.
			mm.lockPagesLocked(m)
			m.locked = true
		}
	}
}

// LockedBytes is the locked memory (VmLck).
func (mm *MemoryManager) LockedBytes() uint64 {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var n uint64
	for _, m := range mm.maps {
		if m.locked {
			n += m.end - m.start
		}
	}
	return n
}

// UnlockedBytes is how much of [start, end) is mapped but not locked:
// what an mlock of the range adds to the locked total.
func (mm *MemoryManager) UnlockedBytes(start, end uint64) uint64 {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var n uint64
	for _, m := range mm.maps {
		if !m.locked && m.end > start && m.start < end {
			n += min(m.end, end) - max(m.start, start)
		}
	}
	return n
}

// coveredLocked reports whether [start, end) is entirely mapped.
func (mm *MemoryManager) coveredLocked(start, end uint64) bool {
	next := start
	for _, m := range mm.maps {
		if m.end <= next || m.start >= end {
			continue
		}
		if m.start > next {
			return false
		}
		next = m.end
		if next >= end {
			return true
		}
	}
	return next >= end
}
