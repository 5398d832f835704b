package unix

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	sys "golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

var me = Cred{PID: 7, UID: 1000, GID: 1000}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err %v, want %v", what, err, want)
	}
}

func recv(t *testing.T, s *Socket, n int, peek bool) (string, RecvResult) {
	t.Helper()
	b := make([]byte, n)
	r, err := s.Recv(b, peek)
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return string(b[:r.N]), r
}

func TestStreamPair(t *testing.T) {
	ns := NewNamespace()
	a, b := ns.Pair(Stream, me)
	if _, err := a.Write([]byte("hello, ")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if got, _ := recv(t, b, 64, true); got != "hello, world" {
		t.Fatalf("peek %q", got)
	}
	if got, _ := recv(t, b, 3, false); got != "hel" {
		t.Fatalf("read %q", got)
	}
	if got, _ := recv(t, b, 64, false); got != "lo, world" {
		t.Fatalf("read %q", got)
	}
	_, err := b.Recv(make([]byte, 1), false)
	wantErr(t, "empty", err, sys.EAGAIN)
	if b.Readiness(waiter.EventIn) != 0 {
		t.Fatal("readable when empty")
	}
	if a.PeerCred() != me || b.PeerCred() != me {
		t.Fatal("socketpair peer credentials")
	}
	// The writer's close: end of file, and the peer's sends fail.
	a.Close()
	if r, err := b.Recv(make([]byte, 1), false); err != nil || r.N != 0 {
		t.Fatalf("after close: %v %v", r, err)
	}
	_, err = b.Write([]byte("x"))
	wantErr(t, "write to closed", err, sys.EPIPE)
	if got := b.Readiness(waiter.EventHUp | waiter.EventRdHUp | waiter.EventIn); got != waiter.EventHUp|waiter.EventRdHUp|waiter.EventIn {
		t.Fatalf("readiness after close %#x", got)
	}
}

func TestStreamSendBuffer(t *testing.T) {
	ns := NewNamespace()
	a, b := ns.Pair(Stream, me)
	a.SetOptions(func(o *Options) { o.SndBuf = BufSize(4096, true) })
	big := bytes.Repeat([]byte("x"), 20000)
	n, err := a.Write(big)
	if n != 8192 || !errors.Is(err, sys.EAGAIN) {
		t.Fatalf("partial write: %d %v", n, err)
	}
	if a.Readiness(waiter.EventOut) != 0 {
		t.Fatal("writable with a full send buffer")
	}
	e := waiter.NewEntry(waiter.EventOut)
	a.EventRegister(e)
	defer a.EventUnregister(e)
	recv(t, b, 8192, false)
	select {
	case <-e.Ch:
	default:
		t.Fatal("reading did not wake the writer")
	}
	if a.Readiness(waiter.EventOut) == 0 {
		t.Fatal("not writable after the reader drained")
	}
}

func TestShutdown(t *testing.T) {
	ns := NewNamespace()
	a, b := ns.Pair(Stream, me)
	wantErr(t, "bad how", a.Shutdown(5), sys.EINVAL)
	a.Write([]byte("last"))
	if err := a.Shutdown(sys.SHUT_WR); err != nil {
		t.Fatal(err)
	}
	_, err := a.Write([]byte("x"))
	wantErr(t, "write after SHUT_WR", err, sys.EPIPE)
	recv(t, b, 10, false)
	if r, err := b.Recv(make([]byte, 4), false); err != nil || r.N != 0 {
		t.Fatalf("EOF after SHUT_WR: %v %v", r, err)
	}
	if _, err := b.Write([]byte("back")); err != nil {
		t.Fatalf("the other direction: %v", err)
	}
}

func TestListenConnectAccept(t *testing.T) {
	ns := NewNamespace()
	srvCred := Cred{PID: 1, UID: 0, GID: 0}
	l := ns.New(Stream, srvCred)
	wantErr(t, "listen unbound", l.Listen(1, srvCred), sys.EINVAL)
	if err := l.BindAbstract("\x00srv"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "bind twice", l.BindAbstract("\x00other"), sys.EINVAL)
	l2 := ns.New(Stream, srvCred)
	wantErr(t, "name taken", l2.BindAbstract("\x00srv"), sys.EADDRINUSE)
	if err := ns.New(SeqPacket, srvCred).BindAbstract("\x00srv"); err != nil {
		t.Fatalf("abstract names are per type: %v", err)
	}
	c := ns.New(Stream, me)
	wantErr(t, "connect to non-listener", c.Connect(l, me), sys.ECONNREFUSED)
	if err := l.Listen(0, srvCred); err != nil {
		t.Fatal(err)
	}
	_, err := l.Accept()
	wantErr(t, "accept empty", err, sys.EAGAIN)
	if err := c.Connect(l, me); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "connect twice", c.Connect(l, me), sys.EISCONN)
	// Backlog 0 holds one connection; the next waits.
	c2 := ns.New(Stream, me)
	wantErr(t, "backlog full", c2.Connect(l, me), sys.EAGAIN)
	e := waiter.NewEntry(waiter.EventOut)
	l.EventRegister(e)
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Ch:
	default:
		t.Fatal("accept did not wake a waiting connect")
	}
	l.EventUnregister(e)
	if s.PeerCred() != me || c.PeerCred() != srvCred {
		t.Fatalf("peer credentials: %v %v", s.PeerCred(), c.PeerCred())
	}
	if s.Name() != "\x00srv" {
		t.Fatalf("accepted socket's name %q", s.Name())
	}
	if p, _ := c.PeerName(); p != "\x00srv" {
		t.Fatalf("client's peer name %q", p)
	}
	c.Write([]byte("ping"))
	if got, _ := recv(t, s, 10, false); got != "ping" {
		t.Fatalf("server read %q", got)
	}
	// A connection never accepted is reset when the listener closes.
	if err := c2.Connect(l, me); err != nil {
		t.Fatal(err)
	}
	l.Close()
	_, err = c2.Recv(make([]byte, 1), false)
	wantErr(t, "never accepted", err, sys.ECONNRESET)
	if _, err := ns.LookupAbstract(Stream, "\x00srv"); !errors.Is(err, sys.ECONNREFUSED) {
		t.Fatal("the name outlived the listener")
	}
}

func TestPathNames(t *testing.T) {
	ns := NewNamespace()
	l := ns.New(SeqPacket, me)
	key := InodeKey{Dev: 5, Ino: 99}
	if err := l.BindPath("/tmp/s", key); err != nil {
		t.Fatal(err)
	}
	if got, err := ns.LookupPath(key); err != nil || got != l {
		t.Fatalf("LookupPath: %v %v", got, err)
	}
	c := ns.New(Stream, me)
	l.Listen(1, me)
	wantErr(t, "type mismatch", c.Connect(l, me), sys.EPROTOTYPE)
	l.Close()
	if _, err := ns.LookupPath(key); !errors.Is(err, sys.ECONNREFUSED) {
		t.Fatal("a closed socket is still found")
	}
}

func TestAutobind(t *testing.T) {
	ns := NewNamespace()
	s := ns.New(Dgram, me)
	if err := s.Autobind(); err != nil {
		t.Fatal(err)
	}
	n := s.Name()
	if len(n) != 6 || n[0] != 0 {
		t.Fatalf("autobind name %q", n)
	}
	if err := s.Autobind(); err != nil || s.Name() != n {
		t.Fatal("a second autobind changed the name")
	}
}

func TestDgram(t *testing.T) {
	ns := NewNamespace()
	a, b := ns.New(Dgram, me), ns.New(Dgram, me)
	b.BindAbstract("\x00b")
	a.BindAbstract("\x00a")
	_, err := a.Send([]byte("x"), nil, nil)
	wantErr(t, "unconnected send", err, sys.ENOTCONN)
	for _, m := range []string{"one", "", "three"} {
		if _, err := a.Send([]byte(m), &Message{Cred: me}, b); err != nil {
			t.Fatal(err)
		}
	}
	got, r := recv(t, b, 2, false)
	if got != "on" || !r.Truncated || r.Len != 3 || r.From != "\x00a" {
		t.Fatalf("truncated: %q %+v", got, r)
	}
	if got, _ := recv(t, b, 10, false); got != "" {
		t.Fatalf("empty message: %q", got)
	}
	if got, _ := recv(t, b, 10, false); got != "three" {
		t.Fatalf("third: %q", got)
	}
	// Only the peer of a connected socket may send to it.
	c := ns.New(Dgram, me)
	if err := b.ConnectDgram(a); err != nil {
		t.Fatal(err)
	}
	_, err = c.Send([]byte("x"), nil, b)
	wantErr(t, "not the peer", err, sys.EPERM)
	// Over the send buffer.
	_, err = a.Send(make([]byte, DefaultBuf), nil, b)
	wantErr(t, "too big", err, sys.EMSGSIZE)
	// A full queue.
	var i int
	for i = 0; i < 100; i++ {
		if _, err = a.Send([]byte("q"), nil, b); err != nil {
			break
		}
	}
	wantErr(t, "queue full", err, sys.EAGAIN)
	if i != maxDgramQlen+1 {
		t.Fatalf("queued %d before EAGAIN", i)
	}
	// A dead connected peer: ECONNREFUSED once, then not connected.
	b.Close()
	a.ConnectDgram(nil)
	d, e := ns.Pair(Dgram, me)
	e.Close()
	_, err = d.Send([]byte("x"), nil, nil)
	wantErr(t, "dead peer", err, sys.ECONNREFUSED)
	_, err = d.Send([]byte("x"), nil, nil)
	wantErr(t, "after dead peer", err, sys.ENOTCONN)
}

func TestSeqPacket(t *testing.T) {
	ns := NewNamespace()
	a, b := ns.Pair(SeqPacket, me)
	a.Write([]byte("abc"))
	a.Write([]byte("de"))
	if got, r := recv(t, b, 2, false); got != "ab" || !r.Truncated {
		t.Fatalf("first: %q %+v", got, r)
	}
	if got, _ := recv(t, b, 10, false); got != "de" {
		t.Fatalf("second: %q", got)
	}
	a.Close()
	if r, err := b.Recv(make([]byte, 4), false); err != nil || r.N != 0 {
		t.Fatalf("EOF: %v %v", r, err)
	}
}

// nopFile is a vfs.File that records its close.
type nopFile struct{ closed bool }

func (f *nopFile) Read([]byte) (int, error)                         { return 0, nil }
func (f *nopFile) Write(p []byte) (int, error)                      { return len(p), nil }
func (f *nopFile) Pread([]byte, int64) (int, error)                 { return 0, nil }
func (f *nopFile) Pwrite([]byte, int64) (int, error)                { return 0, nil }
func (f *nopFile) Seek(int64, int) (int64, error)                   { return 0, nil }
func (f *nopFile) Stat() (sys.Stat_t, error)                        { return sys.Stat_t{}, nil }
func (f *nopFile) Getdents([]byte) (int, error)                     { return 0, nil }
func (f *nopFile) Ioctl(uint64, uint64, vfs.Memory) (uint64, error) { return 0, sys.ENOTTY }
func (f *nopFile) Close() error                                     { f.closed = true; return nil }

func TestRights(t *testing.T) {
	ns := NewNamespace()
	a, b := ns.Pair(Stream, me)
	f := &nopFile{}
	d := vfs.NewDescription(f, "", sys.O_RDWR)
	a.Write([]byte("before"))
	if _, err := a.Send([]byte("fd"), &Message{Rights: []*vfs.FileDescription{d}}, nil); err != nil {
		t.Fatal(err)
	}
	a.Write([]byte("after"))
	// A peek duplicates the references; the read runs on through the
	// segment with the descriptions and stops after it.
	_, r := recv(t, b, 64, true)
	if len(r.Rights) != 1 {
		t.Fatalf("peek rights: %d", len(r.Rights))
	}
	r.Rights[0].DecRef()
	got, r := recv(t, b, 64, false)
	if got != "beforefd" || len(r.Rights) != 1 || r.Rights[0] != d {
		t.Fatalf("read %q with %d rights", got, len(r.Rights))
	}
	if got, _ := recv(t, b, 64, false); got != "after" {
		t.Fatalf("then %q", got)
	}
	d.DecRef()
	if !f.closed {
		t.Fatal("the description was not closed with its last reference")
	}
	// Descriptions still queued are closed with the receiver.
	f2 := &nopFile{}
	d2 := vfs.NewDescription(f2, "", sys.O_RDWR)
	a.Send([]byte("x"), &Message{Rights: []*vfs.FileDescription{d2}}, nil)
	b.Close()
	if !f2.closed {
		t.Fatal("a queued description outlived the socket")
	}
}

func TestIoctlAndStat(t *testing.T) {
	ns := NewNamespace()
	a, b := ns.Pair(Dgram, me)
	a.Write([]byte("12345"))
	a.Write([]byte("12"))
	var m mem
	if _, err := b.Ioctl(fionread, 0, &m); err != nil || m.v != 5 {
		t.Fatalf("SIOCINQ of a datagram socket: %d %v", m.v, err)
	}
	if _, err := a.Ioctl(siocoutq, 0, &m); err != nil || m.v != 7 {
		t.Fatalf("SIOCOUTQ: %d %v", m.v, err)
	}
	if _, err := a.Ioctl(0x1234, 0, &m); !errors.Is(err, sys.ENOTTY) {
		t.Fatalf("unknown ioctl: %v", err)
	}
	st, _ := a.Stat()
	if st.Mode&sys.S_IFMT != sys.S_IFSOCK || st.Ino != a.Ino() {
		t.Fatalf("stat %+v", st)
	}
}

type mem struct{ v uint32 }

func (m *mem) CopyIn(uint64, []byte) (int, error) { return 0, nil }
func (m *mem) CopyOut(_ uint64, b []byte) (int, error) {
	m.v = uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
	return len(b), nil
}

func TestBufSize(t *testing.T) {
	for _, c := range []struct {
		in   int
		snd  bool
		want int
	}{{4096, true, 8192}, {1, true, minSndBuf}, {1, false, minRcvBuf}, {1 << 30, true, 2 * maxBuf}, {-5, true, minSndBuf}} {
		if got := BufSize(c.in, c.snd); got != c.want {
			t.Errorf("BufSize(%d, %v) = %d, want %d", c.in, c.snd, got, c.want)
		}
	}
}

func TestProcNet(t *testing.T) {
	ns := NewNamespace()
	l := ns.New(Stream, Cred{})
	if err := l.BindAbstract("\x00abc"); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(1, Cred{}); err != nil {
		t.Fatal(err)
	}
	a, b := ns.Pair(Dgram, Cred{})
	got := string(ns.ProcNet())
	want := "Num       RefCount Protocol Flags    Type St Inode Path\n" +
		fmt.Sprintf("0000000000000000: 00000002 00000000 00010000 0001 01 %5d @abc\n", l.Ino()) +
		fmt.Sprintf("0000000000000000: 00000002 00000000 00000000 0002 03 %5d\n", a.Ino()) +
		fmt.Sprintf("0000000000000000: 00000002 00000000 00000000 0002 03 %5d\n", b.Ino())
	if got != want {
		t.Errorf("/proc/net/unix =\n%s\nwant\n%s", got, want)
	}
	l.Close()
	a.Close()
	b.Close()
	if got := string(ns.ProcNet()); strings.Count(got, "\n") != 1 {
		t.Errorf("closed sockets listed:\n%s", got)
	}
}
