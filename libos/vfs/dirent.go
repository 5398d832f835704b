package vfs

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"
)

// Dirent is one entry of a directory listing.
type Dirent struct {
	Name string
	Ino  uint64
	// Type is the DT_* type of the entry (unix.DT_REG, ...).
	Type uint8
}

// DirentType is the DT_* value for a file mode.
func DirentType(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return unix.DT_REG
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFLNK:
		return unix.DT_LNK
	case unix.S_IFCHR:
		return unix.DT_CHR
	case unix.S_IFBLK:
		return unix.DT_BLK
	case unix.S_IFIFO:
		return unix.DT_FIFO
	case unix.S_IFSOCK:
		return unix.DT_SOCK
	}
	return unix.DT_UNKNOWN
}

// direntSize is the length of a linux_dirent64 record for name: the
// 19-byte header, the name and its NUL, rounded up to 8 bytes.
func direntSize(name string) int { return (19 + len(name) + 1 + 7) &^ 7 }

// PutDirent writes e as a linux_dirent64 record into p, with off as the
// d_off cookie (where the next getdents continues after lseek to it). It
// returns the record's length, or 0 if p is too short.
func PutDirent(p []byte, e Dirent, off int64) int {
	n := direntSize(e.Name)
	if n > len(p) {
		return 0
	}
	rec := p[:n]
	clear(rec)
	binary.LittleEndian.PutUint64(rec[0:], e.Ino)
	binary.LittleEndian.PutUint64(rec[8:], uint64(off))
	binary.LittleEndian.PutUint16(rec[16:], uint16(n))
	rec[18] = e.Type
	copy(rec[19:], e.Name)
	return n
}

// DirFile is an open directory of a file system that makes up its
// listing (devfs, proc, tmpfs): getdents64 returns ".", ".." and the
// entries list gives, and the offset counts entries. The listing is taken
// when reading starts at offset 0, so a reader that goes on from where it
// stopped sees one consistent list; lseek(fd, 0, SEEK_SET) takes a new
// one.
type DirFile struct {
	dir  Inode
	list func() ([]Dirent, error)

	mu      sync.Mutex
	off     int64
	entries []Dirent
}

// NewDirFile opens the directory dir whose entries list returns (without
// "." and "..").
func NewDirFile(dir Inode, list func() ([]Dirent, error)) *DirFile {
	return &DirFile{dir: dir, list: list}
}

// Read implements File.
func (f *DirFile) Read([]byte) (int, error) { return 0, unix.EISDIR }

// Write implements File.
func (f *DirFile) Write([]byte) (int, error) { return 0, unix.EBADF }

// Pread implements File.
func (f *DirFile) Pread([]byte, int64) (int, error) { return 0, unix.EISDIR }

// Pwrite implements File.
func (f *DirFile) Pwrite([]byte, int64) (int, error) { return 0, unix.EBADF }

// Stat implements File.
func (f *DirFile) Stat() (unix.Stat_t, error) { return f.dir.Stat() }

// Ioctl implements File.
func (f *DirFile) Ioctl(uint64, uint64, Memory) (uint64, error) { return 0, unix.ENOTTY }

// Close implements File.
func (f *DirFile) Close() error { return nil }

// Statfs lets fstatfs describe the directory's file system.
func (f *DirFile) Statfs(string) (unix.Statfs_t, error) { return f.dir.Statfs() }

// Seek implements File: offsets are entry indexes.
func (f *DirFile) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	off, err := SeekTarget(f.off, off, whence)
	if err != nil {
		return 0, err
	}
	f.off = off
	if off == 0 {
		f.entries = nil
	}
	return off, nil
}

// Getdents implements File.
func (f *DirFile) Getdents(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.entries == nil || f.off == 0 {
		st, err := f.dir.Stat()
		if err != nil {
			return 0, err
		}
		list, err := f.list()
		if err != nil {
			return 0, err
		}
		f.entries = append([]Dirent{{".", st.Ino, unix.DT_DIR}, {"..", st.Ino, unix.DT_DIR}}, list...)
	}
	n := 0
	for f.off < int64(len(f.entries)) {
		w := PutDirent(p[n:], f.entries[f.off], f.off+1)
		if w == 0 {
			if n == 0 {
				return 0, unix.EINVAL
			}
			break
		}
		n += w
		f.off++
	}
	return n, nil
}

// SeekTarget is the new offset of an lseek on a file that supports only
// SEEK_SET and SEEK_CUR (directories, generated files): EINVAL for other
// whences and for negative results.
func SeekTarget(cur, off int64, whence int) (int64, error) {
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off += cur
	default:
		return 0, unix.EINVAL
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	return off, nil
}
