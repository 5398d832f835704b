package devpts

import (
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/waiter"
)

// mem is workload memory for ioctl arguments: one buffer at address 0.
type mem []byte

func (m mem) CopyIn(addr uint64, dst []byte) (int, error)  { return copy(dst, m[addr:]), nil }
func (m mem) CopyOut(addr uint64, src []byte) (int, error) { return copy(m[addr:], src), nil }

type fakeCtrl struct {
	sigs    []int
	hangups int
}

func (c *fakeCtrl) SignalForeground(sig int) { c.sigs = append(c.sigs, sig) }
func (c *fakeCtrl) Hangup()                  { c.hangups++ }

func openPair(t *testing.T) (*File, *File) {
	t.Helper()
	fs := New(unix.Mkdev(0, 24))
	m, err := fs.OpenMaster(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.root.Lookup("0"); err != nil {
		t.Fatalf("lookup of the new slave: %v", err)
	}
	if _, err := m.t.OpenSlavePeer(); err != unix.EIO {
		t.Fatalf("open of a locked slave: %v, want EIO", err)
	}
	arg := make(mem, 4)
	if _, err := m.Ioctl(tiocsptlck, 0, arg); err != nil {
		t.Fatal(err)
	}
	s, err := m.t.OpenSlavePeer()
	if err != nil {
		t.Fatal(err)
	}
	return m, s.(*File)
}

func TestMasterSlave(t *testing.T) {
	m, s := openPair(t)
	buf := make([]byte, 64)
	if _, err := s.Read(buf); err != unix.EAGAIN {
		t.Fatalf("empty slave read: %v, want EAGAIN", err)
	}
	if _, err := m.Read(buf); err != unix.EAGAIN {
		t.Fatalf("empty master read: %v, want EAGAIN", err)
	}
	if n, err := m.Write([]byte("hi\n")); n != 3 || err != nil {
		t.Fatalf("master write: %d %v", n, err)
	}
	if s.Readiness(waiter.EventIn) == 0 {
		t.Error("slave not readable with a line queued")
	}
	if n, _ := s.Read(buf); string(buf[:n]) != "hi\n" {
		t.Errorf("slave read %q", buf[:n])
	}
	if n, _ := m.Read(buf); string(buf[:n]) != "hi\r\n" {
		t.Errorf("echo %q", buf[:n])
	}
	if n, _ := s.Write([]byte("out\n")); n != 4 {
		t.Errorf("slave write %d", n)
	}
	if n, _ := m.Read(buf); string(buf[:n]) != "out\r\n" {
		t.Errorf("master read %q", buf[:n])
	}
	// Window size through the master, seen on the slave.
	ws := make(mem, 8)
	binary.LittleEndian.PutUint16(ws[0:], 24)
	binary.LittleEndian.PutUint16(ws[2:], 80)
	ctrl := &fakeCtrl{}
	m.t.SetController(ctrl)
	if _, err := m.Ioctl(tiocswinsz, 0, ws); err != nil {
		t.Fatal(err)
	}
	got := make(mem, 8)
	s.Ioctl(tiocgwinsz, 0, got)
	if binary.LittleEndian.Uint16(got[2:]) != 80 || len(ctrl.sigs) != 1 || ctrl.sigs[0] != int(unix.SIGWINCH) {
		t.Errorf("window %v, signals %v", got, ctrl.sigs)
	}
	m.Write([]byte{3})
	if len(ctrl.sigs) != 2 || ctrl.sigs[1] != int(unix.SIGINT) {
		t.Errorf("^C signals %v", ctrl.sigs)
	}
	m.Read(buf)
	// The last slave's close: the master reads EIO and polls HUP.
	s.Close()
	if _, err := m.Read(buf); err != unix.EIO {
		t.Errorf("master read after the slave closed: %v, want EIO", err)
	}
	if m.Readiness(waiter.EventHUp) == 0 {
		t.Error("master not hung up")
	}
}

func TestHangup(t *testing.T) {
	m, s := openPair(t)
	ctrl := &fakeCtrl{}
	m.t.SetController(ctrl)
	m.Write([]byte("queued\n"))
	m.Close()
	if ctrl.hangups != 1 {
		t.Errorf("hangups %d", ctrl.hangups)
	}
	buf := make([]byte, 8)
	if n, err := s.Read(buf); n != 0 || err != nil {
		t.Errorf("hung-up slave read: %d %v, want 0", n, err)
	}
	if _, err := s.Write([]byte("x")); err != unix.EIO {
		t.Errorf("hung-up slave write: %v, want EIO", err)
	}
	if _, err := m.t.fs.root.Lookup("0"); err != unix.ENOENT {
		t.Errorf("slave node after the master closed: %v, want ENOENT", err)
	}
	s.Close()
	if len(m.t.fs.terms) != 0 {
		t.Error("terminal index not released")
	}
}

func TestVTIME(t *testing.T) {
	m, s := openPair(t)
	tios := defaultTermios()
	tios.lflag &^= unix.ICANON
	tios.cc[vMIN], tios.cc[vTIME] = 0, 1
	m.t.ld.setTermios(tios)
	buf := make([]byte, 8)
	if _, err := s.Read(buf); err != unix.EAGAIN {
		t.Fatalf("first read: %v, want EAGAIN until VTIME passes", err)
	}
	e := waiter.NewEntry(waiter.EventIn)
	s.EventRegister(e)
	defer s.EventUnregister(e)
	select {
	case <-e.Ch:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after VTIME")
	}
	if n, err := s.Read(buf); n != 0 || err != nil {
		t.Errorf("read after VTIME: %d %v, want 0", n, err)
	}
}
