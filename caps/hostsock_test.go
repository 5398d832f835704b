package caps

import (
	"errors"
	"net"
	"os"
	"os/exec"
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

// TestSentryFilter runs the sentry's network filter in a child process,
// in each mode.
func TestSentryFilter(t *testing.T) {
	for _, mode := range []string{"sandbox", "host"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFilter$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "CAPS_TEST_FILTER="+mode)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "PASS") {
				t.Fatalf("child: %v\n%s", err, out)
			}
		})
	}
}

// TestHelperFilter is the child half of TestSentryFilter.
func TestHelperFilter(t *testing.T) {
	mode := os.Getenv("CAPS_TEST_FILTER")
	if mode == "" {
		t.Skip("child-process helper")
	}
	n := SentryNetSandbox
	if mode == "host" {
		n = SentryNetHost
	}
	// A socket made before, as exo would grant it, and the channel.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := InstallSentryFilter(n); err != nil {
		t.Fatal(err)
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6, unix.AF_UNIX, unix.AF_PACKET, unix.AF_NETLINK} {
		if s, err := unix.Socket(fam, unix.SOCK_DGRAM, 0); err != unix.EPERM {
			unix.Close(s)
			t.Errorf("socket(%d) = %v, want EPERM", fam, err)
		}
	}
	if _, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0); err != unix.EPERM {
		t.Errorf("socketpair = %v, want EPERM", err)
	}
	err = unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
	if n == SentryNetHost && err != nil {
		t.Errorf("host mode: bind on a granted socket = %v", err)
	}
	if n == SentryNetSandbox && err != unix.EPERM {
		t.Errorf("sandbox mode: bind = %v, want EPERM", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: 9, Addr: [4]byte{127, 0, 0, 1}}); (n == SentryNetSandbox) != (err == unix.EPERM) {
		t.Errorf("%s mode: connect = %v", mode, err)
	}
	// The capability channel still works, from every thread.
	done := make(chan error)
	go func() {
		_, err := unix.Write(pair[0], []byte("x"))
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, _, _, _, err := unix.Recvmsg(pair[1], b[:], nil, 0); err != nil {
		t.Errorf("recvmsg on the channel: %v", err)
	}
}
