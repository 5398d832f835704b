// Package epoll implements epoll instances: an interest list of (fd,
// open file description) pairs, each watching a waiter.Waitable file
// through a callback entry on the file's queue, and a ready list the
// callbacks fill and epoll_wait drains.
//
// As in Linux, an item is keyed by the fd number it was added under and
// the description that fd referred to then, so closing one fd of a
// duplicated description leaves the item in place; the item goes away when
// the description itself is released (vfs.FileDescription.OnRelease).
//
// An Instance is itself a Waitable vfs.File (readable while an item is
// ready), so epoll fds can be polled and nested, with Linux's loop and
// depth checks (ELOOP).
//
// Lock order: nestMu, then an Instance's mu, then (for nested instances)
// the inner Instance's mu, then the watched files' own locks. Files call
// waiter.Queue.Notify without holding their locks, and the callback takes
// the Instance's mu.
package epoll

import (
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/anon"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// epoll_ctl operations and event flags.
const (
	CtlAdd = 1
	CtlDel = 2
	CtlMod = 3

	EPOLLEXCLUSIVE uint32 = 1 << 28
	EPOLLWAKEUP    uint32 = 1 << 29
	EPOLLONESHOT   uint32 = 1 << 30
	EPOLLET        uint32 = 1 << 31

	// privateBits are the flags that are not events.
	privateBits = EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET
	// exclusiveOK are the bits EPOLLEXCLUSIVE may be combined with.
	exclusiveOK = waiter.EventIn | waiter.EventOut | waiter.EventErr | waiter.EventHUp |
		EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE

	// MaxNests is EPOLL_MAX_NESTS: how deep epoll instances may nest.
	MaxNests = 4
)

// Event is one struct epoll_event: the events, and the user's data
// returned verbatim.
type Event struct {
	Events uint32
	Data   uint64
}

type key struct {
	fd   int
	desc *vfs.FileDescription
}

type item struct {
	ep     *Instance
	key    key
	file   waiter.Waitable
	nested *Instance // file, when it is an epoll instance
	entry  *waiter.Entry
	hook   *vfs.ReleaseHook

	// Guarded by ep.mu.
	events     uint32 // requested events and flags; events cleared after a oneshot fires
	data       uint64
	removed    bool
	onReady    bool
	prev, next *item // ready list links
}

// Instance is one epoll instance.
type Instance struct {
	q waiter.Queue // waiters on the instance: epoll_wait, poll, outer epolls

	mu     sync.Mutex
	items  map[key]*item
	head   *item // ready list, oldest first
	tail   *item
	closed bool

	// Guarded by nestMu: the epoll instances this one watches, and those
	// watching it, with counts of items.
	subs    map[*Instance]int
	parents map[*Instance]int
}

// nestMu serialises changes to the graph of nested instances, as Linux's
// epnested_mutex does.
var nestMu sync.Mutex

var (
	_ vfs.File        = (*Instance)(nil)
	_ waiter.Waitable = (*Instance)(nil)
)

// New returns an empty epoll instance.
func New() *Instance {
	return &Instance{items: make(map[key]*item)}
}

// Ctl is epoll_ctl for a target already looked up: fd and d are the
// target fd and its description, w the description's file as a Waitable
// (the caller answers EPERM for files that cannot be polled and EINVAL when
// d is the instance's own description), ev the event (ignored for
// CtlDel).
func (ep *Instance) Ctl(op, fd int, d *vfs.FileDescription, w waiter.Waitable, ev Event) error {
	if w == waiter.Waitable(ep) {
		return unix.EINVAL
	}
	if op != CtlDel && ev.Events&EPOLLEXCLUSIVE != 0 {
		if op == CtlMod {
			return unix.EINVAL
		}
		if _, isEpoll := w.(*Instance); op == CtlAdd && (isEpoll || ev.Events&^exclusiveOK != 0) {
			return unix.EINVAL
		}
	}
	// Without CAP_BLOCK_SUSPEND Linux drops EPOLLWAKEUP silently; the
	// library OS has no suspend to block.
	ev.Events &^= EPOLLWAKEUP
	k := key{fd, d}
	switch op {
	case CtlAdd:
		return ep.add(k, w, ev)
	case CtlDel:
		return ep.remove(k)
	case CtlMod:
		return ep.modify(k, ev)
	}
	return unix.EINVAL
}

func (ep *Instance) add(k key, w waiter.Waitable, ev Event) error {
	inner, isEpoll := w.(*Instance)
	if isEpoll {
		nestMu.Lock()
		defer nestMu.Unlock()
		if inner.reaches(ep) || inner.depthDown()+1+ep.depthUp() > MaxNests {
			return unix.ELOOP
		}
	}
	it := &item{ep: ep, key: k, file: w, events: ev.Events | waiter.EventErr | waiter.EventHUp, data: ev.Data}
	if isEpoll {
		it.nested = inner
	}
	it.entry = &waiter.Entry{Mask: waiter.EventsAll, Callback: it.callback}
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		return unix.EBADF
	}
	if _, ok := ep.items[k]; ok {
		ep.mu.Unlock()
		return unix.EEXIST
	}
	ep.items[k] = it
	ep.mu.Unlock()
	if isEpoll {
		link(ep, inner)
	}
	// The hook runs when the description is released: the item goes with
	// it.
	it.hook = k.desc.OnRelease(func() { ep.removeItem(it) })
	w.EventRegister(it.entry)
	// Report readiness that predates the registration.
	if w.Readiness(it.events&^privateBits) != 0 {
		it.callback(0)
	}
	return nil
}

func link(outer, inner *Instance) {
	if outer.subs == nil {
		outer.subs = make(map[*Instance]int)
	}
	if inner.parents == nil {
		inner.parents = make(map[*Instance]int)
	}
	outer.subs[inner]++
	inner.parents[outer]++
}

func unlink(outer, inner *Instance) {
	if outer.subs[inner]--; outer.subs[inner] <= 0 {
		delete(outer.subs, inner)
	}
	if inner.parents[outer]--; inner.parents[outer] <= 0 {
		delete(inner.parents, outer)
	}
}

// reaches reports whether target is ep or nested somewhere below it.
// nestMu held.
func (ep *Instance) reaches(target *Instance) bool {
	if ep == target {
		return true
	}
	for sub := range ep.subs {
		if sub.reaches(target) {
			return true
		}
	}
	return false
}

// depthDown is how many levels of instances nest below ep. nestMu held.
func (ep *Instance) depthDown() int {
	d := 0
	for sub := range ep.subs {
		d = max(d, sub.depthDown()+1)
	}
	return d
}

// depthUp is how many levels of instances ep is nested in. nestMu held.
func (ep *Instance) depthUp() int {
	d := 0
	for p := range ep.parents {
		d = max(d, p.depthUp()+1)
	}
	return d
}

func (ep *Instance) remove(k key) error {
	ep.mu.Lock()
	it, ok := ep.items[k]
	ep.mu.Unlock()
	if !ok {
		return unix.ENOENT
	}
	if !ep.removeItem(it) {
		return unix.ENOENT
	}
	return nil
}

// removeItem takes it out of the interest list; it reports false if it was
// already gone.
func (ep *Instance) removeItem(it *item) bool {
	if it.nested != nil {
		nestMu.Lock()
		defer nestMu.Unlock()
	}
	ep.mu.Lock()
	if it.removed {
		ep.mu.Unlock()
		return false
	}
	it.removed = true
	delete(ep.items, it.key)
	ep.unready(it)
	ep.mu.Unlock()
	if it.nested != nil {
		unlink(ep, it.nested)
	}
	it.key.desc.CancelRelease(it.hook)
	it.file.EventUnregister(it.entry)
	return true
}

func (ep *Instance) modify(k key, ev Event) error {
	ep.mu.Lock()
	it, ok := ep.items[k]
	if !ok {
		ep.mu.Unlock()
		return unix.ENOENT
	}
	if it.events&EPOLLEXCLUSIVE != 0 {
		ep.mu.Unlock()
		return unix.EINVAL
	}
	it.events = ev.Events | waiter.EventErr | waiter.EventHUp
	it.data = ev.Data
	mask := it.events &^ privateBits
	ep.mu.Unlock()
	if it.file.Readiness(mask) != 0 {
		it.callback(0)
	}
	return nil
}

// callback runs when the watched file's readiness may have changed: the
// item joins the ready list, to be checked at the next Wait.
func (it *item) callback(events uint32) {
	ep := it.ep
	ep.mu.Lock()
	mask := it.events &^ privateBits
	if it.removed || mask == 0 || (events != 0 && events&mask == 0) {
		ep.mu.Unlock()
		return
	}
	if !it.onReady {
		ep.pushReady(it)
	}
	ep.mu.Unlock()
	ep.q.Notify(waiter.EventIn | waiter.EventRdNorm)
}

// pushReady appends it to the ready list. mu held.
func (ep *Instance) pushReady(it *item) {
	it.onReady = true
	it.prev, it.next = ep.tail, nil
	if ep.tail != nil {
		ep.tail.next = it
	} else {
		ep.head = it
	}
	ep.tail = it
}

// unready takes it off the ready list if it is there. mu held.
func (ep *Instance) unready(it *item) {
	if !it.onReady {
		return
	}
	if it.prev != nil {
		it.prev.next = it.next
	} else {
		ep.head = it.next
	}
	if it.next != nil {
		it.next.prev = it.prev
	} else {
		ep.tail = it.prev
	}
	it.prev, it.next, it.onReady = nil, nil, false
}

// Wait harvests up to max ready events without blocking. Level-triggered
// items that are still ready stay on the ready list (behind the others);
// edge-triggered ones leave it until their file notifies again; a oneshot
// item is disabled until EPOLL_CTL_MOD re-arms it.
func (ep *Instance) Wait(max int) []Event {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	var out []Event
	var again []*item
	for len(out) < max && ep.head != nil {
		it := ep.head
		ep.unready(it)
		mask := it.events &^ privateBits
		if mask == 0 {
			continue
		}
		r := it.file.Readiness(mask) & mask
		if r == 0 {
			continue
		}
		out = append(out, Event{Events: r, Data: it.data})
		switch {
		case it.events&EPOLLONESHOT != 0:
			it.events &= privateBits
		case it.events&EPOLLET == 0:
			again = append(again, it)
		}
	}
	for _, it := range again {
		ep.pushReady(it)
	}
	return out
}

// Readiness implements waiter.Waitable: an instance is readable while one
// of its ready-listed items really is ready.
func (ep *Instance) Readiness(mask uint32) uint32 {
	if mask&(waiter.EventIn|waiter.EventRdNorm) == 0 {
		return 0
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	for it := ep.head; it != nil; it = it.next {
		m := it.events &^ privateBits
		if m != 0 && it.file.Readiness(m)&m != 0 {
			return (waiter.EventIn | waiter.EventRdNorm) & mask
		}
	}
	return 0
}

// EventRegister implements waiter.Waitable.
func (ep *Instance) EventRegister(e *waiter.Entry) { ep.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (ep *Instance) EventUnregister(e *waiter.Entry) { ep.q.Unregister(e) }

// Len is the number of items in the interest list.
func (ep *Instance) Len() int {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return len(ep.items)
}

// Read implements vfs.File: an epoll fd cannot be read.
func (ep *Instance) Read([]byte) (int, error) { return 0, unix.EINVAL }

// Write implements vfs.File.
func (ep *Instance) Write([]byte) (int, error) { return 0, unix.EINVAL }

// Pread implements vfs.File.
func (ep *Instance) Pread([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Pwrite implements vfs.File.
func (ep *Instance) Pwrite([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Seek implements vfs.File (Linux's noop_llseek).
func (ep *Instance) Seek(int64, int) (int64, error) { return 0, nil }

// Getdents implements vfs.File.
func (ep *Instance) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// Stat implements vfs.File.
func (ep *Instance) Stat() (unix.Stat_t, error) { return anon.Stat(), nil }

// Ioctl implements vfs.File.
func (ep *Instance) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, unix.ENOTTY }

// Close implements vfs.File: every item is dropped.
func (ep *Instance) Close() error {
	ep.mu.Lock()
	ep.closed = true
	items := make([]*item, 0, len(ep.items))
	for _, it := range ep.items {
		items = append(items, it)
	}
	ep.mu.Unlock()
	for _, it := range items {
		ep.removeItem(it)
	}
	return nil
}
