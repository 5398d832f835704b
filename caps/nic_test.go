package caps

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// inNetns runs fn on an OS thread moved into netns name. The thread is
// never returned to Go's pool (it ends with the goroutine), so a failure
// in between cannot leave another goroutine in the wrong netns.
func inNetns(t *testing.T, name string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + name)
		if err != nil {
			t.Errorf("open netns %s: %v", name, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns %s: %v", name, err)
			return
		}
		fn()
	}()
	<-done
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
}

// vethPair makes two network namespaces joined by a veth pair, with
// 10.214.0.1/24 on "exo-nica" in the first and 10.214.0.2/24 on
// "exo-nicb" in the second, removed when the test ends.
func vethPair(t *testing.T) (a, b string) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	a, b = fmt.Sprintf("exo-nic-a-%d", os.Getpid()), fmt.Sprintf("exo-nic-b-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", a).CombinedOutput(); err != nil {
		// (Bazel's sandbox, for one, has no writable /run/netns.)
		t.Skipf("cannot make a network namespace here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", a).Run() })
	sh(t, "ip", "netns", "add", b)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", b).Run() })
	sh(t, "ip", "link", "add", "exo-nica", "netns", a, "type", "veth", "peer", "name", "exo-nicb", "netns", b)
	sh(t, "ip", "-n", a, "addr", "add", "10.214.0.1/24", "dev", "exo-nica")
	sh(t, "ip", "-n", b, "addr", "add", "10.214.0.2/24", "dev", "exo-nicb")
	sh(t, "ip", "-n", a, "link", "set", "exo-nica", "up")
	sh(t, "ip", "-n", b, "link", "set", "exo-nicb", "up")
	sh(t, "ip", "-n", a, "route", "add", "default", "via", "10.214.0.254")
	return a, b
}

// udpFrame is an Ethernet/IPv4/UDP frame carrying payload (checksums left
// zero: only the addresses matter here).
func udpFrame(dst, src net.HardwareAddr, srcIP, dstIP netip.Addr, payload string) []byte {
	f := make([]byte, 14+20+8)
	copy(f, dst)
	copy(f[6:], src)
	binary.BigEndian.PutUint16(f[12:], unix.ETH_P_IP)
	ip := f[14:]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8] = 64
	ip[9] = unix.IPPROTO_UDP
	s, d := srcIP.As4(), dstIP.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[20+4:], uint16(8+len(payload)))
	return append(f, payload...)
}

// capture reads frames on a packet socket for d and returns those holding
// any of the markers.
func capture(fd int, d time.Duration, markers ...string) map[string]bool {
	got := map[string]bool{}
	deadline := time.Now().Add(d)
	buf := make([]byte, 65536)
	for time.Now().Before(deadline) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if n, _ := unix.Poll(pfd, 50); n <= 0 {
			continue
		}
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			continue
		}
		for _, m := range markers {
			if bytes.Contains(buf[:n], []byte(m)) {
				got[m] = true
			}
		}
	}
	return got
}

// TestNICFiltersFrames opens a NIC on one end of a veth pair and checks,
// from the other end, that exo passes the sandbox's own frames and drops
// forged ones, and that only frames for the NIC reach the sandbox.
func TestNICFiltersFrames(t *testing.T) {
	a, b := vethPair(t)
	log, _ := testLogger(t)
	var nic *NIC
	var hostAddrs []net.Addr
	inNetns(t, a, func() {
		var err error
		if nic, err = OpenNIC("exo-nica", NICOptions{}, log); err != nil {
			t.Errorf("OpenNIC: %v", err)
			return
		}
		ifc, _ := net.InterfaceByName("exo-nica")
		hostAddrs, _ = ifc.Addrs()
	})
	if nic == nil {
		t.FailNow()
	}
	want := netip.MustParsePrefix("10.214.0.1/24")
	found := false
	for _, p := range nic.Config.Addrs {
		found = found || p == want
	}
	if !found {
		t.Errorf("config addrs %v lack %v", nic.Config.Addrs, want)
	}
	defRoute := NICRoute{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.214.0.254")}
	found = false
	for _, r := range nic.Config.Routes {
		found = found || r == defRoute
	}
	if !found {
		t.Errorf("config routes %v lack the default route", nic.Config.Routes)
	}
	for _, ha := range hostAddrs {
		if ipn, ok := ha.(*net.IPNet); ok && ipn.IP.To4() != nil {
			t.Errorf("the host interface still has %v", ha)
		}
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	nic.relay(fds[0])
	sentry := fds[1]
	defer unix.Close(sentry)

	var peerMAC net.HardwareAddr
	var pfd int
	inNetns(t, b, func() {
		ifc, err := net.InterfaceByName("exo-nicb")
		if err != nil {
			t.Errorf("peer: %v", err)
			return
		}
		peerMAC = ifc.HardwareAddr
		pfd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err == nil {
			err = unix.Bind(pfd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc.Index})
		}
		if err != nil {
			t.Errorf("peer packet socket: %v", err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	defer unix.Close(pfd)

	mine, peer, other := netip.MustParseAddr("10.214.0.1"), netip.MustParseAddr("10.214.0.2"), netip.MustParseAddr("10.214.0.99")
	frames := map[string][]byte{
		"LEGIT-frame":  udpFrame(peerMAC, nic.mac, mine, peer, "LEGIT-frame"),
		"FORGED-ip":    udpFrame(peerMAC, nic.mac, other, peer, "FORGED-ip"),
		"FORGED-mac":   udpFrame(peerMAC, net.HardwareAddr{2, 0, 0, 0, 0, 1}, mine, peer, "FORGED-mac"),
		"FORGED-proto": append(append(append([]byte{}, peerMAC...), nic.mac...), 0x88, 0xb5, 'F', 'O', 'R', 'G', 'E', 'D', '-', 'p', 'r', 'o', 't', 'o'),
	}
	for _, f := range frames {
		f = append(make([]byte, VnetHdrLen), f...) // no offload asked for
		if _, err := unix.Write(sentry, f); err != nil {
			t.Fatalf("sentry write: %v", err)
		}
	}
	got := capture(pfd, time.Second, "LEGIT-frame", "FORGED-ip", "FORGED-mac", "FORGED-proto")
	if !got["LEGIT-frame"] {
		t.Errorf("the sandbox's own frame did not leave the interface")
	}
	for _, m := range []string{"FORGED-ip", "FORGED-mac", "FORGED-proto"} {
		if got[m] {
			t.Errorf("frame %s left the interface", m)
		}
	}
	if d := nic.Drops.Load(); d != 3 {
		t.Errorf("drops = %d, want 3", d)
	}

	// Ingress: a frame for the NIC arrives, one for another MAC does not.
	for _, f := range [][]byte{
		udpFrame(nic.mac, peerMAC, peer, mine, "TO-SANDBOX"),
		udpFrame(net.HardwareAddr{2, 0, 0, 0, 0, 2}, peerMAC, peer, other, "NOT-FOR-SANDBOX"),
	} {
		if _, err := unix.Write(pfd, f); err != nil {
			t.Fatalf("peer write: %v", err)
		}
	}
	got = capture(sentry, time.Second, "TO-SANDBOX", "NOT-FOR-SANDBOX")
	if !got["TO-SANDBOX"] {
		t.Errorf("a frame to the NIC's MAC did not reach the sandbox")
	}
	if got["NOT-FOR-SANDBOX"] {
		t.Errorf("a frame to another MAC reached the sandbox")
	}

	// Close gives the host its address back.
	inNetns(t, a, func() {
		if err := nic.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		ifc, _ := net.InterfaceByName("exo-nica")
		addrs, _ := ifc.Addrs()
		back := false
		for _, ha := range addrs {
			back = back || ha.String() == "10.214.0.1/24"
		}
		if !back {
			t.Errorf("after Close the host interface has %v, want 10.214.0.1/24 back", addrs)
		}
		routes, err := readRoutes("exo-nica")
		back = false
		for _, r := range routes {
			back = back || r == defRoute
		}
		if err != nil || !back {
			t.Errorf("after Close the routes are %v (%v), want the default route back", routes, err)
		}
	})
}

func TestCheckEgressARP(t *testing.T) {
	mac := net.HardwareAddr{2, 1, 2, 3, 4, 5}
	n := &NIC{mac: mac, allowed: map[netip.Addr]bool{netip.MustParseAddr("10.0.0.1"): true}}
	arp := func(sha net.HardwareAddr, spa [4]byte) []byte {
		f := make([]byte, 42)
		copy(f, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		copy(f[6:], mac)
		binary.BigEndian.PutUint16(f[12:], unix.ETH_P_ARP)
		copy(f[22:], sha)
		copy(f[28:], spa[:])
		return f
	}
	if err := n.CheckEgress(arp(mac, [4]byte{10, 0, 0, 1})); err != nil {
		t.Errorf("own ARP refused: %v", err)
	}
	if n.CheckEgress(arp(mac, [4]byte{10, 0, 0, 2})) == nil {
		t.Errorf("ARP for another address passed")
	}
	if n.CheckEgress(arp(net.HardwareAddr{2, 0, 0, 0, 0, 9}, [4]byte{10, 0, 0, 1})) == nil {
		t.Errorf("ARP with another sender MAC passed")
	}
	if n.CheckEgress([]byte{1, 2, 3}) == nil {
		t.Errorf("a runt frame passed")
	}
}

// TestCheckEgressVnetHeader: the sandbox may ask the host for checksum
// completion and TCP segmentation, nothing else, and the frame behind the
// header is checked as ever.
func TestCheckEgressVnetHeader(t *testing.T) {
	mac := net.HardwareAddr{2, 1, 2, 3, 4, 5}
	mine := netip.MustParseAddr("10.0.0.1")
	n := &NIC{mac: mac, allowed: map[netip.Addr]bool{mine: true}}
	peer := net.HardwareAddr{2, 9, 9, 9, 9, 9}
	udp := udpFrame(peer, mac, mine, netip.MustParseAddr("10.0.0.2"), "payload-of-some-length")
	tcp := append([]byte{}, udp...)
	tcp[23] = unix.IPPROTO_TCP
	forged := udpFrame(peer, mac, netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("10.0.0.2"), "payload")
	hdr := func(flags, gso byte, gsoSize, csumStart, csumOff uint16) []byte {
		h := make([]byte, VnetHdrLen)
		h[0], h[1] = flags, gso
		binary.LittleEndian.PutUint16(h[2:], 54)
		binary.LittleEndian.PutUint16(h[4:], gsoSize)
		binary.LittleEndian.PutUint16(h[6:], csumStart)
		binary.LittleEndian.PutUint16(h[8:], csumOff)
		return h
	}
	rec := func(h, f []byte) []byte { return append(append([]byte{}, h...), f...) }
	for _, c := range []struct {
		name string
		rec  []byte
		ok   bool
	}{
		{"no offload", rec(make([]byte, VnetHdrLen), udp), true},
		{"checksum completion", rec(hdr(vnetFlagNeedsCsum, vnetGSONone, 0, 34, 6), udp), true},
		{"TCPv4 segmentation", rec(hdr(vnetFlagNeedsCsum, vnetGSOTCPv4, 1448, 34, 16), tcp), true},
		{"TCPv4 segmentation with ECN", rec(hdr(vnetFlagNeedsCsum, vnetGSOTCPv4|vnetGSOECN, 1448, 34, 16), tcp), true},
		{"segmentation of UDP", rec(hdr(vnetFlagNeedsCsum, vnetGSOTCPv4, 1448, 34, 16), udp), false},
		{"TCPv6 segmentation of IPv4", rec(hdr(vnetFlagNeedsCsum, vnetGSOTCPv6, 1448, 34, 16), tcp), false},
		{"UFO", rec(hdr(vnetFlagNeedsCsum, 3, 1448, 34, 6), udp), false},
		{"segmentation without checksum", rec(hdr(0, vnetGSOTCPv4, 1448, 0, 0), tcp), false},
		{"segment size 0", rec(hdr(vnetFlagNeedsCsum, vnetGSOTCPv4, 0, 34, 16), tcp), false},
		{"unknown flag", rec(hdr(vnetFlagNeedsCsum|2, vnetGSONone, 0, 34, 6), udp), false},
		{"checksum past the frame", rec(hdr(vnetFlagNeedsCsum, vnetGSONone, 0, 1000, 6), udp), false},
		{"forged source behind a clean header", rec(make([]byte, VnetHdrLen), forged), false},
		{"header only", make([]byte, VnetHdrLen), false},
		{"runt", []byte{0, 0, 0}, false},
	} {
		err := n.checkEgressRecord(c.rec)
		if (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}
