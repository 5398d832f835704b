package hostfd

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

func hostPipe(t *testing.T) (r, w *File) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	return New(p[0]), New(p[1])
}

func TestCanPoll(t *testing.T) {
	r, w := hostPipe(t)
	defer r.Close()
	defer w.Close()
	if _, ok := vfs.Waitable(r); !ok {
		t.Fatal("host pipe is not waitable")
	}
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, nil, 0o600)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := New(fd)
	defer f.Close()
	if _, ok := vfs.Waitable(f); ok {
		t.Fatal("regular host file is waitable")
	}
}

func TestWatcherNotifies(t *testing.T) {
	r, w := hostPipe(t)
	defer w.Close()
	if r.Readiness(waiter.EventIn) != 0 {
		t.Fatal("empty pipe readable")
	}
	e := waiter.NewEntry(waiter.EventIn)
	r.EventRegister(e)
	for i := range 3 {
		w.Write([]byte("x"))
		select {
		case <-e.Ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: no notification", i)
		}
		if r.Readiness(waiter.EventIn) != waiter.EventIn {
			t.Fatal("not readable after notification")
		}
		r.Read(make([]byte, 10))
		if _, err := r.Read(make([]byte, 10)); err != unix.EAGAIN {
			t.Fatalf("drained pipe: %v", err)
		}
	}
	r.EventUnregister(e)
	// Registering again after the goroutine stopped starts a new one.
	e2 := waiter.NewEntry(waiter.EventIn | waiter.EventHUp)
	r.EventRegister(e2)
	w.Close()
	select {
	case <-e2.Ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no hang-up notification")
	}
	// Close with an entry still registered stops the goroutine.
	r.Close()
}
