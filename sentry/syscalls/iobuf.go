package syscalls

import (
	"math/bits"
	"sync"
)

// Scratch buffers for the data of one read-like syscall: the file or socket
// fills one and the syscall copies it out to the workload. Allocating each
// afresh made a sandboxed redis, whose reads ask for 16 KiB, collect its
// garbage constantly (a fifth of the sentry's CPU time under
// redis-benchmark). Buffers up to maxPooledIO are reused; they are never
// handed to anything that keeps them (the files' Write methods copy what
// they are given: sendfile writes from one), and only the bytes a read
// reports are copied out, so a reused buffer's old contents go nowhere.
const (
	minPooledShift = 12
	maxPooledShift = 16
	minPooledIO    = 1 << minPooledShift
	maxPooledIO    = 1 << maxPooledShift
)

// ioPools holds one pool per power-of-two size from minPooledIO to
// maxPooledIO.
var ioPools [maxPooledShift - minPooledShift + 1]sync.Pool

// ioBuf returns a buffer of n bytes and the function that gives it back;
// the buffer must not be used after that.
func ioBuf(n int) ([]byte, func()) {
	if n > maxPooledIO {
		return make([]byte, n), func() {}
	}
	class := 0
	if n > minPooledIO {
		class = bits.Len(uint(n-1)) - minPooledShift
	}
	p := &ioPools[class]
	b, _ := p.Get().(*[]byte)
	if b == nil {
		s := make([]byte, minPooledIO<<class)
		b = &s
	}
	return (*b)[:n], func() { p.Put(b) }
}
