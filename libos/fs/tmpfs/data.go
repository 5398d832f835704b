package tmpfs

import (
	"golang.org/x/sys/unix"
)

// fileData is a regular file's contents: its size and the frames of the
// pages that have been written. A page with no frame is a hole and reads
// as zeroes, so a sparse file holds only what was written. Pages are kept
// in a map rather than a slice because a file may be truncated to a huge
// size with nothing in it.
//
// The owning inode's mutex guards it, except in release, which runs once
// nothing can reach the inode any more.
type fileData struct {
	acct  *account
	size  int64
	pages map[uint64]uint64 // page index → frame
}

// release gives back whatever frames are left; the garbage collector runs
// it when the inode is gone.
func (d *fileData) release() { d.acct.free(d.takeAll()) }

// takeAll empties the file's page map and returns its frames.
func (d *fileData) takeAll() []uint64 {
	if len(d.pages) == 0 {
		return nil
	}
	frames := make([]uint64, 0, len(d.pages))
	for _, f := range d.pages {
		frames = append(frames, f)
	}
	d.pages = nil
	return frames
}

func (d *fileData) page(f uint64) []byte { return d.acct.mem.Page(f) }

// read copies the file from off into p, zeroes for holes, stopping at the
// end of the file.
func (d *fileData) read(p []byte, off int64) int {
	if off >= d.size {
		return 0
	}
	n := int(min(int64(len(p)), d.size-off))
	for done := 0; done < n; {
		pos := off + int64(done)
		pg, po := uint64(pos/pageSize), int(pos%pageSize)
		c := min(pageSize-po, n-done)
		if f, ok := d.pages[pg]; ok {
			copy(p[done:done+c], d.page(f)[po:po+c])
		} else {
			clear(p[done : done+c])
		}
		done += c
	}
	return n
}

// write copies p into the file at off, allocating frames for the pages it
// touches. When frames run out part way, it writes what fits in the pages
// it got and reports that count with the error, so a write(2) can return
// a short count as Linux's does.
func (d *fileData) write(fs *FS, p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= maxFileSize {
		return 0, unix.EFBIG
	}
	if int64(len(p)) > maxFileSize-off {
		p = p[:maxFileSize-off]
	}
	end := off + int64(len(p))
	first, last := uint64(off/pageSize), uint64((end-1)/pageSize)
	var missing []uint64
	for pg := first; pg <= last; pg++ {
		if _, ok := d.pages[pg]; !ok {
			missing = append(missing, pg)
		}
	}
	var werr error
	if len(missing) > 0 {
		frames, err := fs.allocate(len(missing))
		if err != nil {
			// Take what is left one frame at a time, in file order, and
			// stop the write at the first page that got none.
			werr = err
			frames = frames[:0]
			for range missing {
				f, err := fs.allocate(1)
				if err != nil {
					break
				}
				frames = append(frames, f[0])
			}
			if len(frames) < len(missing) {
				stop := int64(missing[len(frames)]) * pageSize
				if stop <= off {
					fs.acct.free(frames)
					return 0, werr
				}
				p = p[:stop-off]
				end = stop
			}
		}
		if d.pages == nil {
			d.pages = make(map[uint64]uint64, len(frames))
		}
		for k, f := range frames {
			d.pages[missing[k]] = f
		}
	}
	if off > d.size {
		d.zeroTail()
	}
	for done := 0; done < len(p); {
		pos := off + int64(done)
		pg, po := uint64(pos/pageSize), int(pos%pageSize)
		c := copy(d.page(d.pages[pg])[po:], p[done:])
		done += c
	}
	if end > d.size {
		d.size = end
	}
	if len(p) > 0 {
		werr = nil
	}
	return len(p), werr
}

// zeroTail clears the part of the last page past the end of the file
// before the file grows over it. Writes never put data there, but a shared
// mapping of the page can, and that must not show up as file data.
func (d *fileData) zeroTail() {
	if d.size%pageSize == 0 {
		return
	}
	if f, ok := d.pages[uint64(d.size/pageSize)]; ok {
		clear(d.page(f)[d.size%pageSize:])
	}
}

// truncate sets the size, returning the frames of pages past the new end
// for the caller to give back.
func (d *fileData) truncate(size int64) []uint64 {
	if size >= d.size {
		d.zeroTail()
		d.size = size
		return nil
	}
	d.size = size
	keep := uint64((size + pageSize - 1) / pageSize)
	var freed []uint64
	for pg, f := range d.pages {
		if pg >= keep {
			freed = append(freed, f)
			delete(d.pages, pg)
		}
	}
	// The kept part of the last page must read as zeroes if the file is
	// extended again.
	d.zeroTail()
	return freed
}

// seekData finds the first data at or after off (SEEK_DATA); a page with a
// frame is data even if it holds zeroes, as in Linux's tmpfs.
func (d *fileData) seekData(off int64) (int64, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= d.size {
		return 0, unix.ENXIO
	}
	start := uint64(off / pageSize)
	best, found := uint64(0), false
	if _, ok := d.pages[start]; ok {
		return off, nil
	}
	for pg := range d.pages {
		if pg >= start && (!found || pg < best) {
			best, found = pg, true
		}
	}
	if !found || int64(best)*pageSize >= d.size {
		return 0, unix.ENXIO
	}
	return int64(best) * pageSize, nil
}

// seekHole finds the first hole at or after off (SEEK_HOLE); the end of
// the file counts as one.
func (d *fileData) seekHole(off int64) (int64, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	if off >= d.size {
		return 0, unix.ENXIO
	}
	pg := uint64(off / pageSize)
	for {
		if _, ok := d.pages[pg]; !ok {
			break
		}
		pg++
	}
	return min(max(int64(pg)*pageSize, off), d.size), nil
}

// punch frees the whole pages of [off, end) and zeroes the partial ones,
// returning the freed frames.
func (d *fileData) punch(off, end int64) []uint64 {
	end = min(end, d.size)
	if off >= end {
		return nil
	}
	firstWhole := uint64((off + pageSize - 1) / pageSize)
	endWhole := uint64(end / pageSize)
	if end == d.size {
		// The rest of the last page is past the end of the file, where
		// nothing is kept, so that page goes whole too.
		endWhole = uint64((end + pageSize - 1) / pageSize)
	}
	zero := func(from, to int64) {
		if f, ok := d.pages[uint64(from/pageSize)]; ok && from < to {
			clear(d.page(f)[from%pageSize : from%pageSize+(to-from)])
		}
	}
	if firstWhole >= endWhole {
		// The range lies within one page, or over the boundary of two with
		// neither covered whole.
		pgEnd := (off/pageSize + 1) * pageSize
		zero(off, min(end, pgEnd))
		if end > pgEnd {
			zero(pgEnd, end)
		}
		return nil
	}
	zero(off, int64(firstWhole)*pageSize)
	if int64(endWhole)*pageSize < end {
		zero(int64(endWhole)*pageSize, end)
	}
	var freed []uint64
	if endWhole-firstWhole < uint64(len(d.pages)) {
		for pg := firstWhole; pg < endWhole; pg++ {
			if f, ok := d.pages[pg]; ok {
				freed = append(freed, f)
				delete(d.pages, pg)
			}
		}
	} else {
		for pg, f := range d.pages {
			if pg >= firstWhole && pg < endWhole {
				freed = append(freed, f)
				delete(d.pages, pg)
			}
		}
	}
	return freed
}

// allocateRange gives every page of [off, end) a frame, all or nothing.
func (d *fileData) allocateRange(fs *FS, off, end int64) error {
	var missing []uint64
	for pg := uint64(off / pageSize); pg <= uint64((end-1)/pageSize); pg++ {
		if _, ok := d.pages[pg]; !ok {
			missing = append(missing, pg)
		}
	}
	frames, err := fs.allocate(len(missing))
	if err != nil {
		return err
	}
	if d.pages == nil && len(frames) > 0 {
		d.pages = make(map[uint64]uint64, len(frames))
	}
	for k, f := range frames {
		d.pages[missing[k]] = f
	}
	return nil
}

// Fallocate implements fallocate(2) for a regular file: mode 0 and
// FALLOC_FL_KEEP_SIZE give the range frames (ENOSPC or ENOMEM, with
// nothing allocated, when they cannot all be had), FALLOC_FL_PUNCH_HOLE
// with FALLOC_FL_KEEP_SIZE frees it. Other modes are EOPNOTSUPP, as in
// Linux's tmpfs.
func (i *Inode) Fallocate(mode uint32, off, length int64) error {
	if off < 0 || length <= 0 {
		return unix.EINVAL
	}
	if i.kind == unix.S_IFDIR {
		return unix.EISDIR
	}
	if i.kind != unix.S_IFREG {
		return unix.ENODEV
	}
	if off > maxFileSize-length {
		return unix.EFBIG
	}
	end := off + length
	var freed []uint64
	defer func() { i.fs.acct.free(freed) }()
	i.mu.Lock()
	defer i.mu.Unlock()
	switch mode {
	case 0, unix.FALLOC_FL_KEEP_SIZE:
		// Even with FALLOC_FL_KEEP_SIZE, as Linux checks it.
		if end > i.data.size && i.seals&SealGrow != 0 {
			return unix.EPERM
		}
		if err := i.data.allocateRange(i.fs, off, end); err != nil {
			return err
		}
		if mode == 0 && end > i.data.size {
			i.data.zeroTail()
			i.data.size = end
			t := now()
			i.mtime, i.ctime = t, t
		}
	case unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE:
		if i.seals&writeSeals != 0 {
			return unix.EPERM
		}
		freed = i.data.punch(off, end)
		t := now()
		i.mtime, i.ctime = t, t
	default:
		return unix.EOPNOTSUPP
	}
	return nil
}

// MapFrames is for shared mappings of a regular file: it returns the
// frames of pages [first, first+n), allocating those the file has no frame
// for yet, each with a reference of its own that the caller drops with
// MemoryFile.DecRef when it unmaps them. Pages past the end of the file
// are EFAULT: a fault there is SIGBUS. A frame the file later drops (a
// truncate, a punched hole) then stays with the mapping alone. A writable
// mapping (write) of a file sealed against writes is EPERM.
func (i *Inode) MapFrames(first, n uint64, write bool) ([]uint64, error) {
	if i.kind != unix.S_IFREG {
		return nil, unix.ENODEV
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if write && i.seals&writeSeals != 0 {
		return nil, unix.EPERM
	}
	if n == 0 {
		return nil, nil
	}
	if first+n < first || first+n > uint64((i.data.size+pageSize-1)/pageSize) {
		return nil, unix.EFAULT
	}
	if err := i.data.allocateRange(i.fs, int64(first)*pageSize, int64(first+n)*pageSize); err != nil {
		return nil, err
	}
	frames := make([]uint64, n)
	for k := range frames {
		frames[k] = i.data.pages[first+uint64(k)]
	}
	i.fs.acct.mem.IncRef(frames)
	return frames, nil
}
