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

// ioBuf returns a buffer of n bytes and the pooled slice it is cut from
// (nil when it is not pooled), for putIOBuf to give back; the buffer must
// not be used after that. (A release closure instead would be one more
// allocation per syscall, which is what the pools are for.)
func ioBuf(n int) ([]byte, *[]byte) {
	if n > maxPooledIO {
		return make([]byte, n), nil
	}
	b, _ := ioPools[ioClass(n)].Get().(*[]byte)
	if b == nil {
		s := make([]byte, minPooledIO<<ioClass(n))
		b = &s
	}
	return (*b)[:n], b
}

// putIOBuf gives back a buffer ioBuf pooled.
func putIOBuf(b *[]byte) {
	if b != nil {
		ioPools[ioClass(cap(*b))].Put(b)
	}
}

// ioClass is the pool of buffers of n bytes (n at most maxPooledIO).
func ioClass(n int) int {
	if n <= minPooledIO {
		return 0
	}
	return bits.Len(uint(n-1)) - minPooledShift
}
