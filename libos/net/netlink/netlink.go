// Package netlink is the library OS's AF_NETLINK: NETLINK_ROUTE sockets
// that answer the read-only rtnetlink requests (RTM_GETLINK, RTM_GETADDR,
// RTM_GETROUTE) from the sandbox's network stack, enough for iproute2's
// `ip addr`, `ip link` and `ip route`, glibc's getifaddrs and Go's
// net.Interfaces. Changing the configuration is refused with EPERM: the
// interfaces are exo's.
package netlink

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/net/inet"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

const (
	sockaddrNlLen = 12
	nlmsgHdrLen   = 16
	// dumpChunk is how much of a dump one datagram carries, as Linux
	// fills one page-sized skb per dump round.
	dumpChunk = 4096
	// defaultBuf is SO_SNDBUF's and SO_RCVBUF's default.
	defaultBuf = 212992
	solNetlink = 270
)

var le = binary.LittleEndian

// nextPort numbers the sockets' port ids: Linux gives the first socket of
// a process its pid and later ones negative numbers; any unique id does.
var nextPort atomic.Uint32

func init() { nextPort.Store(0x40000000) }

// Socket is one NETLINK_ROUTE socket. It implements vfs.File and
// waiter.Waitable.
type Socket struct {
	st  *inet.Stack
	typ int
	vfs.Sockfs
	q waiter.Queue

	mu                 sync.Mutex
	port               uint32
	bound              bool
	recvq              [][]byte
	opts               map[[2]int]int32
	sndBuf             int32
	rcvBuf             int32
	rcvTimeo, sndTimeo time.Duration
	closed             bool
}

// New makes a netlink socket of type typ (SOCK_RAW or SOCK_DGRAM) for
// protocol proto; only NETLINK_ROUTE exists.
func New(st *inet.Stack, typ, proto int) (*Socket, error) {
	if typ != unix.SOCK_RAW && typ != unix.SOCK_DGRAM {
		return nil, unix.ESOCKTNOSUPPORT
	}
	if proto != unix.NETLINK_ROUTE {
		return nil, unix.EPROTONOSUPPORT
	}
	return &Socket{st: st, typ: typ, Sockfs: vfs.NewSockfs(0, 0), opts: make(map[[2]int]int32), sndBuf: defaultBuf, rcvBuf: defaultBuf}, nil
}

// Family is AF_NETLINK.
func (s *Socket) Family() int { return unix.AF_NETLINK }

// Type is SOCK_RAW or SOCK_DGRAM.
func (s *Socket) Type() int { return s.typ }

// Protocol is NETLINK_ROUTE.
func (s *Socket) Protocol() int { return unix.NETLINK_ROUTE }

// Timeouts are SO_RCVTIMEO and SO_SNDTIMEO.
func (s *Socket) Timeouts() (time.Duration, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcvTimeo, s.sndTimeo
}

func parseAddr(b []byte) (port, groups uint32, err error) {
	if len(b) < sockaddrNlLen {
		return 0, 0, unix.EINVAL
	}
	if le.Uint16(b) != unix.AF_NETLINK {
		return 0, 0, unix.EINVAL
	}
	return le.Uint32(b[4:]), le.Uint32(b[8:]), nil
}

func encodeAddr(port uint32) []byte {
	b := make([]byte, sockaddrNlLen)
	le.PutUint16(b, unix.AF_NETLINK)
	le.PutUint32(b[4:], port)
	return b
}

// autobindLocked gives the socket a port id if it has none.
func (s *Socket) autobindLocked() {
	if !s.bound {
		s.port = nextPort.Add(1)
		s.bound = true
	}
}

// Bind takes a port id (0: one is chosen); multicast groups are accepted
// and never receive anything, as nothing here changes.
func (s *Socket) Bind(sa []byte) error {
	port, _, err := parseAddr(sa)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bound {
		if port != 0 && port != s.port {
			return unix.EINVAL
		}
		return nil
	}
	if port != 0 {
		s.port, s.bound = port, true
		return nil
	}
	s.autobindLocked()
	return nil
}

// Listen implements the socket call: not for netlink.
func (s *Socket) Listen(int) error { return unix.EOPNOTSUPP }

// Connect sets the default destination; only the kernel (port 0) answers.
func (s *Socket) Connect(sa []byte) error {
	if _, _, err := parseAddr(sa); err != nil {
		return err
	}
	s.mu.Lock()
	s.autobindLocked()
	s.mu.Unlock()
	return nil
}

// Connecting is always false: netlink connects at once.
func (s *Socket) Connecting() bool { return false }

// ConnectResult is nil.
func (s *Socket) ConnectResult() error { return nil }

// Accept implements the socket call: not for netlink.
func (s *Socket) Accept() (vfs.File, []byte, error) { return nil, nil, unix.EOPNOTSUPP }

// Name is the socket's sockaddr_nl.
func (s *Socket) Name() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return encodeAddr(s.port)
}

// PeerName is the kernel's address.
func (s *Socket) PeerName() ([]byte, error) { return encodeAddr(0), nil }

// Shutdown is accepted and changes nothing.
func (s *Socket) Shutdown(how int) error {
	if how < unix.SHUT_RD || how > unix.SHUT_RDWR {
		return unix.EINVAL
	}
	return nil
}

// Send takes one or more requests and queues their answers.
func (s *Socket) Send(data, to []byte, flags int) (int, error) {
	if to != nil {
		port, _, err := parseAddr(to)
		if err != nil {
			return 0, err
		}
		if port != 0 {
			// Only the kernel answers here; other sockets never
			// hear from each other.
			return 0, unix.ECONNREFUSED
		}
	}
	s.mu.Lock()
	s.autobindLocked()
	port := s.port
	s.mu.Unlock()
	var out [][]byte
	for b := data; len(b) >= nlmsgHdrLen; {
		l := int(le.Uint32(b))
		if l < nlmsgHdrLen || l > len(b) {
			break
		}
		out = append(out, s.handle(b[:l], port)...)
		b = b[min(align4(l), len(b)):]
	}
	if len(out) > 0 {
		s.mu.Lock()
		s.recvq = append(s.recvq, out...)
		s.mu.Unlock()
		s.q.Notify(waiter.EventIn | waiter.EventRdNorm)
	}
	return len(data), nil
}

// Recv returns the next datagram of answers.
func (s *Socket) Recv(b []byte, flags int) (inet.RecvResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recvq) == 0 {
		return inet.RecvResult{}, unix.EAGAIN
	}
	m := s.recvq[0]
	if flags&unix.MSG_PEEK == 0 {
		s.recvq = s.recvq[1:]
	}
	n := copy(b, m)
	return inet.RecvResult{N: n, Len: len(m), From: encodeAddr(0)}, nil
}

// Readiness implements waiter.Waitable.
func (s *Socket) Readiness(mask uint32) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := waiter.EventOut | waiter.EventWrNorm
	if len(s.recvq) > 0 {
		r |= waiter.EventIn | waiter.EventRdNorm
	}
	return r & mask
}

// EventRegister implements waiter.Waitable.
func (s *Socket) EventRegister(e *waiter.Entry) { s.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.q.Unregister(e) }

// SetSockOpt stores the options iproute2, glibc and Go set.
func (s *Socket) SetSockOpt(level, name int, v []byte) error {
	if level == unix.SOL_SOCKET && (name == unix.SO_RCVTIMEO || name == unix.SO_SNDTIMEO) {
		if len(v) < 16 {
			return unix.EINVAL
		}
		d := time.Duration(int64(le.Uint64(v)))*time.Second + time.Duration(int64(le.Uint64(v[8:])))*time.Microsecond
		s.mu.Lock()
		if name == unix.SO_RCVTIMEO {
			s.rcvTimeo = max(d, 0)
		} else {
			s.sndTimeo = max(d, 0)
		}
		s.mu.Unlock()
		return nil
	}
	if len(v) < 4 {
		return unix.EINVAL
	}
	x := int32(le.Uint32(v))
	s.mu.Lock()
	defer s.mu.Unlock()
	switch level {
	case unix.SOL_SOCKET:
		switch name {
		case unix.SO_SNDBUF, unix.SO_SNDBUFFORCE:
			s.sndBuf = min(max(2*x, 2048), 2*defaultBuf)
		case unix.SO_RCVBUF, unix.SO_RCVBUFFORCE:
			s.rcvBuf = min(max(2*x, 256), 2*defaultBuf)
		case unix.SO_PASSCRED, unix.SO_TIMESTAMP, unix.SO_REUSEADDR, unix.SO_KEEPALIVE:
			s.opts[[2]int{level, name}] = x
		default:
			return unix.ENOPROTOOPT
		}
	case solNetlink:
		switch name {
		case unix.NETLINK_ADD_MEMBERSHIP, unix.NETLINK_DROP_MEMBERSHIP, unix.NETLINK_PKTINFO,
			unix.NETLINK_BROADCAST_ERROR, unix.NETLINK_NO_ENOBUFS, unix.NETLINK_LISTEN_ALL_NSID,
			unix.NETLINK_CAP_ACK, unix.NETLINK_EXT_ACK, unix.NETLINK_GET_STRICT_CHK:
			s.opts[[2]int{level, name}] = x
		default:
			return unix.ENOPROTOOPT
		}
	default:
		return unix.ENOPROTOOPT
	}
	return nil
}

// GetSockOpt answers the generic options and the stored ones.
func (s *Socket) GetSockOpt(level, name int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	put := func(x int32) ([]byte, error) { return le.AppendUint32(nil, uint32(x)), nil }
	if level == unix.SOL_SOCKET {
		switch name {
		case unix.SO_TYPE:
			return put(int32(s.typ))
		case unix.SO_DOMAIN:
			return put(unix.AF_NETLINK)
		case unix.SO_PROTOCOL:
			return put(unix.NETLINK_ROUTE)
		case unix.SO_ERROR:
			return put(0)
		case unix.SO_SNDBUF:
			return put(s.sndBuf)
		case unix.SO_RCVBUF:
			return put(s.rcvBuf)
		}
	}
	if level != unix.SOL_SOCKET && level != solNetlink {
		return nil, unix.ENOPROTOOPT
	}
	x, ok := s.opts[[2]int{level, name}]
	if !ok && level == unix.SOL_SOCKET {
		return nil, unix.ENOPROTOOPT
	}
	return put(x)
}

// Read implements vfs.File.
func (s *Socket) Read(b []byte) (int, error) {
	r, err := s.Recv(b, 0)
	return r.N, err
}

// Write implements vfs.File.
func (s *Socket) Write(b []byte) (int, error) { return s.Send(b, nil, 0) }

// Ioctl implements vfs.File: the interface queries.
func (s *Socket) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	return s.st.InterfaceIoctl(req, arg, mem)
}

// Close implements vfs.File.
func (s *Socket) Close() error {
	s.mu.Lock()
	s.closed = true
	s.recvq = nil
	s.mu.Unlock()
	return nil
}

func align4(n int) int { return (n + 3) &^ 3 }
