package mm

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// MemoryFile is the memory capability as the library OS uses it: a sealed
// memfd, mapped once into the sentry so workload memory is read and
// written directly, and carved into page frames that back workload
// mappings. Because exo sealed the memfd, its size is a bound the host
// enforces whatever the library OS does.
//
// The quota (the container's memory limit) is at most that size: exo may
// grant a memfd larger than the limit so the limit can be raised or
// lowered live (SetLimit, OCI update) without a new memfd; the host's
// memory cgroup then holds the limit on the host side.
//
// A frame is named by its offset in the file. Frames are reference counted
// so that fork can share them copy-on-write.
type MemoryFile struct {
	file *os.File
	size uint64
	view []byte // the sentry's own shared mapping of the whole file

	mu    sync.Mutex        // guards free, refs, used, limit, peak and failcnt
	free  []extent          // sorted by start, never adjacent (merged on free)
	refs  map[uint64]uint32 // frames with more than one reference
	used  uint64            // bytes in frames handed out
	limit uint64            // the quota: used never exceeds it
	// peak and failcnt are what a memory cgroup reports as max_usage
	// and failcnt: the highest use, and the allocations the limit
	// refused.
	peak    uint64
	failcnt uint64

	// reclaimers free memory the library OS can drop (idle file caches)
	// when the quota would refuse an allocation. Appended at boot, read
	// without a lock afterwards.
	reclaimers []func(want uint64) uint64
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
		file:  f,
		size:  uint64(size),
		view:  view,
		free:  []extent{{0, uint64(size)}},
		refs:  make(map[uint64]uint32),
		limit: uint64(size),
	}, nil
}

// SetLimit changes the quota live. A limit below what is in use fails
// with EBUSY and changes nothing, as a cgroup v1 memory.limit_in_bytes
// write does when reclaim cannot bring the usage under it: the library
// OS has no swap, and once the reclaimers have dropped what they could,
// nothing it could drop without losing data. A limit above the memfd's
// size is capped at it.
func (m *MemoryFile) SetLimit(limit uint64) error {
	limit &^= arch.PageSize - 1
	if limit == 0 {
		return unix.EINVAL
	}
	m.mu.Lock()
	limit = min(limit, m.size)
	over := m.used > limit
	used := m.used
	m.mu.Unlock()
	if over {
		for _, fn := range m.reclaimers {
			fn(used - limit)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit < m.used {
		return unix.EBUSY
	}
	m.limit = limit
	return nil
}

// MemoryStats is the quota's accounting, in bytes.
type MemoryStats struct {
	Usage, Limit, MaxUsage, Failcnt uint64
}

// Stats reports the quota's use.
func (m *MemoryFile) Stats() MemoryStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return MemoryStats{Usage: m.used, Limit: m.limit, MaxUsage: m.peak, Failcnt: m.failcnt}
}

// FD is the host fd of the memfd, for platforms that map it into stubs.
func (m *MemoryFile) FD() int { return int(m.file.Fd()) }

// Size is the quota in bytes.
func (m *MemoryFile) Size() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.limit
}

// AddReclaimer registers fn, which frees up to want bytes of memory that
// can be dropped without losing data (a file's cached pages nobody maps)
// and returns how much it freed. Allocations past the quota call it before
// they fail, as a memory cgroup reclaims page cache before it declares
// itself out of memory. fn runs without the memory file's lock, on the
// allocating goroutine, which may hold the memory manager's lock. Call it
// only while setting up, before the workload runs.
func (m *MemoryFile) AddReclaimer(fn func(want uint64) uint64) {
	m.reclaimers = append(m.reclaimers, fn)
}

// Allocate hands out n zeroed frames, contiguous in the file when a long
// enough free extent exists (so they map with one host call), scattered
// otherwise. Past the quota it first has the reclaimers free what they
// can; then it fails with ENOMEM, allocating nothing.
func (m *MemoryFile) Allocate(n int) ([]uint64, error) {
	length := uint64(n) * arch.PageSize
	if frames := m.allocate(n); frames != nil {
		return frames, nil
	}
	for _, fn := range m.reclaimers {
		if fn(length) > 0 {
			if frames := m.allocate(n); frames != nil {
				return frames, nil
			}
		}
	}
	m.mu.Lock()
	m.failcnt++
	m.mu.Unlock()
	return nil, unix.ENOMEM
}

// allocate is Allocate without reclaiming: nil past the quota.
func (m *MemoryFile) allocate(n int) []uint64 {
	length := uint64(n) * arch.PageSize
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used > m.limit || m.limit-m.used < length {
		return nil
	}
	frames := make([]uint64, 0, n)
	take := func(i int, pages uint64) {
		e := &m.free[i]
		for p := uint64(0); p < pages; p++ {
			frames = append(frames, e.start+p*arch.PageSize)
		}
		e.start += pages * arch.PageSize
	}
	for i := range m.free {
		if m.free[i].end-m.free[i].start >= length {
			take(i, uint64(n))
			break
		}
	}
	for i := 0; len(frames) < n && i < len(m.free); i++ {
		avail := (m.free[i].end - m.free[i].start) / arch.PageSize
		take(i, min(avail, uint64(n-len(frames))))
	}
	m.free = slices.DeleteFunc(m.free, func(e extent) bool { return e.start == e.end })
	m.used += length
	m.peak = max(m.peak, m.used)
	return frames
}

// IncRef takes another reference on each frame (fork sharing them).
func (m *MemoryFile) IncRef(frames []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range frames {
		if f == noFrame {
			continue
		}
		if c, ok := m.refs[f]; ok {
			m.refs[f] = c + 1
		} else {
			m.refs[f] = 2
		}
	}
}

// RefCount is how many references frame f has (1 for a frame handed out
// and not shared; a free frame's count means nothing).
func (m *MemoryFile) RefCount(f uint64) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.refs[f]; ok {
		return c
	}
	return 1
}

// Shared reports whether a frame has more than one reference.
func (m *MemoryFile) Shared(f uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.refs[f]
	return ok
}

// DecRef drops a reference on each frame; frames nobody references are
// punched out of the memfd (releasing the host memory, so the next user
// reads zeroes) and become free.
func (m *MemoryFile) DecRef(frames []uint64) {
	var dead []uint64
	m.mu.Lock()
	for _, f := range frames {
		if f == noFrame {
			continue
		}
		if c, ok := m.refs[f]; ok {
			if c == 2 {
				delete(m.refs, f)
			} else {
				m.refs[f] = c - 1
			}
			continue
		}
		dead = append(dead, f)
	}
	m.mu.Unlock()
	if len(dead) == 0 {
		return
	}
	slices.Sort(dead)
	for i := 0; i < len(dead); {
		j := i + 1
		for j < len(dead) && dead[j] == dead[j-1]+arch.PageSize {
			j++
		}
		m.freeExtent(dead[i], dead[j-1]+arch.PageSize)
		i = j
	}
}

func (m *MemoryFile) freeExtent(start, end uint64) {
	// Punching cannot fail on a memfd we own except for programming errors;
	// if it does, the pages would leak their contents to the next mapping, so
	// zero them by hand instead.
	if err := unix.Fallocate(m.FD(), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(start), int64(end-start)); err != nil {
		clear(m.view[start:end])
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.used -= end - start
	i := sort.Search(len(m.free), func(i int) bool { return m.free[i].start >= start })
	m.free = slices.Insert(m.free, i, extent{start, end})
	if i+1 < len(m.free) && m.free[i].end == m.free[i+1].start {
		m.free[i].end = m.free[i+1].end
		m.free = slices.Delete(m.free, i+1, i+2)
	}
	if i > 0 && m.free[i-1].end == m.free[i].start {
		m.free[i-1].end = m.free[i].end
		m.free = slices.Delete(m.free, i, i+1)
	}
}

// zero clears a frame in place, releasing its host memory.
func (m *MemoryFile) zero(f uint64) {
	if err := unix.Fallocate(m.FD(), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(f), arch.PageSize); err != nil {
		clear(m.view[f : f+arch.PageSize])
	}
}

// FreeBytes is how much of the quota is not allocated.
func (m *MemoryFile) FreeBytes() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used > m.limit {
		return 0
	}
	return m.limit - m.used
}

// page is the sentry's view of one frame.
func (m *MemoryFile) page(f uint64) []byte { return m.view[f : f+arch.PageSize : f+arch.PageSize] }

// Close unmaps the sentry's view.
func (m *MemoryFile) Close() error {
	if m.view == nil {
		return nil
	}
	err := unix.Munmap(m.view)
	m.view = nil
	return err
}

// Page is the sentry's view of an allocated frame, for file systems that
// keep their data in the memory capability (tmpfs), so it counts against
// the sandbox's quota like any other memory.
func (m *MemoryFile) Page(f uint64) []byte { return m.page(f) }

// Pages is the sentry's view of n frames that are contiguous in the file
// from frame f on (as Allocate hands them out when it can).
func (m *MemoryFile) Pages(f uint64, n int) []byte {
	end := f + uint64(n)*arch.PageSize
	return m.view[f:end:end]
}

// MaxSize is the memfd's size: the most SetLimit can raise the quota to.
func (m *MemoryFile) MaxSize() uint64 { return m.size }
