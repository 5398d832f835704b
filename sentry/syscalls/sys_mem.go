package syscalls

import (
	"golang.org/x/sys/unix"

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
		// Shared file mappings write back what they stored; MS_ASYNC
		// does it at once too, which is allowed.
		return 0, t.MM.SyncRange(a[0], length)
	})
	// Locking counts the memory (VmLck, RLIMIT_MEMLOCK); the memory
	// capability's frames are never swapped, so every page is resident.
	register(SysMlock, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, mlock(t, a[0], a[1], true) })
	register(SysMlock2, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if a[2]&^uint64(unix.MLOCK_ONFAULT) != 0 {
			return 0, unix.EINVAL
		}
		return 0, mlock(t, a[0], a[1], true)
	})
	register(SysMunlock, func(t *kernel.Task, a [6]uint64) (uint64, error) { return 0, mlock(t, a[0], a[1], false) })
	register(SysMlockall, func(t *kernel.Task, a [6]uint64) (uint64, error) {
		if a[0] == 0 || a[0]&^uint64(unix.MCL_CURRENT|unix.MCL_FUTURE|unix.MCL_ONFAULT) != 0 || a[0] == unix.MCL_ONFAULT {
			return 0, unix.EINVAL
		}
		if !canLock(t, 0) {
			return 0, unix.ENOMEM
		}
		t.MM.LockAll(a[0]&unix.MCL_CURRENT != 0, a[0]&unix.MCL_FUTURE != 0, false)
		return 0, nil
	})
	register(SysMunlockall, func(t *kernel.Task, _ [6]uint64) (uint64, error) {
		t.MM.LockAll(false, false, true)
		return 0, nil
	})
}

func roundPage(n uint64) (uint64, bool) {
	r := (n + 4095) &^ 4095
	return r, r >= n
}

func mlock(t *kernel.Task, addr, length uint64, lock bool) error {
	start := addr &^ 4095
	end, ok := roundPage(addr + length)
	if !ok || addr+length < addr {
		return unix.EINVAL
	}
	if lock && !canLock(t, t.MM.UnlockedBytes(start, end)) {
		return unix.ENOMEM
	}
	return t.MM.Lock(start, end, lock)
}

// canLock reports whether more bytes may be locked: within
// RLIMIT_MEMLOCK, or without limit for root, which stands for
// CAP_IPC_LOCK (mlockall checks with more 0: Linux refuses it only for a
// zero limit).
func canLock(t *kernel.Task, more uint64) bool {
	if c := t.Creds(); c.HasCap(kernel.CapIPCLock) {
		return true
	}
	limit := t.Rlimit(unix.RLIMIT_MEMLOCK).Cur
	if more == 0 {
		return limit != 0
	}
	return t.MM.LockedBytes()+more <= limit
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
	if o.Shared && prot&mm.ProtWrite != 0 && d.Flags()&unix.O_ACCMODE != unix.O_RDWR {
		return 0, unix.EACCES
	}
	st, err := d.File.Stat()
	if err != nil {
		return 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, unix.ENODEV
	}
	if prot&mm.ProtExec != 0 && d.Dentry != nil && d.Dentry.Mount() != nil && d.Dentry.Mount().Options().NoExec {
		// A file of a noexec mount cannot be mapped executable either.
		return 0, unix.EPERM
	}
	if p, ok := vfs.Find[mm.MappableFile](d.File); ok {
		mappable, done, err := p.Mappable()
		if err != nil {
			return 0, err
		}
		if mappable != nil {
			defer done()
			o.Mappable, o.MayWrite, o.Offset = mappable, d.Flags()&unix.O_ACCMODE == unix.O_RDWR, off
			if o.Shared && o.MayWrite && prot&mm.ProtWrite == 0 && writeSealed(d.File) {
				// Linux maps it, but mprotect may never make it writable.
				o.MayWrite = false
			}
			o.Name, o.Dev, o.Ino = d.Path, st.Dev, st.Ino
			return t.MM.Map(o)
		}
	}
	if o.Shared && prot&mm.ProtWrite != 0 {
		// Stores through the mapping would be lost.
		t.K.WarnOnce("mmap-shared-file", "writable MAP_SHARED mapping of a file with no page cache: returning ENODEV")
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

// writeSealed reports whether f is a memfd sealed against writes.
func writeSealed(f vfs.File) bool {
	s, ok := vfs.Find[interface{ Seals() (uint32, error) }](f)
	if !ok {
		return false
	}
	seals, err := s.Seals()
	return err == nil && seals&(unix.F_SEAL_WRITE|unix.F_SEAL_FUTURE_WRITE) != 0
}

func sysMremap(t *kernel.Task, a [6]uint64) (uint64, error) {
	flags := a[3]
	if flags&^uint64(unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED|unix.MREMAP_DONTUNMAP) != 0 {
		return 0, unix.EINVAL
	}
	return t.MM.Remap(a[0], a[1], a[2], mm.RemapOpts{
		MayMove:   flags&unix.MREMAP_MAYMOVE != 0,
		Fixed:     flags&unix.MREMAP_FIXED != 0,
		NewAddr:   a[4],
		DontUnmap: flags&unix.MREMAP_DONTUNMAP != 0,
	})
}

func sysMadvise(t *kernel.Task, a [6]uint64) (uint64, error) {
	if a[0]%4096 != 0 {
		return 0, unix.EINVAL
	}
	length, ok := roundPage(a[1])
	if !ok || a[0]+length < a[0] {
		return 0, unix.EINVAL
	}
	advice := intArg(a[2])
	switch advice {
	case unix.MADV_DONTNEED, unix.MADV_NORMAL, unix.MADV_RANDOM, unix.MADV_SEQUENTIAL, unix.MADV_WILLNEED,
		unix.MADV_FREE, unix.MADV_HUGEPAGE, unix.MADV_NOHUGEPAGE, unix.MADV_DONTDUMP,
		unix.MADV_DODUMP, unix.MADV_DONTFORK, unix.MADV_DOFORK, unix.MADV_MERGEABLE,
		unix.MADV_UNMERGEABLE, unix.MADV_COLD, unix.MADV_PAGEOUT:
	default:
		return 0, unix.EINVAL
	}
	if length == 0 {
		return 0, nil
	}
	if !t.MM.Mapped(a[0], length) {
		return 0, unix.ENOMEM
	}
	if advice == unix.MADV_DONTNEED {
		return 0, t.MM.Discard(a[0], length)
	}
	// The rest are hints the memory manager may ignore without changing
	// what the workload observes (MADV_FREE allows the old contents to
	// stay).
	return 0, nil
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
