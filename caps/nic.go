package caps

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The NIC manager. A NIC handle stands for one network interface of the
// netns exo runs in (the veth a CNI plugin or docker made). Exo holds a raw
// packet socket (AF_PACKET) bound to it and relays frames between it and
// the sentry's end of a SOCK_SEQPACKET pair, one frame per record, each
// after a virtio-net header (VnetHdrLen) so that TCP segments up to 64 KiB
// cross in one record and the host kernel cuts them (GSO):
//
//   - ingress: a classic BPF filter on the packet socket (checked by the
//     host kernel) passes only frames to the NIC's MAC, broadcast and
//     multicast, so the sandbox sees nothing meant for others;
//   - egress: exo checks every frame the sentry sends: the source MAC must
//     be the NIC's, an IPv4 or IPv6 source one of the addresses granted,
//     an ARP sender the NIC's MAC and address; other ethertypes are
//     dropped. A rate quota (bytes per second, token bucket) applies on
//     top when asked for.
//
// Egress is checked in exo rather than by a tc filter on the interface
// because a packet socket's sends can skip the qdisc layer
// (PACKET_QDISC_BYPASS) and with it tc's egress hook; the sentry never
// holds the packet socket, so nothing it does can skip exo's check. The
// price is one extra copy and wake-up per frame.
//
// The interface's addresses are taken off it on the host, so the host's
// stack in that netns neither answers ARP/NDP for them nor sees their TCP
// and UDP traffic: the library OS's stack owns them. NIC.Close puts them
// back.

// NICRoute is one route of the interface.
type NICRoute struct {
	Dst     netip.Prefix `json:"dst"`
	Gateway netip.Addr   `json:"gateway,omitzero"`
}

// NICConfig is what the library OS needs to run the interface, read from
// the netns by exo.
type NICConfig struct {
	Name   string         `json:"name"`
	MAC    string         `json:"mac"`
	MTU    int            `json:"mtu"`
	Addrs  []netip.Prefix `json:"addrs"`
	Routes []NICRoute     `json:"routes,omitempty"`
	// VnetHdr says every record starts with a virtio-net header.
	VnetHdr bool `json:"vnetHdr,omitempty"`
}

// NICOptions are the quotas of a NIC handle.
type NICOptions struct {
	// RateBytes caps egress at this many bytes per second (0: no cap).
	RateBytes int64
}

// NIC is an opened interface: its configuration and exo's packet socket.
type NIC struct {
	Config  NICConfig
	index   int
	mac     net.HardwareAddr
	allowed map[netip.Addr]bool
	fd      int
	opts    NICOptions
	log     *slog.Logger

	// Drops counts egress frames refused (forged or over quota); Sent and
	// Received count frames relayed.
	Drops, Sent, Received atomic.Uint64
}

// ReadNICConfig reads interface name's MAC, MTU, addresses and routes
// from the current netns.
func ReadNICConfig(name string) (NICConfig, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return NICConfig{}, fmt.Errorf("caps: nic %q: %w", name, err)
	}
	if len(ifc.HardwareAddr) != 6 {
		return NICConfig{}, fmt.Errorf("caps: nic %q: not an Ethernet interface: %w", name, ErrInvalid)
	}
	cfg := NICConfig{Name: name, MAC: ifc.HardwareAddr.String(), MTU: ifc.MTU}
	addrs, err := ifc.Addrs()
	if err != nil {
		return NICConfig{}, fmt.Errorf("caps: nic %q: addresses: %w", name, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, _ := netip.AddrFromSlice(ipn.IP)
		ones, _ := ipn.Mask.Size()
		cfg.Addrs = append(cfg.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
	}
	if cfg.Routes, err = readRoutes(name); err != nil {
		return NICConfig{}, fmt.Errorf("caps: nic %q: routes: %w", name, err)
	}
	return cfg, nil
}

// readRoutes parses the calling thread's netns's /proc/net/route and ipv6_route for the
// interface's routes.
func readRoutes(name string) ([]NICRoute, error) {
	var out []NICRoute
	f, err := os.Open("/proc/thread-self/net/route")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 8 || fl[0] != name {
			continue
		}
		dst, err1 := strconv.ParseUint(fl[1], 16, 32)
		gw, err2 := strconv.ParseUint(fl[2], 16, 32)
		mask, err3 := strconv.ParseUint(fl[7], 16, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		le4 := func(v uint64) netip.Addr {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], uint32(v))
			return netip.AddrFrom4(b)
		}
		m := le4(mask).As4()
		bits := 0
		for _, x := range m {
			for ; x&0x80 != 0; x <<= 1 {
				bits++
			}
		}
		r := NICRoute{Dst: netip.PrefixFrom(le4(dst), bits)}
		if gw != 0 {
			r.Gateway = le4(gw)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	f6, err := os.Open("/proc/thread-self/net/ipv6_route")
	if err != nil {
		return out, nil // no IPv6 in this kernel
	}
	defer f6.Close()
	sc = bufio.NewScanner(f6)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 10 || fl[9] != name {
			continue
		}
		dst, err1 := hex.DecodeString(fl[0])
		plen, err2 := strconv.ParseUint(fl[1], 16, 8)
		gw, err3 := hex.DecodeString(fl[4])
		if err1 != nil || err2 != nil || err3 != nil || len(dst) != 16 || len(gw) != 16 {
			continue
		}
		d := netip.AddrFrom16([16]byte(dst))
		if d.IsMulticast() {
			continue
		}
		r := NICRoute{Dst: netip.PrefixFrom(d, int(plen))}
		if g := netip.AddrFrom16([16]byte(gw)); !g.IsUnspecified() {
			r.Gateway = g
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

// OpenNIC opens interface name for a sandbox: it reads its configuration,
// opens and filters the packet socket, and takes the addresses off the
// interface on the host.
func OpenNIC(name string, opts NICOptions, log *slog.Logger) (*NIC, error) {
	if log == nil {
		log = slog.Default()
	}
	cfg, err := ReadNICConfig(name)
	if err != nil {
		return nil, err
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("caps: nic %q: %w", name, err)
	}
	n := &NIC{Config: cfg, index: ifc.Index, mac: ifc.HardwareAddr, allowed: make(map[netip.Addr]bool), opts: opts, log: log}
	for _, p := range cfg.Addrs {
		n.allowed[p.Addr()] = true
	}
	if n.fd, err = openPacket(ifc.Index, ifc.HardwareAddr); err != nil {
		return nil, fmt.Errorf("caps: nic %q: %w", name, err)
	}
	n.Config.VnetHdr = true
	for _, p := range cfg.Addrs {
		if err := delAddr(ifc.Index, p); err != nil {
			unix.Close(n.fd)
			return nil, fmt.Errorf("caps: nic %q: take %s off the host: %w", name, p, err)
		}
	}
	log.Info("caps: nic opened", "name", name, "mac", cfg.MAC, "mtu", cfg.MTU, "addrs", cfg.Addrs)
	return n, nil
}

// openPacket returns an AF_PACKET socket bound to the interface, with the
// ingress filter attached and locked.
func openPacket(index int, mac net.HardwareAddr) (int, error) {
	proto := htons(unix.ETH_P_ALL)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return -1, fmt.Errorf("packet socket: %w", err)
	}
	fail := func(what string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("packet socket: %s: %w", what, err)
	}
	prog := ingressFilter(mac)
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fail("attach filter", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_LOCK_FILTER, 1); err != nil {
		return fail("lock filter", err)
	}
	// The frames exo sends for the sandbox are not the sandbox's to
	// receive back.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1); err != nil {
		return fail("ignore outgoing", err)
	}
	// Room for a burst of 64 KiB segments while exo or the sentry is
	// not scheduled: the default (rmem_default, ~200 KiB) holds three,
	// and every frame dropped here is a retransmission for the peer.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20); err != nil {
		return fail("receive buffer", err)
	}
	// Frames carry a virtio-net header both ways, so the sandbox's stack
	// can hand the host a 64 KiB TCP segment for the kernel to cut
	// (GSO), and receive the large segments the peer's stack sends.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
		return fail("vnet header", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: index}); err != nil {
		return fail("bind", err)
	}
	// Frames that arrived between socket() and the filter are dropped.
	for {
		var b [1]byte
		if _, _, err := unix.Recvfrom(fd, b[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
			break
		}
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// ingressFilter accepts frames whose destination is mac, and broadcast and
// multicast frames (the group bit of the first octet).
func ingressFilter(mac net.HardwareAddr) []unix.SockFilter {
	hi := binary.BigEndian.Uint32(mac[0:4])
	lo := uint32(binary.BigEndian.Uint16(mac[4:6]))
	return []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 2, K: hi},
		{Code: unix.BPF_LD | unix.BPF_H | unix.BPF_ABS, K: 4},
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 3, Jf: 0, K: lo},
		{Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 0},
		{Code: unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K, Jt: 1, Jf: 0, K: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0},
		{Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
	}
}

// rtattr encodes one rtnetlink attribute.
func rtattr(typ uint16, v []byte) []byte {
	h := make([]byte, 4, 4+len(v)+3)
	binary.LittleEndian.PutUint16(h, uint16(4+len(v)))
	binary.LittleEndian.PutUint16(h[2:], typ)
	h = append(h, v...)
	for len(h)%4 != 0 {
		h = append(h, 0)
	}
	return h
}

// rtnl sends one rtnetlink request with an acknowledgement asked for and
// returns the kernel's answer.
func rtnl(typ, flags uint16, body []byte) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	msg := make([]byte, 16, 16+len(body))
	binary.LittleEndian.PutUint32(msg, uint32(16+len(body)))
	binary.LittleEndian.PutUint16(msg[4:], typ)
	binary.LittleEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	binary.LittleEndian.PutUint32(msg[8:], 1)
	msg = append(msg, body...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	n, _, err := unix.Recvfrom(fd, buf, 0)
	if err != nil {
		return err
	}
	if n < 20 || binary.LittleEndian.Uint16(buf[4:]) != unix.NLMSG_ERROR {
		return errors.New("unexpected rtnetlink answer")
	}
	if e := int32(binary.LittleEndian.Uint32(buf[16:])); e != 0 {
		return unix.Errno(-e)
	}
	return nil
}

func family(a netip.Addr) byte {
	if a.Is6() {
		return unix.AF_INET6
	}
	return unix.AF_INET
}

// addrMsg is an ifaddrmsg for p on interface index.
func addrMsg(index int, p netip.Prefix) []byte {
	body := []byte{family(p.Addr()), byte(p.Bits()), 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(body[4:], uint32(index))
	a := p.Addr().AsSlice()
	body = append(body, rtattr(unix.IFA_LOCAL, a)...)
	return append(body, rtattr(unix.IFA_ADDRESS, a)...)
}

// delAddr removes p from interface index.
func delAddr(index int, p netip.Prefix) error {
	err := rtnl(unix.RTM_DELADDR, 0, addrMsg(index, p))
	if err == unix.EADDRNOTAVAIL {
		return nil // gone already (an IPv6 address can vanish with its peer)
	}
	return err
}

// Close stops using the interface and gives the host back what OpenNIC
// took: the addresses and the routes through a gateway (the kernel makes
// the on-link ones again with the addresses). The relay, if any, ends when
// the sentry closes its end.
func (n *NIC) Close() error {
	var errs []error
	for _, p := range n.Config.Addrs {
		if p.Addr().Is6() && p.Addr().IsLinkLocalUnicast() {
			continue // the kernel made it; it comes back with the link
		}
		if err := rtnl(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, addrMsg(n.index, p)); err != nil && err != unix.EEXIST {
			errs = append(errs, fmt.Errorf("restore %s: %w", p, err))
		}
	}
	for _, r := range n.Config.Routes {
		if !r.Gateway.IsValid() {
			continue
		}
		body := []byte{family(r.Dst.Addr()), byte(r.Dst.Bits()), 0, 0, unix.RT_TABLE_MAIN, unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST, 0, 0, 0, 0}
		if r.Dst.Bits() > 0 {
			body = append(body, rtattr(unix.RTA_DST, r.Dst.Addr().AsSlice())...)
		}
		body = append(body, rtattr(unix.RTA_GATEWAY, r.Gateway.AsSlice())...)
		body = append(body, rtattr(unix.RTA_OIF, binary.LittleEndian.AppendUint32(nil, uint32(n.index)))...)
		if err := rtnl(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body); err != nil && err != unix.EEXIST {
			errs = append(errs, fmt.Errorf("restore route %s via %s: %w", r.Dst, r.Gateway, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("caps: nic %q: %w", n.Config.Name, err)
	}
	return nil
}

// VnetHdrLen is the size of the virtio-net header (struct
// virtio_net_hdr) that starts every record on the sentry's pair.
const VnetHdrLen = 10

// The virtio-net header's values the sandbox may use (linux/virtio_net.h).
const (
	vnetFlagNeedsCsum = 1
	vnetGSONone       = 0
	vnetGSOTCPv4      = 1
	vnetGSOTCPv6      = 4
	vnetGSOECN        = 0x80
)

// checkEgressRecord checks a record from the sentry: a virtio-net header
// asking for nothing but checksum completion and TCP segmentation, within
// the frame, and then the frame itself (CheckEgress). The kernel checks
// the header again when exo sends it; a segmented packet's segments carry
// the checked frame's addresses.
func (n *NIC) checkEgressRecord(rec []byte) error {
	if len(rec) < VnetHdrLen {
		return ErrForged
	}
	h, frame := rec[:VnetHdrLen], rec[VnetHdrLen:]
	flags, gso := h[0], h[1]&^vnetGSOECN
	hdrLen := int(binary.LittleEndian.Uint16(h[2:]))
	gsoSize := binary.LittleEndian.Uint16(h[4:])
	csumStart, csumOff := int(binary.LittleEndian.Uint16(h[6:])), int(binary.LittleEndian.Uint16(h[8:]))
	if flags&^vnetFlagNeedsCsum != 0 || hdrLen > len(frame) {
		return ErrForged
	}
	if flags&vnetFlagNeedsCsum != 0 && csumStart+csumOff+2 > len(frame) {
		return ErrForged
	}
	if err := n.CheckEgress(frame); err != nil {
		return err
	}
	switch gso {
	case vnetGSONone:
		return nil
	case vnetGSOTCPv4:
		if binary.BigEndian.Uint16(frame[12:14]) != unix.ETH_P_IP || frame[23] != unix.IPPROTO_TCP {
			return ErrForged
		}
	case vnetGSOTCPv6:
		if binary.BigEndian.Uint16(frame[12:14]) != unix.ETH_P_IPV6 || frame[20] != unix.IPPROTO_TCP {
			return ErrForged
		}
	default:
		return ErrForged
	}
	if gsoSize == 0 || flags&vnetFlagNeedsCsum == 0 {
		return ErrForged
	}
	return nil
}

// ErrForged is why an egress frame is dropped.
var ErrForged = errors.New("frame not from the sandbox's addresses")

// CheckEgress decides whether the sandbox may send frame.
func (n *NIC) CheckEgress(frame []byte) error {
	if len(frame) < 14 || !bytes.Equal(frame[6:12], n.mac) {
		return ErrForged
	}
	switch binary.BigEndian.Uint16(frame[12:14]) {
	case unix.ETH_P_IP:
		if len(frame) < 34 || frame[14]>>4 != 4 {
			return ErrForged
		}
		if !n.allowed[netip.AddrFrom4([4]byte(frame[26:30]))] {
			return ErrForged
		}
	case unix.ETH_P_IPV6:
		if len(frame) < 54 || frame[14]>>4 != 6 {
			return ErrForged
		}
		src := netip.AddrFrom16([16]byte(frame[22:38]))
		// The unspecified source is duplicate address detection's.
		if !n.allowed[src] && !src.IsUnspecified() {
			return ErrForged
		}
	case unix.ETH_P_ARP:
		if len(frame) < 42 || !bytes.Equal(frame[22:28], n.mac) {
			return ErrForged
		}
		spa := netip.AddrFrom4([4]byte(frame[28:32]))
		if !n.allowed[spa] && !spa.IsUnspecified() {
			return ErrForged
		}
	default:
		return ErrForged
	}
	return nil
}

// relay moves frames between the packet socket and the exo end of the
// sentry's pair until the sentry closes its end.
//
// Both sockets are non-blocking and waited on through Go's poller, and
// each wake-up drains every frame queued: a goroutine parked in a blocking
// read would hold a P in a syscall, which keeps the runtime's sysmon
// retaking it every 20 µs and waking threads for nothing (measured: a
// third of the context switches of a sandboxed redis under load). A frame
// that finds the other side full is dropped, as a NIC drops on a full
// ring; TCP sends it again.
func (n *NIC) relay(exoEnd int) {
	files := make([]*os.File, 2)
	conns := make([]syscall.RawConn, 2)
	for i, fd := range []int{n.fd, exoEnd} {
		if err := unix.SetNonblock(fd, true); err != nil {
			n.log.Error("caps: nic: relay not started", "name", n.Config.Name, "err", err)
			unix.Close(n.fd)
			unix.Close(exoEnd)
			return
		}
		files[i] = os.NewFile(uintptr(fd), "nic-"+n.Config.Name)
		conns[i], _ = files[i].SyscallConn()
	}
	packet, sentry := conns[0], conns[1]
	var once sync.Once
	stop := func() {
		once.Do(func() {
			files[0].Close()
			files[1].Close()
		})
	}
	go func() {
		defer stop()
		buf := make([]byte, VnetHdrLen+65536+14)
		n.pump(packet, sentry, buf, func(frame []byte) bool {
			n.Received.Add(1)
			return true
		})
	}()
	go func() {
		defer stop()
		buf := make([]byte, VnetHdrLen+65536+14)
		tokens, last := float64(0), time.Now()
		var loggedDrop atomic.Bool
		n.pump(sentry, packet, buf, func(frame []byte) bool {
			if err := n.checkEgressRecord(frame); err != nil {
				n.Drops.Add(1)
				if !loggedDrop.Swap(true) {
					n.log.Warn("caps: nic: dropped a frame the sandbox may not send (logged once)", "name", n.Config.Name, "err", err)
				}
				return false
			}
			if r := n.opts.RateBytes; r > 0 {
				now := time.Now()
				tokens = min(tokens+now.Sub(last).Seconds()*float64(r), float64(r))
				last = now
				wire := float64(len(frame) - VnetHdrLen)
				if tokens < wire {
					n.Drops.Add(1)
					return false
				}
				tokens -= wire
			}
			n.Sent.Add(1)
			return true
		})
	}()
}

// rawRead and rawWrite call read and write on a non-blocking socket without
// telling the Go scheduler: they never block, and a call the scheduler
// knows of that takes longer than 20 µs (a write to the veth runs the
// peer's receive path) makes sysmon hand the P to another thread.
func rawRead(fd uintptr, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd uintptr, b []byte) error {
	_, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return e
	}
	return nil
}

// pump copies frames from src to dst until src ends or fails, passing
// each through pass (false drops it).
func (n *NIC) pump(src, dst syscall.RawConn, buf []byte, pass func([]byte) bool) {
	var failed error
	write := func(frame []byte) {
		dst.Write(func(fd uintptr) bool {
			for {
				err := rawWrite(fd, frame)
				switch err {
				case nil, unix.EAGAIN, unix.ENOBUFS, unix.EMSGSIZE:
					return true
				case unix.EINTR:
					continue
				}
				failed = err
				return true
			}
		})
	}
	for failed == nil {
		err := src.Read(func(fd uintptr) bool {
			for failed == nil {
				k, err := rawRead(fd, buf)
				switch {
				case err == unix.EAGAIN:
					return false
				case err == unix.EINTR:
					continue
				case err != nil:
					failed = err
				case k == 0:
					failed = io.EOF
				default:
					if pass(buf[:k]) {
						write(buf[:k])
					}
				}
			}
			return true
		})
		if err != nil {
			return
		}
	}
}

// GrantNIC creates a NIC handle: the sentry's end of a SOCK_SEQPACKET pair
// whose other end exo relays to n's packet socket, checking every frame.
func (e *Exo) GrantNIC(name string, n *NIC) (ID, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("caps: grant nic %q: %w", name, err)
	}
	for _, fd := range fds {
		// Room for a burst of full-size frames each way.
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	f := os.NewFile(uintptr(fds[1]), "nic:"+name)
	id, err := e.table.insert(HandleInfo{Kind: KindNIC, Rights: RightRead | RightWrite, Name: name}, resource{file: f})
	if err != nil {
		f.Close()
		unix.Close(fds[0])
		return 0, fmt.Errorf("caps: grant nic %q: %w", name, err)
	}
	n.relay(fds[0])
	return id, nil
}
