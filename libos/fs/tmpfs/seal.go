package tmpfs

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// File seals (fcntl F_ADD_SEALS, F_GET_SEALS), with Linux's values. Every
// regular file of a tmpfs has a set of seals, as every shmem inode does on
// Linux; a file starts with SealSeal, which forbids adding any, and only
// memfd_create (NewMemfd) makes files that can be sealed.
const (
	// SealSeal forbids adding seals.
	SealSeal = unix.F_SEAL_SEAL
	// SealShrink forbids making the file smaller.
	SealShrink = unix.F_SEAL_SHRINK
	// SealGrow forbids making the file larger, by writes too.
	SealGrow = unix.F_SEAL_GROW
	// SealWrite forbids changing the contents: writes, hole punching and
	// writable shared mappings. It cannot be added while the file is
	// mapped shared (EBUSY).
	SealWrite = unix.F_SEAL_WRITE
	// SealFutureWrite is SealWrite for what comes next only: shared
	// mappings that exist may still write.
	SealFutureWrite = unix.F_SEAL_FUTURE_WRITE
	// SealExec forbids changing the execute bits; added to a file that
	// has any, it brings SealShrink, SealGrow, SealWrite and
	// SealFutureWrite with it, so the file is either executable or
	// writable, never both.
	SealExec = unix.F_SEAL_EXEC

	allSeals = SealSeal | SealShrink | SealGrow | SealWrite | SealFutureWrite | SealExec
	// writeSeals forbid changes to the contents.
	writeSeals = SealWrite | SealFutureWrite
)

// NewMemfd makes the file of a memfd_create: a regular file in no
// directory, owned by c, with mode and the given initial seals, opened
// for reading and writing. Its data lives until the last file opened on
// it closes; unlike an O_TMPFILE file it can never be given a name.
func (fs *FS) NewMemfd(mode uint32, c vfs.Cred, seals uint32) (*Inode, vfs.File, error) {
	if seals&^allSeals != 0 {
		return nil, nil, unix.EINVAL
	}
	if err := fs.reserveInode(); err != nil {
		return nil, nil, err
	}
	n := fs.newInode(unix.S_IFREG, mode, c.UID, c.GID)
	n.nlink = 0
	n.seals = seals
	f, err := n.Open(unix.O_RDWR)
	if err != nil {
		n.mu.Lock()
		freed := n.maybeReleaseLocked()
		n.mu.Unlock()
		fs.acct.free(freed)
		return nil, nil, err
	}
	return n, f, nil
}

// Seals answers F_GET_SEALS.
func (i *Inode) Seals() (uint32, error) {
	if i.kind != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.seals, nil
}

// AddSeals adds seals to the file (F_ADD_SEALS): EINVAL for bits that are
// no seal, EPERM once SealSeal is set, EBUSY for SealWrite (or SealExec
// bringing it) while the file is mapped shared. Whether the caller's file
// is open for writing is for the caller to check (Linux answers EPERM
// before anything else).
func (i *Inode) AddSeals(seals uint32) error {
	if i.kind != unix.S_IFREG || seals&^allSeals != 0 {
		return unix.EINVAL
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.seals&SealSeal != 0 {
		return unix.EPERM
	}
	if seals&SealExec != 0 && i.mode&0o111 != 0 {
		seals |= SealShrink | SealGrow | SealWrite | SealFutureWrite
	}
	if seals&SealWrite != 0 && i.seals&SealWrite == 0 && i.mappedSharedLocked() {
		return unix.EBUSY
	}
	i.seals |= seals
	return nil
}

// mappedSharedLocked reports whether a shared mapping that may write
// holds the file's pages, as Linux's i_mmap_writable counts them: mappings
// made through a file open for writing and before any write seal
// (AddMapping). The memory manager counts a mapping before it asks for the
// pages, and MapFrames refuses a writable mapping of a sealed file under
// the inode's lock, so a mapping and a seal cannot both succeed.
func (i *Inode) mappedSharedLocked() bool { return i.sharedWriteMaps.Load() > 0 }

// checkWriteLocked applies the seals to a write of n bytes at off and
// returns how many of them may be written. Linux writes page by page and
// checks each page's piece: with SealGrow a write reaching past the end
// of the file writes the pieces that end inside it and stops at the first
// that does not (EPERM if that is the first).
func (i *Inode) checkWriteLocked(off int64, n int) (int, error) {
	if i.seals&writeSeals != 0 {
		return 0, unix.EPERM
	}
	if i.seals&SealGrow != 0 && off+int64(n) > i.data.size {
		end := i.data.size / pageSize * pageSize
		if end <= off {
			return 0, unix.EPERM
		}
		return int(end - off), nil
	}
	return n, nil
}

// checkSizeLocked applies the seals to a change of the file's size.
func (i *Inode) checkSizeLocked(size int64) error {
	if size < i.data.size && i.seals&SealShrink != 0 || size > i.data.size && i.seals&SealGrow != 0 {
		return unix.EPERM
	}
	return nil
}

// Seals implements F_GET_SEALS on the open file.
func (f *regFile) Seals() (uint32, error) { return f.inode.Seals() }

// AddSeals implements F_ADD_SEALS on the open file, which must be open
// for writing (EPERM otherwise, before anything else is checked).
func (f *regFile) AddSeals(seals uint32) error {
	if !f.writable() {
		return unix.EPERM
	}
	return f.inode.AddSeals(seals)
}

// checkSetattrLocked applies the seals to an attribute change: a new size
// as checkSizeLocked does, and under SealExec no change to the execute
// bits.
func (i *Inode) checkSetattrLocked(a vfs.Attr) error {
	if a.Mask&vfs.AttrSize != 0 && i.kind == unix.S_IFREG {
		if err := i.checkSizeLocked(a.Size); err != nil {
			return err
		}
	}
	if a.Mask&vfs.AttrMode != 0 && i.seals&SealExec != 0 && (i.mode^a.Mode)&0o111 != 0 {
		return unix.EPERM
	}
	return nil
}
