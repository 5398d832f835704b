package caps

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestHostSocket(t *testing.T) {
	exo, audit := newExo(t)
	id, err := exo.GrantHostNet("hostnet", 2)
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, exo)
	c := NewClient(s.conn)
	gs, err := c.Grants()
	if err != nil {
		t.Fatal(err)
	}
	g := byName(t, gs)["hostnet"]
	closeGrants(gs)
	if g.ID != id || g.Kind != KindHostNet || g.Size != 2 {
		t.Fatalf("grant = %+v, want hostnet %d with quota 2", g, id)
	}

	// A TCP socket works on loopback, is non-blocking and close-on-exec.
	f, err := c.HostSocket(id, unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd := fileFD(t, f)
	if fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
		t.Error("host socket is blocking")
	}
	if !isCloexec(t, f) {
		t.Error("host socket is not close-on-exec")
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*unix.SockaddrInet4).Port)))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	u, err := c.HostSocket(id, unix.AF_INET6, unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil && Errno(err) != unix.EAFNOSUPPORT {
		t.Fatal(err)
	}
	if err == nil {
		// The quota is 2: a third is refused until one is reported closed.
		if _, err := c.HostSocket(id, unix.AF_INET, unix.SOCK_DGRAM, 0); !errors.Is(err, ErrQuota) {
			t.Errorf("third socket: err = %v, want ErrQuota", err)
		}
		u.Close()
		if err := c.HostSocketClosed(id); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	if err := c.HostSocketClosed(id); err != nil {
		t.Fatal(err)
	}
	if n := exo.HostSockets(id); n != 0 {
		t.Errorf("open sockets = %d after closing all", n)
	}
	if err := c.HostSocketClosed(id); !errors.Is(err, ErrInvalid) {
		t.Errorf("closing more than were opened: err = %v, want ErrInvalid", err)
	}

	// Nothing but TCP and UDP over IP.
	for _, a := range []struct{ family, typ, proto int }{
		{unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP},
		{unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW},
		{unix.AF_PACKET, unix.SOCK_RAW, 0},
		{unix.AF_NETLINK, unix.SOCK_RAW, unix.NETLINK_ROUTE},
		{unix.AF_UNIX, unix.SOCK_STREAM, 0},
		{unix.AF_INET, unix.SOCK_DGRAM, unix.IPPROTO_ICMP},
		{unix.AF_INET, unix.SOCK_STREAM, unix.IPPROTO_UDP},
		{unix.AF_INET, unix.SOCK_SEQPACKET, 0},
		{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_NONBLOCK, 0},
	} {
		if _, err := c.HostSocket(id, a.family, a.typ, a.proto); !errors.Is(err, ErrDenied) {
			t.Errorf("socket(%d, %d, %d): err = %v, want ErrDenied", a.family, a.typ, a.proto, err)
		}
	}
	// Only through a live host-network handle.
	mem, err := exo.GrantMemory("memory", pageSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.HostSocket(mem, unix.AF_INET, unix.SOCK_STREAM, 0); !errors.Is(err, ErrWrongKind) {
		t.Errorf("through a memory handle: err = %v, want ErrWrongKind", err)
	}
	if _, err := c.Attenuate(id, RightRead); !errors.Is(err, ErrDenied) {
		t.Errorf("attenuate host network: err = %v, want ErrDenied", err)
	}
	if err := c.Revoke(id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HostSocket(id, unix.AF_INET, unix.SOCK_STREAM, 0); !errors.Is(err, ErrRevoked) {
		t.Errorf("after revoke: err = %v, want ErrRevoked", err)
	}
	if !strings.Contains(audit.String(), `"op":"socket"`) {
		t.Error("a denied socket request was not audited")
	}
}
