// Package hostinet is the library OS's AF_INET and AF_INET6 sockets in
// host-network mode (--network=host): each socket is a host TCP or UDP
// socket that exo made in its network namespace and passed to the sentry
// through a host-network capability (caps.KindHostNet). The sentry never
// calls socket(2) itself; it binds, connects, sends and receives on the
// descriptors it was given.
//
// This is weaker isolation than the library OS's own TCP/IP (libos/net/inet
// on a NIC): the host's kernel serves the workload's connections with the
// host's addresses and ports. What this package still decides is which
// socket options and ioctls reach the host: only an allowlist of those
// that concern the socket itself (none that need CAP_NET_ADMIN, reconfigure
// interfaces, or load congestion-control modules, since the sentry runs
// with host privileges).
//
// As with the library OS's other files, a Socket never blocks: the host fd
// is non-blocking, an operation that cannot proceed returns EAGAIN, and the
// syscall layer waits for readiness (through libos/fs/hostfd's host poll)
// where signals can interrupt it.
package hostinet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/libos/fs/hostfd"
	"exokernelul.dev/exo/libos/net/inet"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// maxSockaddr is sizeof(struct sockaddr_storage).
const maxSockaddr = 128

// Provider hands out host sockets: the sentry's capability client with
// its host-network handle.
type Provider interface {
	HostSocket(id caps.ID, family, typ, proto int) (*os.File, error)
	HostSocketClosed(id caps.ID) error
}

// Net makes host sockets through one host-network handle.
type Net struct {
	p   Provider
	id  caps.ID
	log *slog.Logger
}

// New returns a Net asking p for sockets through handle id.
func New(p Provider, id caps.ID, log *slog.Logger) *Net {
	if log == nil {
		log = slog.Default()
	}
	return &Net{p: p, id: id, log: log}
}

// NewSocket makes a socket: family AF_INET or AF_INET6, typ SOCK_STREAM
// or SOCK_DGRAM, proto 0 or the type's own protocol. Anything else gets
// the errno Linux gives an unprivileged process, and is not asked of exo.
func (n *Net) NewSocket(family, typ, proto int) (*Socket, error) {
	switch typ {
	case unix.SOCK_STREAM:
		if proto != 0 && proto != unix.IPPROTO_TCP {
			return nil, unix.EPROTONOSUPPORT
		}
		proto = unix.IPPROTO_TCP
	case unix.SOCK_DGRAM:
		if proto != 0 && proto != unix.IPPROTO_UDP {
			// ICMP "ping" sockets included: exo makes TCP and UDP only.
			return nil, unix.EPROTONOSUPPORT
		}
		proto = unix.IPPROTO_UDP
	case unix.SOCK_RAW:
		return nil, unix.EPERM
	default:
		return nil, unix.ESOCKTNOSUPPORT
	}
	f, err := n.p.HostSocket(n.id, family, typ, proto)
	if err != nil {
		if en := caps.Errno(err); en != 0 {
			return nil, en
		}
		if errors.Is(err, caps.ErrQuota) {
			return nil, unix.ENFILE
		}
		n.log.Warn("hostinet: exo refused a socket", "err", err)
		return nil, unix.EACCES
	}
	fd, err := takeFD(f)
	if err != nil {
		n.p.HostSocketClosed(n.id)
		return nil, err
	}
	s := newSocket(fd, family, typ, proto)
	s.closed = func() {
		if err := n.p.HostSocketClosed(n.id); err != nil {
			n.log.Debug("hostinet: report socket closed", "err", err)
		}
	}
	return s, nil
}

// takeFD turns f into a bare non-blocking descriptor the Socket owns:
// (*os.File).Fd would make the shared description blocking.
func takeFD(f *os.File) (int, error) {
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("hostinet: %w", err)
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 3)
	}); err != nil {
		return -1, fmt.Errorf("hostinet: %w", err)
	}
	if derr != nil {
		return -1, derr
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, err
	}
	return nfd, nil
}

// Socket is one host socket. It implements vfs.File and waiter.Waitable.
type Socket struct {
	h      *hostfd.File // owns the fd; its watcher does the host polling
	fd     int
	family int
	typ    int
	proto  int
	vfs.Sockfs
	// closed, if set, tells exo the socket is gone (sockets accepted
	// here were never counted by exo).
	closed func()

	// connecting is set while a stream connect is in progress.
	connecting atomic.Bool

	mu sync.Mutex
	// rcvTimeo and sndTimeo are SO_RCVTIMEO and SO_SNDTIMEO, which the
	// syscall layer applies to its waits (the host fd never blocks).
	rcvTimeo, sndTimeo time.Duration
	done               bool
}

var (
	_ vfs.File        = (*Socket)(nil)
	_ waiter.Waitable = (*Socket)(nil)
)

func newSocket(fd, family, typ, proto int) *Socket {
	return &Socket{h: hostfd.New(fd), fd: fd, family: family, typ: typ, proto: proto, Sockfs: vfs.NewSockfs(0, 0)}
}

// Family is AF_INET or AF_INET6.
func (s *Socket) Family() int { return s.family }

// Type is SOCK_STREAM or SOCK_DGRAM.
func (s *Socket) Type() int { return s.typ }

// Protocol is IPPROTO_TCP or IPPROTO_UDP.
func (s *Socket) Protocol() int { return s.proto }

// Timeouts are SO_RCVTIMEO and SO_SNDTIMEO (0: none).
func (s *Socket) Timeouts() (rcv, snd time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcvTimeo, s.sndTimeo
}

func ptrLen(b []byte) (unsafe.Pointer, uintptr) {
	if len(b) == 0 {
		return nil, 0
	}
	return unsafe.Pointer(&b[0]), uintptr(len(b))
}

func errnoOf(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// call retries a host call interrupted by a signal the sentry got: the
// workload did not ask for that interruption.
func call(nr uintptr, a ...uintptr) (uintptr, error) {
	var args [6]uintptr
	copy(args[:], a)
	for {
		r, _, e := unix.Syscall6(nr, args[0], args[1], args[2], args[3], args[4], args[5])
		if e == unix.EINTR {
			continue
		}
		return r, errnoOf(e)
	}
}

// Bind binds the socket to the address sa. Addresses go to the host as
// the workload wrote them: the host checks their family and length.
func (s *Socket) Bind(sa []byte) error {
	p, n := ptrLen(sa)
	_, err := call(unix.SYS_BIND, uintptr(s.fd), uintptr(p), n)
	return err
}

// Listen makes a stream socket listen; the host caps the backlog.
func (s *Socket) Listen(backlog int) error {
	_, err := call(unix.SYS_LISTEN, uintptr(s.fd), uintptr(int32(backlog)))
	return err
}

// Connect starts connecting to sa. A stream connect returns EINPROGRESS:
// the caller waits for writability and asks ConnectResult.
func (s *Socket) Connect(sa []byte) error {
	s.h.Rearm()
	p, n := ptrLen(sa)
	_, err := call(unix.SYS_CONNECT, uintptr(s.fd), uintptr(p), n)
	if err == unix.EINPROGRESS {
		s.connecting.Store(true)
	}
	return err
}

// Connecting reports whether a stream connect is still in progress: the
// host socket is neither writable nor in error yet.
func (s *Socket) Connecting() bool {
	if !s.connecting.Load() {
		return false
	}
	s.h.Rearm()
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLOUT}}
	for {
		_, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil || fds[0].Revents != 0 {
			s.connecting.Store(false)
			return false
		}
		return true
	}
}

// ConnectResult is the outcome of a connect that returned EINPROGRESS,
// once the socket became writable: SO_ERROR, which it clears.
func (s *Socket) ConnectResult() error {
	v, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	return errnoOf(unix.Errno(v))
}

// Accept takes a connection off the queue of a listening socket and
// returns it, as a Socket of its own, with the peer's address.
func (s *Socket) Accept() (vfs.File, []byte, error) {
	s.h.Rearm()
	var sa [maxSockaddr]byte
	salen := uint32(len(sa))
	r, err := call(unix.SYS_ACCEPT4, uintptr(s.fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(unsafe.Pointer(&salen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	c := newSocket(int(r), s.family, s.typ, s.proto)
	// An accepted socket inherits the listener's timeouts, as on Linux.
	c.rcvTimeo, c.sndTimeo = s.Timeouts()
	return c, append([]byte(nil), sa[:min(int(salen), len(sa))]...), nil
}

func (s *Socket) name(nr uintptr) ([]byte, error) {
	var sa [maxSockaddr]byte
	salen := uint32(len(sa))
	if _, err := call(nr, uintptr(s.fd), uintptr(unsafe.Pointer(&sa[0])), uintptr(unsafe.Pointer(&salen))); err != nil {
		return nil, err
	}
	return append([]byte(nil), sa[:min(int(salen), len(sa))]...), nil
}

// Name is the socket's address, as getsockname gives it.
func (s *Socket) Name() []byte {
	b, err := s.name(unix.SYS_GETSOCKNAME)
	if err != nil {
		b = make([]byte, 16)
		binary.LittleEndian.PutUint16(b, uint16(s.family))
	}
	return b
}

// PeerName is the connected peer's address; ENOTCONN without one.
func (s *Socket) PeerName() ([]byte, error) { return s.name(unix.SYS_GETPEERNAME) }

// Shutdown shuts down one or both halves of the connection.
func (s *Socket) Shutdown(how int) error {
	err := unix.Shutdown(s.fd, how)
	s.h.Rearm()
	return err
}

// sendFlags are the send flags passed to the host; MSG_DONTWAIT and
// MSG_NOSIGNAL are always added (the syscall layer waits and raises
// SIGPIPE itself).
const sendFlags = unix.MSG_OOB | unix.MSG_DONTROUTE | unix.MSG_EOR | unix.MSG_MORE | unix.MSG_CONFIRM | unix.MSG_FASTOPEN

// Send sends data (to the address to, if not nil). A stream socket may
// take only part; EAGAIN means nothing could be sent now.
func (s *Socket) Send(data []byte, to []byte, flags int) (int, error) {
	var tp unsafe.Pointer
	var tn uintptr
	if to != nil {
		tp, tn = ptrLen(to)
	}
	s.h.Rearm()
	dp, dn := ptrLen(data)
	if dp == nil {
		var z byte
		dp = unsafe.Pointer(&z)
	}
	f := flags&sendFlags | unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL
	n, err := call(unix.SYS_SENDTO, uintptr(s.fd), uintptr(dp), dn, uintptr(f), uintptr(tp), tn)
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// recvFlags are the receive flags passed to the host; MSG_WAITALL is the
// syscall layer's to emulate, and MSG_DONTWAIT is always added.
const recvFlags = unix.MSG_OOB | unix.MSG_PEEK | unix.MSG_TRUNC

// Recv receives into b: a stream's next bytes, or a datagram (truncated
// to b, Len saying its whole length). EAGAIN means nothing is there yet;
// a stream at end of file returns N == 0.
func (s *Socket) Recv(b []byte, flags int) (inet.RecvResult, error) {
	f := flags&recvFlags | unix.MSG_DONTWAIT
	if s.typ == unix.SOCK_DGRAM {
		// The host then returns the datagram's whole length.
		f |= unix.MSG_TRUNC
	}
	s.h.Rearm()
	var sa [maxSockaddr]byte
	salen := uint32(len(sa))
	bp, bn := ptrLen(b)
	if bp == nil {
		var z byte
		bp = unsafe.Pointer(&z)
	}
	r, err := call(unix.SYS_RECVFROM, uintptr(s.fd), uintptr(bp), bn, uintptr(f), uintptr(unsafe.Pointer(&sa[0])), uintptr(unsafe.Pointer(&salen)))
	if err != nil {
		return inet.RecvResult{}, err
	}
	res := inet.RecvResult{N: min(int(r), len(b)), Len: int(r)}
	if s.typ == unix.SOCK_DGRAM && salen > 0 {
		res.From = append([]byte(nil), sa[:min(int(salen), len(sa))]...)
	}
	return res, nil
}

// Readiness implements waiter.Waitable with a host poll that does not
// wait.
func (s *Socket) Readiness(mask uint32) uint32 {
	return s.h.Readiness(mask | waiter.EventErr | waiter.EventHUp)
}

// EventRegister implements waiter.Waitable: a host poll in a goroutine
// notifies e while it is registered.
func (s *Socket) EventRegister(e *waiter.Entry) { s.h.EventRegister(e) }

// EventUnregister implements waiter.Waitable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.h.EventUnregister(e) }

// Read implements vfs.File: recv with no flags.
func (s *Socket) Read(b []byte) (int, error) {
	r, err := s.Recv(b, 0)
	return r.N, err
}

// Write implements vfs.File: send with no flags.
func (s *Socket) Write(b []byte) (int, error) { return s.Send(b, nil, 0) }

// Close implements vfs.File: it closes the host socket and tells exo.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil
	}
	s.done = true
	s.mu.Unlock()
	err := s.h.Close()
	if s.closed != nil {
		s.closed()
	}
	return err
}
