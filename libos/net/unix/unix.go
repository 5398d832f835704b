// Package unix implements the library OS's AF_UNIX sockets: stream,
// datagram and seqpacket sockets, socketpairs, names in the file system
// (bound to an S_IFSOCK inode and found again by its device and inode
// number) and in the abstract namespace, listen backlogs, file
// descriptions and credentials passed as ancillary data, shutdown and the
// socket options Linux gives AF_UNIX.
//
// Like pipes, sockets never block: an operation that cannot proceed
// returns EAGAIN (a stream send that took only part returns the count with
// EAGAIN) and the syscall layer waits for the socket's readiness (a Socket
// is a waiter.Waitable) before trying again. Resolving a path name with
// the caller's permissions is also the syscall layer's business: this
// package is given the inode's key.
//
// Every socket of one Namespace shares one lock: operations touch two
// sockets (a send queues on the peer and charges the sender), and a single
// lock keeps that simple and free of lock-order bugs.
package unix

import (
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	sys "golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// Type is a socket type: SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
type Type int

// The socket types.
const (
	Stream    Type = sys.SOCK_STREAM
	Dgram     Type = sys.SOCK_DGRAM
	SeqPacket Type = sys.SOCK_SEQPACKET
)

const (
	// DefaultBuf is SO_SNDBUF's and SO_RCVBUF's default, Linux's
	// net.core.wmem_default and rmem_default.
	DefaultBuf = 212992
	// maxBuf is net.core.wmem_max and rmem_max: setsockopt caps the
	// value asked for here before doubling it.
	maxBuf = 212992
	// minSndBuf and minRcvBuf are SOCK_MIN_SNDBUF and SOCK_MIN_RCVBUF.
	minSndBuf = 4608
	minRcvBuf = 2304
	// maxDgramQlen is net.unix.max_dgram_qlen: a datagram socket with
	// more than this many messages queued makes senders wait.
	maxDgramQlen = 10
	// MaxRights is SCM_MAX_FD: the most descriptions one message carries.
	MaxRights = 253
	// dgramOverhead is what Linux's datagram size check leaves of the
	// send buffer for the packet's own accounting.
	dgramOverhead = 32
)

// Cred is a process's identity as SO_PEERCRED and SCM_CREDENTIALS give
// it: struct ucred.
type Cred struct {
	PID      int32
	UID, GID uint32
	// Proc is the process itself, opaque here (the kernel's), for
	// SO_PEERPIDFD; nil when only the numbers are known.
	Proc any
}

// Encode returns struct ucred's 12 bytes.
func (c Cred) Encode() []byte {
	b := make([]byte, 12)
	binary.LittleEndian.PutUint32(b, uint32(c.PID))
	binary.LittleEndian.PutUint32(b[4:], c.UID)
	binary.LittleEndian.PutUint32(b[8:], c.GID)
	return b
}

// InodeKey is the identity of a bound socket's file: its st_dev and
// st_ino.
type InodeKey struct{ Dev, Ino uint64 }

// Namespace holds the sockets of one sandbox: the names they are bound to
// and the lock they share.
type Namespace struct {
	mu sync.Mutex
	// abstract names are per socket type, as Linux hashes them.
	abstract map[abstractKey]*Socket
	paths    map[InodeKey]*Socket
	// nextAuto is the next autobind name to try.
	nextAuto uint32

	// liveMu guards live, the sockets not yet closed, which
	// /proc/net/unix lists; its own lock since New runs with and
	// without mu held.
	liveMu sync.Mutex
	live   map[*Socket]struct{}
}

// NewNamespace returns a namespace with no names bound.
func NewNamespace() *Namespace {
	ns := &Namespace{abstract: make(map[abstractKey]*Socket), paths: make(map[InodeKey]*Socket), live: make(map[*Socket]struct{})}
	return ns
}

type abstractKey struct {
	typ  Type
	name string
}

// state is where a socket is in its life.
type state int

const (
	unconnected state = iota
	listening
	connected
)

// segment is one queued send: a datagram or seqpacket message, or a piece
// of a stream.
type segment struct {
	data []byte
	// off is how much of a stream segment has been read.
	off    int
	from   *Socket
	addr   string
	rights []*vfs.FileDescription
	cred   Cred
}

// Socket is one AF_UNIX socket. It implements vfs.File and
// waiter.Waitable.
type Socket struct {
	ns  *Namespace
	typ Type
	vfs.Sockfs
	uid uint32
	gid uint32

	q waiter.Queue

	// Everything below is guarded by ns.mu.
	state state
	// addr is the name bound (sun_path's bytes: a path, or a NUL and
	// the abstract name); "" when unbound.
	addr    string
	pathKey *InodeKey
	peer    *Socket
	recvq   []*segment
	queued  int // bytes in recvq not yet read
	// inflight is how many bytes this socket sent that the receiver has
	// not read yet: they count against sndbuf.
	inflight int
	// rcvShut and sndShut are the two halves of sk_shutdown: nothing
	// more will arrive, nothing more may be sent.
	rcvShut, sndShut bool
	// peerGone is set on a connected socket whose peer closed.
	peerGone bool
	closed   bool
	soErr    sys.Errno
	backlog  int
	acceptq  []*Socket
	// cred is the identity of the socket's creator (or of the listen
	// call); peerCred what SO_PEERCRED reports.
	cred, peerCred Cred
	hasPeerCred    bool
	opts           Options
}

// Options are the socket options Linux stores for AF_UNIX sockets and
// reports back.
type Options struct {
	SndBuf, RcvBuf     int
	ReuseAddr          bool
	KeepAlive          bool
	PassCred           bool
	Linger             bool
	LingerSecs         int32
	RcvLowat           int32
	RcvTimeo, SndTimeo time.Duration
	// PeekOff is SO_PEEK_OFF: where a MSG_PEEK read starts, moved on by
	// each peek and back by each read; -1 (the default) peeks from the
	// start.
	PeekOff int32
	// Other holds the generic options Linux stores and reports without
	// acting on them for AF_UNIX (SO_BROADCAST, SO_REUSEPORT, ...), by
	// option number.
	Other [16]int32
}

var (
	_ vfs.File        = (*Socket)(nil)
	_ waiter.Waitable = (*Socket)(nil)
)

// New returns an unconnected socket of typ made by cred.
func (ns *Namespace) New(typ Type, cred Cred) *Socket {
	s := &Socket{
		ns:     ns,
		typ:    typ,
		Sockfs: vfs.NewSockfs(cred.UID, cred.GID),
		uid:    cred.UID,
		gid:    cred.GID,
		cred:   cred,
		opts:   Options{SndBuf: DefaultBuf, RcvBuf: DefaultBuf, RcvLowat: 1, PeekOff: -1},
	}
	ns.liveMu.Lock()
	ns.live[s] = struct{}{}
	ns.liveMu.Unlock()
	return s
}

// Pair returns two sockets of typ connected to each other, as
// socketpair(2) makes them.
func (ns *Namespace) Pair(typ Type, cred Cred) (*Socket, *Socket) {
	a, b := ns.New(typ, cred), ns.New(typ, cred)
	a.state, b.state = connected, connected
	a.peer, b.peer = b, a
	a.peerCred, b.peerCred = cred, cred
	a.hasPeerCred, b.hasPeerCred = true, true
	return a, b
}

// Peer is the socket s is connected to, or nil.
func (s *Socket) Peer() *Socket {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	return s.peer
}

// Type is the socket's type.
func (s *Socket) Type() Type { return s.typ }

func (s *Socket) connectionOriented() bool { return s.typ != Dgram }

// notify wakes waiters of each socket; called without ns.mu.
func notify(events uint32, socks ...*Socket) {
	for _, s := range socks {
		if s != nil {
			s.q.Notify(events)
		}
	}
}

const (
	evIn    = waiter.EventIn | waiter.EventRdNorm
	evOut   = waiter.EventOut | waiter.EventWrNorm | waiter.EventWrBand
	evAll   = evIn | evOut | waiter.EventHUp | waiter.EventRdHUp | waiter.EventErr
	autoMax = 0xfffff
)

// Autobind gives an unbound socket an abstract name of five hex digits,
// as bind(2) with only the family does. A bound socket is left as it is.
func (s *Socket) Autobind() error {
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	return s.autobindLocked()
}

func (s *Socket) autobindLocked() error {
	if s.addr != "" {
		return nil
	}
	ns := s.ns
	for range autoMax + 1 {
		ns.nextAuto = (ns.nextAuto + 1) & autoMax
		name := fmt.Sprintf("\x00%05x", ns.nextAuto)
		if _, taken := ns.abstract[abstractKey{s.typ, name}]; !taken {
			ns.abstract[abstractKey{s.typ, name}] = s
			s.addr = name
			return nil
		}
	}
	return sys.ENOSPC
}

// BindAbstract binds s to an abstract name (name begins with a NUL).
// EINVAL if s is bound already, EADDRINUSE if the name is taken.
func (s *Socket) BindAbstract(name string) error {
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if s.addr != "" {
		return sys.EINVAL
	}
	key := abstractKey{s.typ, name}
	if _, taken := ns.abstract[key]; taken {
		return sys.EADDRINUSE
	}
	ns.abstract[key] = s
	s.addr = name
	return nil
}

// Bound reports whether s has a name.
func (s *Socket) Bound() bool {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	return s.addr != ""
}

// BindPath records that s is bound to the socket file path, whose inode
// the syscall layer has just made (so the name is new).
func (s *Socket) BindPath(path string, key InodeKey) error {
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if s.addr != "" {
		return sys.EINVAL
	}
	if old, ok := ns.paths[key]; ok && !old.closed {
		return sys.EADDRINUSE
	}
	ns.paths[key] = s
	s.addr = path
	k := key
	s.pathKey = &k
	return nil
}

// LookupPath returns the socket bound to the file key, or ECONNREFUSED.
func (ns *Namespace) LookupPath(key InodeKey) (*Socket, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if s, ok := ns.paths[key]; ok && !s.closed {
		return s, nil
	}
	return nil, sys.ECONNREFUSED
}

// LookupAbstract returns the socket of type typ bound to an abstract
// name, or ECONNREFUSED.
func (ns *Namespace) LookupAbstract(typ Type, name string) (*Socket, error) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if s, ok := ns.abstract[abstractKey{typ, name}]; ok && !s.closed {
		return s, nil
	}
	return nil, sys.ECONNREFUSED
}

// Name returns the name s is bound to ("" for none).
func (s *Socket) Name() string {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	return s.addr
}

// PeerName returns the name of s's peer; ENOTCONN if it has none.
func (s *Socket) PeerName() (string, error) {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	if s.peer == nil || (s.connectionOriented() && s.state != connected) {
		return "", sys.ENOTCONN
	}
	return s.peer.addr, nil
}

// Listen makes a bound (or autobound) stream or seqpacket socket accept
// connections, with at most backlog waiting; a listening socket's backlog
// may be changed by listening again.
func (s *Socket) Listen(backlog int, cred Cred) error {
	if !s.connectionOriented() {
		return sys.EOPNOTSUPP
	}
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	if s.state == connected {
		return sys.EINVAL
	}
	if s.addr == "" {
		// Only a named socket can be found to be connected to.
		return sys.EINVAL
	}
	if backlog < 0 || backlog > 4096 {
		backlog = 4096
	}
	// Each listen records the caller's identity (init_peercred): what
	// connecting sockets get as their peer's, and the listener's own
	// SO_PEERCRED.
	s.cred = cred
	s.peerCred, s.hasPeerCred = cred, true
	s.state = listening
	s.backlog = backlog
	return nil
}

// Connect connects a stream or seqpacket socket to the listener target:
// the server's side of the connection waits in the listener's backlog for
// accept. EAGAIN when the backlog is full (the caller waits on target's
// readiness unless non-blocking).
func (s *Socket) Connect(target *Socket, cred Cred) error {
	ns := s.ns
	ns.mu.Lock()
	if s.state == connected {
		ns.mu.Unlock()
		return sys.EISCONN
	}
	if s.state == listening {
		ns.mu.Unlock()
		return sys.EINVAL
	}
	if target.closed || target.state != listening || target.rcvShut {
		// A listener shut for reading takes no more connections
		// (unix_stream_connect checks RCV_SHUTDOWN).
		ns.mu.Unlock()
		return sys.ECONNREFUSED
	}
	if target.typ != s.typ {
		ns.mu.Unlock()
		return sys.EPROTOTYPE
	}
	if len(target.acceptq) > target.backlog {
		ns.mu.Unlock()
		return sys.EAGAIN
	}
	srv := ns.New(s.typ, target.cred)
	srv.state = connected
	srv.addr = target.addr
	srv.opts.PassCred = target.opts.PassCred
	srv.peer, s.peer = s, srv
	s.state = connected
	srv.peerCred, srv.hasPeerCred = cred, true
	s.peerCred, s.hasPeerCred = target.cred, true
	target.acceptq = append(target.acceptq, srv)
	ns.mu.Unlock()
	notify(evIn, target)
	notify(evOut, s)
	return nil
}

// ConnectDgram sets a datagram socket's default peer (nil disconnects).
func (s *Socket) ConnectDgram(target *Socket) error {
	ns := s.ns
	ns.mu.Lock()
	if target != nil {
		if target.closed {
			ns.mu.Unlock()
			return sys.ECONNREFUSED
		}
		if target.typ != s.typ {
			ns.mu.Unlock()
			return sys.EPROTOTYPE
		}
		if target.peer != nil && target.peer != s && target != s {
			ns.mu.Unlock()
			return sys.EPERM
		}
	}
	s.peer = target
	s.peerGone = false
	if target != nil {
		s.state = connected
	} else {
		s.state = unconnected
	}
	ns.mu.Unlock()
	notify(evOut, s)
	return nil
}

// Accept takes the first connection waiting on a listening socket; EAGAIN
// when none is.
func (s *Socket) Accept() (*Socket, error) {
	ns := s.ns
	ns.mu.Lock()
	if s.state != listening {
		ns.mu.Unlock()
		return nil, sys.EINVAL
	}
	if len(s.acceptq) == 0 {
		shut := s.rcvShut
		ns.mu.Unlock()
		if shut {
			// Shut for reading, as a thread stops another's
			// accept: unix_accept's receive ends, with EINVAL.
			return nil, sys.EINVAL
		}
		return nil, sys.EAGAIN
	}
	c := s.acceptq[0]
	s.acceptq = s.acceptq[1:]
	ns.mu.Unlock()
	// A connect waiting for room in the backlog may go on.
	notify(evOut, s)
	return c, nil
}

// Shutdown is shutdown(2): how is SHUT_RD, SHUT_WR or SHUT_RDWR. The
// peer of a connected stream or seqpacket socket sees the mirror image.
func (s *Socket) Shutdown(how int) error {
	if how < sys.SHUT_RD || how > sys.SHUT_RDWR {
		return sys.EINVAL
	}
	ns := s.ns
	ns.mu.Lock()
	rd, wr := how != sys.SHUT_WR, how != sys.SHUT_RD
	if rd {
		s.rcvShut = true
	}
	if wr {
		s.sndShut = true
	}
	var p *Socket
	if s.connectionOriented() && s.peer != nil {
		p = s.peer
		if rd {
			p.sndShut = true
		}
		if wr {
			p.rcvShut = true
		}
	}
	ns.mu.Unlock()
	notify(evAll, s, p)
	return nil
}

// Message is what a send carries and a receive returns besides the data.
type Message struct {
	// Rights are open file descriptions (SCM_RIGHTS); a send takes over
	// the references it is given, a receive hands them to the caller.
	Rights []*vfs.FileDescription
	// Cred is the sender's identity (SCM_CREDENTIALS).
	Cred Cred
	// HasCred is set on a receive when the receiver asked for
	// credentials (SO_PASSCRED).
	HasCred bool
	// From is the sender's name, for recvfrom.
	From string
}

// Send queues data for s's peer (to is nil) or, for a datagram socket, for
// the socket to. It never blocks: with no room it returns EAGAIN, and a
// stream send that took part of data returns that count with EAGAIN.
// EPIPE means the peer is gone or s shut down for writing (the caller
// raises SIGPIPE). msg's Rights go with the first byte sent; on an error
// with nothing sent they stay the caller's.
func (s *Socket) Send(data []byte, msg *Message, to *Socket) (int, error) {
	ns := s.ns
	ns.mu.Lock()
	if s.typ == Dgram {
		return s.sendDgramLocked(data, msg, to)
	}
	if to != nil {
		ns.mu.Unlock()
		if s.state == connected {
			return 0, sys.EISCONN
		}
		return 0, sys.EOPNOTSUPP
	}
	if s.sndShut {
		ns.mu.Unlock()
		return 0, sys.EPIPE
	}
	if s.state != connected {
		ns.mu.Unlock()
		return 0, sys.ENOTCONN
	}
	p := s.peer
	if p == nil || p.closed || s.peerGone {
		ns.mu.Unlock()
		return 0, sys.EPIPE
	}
	if p.rcvShut {
		ns.mu.Unlock()
		return 0, sys.EPIPE
	}
	if s.typ == SeqPacket {
		if len(data) > s.opts.SndBuf-dgramOverhead {
			ns.mu.Unlock()
			return 0, sys.EMSGSIZE
		}
		if s.inflight > 0 && s.inflight+len(data) > s.opts.SndBuf {
			ns.mu.Unlock()
			return 0, sys.EAGAIN
		}
		s.enqueueLocked(p, data, msg)
		ns.mu.Unlock()
		notify(evIn, p)
		return len(data), nil
	}
	if len(data) == 0 {
		ns.mu.Unlock()
		return 0, nil
	}
	room := s.opts.SndBuf - s.inflight
	if room <= 0 {
		ns.mu.Unlock()
		return 0, sys.EAGAIN
	}
	n := min(room, len(data))
	s.enqueueLocked(p, data[:n], msg)
	ns.mu.Unlock()
	notify(evIn, p)
	if n < len(data) {
		return n, sys.EAGAIN
	}
	return n, nil
}

// enqueueLocked puts one segment on p's receive queue.
func (s *Socket) enqueueLocked(p *Socket, data []byte, msg *Message) {
	seg := &segment{data: append([]byte(nil), data...), from: s, addr: s.addr, cred: s.cred}
	if msg != nil {
		seg.rights, seg.cred = msg.Rights, msg.Cred
		msg.Rights = nil
	}
	p.recvq = append(p.recvq, seg)
	p.queued += len(data)
	s.inflight += len(data)
}

func (s *Socket) sendDgramLocked(data []byte, msg *Message, to *Socket) (int, error) {
	ns := s.ns
	if s.sndShut {
		ns.mu.Unlock()
		return 0, sys.EPIPE
	}
	target := to
	if target == nil {
		if s.peerGone {
			// The peer we were connected to closed: this send learns
			// it, and the socket is no longer connected.
			s.peerGone, s.peer, s.state = false, nil, unconnected
			ns.mu.Unlock()
			return 0, sys.ECONNREFUSED
		}
		target = s.peer
		if target == nil {
			ns.mu.Unlock()
			return 0, sys.ENOTCONN
		}
	}
	if len(data) > s.opts.SndBuf-dgramOverhead {
		ns.mu.Unlock()
		return 0, sys.EMSGSIZE
	}
	if target.closed {
		if target == s.peer {
			// Learning that the peer died disconnects.
			s.peerGone, s.peer, s.state = false, nil, unconnected
		}
		ns.mu.Unlock()
		return 0, sys.ECONNREFUSED
	}
	if target.typ != s.typ {
		ns.mu.Unlock()
		return 0, sys.EPROTOTYPE
	}
	if target.peer != nil && target.peer != s && target != s {
		ns.mu.Unlock()
		return 0, sys.EPERM
	}
	if target.rcvShut {
		ns.mu.Unlock()
		return 0, sys.EPIPE
	}
	if target != s && len(target.recvq) > maxDgramQlen {
		ns.mu.Unlock()
		return 0, sys.EAGAIN
	}
	if s.inflight > 0 && s.inflight+len(data) > s.opts.SndBuf {
		ns.mu.Unlock()
		return 0, sys.EAGAIN
	}
	s.enqueueLocked(target, data, msg)
	ns.mu.Unlock()
	notify(evIn, target)
	return len(data), nil
}

// RecvResult is what one receive got.
type RecvResult struct {
	// N is how many bytes were copied into the buffer.
	N int
	// Len is the length of the datagram or seqpacket message (for
	// MSG_TRUNC), N for a stream.
	Len int
	// Truncated is set when a message did not fit.
	Truncated bool
	Message
}

// Recv reads into b: for a stream whatever is queued up to len(b) (the
// read ends after a segment carrying descriptions), for the other types one
// message, the rest of which is dropped unless peek. It returns EAGAIN
// when nothing is queued and more may come, and N 0 with no error at end
// of file.
func (s *Socket) Recv(b []byte, peek bool) (RecvResult, error) {
	ns := s.ns
	ns.mu.Lock()
	if s.state == listening {
		ns.mu.Unlock()
		return RecvResult{}, sys.EINVAL
	}
	if s.typ == Stream && s.state != connected {
		ns.mu.Unlock()
		return RecvResult{}, sys.EINVAL
	}
	if s.typ == SeqPacket && s.state != connected {
		ns.mu.Unlock()
		return RecvResult{}, sys.ENOTCONN
	}
	// skip is where a peek starts (SO_PEEK_OFF): whole datagrams or
	// stream bytes it passes over are as good as not queued.
	skip, qi := 0, 0
	if peek && s.opts.PeekOff > 0 {
		skip = int(s.opts.PeekOff)
		for qi < len(s.recvq) {
			seg := s.recvq[qi]
			n := len(seg.data) - seg.off
			if skip < n || (s.typ != Stream && n == 0 && skip == 0) {
				break
			}
			skip -= n
			qi++
		}
	}
	if len(s.recvq) == qi {
		if e := s.soErr; e != 0 {
			s.soErr = 0
			ns.mu.Unlock()
			return RecvResult{}, e
		}
		eof := s.rcvShut || (s.connectionOriented() && (s.peerGone || s.peer == nil))
		ns.mu.Unlock()
		if eof {
			return RecvResult{}, nil
		}
		return RecvResult{}, sys.EAGAIN
	}
	var r RecvResult
	r.HasCred = s.opts.PassCred
	var senders []*Socket
	if s.typ != Stream {
		seg := s.recvq[qi]
		r.N = copy(b, seg.data[skip:])
		r.Len = len(seg.data) - skip
		r.Truncated = r.N < r.Len
		r.Cred, r.From = seg.cred, seg.addr
		if peek {
			r.Rights = dupRights(seg.rights)
			s.peekOffFwdLocked(r.N)
		} else {
			s.peekOffBwdLocked(len(seg.data))
			r.Rights = seg.rights
			s.recvq = s.recvq[1:]
			s.queued -= len(seg.data)
			seg.from.inflight -= len(seg.data)
			// Senders waiting for room in this queue wait on s.
			senders = append(senders, seg.from, s)
		}
		ns.mu.Unlock()
		notify(evOut, senders...)
		return r, nil
	}
	i := qi
	for r.N < len(b) && i < len(s.recvq) {
		seg := s.recvq[i]
		if r.N == 0 {
			r.Cred, r.From = seg.cred, seg.addr
		}
		c := copy(b[r.N:], seg.data[seg.off+skip:])
		skip = 0
		r.N += c
		hadRights := seg.rights != nil
		if peek {
			if hadRights {
				r.Rights = dupRights(seg.rights)
			}
			i++
		} else {
			if hadRights {
				r.Rights = seg.rights
				seg.rights = nil
			}
			seg.off += c
			s.queued -= c
			seg.from.inflight -= c
			senders = append(senders, seg.from)
			if seg.off == len(seg.data) {
				s.recvq = s.recvq[1:]
			} else {
				i++ // only when b is full
			}
		}
		if hadRights {
			break
		}
	}
	r.Len = r.N
	if peek {
		s.peekOffFwdLocked(r.N)
	} else {
		s.peekOffBwdLocked(r.N)
	}
	ns.mu.Unlock()
	notify(evOut, senders...)
	return r, nil
}

// peekOffFwdLocked moves SO_PEEK_OFF past n peeked bytes, as Linux's
// sk_peek_offset_fwd; it stays off (negative) if it is.
func (s *Socket) peekOffFwdLocked(n int) {
	if s.opts.PeekOff >= 0 {
		s.opts.PeekOff += int32(n)
	}
}

// peekOffBwdLocked moves SO_PEEK_OFF back by n bytes read, not below 0
// (sk_peek_offset_bwd).
func (s *Socket) peekOffBwdLocked(n int) {
	if s.opts.PeekOff >= 0 {
		s.opts.PeekOff = max(s.opts.PeekOff-int32(n), 0)
	}
}

// dupRights takes another reference on each description, for a peek.
func dupRights(r []*vfs.FileDescription) []*vfs.FileDescription {
	if r == nil {
		return nil
	}
	out := make([]*vfs.FileDescription, len(r))
	for i, d := range r {
		d.IncRef()
		out[i] = d
	}
	return out
}

// Read implements vfs.File: recv(2) without flags.
func (s *Socket) Read(b []byte) (int, error) {
	r, err := s.Recv(b, false)
	for _, d := range r.Rights {
		// read(2) has nowhere to put descriptions: they are dropped,
		// as Linux drops them.
		d.DecRef()
	}
	return r.N, err
}

// Write implements vfs.File: send(2) without flags.
func (s *Socket) Write(b []byte) (int, error) { return s.Send(b, nil, nil) }

// Ioctl numbers sockets answer (asm-generic/ioctls.h, linux/sockios.h).
const (
	fionread = 0x541b // also SIOCINQ
	siocoutq = 0x5411 // TIOCOUTQ
)

// Ioctl implements vfs.File: SIOCINQ (FIONREAD) is the bytes queued to
// read (a datagram socket's next message only), SIOCOUTQ the bytes sent and not
// yet read by the receiver.
func (s *Socket) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	var v int
	s.ns.mu.Lock()
	switch req {
	case fionread:
		if s.state == listening {
			s.ns.mu.Unlock()
			return 0, sys.EINVAL
		}
		if s.typ != Dgram {
			v = s.queued
		} else if len(s.recvq) > 0 {
			v = len(s.recvq[0].data)
		}
	case siocoutq:
		if s.state == listening {
			s.ns.mu.Unlock()
			return 0, sys.EINVAL
		}
		v = s.inflight
	case sys.SIOCATMARK:
		// Never at an urgent mark: MSG_OOB is not taken here.
		v = 0
	default:
		s.ns.mu.Unlock()
		return 0, sys.ENOTTY
	}
	s.ns.mu.Unlock()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	if _, err := mem.CopyOut(arg, b[:]); err != nil {
		return 0, sys.EFAULT
	}
	return 0, nil
}

// Close implements vfs.File: the name is released, the peer sees end of
// file (and EPIPE on sending), connections never accepted are reset, and
// descriptions still queued are dropped.
func (s *Socket) Close() error {
	s.release(false)
	return nil
}

// release closes s; embryo is set for a connection closed before it was
// accepted, whose client sees ECONNRESET.
func (s *Socket) release(embryo bool) {
	ns := s.ns
	ns.mu.Lock()
	if s.closed {
		ns.mu.Unlock()
		return
	}
	s.closed = true
	ns.liveMu.Lock()
	delete(ns.live, s)
	ns.liveMu.Unlock()
	if s.addr != "" {
		if s.pathKey != nil {
			if ns.paths[*s.pathKey] == s {
				delete(ns.paths, *s.pathKey)
			}
		} else if key := (abstractKey{s.typ, s.addr}); ns.abstract[key] == s {
			delete(ns.abstract, key)
		}
	}
	var wake []*Socket
	var drop []*vfs.FileDescription
	if p := s.peer; p != nil && p.peer == s {
		p.peerGone = true
		if s.connectionOriented() {
			p.rcvShut, p.sndShut = true, true
		}
		if len(s.recvq) > 0 || embryo {
			// Closing with unread data resets the connection.
			p.soErr = sys.ECONNRESET
		}
		wake = append(wake, p)
	}
	pending := s.acceptq
	s.acceptq = nil
	for _, seg := range s.recvq {
		drop = append(drop, seg.rights...)
		seg.from.inflight -= len(seg.data) - seg.off
		wake = append(wake, seg.from)
	}
	s.recvq, s.queued = nil, 0
	ns.mu.Unlock()
	for _, c := range pending {
		c.release(true)
	}
	for _, d := range drop {
		d.DecRef()
	}
	notify(evAll, wake...)
	notify(evAll, s)
}

// Readiness implements waiter.Waitable, as Linux's unix_poll and
// unix_dgram_poll.
func (s *Socket) Readiness(mask uint32) uint32 {
	ns := s.ns
	ns.mu.Lock()
	defer ns.mu.Unlock()
	var r uint32
	if s.soErr != 0 {
		r |= waiter.EventErr
	}
	if s.rcvShut && s.sndShut {
		r |= waiter.EventHUp
	}
	if s.rcvShut {
		r |= waiter.EventRdHUp | evIn
	}
	if len(s.recvq) > 0 || (s.state == listening && len(s.acceptq) > 0) {
		r |= evIn
	}
	if s.connectionOriented() && s.state == unconnected {
		r |= waiter.EventHUp
	}
	if s.state != listening && s.writableLocked() {
		r |= evOut
	}
	return r & mask
}

func (s *Socket) writableLocked() bool {
	if s.inflight<<2 > s.opts.SndBuf {
		return false
	}
	if s.typ == Dgram && s.peer != nil && !s.peerGone && s.peer.peer != s && len(s.peer.recvq) > maxDgramQlen {
		return false
	}
	return true
}

// EventRegister implements waiter.Waitable.
func (s *Socket) EventRegister(e *waiter.Entry) { s.q.Register(e) }

// EventUnregister implements waiter.Waitable.
func (s *Socket) EventUnregister(e *waiter.Entry) { s.q.Unregister(e) }

// TakeError returns and clears the pending error (SO_ERROR).
func (s *Socket) TakeError() sys.Errno {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	e := s.soErr
	s.soErr = 0
	return e
}

// Listening reports whether s accepts connections (SO_ACCEPTCONN).
func (s *Socket) Listening() bool {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	return s.state == listening
}

// PeerCred is SO_PEERCRED: the peer's identity when it connected (the
// listener's for a connecting socket, the caller of listen for a
// listener); a socket with none gives pid 0 and ids -1, as Linux's
// cred_to_ucred.
func (s *Socket) PeerCred() Cred {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	if !s.hasPeerCred {
		return Cred{PID: 0, UID: ^uint32(0), GID: ^uint32(0)}
	}
	return s.peerCred
}

// Options returns the socket's options.
func (s *Socket) Options() Options {
	s.ns.mu.Lock()
	defer s.ns.mu.Unlock()
	return s.opts
}

// SetOptions replaces the options with what fn makes of them.
func (s *Socket) SetOptions(fn func(o *Options)) {
	s.ns.mu.Lock()
	fn(&s.opts)
	s.ns.mu.Unlock()
	notify(evOut, s)
}

// BufSize is what setsockopt(SO_SNDBUF or SO_RCVBUF) stores for v:
// capped at the maximum, doubled for bookkeeping, and at least the
// minimum, as Linux does.
func BufSize(v int, snd bool) int {
	v = min(max(v, 0), maxBuf) * 2
	if snd {
		return max(v, minSndBuf)
	}
	return max(v, minRcvBuf)
}
