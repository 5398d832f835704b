// Package devfs is the library OS's /dev: the memory character devices
// (null, zero, full, random, urandom) served entirely inside the sandbox,
// so no host device node is ever opened for them.
package devfs

import (
	"crypto/rand"
	"encoding/binary"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

type device struct {
	minor uint32
	read  func(p []byte) (int, error)
	write func(p []byte) (int, error)
}

func readZero(p []byte) (int, error) { clear(p); return len(p), nil }
func readRandom(p []byte) (int, error) {
	rand.Read(p)
	return len(p), nil
}
func discard(p []byte) (int, error) { return len(p), nil }

// devices are the nodes of /dev with their Linux numbers (major 1).
var devices = map[string]device{
	"null":    {3, func([]byte) (int, error) { return 0, nil }, discard},
	"zero":    {5, readZero, discard},
	"full":    {7, readZero, func([]byte) (int, error) { return 0, unix.ENOSPC }},
	"random":  {8, readRandom, discard},
	"urandom": {9, readRandom, discard},
}

const memMajor = 1

// FS is a devfs instance.
type FS struct {
	created time.Time
}

// New returns a devfs.
func New() *FS { return &FS{created: time.Now()} }

// Name implements vfs.FileSystem.
func (*FS) Name() string { return "devtmpfs" }

func (fs *FS) lookup(rel string) (string, error) {
	switch rel {
	case "", ".":
		return "", nil
	}
	first, rest, _ := strings.Cut(rel, "/")
	if _, ok := devices[first]; !ok {
		return "", unix.ENOENT
	}
	if rest != "" {
		return "", unix.ENOTDIR
	}
	return first, nil
}

// Open implements vfs.FileSystem.
func (fs *FS) Open(rel string, flags int, mode uint32) (vfs.File, error) {
	name, err := fs.lookup(rel)
	if err != nil {
		if flags&unix.O_CREAT != 0 {
			return nil, unix.EACCES
		}
		return nil, err
	}
	if name == "" {
		if flags&unix.O_ACCMODE != unix.O_RDONLY {
			return nil, unix.EISDIR
		}
		return &dir{fs: fs}, nil
	}
	if flags&unix.O_DIRECTORY != 0 {
		return nil, unix.ENOTDIR
	}
	return &file{fs: fs, name: name, dev: devices[name]}, nil
}

// Stat implements vfs.FileSystem.
func (fs *FS) Stat(rel string, follow bool) (unix.Stat_t, error) {
	name, err := fs.lookup(rel)
	if err != nil {
		return unix.Stat_t{}, err
	}
	return fs.stat(name), nil
}

func (fs *FS) stat(name string) unix.Stat_t {
	ts := unix.NsecToTimespec(fs.created.UnixNano())
	st := unix.Stat_t{Dev: unix.Mkdev(0, 5), Blksize: 4096, Atim: ts, Mtim: ts, Ctim: ts}
	if name == "" {
		st.Ino, st.Mode, st.Nlink = 1, unix.S_IFDIR|0o755, 2
		return st
	}
	d := devices[name]
	st.Ino, st.Mode, st.Nlink = uint64(d.minor)+1, unix.S_IFCHR|0o666, 1
	st.Rdev = unix.Mkdev(memMajor, d.minor)
	return st
}

// Readlink implements vfs.FileSystem.
func (fs *FS) Readlink(rel string) (string, error) {
	if _, err := fs.lookup(rel); err != nil {
		return "", err
	}
	return "", unix.EINVAL
}

type file struct {
	fs   *FS
	name string
	dev  device
}

func (f *file) Read(p []byte) (int, error)                       { return f.dev.read(p) }
func (f *file) Write(p []byte) (int, error)                      { return f.dev.write(p) }
func (f *file) Pread(p []byte, _ int64) (int, error)             { return f.dev.read(p) }
func (f *file) Pwrite(p []byte, _ int64) (int, error)            { return f.dev.write(p) }
func (f *file) Seek(int64, int) (int64, error)                   { return 0, nil }
func (f *file) Stat() (unix.Stat_t, error)                       { return f.fs.stat(f.name), nil }
func (f *file) Getdents([]byte) (int, error)                     { return 0, unix.ENOTDIR }
func (f *file) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }
func (f *file) Close() error                                     { return nil }

// dir is an open /dev; its offset counts entries already returned.
type dir struct {
	fs  *FS
	mu  sync.Mutex
	off int
}

func (d *dir) Read([]byte) (int, error)                         { return 0, unix.EISDIR }
func (d *dir) Write([]byte) (int, error)                        { return 0, unix.EBADF }
func (d *dir) Pread([]byte, int64) (int, error)                 { return 0, unix.EISDIR }
func (d *dir) Pwrite([]byte, int64) (int, error)                { return 0, unix.EBADF }
func (d *dir) Stat() (unix.Stat_t, error)                       { return d.fs.stat(""), nil }
func (d *dir) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }
func (d *dir) Close() error                                     { return nil }

func (d *dir) Seek(off int64, whence int) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if whence != unix.SEEK_SET || off < 0 {
		return 0, unix.EINVAL
	}
	d.off = int(off)
	return off, nil
}

type entry struct {
	name string
	ino  uint64
	typ  uint8
}

func entries() []entry {
	es := []entry{{".", 1, unix.DT_DIR}, {"..", 1, unix.DT_DIR}}
	names := make([]string, 0, len(devices))
	for n := range devices {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		es = append(es, entry{n, uint64(devices[n].minor) + 1, unix.DT_CHR})
	}
	return es
}

// Getdents implements vfs.File with linux_dirent64 records.
func (d *dir) Getdents(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	es := entries()
	n := 0
	for d.off < len(es) {
		e := es[d.off]
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
