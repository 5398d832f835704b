package syscalls

import "testing"

func TestIOBufSizes(t *testing.T) {
	for _, n := range []int{0, 1, 4095, 4096, 4097, 8192, 16 << 10, 40000, 64 << 10, 64<<10 + 1, 1 << 20} {
		b, pooled := ioBuf(n)
		if len(b) != n {
			t.Errorf("ioBuf(%d): len %d", n, len(b))
		}
		if n <= maxPooledIO && cap(b) < n {
			t.Errorf("ioBuf(%d): cap %d", n, cap(b))
		}
		if n <= maxPooledIO && cap(b) > 2*max(n, minPooledIO) {
			t.Errorf("ioBuf(%d): cap %d, more than the next power of two", n, cap(b))
		}
		if (pooled != nil) != (n <= maxPooledIO) {
			t.Errorf("ioBuf(%d): pooled %v", n, pooled != nil)
		}
		putIOBuf(pooled)
	}
}
