package mm

import (
	"fmt"
	"os"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// MemoryFile is the memory capability as the library OS uses it: a sealed
// memfd whose size is the sandbox's memory quota, mapped once into the
// sentry so workload memory is read and written directly, and carved into
// page-aligned extents that back workload mappings. Because exo sealed the
// memfd, running out of extents here is the quota: the host refuses to grow
// it whatever the library OS does.
type MemoryFile struct {
	file *os.File
	size uint64
	view []byte // the sentry's own shared mapping of the whole file

	mu   sync.Mutex // guards free
	free []extent   // sorted by start, never adjacent (merged on free)
}

type extent struct{ start, end uint64 }

// NewMemoryFile maps the granted memfd into the sentry. size is the quota the
// grant carries; the memfd is expected to be exactly that long.
func NewMemoryFile(f *os.File, size int64) (*MemoryFile, error) {
	if size <= 0 || size%arch.PageSize != 0 {
		return nil, fmt.Errorf("memory file size %d is not a positive multiple of the page size", size)
	}
	view, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("map memory file into the sentry: %w", err)
	}
	return &MemoryFile{
		file: f,
		size: uint64(size),
		view: view,
		free: []extent{{0, uint64(size)}},
	}, nil
}

// FD is the host fd of the memfd, for platforms that map it into stubs.
func (m *MemoryFile) FD() int { return int(m.file.Fd()) }

// Size is the quota in bytes.
func (m *MemoryFile) Size() uint64 { return m.size }

// Allocate reserves length bytes (a page multiple) of the file and returns
// their offset. It fails with ENOMEM when no free extent is long enough.
func (m *MemoryFile) Allocate(length uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.free {
		e := &m.free[i]
		if e.end-e.start < length {
			continue
		}
		off := e.start
		e.start += length
		if e.start == e.end {
			m.free = append(m.free[:i], m.free[i+1:]...)
		}
		return off, nil
	}
	return 0, unix.ENOMEM
}

// Free returns an extent to the allocator and punches it out of the memfd, so
// the host memory is released and the next user of the range reads zeroes.
func (m *MemoryFile) Free(off, length uint64) {
	if length == 0 {
		return
	}
	// Punching cannot fail on a memfd we own except for programming errors;
	// if it does, the pages would leak their contents to the next mapping, so
	// zero them by hand instead.
	if err := unix.Fallocate(m.FD(), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(off), int64(length)); err != nil {
		clear(m.view[off : off+length])
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.Search(len(m.free), func(i int) bool { return m.free[i].start >= off })
	m.free = append(m.free, extent{})
	copy(m.free[i+1:], m.free[i:])
	m.free[i] = extent{off, off + length}
	// Merge with the right, then the left neighbour.
	if i+1 < len(m.free) && m.free[i].end == m.free[i+1].start {
		m.free[i].end = m.free[i+1].end
		m.free = append(m.free[:i+1], m.free[i+2:]...)
	}
	if i > 0 && m.free[i-1].end == m.free[i].start {
		m.free[i-1].end = m.free[i].end
		m.free = append(m.free[:i], m.free[i+1:]...)
	}
}

// FreeBytes is how much of the quota is not allocated.
func (m *MemoryFile) FreeBytes() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n uint64
	for _, e := range m.free {
		n += e.end - e.start
	}
	return n
}

// bytes is the sentry's view of an allocated range.
func (m *MemoryFile) bytes(off, length uint64) []byte { return m.view[off : off+length : off+length] }

// Close unmaps the sentry's view.
func (m *MemoryFile) Close() error {
	if m.view == nil {
		return nil
	}
	err := unix.Munmap(m.view)
	m.view = nil
	return err
}
