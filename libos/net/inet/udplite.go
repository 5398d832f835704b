package inet

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// UDP-Lite (RFC 3828, IPPROTO_UDPLITE) sockets.
//
// netstack has no UDP-Lite. A UDP-Lite datagram whose checksum covers the
// whole datagram (the default, and all a receiver can tell apart from UDP
// on a loopback path that never corrupts anything) behaves as a UDP one
// does; what sets the protocol apart for a program is its own port space,
// its protocol number and its two options. So UDP-Lite sockets are UDP
// endpoints of a second netstack, lite, that holds only the loopback
// interface with this sandbox's own addresses: its ports are apart from
// UDP's, and datagrams reach the sandbox's own UDP-Lite sockets. A
// destination outside the sandbox has no route (ENETUNREACH): the frames
// would go out as UDP.

// UDP-Lite's socket options (level SOL_UDPLITE, IPPROTO_UDPLITE), from
// linux/udp.h.
const (
	udpliteSendCscov = 10
	udpliteRecvCscov = 11
)

// newLiteStack returns the UDP-Lite stack: lo with 127.0.0.1/8 and ::1.
func newLiteStack() (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{udp.NewProtocol},
		HandleLocal:        true,
	})
	if err := s.CreateNICWithOptions(LoopbackIndex, loopback.New(), stack.NICOptions{Name: "lo"}); err != nil {
		return nil, fmt.Errorf("inet: UDP-Lite loopback interface: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: mustSubnet("127.0.0.0/8"), NIC: LoopbackIndex},
		{Destination: mustSubnet("::1/128"), NIC: LoopbackIndex},
	})
	for _, p := range []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")} {
		if err := addLiteAddress(s, p); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// addLiteAddress gives the UDP-Lite stack's lo the address of prefix p,
// with a route to that one address: only the sandbox itself is reached.
func addLiteAddress(s *stack.Stack, p netip.Prefix) error {
	a := tcpip.AddrFromSlice(p.Addr().AsSlice())
	proto := ipv4.ProtocolNumber
	if p.Addr().Is6() {
		proto = ipv6.ProtocolNumber
	}
	pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: a, PrefixLen: p.Bits()}}
	if err := s.AddProtocolAddress(LoopbackIndex, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("inet: UDP-Lite: add %s: %s", p, err)
	}
	if !p.Addr().IsLoopback() {
		host := netip.PrefixFrom(p.Addr(), p.Addr().BitLen())
		sn, err := subnetOf(host)
		if err != nil {
			return fmt.Errorf("inet: UDP-Lite: route to %s: %v", host, err)
		}
		s.AddRoute(tcpip.Route{Destination: sn, NIC: LoopbackIndex})
	}
	return nil
}

// udpliteCoverage is a checksum coverage as Linux's udp_lib_setsockopt
// stores it: 0 is the whole datagram, less than the 8 bytes of the header
// is 8, and it fits 16 bits.
func udpliteCoverage(v int32) int32 {
	switch {
	case v != 0 && v < 8:
		return 8
	case v > 0xffff:
		return 0xffff
	}
	return v
}

// isLite reports whether s is a UDP-Lite socket.
func (s *Socket) isLite() bool { return s.proto == unix.IPPROTO_UDPLITE }
