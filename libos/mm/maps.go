package mm

import "exokernelul.dev/exo/libos/arch"

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

// Usage is an address space's accounting in bytes, as /proc/PID/status
// reports it (VmSize, VmRSS and its split, VmData, VmStk, VmExe, VmLib).
type Usage struct {
	Size                            uint64
	RSS, RSSAnon, RSSFile, RSSShmem uint64
	Data, Stack, Exe, Lib           uint64
}

// Usage measures the address space. A page is resident once it has a
// frame (the workload touched it, or the loader filled it); exe names the
// executable, whose executable mappings are its text (VmExe) while those
// of other files are libraries' (VmLib).
func (mm *MemoryManager) Usage(exe string) Usage {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var u Usage
	for _, m := range mm.maps {
		size := m.end - m.start
		u.Size += size
		var resident uint64
		for _, f := range m.frames {
			if f != noFrame {
				resident += arch.PageSize
			}
		}
		fileBacked := m.name != "" && m.name[0] != '['
		switch {
		case m.shared && !fileBacked:
			u.RSSShmem += resident
		case fileBacked:
			u.RSSFile += resident
		default:
			u.RSSAnon += resident
		}
		u.RSS += resident
		switch {
		case m.name == "[stack]":
			u.Stack += size
		case m.prot&ProtWrite != 0 && !m.shared:
			u.Data += size
		case m.prot&ProtExec != 0 && fileBacked && m.name == exe:
			u.Exe += size
		case m.prot&ProtExec != 0 && fileBacked:
			u.Lib += size
		}
	}
	return u
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
