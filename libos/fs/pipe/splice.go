package pipe

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/waiter"
)

// WriteFrom fills the pipe from another source, as splice(2) from a file
// and vmsplice(2) do: fill is called once, with a buffer of at most n
// bytes and at most the room the pipe has, and what it puts there is
// appended. Unlike Write there is no PIPE_BUF atomicity: the transfer
// takes what room there is. With no reader it fails with EPIPE (before
// fill runs), and with the pipe full with EAGAIN. An error from fill is
// returned as it is, after whatever fill did produce was appended.
//
// fill runs without the pipe's lock, so it may do slow I/O, but it must
// not block: it returns EAGAIN and the caller waits.
func (e *End) WriteFrom(n int, fill func([]byte) (int, error)) (int, error) {
	if n <= 0 {
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
	// With writeMu held only readers touch the pipe, so the room can
	// only grow until fill is done.
	free := p.capacity - p.n
	p.mu.Unlock()
	if free == 0 {
		return 0, unix.EAGAIN
	}
	buf := make([]byte, min(n, free))
	got, err := fill(buf)
	got = min(max(got, 0), len(buf))
	if got == 0 {
		return 0, err
	}
	p.mu.Lock()
	p.push(buf[:got])
	p.mu.Unlock()
	p.rq.Notify(waiter.EventIn | waiter.EventRdNorm)
	return got, err
}

// ReadTo drains the pipe into another sink, as splice(2) to a file and
// vmsplice(2) to memory do: drain is called once with up to n of the
// buffered bytes, and only as many as it reports taken are consumed. It
// returns 0 and no error at end of file, and EAGAIN when nothing is
// buffered but a writer may still write. An error from drain is returned
// as it is, after what drain took was consumed.
//
// drain runs without the pipe's lock, so it may do slow I/O, but it must
// not block: it returns EAGAIN and the caller waits.
func (e *End) ReadTo(n int, drain func([]byte) (int, error)) (int, error) {
	if n <= 0 {
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
	// With readMu held only writers touch the pipe, so these bytes stay
	// at its head until drain is done.
	buf := make([]byte, min(n, p.n))
	p.peek(buf)
	p.mu.Unlock()
	took, err := drain(buf)
	took = min(max(took, 0), len(buf))
	if took == 0 {
		return 0, err
	}
	p.mu.Lock()
	p.consume(took)
	p.mu.Unlock()
	p.wq.Notify(waiter.EventOut | waiter.EventWrNorm)
	return took, err
}

// Splice moves up to n bytes from src's pipe to dst's, as splice(2)
// between two pipes does: as much as is buffered and fits, without
// waiting for more. src must be a read end and dst a write end of
// different pipes.
//
// It checks what Linux waits for in the order Linux does: EAGAIN when src
// is empty but has writers, EPIPE when dst has no reader (the caller
// sends SIGPIPE), EAGAIN when dst is full, and 0 when src is at end of
// file. On EAGAIN the caller waits for either end's readiness.
func Splice(src, dst *End, n int) (int, error) { return transfer(src, dst, n, true) }

// Tee copies up to n bytes from src's pipe to dst's without consuming
// them, as tee(2) does; it fails as Splice does.
func Tee(src, dst *End, n int) (int, error) { return transfer(src, dst, n, false) }

func transfer(src, dst *End, n int, consume bool) (int, error) {
	sp, dp := src.p, dst.p
	if sp == dp {
		return 0, unix.EINVAL
	}
	if n <= 0 {
		return 0, nil
	}
	sp.readMu.Lock()
	defer sp.readMu.Unlock()
	dp.writeMu.Lock()
	defer dp.writeMu.Unlock()
	first, second := sp, dp
	if dp.ino < sp.ino {
		first, second = dp, sp
	}
	first.mu.Lock()
	second.mu.Lock()
	c, err := transferLocked(sp, dp, n, consume)
	second.mu.Unlock()
	first.mu.Unlock()
	if c > 0 {
		dp.rq.Notify(waiter.EventIn | waiter.EventRdNorm)
		if consume {
			sp.wq.Notify(waiter.EventOut | waiter.EventWrNorm)
		}
	}
	return c, err
}

// transferLocked is transfer with both pipes locked.
func transferLocked(sp, dp *Pipe, n int, consume bool) (int, error) {
	if sp.n == 0 && sp.writers > 0 {
		return 0, unix.EAGAIN
	}
	if dp.readers == 0 {
		return 0, unix.EPIPE
	}
	free := dp.capacity - dp.n
	if free == 0 {
		return 0, unix.EAGAIN
	}
	if sp.n == 0 {
		return 0, nil
	}
	buf := make([]byte, min(n, sp.n, free))
	c := sp.peek(buf)
	dp.push(buf[:c])
	if consume {
		sp.consume(c)
	}
	return c, nil
}
