// Package mm is the library OS's memory manager: a workload address space
// as a list of mappings backed by extents of the memory capability, mirrored
// into the platform's host address space, and the copy routines the syscall
// layer uses to reach workload memory through the sentry's own mapping.
package mm

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// Prot is a mapping's access, with the host's PROT_* values.
type Prot uint8

// Access bits.
const (
	ProtRead  Prot = unix.PROT_READ
	ProtWrite Prot = unix.PROT_WRITE
	ProtExec  Prot = unix.PROT_EXEC
)

// HostMapper is what a platform's address space must do for the memory
// manager: make [addr, addr+length) show the memory file at offset with the
// given access, remove mappings, and change access. Implementations are
// expected to replace whatever was mapped there.
type HostMapper interface {
	MapFile(addr, length, offset uint64, prot Prot) error
	Unmap(addr, length uint64) error
	Protect(addr, length uint64, prot Prot) error
}

// Address space layout chosen by the library OS. The platform keeps its own
// stub code above MaxUserAddress.
const (
	MinUserAddress = 0x10000
	MaxUserAddress = 0x7ff0_0000_0000
	// MmapTop is where top-down placement of mappings without an address
	// hint starts; the stack lives above it.
	MmapTop = 0x7f00_0000_0000
	// StackTop is the highest address of the initial thread's stack.
	StackTop = 0x7fe0_0000_0000
)

// mapping is one contiguous range with uniform access. A backed mapping is
// contiguous in the memory file too, starting at off; an unbacked one is an
// address-space reservation (PROT_NONE) that gets memory when it becomes
// accessible, so reservations cost no quota, as Linux does not charge them.
type mapping struct {
	start, end uint64
	prot       Prot
	shared     bool
	backed     bool
	off        uint64
}

// MemoryManager is one workload address space. Its methods are safe for
// concurrent use; mu is taken before the memory file's lock.
type MemoryManager struct {
	mf   *MemoryFile
	host HostMapper

	mu       sync.Mutex
	maps     []*mapping // sorted by start, non-overlapping
	brkStart uint64
	brk      uint64
}

// New creates an empty address space whose host side is host.
func New(mf *MemoryFile, host HostMapper) *MemoryManager {
	return &MemoryManager{mf: mf, host: host}
}

// MapOpts describes an mmap request, already decoded from syscall flags.
type MapOpts struct {
	Addr, Length uint64
	Prot         Prot
	Fixed        bool // MAP_FIXED: replace what is there
	NoReplace    bool // MAP_FIXED_NOREPLACE: fail with EEXIST if anything is there
	Shared       bool
	// File, when set, supplies the initial contents from Offset on. The pages
	// are a private copy: writes to the file later are not seen.
	File   ReaderAt
	Offset uint64
}

// ReaderAt reads file contents for file-backed private mappings.
type ReaderAt interface {
	ReadAt(p []byte, off int64) (int, error)
}

// Map creates a mapping and returns its address.
func (mm *MemoryManager) Map(o MapOpts) (uint64, error) {
	if o.Length == 0 {
		return 0, unix.EINVAL
	}
	length, ok := arch.PageRoundUp(o.Length)
	if !ok || length > MaxUserAddress {
		return 0, unix.ENOMEM
	}
	if o.Offset%arch.PageSize != 0 {
		return 0, unix.EINVAL
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var addr uint64
	switch {
	case o.Fixed || o.NoReplace:
		if o.Addr%arch.PageSize != 0 {
			return 0, unix.EINVAL
		}
		if o.Addr < MinUserAddress || o.Addr+length > MaxUserAddress || o.Addr+length < o.Addr {
			return 0, unix.ENOMEM
		}
		addr = o.Addr
		if o.NoReplace && mm.overlapsLocked(addr, addr+length) {
			return 0, unix.EEXIST
		}
	default:
		hint := arch.PageRoundDown(o.Addr)
		if hint >= MinUserAddress && hint+length <= MaxUserAddress && hint+length > hint && !mm.overlapsLocked(hint, hint+length) {
			addr = hint
		} else {
			var err error
			if addr, err = mm.findGapLocked(length); err != nil {
				return 0, err
			}
		}
	}
	m := &mapping{start: addr, end: addr + length, prot: o.Prot, shared: o.Shared}
	if o.Prot != 0 || o.Shared {
		off, err := mm.mf.Allocate(length)
		if err != nil {
			return 0, err
		}
		m.backed, m.off = true, off
		if o.File != nil {
			// Bytes past the end of the file stay zero, as Linux fills the
			// last page; a short read is not an error here.
			if _, err := o.File.ReadAt(mm.mf.bytes(off, length), int64(o.Offset)); err != nil && !errors.Is(err, io.EOF) {
				mm.mf.Free(off, length)
				return 0, fmt.Errorf("read file contents for mapping: %w", err)
			}
		}
	}
	if o.Fixed {
		mm.unmapLocked(addr, addr+length, false)
	}
	if m.backed {
		if err := mm.host.MapFile(m.start, length, m.off, m.prot); err != nil {
			mm.mf.Free(m.off, length)
			return 0, fmt.Errorf("map %#x+%#x on the host: %w", addr, length, err)
		}
	}
	mm.insertLocked(m)
	return addr, nil
}

// Unmap removes [addr, addr+length).
func (mm *MemoryManager) Unmap(addr, length uint64) error {
	if addr%arch.PageSize != 0 || length == 0 {
		return unix.EINVAL
	}
	length, ok := arch.PageRoundUp(length)
	if !ok || addr+length < addr {
		return unix.EINVAL
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.unmapLocked(addr, addr+length, true)
	return nil
}

// Protect changes the access of [addr, addr+length), which must be mapped
// entirely (ENOMEM otherwise, as Linux).
func (mm *MemoryManager) Protect(addr, length uint64, prot Prot) error {
	if addr%arch.PageSize != 0 {
		return unix.EINVAL
	}
	if length == 0 {
		return nil
	}
	length, ok := arch.PageRoundUp(length)
	if !ok || addr+length < addr {
		return unix.ENOMEM
	}
	end := addr + length
	mm.mu.Lock()
	defer mm.mu.Unlock()
	// Check coverage first so a failure changes nothing.
	next := addr
	for _, m := range mm.maps {
		if m.end <= next || m.start >= end {
			continue
		}
		if m.start > next {
			return unix.ENOMEM
		}
		next = m.end
		if next >= end {
			break
		}
	}
	if next < end {
		return unix.ENOMEM
	}
	mm.splitLocked(addr)
	mm.splitLocked(end)
	for _, m := range mm.maps {
		if m.end <= addr || m.start >= end {
			continue
		}
		m.prot = prot
		if !m.backed {
			if prot == 0 {
				continue
			}
			off, err := mm.mf.Allocate(m.end - m.start)
			if err != nil {
				// Earlier pieces keep their new access, as a partially
				// applied mprotect would on Linux after ENOMEM.
				m.prot = 0
				return err
			}
			m.backed, m.off = true, off
			if err := mm.host.MapFile(m.start, m.end-m.start, m.off, prot); err != nil {
				return fmt.Errorf("map %#x on the host: %w", m.start, err)
			}
			continue
		}
		if err := mm.host.Protect(m.start, m.end-m.start, prot); err != nil {
			return fmt.Errorf("protect %#x on the host: %w", m.start, err)
		}
	}
	return nil
}

// Remap implements mremap for anonymous private memory: shrinking in place,
// growing in place when the following range is free, or moving by copying
// when MAYMOVE allows it.
func (mm *MemoryManager) Remap(oldAddr, oldLen, newLen uint64, mayMove bool) (uint64, error) {
	if oldAddr%arch.PageSize != 0 || newLen == 0 {
		return 0, unix.EINVAL
	}
	oldLen, _ = arch.PageRoundUp(oldLen)
	newLen, ok := arch.PageRoundUp(newLen)
	if !ok {
		return 0, unix.ENOMEM
	}
	mm.mu.Lock()
	m := mm.findLocked(oldAddr)
	if m == nil || oldAddr+oldLen > m.end || oldLen == 0 {
		mm.mu.Unlock()
		return 0, unix.EFAULT
	}
	if newLen <= oldLen {
		mm.unmapLocked(oldAddr+newLen, oldAddr+oldLen, true)
		mm.mu.Unlock()
		return oldAddr, nil
	}
	prot, shared := m.prot, m.shared
	if oldAddr+newLen <= MaxUserAddress && !mm.overlapsLocked(oldAddr+oldLen, oldAddr+newLen) {
		mm.mu.Unlock()
		_, err := mm.Map(MapOpts{Addr: oldAddr + oldLen, Length: newLen - oldLen, Prot: prot, Shared: shared, Fixed: true})
		return oldAddr, err
	}
	mm.mu.Unlock()
	if !mayMove {
		return 0, unix.ENOMEM
	}
	newAddr, err := mm.Map(MapOpts{Length: newLen, Prot: prot | ProtRead | ProtWrite, Shared: shared})
	if err != nil {
		return 0, err
	}
	buf := make([]byte, oldLen)
	if _, err := mm.copyIn(oldAddr, buf, 0); err != nil {
		mm.Unmap(newAddr, newLen)
		return 0, unix.EFAULT
	}
	mm.copyOut(newAddr, buf, 0)
	if prot != prot|ProtRead|ProtWrite {
		mm.Protect(newAddr, newLen, prot)
	}
	mm.Unmap(oldAddr, oldLen)
	return newAddr, nil
}

// SetBrkStart places the program break right after the loaded image.
func (mm *MemoryManager) SetBrkStart(addr uint64) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	a, _ := arch.PageRoundUp(addr)
	mm.brkStart, mm.brk = a, a
}

// Brk moves the program break and returns the new one; on failure it
// returns the old break, which is how Linux reports it.
func (mm *MemoryManager) Brk(addr uint64) uint64 {
	mm.mu.Lock()
	cur := mm.brk
	start := mm.brkStart
	mm.mu.Unlock()
	if addr < start || addr >= MmapTop {
		return cur
	}
	oldEnd, _ := arch.PageRoundUp(cur)
	newEnd, _ := arch.PageRoundUp(addr)
	switch {
	case newEnd > oldEnd:
		if _, err := mm.Map(MapOpts{Addr: oldEnd, Length: newEnd - oldEnd, Prot: ProtRead | ProtWrite, NoReplace: true}); err != nil {
			return cur
		}
	case newEnd < oldEnd:
		mm.Unmap(newEnd, oldEnd-newEnd)
	}
	mm.mu.Lock()
	mm.brk = addr
	mm.mu.Unlock()
	return addr
}

// overlapsLocked reports whether any mapping intersects [start, end).
func (mm *MemoryManager) overlapsLocked(start, end uint64) bool {
	i := sort.Search(len(mm.maps), func(i int) bool { return mm.maps[i].end > start })
	return i < len(mm.maps) && mm.maps[i].start < end
}

// findLocked returns the mapping containing addr.
func (mm *MemoryManager) findLocked(addr uint64) *mapping {
	i := sort.Search(len(mm.maps), func(i int) bool { return mm.maps[i].end > addr })
	if i < len(mm.maps) && mm.maps[i].start <= addr {
		return mm.maps[i]
	}
	return nil
}

// findGapLocked places a mapping top-down below MmapTop.
func (mm *MemoryManager) findGapLocked(length uint64) (uint64, error) {
	top := uint64(MmapTop)
	for i := len(mm.maps) - 1; i >= 0; i-- {
		m := mm.maps[i]
		if m.start >= top {
			continue
		}
		if m.end <= top && top-m.end >= length {
			return top - length, nil
		}
		top = min(top, m.start)
	}
	if top >= MinUserAddress+length {
		return top - length, nil
	}
	return 0, unix.ENOMEM
}

func (mm *MemoryManager) insertLocked(m *mapping) {
	i := sort.Search(len(mm.maps), func(i int) bool { return mm.maps[i].start >= m.start })
	mm.maps = append(mm.maps, nil)
	copy(mm.maps[i+1:], mm.maps[i:])
	mm.maps[i] = m
}

// splitLocked makes addr a mapping boundary if it falls inside one.
func (mm *MemoryManager) splitLocked(addr uint64) {
	m := mm.findLocked(addr)
	if m == nil || m.start == addr {
		return
	}
	right := *m
	right.start = addr
	if m.backed {
		right.off = m.off + (addr - m.start)
	}
	m.end = addr
	mm.insertLocked(&right)
}

// unmapLocked removes [start, end), freeing the memory behind it.
func (mm *MemoryManager) unmapLocked(start, end uint64, host bool) {
	mm.splitLocked(start)
	mm.splitLocked(end)
	kept := mm.maps[:0]
	removed := false
	for _, m := range mm.maps {
		if m.start >= start && m.end <= end {
			if m.backed {
				mm.mf.Free(m.off, m.end-m.start)
			}
			removed = true
			continue
		}
		kept = append(kept, m)
	}
	clear(mm.maps[len(kept):])
	mm.maps = kept
	if removed && host {
		// A failure leaves a stale host mapping of freed frames; the stub
		// is then unusable and the next switch fails, which ends the task.
		mm.host.Unmap(start, end-start)
	}
}

// MappedBytes is the memory the address space holds from the quota.
func (mm *MemoryManager) MappedBytes() uint64 {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var n uint64
	for _, m := range mm.maps {
		if m.backed {
			n += m.end - m.start
		}
	}
	return n
}

// Discard implements MADV_DONTNEED on private anonymous memory: the pages
// are released to the host and read back as zeroes.
func (mm *MemoryManager) Discard(addr, length uint64) error {
	if addr%arch.PageSize != 0 {
		return unix.EINVAL
	}
	length, ok := arch.PageRoundUp(length)
	if !ok || addr+length < addr {
		return unix.EINVAL
	}
	end := addr + length
	mm.mu.Lock()
	defer mm.mu.Unlock()
	for _, m := range mm.maps {
		if m.end <= addr || m.start >= end || !m.backed || m.shared {
			continue
		}
		s, e := max(m.start, addr), min(m.end, end)
		off := m.off + (s - m.start)
		if err := unix.Fallocate(mm.mf.FD(), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(off), int64(e-s)); err != nil {
			clear(mm.mf.bytes(off, e-s))
		}
	}
	return nil
}
