package kernel

import (
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/mm"
)

// futexKey names a futex word: private ones by address space and address,
// shared ones by memory frame and offset.
type futexKey struct {
	mm   *mm.MemoryManager
	addr uint64
}

type futexWaiter struct {
	key    futexKey
	bitset uint32
	ch     chan struct{}
	woken  bool
	// PI waiters: who is waiting, and whether an unlock handed it the lock.
	tid     int32
	pi      bool
	handoff bool
}

// futexTable holds the sleeping waiters of every futex in the sandbox.
type futexTable struct {
	mu      sync.Mutex
	waiters map[futexKey][]*futexWaiter
}

func (f *futexTable) init() { f.waiters = make(map[futexKey][]*futexWaiter) }

func (k *Kernel) futexKeyFor(t *Task, addr uint64, private bool) (futexKey, error) {
	if addr%4 != 0 {
		return futexKey{}, unix.EINVAL
	}
	if !private {
		shared, frame, err := t.MM.FutexKey(addr)
		if err != nil {
			return futexKey{}, err
		}
		if shared {
			return futexKey{nil, frame}, nil
		}
	}
	return futexKey{t.MM, addr}, nil
}

func (t *Task) loadFutexWord(addr uint64) (uint32, error) {
	var b [4]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// FutexWait sleeps while the word at addr holds val, until a wake with a
// matching bitset, the deadline, or a signal (ERestartSys).
func (t *Task) FutexWait(addr uint64, private bool, val, bitset uint32, deadline time.Time) error {
	k := t.K
	key, err := k.futexKeyFor(t, addr, private)
	if err != nil {
		return err
	}
	w := &futexWaiter{key: key, bitset: bitset, ch: make(chan struct{})}
	k.futexes.mu.Lock()
	// The comparison happens under the table lock, so a waker that changes
	// the word and then wakes cannot slip in between.
	cur, err := t.loadFutexWord(addr)
	if err != nil {
		k.futexes.mu.Unlock()
		return err
	}
	if cur != val {
		k.futexes.mu.Unlock()
		return unix.EAGAIN
	}
	k.futexes.waiters[key] = append(k.futexes.waiters[key], w)
	k.futexes.mu.Unlock()

	err = t.Block(w.ch, deadline)
	k.futexes.mu.Lock()
	defer k.futexes.mu.Unlock()
	if w.woken {
		return nil
	}
	k.futexes.removeLocked(w)
	return err
}

func (f *futexTable) removeLocked(w *futexWaiter) {
	ws := f.waiters[w.key]
	for i, o := range ws {
		if o == w {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(f.waiters, w.key)
	} else {
		f.waiters[w.key] = ws
	}
}

// wakeLocked wakes up to n waiters of key whose bitset matches.
func (f *futexTable) wakeLocked(key futexKey, n int, bitset uint32) int {
	woken := 0
	ws := f.waiters[key]
	kept := ws[:0]
	for _, w := range ws {
		if woken < n && w.bitset&bitset != 0 {
			w.woken = true
			close(w.ch)
			woken++
			continue
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		delete(f.waiters, key)
	} else {
		f.waiters[key] = kept
	}
	return woken
}

// futexWake wakes up to n waiters on addr and returns how many it woke.
func (k *Kernel) futexWake(t *Task, addr uint64, private bool, n int, bitset uint32) (int, error) {
	key, err := k.futexKeyFor(t, addr, private)
	if err != nil {
		return 0, err
	}
	k.futexes.mu.Lock()
	defer k.futexes.mu.Unlock()
	return k.futexes.wakeLocked(key, n, bitset), nil
}

// FutexWake is FUTEX_WAKE / FUTEX_WAKE_BITSET.
func (t *Task) FutexWake(addr uint64, private bool, n int, bitset uint32) (int, error) {
	if bitset == 0 {
		return 0, unix.EINVAL
	}
	return t.K.futexWake(t, addr, private, n, bitset)
}

// FutexRequeue wakes up to nWake waiters on addr and moves up to nMove of
// the rest to addr2; with check set, only if the word at addr is val
// (FUTEX_CMP_REQUEUE).
func (t *Task) FutexRequeue(addr, addr2 uint64, private bool, nWake, nMove int, check bool, val uint32) (int, error) {
	k := t.K
	key, err := k.futexKeyFor(t, addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := k.futexKeyFor(t, addr2, private)
	if err != nil {
		return 0, err
	}
	k.futexes.mu.Lock()
	defer k.futexes.mu.Unlock()
	if check {
		cur, err := t.loadFutexWord(addr)
		if err != nil {
			return 0, err
		}
		if cur != val {
			return 0, unix.EAGAIN
		}
	}
	woken := k.futexes.wakeLocked(key, nWake, ^uint32(0))
	moved := 0
	ws := k.futexes.waiters[key]
	for len(ws) > 0 && moved < nMove {
		w := ws[0]
		ws = ws[1:]
		w.key = key2
		k.futexes.waiters[key2] = append(k.futexes.waiters[key2], w)
		moved++
	}
	if len(ws) == 0 {
		delete(k.futexes.waiters, key)
	} else {
		k.futexes.waiters[key] = ws
	}
	return woken + moved, nil
}

// FutexWakeOp is FUTEX_WAKE_OP: atomically apply an operation to the word
// at addr2, wake waiters on addr, and, if the old value of addr2 passes the
// comparison, waiters on addr2 too.
func (t *Task) FutexWakeOp(addr, addr2 uint64, private bool, n, n2 int, op uint32) (int, error) {
	k := t.K
	key, err := k.futexKeyFor(t, addr, private)
	if err != nil {
		return 0, err
	}
	key2, err := k.futexKeyFor(t, addr2, private)
	if err != nil {
		return 0, err
	}
	k.futexes.mu.Lock()
	defer k.futexes.mu.Unlock()
	old, err := t.loadFutexWord(addr2)
	if err != nil {
		return 0, err
	}
	kind, cmp := (op>>28)&7, (op>>24)&15
	oparg, cmparg := (op>>12)&0xfff, op&0xfff
	if op>>31 != 0 { // FUTEX_OP_OPARG_SHIFT
		oparg = 1 << (oparg & 31)
	}
	var nv uint32
	switch kind {
	case 0:
		nv = oparg
	case 1:
		nv = old + oparg
	case 2:
		nv = old | oparg
	case 3:
		nv = old &^ oparg
	case 4:
		nv = old ^ oparg
	default:
		return 0, unix.ENOSYS
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], nv)
	if _, err := t.MM.CopyOut(addr2, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	woken := k.futexes.wakeLocked(key, n, ^uint32(0))
	var ok bool
	switch cmp {
	case 0:
		ok = old == cmparg
	case 1:
		ok = old != cmparg
	case 2:
		ok = int32(old) < int32(cmparg)
	case 3:
		ok = int32(old) <= int32(cmparg)
	case 4:
		ok = int32(old) > int32(cmparg)
	case 5:
		ok = int32(old) >= int32(cmparg)
	default:
		return 0, unix.ENOSYS
	}
	if ok {
		woken += k.futexes.wakeLocked(key2, n2, ^uint32(0))
	}
	return woken, nil
}

// PI futex word bits (linux/futex.h).
const (
	futexTIDMask   = 0x3fffffff
	futexOwnerDied = 0x40000000
	futexWaiters   = 0x80000000
)

// FutexLockPI takes a priority-inheritance futex (FUTEX_LOCK_PI, or
// FUTEX_TRYLOCK_PI with try). The library OS does not boost priorities;
// it implements the ownership protocol: the word holds the owner's tid,
// FUTEX_WAITERS says the kernel must be called to unlock, and an unlock
// hands the lock straight to the first waiter.
func (t *Task) FutexLockPI(addr uint64, private, try bool, deadline time.Time) error {
	k := t.K
	key, err := k.futexKeyFor(t, addr, private)
	if err != nil {
		return err
	}
	tid := uint32(t.TID)
	for {
		k.futexes.mu.Lock()
		v, err := t.MM.LoadUint32(addr)
		if err != nil {
			k.futexes.mu.Unlock()
			return unix.EFAULT
		}
		owner := v & futexTIDMask
		switch {
		case owner == 0:
			nv := tid
			if len(k.futexes.waiters[key]) > 0 {
				nv |= futexWaiters
			}
			prev, err := t.MM.CompareAndSwapUint32(addr, v, nv)
			k.futexes.mu.Unlock()
			if err != nil {
				return unix.EFAULT
			}
			if prev == v {
				return nil
			}
			continue
		case owner == tid:
			k.futexes.mu.Unlock()
			return unix.EDEADLK
		case try:
			k.futexes.mu.Unlock()
			return unix.EAGAIN
		case !k.TaskExists(int32(owner)):
			// The owner is gone without unlocking: take it over, marked
			// owner-died, as the robust futex protocol does.
			prev, err := t.MM.CompareAndSwapUint32(addr, v, tid|futexOwnerDied|v&futexWaiters)
			k.futexes.mu.Unlock()
			if err != nil {
				return unix.EFAULT
			}
			if prev == v {
				return nil
			}
			continue
		}
		if v&futexWaiters == 0 {
			if prev, err := t.MM.CompareAndSwapUint32(addr, v, v|futexWaiters); err != nil || prev != v {
				k.futexes.mu.Unlock()
				if err != nil {
					return unix.EFAULT
				}
				continue
			}
		}
		w := &futexWaiter{key: key, bitset: ^uint32(0), ch: make(chan struct{}), tid: int32(tid), pi: true}
		k.futexes.waiters[key] = append(k.futexes.waiters[key], w)
		k.futexes.mu.Unlock()

		err = t.Block(w.ch, deadline)
		k.futexes.mu.Lock()
		if w.handoff {
			k.futexes.mu.Unlock()
			return nil
		}
		if !w.woken {
			k.futexes.removeLocked(w)
		}
		k.futexes.mu.Unlock()
		switch err {
		case nil:
		case ERestartSys:
			return ERestartNoIntr
		default:
			return err
		}
	}
}

// FutexUnlockPI releases a PI futex the caller owns (FUTEX_UNLOCK_PI),
// handing it to the first waiter if there is one.
func (t *Task) FutexUnlockPI(addr uint64, private bool) error {
	k := t.K
	key, err := k.futexKeyFor(t, addr, private)
	if err != nil {
		return err
	}
	tid := uint32(t.TID)
	k.futexes.mu.Lock()
	defer k.futexes.mu.Unlock()
	for {
		v, err := t.MM.LoadUint32(addr)
		if err != nil {
			return unix.EFAULT
		}
		if v&futexTIDMask != tid {
			return unix.EPERM
		}
		var next *futexWaiter
		rest := 0
		for _, w := range k.futexes.waiters[key] {
			if w.pi {
				if next == nil {
					next = w
				} else {
					rest++
				}
			}
		}
		nv := uint32(0)
		if next != nil {
			nv = uint32(next.tid)
			if rest > 0 {
				nv |= futexWaiters
			}
		}
		prev, err := t.MM.CompareAndSwapUint32(addr, v, nv)
		if err != nil {
			return unix.EFAULT
		}
		if prev != v {
			continue // the workload set FUTEX_WAITERS meanwhile
		}
		if next != nil {
			k.futexes.removeLocked(next)
			next.handoff, next.woken = true, true
			close(next.ch)
		}
		return nil
	}
}
