package inet

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func sockaddr4(ip string, port uint16) []byte {
	b := make([]byte, sockaddrInLen)
	binary.LittleEndian.PutUint16(b, unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	a := netip.MustParseAddr(ip).As4()
	copy(b[4:], a[:])
	return b
}

// eventually retries fn (which fails with EAGAIN while not ready).
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if err != unix.EAGAIN || time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestLoopbackTCP(t *testing.T) {
	st, err := NewStack()
	if err != nil {
		t.Fatal(err)
	}
	l, err := st.NewSocket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(sockaddr4("127.0.0.1", 0)); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(4); err != nil {
		t.Fatal(err)
	}
	port := binary.BigEndian.Uint16(l.Name()[2:])
	c, _ := st.NewSocket(unix.AF_INET, unix.SOCK_STREAM, 0)
	defer c.Close()
	if err := c.Connect(sockaddr4("127.0.0.1", port)); err != nil && err != unix.EINPROGRESS {
		t.Fatalf("connect: %v", err)
	}
	eventually(t, "connect", func() error {
		if c.Connecting() {
			return unix.EAGAIN
		}
		return c.ConnectResult()
	})
	var s *Socket
	eventually(t, "accept", func() error {
		f, _, err := l.Accept()
		if err == nil {
			s = f.(*Socket)
		}
		return err
	})
	defer s.Close()
	if n, err := c.Send([]byte("ping"), nil, 0); n != 4 || err != nil {
		t.Fatalf("send: %d %v", n, err)
	}
	buf := make([]byte, 8)
	eventually(t, "recv", func() error {
		r, err := s.Recv(buf, 0)
		if err == nil && string(buf[:r.N]) != "ping" {
			t.Errorf("got %q", buf[:r.N])
		}
		return err
	})
	if got := s.Readiness(0x4); got&0x4 == 0 {
		t.Errorf("connected socket not writable: %#x", got)
	}
	// A refused connection: nothing listens on port+1 (probably).
	r, _ := st.NewSocket(unix.AF_INET, unix.SOCK_STREAM, 0)
	defer r.Close()
	r.Connect(sockaddr4("127.0.0.1", port+1))
	eventually(t, "refused", func() error {
		if r.Connecting() {
			return unix.EAGAIN
		}
		if err := r.ConnectResult(); err != unix.ECONNREFUSED {
			t.Errorf("connect to a closed port: %v, want ECONNREFUSED", err)
		}
		return nil
	})
}

func TestInterfacesAndRoutes(t *testing.T) {
	st, err := NewStack()
	if err != nil {
		t.Fatal(err)
	}
	ifs := st.Interfaces()
	if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Index != LoopbackIndex || !ifs[0].Loopback || ifs[0].MTU != loopbackMTU {
		t.Fatalf("interfaces: %+v", ifs)
	}
	want := map[netip.Prefix]bool{netip.MustParsePrefix("127.0.0.1/8"): true, netip.MustParsePrefix("::1/128"): true}
	for _, p := range ifs[0].Addrs {
		delete(want, p)
	}
	if len(want) != 0 {
		t.Errorf("lo lacks %v: %v", want, ifs[0].Addrs)
	}
	if rs := st.Routes(); len(rs) != 2 {
		t.Errorf("routes: %+v", rs)
	}
}

func TestAddrEncoding(t *testing.T) {
	short := make([]byte, 10)
	binary.LittleEndian.PutUint16(short, unix.AF_INET6)
	a, err := parseAddr(unix.AF_INET6, short)
	if err != unix.EINVAL {
		t.Errorf("short sockaddr_in6: %v %v", a, err)
	}
	if _, err := parseAddr(unix.AF_INET, sockaddr4("1.2.3.4", 5)[:15]); err != unix.EINVAL {
		t.Errorf("short sockaddr_in: %v", err)
	}
	fa, err := parseAddr(unix.AF_INET, sockaddr4("1.2.3.4", 5))
	if err != nil || fa.Port != 5 {
		t.Fatalf("%v %v", fa, err)
	}
	// An IPv4 address on an AF_INET6 socket is given v4-mapped.
	b := encodeAddr(unix.AF_INET6, fa)
	if len(b) != sockaddrIn6Len || netip.AddrFrom16([16]byte(b[8:24])) != netip.MustParseAddr("::ffff:1.2.3.4") {
		t.Errorf("v4-mapped: % x", b)
	}
}

func TestProcNet(t *testing.T) {
	st, err := NewStack()
	if err != nil {
		t.Fatal(err)
	}
	l, _ := st.NewSocket(unix.AF_INET, unix.SOCK_STREAM, 0)
	defer l.Close()
	if err := l.Bind(sockaddr4("127.0.0.1", 0x1234)); err != nil {
		t.Fatal(err)
	}
	tcp, _ := st.ProcNet("tcp")
	if strings.Contains(string(tcp), ":1234") {
		t.Errorf("a bound, not listening socket is listed:\n%s", tcp)
	}
	if err := l.Listen(4); err != nil {
		t.Fatal(err)
	}
	tcp, _ = st.ProcNet("tcp")
	want := fmt.Sprintf("   0: 0100007F:1234 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 %d 1 ", l.Ino())
	if !strings.Contains(string(tcp), want) {
		t.Errorf("/proc/net/tcp lacks %q:\n%s", want, tcp)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(tcp), "\n"), "\n") {
		if len(line) != 149 {
			t.Errorf("line of %d bytes, want 149: %q", len(line), line)
		}
	}
	dev, _ := st.ProcNet("dev")
	if !strings.Contains(string(dev), "\n    lo: ") {
		t.Errorf("/proc/net/dev:\n%s", dev)
	}
	if b, _ := st.ProcNet("if_inet6"); string(b) != "00000000000000000000000000000001 01 80 10 80       lo\n" {
		t.Errorf("if_inet6 = %q", b)
	}
	if _, ok := st.ProcNet("nope"); ok {
		t.Error("ProcNet made an unknown file")
	}
}
