package syscalls

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

func init() {
	register(SysMmap, sysMmap)
	register(SysMunmap, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, t.MM.Unmap(a[0], a[1]) })
	register(SysMprotect, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		prot, err := protArg(a[2] &^ (unix.PROT_GROWSDOWN | unix.PROT_GROWSUP))
		if err != nil {
			return 0, err
		}
		return 0, t.MM.Protect(a[0], a[1], prot)
	})
	register(SysBrk, func(t *kernel.Task, a [6]uint64) (uint64, error) { return t.MM.Brk(a[0]), nil })
	register(SysMremap, sysMremap)
	register(SysMadvise, sysMadvise)
	register(SysMincore, sysMincore)
	register(SysMsync, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		const known = unix.MS_ASYNC | unix.MS_INVALIDATE | unix.MS_SYNC
		flags := intArg(a[2])
		if a[0]%4096 != 0 || flags&^known != 0 || flags&(unix.MS_ASYNC|unix.MS_SYNC) == unix.MS_ASYNC|unix.MS_SYNC {
			return 0, unix.EINVAL
		}
		length, _ := roundPage(a[1])
		if !t.MM.Mapped(a[0], length) {
			return 0, unix.ENOMEM
		}
		// Private and anonymous memory has nothing to write back; shared
		// file mappings are refused at mmap time.
		return 0, nil
	})
	// Locking: the memory capability's frames are never swapped, so every
	// page is locked already; the calls only validate their arguments.
	register(SysMlock, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, mlock(t, a[0], a[1]) })
	register(SysMlock2, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if a[2]&^uint64(unix.MLOCK_ONFAULT) != 0 {
			return 0, unix.EINVAL
		}
		return 0, mlock(t, a[0], a[1])
	})
	register(SysMunlock, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, mlock(t, a[0], a[1]) })
	register(SysMlockall, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if a[0] == 0 || a[0]&^uint64(unix.MCL_CURRENT|unix.MCL_FUTURE|unix.MCL_ONFAULT) != 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	})
	register(SysMunlockall, func(*kernel.Task, [6]uint64) (uint64, error) { return 0, nil })
}

func roundPage(n uint64) (uint64, bool) {
	r := (n + 4095) &^ 4095
	return r, r >= n
}

func mlock(t *kernel.Task, addr, length uint64) error {
	start := addr &^ 4095
	end, ok := roundPage(addr + length)
	if !ok || addr+length < addr {
		return unix.EINVAL
	}
	if !t.MM.Mapped(start, end-start) {
		return unix.ENOMEM
	}
	return nil
}

func sysMincore(t *kernel.Task, a [6]uint64) (uint64, error) {
	if a[0]%4096 != 0 {
		return 0, unix.EINVAL
	}
	length, ok := roundPage(a[1])
	if !ok || a[0]+length < a[0] {
		return 0, unix.ENOMEM
	}
	if !t.MM.Mapped(a[0], length) {
		return 0, unix.ENOMEM
	}
	vec := make([]byte, length/4096)
	t.MM.Resident(a[0], vec)
	if _, err := t.MM.CopyOut(a[2], vec); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

func protArg(v uint64) (mm.Prot, error) {
	if v&^uint64(unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC) != 0 {
		return 0, unix.EINVAL
	}
	return mm.Prot(v), nil
}

// mapKnownFlags are the mmap flags Linux accepts with MAP_SHARED_VALIDATE.
const mapKnownFlags = unix.MAP_TYPE | unix.MAP_FIXED | unix.MAP_ANONYMOUS | unix.MAP_32BIT | unix.MAP_GROWSDOWN |
	unix.MAP_DENYWRITE | unix.MAP_EXECUTABLE | unix.MAP_LOCKED | unix.MAP_NORESERVE | unix.MAP_POPULATE |
	unix.MAP_NONBLOCK | unix.MAP_STACK | unix.MAP_HUGETLB | unix.MAP_SYNC | unix.MAP_FIXED_NOREPLACE

func sysMmap(t *kernel.Task, a [6]uint64) (uint64, error) {
	addr, length, flags, fd, off := a[0], a[1], int(a[3]), fdArg(a[4]), a[5]
	prot, err := protArg(a[2])
	if err != nil {
		return 0, err
	}
	if off%4096 != 0 {
		return 0, unix.EINVAL
	}
	o := mm.MapOpts{
		Addr:      addr,
		Length:    length,
		Prot:      prot,
		Fixed:     flags&unix.MAP_FIXED != 0,
		NoReplace: flags&unix.MAP_FIXED_NOREPLACE != 0 && flags&unix.MAP_FIXED == 0,
	}
	anon := flags&unix.MAP_ANONYMOUS != 0
	switch flags & unix.MAP_TYPE {
	case unix.MAP_PRIVATE:
	case unix.MAP_SHARED:
		o.Shared = true
	case unix.MAP_SHARED_VALIDATE:
		// Linux validates the flags only for files; for anonymous memory
		// this type is simply invalid.
		if anon {
			return 0, unix.EINVAL
		}
		if flags&^mapKnownFlags != 0 {
			return 0, unix.EOPNOTSUPP
		}
		o.Shared = true
	default:
		return 0, unix.EINVAL
	}
	if anon {
		return t.MM.Map(o)
	}
	d, err := t.FDs.Get(fd)
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if d.Flags()&unix.O_PATH != 0 {
		// An O_PATH description is not open for anything.
		return 0, unix.EBADF
	}
	if d.Flags()&unix.O_ACCMODE == unix.O_WRONLY {
		return 0, unix.EACCES
	}
	if o.Shared {
		o.Offset = off
		if addr, err, ok := mapFileFrames(t, d, o, length); ok {
			return addr, err
		}
	}
	if o.Shared && prot&mm.ProtWrite != 0 {
		// Writes through a shared mapping of a host file (dirfs) would
		// need the host file's pages in the stub; refuse rather than
		// silently lose the writes.
		t.K.WarnOnce("mmap-shared-file", "writable MAP_SHARED file mappings are not supported: returning ENODEV")
		return 0, unix.ENODEV
	}
	st, err := d.File.Stat()
	if err != nil {
		return 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, unix.ENODEV
	}
	r, ok := d.File.(mm.ReaderAt)
	if !ok {
		// Any regular file can be read at an offset: files of the library
		// OS's own file systems (tmpfs, the overlay) have Pread.
		r = preadReader{d.File}
	}
	o.File, o.Offset, o.FileSize = namedReader{r, d.Path, st.Dev, st.Ino}, off, st.Size
	// A private copy of a file behaves like a private mapping of it as
	// long as nobody writes the file meanwhile.
	o.Shared = false
	return t.MM.Map(o)
}

func sysMremap(t *kernel.Task, a [6]uint64) (uint64, error) {
	flags := a[3]
	if flags&^uint64(unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED|unix.MREMAP_DONTUNMAP) != 0 {
		return 0, unix.EINVAL
	}
	if flags&(unix.MREMAP_FIXED|unix.MREMAP_DONTUNMAP) != 0 {
		t.K.WarnOnce("mremap-fixed", "mremap with MREMAP_FIXED or MREMAP_DONTUNMAP is not supported: returning EINVAL")
		return 0, unix.EINVAL
	}
	return t.MM.Remap(a[0], a[1], a[2], flags&unix.MREMAP_MAYMOVE != 0)
}

func sysMadvise(t *kernel.Task, a [6]uint64) (uint64, error) {
	if a[0]%4096 != 0 {
		return 0, unix.EINVAL
	}
	switch advice := intArg(a[2]); advice {
	case unix.MADV_DONTNEED:
		return 0, t.MM.Discard(a[0], a[1])
	case unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
		unix.MADV_FREE, unix.MADV_HUGEPAGE, unix.MADV_NOHUGEPAGE, unix.MADV_DONTDUMP,
		unix.MADV_DODUMP, unix.MADV_DONTFORK, unix.MADV_DOFORK, unix.MADV_MERGEABLE,
		unix.MADV_UNMERGEABLE, unix.MADV_COLD, unix.MADV_PAGEOUT:
		// Hints: the memory manager may ignore them without changing what
		// the workload observes (MADV_FREE allows the old contents to stay).
		return 0, nil
	default:
		return 0, unix.EINVAL
	}
}

// preadReader reads a file for a private mapping through its Pread,
// until p is full or the file ends.
type preadReader struct{ f vfs.File }

func (r preadReader) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		n, err := r.f.Pread(p[done:], off+int64(done))
		if n > 0 {
			done += n
		}
		if err != nil {
			return done, err
		}
		if n == 0 {
			break
		}
	}
	return done, nil
}

// namedReader names a mapped file for /proc/PID/maps (mm.MapNamer).
type namedReader struct {
	mm.ReaderAt
	name     string
	dev, ino uint64
}

func (r namedReader) MapName() (string, uint64, uint64) { return r.name, r.dev, r.ino }

// frameFile is a file whose data lives in frames of the memory capability
// (tmpfs, and overlay files copied up to it).
type frameFile interface {
	Inode() *tmpfs.Inode
}

// mapFileFrames maps a tmpfs-backed file MAP_SHARED by mapping its own
// frames; ok is false for other files. Only whole pages inside the file
// can be mapped this way.
func mapFileFrames(t *kernel.Task, d *vfs.FileDescription, o mm.MapOpts, length uint64) (uint64, error, bool) {
	ff, ok := vfs.Underlying(d.File).(frameFile)
	if !ok {
		return 0, nil, false
	}
	if o.Prot&mm.ProtWrite != 0 && d.Flags()&unix.O_ACCMODE != unix.O_RDWR {
		return 0, unix.EACCES, true
	}
	st, err := d.File.Stat()
	if err != nil {
		return 0, err, true
	}
	pages := (length + 4095) / 4096
	if o.Offset+pages*4096 > uint64(st.Size)+4095 {
		t.K.WarnOnce("mmap-shared-eof", "MAP_SHARED beyond the end of a tmpfs file is not supported: returning ENODEV")
		return 0, unix.ENODEV, true
	}
	// The file refuses a writable mapping if it is sealed against writes.
	frames, err := ff.Inode().MapFrames(o.Offset/4096, pages, o.Prot&mm.ProtWrite != 0)
	if err != nil {
		return 0, err, true
	}
	addr, err := t.MM.MapSharedFrames(o, frames)
	// MapFrames gave us a reference per frame for the mapping; the memory
	// manager took its own.
	t.K.Memory.DecRef(frames)
	if err == nil {
		t.MM.Name(addr, pages*4096, d.Path, st.Dev, st.Ino, o.Offset)
	}
	return addr, err, true
}
