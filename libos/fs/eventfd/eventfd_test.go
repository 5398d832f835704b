package eventfd

import (
	"encoding/binary"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/waiter"
)

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.NativeEndian.PutUint64(b, v)
	return b
}

func read(t *testing.T, f *File) (uint64, error) {
	t.Helper()
	b := make([]byte, 16)
	n, err := f.Read(b)
	if err != nil {
		return 0, err
	}
	if n != 8 {
		t.Fatalf("read returned %d bytes", n)
	}
	return binary.NativeEndian.Uint64(b), nil
}

func TestCounter(t *testing.T) {
	f := New(3, false)
	if _, err := f.Read(make([]byte, 7)); err != unix.EINVAL {
		t.Fatalf("short read: %v", err)
	}
	if _, err := f.Write(make([]byte, 7)); err != unix.EINVAL {
		t.Fatalf("short write: %v", err)
	}
	if v, err := read(t, f); v != 3 || err != nil {
		t.Fatalf("read = %d %v", v, err)
	}
	if _, err := read(t, f); err != unix.EAGAIN {
		t.Fatalf("read of zero counter: %v", err)
	}
	if _, err := f.Write(u64(^uint64(0))); err != unix.EINVAL {
		t.Fatalf("write of 2^64-1: %v", err)
	}
	if n, err := f.Write(u64(^uint64(0) - 1)); n != 8 || err != nil {
		t.Fatalf("write of max: %d %v", n, err)
	}
	if got := f.Readiness(waiter.EventIn | waiter.EventOut); got != waiter.EventIn {
		t.Fatalf("readiness at max = %#x", got)
	}
	if _, err := f.Write(u64(1)); err != unix.EAGAIN {
		t.Fatalf("overflow: %v", err)
	}
	if n, err := f.Write(u64(0)); n != 8 || err != nil {
		t.Fatalf("write of 0 at max: %d %v", n, err)
	}
}

func TestSemaphore(t *testing.T) {
	f := New(2, true)
	for range 2 {
		if v, err := read(t, f); v != 1 || err != nil {
			t.Fatalf("semaphore read = %d %v", v, err)
		}
	}
	if _, err := read(t, f); err != unix.EAGAIN {
		t.Fatalf("empty semaphore: %v", err)
	}
	if st, _ := f.Stat(); st.Mode != 0o600 {
		t.Fatalf("mode = %o", st.Mode)
	}
}

func TestConcurrent(t *testing.T) {
	f := New(0, true)
	const n = 2000
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 4 {
				f.Write(u64(1))
			}
		}()
	}
	got := 0
	e := waiter.NewEntry(waiter.EventIn)
	f.EventRegister(e)
	defer f.EventUnregister(e)
	for got < n {
		if _, err := read(t, f); err == unix.EAGAIN {
			<-e.Ch
			continue
		}
		got++
	}
	wg.Wait()
	if f.Count() != 0 {
		t.Fatalf("count left %d", f.Count())
	}
}
