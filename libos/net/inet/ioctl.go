package inet

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"

	"exokernelul.dev/exo/libos/vfs"
)

const (
	ifreqLen  = 40
	ifNameLen = 16
	ifconfLen = 16

	arphrdEther    = 1
	arphrdLoopback = 772
)

// Ioctl implements vfs.File: the queue sizes and the interface queries.
func (s *Socket) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	var v int
	switch req {
	case unix.TIOCINQ:
		if s.typ == unix.SOCK_STREAM {
			if tcpStateListen(s.ep) {
				return 0, unix.EINVAL
			}
			n, err := s.ep.GetSockOptInt(tcpip.ReceiveQueueSizeOption)
			if err != nil {
				return 0, errno(err)
			}
			v = n
		} else {
			// A datagram socket reports the size of the next datagram.
			var w truncWriter
			r, err := s.ep.Read(&w, tcpip.ReadOptions{Peek: true})
			if err == nil {
				v = r.Total
			}
		}
	case unix.SIOCATMARK:
		if s.typ != unix.SOCK_STREAM {
			return s.st.InterfaceIoctl(req, arg, mem)
		}
		// Never at the urgent mark: netstack takes no urgent data
		// (MSG_OOB is EOPNOTSUPP), so none ever arrives.
		v = 0
	case unix.SIOCOUTQ:
		n, err := s.ep.GetSockOptInt(tcpip.SendQueueSizeOption)
		if err != nil {
			return 0, errno(err)
		}
		v = n
	default:
		return s.st.InterfaceIoctl(req, arg, mem)
	}
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	if _, err := mem.CopyOut(arg, b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// InterfaceIoctl serves the SIOCGIF* requests any socket answers, from the
// stack's interfaces; ENOTTY for other requests.
func (st *Stack) InterfaceIoctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	switch req {
	case unix.SIOCGIFCONF:
		return 0, st.ifconf(arg, mem)
	case unix.SIOCGIFNAME, unix.SIOCGIFINDEX, unix.SIOCGIFFLAGS, unix.SIOCGIFMTU, unix.SIOCGIFADDR,
		unix.SIOCGIFNETMASK, unix.SIOCGIFBRDADDR, unix.SIOCGIFDSTADDR, unix.SIOCGIFHWADDR,
		unix.SIOCGIFTXQLEN, unix.SIOCGIFMETRIC, unix.SIOCGIFMAP:
	case unix.SIOCSIFFLAGS, unix.SIOCSIFADDR, unix.SIOCSIFNETMASK, unix.SIOCSIFMTU, unix.SIOCSIFHWADDR,
		unix.SIOCADDRT, unix.SIOCDELRT:
		// Configuration belongs to exo, which set the interface up.
		return 0, unix.EPERM
	default:
		return 0, unix.ENOTTY
	}
	b := make([]byte, ifreqLen)
	if _, err := mem.CopyIn(arg, b); err != nil {
		return 0, unix.EFAULT
	}
	ifs := st.Interfaces()
	var ifc *Interface
	if req == unix.SIOCGIFNAME {
		idx := int32(binary.LittleEndian.Uint32(b[ifNameLen:]))
		for i := range ifs {
			if ifs[i].Index == idx {
				ifc = &ifs[i]
			}
		}
	} else {
		n := 0
		for n < ifNameLen && b[n] != 0 {
			n++
		}
		for i := range ifs {
			if ifs[i].Name == string(b[:n]) {
				ifc = &ifs[i]
			}
		}
	}
	if ifc == nil {
		return 0, unix.ENODEV
	}
	u := b[ifNameLen:]
	clear(u)
	switch req {
	case unix.SIOCGIFNAME:
		clear(b[:ifNameLen])
		copy(b[:ifNameLen-1], ifc.Name)
	case unix.SIOCGIFINDEX:
		binary.LittleEndian.PutUint32(u, uint32(ifc.Index))
	case unix.SIOCGIFFLAGS:
		binary.LittleEndian.PutUint16(u, uint16(ifc.Flags))
	case unix.SIOCGIFMTU:
		binary.LittleEndian.PutUint32(u, ifc.MTU)
	case unix.SIOCGIFTXQLEN:
		q := uint32(1000)
		if ifc.Loopback {
			q = 1000
		}
		binary.LittleEndian.PutUint32(u, q)
	case unix.SIOCGIFMETRIC, unix.SIOCGIFMAP:
	case unix.SIOCGIFHWADDR:
		fam := uint16(arphrdEther)
		if ifc.Loopback {
			fam = arphrdLoopback
		}
		binary.LittleEndian.PutUint16(u, fam)
		copy(u[2:], ifc.HWAddr)
	case unix.SIOCGIFADDR, unix.SIOCGIFNETMASK, unix.SIOCGIFBRDADDR, unix.SIOCGIFDSTADDR:
		p, ok := firstIPv4(ifc)
		if !ok {
			return 0, unix.EADDRNOTAVAIL
		}
		var a netip.Addr
		switch req {
		case unix.SIOCGIFADDR, unix.SIOCGIFDSTADDR:
			a = p.Addr()
		case unix.SIOCGIFNETMASK:
			a = maskOf(p)
		case unix.SIOCGIFBRDADDR:
			if ifc.Loopback {
				a = netip.IPv4Unspecified()
			} else {
				a = broadcastOf(p)
			}
		}
		putSockaddrIn(u, a)
	}
	if _, err := mem.CopyOut(arg, b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

func firstIPv4(ifc *Interface) (netip.Prefix, bool) {
	for _, p := range ifc.Addrs {
		if p.Addr().Is4() {
			return p, true
		}
	}
	return netip.Prefix{}, false
}

func maskOf(p netip.Prefix) netip.Addr {
	var m [4]byte
	for i := range m {
		bits := min(max(p.Bits()-8*i, 0), 8)
		m[i] = byte(0xff << (8 - bits))
	}
	return netip.AddrFrom4(m)
}

func broadcastOf(p netip.Prefix) netip.Addr {
	a, m := p.Addr().As4(), maskOf(p).As4()
	for i := range a {
		a[i] |= ^m[i]
	}
	return netip.AddrFrom4(a)
}

func putSockaddrIn(b []byte, a netip.Addr) {
	binary.LittleEndian.PutUint16(b, unix.AF_INET)
	v := a.As4()
	copy(b[4:8], v[:])
}

// ifconf serves SIOCGIFCONF: an ifreq with the IPv4 address of each
// interface that has one; with a NULL buffer, only the length needed.
func (st *Stack) ifconf(arg uint64, mem vfs.Memory) error {
	hdr := make([]byte, ifconfLen)
	if _, err := mem.CopyIn(arg, hdr); err != nil {
		return unix.EFAULT
	}
	room := int(int32(binary.LittleEndian.Uint32(hdr)))
	buf := binary.LittleEndian.Uint64(hdr[8:])
	var out []byte
	for _, ifc := range st.Interfaces() {
		p, ok := firstIPv4(&ifc)
		if !ok {
			continue
		}
		r := make([]byte, ifreqLen)
		copy(r[:ifNameLen-1], ifc.Name)
		putSockaddrIn(r[ifNameLen:], p.Addr())
		out = append(out, r...)
	}
	n := len(out)
	if buf != 0 {
		n = min(room, len(out)) / ifreqLen * ifreqLen
		if n > 0 {
			if _, err := mem.CopyOut(buf, out[:n]); err != nil {
				return unix.EFAULT
			}
		}
	}
	binary.LittleEndian.PutUint32(hdr, uint32(n))
	if _, err := mem.CopyOut(arg, hdr[:4]); err != nil {
		return unix.EFAULT
	}
	return nil
}

func tcpStateListen(ep tcpip.Endpoint) bool {
	return linuxTCPState(tcpEndpointState(ep)) == 10
}
