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
