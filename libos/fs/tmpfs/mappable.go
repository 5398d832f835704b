package tmpfs

import "exokernelul.dev/exo/libos/mm"

// A regular file's frames are its pages: mappings share them directly
// (mm.Mappable), so nothing is ever written back.

// MapPages implements mm.Mappable.
func (i *Inode) MapPages(first, n uint64, writable bool) ([]uint64, error) {
	// A mapping that may write is refused once the file is sealed
	// against writes; AddMapping has counted it already, so a seal added
	// meanwhile sees it (EBUSY).
	return i.MapFrames(first, n, writable)
}

// Size implements mm.Mappable.
func (i *Inode) Size() int64 {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.data.size
}

// AddMapping implements mm.Mappable.
func (i *Inode) AddMapping(sharedWrite bool) {
	if sharedWrite {
		i.sharedWriteMaps.Add(1)
	}
}

// RemoveMapping implements mm.Mappable.
func (i *Inode) RemoveMapping(sharedWrite bool) {
	if sharedWrite {
		i.sharedWriteMaps.Add(-1)
	}
}

// Sync implements mm.Mappable: the frames are the file.
func (*Inode) Sync() error { return nil }

// Mappable gives the memory manager the file's inode.
func (f *regFile) Mappable() (mm.Mappable, func(), error) { return f.inode, func() {}, nil }
