package tmpfs

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// fionread is FIONREAD (asm-generic/ioctls.h).
const fionread = 0x541b

// regFile is an open regular file. Its mutex serializes the calls that use
// the file offset, as Linux's f_pos lock does, so two reads through one
// description never return the same bytes.
type regFile struct {
	inode *Inode
	// flags are open(2)'s; F_SETFL changes the status flags among them
	// (SetStatusFlags), so they are read atomically.
	flags atomic.Int32

	mu     sync.Mutex
	off    int64
	closed bool
}

func newRegFile(i *Inode, flags int) *regFile {
	f := &regFile{inode: i}
	f.flags.Store(int32(flags))
	return f
}

func (f *regFile) flag(bit int) bool { return int(f.flags.Load())&bit != 0 }
func (f *regFile) readable() bool    { return int(f.flags.Load())&unix.O_ACCMODE != unix.O_WRONLY }
func (f *regFile) writable() bool    { return int(f.flags.Load())&unix.O_ACCMODE != unix.O_RDONLY }

// SetStatusFlags implements vfs.StatusFlagsSetter: F_SETFL may turn
// O_APPEND and O_NOATIME on or off, and the file acts on them itself.
func (f *regFile) SetStatusFlags(flags int) {
	const settable = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME
	for {
		old := f.flags.Load()
		n := old&^settable | int32(flags&settable)
		if f.flags.CompareAndSwap(old, n) {
			return
		}
	}
}

// Read implements vfs.File.
func (f *regFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, err := f.pread(p, f.off)
	f.off += int64(n)
	return n, err
}

// Pread implements vfs.File.
func (f *regFile) Pread(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	return f.pread(p, off)
}

func (f *regFile) pread(p []byte, off int64) (int, error) {
	if !f.readable() {
		return 0, unix.EBADF
	}
	i := f.inode
	i.mu.RLock()
	n := i.data.read(p, off)
	i.mu.RUnlock()
	if !f.flag(unix.O_NOATIME) {
		i.touchAtime()
	}
	return n, nil
}

// Write implements vfs.File.
func (f *regFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, end, err := f.pwrite(p, f.off)
	if n > 0 {
		f.off = end
	}
	return n, err
}

// Pwrite implements vfs.File. With O_APPEND it appends whatever the
// offset, as Linux's pwrite does.
func (f *regFile) Pwrite(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, unix.EINVAL
	}
	n, _, err := f.pwrite(p, off)
	return n, err
}

// pwrite writes at off (at the end of the file with O_APPEND) and returns
// where the write ended.
func (f *regFile) pwrite(p []byte, off int64) (int, int64, error) {
	if !f.writable() {
		return 0, off, unix.EBADF
	}
	i := f.inode
	i.mu.Lock()
	if f.flag(unix.O_APPEND) {
		off = i.data.size
	}
	if len(p) == 0 {
		i.mu.Unlock()
		return 0, off, nil
	}
	allowed, err := i.checkWriteLocked(off, len(p))
	if err != nil {
		i.mu.Unlock()
		return 0, off, err
	}
	n, err := i.data.write(i.fs, p[:allowed], off)
	if n > 0 {
		t := now()
		i.mtime, i.ctime = t, t
	}
	i.mu.Unlock()
	return n, off + int64(n), err
}

// Seek implements vfs.File, with SEEK_DATA and SEEK_HOLE.
func (f *regFile) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.inode
	var n int64
	switch whence {
	case unix.SEEK_SET:
		n = off
	case unix.SEEK_CUR:
		n = f.off + off
		if off > 0 && n < f.off {
			return 0, unix.EOVERFLOW
		}
	case unix.SEEK_END:
		i.mu.RLock()
		n = i.data.size + off
		i.mu.RUnlock()
	case unix.SEEK_DATA, unix.SEEK_HOLE:
		i.mu.RLock()
		var err error
		if whence == unix.SEEK_DATA {
			n, err = i.data.seekData(off)
		} else {
			n, err = i.data.seekHole(off)
		}
		i.mu.RUnlock()
		if err != nil {
			return 0, err
		}
	default:
		return 0, unix.EINVAL
	}
	if n < 0 {
		return 0, unix.EINVAL
	}
	f.off = n
	return n, nil
}

// Stat implements vfs.File.
func (f *regFile) Stat() (unix.Stat_t, error) { return f.inode.Stat() }

// Statx implements vfs.Statxer.
func (f *regFile) Statx(mask uint32) (unix.Statx_t, error) { return f.inode.Statx(mask) }

// Getdents implements vfs.File.
func (f *regFile) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// Ioctl implements vfs.File: FIONREAD answers how much is left to read
// from the offset, as Linux does for regular files.
func (f *regFile) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	if req != fionread {
		return 0, unix.ENOTTY
	}
	f.mu.Lock()
	off := f.off
	f.mu.Unlock()
	f.inode.mu.RLock()
	left := max(f.inode.data.size-off, 0)
	f.inode.mu.RUnlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(min(left, 1<<31-1)))
	if _, err := mem.CopyOut(arg, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Close implements vfs.File.
func (f *regFile) Close() error {
	f.mu.Lock()
	done := f.closed
	f.closed = true
	f.mu.Unlock()
	if !done {
		f.inode.closed()
	}
	return nil
}

// Truncate implements vfs.Truncater: ftruncate, on a file open for
// writing (EINVAL otherwise, as Linux answers).
func (f *regFile) Truncate(size int64) error {
	if !f.writable() || size < 0 {
		return unix.EINVAL
	}
	return f.inode.Setattr(vfs.Attr{Mask: vfs.AttrSize, Size: size})
}

// Allocate implements vfs.Allocator: fallocate(2) on the open file, which
// must be open for writing.
func (f *regFile) Allocate(mode uint32, off, length int64) error {
	if !f.writable() {
		return unix.EBADF
	}
	if f.flag(unix.O_APPEND) && mode&unix.FALLOC_FL_PUNCH_HOLE != 0 {
		// Linux keeps append-only semantics: nothing may be removed.
		return unix.EPERM
	}
	return f.inode.Fallocate(mode, off, length)
}

// Inode is the file's inode, for the VFS (mmap, fstatfs, fchmod...).
func (f *regFile) Inode() *Inode { return f.inode }

// dirFile is an open directory; its offset is the cookie of the last
// entry returned (see dirData).
type dirFile struct {
	inode   *Inode
	noatime bool

	mu  sync.Mutex
	pos uint64
}

// Read implements vfs.File.
func (*dirFile) Read([]byte) (int, error) { return 0, unix.EISDIR }

// Pread implements vfs.File.
func (*dirFile) Pread([]byte, int64) (int, error) { return 0, unix.EISDIR }

// Write implements vfs.File: a directory is never open for writing.
func (*dirFile) Write([]byte) (int, error) { return 0, unix.EBADF }

// Pwrite implements vfs.File.
func (*dirFile) Pwrite([]byte, int64) (int, error) { return 0, unix.EBADF }

// Stat implements vfs.File.
func (d *dirFile) Stat() (unix.Stat_t, error) { return d.inode.Stat() }

// Statx implements vfs.Statxer.
func (d *dirFile) Statx(mask uint32) (unix.Statx_t, error) { return d.inode.Statx(mask) }

// Ioctl implements vfs.File.
func (*dirFile) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }

// Close implements vfs.File.
func (*dirFile) Close() error { return nil }

// Inode is the directory's inode.
func (d *dirFile) Inode() *Inode { return d.inode }

// Seek implements vfs.File: SEEK_SET to a cookie telldir returned (or 0 to
// rewind), SEEK_CUR to learn the position.
func (d *dirFile) Seek(off int64, whence int) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off += int64(d.pos)
	default:
		return 0, unix.EINVAL
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	d.pos = uint64(off)
	return off, nil
}

// Getdents implements vfs.File with linux_dirent64 records, "." and ".."
// first. EINVAL if not even one record fits; ENOENT once the directory has
// been removed, as Linux answers.
func (d *dirFile) Getdents(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := d.inode
	i.mu.RLock()
	if i.dir.removed {
		i.mu.RUnlock()
		return 0, unix.ENOENT
	}
	n := 0
	tooSmall := false
	put := func(ino, cookie uint64, typ uint8, name string) bool {
		w := putDirent(p[n:], ino, cookie, typ, name)
		if w == 0 {
			tooSmall = n == 0
			return false
		}
		n += w
		d.pos = cookie
		return true
	}
	full := false
	if d.pos < cookieDot {
		full = !put(i.ino, cookieDot, unix.DT_DIR, ".")
	}
	if !full && d.pos < cookieDotDot {
		parent := i.parent.Load()
		if parent == nil {
			parent = i
		}
		full = !put(parent.ino, cookieDotDot, unix.DT_DIR, "..")
	}
	if !full {
		for k := i.dir.after(d.pos); k < len(i.dir.order); k++ {
			e := i.dir.order[k]
			if e.removed {
				continue
			}
			if !put(e.inode.ino, e.cookie, direntType(e.inode.kind), e.name) {
				break
			}
		}
	}
	i.mu.RUnlock()
	if tooSmall {
		return 0, unix.EINVAL
	}
	if !d.noatime {
		i.touchAtime()
	}
	return n, nil
}

// pathFile is an O_PATH descriptor: it can be stat'ed and closed, and the
// VFS can use it as a directory for *at calls, but not read or written.
type pathFile struct {
	inode  *Inode
	mu     sync.Mutex
	closed bool
}

// Read implements vfs.File.
func (*pathFile) Read([]byte) (int, error) { return 0, unix.EBADF }

// Write implements vfs.File.
func (*pathFile) Write([]byte) (int, error) { return 0, unix.EBADF }

// Pread implements vfs.File.
func (*pathFile) Pread([]byte, int64) (int, error) { return 0, unix.EBADF }

// Pwrite implements vfs.File.
func (*pathFile) Pwrite([]byte, int64) (int, error) { return 0, unix.EBADF }

// Seek implements vfs.File.
func (*pathFile) Seek(int64, int) (int64, error) { return 0, unix.EBADF }

// Getdents implements vfs.File.
func (*pathFile) Getdents([]byte) (int, error) { return 0, unix.EBADF }

// Ioctl implements vfs.File.
func (*pathFile) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.EBADF }

// Stat implements vfs.File.
func (f *pathFile) Stat() (unix.Stat_t, error) { return f.inode.Stat() }

// Statx implements vfs.Statxer.
func (f *pathFile) Statx(mask uint32) (unix.Statx_t, error) { return f.inode.Statx(mask) }

// Inode is the inode the descriptor names.
func (f *pathFile) Inode() *Inode { return f.inode }

// Close implements vfs.File.
func (f *pathFile) Close() error {
	f.mu.Lock()
	done := f.closed
	f.closed = true
	f.mu.Unlock()
	if !done {
		f.inode.closed()
	}
	return nil
}

// direntType is the d_type of a file of type kind (S_IFMT bits): Linux
// defines the DT_* values as the type bits shifted down.
func direntType(kind uint32) uint8 { return uint8(kind >> 12) }

func direntSize(nameLen int) int { return (19 + nameLen + 1 + 7) &^ 7 }

// putDirent writes one linux_dirent64 record at the start of p and
// returns its length, or 0 if it does not fit.
func putDirent(p []byte, ino, off uint64, typ uint8, name string) int {
	return vfs.PutDirent(p, vfs.Dirent{Ino: ino, Type: typ, Name: name}, int64(off))
}
