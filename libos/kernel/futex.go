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
