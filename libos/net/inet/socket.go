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
	// shutRd and shutWr are Linux's sk_shutdown bits as shutdown(2) set
	// them, even on a socket it refused as not connected (Linux keeps
	// them then too). SHUT_RD of a connection is never handed to
	// netstack, whose TCP would drop queued data and reset the
	// connection and whose UDP drops what comes later: on Linux the
	// queued and later data stay readable, and an empty queue reads as
	// end of file instead of blocking.
	shutRd, shutWr bool
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
	ra, err := s.ep.GetRemoteAddress()
	if err != nil {
		return unix.ECONNREFUSED
	}
	// netstack answers the next connect with success once, for a
	// non-blocking connect that has not been told it completed; this
	// one was (by the connect call that waited), so a further connect
	// is EISCONN as on Linux.
	s.ep.Connect(ra)
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
	s.mu.Lock()
	if f&tcpip.ShutdownRead != 0 {
		s.shutRd = true
	}
	if f&tcpip.ShutdownWrite != 0 {
		s.shutWr = true
	}
	s.mu.Unlock()
	if s.typ == unix.SOCK_DGRAM {
		// netstack's UDP would drop what arrives after SHUT_RD;
		// Linux queues it, and a receive reads it.
		f &^= tcpip.ShutdownRead
		if f == 0 {
			s.q.Notify(waiter.EventIn | waiter.EventRdHUp | waiter.EventHUp)
			if _, err := s.ep.GetRemoteAddress(); err != nil {
				return unix.ENOTCONN
			}
			return nil
		}
	}
	if s.typ == unix.SOCK_STREAM {
		switch tcp.EndpointState(s.ep.State()) {
		case tcp.StateInitial, tcp.StateBound, tcp.StateClose, tcp.StateError:
			return unix.ENOTCONN
		case tcp.StateListen, tcp.StateConnecting, tcp.StateSynSent, tcp.StateSynRecv:
			// netstack's shutdown stops a listener (waking its
			// accepts) and aborts a connect, as Linux's does.
		default:
			f &^= tcpip.ShutdownRead
			if f == 0 {
				s.q.Notify(waiter.EventIn | waiter.EventRdHUp)
				return nil
			}
		}
	}
	err := errno(s.ep.Shutdown(f))
	s.q.Notify(waiter.EventIn | waiter.EventOut | waiter.EventRdHUp | waiter.EventHUp)
	return err
}

// shutdown returns the shutdown(2) bits: SHUT_RD and SHUT_WR done.
func (s *Socket) shutdown() (rd, wr bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutRd, s.shutWr
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
	if _, wr := s.shutdown(); wr {
		return 0, unix.EPIPE
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
	shutRd, _ := s.shutdown()
	if s.typ == unix.SOCK_STREAM {
		var w = tcpip.LimitedWriter{W: (*tcpip.SliceWriter)(&b), N: int64(len(b))}
		if len(b) == 0 {
			// Linux's tcp_recvmsg waits for a byte even when asked
			// for none: 0 once there is one (or at end of file),
			// EAGAIN before.
			var one [1]byte
			sb := one[:]
			_, err := s.ep.Read(&tcpip.LimitedWriter{W: (*tcpip.SliceWriter)(&sb), N: 1}, tcpip.ReadOptions{Peek: true})
			if _, ok := err.(*tcpip.ErrWouldBlock); ok && !shutRd {
				return RecvResult{}, unix.EAGAIN
			}
			return RecvResult{}, nil
		}
		r, err := s.ep.Read(&w, tcpip.ReadOptions{Peek: peek})
		if err != nil {
			switch err.(type) {
			case *tcpip.ErrClosedForReceive:
				return RecvResult{}, nil
			case *tcpip.ErrWouldBlock:
				if shutRd {
					// Shut for reading: the end of what came.
					return RecvResult{}, nil
				}
			case *tcpip.ErrNotConnected, *tcpip.ErrInvalidEndpointState:
				if shutRd {
					return RecvResult{}, nil
				}
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
		switch err.(type) {
		case *tcpip.ErrClosedForReceive, *tcpip.ErrWouldBlock:
			if shutRd && flags&unix.MSG_DONTWAIT == 0 {
				// Linux's datagram receive gives 0 where it would
				// wait on a socket shut for reading.
				return RecvResult{}, nil
			}
			return RecvResult{}, unix.EAGAIN
		}
		return RecvResult{}, errno(err)
	}
	return RecvResult{N: w.n, Len: r.Total, From: encodeAddr(s.family, r.RemoteAddr), Control: s.control(&r.ControlMessages)}, nil
}

// Readiness implements waiter.Waitable.
func (s *Socket) Readiness(mask uint32) uint32 {
	var r uint32
	if s.typ == unix.SOCK_STREAM {
		r = s.tcpReadiness()
	} else {
		r = linuxEvents(s.ep.Readiness(gwaiter.EventMaskFromLinux(mask | waiter.EventIn | waiter.EventOut)))
		// datagram_poll: the shutdown bits, even where netstack
		// refused the shutdown.
		rd, wr := s.shutdown()
		if rd {
			r |= waiter.EventIn | waiter.EventRdNorm | waiter.EventRdHUp
		}
		if rd && wr {
			r |= waiter.EventHUp
		}
	}
	return r & (mask | waiter.EventErr | waiter.EventHUp)
}

// Poll bits a stream socket reports in the closed states.
const (
	readableShut = waiter.EventIn | waiter.EventRdNorm | waiter.EventRdHUp
	writableAny  = waiter.EventOut | waiter.EventWrNorm
)

// tcpReadiness is Linux's tcp_poll: POLLHUP on a socket never connected
// or shut both ways, POLLIN|POLLRDHUP once the receive side is shut (by
// shutdown or the peer's FIN), POLLOUT once the send side is, and
// POLLERR only with an error (netstack's "ready for anything" in its
// closed states would report it after a graceful close too).
func (s *Socket) tcpReadiness() uint32 {
	rd, wr := s.shutdown()
	state := tcp.EndpointState(s.ep.State())
	netr := func() uint32 {
		return linuxEvents(s.ep.Readiness(gwaiter.EventMaskFromLinux(waiter.EventIn | waiter.EventOut | waiter.EventRdHUp)))
	}
	switch state {
	case tcp.StateListen, tcp.StateConnecting, tcp.StateSynSent, tcp.StateSynRecv:
		return netr()
	case tcp.StateInitial, tcp.StateBound:
		// TCP_CLOSE: writable (nothing is queued), hung up.
		r := waiter.EventHUp | writableAny
		if rd {
			r |= readableShut
		}
		return r
	case tcp.StateClose, tcp.StateTimeWait:
		return waiter.EventHUp | readableShut | writableAny
	case tcp.StateError:
		return waiter.EventHUp | readableShut | writableAny | waiter.EventErr
	}
	r := netr()
	peerFin := state == tcp.StateCloseWait || state == tcp.StateLastAck || state == tcp.StateClosing
	sent := wr || state == tcp.StateFinWait1 || state == tcp.StateFinWait2 || state == tcp.StateClosing || state == tcp.StateLastAck
	if rd || peerFin {
		r |= readableShut
	}
	if sent {
		r |= writableAny
	}
	if (rd || peerFin) && sent {
		r |= waiter.EventHUp
	}
	return r
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
