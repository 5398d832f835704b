package kernel

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// kcmp(2) types (KCMP_*).
const (
	KcmpFile     = 0
	KcmpVM       = 1
	KcmpFiles    = 2
	KcmpFS       = 3
	KcmpSighand  = 4
	KcmpIO       = 5
	KcmpSysvsem  = 6
	KcmpEpollTFD = 7
)

// Kcmp says whether two threads share a kernel object, as kcmp(2): 0 when
// they do, else 1 or 2 as the objects order (consistently, by address,
// which is what Linux's obfuscated pointers give a program too). Both
// threads must be ones the caller may inspect (ptrace_may_access: EPERM);
// ESRCH for a missing one, EBADF for a missing fd (KCMP_FILE), EINVAL for
// an unknown type. The I/O context and System V undo list are per thread
// and per process here (no CLONE_IO; CLONE_SYSVSEM with the process's
// threads). KCMP_EPOLL_TFD is EOPNOTSUPP.
func (t *Task) Kcmp(tid1, tid2 int32, typ int, idx1, idx2 uint64) (int, error) {
	k := t.K
	k.mu.Lock()
	a, err := t.threadLocked(tid1)
	if err != nil {
		k.mu.Unlock()
		return 0, unix.ESRCH
	}
	b, err := t.threadLocked(tid2)
	if err != nil {
		k.mu.Unlock()
		return 0, unix.ESRCH
	}
	if !t.mayPtraceLocked(a) || !t.mayPtraceLocked(b) {
		k.mu.Unlock()
		return 0, unix.EPERM
	}
	var pa, pb unsafe.Pointer
	switch typ {
	case KcmpVM:
		pa, pb = unsafe.Pointer(a.MM), unsafe.Pointer(b.MM)
	case KcmpFiles:
		pa, pb = unsafe.Pointer(a.FDs), unsafe.Pointer(b.FDs)
	case KcmpFS:
		pa, pb = unsafe.Pointer(a.FS), unsafe.Pointer(b.FS)
	case KcmpSighand:
		pa, pb = unsafe.Pointer(a.tg.handlers), unsafe.Pointer(b.tg.handlers)
	case KcmpIO:
		pa, pb = unsafe.Pointer(a), unsafe.Pointer(b)
	case KcmpSysvsem:
		pa, pb = unsafe.Pointer(a.tg), unsafe.Pointer(b.tg)
	case KcmpFile:
		fa, fb := a.FDs, b.FDs
		k.mu.Unlock()
		if fa == nil || fb == nil || int64(idx1) < 0 || int64(idx2) < 0 {
			return 0, unix.EBADF
		}
		da, err := fa.Get(int(idx1))
		if err != nil {
			return 0, unix.EBADF
		}
		defer da.DecRef()
		db, err := fb.Get(int(idx2))
		if err != nil {
			return 0, unix.EBADF
		}
		defer db.DecRef()
		return order(unsafe.Pointer(da), unsafe.Pointer(db)), nil
	case KcmpEpollTFD:
		k.mu.Unlock()
		return 0, unix.EOPNOTSUPP
	default:
		k.mu.Unlock()
		return 0, unix.EINVAL
	}
	k.mu.Unlock()
	return order(pa, pb), nil
}

// order is kcmp's answer for two objects: 0 the same, 1 the first below,
// 2 the first above.
func order(a, b unsafe.Pointer) int {
	switch x, y := uintptr(a), uintptr(b); {
	case x == y:
		return 0
	case x < y:
		return 1
	}
	return 2
}
