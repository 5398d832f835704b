package mm

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// Mappable is a file whose pages mappings share instead of copying: a
// tmpfs file's own frames, or the page cache the library OS keeps for a
// host file. A MAP_SHARED mapping maps the file's frames writable, so its
// stores are the file's data at once; a MAP_PRIVATE one maps them
// copy-on-write, so it sees later writes to the file until it writes a
// page itself, as on Linux.
//
// The memory manager calls these methods with its own lock held; a
// Mappable must not call back into a MemoryManager.
type Mappable interface {
	// MapPages returns the frames of the file's pages [first, first+n),
	// all inside the file, each with a reference for the caller. writable
	// says a shared mapping may store to them, so a cache of a host file
	// must write them back.
	MapPages(first, n uint64, writable bool) ([]uint64, error)
	// Size is the file's current size in bytes.
	Size() int64
	// AddMapping and RemoveMapping count the mappings of the file;
	// sharedWrite is set for a MAP_SHARED mapping of a file opened for
	// writing (memfd seals refuse F_SEAL_WRITE while one exists). A cache
	// may drop its pages once the last mapping is gone.
	AddMapping(sharedWrite bool)
	RemoveMapping(sharedWrite bool)
	// Sync writes back what shared mappings stored (msync).
	Sync() error
}

// MappableFile is an open file whose pages can be mapped shared (a tmpfs
// file, a host file through its page cache). done ends what Mappable
// started (a page cache stays pinned) once the mapping is made; m is nil
// if the file cannot be mapped this way after all.
type MappableFile interface {
	Mappable() (m Mappable, done func(), err error)
}

// ref counts m as a mapping of its file; every mapping struct that holds a
// file (a split half, a fork's copy) is counted once.
func (m *mapping) ref() {
	if m.file != nil {
		m.file.AddMapping(m.shared && m.mayWrite)
	}
}

func (m *mapping) unref() {
	if m.file != nil {
		m.file.RemoveMapping(m.shared && m.mayWrite)
	}
}

// fileFramesLocked gets the frames of n pages of m's file from file offset
// off, for the pages of m from index at on: pages past the end of the file
// get no frame, and m's SIGBUS boundary is set there.
func (mm *MemoryManager) fileFramesLocked(m *mapping, at int, off uint64, n int) ([]uint64, error) {
	size := m.file.Size()
	inFile := 0
	if size > int64(off) {
		inFile = int(min(uint64(n), (uint64(size)-off+arch.PageSize-1)/arch.PageSize))
	}
	frames := make([]uint64, n)
	if inFile > 0 {
		got, err := m.file.MapPages(off/arch.PageSize, uint64(inFile), m.shared && m.mayWrite)
		if err != nil {
			return nil, err
		}
		copy(frames, got)
	}
	for i := inFile; i < n; i++ {
		frames[i] = noFrame
	}
	if inFile < n {
		bus := m.start + uint64(at+inFile)*arch.PageSize
		if m.busFrom == 0 || bus < m.busFrom {
			m.busFrom = bus
		}
	}
	return frames, nil
}

// SyncRange implements msync for [addr, addr+length): every shared file
// mapping in it writes back what it stored.
func (mm *MemoryManager) SyncRange(addr, length uint64) error {
	mm.mu.Lock()
	var files []Mappable
	for _, m := range mm.maps {
		if m.end > addr && m.start < addr+length && m.shared && m.file != nil {
			files = append(files, m.file)
		}
	}
	mm.mu.Unlock()
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return unix.EIO
		}
	}
	return nil
}
