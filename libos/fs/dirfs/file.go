package dirfs

import (
	"math"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/hostfd"
	"exokernelul.dev/exo/libos/mm"
)

const pageSize = 4096

// file is an open regular file: the host fd, whose reads and writes go
// through the file's page cache while mappings share its pages (see
// pagecache.go).
type file struct {
	*hostfd.File
	fs       *FS
	writable bool // open O_RDWR: its shared mappings may store

	keyOnce sync.Once
	key     fileKey
	keyErr  error
}

func (fs *FS) newFile(fd, flags int) *file {
	return &file{File: hostfd.New(fd), fs: fs, writable: flags&unix.O_ACCMODE == unix.O_RDWR}
}

// fileKey is asked of the host only once a cache exists somewhere, so
// opening and reading unmapped files costs no extra host call.
func (f *file) fileKey() (fileKey, error) {
	f.keyOnce.Do(func() {
		var st unix.Stat_t
		if f.keyErr = unix.Fstat(f.FD(), &st); f.keyErr == nil {
			f.key = fileKey{st.Dev, st.Ino}
		}
	})
	return f.key, f.keyErr
}

// cache is the file's page cache, nil if it has none.
func (f *file) cache() *pageCache {
	if f.fs.ncaches.Load() == 0 {
		return nil
	}
	key, err := f.fileKey()
	if err != nil {
		return nil
	}
	return f.fs.cacheOf(key)
}

// Mappable gives the memory manager the file's page cache, pinned until
// done is called.
func (f *file) Mappable() (m mm.Mappable, done func(), err error) {
	if f.fs.mem == nil {
		return nil, nil, nil
	}
	key, err := f.fileKey()
	if err != nil {
		return nil, nil, err
	}
	c, err := f.fs.pinCache(key, f.FD(), f.writable)
	if err != nil {
		return nil, nil, err
	}
	return c, c.unpin, nil
}

// Read implements vfs.File.
func (f *file) Read(p []byte) (int, error) {
	c := f.cache()
	if c == nil {
		return f.File.Read(p)
	}
	off, err := f.Seek(0, unix.SEEK_CUR)
	if err != nil {
		return 0, err
	}
	n, err := c.read(p, off)
	if n > 0 {
		f.Seek(off+int64(n), unix.SEEK_SET)
	}
	return n, err
}

// Pread implements vfs.File.
func (f *file) Pread(p []byte, off int64) (int, error) {
	if c := f.cache(); c != nil {
		return c.read(p, off)
	}
	return f.File.Pread(p, off)
}

// ReadAt implements mm.ReaderAt (the loader reads executables with it).
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if c := f.cache(); c != nil {
		return c.read(p, off)
	}
	return f.File.ReadAt(p, off)
}

// Write implements vfs.File.
func (f *file) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	if n > 0 {
		if c := f.cache(); c != nil {
			// With O_APPEND only the host knows where the bytes went.
			if end, serr := f.Seek(0, unix.SEEK_CUR); serr == nil {
				c.wrote(p[:n], end-int64(n))
			}
		}
	}
	return n, err
}

// Pwrite implements vfs.File.
func (f *file) Pwrite(p []byte, off int64) (int, error) {
	n, err := f.File.Pwrite(p, off)
	if n > 0 {
		if c := f.cache(); c != nil {
			c.wrote(p[:n], off)
		}
	}
	return n, err
}

// Truncate implements vfs.Truncater.
func (f *file) Truncate(size int64) error {
	if err := f.File.Truncate(size); err != nil {
		return err
	}
	if c := f.cache(); c != nil {
		c.zeroed(size, math.MaxInt64)
	}
	return nil
}

// Allocate implements vfs.Allocator.
func (f *file) Allocate(mode uint32, off, length int64) error {
	if err := f.File.Allocate(mode, off, length); err != nil {
		return err
	}
	if mode&(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_ZERO_RANGE) != 0 {
		if c := f.cache(); c != nil {
			c.zeroed(off, off+length)
		}
	}
	return nil
}

// Sync implements vfs.Syncer: stores through shared mappings first.
func (f *file) Sync(dataOnly bool) error {
	if c := f.cache(); c != nil {
		if err := c.Sync(); err != nil {
			return err
		}
	}
	return f.File.Sync(dataOnly)
}

// truncated tells the file's cache, if any, that the host file at path
// was truncated to size by name.
func (fs *FS) truncated(fd int, size int64) {
	if fs.ncaches.Load() == 0 {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return
	}
	if c := fs.cacheOf(fileKey{st.Dev, st.Ino}); c != nil {
		c.zeroed(size, math.MaxInt64)
	}
}
