package dirfs

import (
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/hostfd"
	"exokernelul.dev/exo/libos/mm"
)

// A host file's pages are copied into memory-capability frames while
// mappings share them: the memory manager maps those frames into every
// mapping of the file, MAP_SHARED ones writable, so stores through one
// mapping are seen by the others at once, and MAP_PRIVATE ones
// copy-on-write, so they see later writes to the file. While a file has a
// cache in use, the cache is its contents as the sandbox sees them: reads
// and writes through any descriptor of the file go through it, and stores
// through shared mappings reach the host file on msync, fsync and the last
// unmap. Processes outside the sandbox writing the host file meanwhile are
// not seen (gVisor's shared-file caching has the same limit).
//
// After the last unmap the pages are kept, as Linux keeps a file's page
// cache: a program run again, or the libraries every process maps, are not
// read from the host at each exec. Such an idle cache is written back, holds
// no host descriptor and is invisible to reads and writes; it is used again
// only if the host file still has the size, times and identity it had when
// it went idle (any write, from the sandbox or not, changes its ctime), and
// dropped otherwise. Idle caches are bounded (idleMaxPages, idleMax) and
// are the first memory the quota takes back when an allocation would
// exceed it (reclaim), as Linux reclaims clean page cache before it
// declares a cgroup out of memory.
//
// Lock order: FS.cacheMu, then pageCache.mu, then the memory file's. The
// memory file calls reclaim without its own lock, from allocations that
// may hold the memory manager's lock but never a cache's.

// fileKey names a host file.
type fileKey struct{ dev, ino uint64 }

// fileStamp is what must not have changed for an idle cache to be used
// again.
type fileStamp struct {
	size         int64
	mtime, ctime unix.Timespec
}

func stampOf(st *unix.Stat_t) fileStamp {
	return fileStamp{size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
}

// pageCache is the cached pages of one host file.
type pageCache struct {
	fs  *FS
	key fileKey

	mu sync.Mutex
	// fd reads the file; wfd, once a writable descriptor was mapped,
	// writes pages back. Both are the cache's own (dup'd), since mappings
	// outlive descriptors; an idle cache has neither.
	fd, wfd int
	pages   map[uint64]uint64 // page index → frame
	// dirty are the pages a writable shared mapping has: written back as
	// a whole, since stores through a mapping leave no trace.
	dirty map[uint64]bool
	// maps counts mappings, pins callers between Mappable and Map.
	maps, pins int
	// idle says nothing uses the cache: it sits in FS.idle, and stamp
	// is the host file as it was then. Changed with both locks held.
	idle  bool
	stamp fileStamp
}

// Bounds of the idle caches of one file system: how many files, and how
// many pages of the quota in all (a quarter of the quota at most).
const (
	idleMax      = 256
	idleMaxPages = 64 << 20 / pageSize
)

// caches is the FS's registry; ncaches (caches in use) lets I/O skip it
// when there is none.
type caches struct {
	cacheMu sync.Mutex
	byKey   map[fileKey]*pageCache
	ncaches atomic.Int32
	// idle are the idle caches, least recently used first, and
	// idlePages the frames they hold.
	idle      []*pageCache
	idlePages int
}

// SetMemory lets the file system cache pages of mapped files in frames of
// mem; without it, mappings of its files are private copies.
func (fs *FS) SetMemory(mem *mm.MemoryFile) {
	fs.mem = mem
	mem.AddReclaimer(fs.reclaim)
}

// cacheOf returns the file's cache, if it has one in use.
func (fs *FS) cacheOf(key fileKey) *pageCache {
	fs.cacheMu.Lock()
	defer fs.cacheMu.Unlock()
	if c := fs.byKey[key]; c != nil && !c.idle {
		return c
	}
	return nil
}

// pinCache returns the file's cache, made from fd if there is none (or
// the idle one no longer matches the file), pinned until unpin.
func (fs *FS) pinCache(key fileKey, fd int, writable bool) (*pageCache, error) {
	fs.cacheMu.Lock()
	defer fs.cacheMu.Unlock()
	c := fs.byKey[key]
	if c != nil && c.idle {
		c.mu.Lock()
		fs.unidleLocked(c)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || stampOf(&st) != c.stamp {
			c.freeLocked()
			c.mu.Unlock()
			c = nil
		} else if c.fd, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0); err != nil {
			c.freeLocked()
			c.mu.Unlock()
			return nil, err
		} else {
			fs.ncaches.Add(1)
			c.mu.Unlock()
		}
	}
	if c == nil {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		c = &pageCache{fs: fs, key: key, fd: dup, wfd: -1, pages: map[uint64]uint64{}, dirty: map[uint64]bool{}}
		if fs.byKey == nil {
			fs.byKey = map[fileKey]*pageCache{}
		}
		fs.byKey[key] = c
		fs.ncaches.Add(1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if writable && c.wfd < 0 {
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			c.dropIfUnusedLocked()
			return nil, err
		}
		c.wfd = dup
	}
	c.pins++
	return c, nil
}

// unpin ends a pinCache.
func (c *pageCache) unpin() { c.release(&c.pins) }

// release drops one of the pins or mappings count counts and lets the
// cache go idle once nothing holds it.
func (c *pageCache) release(count *int) {
	c.fs.cacheMu.Lock()
	defer c.fs.cacheMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	*count--
	c.dropIfUnusedLocked()
}

// dropIfUnusedLocked writes the cache back once nothing maps or pins it,
// and keeps it idle, or frees it if it cannot be checked later or holds
// nothing. Both locks are held.
func (c *pageCache) dropIfUnusedLocked() {
	if c.maps > 0 || c.pins > 0 || c.fd < 0 {
		return
	}
	err := c.writebackLocked()
	var st unix.Stat_t
	if err == nil {
		err = unix.Fstat(c.fd, &st)
	}
	unix.Close(c.fd)
	if c.wfd >= 0 {
		unix.Close(c.wfd)
	}
	c.fd, c.wfd = -1, -1
	c.fs.ncaches.Add(-1)
	clear(c.dirty)
	if err != nil || len(c.pages) == 0 || len(c.pages) > idleMaxPages {
		c.freeLocked()
		return
	}
	c.idle, c.stamp = true, stampOf(&st)
	fs := c.fs
	fs.idle = append(fs.idle, c)
	fs.idlePages += len(c.pages)
	// Over the bounds, the least recently used go first (locking
	// another idle cache is safe: nothing else holds an idle cache's
	// lock for long, and never with a second one).
	for len(fs.idle) > idleMax || fs.idlePages > idleMaxPages || fs.idlePages*pageSize > int(fs.mem.Size()/4) {
		old := fs.idle[0]
		if old != c {
			old.mu.Lock()
		}
		fs.unidleLocked(old)
		old.freeLocked()
		if old != c {
			old.mu.Unlock()
		}
	}
}

// unidleLocked takes c off the idle list. Both locks are held.
func (fs *FS) unidleLocked(c *pageCache) {
	if i := slices.Index(fs.idle, c); i >= 0 {
		fs.idle = slices.Delete(fs.idle, i, i+1)
	}
	fs.idlePages -= len(c.pages)
	c.idle = false
}

// freeLocked gives the cache's frames back and forgets it; it holds no
// descriptor by then. Both locks are held.
func (c *pageCache) freeLocked() {
	frames := make([]uint64, 0, len(c.pages))
	for _, f := range c.pages {
		frames = append(frames, f)
	}
	c.fs.mem.DecRef(frames)
	c.pages, c.dirty = nil, nil
	if c.fs.byKey[c.key] == c {
		delete(c.fs.byKey, c.key)
	}
}

// reclaim frees idle caches, least recently used first, until want bytes
// are free or none is left; the memory file calls it before it refuses an
// allocation. It returns the bytes freed.
func (fs *FS) reclaim(want uint64) uint64 {
	fs.cacheMu.Lock()
	defer fs.cacheMu.Unlock()
	var freed uint64
	for freed < want && len(fs.idle) > 0 {
		c := fs.idle[0]
		c.mu.Lock()
		freed += uint64(len(c.pages)) * pageSize
		fs.unidleLocked(c)
		c.freeLocked()
		c.mu.Unlock()
	}
	return freed
}

// sizeLocked is the host file's size.
func (c *pageCache) sizeLocked() int64 {
	var st unix.Stat_t
	if err := unix.Fstat(c.fd, &st); err != nil {
		return 0
	}
	return st.Size
}

// Size implements mm.Mappable.
func (c *pageCache) Size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sizeLocked()
}

// MapPages implements mm.Mappable: missing pages are read from the host
// into frames allocated in one piece, so a file mapped whole maps with
// one host call. The frames are allocated without the cache's lock, since
// an allocation may have to reclaim idle caches first.
func (c *pageCache) MapPages(first, n uint64, writable bool) ([]uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for missing := c.missingLocked(first, n); len(missing) > 0; {
		c.mu.Unlock()
		frames, err := c.fs.mem.Allocate(len(missing))
		c.mu.Lock()
		if err != nil {
			return nil, err
		}
		if now := c.missingLocked(first, n); !slices.Equal(now, missing) {
			// Another mapping filled some meanwhile.
			c.fs.mem.DecRef(frames)
			missing = now
			continue
		}
		// One host read per run of pages that are consecutive both in
		// the file and in the memory file.
		for k := 0; k < len(missing); {
			j := k + 1
			for j < len(missing) && missing[j] == missing[j-1]+1 && frames[j] == frames[j-1]+pageSize {
				j++
			}
			if _, err := hostfd.ReadFull(c.fd, c.fs.mem.Pages(frames[k], j-k), int64(missing[k])*pageSize); err != nil {
				c.fs.mem.DecRef(frames[k:])
				return nil, err
			}
			for ; k < j; k++ {
				c.pages[missing[k]] = frames[k]
			}
		}
		break
	}
	out := make([]uint64, n)
	for k := range out {
		out[k] = c.pages[first+uint64(k)]
		if writable {
			c.dirty[first+uint64(k)] = true
		}
	}
	c.fs.mem.IncRef(out)
	return out, nil
}

// missingLocked lists the pages of [first, first+n) not in the cache.
func (c *pageCache) missingLocked(first, n uint64) []uint64 {
	var missing []uint64
	for pg := first; pg < first+n; pg++ {
		if _, ok := c.pages[pg]; !ok {
			missing = append(missing, pg)
		}
	}
	return missing
}

// AddMapping implements mm.Mappable.
func (c *pageCache) AddMapping(bool) {
	c.mu.Lock()
	c.maps++
	c.mu.Unlock()
}

// RemoveMapping implements mm.Mappable: the last one writes the file back
// and lets the cache go idle.
func (c *pageCache) RemoveMapping(bool) { c.release(&c.maps) }

// Sync implements mm.Mappable.
func (c *pageCache) Sync() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writebackLocked()
}

// writebackLocked writes the dirty pages to the host, within its size:
// a mapping cannot grow the file.
func (c *pageCache) writebackLocked() error {
	if len(c.dirty) == 0 || c.wfd < 0 {
		return nil
	}
	size := c.sizeLocked()
	var firstErr error
	for pg := range c.dirty {
		off := int64(pg) * pageSize
		if off >= size {
			continue
		}
		f, ok := c.pages[pg]
		if !ok {
			continue
		}
		b := c.fs.mem.Page(f)[:min(pageSize, size-off)]
		if _, err := hostfd.WriteFull(c.wfd, b, off); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// read copies the file from off into p: cached pages from the cache, the
// rest from the host, within the host file's size.
func (c *pageCache) read(p []byte, off int64) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	size := c.sizeLocked()
	if off >= size {
		return 0, nil
	}
	n := int(min(int64(len(p)), size-off))
	for done := 0; done < n; {
		pos := off + int64(done)
		pg, po := uint64(pos/pageSize), int(pos%pageSize)
		chunk := min(pageSize-po, n-done)
		if f, ok := c.pages[pg]; ok {
			copy(p[done:done+chunk], c.fs.mem.Page(f)[po:])
		} else if got, err := hostfd.ReadFull(c.fd, p[done:done+chunk], pos); err != nil {
			return done, err
		} else {
			// Past the end if the host file shrank meanwhile.
			clear(p[done+got : done+chunk])
		}
		done += chunk
	}
	return n, nil
}

// wrote updates the cached pages after p was written to the host at off.
func (c *pageCache) wrote(p []byte, off int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for done := 0; done < len(p); {
		pos := off + int64(done)
		pg, po := uint64(pos/pageSize), int(pos%pageSize)
		chunk := min(pageSize-po, len(p)-done)
		if f, ok := c.pages[pg]; ok {
			copy(c.fs.mem.Page(f)[po:], p[done:done+chunk])
		}
		done += chunk
	}
}

// zeroed clears cached bytes in [off, end): after a truncate (the bytes
// past the new end read as zeroes if the file grows again) or a punched
// hole.
func (c *pageCache) zeroed(off, end int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for pg, f := range c.pages {
		lo, hi := max(off, int64(pg)*pageSize), min(end, int64(pg+1)*pageSize)
		if lo < hi {
			clear(c.fs.mem.Page(f)[lo%pageSize : (hi-1)%pageSize+1])
		}
	}
}
