package netlink

import (
	"net/netip"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/net/inet"
)

// rtnetlink constants x/sys names differently or not at all.
const (
	ifOperUp      = 6
	ifOperUnknown = 0
	ifaFPermanent = 0x80
	rtTableMain   = 254
	rtTableLocal  = 255
	txQueueLen    = 1000
	arphrdEther   = 1
	arphrdLoop    = 772
	defaultMTU    = 1500
)

// message builds one netlink message.
type message struct{ b []byte }

func newMessage(typ, flags uint16, seq, port uint32, fixed []byte) *message {
	m := &message{b: make([]byte, nlmsgHdrLen, 256)}
	le.PutUint16(m.b[4:], typ)
	le.PutUint16(m.b[6:], flags)
	le.PutUint32(m.b[8:], seq)
	le.PutUint32(m.b[12:], port)
	m.b = append(m.b, fixed...)
	m.pad()
	return m
}

func (m *message) pad() {
	for len(m.b)%4 != 0 {
		m.b = append(m.b, 0)
	}
}

func (m *message) attr(typ uint16, v []byte) {
	h := make([]byte, 4)
	le.PutUint16(h, uint16(4+len(v)))
	le.PutUint16(h[2:], typ)
	m.b = append(m.b, h...)
	m.b = append(m.b, v...)
	m.pad()
}

func (m *message) u32(typ uint16, v uint32) { m.attr(typ, le.AppendUint32(nil, v)) }
func (m *message) u8(typ uint16, v uint8)   { m.attr(typ, []byte{v}) }
func (m *message) str(typ uint16, v string) { m.attr(typ, append([]byte(v), 0)) }

func (m *message) done() []byte {
	le.PutUint32(m.b, uint32(len(m.b)))
	return m.b
}

// errorMsg is NLMSG_ERROR for req: errno e (0 is an acknowledgement),
// followed by the request's header.
func errorMsg(req []byte, e unix.Errno, port uint32) []byte {
	fixed := le.AppendUint32(nil, uint32(-int32(e)))
	fixed = append(fixed, req[:nlmsgHdrLen]...)
	flags := uint16(0)
	if e == 0 {
		flags = unix.NLM_F_CAPPED
	}
	return newMessage(unix.NLMSG_ERROR, flags, le.Uint32(req[8:]), port, fixed).done()
}

// handle answers one request with the datagrams to queue.
func (s *Socket) handle(req []byte, port uint32) [][]byte {
	typ := le.Uint16(req[4:])
	flags := le.Uint16(req[6:])
	seq := le.Uint32(req[8:])
	body := req[nlmsgHdrLen:]
	if flags&unix.NLM_F_REQUEST == 0 {
		return nil
	}
	var msgs [][]byte
	var err unix.Errno
	switch typ {
	case unix.RTM_GETLINK:
		msgs = s.links(seq, port, body, flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP)
		if msgs == nil {
			err = unix.ENODEV
		}
	case unix.RTM_GETADDR:
		if flags&unix.NLM_F_DUMP != unix.NLM_F_DUMP {
			err = unix.EOPNOTSUPP
			break
		}
		msgs = s.addrs(seq, port, body)
	case unix.RTM_GETROUTE:
		if flags&unix.NLM_F_DUMP != unix.NLM_F_DUMP {
			err = unix.EOPNOTSUPP
			break
		}
		msgs = s.routes(seq, port, body)
	case unix.RTM_NEWLINK, unix.RTM_DELLINK, unix.RTM_SETLINK, unix.RTM_NEWADDR, unix.RTM_DELADDR,
		unix.RTM_NEWROUTE, unix.RTM_DELROUTE, unix.RTM_NEWNEIGH, unix.RTM_DELNEIGH:
		// The interfaces are configured by exo, not by the workload.
		err = unix.EPERM
	case unix.RTM_GETNEIGH, unix.RTM_GETRULE, unix.RTM_GETQDISC, unix.RTM_GETNETCONF, unix.RTM_GETNSID:
		if flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP {
			msgs = [][]byte{}
		} else {
			err = unix.EOPNOTSUPP
		}
	default:
		err = unix.EOPNOTSUPP
	}
	if err != 0 {
		return [][]byte{errorMsg(req, err, port)}
	}
	if flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP {
		done := newMessage(unix.NLMSG_DONE, unix.NLM_F_MULTI, seq, port, le.AppendUint32(nil, 0)).done()
		msgs = append(msgs, done)
		return pack(msgs)
	}
	out := pack(msgs)
	if flags&unix.NLM_F_ACK != 0 {
		out = append(out, errorMsg(req, 0, port))
	}
	return out
}

// pack puts messages into datagrams of up to dumpChunk bytes.
func pack(msgs [][]byte) [][]byte {
	var out [][]byte
	var cur []byte
	for _, m := range msgs {
		if len(cur) > 0 && len(cur)+len(m) > dumpChunk {
			out = append(out, cur)
			cur = nil
		}
		cur = append(cur, m...)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// links answers RTM_GETLINK: every interface, or the one the request's
// ifinfomsg names by index or IFLA_IFNAME.
func (s *Socket) links(seq, port uint32, body []byte, dump bool) [][]byte {
	var want int32
	var wantName string
	if !dump && len(body) >= 16 {
		want = int32(le.Uint32(body[4:]))
		for a := body[16:]; len(a) >= 4; {
			l := int(le.Uint16(a))
			if l < 4 || l > len(a) {
				break
			}
			if le.Uint16(a[2:]) == unix.IFLA_IFNAME {
				v := a[4:l]
				for len(v) > 0 && v[len(v)-1] == 0 {
					v = v[:len(v)-1]
				}
				wantName = string(v)
			}
			a = a[min(align4(l), len(a)):]
		}
	}
	flags := uint16(0)
	if dump {
		flags = unix.NLM_F_MULTI
	}
	var out [][]byte
	for _, ifc := range s.st.Interfaces() {
		if !dump && ifc.Index != want && ifc.Name != wantName {
			continue
		}
		out = append(out, linkMsg(ifc, seq, port, flags))
	}
	return out
}

func linkMsg(ifc inet.Interface, seq, port uint32, flags uint16) []byte {
	fixed := make([]byte, 16)
	hw := uint16(arphrdEther)
	if ifc.Loopback {
		hw = arphrdLoop
	}
	le.PutUint16(fixed[2:], hw)
	le.PutUint32(fixed[4:], uint32(ifc.Index))
	le.PutUint32(fixed[8:], ifc.Flags)
	m := newMessage(unix.RTM_NEWLINK, flags, seq, port, fixed)
	m.str(unix.IFLA_IFNAME, ifc.Name)
	m.u32(unix.IFLA_TXQLEN, txQueueLen)
	oper := uint8(ifOperUp)
	if ifc.Loopback {
		oper = ifOperUnknown
	}
	m.u8(unix.IFLA_OPERSTATE, oper)
	m.u8(unix.IFLA_LINKMODE, 0)
	m.u32(unix.IFLA_MTU, ifc.MTU)
	m.u32(unix.IFLA_MIN_MTU, 0)
	m.u32(unix.IFLA_MAX_MTU, 0)
	m.u32(unix.IFLA_GROUP, 0)
	m.u32(unix.IFLA_PROMISCUITY, 0)
	m.u32(unix.IFLA_NUM_TX_QUEUES, 1)
	m.u32(unix.IFLA_NUM_RX_QUEUES, 1)
	m.u8(unix.IFLA_CARRIER, 1)
	m.str(unix.IFLA_QDISC, "noqueue")
	hwaddr := ifc.HWAddr
	if len(hwaddr) == 0 {
		hwaddr = make([]byte, 6)
	}
	m.attr(unix.IFLA_ADDRESS, hwaddr)
	brd := make([]byte, len(hwaddr))
	if !ifc.Loopback {
		for i := range brd {
			brd[i] = 0xff
		}
	}
	m.attr(unix.IFLA_BROADCAST, brd)
	return m.done()
}

// addrs answers an RTM_GETADDR dump, of the family the request asks for.
func (s *Socket) addrs(seq, port uint32, body []byte) [][]byte {
	fam := 0
	if len(body) >= 1 {
		fam = int(body[0])
	}
	var out [][]byte
	for _, ifc := range s.st.Interfaces() {
		for _, p := range ifc.Addrs {
			f := unix.AF_INET
			if p.Addr().Is6() {
				f = unix.AF_INET6
			}
			if fam != unix.AF_UNSPEC && fam != f {
				continue
			}
			out = append(out, addrMsg(ifc, p, f, seq, port))
		}
	}
	return out
}

func addrMsg(ifc inet.Interface, p netip.Prefix, fam int, seq, port uint32) []byte {
	scope := uint8(unix.RT_SCOPE_UNIVERSE)
	switch {
	case p.Addr().IsLoopback():
		scope = unix.RT_SCOPE_HOST
	case p.Addr().IsLinkLocalUnicast():
		scope = unix.RT_SCOPE_LINK
	}
	fixed := []byte{byte(fam), byte(p.Bits()), ifaFPermanent, scope, 0, 0, 0, 0}
	le.PutUint32(fixed[4:], uint32(ifc.Index))
	m := newMessage(unix.RTM_NEWADDR, unix.NLM_F_MULTI, seq, port, fixed)
	a := p.Addr().AsSlice()
	m.attr(unix.IFA_ADDRESS, a)
	if fam == unix.AF_INET {
		m.attr(unix.IFA_LOCAL, a)
		if !ifc.Loopback && p.Bits() < 31 {
			b := p.Addr().As4()
			bits := p.Bits()
			for i := range b {
				keep := min(max(bits-8*i, 0), 8)
				b[i] |= byte(0xff >> keep)
			}
			m.attr(unix.IFA_BROADCAST, b[:])
		}
		m.str(unix.IFA_LABEL, ifc.Name)
	}
	m.u32(unix.IFA_FLAGS, ifaFPermanent)
	ci := make([]byte, 16)
	le.PutUint32(ci, 0xffffffff)
	le.PutUint32(ci[4:], 0xffffffff)
	m.attr(unix.IFA_CACHEINFO, ci)
	return m.done()
}

// routes answers an RTM_GETROUTE dump: the stack's routes, the loopback
// ones in the local table as Linux keeps them.
func (s *Socket) routes(seq, port uint32, body []byte) [][]byte {
	fam := 0
	if len(body) >= 1 {
		fam = int(body[0])
	}
	ifs := s.st.Interfaces()
	var out [][]byte
	for _, r := range s.st.Routes() {
		f := unix.AF_INET
		if r.Dst.Addr().Is6() {
			f = unix.AF_INET6
		}
		if fam != unix.AF_UNSPEC && fam != f {
			continue
		}
		table, typ, scope := uint8(rtTableMain), uint8(unix.RTN_UNICAST), uint8(unix.RT_SCOPE_UNIVERSE)
		proto := uint8(unix.RTPROT_BOOT)
		loop := false
		for _, ifc := range ifs {
			if ifc.Index == r.Index && ifc.Loopback {
				loop = true
			}
		}
		switch {
		case loop:
			table, typ, scope, proto = rtTableLocal, unix.RTN_LOCAL, unix.RT_SCOPE_HOST, unix.RTPROT_KERNEL
		case !r.Gateway.IsValid():
			scope, proto = unix.RT_SCOPE_LINK, unix.RTPROT_KERNEL
		}
		fixed := []byte{byte(f), byte(r.Dst.Bits()), 0, 0, table, proto, scope, typ, 0, 0, 0, 0}
		m := newMessage(unix.RTM_NEWROUTE, unix.NLM_F_MULTI, seq, port, fixed)
		m.u32(unix.RTA_TABLE, uint32(table))
		if r.Dst.Bits() > 0 {
			m.attr(unix.RTA_DST, r.Dst.Addr().AsSlice())
		}
		if f == unix.AF_INET6 {
			m.u32(unix.RTA_PRIORITY, 256)
			m.u8(unix.RTA_PREF, 0)
		}
		if r.Gateway.IsValid() {
			m.attr(unix.RTA_GATEWAY, r.Gateway.AsSlice())
		} else if src, ok := prefSrc(ifs, r); ok && f == unix.AF_INET {
			m.attr(unix.RTA_PREFSRC, src.AsSlice())
		}
		m.u32(unix.RTA_OIF, uint32(r.Index))
		out = append(out, m.done())
	}
	return out
}

// prefSrc is the interface's address within an on-link route's prefix.
func prefSrc(ifs []inet.Interface, r inet.Route) (netip.Addr, bool) {
	for _, ifc := range ifs {
		if ifc.Index != r.Index {
			continue
		}
		for _, p := range ifc.Addrs {
			if r.Dst.Contains(p.Addr()) {
				return p.Addr(), true
			}
		}
	}
	return netip.Addr{}, false
}
