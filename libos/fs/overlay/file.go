package overlay

import (
	"encoding/binary"
	"errors"
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// file is an open non-directory: the layer's own file, with Stat answered
// by the overlay so st_dev and st_ino are the overlay's.
type file struct {
	x *Inode

	// mu guards f and flags: operations share it, the move to the upper
	// copy and F_SETFL take it alone.
	mu    sync.RWMutex
	flags int
	f     vfs.File
	// onUpper is false only for a lower regular file, which moves to the
	// upper copy once there is one.
	onUpper bool
}

// get returns the file to use, read-locked; the caller unlocks f.mu.
func (f *file) get() vfs.File {
	f.mu.RLock()
	if f.onUpper || f.x.upper.Load() == nil {
		return f.f
	}
	f.mu.RUnlock()
	f.mu.Lock()
	if !f.onUpper {
		f.moveUp()
	}
	f.mu.Unlock()
	f.mu.RLock()
	return f.f
}

// moveUp reopens the file on the upper copy at the same offset. If that
// fails the file stays on the lower one, which still reads the old data.
func (f *file) moveUp() {
	nf, err := f.x.upper.Load().Open(f.flags &^ (unix.O_TRUNC | unix.O_CREAT | unix.O_EXCL))
	if err != nil {
		return
	}
	if off, err := f.f.Seek(0, unix.SEEK_CUR); err == nil {
		_, _ = nf.Seek(off, unix.SEEK_SET)
	}
	f.f.Close()
	f.f, f.onUpper = nf, true
}

// Read implements vfs.File.
func (f *file) Read(p []byte) (int, error) {
	defer f.mu.RUnlock()
	return f.get().Read(p)
}

// Write implements vfs.File.
func (f *file) Write(p []byte) (int, error) {
	defer f.mu.RUnlock()
	return f.get().Write(p)
}

// Pread implements vfs.File.
func (f *file) Pread(p []byte, off int64) (int, error) {
	defer f.mu.RUnlock()
	return f.get().Pread(p, off)
}

// Pwrite implements vfs.File.
func (f *file) Pwrite(p []byte, off int64) (int, error) {
	defer f.mu.RUnlock()
	return f.get().Pwrite(p, off)
}

// Seek implements vfs.File.
func (f *file) Seek(off int64, whence int) (int64, error) {
	defer f.mu.RUnlock()
	return f.get().Seek(off, whence)
}

// Stat implements vfs.File.
func (f *file) Stat() (unix.Stat_t, error) { return f.x.Stat() }

// Statx implements vfs.Statxer.
func (f *file) Statx(mask uint32) (unix.Statx_t, error) { return f.x.Statx(mask) }

// Getdents implements vfs.File.
func (f *file) Getdents(p []byte) (int, error) {
	defer f.mu.RUnlock()
	return f.get().Getdents(p)
}

// Ioctl implements vfs.File.
func (f *file) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	defer f.mu.RUnlock()
	return f.get().Ioctl(req, arg, mem)
}

// Close implements vfs.File.
func (f *file) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.f.Close()
}

// Unwrap implements vfs.Unwrapper: the layer's file.
func (f *file) Unwrap() vfs.File {
	defer f.mu.RUnlock()
	return f.get()
}

// SetStatusFlags implements vfs.StatusFlagsSetter, passing F_SETFL's
// flags on to the layer's file (and to its upper copy, if it moves).
func (f *file) SetStatusFlags(flags int) {
	const settable = unix.O_APPEND | unix.O_NONBLOCK | unix.O_ASYNC | unix.O_DIRECT | unix.O_NOATIME
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flags = f.flags&^settable | flags&settable
	if s, ok := f.f.(interface{ SetStatusFlags(int) }); ok {
		s.SetStatusFlags(f.flags)
	}
}

// Inode is the overlay inode the file was opened on.
func (f *file) Inode() *Inode { return f.x }

// dirent is one entry of a merged listing.
type dirent struct {
	name string
	ino  uint64
	typ  uint8
}

// entriesLocked lists what directory x shows: its upper entries but
// whiteouts, then the lower entries they do not hide. The caller holds
// x.dirMu.
func (x *Inode) entriesLocked() ([]dirent, error) {
	var es []dirent
	var hidden map[string]bool
	u := x.upper.Load()
	if u != nil {
		ues := u.Entries()
		if x.lower != nil {
			hidden = make(map[string]bool, len(ues))
		}
		for _, e := range ues {
			if hidden != nil {
				hidden[e.Name] = true
			}
			if e.Inode.IsWhiteout() {
				continue
			}
			es = append(es, dirent{e.Name, upperIno(e.Inode), uint8(e.Inode.Type() >> 12)})
		}
	}
	if x.lower != nil {
		les, err := readDir(x.lower)
		if err != nil {
			return nil, err
		}
		for _, e := range les {
			if e.name == "." || e.name == ".." || hidden[e.name] {
				continue
			}
			es = append(es, e)
		}
	}
	return es, nil
}

// readDir lists a lower directory through its getdents.
func readDir(d vfs.Inode) ([]dirent, error) {
	f, err := d.Open(unix.O_RDONLY | unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var es []dirent
	buf := make([]byte, 32<<10)
	for {
		n, err := f.Getdents(buf)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return nil, err
		}
		if n == 0 {
			return es, nil
		}
		for p := buf[:n]; len(p) >= 19; {
			reclen := int(binary.LittleEndian.Uint16(p[16:]))
			if reclen < 19 || reclen > len(p) {
				return nil, unix.EIO
			}
			name := p[19:reclen]
			for k, c := range name {
				if c == 0 {
					name = name[:k]
					break
				}
			}
			es = append(es, dirent{string(name), binary.LittleEndian.Uint64(p), p[18]})
			p = p[reclen:]
		}
	}
}

// dirFile is an open overlay directory. As Linux's overlay does for merged
// directories, it reads the whole listing at the first getdents (and again
// after a rewind to 0) and serves records from that copy; offsets are
// positions in it.
type dirFile struct {
	x *Inode

	mu   sync.Mutex
	ents []dirent // nil until read
	pos  int64
}

// Read implements vfs.File.
func (*dirFile) Read([]byte) (int, error) { return 0, unix.EISDIR }

// Pread implements vfs.File.
func (*dirFile) Pread([]byte, int64) (int, error) { return 0, unix.EISDIR }

// Write implements vfs.File.
func (*dirFile) Write([]byte) (int, error) { return 0, unix.EBADF }

// Pwrite implements vfs.File.
func (*dirFile) Pwrite([]byte, int64) (int, error) { return 0, unix.EBADF }

// Stat implements vfs.File.
func (d *dirFile) Stat() (unix.Stat_t, error) { return d.x.Stat() }

// Statx implements vfs.Statxer.
func (d *dirFile) Statx(mask uint32) (unix.Statx_t, error) { return d.x.Statx(mask) }

// Ioctl implements vfs.File.
func (*dirFile) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }

// Close implements vfs.File.
func (*dirFile) Close() error { return nil }

// Inode is the overlay inode the directory was opened on.
func (d *dirFile) Inode() *Inode { return d.x }

// Seek implements vfs.File: SEEK_SET (0 rewinds and rereads the
// directory) and SEEK_CUR.
func (d *dirFile) Seek(off int64, whence int) (int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	off, err := vfs.SeekTarget(d.pos, off, whence)
	if err != nil {
		return 0, err
	}
	if off == 0 {
		d.ents = nil
	}
	d.pos = off
	return off, nil
}

// Getdents implements vfs.File.
func (d *dirFile) Getdents(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ents == nil {
		x := d.x
		x.dirMu.RLock()
		if x.isRemoved() {
			x.dirMu.RUnlock()
			return 0, unix.ENOENT
		}
		es, err := x.entriesLocked()
		x.dirMu.RUnlock()
		if err != nil {
			return 0, err
		}
		parent, _ := x.parentName()
		if parent == nil {
			parent = x
		}
		d.ents = append([]dirent{{".", x.ino(), unix.DT_DIR}, {"..", parent.ino(), unix.DT_DIR}}, es...)
	}
	n := 0
	for d.pos < int64(len(d.ents)) {
		e := d.ents[d.pos]
		w := putDirent(p[n:], e.ino, uint64(d.pos+1), e.typ, e.name)
		if w == 0 {
			if n == 0 {
				return 0, unix.EINVAL
			}
			break
		}
		n += w
		d.pos++
	}
	return n, nil
}

// putDirent writes one linux_dirent64 record at the start of p and
// returns its length, or 0 if it does not fit.
func putDirent(p []byte, ino, off uint64, typ uint8, name string) int {
	return vfs.PutDirent(p, vfs.Dirent{Ino: ino, Type: typ, Name: name}, int64(off))
}
