package dirfs

import (
	"container/list"
	"sync"

	"golang.org/x/sys/unix"
)

// dirCache keeps O_PATH fds of recently used directories of a read-only
// tree, so a path walk opens each parent once instead of once per
// component below it: on this kind of machine an openat2 costs as much as
// the rest of a lookup. Only read-only trees get one: nothing in the
// sandbox can rename or remove a directory there, so a cached fd always
// names what its path names (barring the host changing the image under a
// running container). A writable tree re-resolves every path.
//
// An fd is closed only once it is out of the cache and nobody uses it,
// so a concurrent eviction never closes an fd under a caller.
type dirCache struct {
	mu      sync.Mutex
	entries map[string]*dirEntry
	lru     list.List // of *dirEntry, most recent first
	max     int
}

type dirEntry struct {
	path string
	fd   int
	refs int
	gone bool // evicted: close when refs drops to 0
	elem *list.Element
}

func newDirCache(max int) *dirCache {
	return &dirCache{entries: make(map[string]*dirEntry), max: max}
}

// get returns the entry for path with a reference, or nil.
func (c *dirCache) get(path string) *dirEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[path]
	if e == nil {
		return nil
	}
	e.refs++
	c.lru.MoveToFront(e.elem)
	return e
}

// add caches fd for path and returns its entry with a reference. If
// another caller cached the path meanwhile, fd is closed and theirs is
// used.
func (c *dirCache) add(path string, fd int) *dirEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[path]; e != nil {
		unix.Close(fd)
		e.refs++
		c.lru.MoveToFront(e.elem)
		return e
	}
	e := &dirEntry{path: path, fd: fd, refs: 1}
	e.elem = c.lru.PushFront(e)
	c.entries[path] = e
	for c.lru.Len() > c.max {
		old := c.lru.Remove(c.lru.Back()).(*dirEntry)
		delete(c.entries, old.path)
		old.gone = true
		if old.refs == 0 {
			unix.Close(old.fd)
		}
	}
	return e
}

// put drops a reference taken by get or add.
func (c *dirCache) put(e *dirEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.gone && e.refs == 0 {
		unix.Close(e.fd)
	}
}
