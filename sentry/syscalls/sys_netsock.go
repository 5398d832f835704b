package syscalls

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/net/hostinet"
	"exokernelul.dev/exo/libos/net/inet"
	"exokernelul.dev/exo/libos/net/netlink"
	unixsock "exokernelul.dev/exo/libos/net/unix"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// The socket calls on sockets of the families other than AF_UNIX
// (AF_INET and AF_INET6 on netstack or, with --network=host, on host
// sockets; AF_NETLINK): the socket serves
// each call without blocking, and this layer waits for readiness.

// netSocket is a socket of libos/net/inet or libos/net/netlink.
type netSocket interface {
	vfs.File
	waiter.Waitable
	Family() int
	Type() int
	Protocol() int
	Timeouts() (rcv, snd time.Duration)
	Bind(sa []byte) error
	Listen(backlog int) error
	// Connect may return EINPROGRESS: Connecting then says whether it
	// still is, and ConnectResult how it ended.
	Connect(sa []byte) error
	Connecting() bool
	ConnectResult() error
	Accept() (vfs.File, []byte, error)
	Name() []byte
	PeerName() ([]byte, error)
	Shutdown(how int) error
	Send(data, to []byte, flags int) (int, error)
	Recv(b []byte, flags int) (inet.RecvResult, error)
	SetSockOpt(level, name int, v []byte) error
	GetSockOpt(level, name int) ([]byte, error)
}

var (
	_ netSocket = (*inet.Socket)(nil)
	_ netSocket = (*hostinet.Socket)(nil)
	_ netSocket = (*netlink.Socket)(nil)
)

// maxSockaddr bounds the address a caller passes (sizeof(struct
// sockaddr_storage)).
const maxSockaddr = 128

// onFamily routes a call on a socket fd to netFn when the socket is not
// an AF_UNIX one.
func onFamily(unixFn, netFn Handler) Handler {
	return func(t *kernel.Task, a [6]uint64) (uint64, error) {
		d, err := t.FDs.Get(fdArg(a[0]))
		if err != nil {
			return 0, err
		}
		_, isNet := vfs.Underlying(d.File).(netSocket)
		d.DecRef()
		if isNet {
			return netFn(t, a)
		}
		return unixFn(t, a)
	}
}

// netSocketFor is the socket behind fd; the caller DecRefs d.
func netSocketFor(t *kernel.Task, fd int) (*vfs.FileDescription, netSocket, error) {
	d, err := t.FDs.Get(fd)
	if err != nil {
		return nil, nil, err
	}
	s, ok := vfs.Underlying(d.File).(netSocket)
	if !ok || d.Flags()&unix.O_PATH != 0 {
		d.DecRef()
		if !ok {
			return nil, nil, unix.ENOTSOCK
		}
		return nil, nil, unix.EBADF
	}
	return d, s, nil
}

// newNetSocket makes a socket of a family other than AF_UNIX.
func newNetSocket(t *kernel.Task, domain, typ, proto int) (vfs.File, error) {
	switch domain {
	case unix.AF_INET, unix.AF_INET6:
		if t.K.HostNet != nil {
			s, err := t.K.HostNet.NewSocket(domain, typ, proto)
			if err != nil {
				return nil, err
			}
			return s, nil
		}
		if t.K.Net == nil {
			return nil, unix.EAFNOSUPPORT
		}
		var s *inet.Socket
		var err error
		if typ == unix.SOCK_RAW {
			if c := t.Creds(); !c.HasCap(kernel.CapNetRaw) {
				return nil, unix.EPERM
			}
			s, err = t.K.Net.NewRawSocket(domain, proto)
		} else {
			s, err = t.K.Net.NewSocket(domain, typ, proto)
		}
		if err != nil {
			return nil, err
		}
		// Sockets belong to the creator's fsuid on Linux (sock_i_uid).
		s.SetOwner(t.Creds().FSUID)
		return s, nil
	case unix.AF_NETLINK:
		if t.K.Net == nil {
			return nil, unix.EAFNOSUPPORT
		}
		return netlink.New(t.K.Net, typ, proto)
	}
	t.K.WarnOnce("socket:family", "socket family not implemented: EAFNOSUPPORT", "family", domain)
	return nil, unix.EAFNOSUPPORT
}

func installNetSocket(t *kernel.Task, f vfs.File, flags int) (uint64, error) {
	d := vfs.NewDescription(f, "", unix.O_RDWR|flags&unix.SOCK_NONBLOCK)
	return install(t, d, 0, flags&unix.SOCK_CLOEXEC != 0)
}

// copyInSockaddr reads the address a caller passes.
func copyInSockaddr(t *kernel.Task, addr uint64, n int) ([]byte, error) {
	if n < 0 || n > maxSockaddr {
		return nil, unix.EINVAL
	}
	b := make([]byte, n)
	if _, err := t.MM.CopyIn(addr, b); err != nil {
		return nil, unix.EFAULT
	}
	return b, nil
}

func netBind(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	sa, err := copyInSockaddr(t, a[1], intArg(a[2]))
	if err != nil {
		return 0, err
	}
	return 0, s.Bind(sa)
}

func netListen(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return 0, s.Listen(intArg(a[1]))
}

func netConnect(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	sa, err := copyInSockaddr(t, a[1], intArg(a[2]))
	if err != nil {
		return 0, err
	}
	err = s.Connect(sa)
	if err != unix.EINPROGRESS || nonblocking(d) {
		return 0, err
	}
	_, snd := s.Timeouts()
	err = waitReady(t, []waiter.Waitable{s}, waiter.EventOut, false, snd, func() error {
		if s.Connecting() {
			return unix.EAGAIN
		}
		return nil
	})
	if err == unix.EAGAIN {
		// SO_SNDTIMEO ran out; the connection goes on.
		return 0, unix.EINPROGRESS
	}
	if err != nil {
		return 0, err
	}
	return 0, s.ConnectResult()
}

func netAccept4(t *kernel.Task, a [6]uint64, flags int) (uint64, error) {
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	rcv, _ := s.Timeouts()
	var c vfs.File
	var peer []byte
	err = waitReady(t, []waiter.Waitable{s}, waiter.EventIn, nonblocking(d), rcv,
		func() (err error) { c, peer, err = s.Accept(); return err })
	if err != nil {
		return 0, err
	}
	if err := copyOutAddr(t, a[1], a[2], peer); err != nil {
		c.Close()
		return 0, err
	}
	return installNetSocket(t, c, flags)
}

func netSockName(t *kernel.Task, a [6]uint64, peer bool) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	sa := s.Name()
	if peer {
		if sa, err = s.PeerName(); err != nil {
			return 0, err
		}
	}
	if a[1] == 0 {
		return 0, unix.EFAULT
	}
	return 0, copyOutAddr(t, a[1], a[2], sa)
}

func netShutdown(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return 0, s.Shutdown(intArg(a[1]))
}

// netSendOne sends data on s, waiting for room unless non-blocking; a
// stream send goes on until all is sent or a signal comes.
func netSendOne(t *kernel.Task, d *vfs.FileDescription, s netSocket, data, to []byte, flags int) (int, error) {
	return netSendControl(t, d, s, data, to, flags, nil)
}

// controlSender is a socket that takes sendmsg's control messages.
type controlSender interface {
	SendMsg(data, to []byte, flags int, control []byte) (int, error)
}

// netSendControl is netSendOne with a sendmsg's control data (nil: none).
func netSendControl(t *kernel.Task, d *vfs.FileDescription, s netSocket, data, to []byte, flags int, control []byte) (int, error) {
	stream := s.Type() == unix.SOCK_STREAM
	nonblock := sockNonblocking(d, flags)
	_, snd := s.Timeouts()
	done := 0
	err := waitReady(t, []waiter.Waitable{s}, waiter.EventOut, nonblock, snd, func() error {
		var n int
		var err error
		if cs, ok := s.(controlSender); ok && control != nil {
			n, err = cs.SendMsg(data[done:], to, flags, control)
		} else {
			n, err = s.Send(data[done:], to, flags)
		}
		done += n
		if err == unix.EAGAIN && stream && done > 0 && nonblock {
			return nil
		}
		if err == nil && stream && done < len(data) {
			return unix.EAGAIN
		}
		return err
	})
	if err == unix.EPIPE && stream && flags&unix.MSG_NOSIGNAL == 0 {
		sendSIGPIPE(t)
	}
	if done > 0 && (stream || err == nil) {
		return done, nil
	}
	return 0, err
}

func netSendto(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	var to []byte
	if a[4] != 0 {
		if to, err = copyInSockaddr(t, a[4], intArg(a[5])); err != nil {
			return 0, err
		}
	}
	if int64(a[2]) < 0 {
		return 0, unix.EINVAL
	}
	data := make([]byte, min(a[2], maxIO))
	if got, _ := t.MM.CopyIn(a[1], data); got < len(data) {
		return 0, unix.EFAULT
	}
	n, err := netSendOne(t, d, s, data, to, intArg(a[3]))
	return uint64(n), err
}

// netSendmsg sends the message the msghdr at addr describes, with its
// control messages (IP_PKTINFO, IP_TTL, IPV6_PKTINFO, ...).
func netSendmsg(t *kernel.Task, d *vfs.FileDescription, s netSocket, addr uint64, flags int) (int, error) {
	m, err := copyInMsghdr(t, addr)
	if err != nil {
		return 0, err
	}
	var to []byte
	if m.name != 0 && m.namelen != 0 {
		if to, err = copyInSockaddr(t, m.name, int(int32(m.namelen))); err != nil {
			return 0, err
		}
	}
	iovs, err := msgIovecs(t, m)
	if err != nil {
		return 0, err
	}
	data, err := gatherMsg(t, iovs)
	if err != nil {
		return 0, err
	}
	var control []byte
	if m.controllen > 0 {
		if m.controllen > maxControl {
			return 0, unix.ENOBUFS
		}
		control = make([]byte, m.controllen)
		if _, err := t.MM.CopyIn(m.control, control); err != nil {
			return 0, unix.EFAULT
		}
	}
	return netSendControl(t, d, s, data, to, flags, control)
}

func netSendmsgCall(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	n, err := netSendmsg(t, d, s, a[1], intArg(a[2]))
	return uint64(n), err
}

func netSendmmsg(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return eachMmsghdr(t, a[1], u32Arg(a[2]), intArg(a[3]), false, nil, func(addr uint64, flags int) (int, error) {
		return netSendmsg(t, d, s, addr, flags)
	})
}

// netRecvOne receives up to len(buf) bytes into buf, waiting unless
// non-blocking; MSG_WAITALL on a stream reads until buf is full, end of
// file or a signal.
func netRecvOne(t *kernel.Task, d *vfs.FileDescription, s netSocket, buf []byte, flags int) ([]byte, inet.RecvResult, error) {
	if flags&msgErrQueue != 0 {
		return nil, inet.RecvResult{}, unix.EAGAIN
	}
	n := len(buf)
	stream := s.Type() == unix.SOCK_STREAM
	target := 1
	if stream && flags&unix.MSG_WAITALL != 0 && flags&unix.MSG_PEEK == 0 {
		target = n
	}
	rcv, _ := s.Timeouts()
	var res inet.RecvResult
	total := 0
	nonblock := sockNonblocking(d, flags)
	rflags := flags
	if nonblock {
		// The socket tells a receive that must not wait by this flag
		// (a datagram socket shut for reading gives EAGAIN then, end
		// of file otherwise).
		rflags |= unix.MSG_DONTWAIT
	}
	err := waitReady(t, []waiter.Waitable{s}, waiter.EventIn|waiter.EventRdHUp, nonblock, rcv, func() error {
		r, err := s.Recv(buf[total:], rflags)
		if err != nil {
			// A MSG_WAITALL read that has part of its bytes waits on
			// for the rest when the socket is merely empty again (a
			// wake-up can come before the segment it announced is
			// readable); any other error ends it with what it has.
			if total > 0 && err != unix.EAGAIN {
				return nil
			}
			return err
		}
		if total == 0 {
			res = r
		}
		total += r.N
		if !stream || r.N == 0 || total >= target {
			return nil
		}
		return unix.EAGAIN
	})
	if err != nil && total > 0 && stream {
		err = nil
	}
	if err != nil {
		return nil, res, err
	}
	res.N = total
	if stream {
		res.Len = total
	}
	return buf[:total], res, nil
}

func netRecvfrom(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if int64(a[2]) < 0 {
		return 0, unix.EINVAL
	}
	flags := intArg(a[3])
	scratch, pooled := ioBuf(int(min(a[2], maxIO)))
	defer putIOBuf(pooled)
	buf, r, err := netRecvOne(t, d, s, scratch, flags)
	if err != nil {
		return 0, err
	}
	// MSG_TRUNC on a stream discards (or with MSG_PEEK counts) the
	// bytes without copying them, as tcp_recvmsg does.
	discard := flags&unix.MSG_TRUNC != 0 && s.Type() == unix.SOCK_STREAM
	if len(buf) > 0 && !discard {
		if _, err := t.MM.CopyOut(a[1], buf); err != nil {
			return 0, unix.EFAULT
		}
	}
	if a[4] != 0 && r.From != nil {
		if err := copyOutAddr(t, a[4], a[5], r.From); err != nil {
			return 0, err
		}
	}
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unix.SOCK_STREAM {
		return uint64(r.Len), nil
	}
	return uint64(len(buf)), nil
}

// netRecvmsg serves one recvmsg on the msghdr at addr.
func netRecvmsg(t *kernel.Task, d *vfs.FileDescription, s netSocket, addr uint64, flags int) (int, error) {
	m, err := copyInMsghdr(t, addr)
	if err != nil {
		return 0, err
	}
	iovs, err := msgIovecs(t, m)
	if err != nil {
		return 0, err
	}
	scratch, pooled := ioBuf(int(min(iovecsLen(iovs), maxIO)))
	defer putIOBuf(pooled)
	buf, r, err := netRecvOne(t, d, s, scratch, flags)
	if err != nil {
		return 0, err
	}
	if flags&unix.MSG_TRUNC == 0 || s.Type() != unix.SOCK_STREAM {
		if err := scatterMsg(t, iovs, buf); err != nil {
			return 0, err
		}
	}
	le := binary.LittleEndian
	var hdr [8]byte
	if m.name != 0 {
		sa := r.From
		n := min(max(int(int32(m.namelen)), 0), len(sa))
		if n > 0 {
			t.MM.CopyOut(m.name, sa[:n])
		}
		le.PutUint32(hdr[:4], uint32(len(sa)))
		t.MM.CopyOut(addr+8, hdr[:4])
	}
	// The control messages that fit whole; MSG_CTRUNC if some did not.
	// Of the caller's flags, msg_flags keeps MSG_CMSG_CLOEXEC, as
	// Linux's ____sys_recvmsg.
	outFlags := uint32(flags & msgCmsgCloexec)
	ctl, ctrunc := fitControl(r.Control, int(min(m.controllen, maxControl)))
	if ctrunc {
		outFlags |= unix.MSG_CTRUNC
	}
	if len(ctl) > 0 {
		if _, err := t.MM.CopyOut(m.control, ctl); err != nil {
			return 0, unix.EFAULT
		}
	}
	le.PutUint64(hdr[:], uint64(len(ctl)))
	t.MM.CopyOut(addr+40, hdr[:])
	if s.Type() != unix.SOCK_STREAM && r.Len > r.N {
		outFlags |= unix.MSG_TRUNC
	}
	le.PutUint32(hdr[:4], outFlags)
	t.MM.CopyOut(addr+48, hdr[:4])
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unix.SOCK_STREAM {
		return r.Len, nil
	}
	return len(buf), nil
}

func netRecvmsgCall(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	n, err := netRecvmsg(t, d, s, a[1], intArg(a[2]))
	return uint64(n), err
}

func netRecvmmsg(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return recvmmsg(t, a, func(addr uint64, flags int) (int, error) {
		return netRecvmsg(t, d, s, addr, flags)
	})
}

func netSetsockopt(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	optlen := intArg(a[4])
	if optlen < 0 {
		return 0, unix.EINVAL
	}
	b := make([]byte, min(optlen, 256))
	if _, err := t.MM.CopyIn(a[3], b); err != nil {
		return 0, unix.EFAULT
	}
	return 0, s.SetSockOpt(intArg(a[1]), intArg(a[2]), b)
}

func netGetsockopt(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := netSocketFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	var lb [4]byte
	if _, err := t.MM.CopyIn(a[4], lb[:]); err != nil {
		return 0, unix.EFAULT
	}
	optlen := int32(binary.LittleEndian.Uint32(lb[:]))
	if optlen < 0 {
		return 0, unix.EINVAL
	}
	v, err := s.GetSockOpt(intArg(a[1]), intArg(a[2]))
	if err != nil {
		return 0, err
	}
	n := min(int(optlen), len(v))
	if n > 0 {
		if _, err := t.MM.CopyOut(a[3], v[:n]); err != nil {
			return 0, unix.EFAULT
		}
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(n))
	if _, err := t.MM.CopyOut(a[4], lb[:]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}

// ifaceIoctl serves the interface queries (SIOCGIFINDEX, SIOCGIFCONF, ...)
// on an AF_UNIX socket: Linux answers them on a socket of any family, and
// glibc's if_nametoindex asks an AF_UNIX one.
func ifaceIoctl(t *kernel.Task, d *vfs.FileDescription, req, arg uint64) (uint64, bool, error) {
	const sockIoctlFirst, sockIoctlLast = 0x8900, 0x89ff
	if req < sockIoctlFirst || req > sockIoctlLast || t.K.Net == nil {
		return 0, false, nil
	}
	if _, ok := vfs.Underlying(d.File).(*unixsock.Socket); !ok {
		return 0, false, nil
	}
	r, err := t.K.Net.InterfaceIoctl(req, arg, t.MM)
	if err == unix.ENOTTY {
		return 0, false, nil
	}
	return r, true, err
}

// fitControl is what Linux's put_cmsg, record by record, leaves of the
// cmsghdr records b in a control buffer of n bytes, and whether it set
// MSG_CTRUNC: a record that does not fit whole is cut at the end of the
// buffer (its cmsg_len saying the length kept) if its header fits, and
// each record takes its padding only as far as the buffer goes.
func fitControl(b []byte, n int) ([]byte, bool) {
	out := make([]byte, 0, min(n, len(b)))
	trunc := false
	for off := 0; off+cmsgHdrLen <= len(b); {
		l := int(binary.LittleEndian.Uint64(b[off:]))
		if l < cmsgHdrLen || off+l > len(b) {
			break
		}
		room := n - len(out)
		if room < cmsgHdrLen {
			return out, true
		}
		if room < l {
			trunc = true
			start := len(out)
			out = append(out, b[off:off+room]...)
			binary.LittleEndian.PutUint64(out[start:], uint64(room))
			return out, trunc
		}
		space := (l + 7) &^ 7
		out = append(out, b[off:off+l]...)
		for range min(space, room) - l {
			out = append(out, 0)
		}
		off += space
	}
	return out, trunc
}
