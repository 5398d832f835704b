package proc

import (
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// seqFile is an open generated file: the content made at open, read at an
// offset of its own. Like Linux's seq_file it seeks with SEEK_SET and
// SEEK_CUR only.
type seqFile struct {
	st    unix.Stat_t
	acc   int // O_RDONLY, O_WRONLY or O_RDWR
	write func([]byte) error

	mu   sync.Mutex
	data []byte
	off  int64
}

var _ vfs.File = (*seqFile)(nil)

func (f *seqFile) Read(p []byte) (int, error) {
	if f.acc == unix.O_WRONLY {
		return 0, unix.EBADF
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.readAt(p, f.off)
	f.off += int64(n)
	return n, nil
}

func (f *seqFile) readAt(p []byte, off int64) int {
	if off >= int64(len(f.data)) {
		return 0
	}
	return copy(p, f.data[off:])
}

func (f *seqFile) Pread(p []byte, off int64) (int, error) {
	if f.acc == unix.O_WRONLY {
		return 0, unix.EBADF
	}
	if off < 0 {
		return 0, unix.EINVAL
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readAt(p, off), nil
}

// Write hands the whole buffer to the file's writer, as Linux's proc
// files take a write in one piece.
func (f *seqFile) Write(p []byte) (int, error) {
	if f.acc == unix.O_RDONLY {
		return 0, unix.EBADF
	}
	if err := f.write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Pwrite writes only at offset 0 (a proc file holds one value).
func (f *seqFile) Pwrite(p []byte, off int64) (int, error) {
	if f.acc == unix.O_RDONLY {
		return 0, unix.EBADF
	}
	if off != 0 {
		return 0, unix.EINVAL
	}
	return f.Write(p)
}

func (f *seqFile) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	off, err := vfs.SeekTarget(f.off, off, whence)
	if err != nil {
		return 0, err
	}
	f.off = off
	return off, nil
}

func (f *seqFile) Stat() (unix.Stat_t, error)                       { return f.st, nil }
func (f *seqFile) Getdents([]byte) (int, error)                     { return 0, unix.ENOTDIR }
func (f *seqFile) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }
func (f *seqFile) Close() error                                     { return nil }

// Statfs implements vfs.StatFSer for fstatfs.
func (f *seqFile) Statfs(string) (unix.Statfs_t, error) { return statfs(), nil }

// pathFile is an O_PATH file: it can be stat'ed and nothing else.
type pathFile struct{ st unix.Stat_t }

func (f *pathFile) Read([]byte) (int, error)                         { return 0, unix.EBADF }
func (f *pathFile) Write([]byte) (int, error)                        { return 0, unix.EBADF }
func (f *pathFile) Pread([]byte, int64) (int, error)                 { return 0, unix.EBADF }
func (f *pathFile) Pwrite([]byte, int64) (int, error)                { return 0, unix.EBADF }
func (f *pathFile) Seek(int64, int) (int64, error)                   { return 0, unix.EBADF }
func (f *pathFile) Stat() (unix.Stat_t, error)                       { return f.st, nil }
func (f *pathFile) Getdents([]byte) (int, error)                     { return 0, unix.EBADF }
func (f *pathFile) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.EBADF }
func (f *pathFile) Close() error                                     { return nil }

// Statfs implements vfs.StatFSer for fstatfs.
func (f *pathFile) Statfs(string) (unix.Statfs_t, error) { return statfs(), nil }

// dirFile is an open directory. Its entries are listed at open and again
// when it is rewound to 0, so an offset always names the same entry
// between rewinds; the offset is the index of the next entry.
type dirFile struct {
	n  *inode
	st unix.Stat_t

	mu      sync.Mutex
	entries []dirEntry
	off     int64
}

type dirEntry struct {
	name string
	ino  uint64
	typ  uint8
}

// fill lists the directory: ".", "..", then its entries.
func (d *dirFile) fill() error {
	es, err := d.n.dir.list()
	if err != nil {
		return err
	}
	out := make([]dirEntry, 0, len(es)+2)
	out = append(out,
		dirEntry{".", ino(d.n.path), unix.DT_DIR},
		dirEntry{"..", ino(parent(d.n.path)), unix.DT_DIR})
	for _, e := range es {
		out = append(out, dirEntry{e.name, ino(join(d.n.path, e.name)), e.typ})
	}
	d.entries = out
	return nil
}

// join is path.Join for a directory path within /proc and a name.
func join(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// Getdents implements vfs.File with linux_dirent64 records.
func (d *dirFile) Getdents(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for d.off < int64(len(d.entries)) {
		e := d.entries[d.off]
		reclen := (19 + len(e.name) + 1 + 7) &^ 7
		if n+reclen > len(p) {
			if n == 0 {
				return 0, unix.EINVAL
			}
			break
		}
		rec := p[n : n+reclen]
		clear(rec)
		binary.LittleEndian.PutUint64(rec[0:], e.ino)
		binary.LittleEndian.PutUint64(rec[8:], uint64(d.off+1))
		binary.LittleEndian.PutUint16(rec[16:], uint16(reclen))
		rec[18] = e.typ
		copy(rec[19:], e.name)
		n += reclen
		d.off++
	}
	return n, nil
}

// Seek sets the entry index; rewinding to 0 lists the directory afresh.
func (d *dirFile) Seek(off int64, whence int) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	off, err := vfs.SeekTarget(d.off, off, whence)
	if err != nil {
		return 0, err
	}
	if off == 0 {
		if err := d.fill(); err != nil {
			return 0, err
		}
	}
	d.off = off
	return off, nil
}

func (d *dirFile) Read([]byte) (int, error)                         { return 0, unix.EISDIR }
func (d *dirFile) Pread([]byte, int64) (int, error)                 { return 0, unix.EISDIR }
func (d *dirFile) Write([]byte) (int, error)                        { return 0, unix.EBADF }
func (d *dirFile) Pwrite([]byte, int64) (int, error)                { return 0, unix.EBADF }
func (d *dirFile) Stat() (unix.Stat_t, error)                       { return d.st, nil }
func (d *dirFile) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }
func (d *dirFile) Close() error                                     { return nil }

// Statfs implements vfs.StatFSer for fstatfs.
func (d *dirFile) Statfs(string) (unix.Statfs_t, error) { return statfs(), nil }
