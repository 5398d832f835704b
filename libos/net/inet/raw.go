package inet

import (
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	gwaiter "gvisor.dev/gvisor/pkg/waiter"
)

// pingProto is the netstack protocol of a ping socket (SOCK_DGRAM with
// IPPROTO_ICMP on AF_INET, IPPROTO_ICMPV6 on AF_INET6).
func pingProto(family, proto int) (tcpip.TransportProtocolNumber, bool) {
	switch {
	case family == unix.AF_INET && proto == unix.IPPROTO_ICMP:
		return icmp.ProtocolNumber4, true
	case family == unix.AF_INET6 && proto == unix.IPPROTO_ICMPV6:
		return icmp.ProtocolNumber6, true
	}
	return 0, false
}

// NewRawSocket makes a SOCK_RAW socket of protocol proto; the caller
// checks CAP_NET_RAW. As on Linux, a read returns the whole IPv4 packet
// (IPv6: from the transport header on) and a write gives the transport
// header and payload, the stack adding the IP header; IPPROTO_RAW
// sockets only send, with the caller's own IP header.
func (st *Stack) NewRawSocket(family, proto int) (*Socket, error) {
	netProto := ipv4.ProtocolNumber
	if family == unix.AF_INET6 {
		netProto = ipv6.ProtocolNumber
	}
	if proto < 0 || proto > 255 {
		return nil, unix.EINVAL
	}
	if proto == 0 {
		// Linux: a raw socket needs a protocol.
		return nil, unix.EPROTONOSUPPORT
	}
	wq := &gwaiter.Queue{}
	ep, err := st.s.NewRawEndpoint(tcpip.TransportProtocolNumber(proto), netProto, wq, proto != unix.IPPROTO_RAW)
	if err != nil {
		return nil, errno(err)
	}
	if proto == unix.IPPROTO_RAW {
		ep.SocketOptions().SetHeaderIncluded(true)
	}
	return st.wrap(family, unix.SOCK_RAW, proto, ep, wq), nil
}

// ipOptions takes IP_OPTIONS and IP_RETOPTS (ping sets IP_RETOPTS to
// its record-route space) without sending them: at most 40 bytes, as
// an IPv4 header holds.
func ipOptions(v []byte) error {
	if len(v) > 40 {
		return unix.EINVAL
	}
	return nil
}
