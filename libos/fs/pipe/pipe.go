// Package pipe implements the library OS's pipes: a byte ring shared by a
// read end and a write end, with Linux's capacity, atomicity and hang-up
// rules. A Pipe is the object behind both pipe(2) and (later) a named FIFO:
// pipe(2) takes one read end and one write end with NewPair, a FIFO's
// opens call Open for each end they want.
//
// Ends never block. An operation that cannot proceed returns EAGAIN and
// the caller waits for the end's readiness (the end is a waiter.Waitable)
// before trying again; a write that could only be done in part returns the
// count written together with EAGAIN.
//
// Besides read and write, a pipe serves splice(2), tee(2) and vmsplice(2):
// WriteFrom fills it from another file, ReadTo drains it into one, and
// Splice and Tee move or copy bytes between two pipes.
package pipe

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

const (
	// PipeBuf is PIPE_BUF: writes of at most this many bytes are atomic.
	PipeBuf = 4096
	// DefaultSize is a new pipe's capacity.
	DefaultSize = 16 * pageSize
	// MaxSize is /proc/sys/fs/pipe-max-size's default: the most an
	// unprivileged F_SETPIPE_SZ may ask for.
	MaxSize = 1 << 20

	pageSize = 4096
	// fionread is FIONREAD (asm-generic/ioctls.h).
	fionread = 0x541b
)

// pipefsDev is the st_dev of every pipe, an anonymous device number as
// Linux gives its pipefs.
var pipefsDev = unix.Mkdev(0, 13)

// nextIno numbers pipes as pipefs numbers its inodes.
var nextIno atomic.Uint64

func init() { nextIno.Store(1 << 16) }

// Pipe is one pipe: the buffer, its capacity and the count of open ends.
type Pipe struct {
	ino      uint64
	uid, gid uint32

	// rq holds the waiters of read ends, wq those of write ends.
	rq, wq waiter.Queue

	// readMu is held by whoever takes bytes out (Read, ReadTo, Splice's
	// source) and writeMu by whoever puts them in (Write, WriteFrom,
	// Splice's and Tee's destination, SetSize), for the whole operation.
	// ReadTo and WriteFrom run another file's I/O with only these held,
	// not mu, so the pipe stays pollable meanwhile, and the bytes ReadTo
	// saw or the room WriteFrom counted on stay theirs. Order: readMu,
	// then writeMu, then mu (two pipes' mu in inode order).
	readMu, writeMu sync.Mutex

	mu       sync.Mutex
	buf      []byte // the ring, grown as data arrives, up to capacity
	head     int    // index of the first buffered byte
	n        int    // bytes buffered
	capacity int
	readers  int
	writers  int
	// wopens counts the write ends ever opened, so a FIFO reader that has
	// not yet seen a writer is not told the writers hung up.
	wopens              uint64
	atime, mtime, ctime time.Time
}

// New returns a pipe with no ends open, owned by uid and gid.
func New(uid, gid uint32) *Pipe {
	now := time.Now()
	return &Pipe{
		ino:      nextIno.Add(1),
		uid:      uid,
		gid:      gid,
		capacity: DefaultSize,
		atime:    now,
		mtime:    now,
		ctime:    now,
	}
}

// NewPair returns the two ends of a new anonymous pipe, as pipe(2) makes
// it.
func NewPair(uid, gid uint32) (r, w *End) {
	p := New(uid, gid)
	w = p.Open(false, true)
	r = p.Open(true, false)
	// An anonymous pipe's reader has always had a writer: it sees the
	// hang-up when the writers close.
	r.wseen = 0
	return r, w
}

// Open opens an end for reading, writing or both (a FIFO opened O_RDWR).
func (p *Pipe) Open(read, write bool) *End {
	p.mu.Lock()
	if read {
		p.readers++
	}
	if write {
		p.writers++
		p.wopens++
	}
	e := &End{p: p, read: read, write: write}
	if read && p.writers == 0 {
		// Linux's fifo_open sets f_pipe only for a reader that finds no
		// writer: it sees no hang-up until a writer has come. A reader
		// that finds one (or waits for one) sees it when they all go.
		e.wseen = p.wopens
	}
	p.mu.Unlock()
	// A FIFO open may complete what others wait for (a writer arriving
	// wakes readers that saw a hang-up, and the reverse).
	if write {
		p.rq.Notify(waiter.EventIn | waiter.EventRdNorm)
	}
	if read {
		p.wq.Notify(waiter.EventOut | waiter.EventWrNorm)
	}
	return e
}

// Readers and Writers report the open ends, for FIFO open's waits.
func (p *Pipe) Readers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.readers
}

// Writers reports the number of open write ends.
func (p *Pipe) Writers() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.writers
}

// Ino is the pipe's inode number.
func (p *Pipe) Ino() uint64 { return p.ino }

// End is one open end of a pipe; it implements vfs.File and
// waiter.Waitable.
type End struct {
	p           *Pipe
	read, write bool
	// wseen is the pipe's wopens when this read end opened with no
	// writer (else 0): it reports a hang-up only once wopens moved on.
	wseen  uint64
	closed atomic.Bool
}

var (
	_ vfs.File        = (*End)(nil)
	_ waiter.Waitable = (*End)(nil)
)

// Pipe returns the pipe this end belongs to.
func (e *End) Pipe() *Pipe { return e.p }

// Read implements vfs.File: it takes what is buffered, up to len(b). It
// returns 0 and no error at end of file (no writers, nothing buffered), and
// EAGAIN when nothing is buffered but a writer may still write.
func (e *End) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p := e.p
	p.readMu.Lock()
	defer p.readMu.Unlock()
	p.mu.Lock()
	if p.n == 0 {
		eof := p.writers == 0
		p.mu.Unlock()
		if eof {
			return 0, nil
		}
		return 0, unix.EAGAIN
	}
	c := p.peek(b)
	p.consume(c)
	p.mu.Unlock()
	p.wq.Notify(waiter.EventOut | waiter.EventWrNorm)
	return c, nil
}

// Write implements vfs.File. A write of at most PipeBuf bytes is done whole
// or not at all (EAGAIN); a larger one writes what fits and returns that
// count with EAGAIN when the rest did not fit. With no reader it fails with
// EPIPE; the caller sends SIGPIPE.
func (e *End) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p := e.p
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.mu.Lock()
	if p.readers == 0 {
		p.mu.Unlock()
		return 0, unix.EPIPE
	}
	free := p.capacity - p.n
	if free == 0 || (len(b) <= PipeBuf && free < len(b)) {
		p.mu.Unlock()
		return 0, unix.EAGAIN
	}
	c := min(len(b), free)
	p.push(b[:c])
	p.mu.Unlock()
	p.rq.Notify(waiter.EventIn | waiter.EventRdNorm)
	if c < len(b) {
		return c, unix.EAGAIN
	}
	return c, nil
}

// Pread implements vfs.File: pipes have no offsets.
func (e *End) Pread([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Pwrite implements vfs.File.
func (e *End) Pwrite([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Seek implements vfs.File.
func (e *End) Seek(int64, int) (int64, error) { return 0, unix.ESPIPE }

// Getdents implements vfs.File.
func (e *End) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// Stat implements vfs.File: a FIFO of the pipefs, mode 0600, owned by the
// pipe's creator.
func (e *End) Stat() (unix.Stat_t, error) {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	return unix.Stat_t{
		Dev:     pipefsDev,
		Ino:     p.ino,
		Nlink:   1,
		Mode:    unix.S_IFIFO | 0o600,
		Uid:     p.uid,
		Gid:     p.gid,
		Blksize: pageSize,
		Atim:    unix.NsecToTimespec(p.atime.UnixNano()),
		Mtim:    unix.NsecToTimespec(p.mtime.UnixNano()),
		Ctim:    unix.NsecToTimespec(p.ctime.UnixNano()),
	}, nil
}

// Ioctl implements vfs.File: FIONREAD says how many bytes are buffered.
func (e *End) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	if req != fionread {
		return 0, unix.ENOTTY
	}
	e.p.mu.Lock()
	n := e.p.n
	e.p.mu.Unlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(n))
	if _, err := mem.CopyOut(arg, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// Close implements vfs.File. The last writer's close makes readers see end
// of file; the last reader's makes writers fail with EPIPE.
func (e *End) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	p := e.p
	p.mu.Lock()
	if e.read {
		p.readers--
	}
	if e.write {
		p.writers--
	}
	noReaders, noWriters := p.readers == 0, p.writers == 0
	if noReaders && noWriters {
		p.buf, p.n, p.head = nil, 0, 0
	}
	p.mu.Unlock()
	if e.write && noWriters {
		p.rq.Notify(waiter.EventIn | waiter.EventRdNorm | waiter.EventHUp)
	}
	if e.read && noReaders {
		p.wq.Notify(waiter.EventOut | waiter.EventWrNorm | waiter.EventErr)
	}
	return nil
}

// Readiness implements waiter.Waitable, as Linux's pipe_poll: a read end
// is readable with data buffered and hung up when every writer has gone; a
// write end is writable with a page free and in error with no reader.
func (e *End) Readiness(mask uint32) uint32 {
	p := e.p
	p.mu.Lock()
	defer p.mu.Unlock()
	var r uint32
	if e.read {
		if p.n > 0 {
			r |= waiter.EventIn | waiter.EventRdNorm
		}
		if p.writers == 0 && p.wopens != e.wseen {
			r |= waiter.EventHUp
		}
	}
	if e.write {
		if p.capacity-p.n >= pageSize {
			r |= waiter.EventOut | waiter.EventWrNorm
		}
		if p.readers == 0 {
			r |= waiter.EventErr
		}
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (e *End) EventRegister(w *waiter.Entry) {
	if e.read {
		e.p.rq.Register(w)
	}
	if e.write {
		e.p.wq.Register(w)
	}
}

// EventUnregister implements waiter.Waitable.
func (e *End) EventUnregister(w *waiter.Entry) {
	if e.read {
		e.p.rq.Unregister(w)
	}
	if e.write {
		e.p.wq.Unregister(w)
	}
}

// resize moves the buffered bytes to the start of a ring of size bytes.
// mu held; size >= p.n.
func (p *Pipe) resize(size int) {
	nb := make([]byte, size)
	if p.n > 0 {
		first := copy(nb[:p.n], p.buf[p.head:min(p.head+p.n, len(p.buf))])
		copy(nb[first:p.n], p.buf)
	}
	p.buf, p.head = nb, 0
}

// peek copies up to len(b) buffered bytes into b without consuming them
// and returns the count. mu held.
func (p *Pipe) peek(b []byte) int {
	c := min(len(b), p.n)
	if c == 0 {
		return 0
	}
	first := copy(b[:c], p.buf[p.head:min(p.head+c, len(p.buf))])
	copy(b[first:c], p.buf[:c-first])
	return c
}

// consume drops the first c buffered bytes. mu held; c <= p.n.
func (p *Pipe) consume(c int) {
	if c == 0 {
		return
	}
	p.head = (p.head + c) % len(p.buf)
	p.n -= c
	if p.n == 0 {
		p.head = 0
		if len(p.buf) > DefaultSize {
			p.buf = nil // give back what a burst made it grow to
		}
	}
	p.atime = time.Now()
}

// push appends b, growing the ring as needed. mu held; b fits in the
// capacity.
func (p *Pipe) push(b []byte) {
	if len(b) == 0 {
		return
	}
	if p.n+len(b) > len(p.buf) {
		p.resize(min(p.capacity, max(p.n+len(b), 2*len(p.buf), pageSize)))
	}
	tail := (p.head + p.n) % len(p.buf)
	first := copy(p.buf[tail:], b)
	copy(p.buf, b[first:])
	p.n += len(b)
	now := time.Now()
	p.mtime, p.ctime = now, now
}

// Size is the pipe's capacity, F_GETPIPE_SZ.
func (e *End) Size() int {
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	return e.p.capacity
}

// SetSize is F_SETPIPE_SZ: the capacity becomes size rounded up to a power
// of two pages (at least one page), and the new capacity is returned.
// Growing past MaxSize needs privileged (CAP_SYS_RESOURCE): EPERM without
// it. Shrinking below what is buffered fails with EBUSY.
func (e *End) SetSize(size uint64, privileged bool) (int, error) {
	if size > 1<<31 {
		return 0, unix.EINVAL
	}
	c := uint64(pageSize)
	for c < size {
		c <<= 1
	}
	p := e.p
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	p.mu.Lock()
	if c > uint64(p.capacity) && c > MaxSize && !privileged {
		p.mu.Unlock()
		return 0, unix.EPERM
	}
	if int(c) < p.n {
		p.mu.Unlock()
		return 0, unix.EBUSY
	}
	if len(p.buf) > int(c) {
		p.resize(int(c))
	}
	p.capacity = int(c)
	p.mu.Unlock()
	p.wq.Notify(waiter.EventOut | waiter.EventWrNorm)
	return int(c), nil
}
