package mm

// MappingInfo describes one mapping of an address space, as
// /proc/PID/maps shows it.
type MappingInfo struct {
	Start, End uint64
	Prot       Prot
	Shared     bool
	// Name, Dev, Ino and Offset describe the file the mapping was made
	// from ("" for anonymous memory).
	Name     string
	Dev, Ino uint64
	Offset   uint64
}

// MapNamer is implemented by a MapOpts.File that can say which file it
// is, so /proc/PID/maps can name the mapping.
type MapNamer interface {
	MapName() (name string, dev, ino uint64)
}

// Mappings lists the address space's mappings in address order.
func (mm *MemoryManager) Mappings() []MappingInfo {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	out := make([]MappingInfo, 0, len(mm.maps))
	for _, m := range mm.maps {
		out = append(out, MappingInfo{Start: m.start, End: m.end, Prot: m.prot, Shared: m.shared,
			Name: m.name, Dev: m.dev, Ino: m.ino, Offset: m.offset})
	}
	return out
}

// BrkRange is the heap: from where the program break started to where
// it is now.
func (mm *MemoryManager) BrkRange() (start, end uint64) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.brkStart, mm.brk
}

// Name records that [addr, addr+length) was loaded from a file (or is a
// special region such as "[stack]", with dev and ino 0), for
// /proc/PID/maps; offset is the file offset of addr. Mappings are split at
// the range's ends; nothing else about them changes.
func (mm *MemoryManager) Name(addr, length uint64, name string, dev, ino, offset uint64) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	end := addr + length
	mm.splitLocked(addr)
	mm.splitLocked(end)
	for _, m := range mm.maps {
		if m.start >= addr && m.end <= end {
			m.name, m.dev, m.ino = name, dev, ino
			m.offset = offset + (m.start - addr)
		}
	}
}

// NameAt names the mapping that contains addr (see Name).
func (mm *MemoryManager) NameAt(addr uint64, name string) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if m := mm.findLocked(addr); m != nil {
		m.name, m.dev, m.ino, m.offset = name, 0, 0, 0
	}
}
