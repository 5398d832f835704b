package mm

import (
	"slices"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// MapFrames maps frames that already exist, one per page from addr on,
// replacing whatever is mapped there (as MAP_FIXED does), and takes a
// reference on each frame for the mapping. The caller keeps its own
// references, so the same frames can back mappings in many address spaces:
// the library OS's vDSO image and data page are mapped this way into every
// process of a sandbox.
//
// A private mapping (shared false) shares the frames copy-on-write: should
// the workload make it writable and write to it (a debugger planting a
// breakpoint), it gets a copy of its own and the frames the others see do
// not change. Writes by their owner through the memory file's view are seen
// at once by every mapping of them, as long as the mapping did not copy.
func (mm *MemoryManager) MapFrames(addr uint64, frames []uint64, prot Prot, shared bool) error {
	if addr%arch.PageSize != 0 || len(frames) == 0 {
		return unix.EINVAL
	}
	length := uint64(len(frames)) * arch.PageSize
	if addr < MinUserAddress || addr+length > MaxUserAddress || addr+length < addr {
		return unix.ENOMEM
	}
	for _, f := range frames {
		if f == noFrame || f%arch.PageSize != 0 || f >= mm.mf.size {
			return unix.EINVAL
		}
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	m := &mapping{start: addr, end: addr + length, prot: prot, shared: shared, frames: slices.Clone(frames)}
	mm.mf.IncRef(m.frames)
	mm.unmapLocked(addr, addr+length, false)
	if err := mm.hostMapLocked(m, m.start, m.end); err != nil {
		mm.mf.DecRef(m.frames)
		return err
	}
	mm.insertLocked(m)
	return nil
}

// MapSharedFrames maps a file's own frames (a tmpfs file's pages) for a
// MAP_SHARED mapping placed as o asks: writes through it are writes to the
// file, seen by read(2) and by every other mapping of it at once. It takes
// its own reference on each frame.
func (mm *MemoryManager) MapSharedFrames(o MapOpts, frames []uint64) (uint64, error) {
	length := uint64(len(frames)) * arch.PageSize
	if len(frames) == 0 {
		return 0, unix.EINVAL
	}
	mm.mu.Lock()
	addr, err := mm.placeLocked(o, length)
	mm.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if o.NoReplace {
		// placeLocked checked; MapFrames replaces, so fixed from here on.
		o.Fixed = true
	}
	return addr, mm.MapFrames(addr, frames, o.Prot, true)
}
