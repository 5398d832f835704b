package pipe

import (
	"bytes"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/waiter"
)

type memory struct{ b [8]byte }

func (m *memory) CopyIn(addr uint64, dst []byte) (int, error) { return copy(dst, m.b[addr:]), nil }
func (m *memory) CopyOut(addr uint64, src []byte) (int, error) {
	if addr+uint64(len(src)) > uint64(len(m.b)) {
		return 0, unix.EFAULT
	}
	return copy(m.b[addr:], src), nil
}

func TestReadWriteEOF(t *testing.T) {
	r, w := NewPair(0, 0)
	buf := make([]byte, 10)
	if _, err := r.Read(buf); err != unix.EAGAIN {
		t.Fatalf("read of empty pipe: %v, want EAGAIN", err)
	}
	if n, err := w.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("write = %d, %v", n, err)
	}
	if n, err := r.Read(buf[:3]); n != 3 || err != nil || string(buf[:3]) != "hel" {
		t.Fatalf("read = %d %v %q", n, err, buf[:n])
	}
	w.Close()
	if n, err := r.Read(buf); n != 2 || err != nil || string(buf[:2]) != "lo" {
		t.Fatalf("read after writer closed = %d %v", n, err)
	}
	if n, err := r.Read(buf); n != 0 || err != nil {
		t.Fatalf("read at EOF = %d %v, want 0, nil", n, err)
	}
	if got := r.Readiness(waiter.EventIn | waiter.EventHUp); got != waiter.EventHUp {
		t.Fatalf("readiness at EOF = %#x, want HUP", got)
	}
}

func TestEPIPE(t *testing.T) {
	r, w := NewPair(0, 0)
	r.Close()
	if _, err := w.Write([]byte("x")); err != unix.EPIPE {
		t.Fatalf("write without reader: %v, want EPIPE", err)
	}
	if got := w.Readiness(waiter.EventOut | waiter.EventErr); got != waiter.EventOut|waiter.EventErr {
		t.Fatalf("readiness = %#x, want OUT|ERR", got)
	}
}

func TestCapacityAndAtomicity(t *testing.T) {
	r, w := NewPair(0, 0)
	total := 0
	one := []byte{1}
	for {
		n, err := w.Write(one)
		if err == unix.EAGAIN {
			break
		}
		total += n
	}
	if total != DefaultSize {
		t.Fatalf("filled with %d bytes, want %d", total, DefaultSize)
	}
	if w.Readiness(waiter.EventOut) != 0 {
		t.Fatal("full pipe is writable")
	}
	// Free 100 bytes: an atomic write of 200 must fail whole.
	r.Read(make([]byte, 100))
	if n, err := w.Write(make([]byte, 200)); n != 0 || err != unix.EAGAIN {
		t.Fatalf("atomic write into 100 free bytes = %d %v", n, err)
	}
	if w.Readiness(waiter.EventOut) != 0 {
		t.Fatal("pipe with less than a page free is writable")
	}
	// A large write is done in part.
	r.Read(make([]byte, 9000))
	n, err := w.Write(make([]byte, 20000))
	if n != 9100 || err != unix.EAGAIN {
		t.Fatalf("large write = %d %v, want 9100, EAGAIN", n, err)
	}
}

func TestSetSize(t *testing.T) {
	r, w := NewPair(0, 0)
	for _, c := range []struct {
		ask  uint64
		want int
		err  error
	}{
		{0, 4096, nil}, {1, 4096, nil}, {4097, 8192, nil}, {100000, 131072, nil},
		{MaxSize, MaxSize, nil}, {MaxSize + 1, 0, unix.EPERM}, {1 << 32, 0, unix.EINVAL},
	} {
		got, err := w.SetSize(c.ask, false)
		if got != c.want || err != c.err {
			t.Errorf("SetSize(%d) = %d, %v; want %d, %v", c.ask, got, err, c.want, c.err)
		}
	}
	if _, err := r.SetSize(4<<20, true); err != nil {
		t.Errorf("privileged grow: %v", err)
	}
	w.SetSize(65536, false)
	data := make([]byte, 10000)
	rand.Read(data)
	w.Write(data[:5000])
	r.Read(make([]byte, 3000)) // move the head so the ring wraps
	w.Write(data[5000:])
	if _, err := w.SetSize(4096, false); err != unix.EBUSY {
		t.Fatalf("shrink below contents: %v, want EBUSY", err)
	}
	if got, err := w.SetSize(16384, false); got != 16384 || err != nil {
		t.Fatalf("shrink = %d %v", got, err)
	}
	if w.Size() != 16384 {
		t.Fatalf("Size = %d", w.Size())
	}
	got := make([]byte, 20000)
	n, _ := r.Read(got)
	if !bytes.Equal(got[:n], data[3000:]) {
		t.Fatal("contents changed across resize")
	}
}

func TestStatAndIoctl(t *testing.T) {
	r, w := NewPair(1000, 1001)
	st, _ := r.Stat()
	st2, _ := w.Stat()
	if st.Mode != unix.S_IFIFO|0o600 || st.Uid != 1000 || st.Gid != 1001 || st.Blksize != 4096 || st.Size != 0 {
		t.Fatalf("stat = %+v", st)
	}
	if st.Ino != st2.Ino || st.Dev != st2.Dev {
		t.Fatal("ends of one pipe differ in identity")
	}
	r2, _ := NewPair(0, 0)
	if st3, _ := r2.Stat(); st3.Ino == st.Ino {
		t.Fatal("two pipes share an inode number")
	}
	w.Write([]byte("abc"))
	var m memory
	if _, err := r.Ioctl(fionread, 0, &m); err != nil || m.b[0] != 3 {
		t.Fatalf("FIONREAD = %v %v", m.b, err)
	}
	if _, err := r.Ioctl(fionread, 6, &m); err != unix.EFAULT {
		t.Fatalf("FIONREAD to bad address: %v", err)
	}
	if _, err := r.Ioctl(0x5401, 0, &m); err != unix.ENOTTY {
		t.Fatalf("TCGETS: %v", err)
	}
	if _, err := r.Seek(0, 0); err != unix.ESPIPE {
		t.Fatalf("seek: %v", err)
	}
}

func TestFIFOHangupOnlyAfterWriter(t *testing.T) {
	p := New(0, 0)
	r := p.Open(true, false)
	if r.Readiness(waiter.EventHUp) != 0 {
		t.Fatal("FIFO reader hung up before any writer")
	}
	w := p.Open(false, true)
	w.Close()
	if r.Readiness(waiter.EventHUp) == 0 {
		t.Fatal("FIFO reader not hung up after the writer left")
	}
	rw := p.Open(true, true)
	if n, err := rw.Write([]byte("x")); n != 1 || err != nil {
		t.Fatalf("O_RDWR write: %d %v", n, err)
	}
}

// blockingRead reads with the syscall layer's protocol: register, retry,
// wait.
func blockingRead(e *End, b []byte) (int, error) {
	entry := waiter.NewEntry(waiter.EventIn | waiter.EventHUp | waiter.EventErr)
	e.EventRegister(entry)
	defer e.EventUnregister(entry)
	for {
		n, err := e.Read(b)
		if err != unix.EAGAIN {
			return n, err
		}
		select {
		case <-entry.Ch:
		case <-time.After(10 * time.Second):
			return 0, unix.ETIMEDOUT
		}
	}
}

func blockingWrite(e *End, b []byte) (int, error) {
	entry := waiter.NewEntry(waiter.EventOut | waiter.EventErr)
	e.EventRegister(entry)
	defer e.EventUnregister(entry)
	done := 0
	for {
		n, err := e.Write(b[done:])
		done += n
		if err != unix.EAGAIN {
			return done, err
		}
		select {
		case <-entry.Ch:
		case <-time.After(10 * time.Second):
			return done, unix.ETIMEDOUT
		}
	}
}

func TestConcurrentStream(t *testing.T) {
	r, w := NewPair(0, 0)
	data := make([]byte, 3<<20)
	rand.Read(data)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sizes := []int{1, 100, 4096, 5000, 70000}
		for off, i := 0, 0; off < len(data); i++ {
			c := min(sizes[i%len(sizes)], len(data)-off)
			n, err := blockingWrite(w, data[off:off+c])
			if err != nil || n != c {
				t.Errorf("write: %d %v", n, err)
				return
			}
			off += c
		}
		w.Close()
	}()
	var got []byte
	buf := make([]byte, 7777)
	for {
		n, err := blockingRead(r, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, buf[:n]...)
	}
	wg.Wait()
	if !bytes.Equal(got, data) {
		t.Fatalf("stream corrupted: got %d bytes, want %d", len(got), len(data))
	}
}

// Atomic writes from many writers never interleave.
func TestConcurrentAtomicWriters(t *testing.T) {
	r, w := NewPair(0, 0)
	const writers, each, size = 8, 200, PipeBuf
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := bytes.Repeat([]byte{byte('a' + i)}, size)
			for range each {
				if n, err := blockingWrite(w, msg); n != size || err != nil {
					t.Errorf("write: %d %v", n, err)
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); w.Close() }()
	var all []byte
	buf := make([]byte, 10000)
	for {
		n, err := blockingRead(r, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		all = append(all, buf[:n]...)
	}
	if len(all) != writers*each*size {
		t.Fatalf("read %d bytes", len(all))
	}
	for i := 0; i < len(all); i += size {
		if !bytes.Equal(all[i:i+size], bytes.Repeat(all[i:i+1], size)) {
			t.Fatalf("message at %d interleaved", i)
		}
	}
}

func TestCloseWakesBlockedWriter(t *testing.T) {
	r, w := NewPair(0, 0)
	w.SetSize(4096, false)
	errc := make(chan error, 1)
	go func() {
		_, err := blockingWrite(w, make([]byte, 10000))
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	r.Close()
	if err := <-errc; err != unix.EPIPE {
		t.Fatalf("blocked writer got %v, want EPIPE", err)
	}
}
