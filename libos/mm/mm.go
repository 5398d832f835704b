// Package mm is the library OS's memory manager: a workload address space
// as a list of mappings backed by page frames of the memory capability,
// mirrored into the platform's host address space, shared copy-on-write by
// fork, and the copy routines the syscall layer uses to reach workload
// memory through the sentry's own mapping.
package mm

import (
	"errors"
	"fmt"
	"io"
	"slices"
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

// HostMap is one call of a batch: show Length bytes of the memory file at
// Offset at Addr with access Prot; or, with Unmap, remove whatever is
// mapped in [Addr, Addr+Length); or, with Protect, change its access to
// Prot.
type HostMap struct {
	Addr, Length, Offset uint64
	Prot                 Prot
	Unmap, Protect       bool
}

// BatchMapper is a HostMapper that can make several calls for the price of
// one round trip (systrap's stub runs them in one batch). The calls are
// made in order up to the first that fails, whose error is returned.
type BatchMapper interface {
	HostMapper
	MapFiles(maps []HostMap) error
}

// Address space layout chosen by the library OS. The platform keeps its own
// stub code at and above MaxUserAddress.
const (
	MinUserAddress = 0x10000
	MaxUserAddress = 0x7ff0_0000_0000
	// MmapTop is where top-down placement of mappings without an address
	// hint starts; the stack lives above it.
	MmapTop = 0x7f00_0000_0000
	// StackTop is the highest address of the initial thread's stack.
	StackTop = 0x7fe0_0000_0000
)

// noFrame marks a page without memory behind it.
const noFrame = ^uint64(0)

// mapping is one contiguous range with uniform access. frames holds the
// frame of each page; a nil frames is an address-space reservation
// (PROT_NONE) that gets memory when it becomes accessible, so reservations
// cost no quota, as Linux does not charge them.
type mapping struct {
	start, end uint64
	prot       Prot
	// shared mappings (MAP_SHARED) keep sharing their frames with a forked
	// child; private ones share them copy-on-write.
	shared bool
	frames []uint64
	// busFrom, if set, is where a file mapping's pages past the end of
	// the file begin.
	busFrom uint64
	// The file a mapping was made from, as /proc/PID/maps names it (see
	// MapNamer), and the file offset of start.
	name     string
	dev, ino uint64
	offset   uint64
	// file, if set, is the file whose pages the mapping shares (see
	// Mappable); offset is then the file offset of start. mayWrite says
	// the file was open for writing when it was mapped.
	file     Mappable
	mayWrite bool
	// locked is set by mlock; it only counts (VmLck, RLIMIT_MEMLOCK):
	// memory-capability frames are never swapped out.
	locked bool
	// anon is anonymous memory, whose pages get frames on first touch
	// (see lazy); around is how many pages its next first touch
	// takes (see faultAround).
	anon   bool
	around int
}

func (m *mapping) pages() int { return int((m.end - m.start) / arch.PageSize) }

// MemoryManager is one workload address space. Its methods are safe for
// concurrent use by the threads sharing it; mu is taken before the memory
// file's lock.
type MemoryManager struct {
	mf   *MemoryFile
	host HostMapper

	mu       sync.Mutex
	maps     []*mapping // sorted by start, non-overlapping
	brkStart uint64
	brk      uint64
	// lockFuture is mlockall(MCL_FUTURE): new mappings start locked.
	lockFuture bool
}

// New creates an empty address space whose host side is host.
func New(mf *MemoryFile, host HostMapper) *MemoryManager {
	return &MemoryManager{mf: mf, host: host}
}

// NewDeferred creates an empty address space with no host side yet: the
// host calls its changes need are recorded, in order, until Attach makes
// them. An exec loads its new image so, while the stub the image will run
// in is still being started, and the image's mappings then cost one round
// trip to the stub instead of one per segment. Nothing may run in it, nor
// fault, before Attach.
func NewDeferred(mf *MemoryFile) *MemoryManager {
	return &MemoryManager{mf: mf, host: &deferredHost{}}
}

// Attach gives an address space made by NewDeferred its host side and
// makes the host calls recorded so far, in as few round trips as host
// allows.
func (mm *MemoryManager) Attach(host HostMapper) error {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	d, ok := mm.host.(*deferredHost)
	if !ok {
		return errors.New("mm: the address space has a host side already")
	}
	mm.host = host
	if err := applyHost(host, d.ops); err != nil {
		return fmt.Errorf("map the new image on the host: %w", err)
	}
	return nil
}

// deferredHost records the host calls of an address space NewDeferred
// made.
type deferredHost struct{ ops []HostMap }

func (d *deferredHost) MapFile(addr, length, offset uint64, prot Prot) error {
	d.ops = append(d.ops, HostMap{Addr: addr, Length: length, Offset: offset, Prot: prot})
	return nil
}

func (d *deferredHost) Unmap(addr, length uint64) error {
	d.ops = append(d.ops, HostMap{Addr: addr, Length: length, Unmap: true})
	return nil
}

func (d *deferredHost) Protect(addr, length uint64, prot Prot) error {
	d.ops = append(d.ops, HostMap{Addr: addr, Length: length, Prot: prot, Protect: true})
	return nil
}

func (d *deferredHost) MapFiles(ops []HostMap) error {
	d.ops = append(d.ops, ops...)
	return nil
}

// MapOpts describes an mmap request, already decoded from syscall flags.
type MapOpts struct {
	Addr, Length uint64
	Prot         Prot
	Fixed        bool // MAP_FIXED: replace what is there
	NoReplace    bool // MAP_FIXED_NOREPLACE: fail with EEXIST if anything is there
	Shared       bool
	// Mappable, when set, is the file mapped from Offset on: the mapping
	// shares its pages (see Mappable). MayWrite says the file is open for
	// writing.
	Mappable Mappable
	MayWrite bool
	// Name, Dev and Ino name a Mappable for /proc/PID/maps.
	Name     string
	Dev, Ino uint64
	// File, when set instead, supplies the initial contents from Offset
	// on. The pages are a private copy: writes to the file later are not
	// seen.
	File   ReaderAt
	Offset uint64
	// FileSize is the file's size, for SIGBUS past its end; -1 if unknown.
	FileSize int64
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
	addr, err := mm.placeLocked(o, length)
	if err != nil {
		return 0, err
	}
	m := &mapping{start: addr, end: addr + length, prot: o.Prot, shared: o.Shared, locked: mm.lockFuture}
	if n, ok := o.File.(MapNamer); ok && o.File != nil {
		m.name, m.dev, m.ino = n.MapName()
		m.offset = o.Offset
	}
	if o.Mappable != nil {
		m.name, m.dev, m.ino = o.Name, o.Dev, o.Ino
		m.file, m.mayWrite, m.offset = o.Mappable, o.MayWrite, o.Offset
		// Counted first: a page cache lives as long as its mappings.
		m.ref()
		frames, err := mm.fileFramesLocked(m, 0, o.Offset, m.pages())
		if err != nil {
			m.unref()
			return 0, err
		}
		m.frames = frames
	} else if m.anon = o.File == nil; m.anon && o.Prot != 0 {
		frames, err := mm.noFramesLocked(m.pages())
		if err != nil {
			return 0, err
		}
		m.frames = frames
	} else if o.Prot != 0 || o.Shared {
		frames, err := mm.mf.Allocate(m.pages())
		if err != nil {
			return 0, err
		}
		m.frames = frames
		if o.File != nil {
			if err := mm.fillFromFile(m, o.File, o.Offset, o.FileSize); err != nil {
				mm.mf.DecRef(frames)
				return 0, err
			}
		}
	}
	if o.Fixed {
		mm.unmapLocked(addr, addr+length, false)
	}
	if m.locked {
		if err := mm.populateLocked(m, m.start, m.end); err != nil {
			mm.mf.DecRef(m.frames)
			m.unref()
			return 0, err
		}
	}
	if err := mm.hostMapLocked(m, m.start, m.end); err != nil {
		mm.mf.DecRef(m.frames)
		m.unref()
		return 0, err
	}
	mm.insertLocked(m)
	return addr, nil
}

// Private anonymous memory gets its frames when first touched, as Linux
// gives pages: until then a page has noFrame, the host shows nothing
// there, and the fault that touching it makes is served by HandleFault
// (the sentry's own accesses read zeroes or allocate, see copyRange). So
// the memory quota counts the memory a workload uses, as a memory cgroup
// does, not what it maps: thread stacks, malloc arenas and the heaps
// runtimes reserve up front cost nothing until used.

// overcommit bounds how much memory an address space may map with page
// tables of its own (every mapping with memory behind it, touched or
// not): overcommit times the quota, and minOvercommit at least. Untouched
// memory costs the quota nothing but costs the sentry 8 bytes a page to
// keep track of: without a bound, a workload mapping terabytes would make
// the sentry itself run out of memory. With it the sentry spends at most
// a 64th of the quota (or 2 MiB) on one address space's page tables.
// Thread stacks are what needs the room: glibc maps 8 MiB for each.
// (Linux's heuristic overcommit refuses one mapping larger than the
// machine's memory; this refuses less, and only in total.)
const (
	overcommit    = 8
	minOvercommit = 1 << 30
)

// noFramesLocked is n pages without frames, or ENOMEM when the address
// space would map more than overcommit times the quota with them.
func (mm *MemoryManager) noFramesLocked(n int) ([]uint64, error) {
	total := uint64(n)
	for _, m := range mm.maps {
		total += uint64(len(m.frames))
	}
	if total > max(overcommit*mm.mf.Size(), minOvercommit)/arch.PageSize {
		return nil, unix.ENOMEM
	}
	frames := make([]uint64, n)
	for i := range frames {
		frames[i] = noFrame
	}
	return frames, nil
}

// lazy reports whether page i of m is allocated on first touch when it
// has no frame: anonymous memory, private or shared (fork gives a shared
// mapping's untouched pages their frames first, so that both sides share
// them), not a file page past the end of its file (SIGBUS).
func (m *mapping) lazy(int) bool {
	return m.anon && m.prot != 0
}

// faultAround is how many pages around a touched one get their frames
// with it: one fault, not sixteen, for memory used in sequence, for at
// most 60 KiB of the quota more than the pages touched. A mapping whose
// faults keep landing next to memory already touched (a heap or buffer
// filled in order) doubles its block at each such fault, up to
// maxFaultAround (2 MiB, a huge page's worth): a fault costs the
// workload a trip to the sentry and one to the host address space,
// tens of microseconds, where Linux's costs one.
const (
	faultAround    = 16
	maxFaultAround = 512
)

// populateLocked gives every lazy page of m in [start, end) a zeroed
// frame; the caller maps them on the host.
func (mm *MemoryManager) populateLocked(m *mapping, start, end uint64) error {
	if m.frames == nil {
		return nil
	}
	first, last := int((start-m.start)/arch.PageSize), int((end-m.start)/arch.PageSize)
	var need []int
	for i := first; i < last; i++ {
		if m.frames[i] == noFrame && m.lazy(i) {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return nil
	}
	frames, err := mm.mf.Allocate(len(need))
	if err != nil {
		return err
	}
	for k, i := range need {
		m.frames[i] = frames[k]
	}
	return nil
}

// touchLocked gives lazy page i of m, and the pages around it, their
// frames and maps them on the host.
func (mm *MemoryManager) touchLocked(m *mapping, i int) error {
	around := max(m.around, faultAround)
	if i > 0 && m.frames[i-1] != noFrame || i+1 < len(m.frames) && m.frames[i+1] != noFrame {
		around = min(2*around, maxFaultAround)
	}
	m.around = around
	// The block is aligned in the address space, cut to the mapping.
	base := int(m.start / arch.PageSize)
	block := (base + i) &^ (around - 1)
	lo := max(block, base) - base
	hi := min(block+around, base+m.pages()) - base
	s, e := m.start+uint64(lo)*arch.PageSize, m.start+uint64(hi)*arch.PageSize
	if err := mm.populateLocked(m, s, e); err != nil {
		// Short of the quota for the block: the page alone.
		s, e = m.start+uint64(i)*arch.PageSize, m.start+uint64(i+1)*arch.PageSize
		if err := mm.populateLocked(m, s, e); err != nil {
			return err
		}
	}
	return mm.hostMapLocked(m, s, e)
}

// placeLocked chooses where a mapping of length bytes goes, as mmap does
// with its address hint and MAP_FIXED / MAP_FIXED_NOREPLACE.
func (mm *MemoryManager) placeLocked(o MapOpts, length uint64) (uint64, error) {
	if o.Fixed || o.NoReplace {
		if o.Addr%arch.PageSize != 0 {
			return 0, unix.EINVAL
		}
		if o.Addr < MinUserAddress || o.Addr+length > MaxUserAddress || o.Addr+length < o.Addr {
			return 0, unix.ENOMEM
		}
		if o.NoReplace && mm.overlapsLocked(o.Addr, o.Addr+length) {
			return 0, unix.EEXIST
		}
		return o.Addr, nil
	}
	hint := arch.PageRoundDown(o.Addr)
	if hint >= MinUserAddress && hint+length <= MaxUserAddress && hint+length > hint && !mm.overlapsLocked(hint, hint+length) {
		return hint, nil
	}
	return mm.findGapLocked(length)
}

// fillFromFile reads the file into a fresh mapping's frames. Bytes past
// the end of the file in its last page stay zero, as Linux fills them;
// pages wholly past the end get no frame, so touching them faults and the
// workload gets SIGBUS, as on Linux.
func (mm *MemoryManager) fillFromFile(m *mapping, r ReaderAt, off uint64, size int64) error {
	for i, f := range m.frames {
		pos := int64(off) + int64(i)*arch.PageSize
		if size >= 0 && pos >= size {
			mm.mf.DecRef(m.frames[i:])
			for j := i; j < len(m.frames); j++ {
				m.frames[j] = noFrame
			}
			m.busFrom = m.start + uint64(i)*arch.PageSize
			return nil
		}
		n, err := r.ReadAt(mm.mf.page(f), pos)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read file contents for mapping: %w", err)
		}
		if n < arch.PageSize && size < 0 {
			break
		}
	}
	return nil
}

// FaultSignal classifies a fault the memory manager did not resolve:
// SIGBUS (BUS_ADRERR) for a file mapping's pages past the end of the file,
// else SIGSEGV with SEGV_MAPERR or SEGV_ACCERR.
func (mm *MemoryManager) FaultSignal(addr uint64) (signo, code int) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	m := mm.findLocked(addr)
	switch {
	case m == nil:
		return int(unix.SIGSEGV), 1 // SEGV_MAPERR
	case m.busFrom != 0 && addr >= m.busFrom:
		return int(unix.SIGBUS), 2 // BUS_ADRERR
	}
	return int(unix.SIGSEGV), 2 // SEGV_ACCERR
}

// effectiveProt is the host access of page i: a private page whose frame
// is shared copy-on-write is mapped without write access, so the first
// write traps and gets its own copy.
func (mm *MemoryManager) effectiveProt(m *mapping, i int) Prot {
	if m.prot&ProtWrite != 0 && !m.shared && mm.mf.Shared(m.frames[i]) {
		return m.prot &^ ProtWrite
	}
	return m.prot
}

// hostMapLocked maps [start, end) of m on the host, one host call per run
// of pages that are contiguous in the memory file with the same access.
func (mm *MemoryManager) hostMapLocked(m *mapping, start, end uint64) error {
	if err := applyHost(mm.host, mm.appendHostOps(nil, m, start, end, false)); err != nil {
		return fmt.Errorf("map %#x-%#x on the host: %w", start, end, err)
	}
	return nil
}

// appendHostOps appends to ops the host calls that make [start, end) of m
// show what it holds: a map per run of pages contiguous in the memory file
// with the same access, and an unmap per run of pages without a frame,
// since a fault there must reach the memory manager (a first touch, SIGBUS
// past the end of a file) whatever was mapped before. fresh says the host
// has nothing mapped in the range yet (a new child's address space), so
// the unmaps are left out.
func (mm *MemoryManager) appendHostOps(ops []HostMap, m *mapping, start, end uint64, fresh bool) []HostMap {
	if m.frames == nil {
		return ops
	}
	first := int((start - m.start) / arch.PageSize)
	last := int((end - m.start) / arch.PageSize)
	for i := first; i < last; {
		if m.frames[i] == noFrame {
			j := i + 1
			for j < last && m.frames[j] == noFrame {
				j++
			}
			if !fresh {
				ops = append(ops, HostMap{Addr: m.start + uint64(i)*arch.PageSize, Length: uint64(j-i) * arch.PageSize, Unmap: true})
			}
			i = j
			continue
		}
		prot := mm.effectiveProt(m, i)
		j := i + 1
		for j < last && m.frames[j] != noFrame && m.frames[j] == m.frames[j-1]+arch.PageSize && mm.effectiveProt(m, j) == prot {
			j++
		}
		ops = append(ops, HostMap{Addr: m.start + uint64(i)*arch.PageSize, Length: uint64(j-i) * arch.PageSize, Offset: m.frames[i], Prot: prot})
		i = j
	}
	return ops
}

// applyHost makes the calls ops on host, in order: in batches where the
// platform has them (a round trip to the stub each), else one by one.
func applyHost(host HostMapper, ops []HostMap) error {
	if len(ops) == 0 {
		return nil
	}
	if b, ok := host.(BatchMapper); ok {
		return b.MapFiles(ops)
	}
	for _, op := range ops {
		var err error
		switch {
		case op.Unmap:
			err = host.Unmap(op.Addr, op.Length)
		case op.Protect:
			err = host.Protect(op.Addr, op.Length, op.Prot)
		default:
			err = host.MapFile(op.Addr, op.Length, op.Offset, op.Prot)
		}
		if err != nil {
			return fmt.Errorf("%#x: %w", op.Addr, err)
		}
	}
	return nil
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
	if !mm.coveredLocked(addr, end) {
		return unix.ENOMEM
	}
	if prot&ProtWrite != 0 {
		// A shared file mapping made through a file not open for writing
		// (or sealed against writes) can never become writable.
		for _, m := range mm.maps {
			if m.end > addr && m.start < end && m.shared && m.file != nil && !m.mayWrite {
				return unix.EACCES
			}
		}
	}
	mm.splitLocked(addr)
	mm.splitLocked(end)
	for _, m := range mm.maps {
		if m.end <= addr || m.start >= end {
			continue
		}
		old := m.prot
		m.prot = prot
		if m.frames == nil {
			if prot == 0 {
				continue
			}
			if m.anon && !m.shared {
				frames, err := mm.noFramesLocked(m.pages())
				if err != nil {
					m.prot = old
					return err
				}
				m.frames = frames
				if m.locked {
					if err := mm.populateLocked(m, m.start, m.end); err != nil {
						m.frames, m.prot = nil, old
						return err
					}
				}
				if err := mm.hostMapLocked(m, m.start, m.end); err != nil {
					return err
				}
				continue
			}
			frames, err := mm.mf.Allocate(m.pages())
			if err != nil {
				// Earlier pieces keep their new access, as a partially
				// applied mprotect would on Linux after ENOMEM.
				m.prot = old
				return err
			}
			m.frames = frames
			if err := mm.hostMapLocked(m, m.start, m.end); err != nil {
				return err
			}
			continue
		}
		if err := mm.reprotectLocked(m, m.start, m.end); err != nil {
			return err
		}
	}
	return nil
}

// reprotectLocked applies m's access to [start, end) on the host. Pages
// shared copy-on-write need a different access from the rest, so a
// writable private mapping is mapped afresh; otherwise one mprotect does.
func (mm *MemoryManager) reprotectLocked(m *mapping, start, end uint64) error {
	// Untouched pages are not on the host to protect: map what is.
	untouched := m.anon && slices.Contains(m.frames[(start-m.start)/arch.PageSize:(end-m.start)/arch.PageSize], noFrame)
	if m.prot&ProtWrite != 0 && !m.shared || m.busFrom != 0 || untouched {
		return mm.hostMapLocked(m, start, end)
	}
	if err := mm.host.Protect(start, end-start, m.prot); err != nil {
		return fmt.Errorf("protect %#x on the host: %w", start, err)
	}
	return nil
}

// RemapOpts are mremap's flags.
type RemapOpts struct {
	MayMove bool
	// Fixed moves the mapping to NewAddr, replacing what is there.
	Fixed   bool
	NewAddr uint64
	// DontUnmap leaves the old range mapped, with fresh contents (zeroes
	// for anonymous memory, the file's pages for a file mapping).
	DontUnmap bool
}

// Remap implements mremap: shrinking in place, growing in place when the
// following range is free, or moving the frames to a new range when
// MAYMOVE allows it (no copy). A file mapping grows with the file's
// following pages.
func (mm *MemoryManager) Remap(oldAddr, oldLen, newLen uint64, o RemapOpts) (uint64, error) {
	if oldAddr%arch.PageSize != 0 || newLen == 0 || (o.Fixed || o.DontUnmap) && !o.MayMove {
		return 0, unix.EINVAL
	}
	oldLen, _ = arch.PageRoundUp(oldLen)
	newLen, ok := arch.PageRoundUp(newLen)
	if !ok || newLen > MaxUserAddress {
		return 0, unix.ENOMEM
	}
	if o.DontUnmap && oldLen != newLen {
		return 0, unix.EINVAL
	}
	if o.Fixed {
		if o.NewAddr%arch.PageSize != 0 {
			return 0, unix.EINVAL
		}
		if o.NewAddr < MinUserAddress || o.NewAddr+newLen > MaxUserAddress || o.NewAddr+newLen < o.NewAddr {
			return 0, unix.EINVAL
		}
		// The two ranges may not overlap.
		if o.NewAddr < oldAddr+oldLen && oldAddr < o.NewAddr+newLen {
			return 0, unix.EINVAL
		}
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.mergeLocked(oldAddr, oldAddr+oldLen)
	m := mm.findLocked(oldAddr)
	if m == nil || oldAddr+oldLen > m.end || oldLen == 0 {
		return 0, unix.EFAULT
	}
	if !o.Fixed && !o.DontUnmap && newLen <= oldLen {
		mm.unmapLocked(oldAddr+newLen, oldAddr+oldLen, true)
		return oldAddr, nil
	}
	if o.Fixed && newLen < oldLen {
		mm.unmapLocked(oldAddr+newLen, oldAddr+oldLen, true)
		oldLen = newLen
	}
	// Work on exactly [oldAddr, oldAddr+oldLen) as one mapping.
	mm.splitLocked(oldAddr)
	mm.splitLocked(oldAddr + oldLen)
	m = mm.findLocked(oldAddr)
	grow := int((newLen - oldLen) / arch.PageSize)
	if !o.Fixed && !o.DontUnmap && oldAddr+newLen <= MaxUserAddress && oldAddr+newLen > oldAddr && !mm.overlapsLocked(oldAddr+oldLen, oldAddr+newLen) {
		ext := &mapping{start: oldAddr + oldLen, end: oldAddr + newLen, prot: m.prot, shared: m.shared,
			offset: m.offset + oldLen, file: m.file, mayWrite: m.mayWrite, anon: m.anon}
		if err := mm.growFramesLocked(m, ext, grow); err != nil {
			return 0, err
		}
		if err := mm.hostMapLocked(ext, ext.start, ext.end); err != nil {
			mm.mf.DecRef(ext.frames)
			return 0, err
		}
		// m itself grows, so a later mremap finds one mapping.
		if m.busFrom == 0 {
			m.busFrom = ext.busFrom
		}
		m.end = ext.end
		if m.frames != nil {
			m.frames = append(m.frames, ext.frames...)
		}
		return oldAddr, nil
	}
	if !o.MayMove {
		return 0, unix.ENOMEM
	}
	newAddr := o.NewAddr
	if !o.Fixed {
		var err error
		if newAddr, err = mm.findGapLocked(newLen); err != nil {
			return 0, err
		}
	}
	moved := &mapping{start: newAddr, end: newAddr + newLen, prot: m.prot, shared: m.shared,
		name: m.name, dev: m.dev, ino: m.ino, offset: m.offset, file: m.file, mayWrite: m.mayWrite, locked: m.locked,
		anon: m.anon}
	if m.busFrom != 0 {
		moved.busFrom = newAddr + (m.busFrom - m.start)
	}
	if m.frames != nil {
		tail := &mapping{start: newAddr + oldLen, end: newAddr + newLen, prot: m.prot, shared: m.shared,
			offset: m.offset + oldLen, file: m.file, mayWrite: m.mayWrite, anon: m.anon}
		if err := mm.growFramesLocked(m, tail, grow); err != nil {
			return 0, err
		}
		if moved.busFrom == 0 && tail.busFrom != 0 {
			moved.busFrom = tail.busFrom
		}
		moved.frames = append(slices.Clone(m.frames), tail.frames...)
	}
	if o.Fixed {
		mm.unmapLocked(newAddr, newAddr+newLen, false)
	}
	if err := mm.hostMapLocked(moved, moved.start, moved.end); err != nil {
		mm.mf.DecRef(moved.frames[oldLen/arch.PageSize:])
		return 0, err
	}
	moved.ref()
	if o.DontUnmap {
		// The old range keeps its mapping with fresh memory; the frames
		// went with the move.
		if err := mm.refillLocked(m); err != nil {
			return 0, err
		}
	} else {
		// The frames now belong to the moved mapping: drop the old one
		// without releasing them.
		mm.maps = slices.DeleteFunc(mm.maps, func(x *mapping) bool { return x == m })
		m.unref()
		mm.host.Unmap(oldAddr, oldLen)
	}
	mm.insertLocked(moved)
	return newAddr, nil
}

// mergeLocked joins the mappings that cover [start, end) end to end into
// one where they differ in nothing but their range, as Linux merges
// adjacent areas: mremap works on one mapping only.
func (mm *MemoryManager) mergeLocked(start, end uint64) {
	i := sort.Search(len(mm.maps), func(i int) bool { return mm.maps[i].end > start })
	for i+1 < len(mm.maps) && mm.maps[i].end < end {
		a, b := mm.maps[i], mm.maps[i+1]
		if !mergeable(a, b) {
			return
		}
		if a.busFrom == 0 {
			a.busFrom = b.busFrom
		}
		a.end = b.end
		a.frames = append(a.frames, b.frames...)
		b.unref()
		mm.maps = slices.Delete(mm.maps, i+1, i+2)
	}
}

// mergeable reports whether b continues a exactly.
func mergeable(a, b *mapping) bool {
	return a.end == b.start && a.prot == b.prot && a.shared == b.shared && a.file == b.file &&
		a.mayWrite == b.mayWrite && a.locked == b.locked && a.name == b.name && a.dev == b.dev && a.ino == b.ino &&
		(a.frames == nil) == (b.frames == nil) &&
		(a.file == nil && a.name == "" || b.offset == a.offset+(a.end-a.start))
}

// growFramesLocked gives ext, the n pages that extend m, their frames:
// the file's next pages for a file mapping, fresh memory otherwise, none
// for a reservation.
func (mm *MemoryManager) growFramesLocked(m, ext *mapping, n int) error {
	if m.frames == nil || n == 0 {
		return nil
	}
	if m.file != nil {
		frames, err := mm.fileFramesLocked(ext, 0, ext.offset, n)
		ext.frames = frames
		return err
	}
	if m.anon {
		frames, err := mm.noFramesLocked(n)
		if err != nil {
			return err
		}
		ext.frames = frames
		if m.locked {
			return mm.populateLocked(ext, ext.start, ext.end)
		}
		return nil
	}
	frames, err := mm.mf.Allocate(n)
	ext.frames = frames
	return err
}

// refillLocked gives every page of m new contents as a fresh mapping
// would have: the file's pages, or zeroes. m's old frames are not released
// (the caller moved them elsewhere).
func (mm *MemoryManager) refillLocked(m *mapping) error {
	if m.frames == nil {
		return nil
	}
	var frames []uint64
	var err error
	switch {
	case m.file != nil:
		m.busFrom = 0
		frames, err = mm.fileFramesLocked(m, 0, m.offset, m.pages())
	case m.anon:
		// The same size as before: no new room is taken.
		frames = make([]uint64, m.pages())
		for i := range frames {
			frames[i] = noFrame
		}
	default:
		frames, err = mm.mf.Allocate(m.pages())
	}
	if err != nil {
		m.frames = nil
		return err
	}
	m.frames = frames
	return mm.hostMapLocked(m, m.start, m.end)
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

// Fork returns a copy of the address space for a child process, whose host
// side is host. Private memory is shared copy-on-write: both sides lose
// write access to it on the host until a write fault gives the writer its
// own copy (HandleFault).
//
// A nil host makes the child as NewDeferred does: its host calls wait for
// Attach, so that the child's stub can be started meanwhile.
func (mm *MemoryManager) Fork(host HostMapper) (*MemoryManager, error) {
	if host == nil {
		host = &deferredHost{}
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	child := &MemoryManager{mf: mm.mf, host: host, brkStart: mm.brkStart, brk: mm.brk}
	for _, m := range mm.maps {
		if m.shared && m.anon && m.frames != nil && slices.Contains(m.frames, noFrame) {
			// Both sides must meet on the same frames.
			if err := mm.populateLocked(m, m.start, m.end); err != nil {
				return nil, err
			}
			if err := mm.hostMapLocked(m, m.start, m.end); err != nil {
				return nil, err
			}
		}
	}
	for _, m := range mm.maps {
		c := *m
		if m.frames != nil {
			c.frames = slices.Clone(m.frames)
			mm.mf.IncRef(c.frames)
		}
		// mlock is not inherited across fork.
		c.locked = false
		c.ref()
		child.maps = append(child.maps, &c)
	}
	// Both sides' host calls go in as few round trips as the platform
	// allows: a fork is otherwise one or more per mapping.
	var ops []HostMap
	for _, m := range mm.maps {
		if m.frames != nil && m.prot&ProtWrite != 0 && !m.shared {
			ops = mm.appendHostOps(ops, m, m.start, m.end, false)
		}
	}
	if err := applyHost(mm.host, ops); err != nil {
		child.releaseLocked()
		return nil, fmt.Errorf("write-protect for fork: %w", err)
	}
	ops = ops[:0]
	for _, c := range child.maps {
		ops = child.appendHostOps(ops, c, c.start, c.end, true)
	}
	if err := applyHost(child.host, ops); err != nil {
		child.releaseLocked()
		return nil, fmt.Errorf("map the child of a fork: %w", err)
	}
	return child, nil
}

// HandleFault resolves a fault at addr that the memory manager explains,
// the first touch of a lazy page or a write to a page shared
// copy-on-write, and reports whether it did; any other fault is the
// workload's own and becomes a signal. It fails with ENOMEM when the page
// exceeds the quota.
func (mm *MemoryManager) HandleFault(addr uint64, write bool) (bool, error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	m := mm.findLocked(addr)
	if m == nil || m.frames == nil {
		return false, nil
	}
	i := int((addr - m.start) / arch.PageSize)
	if m.frames[i] == noFrame {
		if !m.lazy(i) {
			return false, nil
		}
		// First touch. Whatever the access was, the page is mapped
		// with the mapping's access: one the mapping does not allow
		// faults again and is the workload's own.
		if err := mm.touchLocked(m, i); err != nil {
			return false, err
		}
		return true, nil
	}
	if !write {
		// The host showed nothing here, yet the page has its frame:
		// another thread's fault on the same block mapped it meanwhile.
		// Running again settles it; an access the mapping does not
		// allow faults again, as a protection fault.
		return m.prot != 0, nil
	}
	if m.prot&ProtWrite == 0 || m.shared {
		return false, nil
	}
	if err := mm.breakCOWLocked(m, i); err != nil {
		return false, err
	}
	// Pages around it whose other sharers have gone since fork can have
	// write access back now, saving a fault each. A file mapping's pages
	// stay shared with the file, so only the page itself changes.
	lo, hi := i, i+1
	if m.file == nil {
		lo, hi = max(0, i-32), min(m.pages(), i+32)
	}
	return true, mm.hostMapLocked(m, m.start+uint64(lo)*arch.PageSize, m.start+uint64(hi)*arch.PageSize)
}

// breakCOWLocked gives page i of m a frame of its own if it shares one.
func (mm *MemoryManager) breakCOWLocked(m *mapping, i int) error {
	old := m.frames[i]
	if !mm.mf.Shared(old) {
		return nil
	}
	frames, err := mm.mf.Allocate(1)
	if err != nil {
		return err
	}
	copy(mm.mf.page(frames[0]), mm.mf.page(old))
	m.frames[i] = frames[0]
	mm.mf.DecRef([]uint64{old})
	return nil
}

// Release drops every mapping's memory; the address space is unusable
// afterwards. Host mappings are left to the platform, which destroys the
// host address space.
func (mm *MemoryManager) Release() {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	mm.releaseLocked()
}

func (mm *MemoryManager) releaseLocked() {
	for _, m := range mm.maps {
		mm.mf.DecRef(m.frames)
		m.unref()
	}
	mm.maps = nil
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
	mm.maps = slices.Insert(mm.maps, i, m)
}

// splitLocked makes addr a mapping boundary if it falls inside one.
func (mm *MemoryManager) splitLocked(addr uint64) {
	m := mm.findLocked(addr)
	if m == nil || m.start == addr {
		return
	}
	right := *m
	right.start = addr
	if m.name != "" || m.file != nil {
		right.offset = m.offset + (addr - m.start)
	}
	if m.busFrom != 0 && m.busFrom < addr {
		right.busFrom = addr
	}
	if m.busFrom >= addr {
		m.busFrom = 0
	}
	right.ref()
	if m.frames != nil {
		cut := int((addr - m.start) / arch.PageSize)
		right.frames = slices.Clone(m.frames[cut:])
		m.frames = slices.Clip(m.frames[:cut])
	}
	m.end = addr
	mm.insertLocked(&right)
}

// unmapLocked removes [start, end), releasing the memory behind it.
func (mm *MemoryManager) unmapLocked(start, end uint64, host bool) {
	mm.splitLocked(start)
	mm.splitLocked(end)
	removed := false
	mm.maps = slices.DeleteFunc(mm.maps, func(m *mapping) bool {
		if m.start >= start && m.end <= end {
			mm.mf.DecRef(m.frames)
			m.unref()
			removed = true
			return true
		}
		return false
	})
	if removed && host {
		// A failure leaves a stale host mapping of freed frames; the stub
		// is then unusable and the next switch fails, which ends the task.
		mm.host.Unmap(start, end-start)
	}
}

// Discard implements MADV_DONTNEED on private memory: anonymous pages
// read back as zeroes, file pages as the file's current contents. A frame shared copy-on-write is let go rather than
// cleared, since the other sharers still need its contents.
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
		if m.end <= addr || m.start >= end || m.frames == nil || m.shared {
			continue
		}
		s, e := max(m.start, addr), min(m.end, end)
		remap := false
		for a := s; a < e; a += arch.PageSize {
			i := int((a - m.start) / arch.PageSize)
			if m.file != nil {
				// A private file page reads the file again.
				f, err := mm.fileFramesLocked(m, i, m.offset+uint64(i)*arch.PageSize, 1)
				if err != nil {
					return err
				}
				mm.mf.DecRef(m.frames[i : i+1])
				m.frames[i] = f[0]
				remap = true
				continue
			}
			if m.frames[i] == noFrame {
				continue
			}
			if m.lazy(i) {
				// Back to untouched: the quota gets the page back.
				mm.mf.DecRef(m.frames[i : i+1])
				m.frames[i] = noFrame
				remap = true
				continue
			}
			if !mm.mf.Shared(m.frames[i]) {
				mm.mf.zero(m.frames[i])
				continue
			}
			fresh, err := mm.mf.Allocate(1)
			if err != nil {
				return err
			}
			mm.mf.DecRef(m.frames[i : i+1])
			m.frames[i] = fresh[0]
			remap = true
		}
		if remap {
			if err := mm.hostMapLocked(m, s, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// ResidentBytes is the memory the address space holds from the quota
// (its pages with frames), counting shared frames once per sharer.
func (mm *MemoryManager) ResidentBytes() uint64 {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var n uint64
	for _, m := range mm.maps {
		for _, f := range m.frames {
			if f != noFrame {
				n += arch.PageSize
			}
		}
	}
	return n
}

// FutexKey identifies the futex word at addr: in a MAP_SHARED mapping by
// the frame behind it, so processes sharing the memory meet on it;
// otherwise by the address space and address.
func (mm *MemoryManager) FutexKey(addr uint64) (shared bool, frame uint64, err error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	m := mm.findLocked(addr)
	if m == nil || m.frames == nil {
		return false, 0, unix.EFAULT
	}
	if !m.shared {
		return false, 0, nil
	}
	i := int((addr - m.start) / arch.PageSize)
	if m.frames[i] == noFrame {
		// The key is the frame: an untouched page gets its own first.
		if !m.lazy(i) {
			return false, 0, unix.EFAULT
		}
		if err := mm.touchLocked(m, i); err != nil {
			return false, 0, unix.EFAULT
		}
	}
	return true, m.frames[i] + addr%arch.PageSize, nil
}

// Mapped reports whether [addr, addr+length) is entirely mapped, for the
// calls that fail with ENOMEM on holes (mincore, mlock, msync).
func (mm *MemoryManager) Mapped(addr, length uint64) bool {
	end := addr + length
	if end < addr {
		return false
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	return mm.coveredLocked(addr, end)
}

// Resident fills vec with mincore's answer for each page from addr: 1 if
// memory is behind it. Pages of the memory capability are not swapped, so
// every page with a frame is resident.
func (mm *MemoryManager) Resident(addr uint64, vec []byte) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	for i := range vec {
		a := addr + uint64(i)*arch.PageSize
		vec[i] = 0
		if m := mm.findLocked(a); m != nil && m.frames != nil && m.frames[(a-m.start)/arch.PageSize] != noFrame {
			vec[i] = 1
		}
	}
}
