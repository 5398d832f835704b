package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/vfs"
)

// Advisory locks: flock(2) and fcntl's record locks. The lock table
// (libos/vfs/lock.go) never blocks; the waiting forms retry after every
// release until they get the lock or a signal interrupts them.

func init() {
	register(SysFlock, sysFlock)
}

func sysFlock(t *kernel.Task, a [6]uint64) (uint64, error) {
	op := intArg(a[1])
	d, err := fdFile(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	kind := op &^ unix.LOCK_NB
	if kind != unix.LOCK_SH && kind != unix.LOCK_EX && kind != unix.LOCK_UN {
		return 0, unix.EINVAL
	}
	return 0, waitLock(t, op&unix.LOCK_NB == 0 && kind != unix.LOCK_UN, func() error {
		return vfs.Locks.Flock(d, kind)
	})
}

// waitLock runs try until it stops failing with EAGAIN, waiting for a
// release in between when wait is set.
func waitLock(t *kernel.Task, wait bool, try func() error) error {
	for {
		changed := vfs.Locks.Changed()
		err := try()
		if err != unix.EAGAIN || !wait {
			return err
		}
		if err := t.Block(changed, kernel.NoDeadline()); err != nil {
			return err
		}
	}
}

// struct flock on x86-64: l_type and l_whence (shorts), l_start and
// l_len (off_t), l_pid (int).
const flockSize = 32

// fcntlLock serves F_GETLK, F_SETLK, F_SETLKW and their F_OFD_ forms on
// description d, with the struct flock at addr.
func fcntlLock(t *kernel.Task, d *vfs.FileDescription, cmd int, addr uint64) (uint64, error) {
	if d.Flags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	var b [flockSize]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	le := binary.LittleEndian
	typ := int16(le.Uint16(b[0:]))
	whence := int16(le.Uint16(b[2:]))
	start := int64(le.Uint64(b[8:]))
	length := int64(le.Uint64(b[16:]))
	pid := int32(le.Uint32(b[24:]))
	ofd := cmd == unix.F_OFD_GETLK || cmd == unix.F_OFD_SETLK || cmd == unix.F_OFD_SETLKW
	if ofd && pid != 0 {
		return 0, unix.EINVAL
	}
	switch typ {
	case vfs.ReadLock, vfs.WriteLock, vfs.Unlock:
	default:
		return 0, unix.EINVAL
	}
	switch whence {
	case unix.SEEK_SET:
	case unix.SEEK_CUR:
		off, err := d.File.Seek(0, unix.SEEK_CUR)
		if err != nil {
			return 0, err
		}
		start += off
	case unix.SEEK_END:
		st, err := d.File.Stat()
		if err != nil {
			return 0, err
		}
		start += st.Size
	default:
		return 0, unix.EINVAL
	}
	end := int64(vfs.LockEOF)
	switch {
	case length > 0:
		end = start + length - 1
		if end < start {
			return 0, unix.EOVERFLOW
		}
	case length < 0:
		start, end = start+length, start-1
	}
	if start < 0 {
		return 0, unix.EINVAL
	}
	l := vfs.RecordLock{Type: typ, Start: start, End: end, PID: t.TGID()}
	if ofd {
		l.PID = -1
	}
	switch cmd {
	case unix.F_GETLK, unix.F_OFD_GETLK:
		if typ == vfs.Unlock {
			return 0, unix.EINVAL
		}
		got, err := vfs.Locks.GetLock(d, t.FDs, ofd, l)
		if err != nil {
			return 0, err
		}
		le.PutUint16(b[0:], uint16(got.Type))
		if got.Type != vfs.Unlock {
			le.PutUint16(b[2:], unix.SEEK_SET)
			le.PutUint64(b[8:], uint64(got.Start))
			n := int64(0)
			if got.End != vfs.LockEOF {
				n = got.End - got.Start + 1
			}
			le.PutUint64(b[16:], uint64(n))
			le.PutUint32(b[24:], uint32(got.PID))
		}
		if _, err := t.MM.CopyOut(addr, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	acc := d.Flags() & unix.O_ACCMODE
	if typ == vfs.ReadLock && acc == unix.O_WRONLY || typ == vfs.WriteLock && acc == unix.O_RDONLY {
		return 0, unix.EBADF
	}
	wait := cmd == unix.F_SETLKW || cmd == unix.F_OFD_SETLKW
	return 0, waitLock(t, wait && typ != vfs.Unlock, func() error {
		return vfs.Locks.SetLock(d, t.FDs, ofd, l)
	})
}
