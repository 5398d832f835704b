// Package waiter lets blocking operations wait for readiness events on
// library OS objects (pipes, eventfds, sockets): an object keeps a Queue,
// waiters register an Entry with the events they care about, and the
// object calls Notify when its readiness changes.
package waiter

import "sync"

// Event bits, with the values of poll(2)'s POLL* and epoll's EPOLL* flags.
const (
	EventIn     uint32 = 0x1
	EventPri    uint32 = 0x2
	EventOut    uint32 = 0x4
	EventErr    uint32 = 0x8
	EventHUp    uint32 = 0x10
	EventNVal   uint32 = 0x20
	EventRdNorm uint32 = 0x40
	EventRdBand uint32 = 0x80
	EventWrNorm uint32 = 0x100
	EventWrBand uint32 = 0x200
	EventMsg    uint32 = 0x400
	EventRdHUp  uint32 = 0x2000

	// EventsAll is a mask that matches every event, for entries that do
	// their own filtering in Callback (epoll).
	EventsAll uint32 = ^uint32(0)

	// DefaultReadiness is what a file that cannot be polled (a regular
	// file, a directory, /dev/null) always reports: Linux's
	// DEFAULT_POLLMASK.
	DefaultReadiness = EventIn | EventOut | EventRdNorm | EventWrNorm
)

// Waitable is implemented by objects whose readiness can be waited for.
type Waitable interface {
	// Readiness returns which of mask's events are ready now.
	Readiness(mask uint32) uint32
	EventRegister(e *Entry)
	EventUnregister(e *Entry)
}

// Entry is one waiter. When an event in Mask fires, Callback runs if set,
// else a token is put in Ch (buffered; NewEntry makes it) without blocking.
type Entry struct {
	Mask     uint32
	Ch       chan struct{}
	Callback func(events uint32)
}

// NewEntry returns an entry that signals a fresh channel for mask.
func NewEntry(mask uint32) *Entry {
	return &Entry{Mask: mask, Ch: make(chan struct{}, 1)}
}

// Queue is the set of waiters of one object. The zero value is ready.
type Queue struct {
	mu      sync.Mutex
	entries map[*Entry]struct{}
}

// Register adds e.
func (q *Queue) Register(e *Entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.entries == nil {
		q.entries = make(map[*Entry]struct{})
	}
	q.entries[e] = struct{}{}
}

// Unregister removes e.
func (q *Queue) Unregister(e *Entry) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.entries, e)
}

// Empty reports whether no waiter is registered.
func (q *Queue) Empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.entries) == 0
}

// Notify wakes every entry interested in any of events. Objects must call
// it without holding their own locks: an epoll callback takes the epoll's
// lock, and epoll asks objects for their Readiness while holding it.
func (q *Queue) Notify(events uint32) {
	q.mu.Lock()
	if len(q.entries) == 0 {
		q.mu.Unlock()
		return
	}
	var fire []*Entry
	for e := range q.entries {
		if e.Mask&events != 0 {
			fire = append(fire, e)
		}
	}
	q.mu.Unlock()
	// Callbacks run without the queue lock so they may take other locks
	// (epoll's) and even unregister.
	for _, e := range fire {
		if e.Callback != nil {
			e.Callback(events & e.Mask)
			continue
		}
		select {
		case e.Ch <- struct{}{}:
		default:
		}
	}
}
