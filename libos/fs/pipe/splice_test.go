package pipe

import (
	"bytes"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/waiter"
)

func readAll(t *testing.T, r *End) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if err == unix.EAGAIN || n == 0 {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

func TestWriteFromTakesWhatFits(t *testing.T) {
	r, w := NewPair(0, 0)
	// Leave 10 bytes of room: a 100-byte fill is cut to 10, with no
	// PIPE_BUF all-or-nothing rule.
	if n, err := w.Write(make([]byte, DefaultSize-10)); n != DefaultSize-10 || err != nil {
		t.Fatalf("write = %d %v", n, err)
	}
	var asked int
	n, err := w.WriteFrom(100, func(b []byte) (int, error) {
		asked = len(b)
		return copy(b, "0123456789abcdef"), nil
	})
	if n != 10 || err != nil || asked != 10 {
		t.Fatalf("WriteFrom into 10 free bytes = %d %v (fill got %d bytes)", n, err, asked)
	}
	if _, err := w.WriteFrom(1, func(b []byte) (int, error) {
		t.Fatal("fill called on a full pipe")
		return 0, nil
	}); err != unix.EAGAIN {
		t.Fatalf("WriteFrom into a full pipe: %v, want EAGAIN", err)
	}
	got := readAll(t, r)
	if len(got) != DefaultSize || string(got[DefaultSize-10:]) != "0123456789" {
		t.Fatalf("read back %d bytes, tail %q", len(got), got[max(0, len(got)-10):])
	}
}

func TestWriteFromFillErrors(t *testing.T) {
	r, w := NewPair(0, 0)
	// A fill that produced part and then failed keeps its part.
	n, err := w.WriteFrom(10, func(b []byte) (int, error) { return copy(b, "abc"), unix.EIO })
	if n != 3 || err != unix.EIO {
		t.Fatalf("WriteFrom with a failing fill = %d %v, want 3, EIO", n, err)
	}
	if n, err := w.WriteFrom(10, func([]byte) (int, error) { return 0, unix.EAGAIN }); n != 0 || err != unix.EAGAIN {
		t.Fatalf("WriteFrom with an empty source = %d %v, want EAGAIN", n, err)
	}
	// End of the source: nothing appended, no error.
	if n, err := w.WriteFrom(10, func([]byte) (int, error) { return 0, nil }); n != 0 || err != nil {
		t.Fatalf("WriteFrom at the source's EOF = %d %v", n, err)
	}
	if got := readAll(t, r); string(got) != "abc" {
		t.Fatalf("read %q, want abc", got)
	}
	r.Close()
	if _, err := w.WriteFrom(10, func(b []byte) (int, error) {
		t.Fatal("fill called without a reader")
		return 0, nil
	}); err != unix.EPIPE {
		t.Fatalf("WriteFrom without a reader: %v, want EPIPE", err)
	}
}

func TestReadToConsumesWhatDrainTakes(t *testing.T) {
	r, w := NewPair(0, 0)
	if _, err := r.ReadTo(10, func([]byte) (int, error) {
		t.Fatal("drain called on an empty pipe")
		return 0, nil
	}); err != unix.EAGAIN {
		t.Fatalf("ReadTo of an empty pipe: %v, want EAGAIN", err)
	}
	w.Write([]byte("hello world"))
	var saw string
	n, err := r.ReadTo(8, func(b []byte) (int, error) { saw = string(b); return 3, nil })
	if n != 3 || err != nil || saw != "hello wo" {
		t.Fatalf("ReadTo = %d %v, drain saw %q", n, err, saw)
	}
	// A drain that takes nothing consumes nothing.
	if n, err := r.ReadTo(8, func([]byte) (int, error) { return 0, unix.EAGAIN }); n != 0 || err != unix.EAGAIN {
		t.Fatalf("ReadTo with a full sink = %d %v", n, err)
	}
	n, err = r.ReadTo(100, func(b []byte) (int, error) { saw = string(b); return len(b), nil })
	if n != 8 || err != nil || saw != "lo world" {
		t.Fatalf("second ReadTo = %d %v, drain saw %q", n, err, saw)
	}
	if w.Readiness(waiter.EventOut) == 0 {
		t.Fatal("drained pipe is not writable")
	}
	w.Close()
	if n, err := r.ReadTo(10, func([]byte) (int, error) { return 0, nil }); n != 0 || err != nil {
		t.Fatalf("ReadTo at EOF = %d %v, want 0, nil", n, err)
	}
}

func TestSpliceAndTee(t *testing.T) {
	ar, aw := NewPair(0, 0)
	br, bw := NewPair(0, 0)
	if _, err := Splice(ar, bw, 10); err != unix.EAGAIN {
		t.Fatalf("splice from an empty pipe: %v, want EAGAIN", err)
	}
	aw.Write([]byte("tee data!"))
	if n, err := Tee(ar, bw, 3); n != 3 || err != nil {
		t.Fatalf("tee = %d %v", n, err)
	}
	if n, err := Splice(ar, bw, 100); n != 9 || err != nil {
		t.Fatalf("splice = %d %v", n, err)
	}
	if got := readAll(t, br); string(got) != "teetee data!" {
		t.Fatalf("destination holds %q", got)
	}
	if ar.Readiness(waiter.EventIn) != 0 {
		t.Fatal("splice did not consume the source")
	}
	if _, err := Tee(ar, ar, 1); err != unix.EINVAL {
		t.Fatalf("tee to the same pipe: %v, want EINVAL", err)
	}
	aw.Close()
	if n, err := Splice(ar, bw, 10); n != 0 || err != nil {
		t.Fatalf("splice at EOF = %d %v, want 0", n, err)
	}
	br.Close()
	if _, err := Tee(ar, bw, 10); err != unix.EPIPE {
		t.Fatalf("tee without a reader: %v, want EPIPE", err)
	}
}

func TestSpliceIntoFullPipe(t *testing.T) {
	ar, aw := NewPair(0, 0)
	br, bw := NewPair(0, 0)
	bw.Write(make([]byte, DefaultSize-5))
	aw.Write([]byte("0123456789"))
	if n, err := Splice(ar, bw, 100); n != 5 || err != nil {
		t.Fatalf("splice into 5 free bytes = %d %v", n, err)
	}
	if _, err := Tee(ar, bw, 100); err != unix.EAGAIN {
		t.Fatalf("tee into a full pipe: %v, want EAGAIN", err)
	}
	if got := readAll(t, ar); string(got) != "56789" {
		t.Fatalf("source keeps %q, want 56789", got)
	}
	if got := readAll(t, br); len(got) != DefaultSize || string(got[DefaultSize-5:]) != "01234" {
		t.Fatalf("destination has %d bytes", len(got))
	}
}

// Splices in both directions between two pipes at once must not
// deadlock, and every byte must arrive exactly once.
func TestConcurrentSplicesBothWays(t *testing.T) {
	ar, aw := NewPair(0, 0)
	br, bw := NewPair(0, 0)
	want := bytes.Repeat([]byte("x"), 1000)
	aw.Write(want)
	bw.Write(want)
	var wg sync.WaitGroup
	for _, pair := range [][2]*End{{ar, bw}, {br, aw}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				Splice(pair[0], pair[1], 7)
				Tee(pair[0], pair[1], 0)
			}
		}()
	}
	wg.Wait()
	if n := len(readAll(t, ar)) + len(readAll(t, br)); n != 2000 {
		t.Fatalf("%d bytes left in the two pipes, want 2000", n)
	}
}
