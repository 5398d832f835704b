package inet

import (
	"bytes"
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	gwaiter "gvisor.dev/gvisor/pkg/waiter"

	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// somaxconn is net.core.somaxconn: listen's backlog is capped to it.
const somaxconn = 4096

// Socket is one AF_INET or AF_INET6 socket on a netstack endpoint. It
// implements vfs.File and waiter.Waitable.
type Socket struct {
	st     *Stack
	family int
	typ    int
	proto  int
	vfs.Sockfs

	ep tcpip.Endpoint
	wq *gwaiter.Queue
	// bridge forwards netstack's readiness events to q.
	bridge gwaiter.Entry
	q      waiter.Queue

	mu sync.Mutex
	// rcvTimeo and sndTimeo are SO_RCVTIMEO and SO_SNDTIMEO.
	rcvTimeo, sndTimeo time.Duration
	// stored holds options Linux keeps and reports back that have no
	// effect here (IP_TOS on loopback, SO_PRIORITY, ...), by level and
	// name.
	stored map[[2]int]int32
	// shutRd records shutdown(SHUT_RD): reads then see end of file even
	// where netstack would still deliver queued data.
	shutRd bool
	// keepIdle etc. are remembered so getsockopt reports what was set.
	closed bool
	// uid is the creator's, which /proc/net shows.
	uid uint32
}

var (
	_ vfs.File        = (*Socket)(nil)
	_ waiter.Waitable = (*Socket)(nil)
)

// NewSocket makes a socket: family AF_INET or AF_INET6, typ SOCK_STREAM
// or SOCK_DGRAM, proto 0 or the type's own protocol (for SOCK_DGRAM also
// IPPROTO_UDPLITE, served by the stack's UDP-Lite stack: udplite.go).
func (st *Stack) NewSocket(family, typ, proto int) (*Socket, error) {
	netProto := ipv4.ProtocolNumber
	if family == unix.AF_INET6 {
		netProto = ipv6.ProtocolNumber
	}
	var tp tcpip.TransportProtocolNumber
	switch typ {
	case unix.SOCK_STREAM:
		if proto != 0 && proto != unix.IPPROTO_TCP {
			return nil, unix.EPROTONOSUPPORT
		}
		tp, proto = tcp.ProtocolNumber, unix.IPPROTO_TCP
	case unix.SOCK_DGRAM:
		if p, ok := pingProto(family, proto); ok {
			// A ping socket, as unprivileged ping uses (Linux lets
			// the groups of net.ipv4.ping_group_range, all of them
			// in a container).
			tp = p
			break
		}
		if proto == unix.IPPROTO_UDPLITE {
			wq := &gwaiter.Queue{}
			ep, err := st.lite.NewEndpoint(udp.ProtocolNumber, netProto, wq)
			if err != nil {
				return nil, errno(err)
			}
			return st.wrap(family, typ, proto, ep, wq), nil
		}
		if proto != 0 && proto != unix.IPPROTO_UDP {
			return nil, unix.EPROTONOSUPPORT
		}
		tp, proto = udp.ProtocolNumber, unix.IPPROTO_UDP
	case unix.SOCK_RAW:
		// NewRawSocket makes them, for a caller with CAP_NET_RAW.
		return nil, unix.EPERM
	default:
		return nil, unix.ESOCKTNOSUPPORT
	}
	wq := &gwaiter.Queue{}
	ep, err := st.s.NewEndpoint(tp, netProto, wq)
	if err != nil {
		return nil, errno(err)
	}
	return st.wrap(family, typ, proto, ep, wq), nil
}

func (st *Stack) wrap(family, typ, proto int, ep tcpip.Endpoint, wq *gwaiter.Queue) *Socket {
	s := &Socket{st: st, family: family, typ: typ, proto: proto, ep: ep, wq: wq, Sockfs: vfs.NewSockfs(0, 0), stored: make(map[[2]int]int32)}
	s.bridge = gwaiter.NewFunctionEntry(gwaiter.EventMask(0xffffffff), func(m gwaiter.EventMask) {
		s.q.Notify(linuxEvents(m))
	})
	wq.EventRegister(&s.bridge)
	st.socks.add(s)
	// Linux's default that netstack's differs from: Nagle's algorithm
	// on.
	if typ == unix.SOCK_STREAM {
		ep.SocketOptions().SetDelayOption(true)
	}
	return s
}

// linuxEvents is m with the RDNORM/WRNORM bits poll(2) reports beside
// POLLIN and POLLOUT.
func linuxEvents(m gwaiter.EventMask) uint32 {
	r := m.ToLinux()
	if r&waiter.EventIn != 0 {
		r |= waiter.EventRdNorm
	}
	if r&waiter.EventOut != 0 {
		r |= waiter.EventWrNorm
	}
	return r
}

// Family is AF_INET or AF_INET6.
func (s *Socket) Family() int { return s.family }

// Type is SOCK_STREAM or SOCK_DGRAM.
func (s *Socket) Type() int { return s.typ }

// Protocol is IPPROTO_TCP, IPPROTO_UDP or IPPROTO_UDPLITE (or a ping or
// raw socket's).
func (s *Socket) Protocol() int { return s.proto }

// Timeouts are SO_RCVTIMEO and SO_SNDTIMEO (0: none).
func (s *Socket) Timeouts() (rcv, snd time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcvTimeo, s.sndTimeo
}

// Bind binds the socket to the address sa.
func (s *Socket) Bind(sa []byte) error {
	a, err := parseAddr(s.family, sa)
	if err == ErrUnspec {
		// Linux takes AF_UNSPEC with INADDR_ANY on an AF_INET socket
		// for compatibility with old programs.
		if s.family != unix.AF_INET || len(sa) < sockaddrInLen || binary.BigEndian.Uint32(sa[4:]) != 0 {
			return unix.EAFNOSUPPORT
		}
		a, err = tcpip.FullAddress{Port: binary.BigEndian.Uint16(sa[2:])}, nil
	}
	if err != nil {
		return err
	}
	return errno(s.ep.Bind(a))
}

// Listen makes a stream socket listen.
func (s *Socket) Listen(backlog int) error {
	if s.typ != unix.SOCK_STREAM {
		return unix.EOPNOTSUPP
	}
	if backlog < 0 || backlog > somaxconn {
		backlog = somaxconn
	}
	return errno(s.ep.Listen(backlog))
}

// Connect starts connecting to sa. A stream socket's connect returns
// EINPROGRESS: the caller waits for writability and asks ConnectResult.
// AF_UNSPEC dissolves a datagram socket's association.
func (s *Socket) Connect(sa []byte) error {
	a, err := parseAddr(s.family, sa)
	if err == ErrUnspec {
		if s.typ == unix.SOCK_DGRAM {
			s.ep.Disconnect()
			return nil
		}
		return errno(s.ep.Disconnect())
	}
	if err != nil {
		return err
	}
	return errno(s.ep.Connect(a))
}

// Connecting reports whether a stream connect is still in progress.
func (s *Socket) Connecting() bool {
	return tcp.EndpointState(s.ep.State()) == tcp.StateSynSent
}

// ConnectResult is the outcome of a connect that returned EINPROGRESS
// once the socket became writable: what SO_ERROR would say.
func (s *Socket) ConnectResult() error {
	if e := s.TakeError(); e != 0 {
		return e
	}
	if _, err := s.ep.GetRemoteAddress(); err != nil {
		return unix.ECONNREFUSED
	}
	return nil
}

// Accept takes a connection off the queue of a listening socket and
// returns it with the peer's address.
func (s *Socket) Accept() (vfs.File, []byte, error) {
	if s.typ != unix.SOCK_STREAM {
		return nil, nil, unix.EOPNOTSUPP
	}
	var peer tcpip.FullAddress
	ep, wq, err := s.ep.Accept(&peer)
	if err != nil {
		if _, ok := err.(*tcpip.ErrWouldBlock); ok {
			return nil, nil, unix.EAGAIN
		}
		return nil, nil, errno(err)
	}
	c := s.st.wrap(s.family, s.typ, s.proto, ep, wq)
	// An accepted socket inherits the listener's timeouts.
	c.rcvTimeo, c.sndTimeo = s.Timeouts()
	c.uid = s.owner()
	return c, encodeAddr(s.family, peer), nil
}

// Name is the socket's address, as getsockname gives it.
func (s *Socket) Name() []byte {
	a, err := s.ep.GetLocalAddress()
	if err != nil {
		a = tcpip.FullAddress{}
	}
	return encodeAddr(s.family, a)
}

// PeerName is the connected peer's address; ENOTCONN without one.
func (s *Socket) PeerName() ([]byte, error) {
	a, err := s.ep.GetRemoteAddress()
	if err != nil {
		return nil, unix.ENOTCONN
	}
	return encodeAddr(s.family, a), nil
}

// Shutdown shuts down one or both halves of the connection.
func (s *Socket) Shutdown(how int) error {
	var f tcpip.ShutdownFlags
	switch how {
	case unix.SHUT_RD:
		f = tcpip.ShutdownRead
	case unix.SHUT_WR:
		f = tcpip.ShutdownWrite
	case unix.SHUT_RDWR:
		f = tcpip.ShutdownRead | tcpip.ShutdownWrite
	default:
		return unix.EINVAL
	}
	if f&tcpip.ShutdownRead != 0 {
		s.mu.Lock()
		s.shutRd = true
		s.mu.Unlock()
	}
	return errno(s.ep.Shutdown(f))
}

// Send sends data (to the address to, if not nil). A stream socket may
// take only part; EAGAIN means nothing could be sent now.
func (s *Socket) Send(data []byte, to []byte, flags int) (int, error) {
	return s.send(data, to, flags, nil)
}

// send is Send with the control messages of a sendmsg (nil: none).
func (s *Socket) send(data []byte, to []byte, flags int, cm *tcpip.SendableControlMessages) (int, error) {
	if flags&unix.MSG_OOB != 0 {
		return 0, unix.EOPNOTSUPP
	}
	opts := tcpip.WriteOptions{More: flags&unix.MSG_MORE != 0, EndOfRecord: flags&unix.MSG_EOR != 0}
	if cm != nil {
		opts.ControlMessages = *cm
	}
	if to != nil && s.typ != unix.SOCK_STREAM {
		a, err := parseAddr(s.family, to)
		if err == ErrUnspec {
			return 0, unix.EAFNOSUPPORT
		}
		if err != nil {
			return 0, err
		}
		opts.To = &a
	}
	if s.typ == unix.SOCK_STREAM {
		if _, err := s.ep.GetRemoteAddress(); err != nil && !s.Connecting() {
			return 0, unix.EPIPE
		}
	}
	n, err := s.ep.Write(bytes.NewReader(data), opts)
	if err != nil {
		if n > 0 {
			return int(n), nil
		}
		if _, ok := err.(*tcpip.ErrNotConnected); ok && s.typ == unix.SOCK_DGRAM {
			return 0, unix.EDESTADDRREQ
		}
		return 0, errno(err)
	}
	return int(n), nil
}

// truncWriter keeps what fits in b and drops the rest of a datagram.
type truncWriter struct {
	b []byte
	n int
}

func (w *truncWriter) Write(p []byte) (int, error) {
	w.n += copy(w.b[w.n:], p)
	return len(p), nil
}

// RecvResult is what one receive got.
type RecvResult struct {
	// N bytes were stored; Len is the whole datagram's length.
	N, Len int
	// From is the sender's address (datagram sockets).
	From []byte
	// Control is the control messages recvmsg delivers (cmsghdr
	// records, each padded to 8 bytes).
	Control []byte
}

// Recv receives into b: a stream's next bytes, or a datagram (truncated
// to b). EAGAIN means nothing is there yet; a stream at end of file
// returns N == 0.
func (s *Socket) Recv(b []byte, flags int) (RecvResult, error) {
	if flags&unix.MSG_OOB != 0 {
		return RecvResult{}, unix.EINVAL
	}
	peek := flags&unix.MSG_PEEK != 0
	if s.typ == unix.SOCK_STREAM {
		s.mu.Lock()
		shut := s.shutRd
		s.mu.Unlock()
		if shut {
			return RecvResult{}, nil
		}
		var w = tcpip.LimitedWriter{W: (*tcpip.SliceWriter)(&b), N: int64(len(b))}
		if len(b) == 0 {
			return RecvResult{}, nil
		}
		r, err := s.ep.Read(&w, tcpip.ReadOptions{Peek: peek})
		if err != nil {
			switch err.(type) {
			case *tcpip.ErrClosedForReceive:
				return RecvResult{}, nil
			case *tcpip.ErrNotConnected, *tcpip.ErrInvalidEndpointState:
				return RecvResult{}, unix.ENOTCONN
			}
			return RecvResult{}, errno(err)
		}
		if !peek {
			s.ep.ModerateRecvBuf(r.Count)
		}
		return RecvResult{N: r.Count, Len: r.Count}, nil
	}
	w := truncWriter{b: b}
	r, err := s.ep.Read(&w, tcpip.ReadOptions{Peek: peek, NeedRemoteAddr: true})
	if err != nil {
		if _, ok := err.(*tcpip.ErrClosedForReceive); ok {
			return RecvResult{}, unix.EAGAIN
		}
		return RecvResult{}, errno(err)
	}
	return RecvResult{N: w.n, Len: r.Total, From: encodeAddr(s.family, r.RemoteAddr), Control: s.control(&r.ControlMessages)}, nil
}

// Readiness implements waiter.Waitable.
func (s *Socket) Readiness(mask uint32) uint32 {
	r := linuxEvents(s.ep.Readiness(gwaiter.EventMaskFromLinux(mask | waiter.EventIn | waiter.EventOut)))
	return r & (mask | waiter.EventErr | waiter.EventHUp)
}

// EventRegister implements waiter.Waitable.
func (s *Socket) EventRegister(e *waiter.Entry) { s.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.q.Unregister(e) }

// Read implements vfs.File: recv with no flags.
func (s *Socket) Read(b []byte) (int, error) {
	r, err := s.Recv(b, 0)
	return r.N, err
}

// Write implements vfs.File: send with no flags.
func (s *Socket) Write(b []byte) (int, error) { return s.Send(b, nil, 0) }

// Close implements vfs.File.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.wq.EventUnregister(&s.bridge)
	s.st.socks.remove(s)
	s.ep.Close()
	return nil
}
