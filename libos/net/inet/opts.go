package inet

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// Socket option numbers x/sys does not name under these names.
const (
	soRcvTimeoNew = 66
	soSndTimeoNew = 67
	// Linux's default unicast TTL / hop limit.
	defaultTTL = 64
	// Limits of the TCP keepalive options (net/ipv4/tcp.c).
	maxTCPKeepIdle  = 32767
	maxTCPKeepIntvl = 32767
	maxTCPKeepCnt   = 127
)

var le = binary.LittleEndian

func b2i(v bool) int32 {
	if v {
		return 1
	}
	return 0
}

func intOpt(b []byte) (int32, error) {
	if len(b) < 4 {
		// Linux takes a single byte for some IP options; an int for
		// everything else.
		if len(b) >= 1 {
			return int32(b[0]), nil
		}
		return 0, unix.EINVAL
	}
	return int32(le.Uint32(b)), nil
}

func putInt(v int32) []byte { return le.AppendUint32(nil, uint32(v)) }

// SetSockOpt sets option name at level from v, the caller's bytes.
func (s *Socket) SetSockOpt(level, name int, v []byte) error {
	switch level {
	case unix.SOL_SOCKET:
		return s.setSocketOpt(name, v)
	case unix.IPPROTO_TCP:
		if s.typ != unix.SOCK_STREAM {
			return unix.ENOPROTOOPT
		}
		return s.setTCPOpt(name, v)
	case unix.IPPROTO_IP:
		if name == unix.IP_OPTIONS || name == unix.IP_RETOPTS {
			return ipOptions(v)
		}
		return s.setStored(level, name, v)
	case unix.IPPROTO_IPV6:
		if s.family != unix.AF_INET6 {
			return unix.ENOPROTOOPT
		}
		if name == unix.IPV6_V6ONLY {
			x, err := intOpt(v)
			if err != nil {
				return err
			}
			if _, err := s.ep.GetLocalAddress(); err == nil && s.bound() {
				return unix.EINVAL
			}
			s.ep.SocketOptions().SetV6Only(x != 0)
			return nil
		}
		return s.setStored(level, name, v)
	case unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE:
		// Linux's udp_setsockopt takes UDP's options at either level,
		// on UDP and UDP-Lite sockets alike.
		if s.typ != unix.SOCK_DGRAM {
			return unix.ENOPROTOOPT
		}
		if name == udpliteSendCscov || name == udpliteRecvCscov {
			if !s.isLite() {
				return unix.ENOPROTOOPT
			}
			if len(v) < 4 {
				return unix.EINVAL
			}
			s.mu.Lock()
			s.stored[[2]int{unix.IPPROTO_UDPLITE, name}] = udpliteCoverage(int32(le.Uint32(v)))
			s.mu.Unlock()
			return nil
		}
		return s.setStored(unix.IPPROTO_UDP, name, v)
	}
	return unix.ENOPROTOOPT
}

// bound reports whether the socket has a local port.
func (s *Socket) bound() bool {
	a, err := s.ep.GetLocalAddress()
	return err == nil && a.Port != 0
}

// storedOpts are the options kept without effect, with Linux's default.
var storedOpts = map[[2]int]int32{
	{unix.SOL_SOCKET, unix.SO_DEBUG}:       0,
	{unix.SOL_SOCKET, unix.SO_DONTROUTE}:   0,
	{unix.SOL_SOCKET, unix.SO_OOBINLINE}:   0,
	{unix.SOL_SOCKET, unix.SO_PRIORITY}:    0,
	{unix.SOL_SOCKET, unix.SO_NO_CHECK}:    0,
	{unix.SOL_SOCKET, unix.SO_MARK}:        0,
	{unix.SOL_SOCKET, unix.SO_TIMESTAMP}:   0,
	{unix.SOL_SOCKET, unix.SO_TIMESTAMPNS}: 0,

	{unix.IPPROTO_IP, unix.IP_TOS}:                  0,
	{unix.IPPROTO_IP, unix.IP_TTL}:                  defaultTTL,
	{unix.IPPROTO_IP, unix.IP_PKTINFO}:              0,
	{unix.IPPROTO_IP, unix.IP_RECVTOS}:              0,
	{unix.IPPROTO_IP, unix.IP_RECVTTL}:              0,
	{unix.IPPROTO_IP, unix.IP_RECVERR}:              0,
	{unix.IPPROTO_IP, unix.IP_MTU_DISCOVER}:         unix.IP_PMTUDISC_DONT,
	{unix.IPPROTO_IP, unix.IP_FREEBIND}:             0,
	{unix.IPPROTO_IP, unix.IP_TRANSPARENT}:          0,
	{unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT}: 0,
	{unix.IPPROTO_IP, unix.IP_MULTICAST_TTL}:        1,
	{unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP}:       1,
	{unix.IPPROTO_IP, unix.IP_RECVORIGDSTADDR}:      0,

	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS}:          0,
	{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS}:    defaultTTL,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO}:     0,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS}:      0,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT}:    0,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVERR}:         0,
	{unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER}:    0,
	{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS}:  1,
	{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP}:  1,
	{unix.IPPROTO_IPV6, unix.IPV6_FREEBIND}:        0,
	{unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT}:     0,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVORIGDSTADDR}: 0,

	{unix.IPPROTO_TCP, unix.TCP_SYNCNT}:               6,
	{unix.IPPROTO_TCP, unix.TCP_WINDOW_CLAMP}:         0,
	{unix.IPPROTO_TCP, unix.TCP_FASTOPEN}:             0,
	{unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT}:        -1,
	{unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT}:     0,
	{unix.IPPROTO_TCP, unix.TCP_THIN_LINEAR_TIMEOUTS}: 0,

	{unix.IPPROTO_UDP, unix.UDP_CORK}:    0,
	{unix.IPPROTO_UDP, unix.UDP_GRO}:     0,
	{unix.IPPROTO_UDP, unix.UDP_SEGMENT}: 0,

	{unix.IPPROTO_UDPLITE, udpliteSendCscov}: 0,
	{unix.IPPROTO_UDPLITE, udpliteRecvCscov}: 0,
}

// boolStored are the stored options Linux reports as 0 or 1.
var boolStored = map[[2]int]bool{
	{unix.SOL_SOCKET, unix.SO_DEBUG}: true, {unix.SOL_SOCKET, unix.SO_DONTROUTE}: true,
	{unix.SOL_SOCKET, unix.SO_OOBINLINE}: true, {unix.SOL_SOCKET, unix.SO_NO_CHECK}: true,
	{unix.SOL_SOCKET, unix.SO_TIMESTAMP}: true, {unix.SOL_SOCKET, unix.SO_TIMESTAMPNS}: true,
	{unix.IPPROTO_IP, unix.IP_PKTINFO}: true, {unix.IPPROTO_IP, unix.IP_RECVTOS}: true,
	{unix.IPPROTO_IP, unix.IP_RECVTTL}: true, {unix.IPPROTO_IP, unix.IP_RECVERR}: true,
	{unix.IPPROTO_IP, unix.IP_FREEBIND}: true, {unix.IPPROTO_IP, unix.IP_TRANSPARENT}: true,
	{unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT}: true, {unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP}: true,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO}: true, {unix.IPPROTO_IPV6, unix.IPV6_RECVTCLASS}: true,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT}: true, {unix.IPPROTO_IPV6, unix.IPV6_RECVERR}: true,
	{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP}: true, {unix.IPPROTO_IPV6, unix.IPV6_FREEBIND}: true,
	{unix.IPPROTO_IPV6, unix.IPV6_TRANSPARENT}: true,
}

func (s *Socket) setStored(level, name int, v []byte) error {
	k := [2]int{level, name}
	if _, ok := storedOpts[k]; !ok {
		return unix.ENOPROTOOPT
	}
	x, err := intOpt(v)
	if err != nil {
		return err
	}
	switch {
	case boolStored[k]:
		x = b2i(x != 0)
	case k == [2]int{unix.IPPROTO_IP, unix.IP_TTL} || k == [2]int{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS}:
		if x == -1 {
			x = defaultTTL
		} else if x < 1 || x > 255 {
			return unix.EINVAL
		}
	case k == [2]int{unix.IPPROTO_IP, unix.IP_TOS}:
		x &= 0xff
	}
	s.mu.Lock()
	s.stored[k] = x
	s.mu.Unlock()
	s.applyRecvOpt(k, x != 0)
	return nil
}

func (s *Socket) getStored(level, name int) ([]byte, error) {
	k := [2]int{level, name}
	def, ok := storedOpts[k]
	if !ok {
		return nil, unix.ENOPROTOOPT
	}
	s.mu.Lock()
	x, set := s.stored[k]
	s.mu.Unlock()
	if !set {
		x = def
	}
	return putInt(x), nil
}

// bufSize is what Linux stores for SO_SNDBUF/SO_RCVBUF: the value asked
// for, capped at net.core.[wr]mem_max, doubled for bookkeeping overhead.
func bufSize(v int32, min int64) int64 {
	const maxBuf = 212992
	n := int64(v)
	if n < 0 {
		n = 0
	}
	n = 2 * (n & 0x7fffffff)
	n = max(min, n)
	return mn(n, 2*maxBuf)
}

func mn(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func (s *Socket) setSocketOpt(name int, v []byte) error {
	so := s.ep.SocketOptions()
	switch name {
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO, soRcvTimeoNew, soSndTimeoNew:
		if len(v) < 16 {
			return unix.EINVAL
		}
		sec, usec := int64(le.Uint64(v)), int64(le.Uint64(v[8:]))
		if usec < 0 || usec >= 1e6 {
			return unix.EDOM
		}
		var d time.Duration
		if sec >= 0 {
			d = time.Duration(min(sec, 1<<32))*time.Second + time.Duration(usec)*time.Microsecond
		}
		s.mu.Lock()
		if name == unix.SO_RCVTIMEO || name == soRcvTimeoNew {
			s.rcvTimeo = d
		} else {
			s.sndTimeo = d
		}
		s.mu.Unlock()
		return nil
	case unix.SO_LINGER:
		if len(v) < 8 {
			return unix.EINVAL
		}
		so.SetLinger(tcpip.LingerOption{Enabled: le.Uint32(v) != 0, Timeout: time.Duration(int32(le.Uint32(v[4:]))) * time.Second})
		return nil
	case unix.SO_BINDTODEVICE:
		// Only "" (unbind) and the interfaces that exist.
		n := 0
		for n < len(v) && v[n] != 0 {
			n++
		}
		if n == 0 {
			return errno(so.SetBindToDevice(0))
		}
		for _, ifc := range s.st.Interfaces() {
			if ifc.Name == string(v[:n]) {
				return errno(so.SetBindToDevice(ifc.Index))
			}
		}
		return unix.ENODEV
	}
	x, err := intOpt(v)
	if err != nil {
		return err
	}
	if len(v) < 4 {
		return unix.EINVAL
	}
	switch name {
	case unix.SO_REUSEADDR:
		so.SetReuseAddress(x != 0)
	case unix.SO_REUSEPORT:
		so.SetReusePort(x != 0)
	case unix.SO_KEEPALIVE:
		so.SetKeepAlive(x != 0)
	case unix.SO_BROADCAST:
		so.SetBroadcast(x != 0)
	case unix.SO_SNDBUF:
		so.SetSendBufferSize(bufSize(x, 4608), true)
	case unix.SO_RCVBUF:
		so.SetReceiveBufferSize(bufSize(x, 2304), true)
	case unix.SO_RCVLOWAT:
		if x < 0 {
			x = 1<<31 - 1
		}
		return errno(so.SetRcvlowat(max(x, 1)))
	case unix.SO_SNDLOWAT:
		// Linux accepts and ignores it... except that it says ENOPROTOOPT.
		return unix.ENOPROTOOPT
	default:
		return s.setStored(unix.SOL_SOCKET, name, v)
	}
	return nil
}

func (s *Socket) setTCPOpt(name int, v []byte) error {
	so := s.ep.SocketOptions()
	if name == unix.TCP_CONGESTION {
		n := 0
		for n < len(v) && v[n] != 0 {
			n++
		}
		cc := tcpip.CongestionControlOption(v[:n])
		return errno(s.ep.SetSockOpt(&cc))
	}
	x, err := intOpt(v)
	if err != nil {
		return err
	}
	if len(v) < 4 {
		return unix.EINVAL
	}
	switch name {
	case unix.TCP_NODELAY:
		so.SetDelayOption(x == 0)
	case unix.TCP_CORK:
		so.SetCorkOption(x != 0)
	case unix.TCP_QUICKACK:
		so.SetQuickAck(x != 0)
	case unix.TCP_KEEPIDLE:
		if x < 1 || x > maxTCPKeepIdle {
			return unix.EINVAL
		}
		o := tcpip.KeepaliveIdleOption(time.Duration(x) * time.Second)
		return errno(s.ep.SetSockOpt(&o))
	case unix.TCP_KEEPINTVL:
		if x < 1 || x > maxTCPKeepIntvl {
			return unix.EINVAL
		}
		o := tcpip.KeepaliveIntervalOption(time.Duration(x) * time.Second)
		return errno(s.ep.SetSockOpt(&o))
	case unix.TCP_KEEPCNT:
		if x < 1 || x > maxTCPKeepCnt {
			return unix.EINVAL
		}
		return errno(s.ep.SetSockOptInt(tcpip.KeepaliveCountOption, int(x)))
	case unix.TCP_MAXSEG:
		if x != 0 && (x < 88 || x > 32767) {
			return unix.EINVAL
		}
		if x == 0 {
			return nil
		}
		return errno(s.ep.SetSockOptInt(tcpip.MaxSegOption, int(x)))
	case unix.TCP_USER_TIMEOUT:
		if x < 0 {
			return unix.EINVAL
		}
		o := tcpip.TCPUserTimeoutOption(time.Duration(x) * time.Millisecond)
		return errno(s.ep.SetSockOpt(&o))
	case unix.TCP_DEFER_ACCEPT:
		o := tcpip.TCPDeferAcceptOption(time.Duration(max(x, 0)) * time.Second)
		return errno(s.ep.SetSockOpt(&o))
	case unix.TCP_LINGER2:
		o := tcpip.TCPLingerTimeoutOption(time.Duration(x) * time.Second)
		return errno(s.ep.SetSockOpt(&o))
	default:
		return s.setStored(unix.IPPROTO_TCP, name, v)
	}
	return nil
}

// GetSockOpt returns option name at level; the caller truncates it to
// the length asked for. A level the socket does not have is EOPNOTSUPP
// (ENOPROTOOPT on AF_INET6: noLevel) here where setsockopt says
// ENOPROTOOPT, as on Linux.
func (s *Socket) GetSockOpt(level, name int) ([]byte, error) {
	switch level {
	case unix.SOL_SOCKET:
		return s.getSocketOpt(name)
	case unix.IPPROTO_TCP:
		if s.typ != unix.SOCK_STREAM {
			return nil, s.noLevel()
		}
		return s.getTCPOpt(name)
	case unix.IPPROTO_IP:
		if name == unix.IP_OPTIONS {
			// None are sent (ipOptions).
			return []byte{}, nil
		}
		return s.getStored(level, name)
	case unix.IPPROTO_IPV6:
		if s.family != unix.AF_INET6 {
			return nil, unix.EOPNOTSUPP
		}
		if name == unix.IPV6_V6ONLY {
			return putInt(b2i(s.ep.SocketOptions().GetV6Only())), nil
		}
		return s.getStored(level, name)
	case unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE:
		if s.typ != unix.SOCK_DGRAM {
			return nil, s.noLevel()
		}
		if name == udpliteSendCscov || name == udpliteRecvCscov {
			// A UDP socket's coverage is 0, the whole datagram.
			return s.getStored(unix.IPPROTO_UDPLITE, name)
		}
		return s.getStored(unix.IPPROTO_UDP, name)
	}
	return nil, s.noLevel()
}

// noLevel is getsockopt's error for a level the socket does not have:
// EOPNOTSUPP from Linux's ip_getsockopt, ENOPROTOOPT from
// ipv6_getsockopt, which comes first on an AF_INET6 socket.
func (s *Socket) noLevel() error {
	if s.family == unix.AF_INET6 {
		return unix.ENOPROTOOPT
	}
	return unix.EOPNOTSUPP
}

// TakeError returns and clears the pending error, as SO_ERROR does.
func (s *Socket) TakeError() unix.Errno {
	if err := s.ep.LastError(); err != nil {
		// A failed connect leaves netstack's TCP endpoint with the
		// error twice (as its hard and its last error); Linux reports
		// it once.
		s.ep.LastError()
		if e, ok := errno(err).(unix.Errno); ok {
			return e
		}
	}
	return 0
}

func (s *Socket) getSocketOpt(name int) ([]byte, error) {
	so := s.ep.SocketOptions()
	switch name {
	case unix.SO_TYPE:
		return putInt(int32(s.typ)), nil
	case unix.SO_DOMAIN:
		return putInt(int32(s.family)), nil
	case unix.SO_PROTOCOL:
		return putInt(int32(s.proto)), nil
	case unix.SO_ERROR:
		return putInt(int32(s.TakeError())), nil
	case unix.SO_ACCEPTCONN:
		return putInt(b2i(s.typ == unix.SOCK_STREAM && tcp.EndpointState(s.ep.State()) == tcp.StateListen)), nil
	case unix.SO_REUSEADDR:
		return putInt(b2i(so.GetReuseAddress())), nil
	case unix.SO_REUSEPORT:
		return putInt(b2i(so.GetReusePort())), nil
	case unix.SO_KEEPALIVE:
		return putInt(b2i(so.GetKeepAlive())), nil
	case unix.SO_BROADCAST:
		return putInt(b2i(so.GetBroadcast())), nil
	case unix.SO_SNDBUF:
		return putInt(int32(so.GetSendBufferSize())), nil
	case unix.SO_RCVBUF:
		return putInt(int32(so.GetReceiveBufferSize())), nil
	case unix.SO_RCVLOWAT:
		return putInt(so.GetRcvlowat()), nil
	case unix.SO_SNDLOWAT:
		return putInt(1), nil
	case unix.SO_LINGER:
		l := so.GetLinger()
		b := putInt(b2i(l.Enabled))
		return le.AppendUint32(b, uint32(l.Timeout/time.Second)), nil
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO, soRcvTimeoNew, soSndTimeoNew:
		rcv, snd := s.Timeouts()
		d := snd
		if name == unix.SO_RCVTIMEO || name == soRcvTimeoNew {
			d = rcv
		}
		b := le.AppendUint64(nil, uint64(d/time.Second))
		return le.AppendUint64(b, uint64(d%time.Second/time.Microsecond)), nil
	case unix.SO_BINDTODEVICE:
		idx := so.GetBindToDevice()
		for _, ifc := range s.st.Interfaces() {
			if ifc.Index == idx && idx != 0 {
				return append([]byte(ifc.Name), 0), nil
			}
		}
		return nil, nil
	case unix.SO_PEERCRED:
		// Linux gives the "nobody" credentials for a socket without a
		// peer process.
		b := putInt(0)
		b = le.AppendUint32(b, 0xffffffff)
		return le.AppendUint32(b, 0xffffffff), nil
	}
	v, err := s.getStored(unix.SOL_SOCKET, name)
	if err == nil && name == unix.SO_PRIORITY {
		return v, nil
	}
	return v, err
}

func (s *Socket) getTCPOpt(name int) ([]byte, error) {
	so := s.ep.SocketOptions()
	switch name {
	case unix.TCP_NODELAY:
		return putInt(b2i(!so.GetDelayOption())), nil
	case unix.TCP_CORK:
		return putInt(b2i(so.GetCorkOption())), nil
	case unix.TCP_QUICKACK:
		return putInt(b2i(so.GetQuickAck())), nil
	case unix.TCP_KEEPIDLE:
		var o tcpip.KeepaliveIdleOption
		if err := s.ep.GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		return putInt(int32(time.Duration(o) / time.Second)), nil
	case unix.TCP_KEEPINTVL:
		var o tcpip.KeepaliveIntervalOption
		if err := s.ep.GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		return putInt(int32(time.Duration(o) / time.Second)), nil
	case unix.TCP_KEEPCNT:
		v, err := s.ep.GetSockOptInt(tcpip.KeepaliveCountOption)
		if err != nil {
			return nil, errno(err)
		}
		return putInt(int32(v)), nil
	case unix.TCP_MAXSEG:
		v, err := s.ep.GetSockOptInt(tcpip.MaxSegOption)
		if err != nil {
			return nil, errno(err)
		}
		return putInt(int32(v)), nil
	case unix.TCP_USER_TIMEOUT:
		var o tcpip.TCPUserTimeoutOption
		if err := s.ep.GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		return putInt(int32(time.Duration(o) / time.Millisecond)), nil
	case unix.TCP_DEFER_ACCEPT:
		var o tcpip.TCPDeferAcceptOption
		if err := s.ep.GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		return putInt(int32(time.Duration(o) / time.Second)), nil
	case unix.TCP_LINGER2:
		var o tcpip.TCPLingerTimeoutOption
		if err := s.ep.GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		return putInt(int32(time.Duration(o) / time.Second)), nil
	case unix.TCP_CONGESTION:
		var o tcpip.CongestionControlOption
		if err := s.ep.GetSockOpt(&o); err != nil {
			return nil, errno(err)
		}
		b := make([]byte, 16)
		copy(b, o)
		return b, nil
	case unix.TCP_INFO:
		return s.tcpInfo(), nil
	}
	return s.getStored(unix.IPPROTO_TCP, name)
}

// tcpInfo is struct tcp_info with what netstack can say: the state and
// the RTT figures; the rest stays zero.
func (s *Socket) tcpInfo() []byte {
	b := make([]byte, 232)
	st := tcp.EndpointState(s.ep.State())
	if st == tcp.StateTimeWait {
		// Linux hands TIME_WAIT to a timewait sock of its own and
		// leaves the socket a program holds in TCP_CLOSE.
		st = tcp.StateClose
	}
	b[0] = linuxTCPState(st)
	var info tcpip.TCPInfoOption
	if err := s.ep.GetSockOpt(&info); err == nil {
		le.PutUint32(b[68:], uint32(info.RTT/time.Microsecond))
		le.PutUint32(b[72:], uint32(info.RTTVar/time.Microsecond))
		le.PutUint32(b[80:], info.SndCwnd)
		le.PutUint32(b[76:], info.SndSsthresh)
	}
	return b
}

// linuxTCPState maps netstack's TCP states to Linux's TCP_* numbers.
func linuxTCPState(st tcp.EndpointState) byte {
	switch st {
	case tcp.StateEstablished:
		return 1
	case tcp.StateSynSent, tcp.StateConnecting:
		return 2
	case tcp.StateSynRecv:
		return 3
	case tcp.StateFinWait1:
		return 4
	case tcp.StateFinWait2:
		return 5
	case tcp.StateTimeWait:
		return 6
	case tcp.StateClose, tcp.StateInitial, tcp.StateBound, tcp.StateError:
		return 7
	case tcp.StateCloseWait:
		return 8
	case tcp.StateLastAck:
		return 9
	case tcp.StateListen:
		return 10
	case tcp.StateClosing:
		return 11
	}
	return 7
}

func tcpEndpointState(ep tcpip.Endpoint) tcp.EndpointState { return tcp.EndpointState(ep.State()) }
