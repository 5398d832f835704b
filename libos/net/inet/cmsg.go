package inet

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

// applyRecvOpt turns on or off in netstack the control messages an
// option asks for; the value stays stored for getsockopt. SO_TIMESTAMP
// and SO_TIMESTAMPNS exclude each other, as Linux keeps them as one flag
// and a choice of format.
func (s *Socket) applyRecvOpt(k [2]int, on bool) {
	so := s.ep.SocketOptions()
	switch k {
	case [2]int{unix.IPPROTO_IP, unix.IP_PKTINFO}:
		so.SetReceivePacketInfo(on)
	case [2]int{unix.IPPROTO_IP, unix.IP_RECVTOS}:
		so.SetReceiveTOS(on)
	case [2]int{unix.IPPROTO_IP, unix.IP_RECVTTL}:
		so.SetReceiveTTL(on)
	case [2]int{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO}:
		so.SetIPv6ReceivePacketInfo(on)
	case [2]int{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS}:
		so.SetReceiveTClass(on)
	case [2]int{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT}:
		so.SetReceiveHopLimit(on)
	case [2]int{unix.SOL_SOCKET, unix.SO_TIMESTAMP}:
		s.mu.Lock()
		delete(s.stored, [2]int{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS})
		s.mu.Unlock()
	case [2]int{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS}:
		s.mu.Lock()
		delete(s.stored, [2]int{unix.SOL_SOCKET, unix.SO_TIMESTAMP})
		s.mu.Unlock()
	}
}

// cmsgAlign rounds n up to the cmsghdr alignment of x86-64.
func cmsgAlign(n int) int { return (n + 7) &^ 7 }

// appendCmsg appends one control message with its padding.
func appendCmsg(b []byte, level, typ int, data []byte) []byte {
	var h [16]byte
	binary.LittleEndian.PutUint64(h[0:], uint64(16+len(data)))
	binary.LittleEndian.PutUint32(h[8:], uint32(level))
	binary.LittleEndian.PutUint32(h[12:], uint32(typ))
	b = append(b, h[:]...)
	b = append(b, data...)
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// control encodes the control messages a datagram came with that the
// socket asked for, in the order Linux puts them: the timestamp
// (sock_recv_timestamp), then IP's (PKTINFO, TTL, TOS) or IPv6's
// (PKTINFO, HOPLIMIT, TCLASS).
func (s *Socket) control(cm *tcpip.ReceivableControlMessages) []byte {
	s.mu.Lock()
	ts := s.stored[[2]int{unix.SOL_SOCKET, unix.SO_TIMESTAMP}] != 0
	tsns := s.stored[[2]int{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS}] != 0
	s.mu.Unlock()
	var b []byte
	if cm.HasTimestamp && (ts || tsns) {
		var v [16]byte
		sec, nsec := cm.Timestamp.Unix(), int64(cm.Timestamp.Nanosecond())
		binary.LittleEndian.PutUint64(v[0:], uint64(sec))
		if tsns {
			binary.LittleEndian.PutUint64(v[8:], uint64(nsec))
			b = appendCmsg(b, unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS, v[:])
		} else {
			binary.LittleEndian.PutUint64(v[8:], uint64(nsec/1000))
			b = appendCmsg(b, unix.SOL_SOCKET, unix.SCM_TIMESTAMP, v[:])
		}
	}
	if cm.HasIPPacketInfo {
		// struct in_pktinfo: the interface, the local address the
		// reply would come from, the header's destination.
		v := le32(uint32(cm.PacketInfo.NIC))
		v = append(v, addr4(cm.PacketInfo.LocalAddr)...)
		v = append(v, addr4(cm.PacketInfo.DestinationAddr)...)
		b = appendCmsg(b, unix.IPPROTO_IP, unix.IP_PKTINFO, v)
	}
	if cm.HasTTL {
		b = appendCmsg(b, unix.IPPROTO_IP, unix.IP_TTL, le32(uint32(cm.TTL)))
	}
	if cm.HasTOS {
		// IP_TOS is the one byte of the header, not an int.
		b = appendCmsg(b, unix.IPPROTO_IP, unix.IP_TOS, []byte{cm.TOS})
	}
	if cm.HasIPv6PacketInfo {
		a := make([]byte, 16)
		copy(a, cm.IPv6PacketInfo.Addr.AsSlice())
		b = appendCmsg(b, unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, append(a, le32(uint32(cm.IPv6PacketInfo.NIC))...))
	}
	if cm.HasHopLimit {
		b = appendCmsg(b, unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, le32(uint32(cm.HopLimit)))
	}
	if cm.HasTClass {
		b = appendCmsg(b, unix.IPPROTO_IPV6, unix.IPV6_TCLASS, le32(cm.TClass))
	}
	return b
}

func addr4(a tcpip.Address) []byte {
	if a.Len() != 4 {
		return make([]byte, 4)
	}
	return a.AsSlice()
}

// SendMsg is Send with a sendmsg's control messages: IP_TTL and
// IPV6_HOPLIMIT set the packet's, IPV6_PKTINFO chooses its source
// address and interface. IP_PKTINFO is checked (the interface must exist,
// ipi_spec_dst must be an address of the stack) but netstack picks an
// IPv4 packet's source itself; IP_TOS and IPV6_TCLASS are taken and
// have no effect, as for the socket options.
func (s *Socket) SendMsg(data, to []byte, flags int, control []byte) (int, error) {
	cm, err := s.parseControl(control)
	if err != nil {
		return 0, err
	}
	return s.send(data, to, flags, cm)
}

func (s *Socket) parseControl(b []byte) (*tcpip.SendableControlMessages, error) {
	var cm tcpip.SendableControlMessages
	for len(b) >= 16 {
		n := binary.LittleEndian.Uint64(b)
		level := int(int32(binary.LittleEndian.Uint32(b[8:])))
		typ := int(int32(binary.LittleEndian.Uint32(b[12:])))
		if n < 16 || n > uint64(len(b)) {
			return nil, unix.EINVAL
		}
		data := b[16:n]
		switch {
		case level == unix.IPPROTO_IP && (typ == unix.IP_TTL || typ == unix.IP_TOS):
			if len(data) < 1 {
				return nil, unix.EINVAL
			}
			v := int(data[0])
			if len(data) >= 4 {
				v = int(int32(binary.LittleEndian.Uint32(data)))
			}
			if typ == unix.IP_TTL {
				if v < 1 || v > 255 {
					return nil, unix.EINVAL
				}
				cm.HasTTL, cm.TTL = true, uint8(v)
			}
		case level == unix.IPPROTO_IP && typ == unix.IP_PKTINFO:
			if len(data) < 12 || s.family != unix.AF_INET {
				return nil, unix.EINVAL
			}
			if err := s.checkPktinfo(int32(binary.LittleEndian.Uint32(data)), data[4:8]); err != nil {
				return nil, err
			}
		case level == unix.IPPROTO_IPV6 && typ == unix.IPV6_PKTINFO:
			if len(data) < 20 || s.family != unix.AF_INET6 {
				return nil, unix.EINVAL
			}
			nic := int32(binary.LittleEndian.Uint32(data[16:]))
			if err := s.checkPktinfo(nic, data[:16]); err != nil {
				return nil, err
			}
			cm.HasIPv6PacketInfo = true
			cm.IPv6PacketInfo = tcpip.IPv6PacketInfo{NIC: tcpip.NICID(nic)}
			if a, _ := netip.AddrFromSlice(data[:16]); !a.IsUnspecified() {
				cm.IPv6PacketInfo.Addr = tcpip.AddrFromSlice(data[:16])
			}
		case level == unix.IPPROTO_IPV6 && (typ == unix.IPV6_HOPLIMIT || typ == unix.IPV6_TCLASS):
			if len(data) < 4 {
				return nil, unix.EINVAL
			}
			v := int(int32(binary.LittleEndian.Uint32(data)))
			if typ == unix.IPV6_HOPLIMIT {
				if v < -1 || v > 255 {
					return nil, unix.EINVAL
				}
				if v >= 0 {
					cm.HasHopLimit, cm.HopLimit = true, uint8(v)
				}
			}
		case level == unix.SOL_SOCKET:
			// SCM_RIGHTS and SCM_CREDENTIALS are AF_UNIX's.
			return nil, unix.EINVAL
		}
		b = b[min(cmsgAlign(int(n)), len(b)):]
	}
	return &cm, nil
}

// checkPktinfo checks a pktinfo's interface (0: any) and source (the
// unspecified address: any) as Linux would: an unknown interface is
// ENODEV, a source that is not the stack's ENETUNREACH (the output route
// lookup finds no device holding it).
func (s *Socket) checkPktinfo(nic int32, src []byte) error {
	a, _ := netip.AddrFromSlice(src)
	ifs := s.st.Interfaces()
	found := nic == 0
	local := !a.IsValid() || a.IsUnspecified()
	for _, ifc := range ifs {
		if ifc.Index == nic {
			found = true
		}
		for _, p := range ifc.Addrs {
			if p.Addr() == a.Unmap() || (ifc.Loopback && a.Is4() && a.IsLoopback()) {
				local = true
			}
		}
	}
	if !found {
		return unix.ENODEV
	}
	if !local {
		return unix.ENETUNREACH
	}
	return nil
}
