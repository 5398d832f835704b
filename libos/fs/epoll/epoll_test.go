package epoll

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/eventfd"
	"exokernelul.dev/exo/libos/fs/pipe"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

const (
	in  = waiter.EventIn
	out = waiter.EventOut
	hup = waiter.EventHUp
	er  = waiter.EventErr
)

func desc(f vfs.File) *vfs.FileDescription { return vfs.NewDescription(f, "", unix.O_RDWR) }

func ctl(t *testing.T, ep *Instance, op, fd int, d *vfs.FileDescription, events uint32, data uint64) error {
	t.Helper()
	w, ok := vfs.Waitable(d.File)
	if !ok {
		return unix.EPERM
	}
	return ep.Ctl(op, fd, d, w, Event{events, data})
}

func mustCtl(t *testing.T, ep *Instance, op, fd int, d *vfs.FileDescription, events uint32, data uint64) {
	t.Helper()
	if err := ctl(t, ep, op, fd, d, events, data); err != nil {
		t.Fatalf("ctl(%d, fd %d): %v", op, fd, err)
	}
}

func wait(ep *Instance) []Event { return ep.Wait(64) }

func TestLevelTriggered(t *testing.T) {
	ep := New()
	r, w := pipe.NewPair(0, 0)
	rd, wd := desc(r), desc(w)
	mustCtl(t, ep, CtlAdd, 3, rd, in, 0xdeadbeefcafe)
	mustCtl(t, ep, CtlAdd, 4, wd, out, 44)
	evs := wait(ep)
	if len(evs) != 1 || evs[0] != (Event{out, 44}) {
		t.Fatalf("events = %+v, want the writable write end", evs)
	}
	w.Write([]byte("x"))
	for range 2 { // level-triggered: reported until drained
		evs = wait(ep)
		if len(evs) != 2 {
			t.Fatalf("events = %+v", evs)
		}
	}
	r.Read(make([]byte, 1))
	if evs = wait(ep); len(evs) != 1 || evs[0].Data != 44 {
		t.Fatalf("after drain: %+v", evs)
	}
	if err := ctl(t, ep, CtlAdd, 3, rd, in, 0); err != unix.EEXIST {
		t.Fatalf("second add: %v", err)
	}
	// The same description under another fd number is another item.
	mustCtl(t, ep, CtlAdd, 5, rd, in, 5)
	if err := ctl(t, ep, CtlMod, 6, rd, in, 0); err != unix.ENOENT {
		t.Fatalf("mod of absent: %v", err)
	}
	if err := ctl(t, ep, CtlDel, 6, rd, 0, 0); err != unix.ENOENT {
		t.Fatalf("del of absent: %v", err)
	}
	mustCtl(t, ep, CtlDel, 5, rd, 0, 0)
	if err := ctl(t, ep, 7, 3, rd, in, 0); err != unix.EINVAL {
		t.Fatalf("bad op: %v", err)
	}
	// The writer hangs up: HUP is reported though not asked for.
	wd.DecRef()
	evs = wait(ep)
	if len(evs) != 1 || evs[0] != (Event{hup, 0xdeadbeefcafe}) {
		t.Fatalf("after hang-up: %+v", evs)
	}
	if ep.Len() != 1 {
		t.Fatalf("interest list has %d items, want 1 (the released write end is gone)", ep.Len())
	}
}

func TestEdgeTriggeredAndOneshot(t *testing.T) {
	ep := New()
	r, w := pipe.NewPair(0, 0)
	rd := desc(r)
	mustCtl(t, ep, CtlAdd, 3, rd, in|EPOLLET, 1)
	w.Write([]byte("a"))
	if evs := wait(ep); len(evs) != 1 {
		t.Fatalf("first edge: %+v", evs)
	}
	if evs := wait(ep); len(evs) != 0 {
		t.Fatalf("edge reported twice: %+v", evs)
	}
	w.Write([]byte("b")) // a new write is a new edge, as on Linux
	if evs := wait(ep); len(evs) != 1 {
		t.Fatalf("second edge: %+v", evs)
	}

	mustCtl(t, ep, CtlMod, 3, rd, in|EPOLLONESHOT, 2)
	if evs := wait(ep); len(evs) != 1 || evs[0].Data != 2 {
		t.Fatalf("oneshot: %+v", evs)
	}
	w.Write([]byte("c"))
	if evs := wait(ep); len(evs) != 0 {
		t.Fatalf("disabled oneshot reported: %+v", evs)
	}
	if err := ctl(t, ep, CtlAdd, 3, rd, in, 0); err != unix.EEXIST {
		t.Fatalf("add of disabled item: %v", err)
	}
	mustCtl(t, ep, CtlMod, 3, rd, in, 3)
	if evs := wait(ep); len(evs) != 1 || evs[0].Data != 3 {
		t.Fatalf("re-armed: %+v", evs)
	}
}

func TestExclusive(t *testing.T) {
	ep, inner := New(), New()
	r, _ := pipe.NewPair(0, 0)
	rd := desc(r)
	if err := ctl(t, ep, CtlAdd, 3, rd, in|EPOLLEXCLUSIVE|waiter.EventRdHUp, 0); err != unix.EINVAL {
		t.Fatalf("exclusive with RDHUP: %v", err)
	}
	if err := ctl(t, ep, CtlAdd, 4, desc(inner), in|EPOLLEXCLUSIVE, 0); err != unix.EINVAL {
		t.Fatalf("exclusive on an epoll: %v", err)
	}
	mustCtl(t, ep, CtlAdd, 3, rd, in|EPOLLEXCLUSIVE|EPOLLWAKEUP, 0)
	if err := ctl(t, ep, CtlMod, 3, rd, in, 0); err != unix.EINVAL {
		t.Fatalf("mod of exclusive item: %v", err)
	}
	if err := ctl(t, ep, CtlMod, 3, rd, in|EPOLLEXCLUSIVE, 0); err != unix.EINVAL {
		t.Fatalf("mod with exclusive: %v", err)
	}
}

func TestNestingAndLoops(t *testing.T) {
	var eps []*Instance
	var ds []*vfs.FileDescription
	for range 7 {
		ep := New()
		eps = append(eps, ep)
		ds = append(ds, desc(ep))
	}
	if err := eps[0].Ctl(CtlAdd, 0, ds[0], eps[0], Event{Events: in}); err != unix.EINVAL {
		t.Fatalf("add to itself: %v", err)
	}
	// 0 ⊃ 1 ⊃ 2 ⊃ 3 ⊃ 4: five levels are allowed.
	for i := 0; i < 4; i++ {
		mustCtl(t, eps[i], CtlAdd, i+1, ds[i+1], in, uint64(i))
	}
	if err := ctl(t, eps[4], CtlAdd, 0, ds[0], in, 0); err != unix.ELOOP {
		t.Fatalf("loop: %v", err)
	}
	if err := ctl(t, eps[2], CtlAdd, 0, ds[0], in, 0); err != unix.ELOOP {
		t.Fatalf("loop through the middle: %v", err)
	}
	if err := ctl(t, eps[4], CtlAdd, 5, ds[5], in, 0); err != unix.ELOOP {
		t.Fatalf("six levels: %v", err)
	}
	// Readiness propagates up the chain.
	ev := eventfd.New(0, false)
	evd := desc(ev)
	mustCtl(t, eps[4], CtlAdd, 9, evd, in, 9)
	if eps[0].Readiness(in) != 0 {
		t.Fatal("outer ready before the event")
	}
	ev.Write(u64(1))
	if eps[0].Readiness(in) != in {
		t.Fatal("outer not ready after the event")
	}
	if evs := eps[0].Wait(10); len(evs) != 1 || evs[0] != (Event{in, 0}) {
		t.Fatalf("outer events: %+v", evs)
	}
	// Releasing a middle instance drops it from its parent and lets the
	// chain be extended again.
	ds[2].DecRef()
	if eps[1].Len() != 0 {
		t.Fatal("released instance still watched")
	}
	mustCtl(t, eps[4], CtlAdd, 5, ds[5], in, 0)
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint64(b, v)
	return b
}

func TestCloseDropsItems(t *testing.T) {
	ep := New()
	epd := desc(ep)
	ev := eventfd.New(0, false)
	evd := desc(ev)
	mustCtl(t, ep, CtlAdd, 3, evd, in, 0)
	epd.DecRef()
	ev.Write(u64(1)) // must not reach the closed instance
	evd.IncRef()
	evd.DecRef()
	if ep.Len() != 0 {
		t.Fatal("closed instance kept items")
	}
	// The eventfd's own release after the instance's must not fail.
	evd.DecRef()
}

func TestMaxEvents(t *testing.T) {
	ep := New()
	var evs []*eventfd.File
	for i := range 10 {
		f := eventfd.New(1, false)
		evs = append(evs, f)
		mustCtl(t, ep, CtlAdd, i, desc(f), in, uint64(i))
	}
	seen := map[uint64]int{}
	for range 5 {
		for _, e := range ep.Wait(3) {
			seen[e.Data]++
		}
	}
	// Level-triggered items rotate: all ten are reported.
	if len(seen) != 10 {
		t.Fatalf("reported %d distinct items over rounds, want 10: %v", len(seen), seen)
	}
}

// A waiter on the instance is woken by a file made ready on another
// goroutine.
func TestConcurrentWaiters(t *testing.T) {
	ep := New()
	const n = 16
	var fs []*eventfd.File
	for i := range n {
		f := eventfd.New(0, false)
		fs = append(fs, f)
		mustCtl(t, ep, CtlAdd, i, desc(f), in|EPOLLET, uint64(i))
	}
	var mu sync.Mutex
	got := map[uint64]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := waiter.NewEntry(in)
			ep.EventRegister(e)
			defer ep.EventUnregister(e)
			deadline := time.After(5 * time.Second)
			for {
				mu.Lock()
				if len(got) == n {
					mu.Unlock()
					return
				}
				mu.Unlock()
				for _, ev := range ep.Wait(4) {
					fs[ev.Data].Read(make([]byte, 8))
					mu.Lock()
					got[ev.Data] = true
					mu.Unlock()
				}
				select {
				case <-e.Ch:
				case <-time.After(10 * time.Millisecond):
				case <-deadline:
					t.Error("timed out")
					return
				}
			}
		}()
	}
	for i := range n {
		go fs[i].Write(u64(1))
	}
	wg.Wait()
	if len(got) != n {
		t.Fatalf("got %d of %d", len(got), n)
	}
}
