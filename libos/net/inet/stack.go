// Package inet is the library OS's TCP/IP: AF_INET and AF_INET6 stream and
// datagram sockets served by gVisor's netstack (gvisor.dev/gvisor/pkg/tcpip)
// running inside the sentry. The stack always has a loopback interface; a
// NIC capability from exo adds the container's interface (AddNIC), whose
// frames exo filters on the host.
//
// As with the library OS's other files, sockets never block: an operation
// that cannot proceed returns EAGAIN and the syscall layer waits for the
// socket's readiness (a Socket is a waiter.Waitable) before trying again.
package inet

import (
	"fmt"
	"net/netip"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/raw"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// LoopbackIndex is the interface index of lo, as on Linux.
const LoopbackIndex = 1

// loopbackMTU is Linux's default MTU of lo.
const loopbackMTU = 65536

// Stack is one sandbox's network stack.
type Stack struct {
	s *stack.Stack
	// lite serves the UDP-Lite sockets (udplite.go).
	lite *stack.Stack

	mu sync.Mutex
	// nextIndex is the interface index AddNIC gives next.
	nextIndex tcpip.NICID
	// extra holds what netstack does not keep about an interface.
	extra map[tcpip.NICID]*nicExtra
	// socks are the open sockets, for /proc/net.
	socks sockTable
}

// nicExtra is what the stack keeps of an interface beside netstack's NIC.
type nicExtra struct {
	mtu   uint32
	flags uint32
}

// NewStack returns a stack with only the loopback interface, lo, holding
// 127.0.0.1/8 and ::1/128.
func NewStack() (*Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		HandleLocal:        true,
		// Raw sockets, for workloads with CAP_NET_RAW (NewRawSocket).
		RawFactory: raw.EndpointFactory{},
	})
	// Linux's defaults: SACK on, and the receive buffer grows with use.
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	mod := tcpip.TCPModerateReceiveBufferOption(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &mod)
	cc := tcpip.CongestionControlOption("cubic")
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &cc)
	lite, err := newLiteStack()
	if err != nil {
		s.Close()
		return nil, err
	}
	st := &Stack{s: s, lite: lite, nextIndex: LoopbackIndex + 1, extra: make(map[tcpip.NICID]*nicExtra)}
	if err := s.CreateNICWithOptions(LoopbackIndex, loopback.New(), stack.NICOptions{Name: "lo"}); err != nil {
		return nil, fmt.Errorf("inet: loopback interface: %s", err)
	}
	st.extra[LoopbackIndex] = &nicExtra{mtu: loopbackMTU}
	for _, p := range []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")} {
		if err := st.addAddress(LoopbackIndex, p); err != nil {
			return nil, err
		}
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: mustSubnet("127.0.0.0/8"), NIC: LoopbackIndex},
		{Destination: mustSubnet("::1/128"), NIC: LoopbackIndex},
	})
	return st, nil
}

// Close stops the stack's goroutines; every socket must be closed.
func (st *Stack) Close() {
	st.s.Close()
	st.lite.Close()
	st.s.Wait()
	st.lite.Wait()
}

func (st *Stack) addAddress(nic tcpip.NICID, p netip.Prefix) error {
	a := tcpip.AddrFromSlice(p.Addr().AsSlice())
	proto := ipv4.ProtocolNumber
	if p.Addr().Is6() {
		proto = ipv6.ProtocolNumber
	}
	pa := tcpip.ProtocolAddress{Protocol: proto, AddressWithPrefix: tcpip.AddressWithPrefix{Address: a, PrefixLen: p.Bits()}}
	if err := st.s.AddProtocolAddress(nic, pa, stack.AddressProperties{}); err != nil {
		return fmt.Errorf("inet: add %s to interface %d: %s", p, nic, err)
	}
	return nil
}

func mustSubnet(s string) tcpip.Subnet {
	p := netip.MustParsePrefix(s)
	sn, err := subnetOf(p)
	if err != nil {
		panic(err)
	}
	return sn
}

// subnetOf is prefix p as netstack's subnet.
func subnetOf(p netip.Prefix) (tcpip.Subnet, error) {
	p = p.Masked()
	a := p.Addr().AsSlice()
	m := make([]byte, len(a))
	for i := range m {
		bits := min(max(p.Bits()-8*i, 0), 8)
		m[i] = byte(0xff << (8 - bits))
	}
	return tcpip.NewSubnet(tcpip.AddrFromSlice(a), tcpip.MaskFromBytes(m))
}

// Interface is one network interface as SIOCGIF* and rtnetlink show it.
type Interface struct {
	Index  int32
	Name   string
	MTU    uint32
	HWAddr []byte
	// Flags are IFF_* bits.
	Flags    uint32
	Loopback bool
	Addrs    []netip.Prefix
}

// IFF_* flags.
const (
	iffUp        = 0x1
	iffBroadcast = 0x2
	iffLoopback  = 0x8
	iffRunning   = 0x40
	iffMulticast = 0x1000
	iffLowerUp   = 0x10000
)

// Interfaces lists the interfaces by index.
func (st *Stack) Interfaces() []Interface {
	info := st.s.NICInfo()
	st.mu.Lock()
	defer st.mu.Unlock()
	var out []Interface
	for id := tcpip.NICID(1); id < st.nextIndex; id++ {
		ni, ok := info[id]
		if !ok {
			continue
		}
		ifc := Interface{Index: int32(id), Name: ni.Name, MTU: ni.MTU, HWAddr: []byte(ni.LinkAddress), Loopback: ni.Flags.Loopback}
		if x := st.extra[id]; x != nil && x.mtu != 0 {
			ifc.MTU = x.mtu
		}
		if ni.Flags.Up {
			ifc.Flags |= iffUp | iffRunning | iffLowerUp
		}
		if ni.Flags.Loopback {
			ifc.Flags |= iffLoopback
			ifc.HWAddr = make([]byte, 6)
		} else {
			ifc.Flags |= iffBroadcast | iffMulticast
		}
		for _, pa := range ni.ProtocolAddresses {
			a, ok := netip.AddrFromSlice(pa.AddressWithPrefix.Address.AsSlice())
			if !ok || (a.Is6() && a.IsLinkLocalUnicast() && ni.Flags.Loopback) {
				continue
			}
			out := netip.PrefixFrom(a, pa.AddressWithPrefix.PrefixLen)
			ifc.Addrs = append(ifc.Addrs, out)
		}
		out = append(out, ifc)
	}
	return out
}

// Route is one entry of the routing table.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr // invalid when the destination is on link
	Index   int32
}

// Routes lists the routing table, most specific first as netstack keeps it.
func (st *Stack) Routes() []Route {
	var out []Route
	for _, r := range st.s.GetRouteTable() {
		id := r.Destination.ID()
		a, ok := netip.AddrFromSlice(id.AsSlice())
		if !ok {
			continue
		}
		rt := Route{Dst: netip.PrefixFrom(a, r.Destination.Prefix()), Index: int32(r.NIC)}
		if r.Gateway.Len() > 0 {
			gw := r.Gateway
			rt.Gateway, _ = netip.AddrFromSlice(gw.AsSlice())
		}
		out = append(out, rt)
	}
	return out
}

// fullAddr is netstack's form of an IP and port: the unspecified address
// is the empty one, which netstack takes as "any".
func fullAddr(ip netip.Addr, port uint16, nic int32) tcpip.FullAddress {
	fa := tcpip.FullAddress{Port: port, NIC: tcpip.NICID(nic)}
	if ip.IsValid() && !ip.IsUnspecified() {
		fa.Addr = tcpip.AddrFromSlice(ip.AsSlice())
	}
	return fa
}

var _ = header.IPv4AddressSize
