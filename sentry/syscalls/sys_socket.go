package syscalls

import (
	"encoding/binary"
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
	unixsock "exokernelul.dev/exo/libos/net/unix"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// The socket calls on AF_UNIX sockets (libos/net/unix); calls on the
// other families' sockets go to sys_netsock.go.

func init() {
	register(SysSocket, sysSocket)
	register(SysSocketpair, sysSocketpair)
	register(SysBind, onFamily(sysBind, netBind))
	register(SysListen, onFamily(sysListen, netListen))
	register(SysConnect, onFamily(sysConnect, netConnect))
	register(SysAccept, onFamily(
		func(t *kernel.Task, a [6]uint64) (uint64, error) { return accept4(t, a, 0) },
		func(t *kernel.Task, a [6]uint64) (uint64, error) { return netAccept4(t, a, 0) }))
	register(SysAccept4, onFamily(
		func(t *kernel.Task, a [6]uint64) (uint64, error) { return accept4(t, a, intArg(a[3])) },
		func(t *kernel.Task, a [6]uint64) (uint64, error) { return netAccept4(t, a, intArg(a[3])) }))
	register(SysGetsockname, onFamily(
		func(t *kernel.Task, a [6]uint64) (uint64, error) { return sockName(t, a, false) },
		func(t *kernel.Task, a [6]uint64) (uint64, error) { return netSockName(t, a, false) }))
	register(SysGetpeername, onFamily(
		func(t *kernel.Task, a [6]uint64) (uint64, error) { return sockName(t, a, true) },
		func(t *kernel.Task, a [6]uint64) (uint64, error) { return netSockName(t, a, true) }))
	register(SysShutdown, onFamily(sysShutdown, netShutdown))
	register(SysSendto, onFamily(sysSendto, netSendto))
	register(SysRecvfrom, onFamily(sysRecvfrom, netRecvfrom))
	register(SysSendmsg, onFamily(sysSendmsg, netSendmsgCall))
	register(SysRecvmsg, onFamily(sysRecvmsg, netRecvmsgCall))
	register(SysSendmmsg, onFamily(sysSendmmsg, netSendmmsg))
	register(SysRecvmmsg, onFamily(sysRecvmmsg, netRecvmmsg))
	register(SysSetsockopt, onFamily(sysSetsockopt, netSetsockopt))
	register(SysGetsockopt, onFamily(sysGetsockopt, netGetsockopt))
}

const (
	afMax         = 46 // AF_MAX
	sockTypeMask  = 0xf
	sockMax       = 11  // SOCK_MAX
	sockaddrUnLen = 110 // sizeof(struct sockaddr_un)
	msghdrLen     = 56
	mmsghdrLen    = 64
	cmsgHdrLen    = 16
	uioMaxIOV     = 1024
	// maxControl bounds the control data a send may carry
	// (net.core.optmem_max).
	maxControl = 20480

	msgCmsgCloexec = 0x40000000
	msgWaitForOne  = 0x10000
	msgErrQueue    = 0x2000
)

// soPeerPidfd is SO_PEERPIDFD (Linux 6.5), which x/sys does not name.
const soPeerPidfd = 77

// peerPidFD is getsockopt(SO_PEERPIDFD): a close-on-exec pidfd of the
// peer process as of the connection (even if it has been reaped since,
// as AF_UNIX's PIDFD_STALE allows), ENODATA with no peer; the fd is
// taken back if its number cannot be written.
func peerPidFD(t *kernel.Task, c unixsock.Cred, optlen int32, valAddr, lenAddr uint64) (uint64, error) {
	tg, ok := c.Proc.(*kernel.ThreadGroup)
	if !ok {
		return 0, unix.ENODATA
	}
	d := vfs.NewDescription(t.PidFDOfGroup(tg), "", unix.O_RDWR)
	fd, err := install(t, d, 0, true)
	if err != nil {
		return 0, err
	}
	var v, l [4]byte
	binary.LittleEndian.PutUint32(v[:], uint32(fd))
	n := min(int(optlen), len(v))
	binary.LittleEndian.PutUint32(l[:], uint32(n))
	if _, err := t.MM.CopyOut(valAddr, v[:n]); err != nil {
		t.FDs.Remove(int(fd))
		return 0, unix.EFAULT
	}
	if _, err := t.MM.CopyOut(lenAddr, l[:]); err != nil {
		t.FDs.Remove(int(fd))
		return 0, unix.EFAULT
	}
	return 0, nil
}

func sockCred(t *kernel.Task) unixsock.Cred {
	c := t.Creds()
	return unixsock.Cred{PID: t.TGID(), UID: c.EUID, GID: c.EGID, Proc: t.Group()}
}

// msgCred is what SCM_CREDENTIALS says by default: the real ids.
func msgCred(t *kernel.Task) unixsock.Cred {
	c := t.Creds()
	return unixsock.Cred{PID: t.TGID(), UID: c.UID, GID: c.GID}
}

func sysSocket(t *kernel.Task, a [6]uint64) (uint64, error) {
	domain, typ, proto := intArg(a[0]), intArg(a[1]), intArg(a[2])
	flags := typ &^ sockTypeMask
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	if domain != unix.AF_UNIX && domain >= 0 && domain < afMax && typ&sockTypeMask < sockMax {
		f, err := newNetSocket(t, domain, typ&sockTypeMask, proto)
		if err != nil {
			return 0, err
		}
		return installNetSocket(t, f, flags)
	}
	st, err := unixType(t, domain, typ&sockTypeMask, proto)
	if err != nil {
		return 0, err
	}
	s := t.K.UnixSockets.New(st, sockCred(t))
	return installSocket(t, s, flags)
}

// unixType checks socket(2)'s arguments for an AF_UNIX socket.
func unixType(t *kernel.Task, domain, typ, proto int) (unixsock.Type, error) {
	if domain < 0 || domain >= afMax {
		return 0, unix.EAFNOSUPPORT
	}
	if typ >= sockMax {
		return 0, unix.EINVAL
	}
	switch domain {
	case unix.AF_UNIX:
	case unix.AF_INET, unix.AF_INET6:
		// Linux has no socketpair for TCP/IP.
		return 0, unix.EOPNOTSUPP
	default:
		t.K.WarnOnce("socket:family", "socket family not implemented: EAFNOSUPPORT", "family", domain)
		return 0, unix.EAFNOSUPPORT
	}
	if proto != 0 && proto != unix.AF_UNIX {
		return 0, unix.EPROTONOSUPPORT
	}
	switch typ {
	case unix.SOCK_STREAM:
		return unixsock.Stream, nil
	case unix.SOCK_DGRAM, unix.SOCK_RAW:
		// Linux makes an AF_UNIX SOCK_RAW a datagram socket.
		return unixsock.Dgram, nil
	case unix.SOCK_SEQPACKET:
		return unixsock.SeqPacket, nil
	}
	return 0, unix.ESOCKTNOSUPPORT
}

func installSocket(t *kernel.Task, s *unixsock.Socket, flags int) (uint64, error) {
	d := vfs.NewDescription(s, "", unix.O_RDWR|flags&unix.SOCK_NONBLOCK)
	return install(t, d, 0, flags&unix.SOCK_CLOEXEC != 0)
}

func sysSocketpair(t *kernel.Task, a [6]uint64) (uint64, error) {
	domain, typ, proto := intArg(a[0]), intArg(a[1]), intArg(a[2])
	flags := typ &^ sockTypeMask
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	st, err := unixType(t, domain, typ&sockTypeMask, proto)
	if err != nil {
		return 0, err
	}
	s1, s2 := t.K.UnixSockets.Pair(st, sockCred(t))
	d1 := vfs.NewDescription(s1, "", unix.O_RDWR|flags&unix.SOCK_NONBLOCK)
	d2 := vfs.NewDescription(s2, "", unix.O_RDWR|flags&unix.SOCK_NONBLOCK)
	cloexec := flags&unix.SOCK_CLOEXEC != 0
	fd1, err := t.FDs.Install(d1, 0, cloexec, t.NoFileLimit())
	if err != nil {
		d1.DecRef()
		d2.DecRef()
		return 0, err
	}
	fd2, err := t.FDs.Install(d2, 0, cloexec, t.NoFileLimit())
	if err != nil {
		t.FDs.Remove(fd1)
		d2.DecRef()
		return 0, err
	}
	var b [8]byte
	binary.LittleEndian.PutUint32(b[:], uint32(fd1))
	binary.LittleEndian.PutUint32(b[4:], uint32(fd2))
	if _, err := t.MM.CopyOut(a[3], b[:]); err != nil {
		t.FDs.Remove(fd1)
		t.FDs.Remove(fd2)
		return 0, unix.EFAULT
	}
	return 0, nil
}

// sockFor returns the description and socket behind fd: EBADF for no
// file, ENOTSOCK for a file that is not a socket. The caller DecRefs.
func sockFor(t *kernel.Task, fd int) (*vfs.FileDescription, *unixsock.Socket, error) {
	d, err := t.FDs.Get(fd)
	if err != nil {
		return nil, nil, err
	}
	s, ok := vfs.Underlying(d.File).(*unixsock.Socket)
	if !ok || d.Flags()&unix.O_PATH != 0 {
		d.DecRef()
		if !ok {
			return nil, nil, unix.ENOTSOCK
		}
		return nil, nil, unix.EBADF
	}
	return d, s, nil
}

// errAutobind is what parseAddr returns for an address of the family
// alone, which bind takes as a request for an autobind name.
var errAutobind = errors.New("autobind")

// parseAddr reads a sockaddr_un of addrlen bytes and returns sun_path's
// name: a path up to its first NUL, or (leading NUL) the abstract name,
// every byte of it.
func parseAddr(t *kernel.Task, addr uint64, addrlen int) (string, error) {
	if addrlen < 0 || addrlen > sockaddrUnLen {
		return "", unix.EINVAL
	}
	if addrlen < 2 {
		return "", unix.EINVAL
	}
	b := make([]byte, addrlen)
	if _, err := t.MM.CopyIn(addr, b); err != nil {
		return "", unix.EFAULT
	}
	if fam := binary.LittleEndian.Uint16(b); fam != unix.AF_UNIX {
		if fam == unix.AF_UNSPEC {
			return "", errUnspec
		}
		return "", unix.EINVAL
	}
	if addrlen == 2 {
		return "", errAutobind
	}
	p := b[2:]
	if p[0] == 0 {
		return string(p), nil
	}
	for i, c := range p {
		if c == 0 {
			return string(p[:i]), nil
		}
	}
	return string(p), nil
}

var errUnspec = errors.New("AF_UNSPEC")

// encodeAddr is the sockaddr_un for name and its length as Linux gives
// it: the family alone when unnamed, a path with its NUL, an abstract
// name exactly.
func encodeAddr(name string) []byte {
	b := make([]byte, 2, 2+len(name)+1)
	binary.LittleEndian.PutUint16(b, unix.AF_UNIX)
	b = append(b, name...)
	if name != "" && name[0] != 0 {
		b = append(b, 0)
	}
	return b
}

// fromAddr is the sender's address a receive reports: nothing at all for
// an unnamed sender.
func fromAddr(name string) []byte {
	if name == "" {
		return nil
	}
	return encodeAddr(name)
}

// copyOutAddr writes a socket address to addr, truncated to the length
// the caller's *lenAddr gives, and stores the full length there. A nil
// addr writes nothing.
func copyOutAddr(t *kernel.Task, addr, lenAddr uint64, sa []byte) error {
	if addr == 0 {
		return nil
	}
	var lb [4]byte
	if _, err := t.MM.CopyIn(lenAddr, lb[:]); err != nil {
		return unix.EFAULT
	}
	l := int32(binary.LittleEndian.Uint32(lb[:]))
	if l < 0 {
		return unix.EINVAL
	}
	n := min(int(l), len(sa))
	if n > 0 {
		if _, err := t.MM.CopyOut(addr, sa[:n]); err != nil {
			return unix.EFAULT
		}
	}
	binary.LittleEndian.PutUint32(lb[:], uint32(len(sa)))
	if _, err := t.MM.CopyOut(lenAddr, lb[:]); err != nil {
		return unix.EFAULT
	}
	return nil
}

// findSocket resolves a name to the socket bound to it. A path is looked
// up with the caller's permissions and needs write permission on the
// socket file, as Linux's unix_find_bsd; a file that is not a socket, or
// a socket file nobody is bound to, refuses the connection.
func findSocket(t *kernel.Task, typ unixsock.Type, name string) (*unixsock.Socket, error) {
	ns := t.K.UnixSockets
	if name[0] == 0 {
		return ns.LookupAbstract(typ, name)
	}
	_, st, err := t.LookupStat(unix.AT_FDCWD, name, vfs.LookupFollow)
	if err != nil {
		return nil, err
	}
	if err := t.Cred().May(&st, vfs.MayWrite); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, unix.ECONNREFUSED
	}
	return ns.LookupPath(unixsock.InodeKey{Dev: st.Dev, Ino: st.Ino})
}

func sysBind(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	name, err := parseAddr(t, a[1], intArg(a[2]))
	switch {
	case err == errAutobind:
		return 0, s.Autobind()
	case err == errUnspec:
		return 0, unix.EINVAL
	case err != nil:
		return 0, err
	}
	if name[0] == 0 {
		return 0, s.BindAbstract(name)
	}
	// As Linux, the file is made first (an existing name is
	// EADDRINUSE even for a bound socket), and removed again if the
	// socket turns out to be bound already.
	if err := t.Mknod(unix.AT_FDCWD, name, unix.S_IFSOCK|0o777, 0); err != nil {
		if err == unix.EEXIST {
			return 0, unix.EADDRINUSE
		}
		return 0, err
	}
	_, st, err := t.LookupStat(unix.AT_FDCWD, name, 0)
	if err == nil {
		err = s.BindPath(name, unixsock.InodeKey{Dev: st.Dev, Ino: st.Ino})
	}
	if err != nil {
		t.Unlink(unix.AT_FDCWD, name)
		return 0, err
	}
	return 0, nil
}

func sysListen(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return 0, s.Listen(intArg(a[1]), sockCred(t))
}

func sysConnect(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	name, err := parseAddr(t, a[1], intArg(a[2]))
	if err == errUnspec && s.Type() == unixsock.Dgram {
		return 0, s.ConnectDgram(nil)
	}
	if err == errAutobind || err == errUnspec {
		return 0, unix.EINVAL
	}
	if err != nil {
		return 0, err
	}
	target, err := findSocket(t, s.Type(), name)
	if err != nil {
		return 0, err
	}
	if err := passcredAutobind(s); err != nil {
		return 0, err
	}
	if s.Type() == unixsock.Dgram {
		return 0, s.ConnectDgram(target)
	}
	cred := sockCred(t)
	// A full backlog makes the connect wait for accept to make room
	// (Linux's unix stream connect never returns EINPROGRESS).
	err = waitReady(t, []waiter.Waitable{target}, waiter.EventOut, sockNonblocking(d, 0), s.Options().SndTimeo,
		func() error { return s.Connect(target, cred) })
	return 0, err
}

// passcredAutobind gives an unnamed socket with SO_PASSCRED a name
// before it connects or sends a datagram, as Linux does, so the receiver
// can tell senders apart.
func passcredAutobind(s *unixsock.Socket) error {
	if !s.Options().PassCred || s.Bound() {
		return nil
	}
	return s.Autobind()
}

// sockNonblocking: the description is O_NONBLOCK or the call passed
// MSG_DONTWAIT.
func sockNonblocking(d *vfs.FileDescription, flags int) bool {
	return nonblocking(d) || flags&unix.MSG_DONTWAIT != 0
}

// waitReady runs try until it stops failing with EAGAIN, waiting for
// mask on ws in between; non-blocking, it tries once. A timeout (0 for
// none) ends the wait with EAGAIN, as SO_RCVTIMEO and SO_SNDTIMEO do; a
// signal ends it with ERestartSys, or EINTR when there is a timeout.
func waitReady(t *kernel.Task, ws []waiter.Waitable, mask uint32, nonblock bool, timeout time.Duration, try func() error) error {
	err := try()
	if err != unix.EAGAIN || nonblock {
		return err
	}
	e := waiter.NewEntry(mask | waiter.EventErr | waiter.EventHUp)
	for _, w := range ws {
		w.EventRegister(e)
		defer w.EventUnregister(e)
	}
	deadline := kernel.NoDeadline()
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		if err = try(); err != unix.EAGAIN {
			return err
		}
		if err := t.Block(e.Ch, deadline); err != nil {
			return blockErr(err, timeout)
		}
	}
}

// blockErr turns Block's error into the socket call's.
func blockErr(err error, timeout time.Duration) error {
	if err == unix.ETIMEDOUT {
		return unix.EAGAIN
	}
	if timeout > 0 && err == kernel.ERestartSys {
		return unix.EINTR
	}
	return err
}

// raisesSIGPIPE reports whether EPIPE from writing f comes with
// SIGPIPE: it does for pipes and stream sockets, not for datagram or
// seqpacket sockets.
func raisesSIGPIPE(f vfs.File) bool {
	if ns, ok := vfs.Underlying(f).(netSocket); ok {
		return ns.Type() == unix.SOCK_STREAM
	}
	s, ok := vfs.Underlying(f).(*unixsock.Socket)
	return !ok || s.Type() == unixsock.Stream
}

// emptyWrite is a write of nothing: a no-op, except on a datagram or
// seqpacket socket, where it sends an empty message.
func emptyWrite(d *vfs.FileDescription, write func([]byte) (int, error)) error {
	if ns, ok := vfs.Underlying(d.File).(netSocket); ok {
		if ns.Type() == unix.SOCK_STREAM {
			return nil
		}
		_, err := write(nil)
		return err
	}
	s, ok := vfs.Underlying(d.File).(*unixsock.Socket)
	if !ok || s.Type() == unixsock.Stream {
		return nil
	}
	_, err := write(nil)
	return err
}

// ioDeadline is when a blocking read or write of f gives up: a socket's
// SO_RCVTIMEO or SO_SNDTIMEO; zero for other files.
func ioDeadline(f vfs.File, write bool) time.Time {
	if ns, ok := vfs.Underlying(f).(netSocket); ok {
		rcv, snd := ns.Timeouts()
		if write {
			rcv = snd
		}
		if rcv <= 0 {
			return kernel.NoDeadline()
		}
		return time.Now().Add(rcv)
	}
	s, ok := vfs.Underlying(f).(*unixsock.Socket)
	if !ok {
		return kernel.NoDeadline()
	}
	o := s.Options()
	d := o.RcvTimeo
	if write {
		d = o.SndTimeo
	}
	if d <= 0 {
		return kernel.NoDeadline()
	}
	return time.Now().Add(d)
}

func accept4(t *kernel.Task, a [6]uint64, flags int) (uint64, error) {
	if flags&^(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC) != 0 {
		return 0, unix.EINVAL
	}
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if s.Type() == unixsock.Dgram {
		return 0, unix.EOPNOTSUPP
	}
	var c *unixsock.Socket
	err = waitReady(t, []waiter.Waitable{s}, waiter.EventIn, sockNonblocking(d, 0), s.Options().RcvTimeo,
		func() (err error) { c, err = s.Accept(); return err })
	if err != nil {
		return 0, err
	}
	peer, _ := c.PeerName()
	if err := copyOutAddr(t, a[1], a[2], encodeAddr(peer)); err != nil {
		c.Close()
		return 0, err
	}
	return installSocket(t, c, flags)
}

func sockName(t *kernel.Task, a [6]uint64, peer bool) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	name := s.Name()
	if peer {
		if name, err = s.PeerName(); err != nil {
			return 0, err
		}
	}
	if a[1] == 0 {
		return 0, unix.EFAULT
	}
	return 0, copyOutAddr(t, a[1], a[2], encodeAddr(name))
}

func sysShutdown(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return 0, s.Shutdown(intArg(a[1]))
}

// sendArgs is one send: the data, where to, and the control data.
type sendArgs struct {
	data   []byte
	to     string
	hasTo  bool
	msg    unixsock.Message
	flags  int
	credOK bool
}

// sendOne sends one message or stream write on s, waiting for room unless
// non-blocking; it takes over args.msg.Rights.
func sendOne(t *kernel.Task, d *vfs.FileDescription, s *unixsock.Socket, args *sendArgs) (int, error) {
	defer func() {
		for _, r := range args.msg.Rights {
			r.DecRef()
		}
		args.msg.Rights = nil
	}()
	if args.flags&unix.MSG_OOB != 0 {
		return 0, unix.EOPNOTSUPP
	}
	var to *unixsock.Socket
	ws := []waiter.Waitable{s}
	if args.hasTo && s.Type() == unixsock.SeqPacket {
		// unix_seqpacket_sendmsg drops the address: a seqpacket
		// socket sends to its peer, or is not connected.
		args.hasTo = false
	}
	if args.hasTo {
		if s.Type() != unixsock.Dgram {
			if _, err := s.PeerName(); err == nil {
				return 0, unix.EISCONN
			}
			return 0, unix.EOPNOTSUPP
		}
		var err error
		if to, err = findSocket(t, s.Type(), args.to); err != nil {
			return 0, err
		}
		ws = append(ws, to)
	} else if p := s.Peer(); p != nil && s.Type() == unixsock.Dgram {
		// A full receive queue of the peer makes room when it is read.
		ws = append(ws, p)
	}
	if s.Type() == unixsock.Dgram {
		if err := passcredAutobind(s); err != nil {
			return 0, err
		}
	}
	done := 0
	nonblock := sockNonblocking(d, args.flags)
	var err error
	stream := s.Type() == unixsock.Stream
	err = waitReady(t, ws, waiter.EventOut, nonblock, s.Options().SndTimeo, func() error {
		n, err := s.Send(args.data[done:], &args.msg, to)
		done += n
		if err == unix.EAGAIN && stream && done > 0 && nonblock {
			return nil
		}
		if err == nil && stream && done < len(args.data) {
			return unix.EAGAIN
		}
		return err
	})
	if err == unix.EPIPE && done == 0 && stream && args.flags&unix.MSG_NOSIGNAL == 0 {
		sendSIGPIPE(t)
	}
	if done > 0 && (stream || err == nil) {
		return done, nil
	}
	return 0, err
}

func sysSendto(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	args := sendArgs{flags: intArg(a[3]), msg: unixsock.Message{Cred: msgCred(t)}}
	if a[4] != 0 {
		name, err := parseAddr(t, a[4], intArg(a[5]))
		if err == errUnspec || err == errAutobind {
			return 0, unix.EINVAL
		}
		if err != nil {
			return 0, err
		}
		args.to, args.hasTo = name, true
	}
	n := min(a[2], maxIO)
	if int64(a[2]) < 0 {
		return 0, unix.EINVAL
	}
	args.data = make([]byte, n)
	if got, _ := t.MM.CopyIn(a[1], args.data); uint64(got) < n {
		return 0, unix.EFAULT
	}
	w, err := sendOne(t, d, s, &args)
	return uint64(w), err
}

// msghdr is struct msghdr.
type msghdr struct {
	name       uint64
	namelen    uint32
	iov        uint64
	iovlen     uint64
	control    uint64
	controllen uint64
	flags      uint32
}

func copyInMsghdr(t *kernel.Task, addr uint64) (msghdr, error) {
	var b [msghdrLen]byte
	if _, err := t.MM.CopyIn(addr, b[:]); err != nil {
		return msghdr{}, unix.EFAULT
	}
	le := binary.LittleEndian
	return msghdr{
		name: le.Uint64(b[0:]), namelen: le.Uint32(b[8:]),
		iov: le.Uint64(b[16:]), iovlen: le.Uint64(b[24:]),
		control: le.Uint64(b[32:]), controllen: le.Uint64(b[40:]),
		flags: le.Uint32(b[48:]),
	}, nil
}

// msgIovecs reads the iovec array a msghdr names (EMSGSIZE past
// UIO_MAXIOV, as Linux).
func msgIovecs(t *kernel.Task, m msghdr) ([]iovec, error) {
	if m.iovlen > uioMaxIOV {
		return nil, unix.EMSGSIZE
	}
	return copyInIovecs(t, m.iov, int(m.iovlen))
}

// iovecsLen is the bytes the iovecs describe.
func iovecsLen(iovs []iovec) uint64 {
	var total uint64
	for _, v := range iovs {
		total += v.len
	}
	return total
}

// gatherMsg copies in a message's bytes from iovs, up to maxIO; unlike
// gatherIovecs (splice's), a fault anywhere is EFAULT: sendmsg sends all
// of a message or nothing.
func gatherMsg(t *kernel.Task, iovs []iovec) ([]byte, error) {
	var data []byte
	for _, v := range iovs {
		c := int(min(v.len, uint64(maxIO-len(data))))
		chunk := make([]byte, c)
		if got, _ := t.MM.CopyIn(v.base, chunk); got < c {
			return nil, unix.EFAULT
		}
		data = append(data, chunk...)
		if len(data) >= maxIO {
			break
		}
	}
	return data, nil
}

// scatterMsg copies a received message out over iovs (EFAULT on a fault).
func scatterMsg(t *kernel.Task, iovs []iovec, buf []byte) error {
	done := 0
	for _, v := range iovs {
		if done == len(buf) {
			break
		}
		c := min(int(v.len), len(buf)-done)
		if _, err := t.MM.CopyOut(v.base, buf[done:done+c]); err != nil {
			return unix.EFAULT
		}
		done += c
	}
	return nil
}

// sendmsgArgs gathers what a msghdr describes for a send: the data of
// its iovecs, its address and its control messages (SCM_RIGHTS takes a
// reference on each description named).
func sendmsgArgs(t *kernel.Task, m msghdr, flags int) (*sendArgs, error) {
	args := &sendArgs{flags: flags, msg: unixsock.Message{Cred: msgCred(t)}}
	if m.name != 0 && m.namelen != 0 {
		name, err := parseAddr(t, m.name, int(int32(m.namelen)))
		if err == errUnspec || err == errAutobind {
			return nil, unix.EINVAL
		}
		if err != nil {
			return nil, err
		}
		args.to, args.hasTo = name, true
	}
	iovs, err := msgIovecs(t, m)
	if err != nil {
		return nil, err
	}
	if args.data, err = gatherMsg(t, iovs); err != nil {
		return nil, err
	}
	if m.controllen > 0 {
		if err := parseControl(t, m, args); err != nil {
			for _, r := range args.msg.Rights {
				r.DecRef()
			}
			return nil, err
		}
	}
	return args, nil
}

// parseControl reads the control messages of a send: SCM_RIGHTS and
// SCM_CREDENTIALS at SOL_SOCKET; other levels are ignored, as Linux does.
func parseControl(t *kernel.Task, m msghdr, args *sendArgs) error {
	if m.controllen > maxControl {
		return unix.ENOBUFS
	}
	if m.controllen < cmsgHdrLen {
		return unix.EINVAL
	}
	b := make([]byte, m.controllen)
	if _, err := t.MM.CopyIn(m.control, b); err != nil {
		return unix.EFAULT
	}
	le := binary.LittleEndian
	for off := 0; off+cmsgHdrLen <= len(b); {
		l := le.Uint64(b[off:])
		level, typ := int32(le.Uint32(b[off+8:])), int32(le.Uint32(b[off+12:]))
		if l < cmsgHdrLen || l > uint64(len(b)-off) {
			return unix.EINVAL
		}
		data := b[off+cmsgHdrLen : off+int(l)]
		if level == unix.SOL_SOCKET {
			switch typ {
			case unix.SCM_RIGHTS:
				n := len(data) / 4
				if len(args.msg.Rights)+n > unixsock.MaxRights {
					return unix.EINVAL
				}
				for i := range n {
					fd := int(int32(le.Uint32(data[4*i:])))
					fdd, err := t.FDs.Get(fd)
					if err != nil {
						return unix.EBADF
					}
					args.msg.Rights = append(args.msg.Rights, fdd)
				}
			case unix.SCM_CREDENTIALS:
				if len(data) != 12 {
					return unix.EINVAL
				}
				c := unixsock.Cred{PID: int32(le.Uint32(data)), UID: le.Uint32(data[4:]), GID: le.Uint32(data[8:])}
				if err := checkCred(t, c); err != nil {
					return err
				}
				// __scm_send looks the pid up: one no process has
				// (which only a holder of CAP_SYS_ADMIN gets past
				// checkCred with) is ESRCH.
				if !t.K.TaskExists(c.PID) {
					return unix.ESRCH
				}
				args.msg.Cred = c
			default:
				return unix.EINVAL
			}
		}
		off += (int(l) + 7) &^ 7
	}
	return nil
}

// checkCred is what Linux asks of credentials a sender claims: its own
// pid and one of its uids and gids, unless it holds the capability.
func checkCred(t *kernel.Task, c unixsock.Cred) error {
	cr := t.Creds()
	if c.PID != t.TGID() && !cr.HasCap(kernel.CapSysAdmin) {
		return unix.EPERM
	}
	if c.UID != cr.UID && c.UID != cr.EUID && c.UID != cr.SUID && !cr.HasCap(kernel.CapSetuid) {
		return unix.EPERM
	}
	if c.GID != cr.GID && c.GID != cr.EGID && c.GID != cr.SGID && !cr.HasCap(kernel.CapSetgid) {
		return unix.EPERM
	}
	return nil
}

func sysSendmsg(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	m, err := copyInMsghdr(t, a[1])
	if err != nil {
		return 0, err
	}
	args, err := sendmsgArgs(t, m, intArg(a[2]))
	if err != nil {
		return 0, err
	}
	n, err := sendOne(t, d, s, args)
	return uint64(n), err
}

func sysSendmmsg(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return eachMmsghdr(t, a[1], u32Arg(a[2]), intArg(a[3]), false, nil, func(addr uint64, flags int) (int, error) {
		m, err := copyInMsghdr(t, addr)
		if err != nil {
			return 0, err
		}
		args, err := sendmsgArgs(t, m, flags)
		if err != nil {
			return 0, err
		}
		return sendOne(t, d, s, args)
	})
}

// eachMmsghdr is sendmmsg's and recvmmsg's loop over the vector at base of
// vlen mmsghdrs: one(addr of a msghdr, flags) sends or receives one
// message and its count goes to msg_len. It stops at the first error,
// which it returns only if no message went through (as Linux does).
// For recvmmsg (recv), MSG_WAITFORONE makes every message after the first
// non-blocking; sendmmsg has no such flag. recvmmsg's timeout (to, nil
// for none) is looked at only after each message, as Linux does: one
// that has passed ends the call, but a wait for the next message is not
// cut short by it.
func eachMmsghdr(t *kernel.Task, base uint64, vlen uint32, flags int, recv bool, to *timeout, one func(addr uint64, flags int) (int, error)) (uint64, error) {
	vlen = min(vlen, uioMaxIOV)
	var done uint32
	for ; done < vlen; done++ {
		if done > 0 && to != nil && (to.zero || to.remaining() == 0) {
			break
		}
		addr := base + uint64(done)*mmsghdrLen
		n, err := one(addr, flags)
		if err == nil {
			var b [4]byte
			binary.LittleEndian.PutUint32(b[:], uint32(n))
			if _, cerr := t.MM.CopyOut(addr+msghdrLen, b[:]); cerr != nil {
				err = unix.EFAULT
			}
		}
		if err != nil {
			if done > 0 {
				return uint64(done), nil
			}
			return 0, err
		}
		if recv && flags&msgWaitForOne != 0 {
			flags |= unix.MSG_DONTWAIT
		}
	}
	return uint64(done), nil
}

// recvOne receives into buf with recv's flags, waiting unless
// non-blocking; MSG_WAITALL on a stream keeps reading until buf is full,
// end of file, descriptions arrive or a signal.
func recvOne(t *kernel.Task, d *vfs.FileDescription, s *unixsock.Socket, buf []byte, flags int) ([]byte, unixsock.RecvResult, error) {
	n := len(buf)
	peek := flags&unix.MSG_PEEK != 0
	stream := s.Type() == unixsock.Stream
	if flags&unix.MSG_OOB != 0 {
		if stream {
			return nil, unixsock.RecvResult{}, unix.EINVAL
		}
		return nil, unixsock.RecvResult{}, unix.EOPNOTSUPP
	}
	if flags&msgErrQueue != 0 {
		return nil, unixsock.RecvResult{}, unix.EAGAIN
	}
	opts := s.Options()
	target := 1
	if stream && !peek {
		target = min(n, max(int(opts.RcvLowat), 1))
		if flags&unix.MSG_WAITALL != 0 {
			target = n
		}
	}
	var res unixsock.RecvResult
	total := 0
	err := waitReady(t, []waiter.Waitable{s}, waiter.EventIn|waiter.EventRdHUp, sockNonblocking(d, flags), opts.RcvTimeo, func() error {
		r, err := s.Recv(buf[total:], peek)
		if err != nil {
			// Part of a MSG_WAITALL or SO_RCVLOWAT read waits on
			// when the socket is merely empty again.
			if total > 0 && err != unix.EAGAIN {
				return nil
			}
			return err
		}
		if total == 0 {
			res = r
		} else {
			res.Rights = append(res.Rights, r.Rights...)
			res.Len += r.Len
		}
		total += r.N
		if !stream || r.N == 0 || r.Rights != nil || total >= target || total == n {
			return nil
		}
		return unix.EAGAIN
	})
	res.N = total
	if !stream {
		res.N = min(res.N, n)
	}
	if err != nil && total > 0 && stream {
		// A signal or timeout after part of a MSG_WAITALL read.
		err = nil
	}
	if err != nil {
		return nil, res, err
	}
	if stream {
		res.Len = total
	}
	return buf[:res.N], res, nil
}

func sysRecvfrom(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
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
	buf, r, err := recvOne(t, d, s, scratch, flags)
	for _, x := range r.Rights {
		x.DecRef()
	}
	if err != nil {
		return 0, err
	}
	if len(buf) > 0 {
		if _, err := t.MM.CopyOut(a[1], buf); err != nil {
			return 0, unix.EFAULT
		}
	}
	if a[4] != 0 {
		if err := copyOutAddr(t, a[4], a[5], fromAddr(r.From)); err != nil {
			return 0, err
		}
	}
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unixsock.Stream {
		return uint64(r.Len), nil
	}
	return uint64(len(buf)), nil
}

// recvmsgAt serves one recvmsg on the msghdr at addr and returns the
// byte count.
func recvmsgAt(t *kernel.Task, d *vfs.FileDescription, s *unixsock.Socket, addr uint64, flags int) (int, error) {
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
	buf, r, err := recvOne(t, d, s, scratch, flags)
	if err != nil {
		return 0, err
	}
	if err := scatterMsg(t, iovs, buf); err != nil {
		for _, x := range r.Rights {
			x.DecRef()
		}
		return 0, err
	}
	// Of the caller's flags, msg_flags keeps MSG_CMSG_CLOEXEC, as
	// Linux's ____sys_recvmsg.
	outFlags := uint32(flags & msgCmsgCloexec)
	if r.Truncated && s.Type() != unixsock.Stream {
		outFlags |= unix.MSG_TRUNC
	}
	le := binary.LittleEndian
	var hdr [8]byte
	if m.name != 0 {
		sa := fromAddr(r.From)
		n := min(int(int32(m.namelen)), len(sa))
		if int32(m.namelen) < 0 {
			n = 0
		}
		if n > 0 {
			t.MM.CopyOut(m.name, sa[:n])
		}
		le.PutUint32(hdr[:4], uint32(len(sa)))
		t.MM.CopyOut(addr+8, hdr[:4])
	}
	used, ctrunc := putControl(t, m, r, flags)
	if ctrunc {
		outFlags |= unix.MSG_CTRUNC
	}
	le.PutUint64(hdr[:], used)
	t.MM.CopyOut(addr+40, hdr[:])
	le.PutUint32(hdr[:4], outFlags)
	t.MM.CopyOut(addr+48, hdr[:4])
	n := len(buf)
	if flags&unix.MSG_TRUNC != 0 && s.Type() != unixsock.Stream {
		n = r.Len
	}
	return n, nil
}

// putControl writes the received control messages: SCM_CREDENTIALS when
// the socket asked for them, then SCM_RIGHTS with a new fd for each
// description that fits (the rest are closed and the control data marked
// truncated, as Linux's scm_detach_fds does).
func putControl(t *kernel.Task, m msghdr, r unixsock.RecvResult, flags int) (uint64, bool) {
	le := binary.LittleEndian
	space := int(min(m.controllen, maxControl))
	if m.control == 0 {
		space = 0
	}
	var out []byte
	ctrunc := false
	put := func(typ int32, data []byte) {
		avail := space - len(out)
		if avail < cmsgHdrLen {
			ctrunc = true
			return
		}
		l := cmsgHdrLen + len(data)
		h := make([]byte, cmsgHdrLen, cmsgHdrLen+len(data)+8)
		if l > avail {
			ctrunc = true
			l = avail
		}
		le.PutUint64(h, uint64(l))
		le.PutUint32(h[8:], unix.SOL_SOCKET)
		le.PutUint32(h[12:], uint32(typ))
		h = append(h, data...)[:l]
		out = append(out, h...)
		if pad := (l+7)&^7 - l; len(out)+pad <= space {
			out = append(out, make([]byte, pad)...)
		}
	}
	if r.HasCred {
		put(unix.SCM_CREDENTIALS, r.Cred.Encode())
	}
	if len(r.Rights) > 0 {
		avail := space - len(out)
		maxFDs := 0
		if avail > cmsgHdrLen {
			maxFDs = (avail - cmsgHdrLen) / 4
		}
		var fds []byte
		i := 0
		for ; i < len(r.Rights) && i < maxFDs; i++ {
			fd, err := t.FDs.Install(r.Rights[i], 0, flags&msgCmsgCloexec != 0, t.NoFileLimit())
			if err != nil {
				break
			}
			fds = le.AppendUint32(fds, uint32(fd))
		}
		if i < len(r.Rights) {
			ctrunc = true
			for _, x := range r.Rights[i:] {
				x.DecRef()
			}
		}
		if i > 0 {
			put(unix.SCM_RIGHTS, fds)
		}
	}
	if len(out) > 0 {
		if _, err := t.MM.CopyOut(m.control, out); err != nil {
			return 0, ctrunc
		}
	}
	return uint64(len(out)), ctrunc
}

func sysRecvmsg(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	n, err := recvmsgAt(t, d, s, a[1], intArg(a[2]))
	return uint64(n), err
}

func sysRecvmmsg(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	return recvmmsg(t, a, func(addr uint64, flags int) (int, error) {
		return recvmsgAt(t, d, s, addr, flags)
	})
}

// recvmmsg runs recvmmsg's loop with one receiving each message, and its
// timeout (a[4]): read first (EFAULT, EINVAL), and the time left written
// back when messages were received.
func recvmmsg(t *kernel.Task, a [6]uint64, one func(addr uint64, flags int) (int, error)) (uint64, error) {
	if a[4] == 0 {
		return eachMmsghdr(t, a[1], u32Arg(a[2]), intArg(a[3]), true, nil, one)
	}
	to, err := copyInTimespec(t, a[4])
	if err != nil {
		return 0, err
	}
	n, err := eachMmsghdr(t, a[1], u32Arg(a[2]), intArg(a[3]), true, &to, one)
	if n == 0 || err != nil {
		return n, err
	}
	var b [16]byte
	if r := to.remaining(); !to.zero {
		binary.LittleEndian.PutUint64(b[:], uint64(r/time.Second))
		binary.LittleEndian.PutUint64(b[8:], uint64(r%time.Second))
	}
	if _, err := t.MM.CopyOut(a[4], b[:]); err != nil {
		return 0, unix.EFAULT
	}
	return n, nil
}

// Socket options (asm-generic/socket.h) x/sys does not name for x86-64
// under these names.
const (
	soRcvTimeoNew = 66
	soSndTimeoNew = 67
)

func sysSetsockopt(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	level, name, optlen := intArg(a[1]), intArg(a[2]), intArg(a[4])
	if optlen < 0 {
		return 0, unix.EINVAL
	}
	if level != unix.SOL_SOCKET {
		return 0, unix.EOPNOTSUPP
	}
	b := make([]byte, min(optlen, 64))
	if _, err := t.MM.CopyIn(a[3], b); err != nil {
		return 0, unix.EFAULT
	}
	le := binary.LittleEndian
	intVal := func() (int32, error) {
		if len(b) < 4 {
			return 0, unix.EINVAL
		}
		return int32(le.Uint32(b)), nil
	}
	switch name {
	case unix.SO_SNDBUF, unix.SO_RCVBUF, unix.SO_REUSEADDR, unix.SO_KEEPALIVE, unix.SO_PASSCRED,
		unix.SO_RCVLOWAT, unix.SO_DEBUG, unix.SO_BROADCAST, unix.SO_OOBINLINE, unix.SO_PRIORITY,
		unix.SO_REUSEPORT, unix.SO_DONTROUTE, unix.SO_PEEK_OFF:
		v, err := intVal()
		if err != nil {
			return 0, err
		}
		s.SetOptions(func(o *unixsock.Options) {
			switch name {
			case unix.SO_SNDBUF:
				o.SndBuf = unixsock.BufSize(int(v), true)
			case unix.SO_RCVBUF:
				o.RcvBuf = unixsock.BufSize(int(v), false)
			case unix.SO_REUSEADDR:
				o.ReuseAddr = v != 0
			case unix.SO_KEEPALIVE:
				o.KeepAlive = v != 0
			case unix.SO_PASSCRED:
				o.PassCred = v != 0
			case unix.SO_RCVLOWAT:
				if v < 0 {
					v = 1<<31 - 1
				}
				o.RcvLowat = max(v, 1)
			case unix.SO_PEEK_OFF:
				// Stored as given, as unix_set_peek_off does:
				// any negative value turns it off.
				o.PeekOff = v
			default:
				o.Other[name] = v
			}
		})
		return 0, nil
	case unix.SO_LINGER:
		if len(b) < 8 {
			return 0, unix.EINVAL
		}
		on, secs := le.Uint32(b) != 0, int32(le.Uint32(b[4:]))
		s.SetOptions(func(o *unixsock.Options) { o.Linger, o.LingerSecs = on, secs })
		return 0, nil
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO, soRcvTimeoNew, soSndTimeoNew:
		if len(b) < 16 {
			return 0, unix.EINVAL
		}
		sec, usec := int64(le.Uint64(b)), int64(le.Uint64(b[8:]))
		if usec < 0 || usec >= 1e6 {
			return 0, unix.EDOM
		}
		var dur time.Duration
		if sec >= 0 {
			dur = time.Duration(min(sec, 1<<32))*time.Second + time.Duration(usec)*time.Microsecond
		}
		if sec < 0 {
			// Linux stores a negative time as 0 (no timeout).
			dur = 0
		}
		rcv := name == unix.SO_RCVTIMEO || name == soRcvTimeoNew
		s.SetOptions(func(o *unixsock.Options) {
			if rcv {
				o.RcvTimeo = dur
			} else {
				o.SndTimeo = dur
			}
		})
		return 0, nil
	}
	return 0, unix.ENOPROTOOPT
}

func sysGetsockopt(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, s, err := sockFor(t, fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	level, name := intArg(a[1]), intArg(a[2])
	if level != unix.SOL_SOCKET {
		return 0, unix.EOPNOTSUPP
	}
	var lb [4]byte
	if _, err := t.MM.CopyIn(a[4], lb[:]); err != nil {
		return 0, unix.EFAULT
	}
	optlen := int32(binary.LittleEndian.Uint32(lb[:]))
	if optlen < 0 {
		return 0, unix.EINVAL
	}
	le := binary.LittleEndian
	o := s.Options()
	b2i := func(v bool) int32 {
		if v {
			return 1
		}
		return 0
	}
	var v []byte
	putInt := func(x int32) { v = le.AppendUint32(nil, uint32(x)) }
	switch name {
	case unix.SO_TYPE:
		putInt(int32(s.Type()))
	case unix.SO_DOMAIN:
		putInt(unix.AF_UNIX)
	case unix.SO_PROTOCOL:
		putInt(0)
	case unix.SO_ERROR:
		putInt(int32(s.TakeError()))
	case unix.SO_SNDBUF:
		putInt(int32(o.SndBuf))
	case unix.SO_RCVBUF:
		putInt(int32(o.RcvBuf))
	case unix.SO_REUSEADDR:
		putInt(b2i(o.ReuseAddr))
	case unix.SO_KEEPALIVE:
		putInt(b2i(o.KeepAlive))
	case unix.SO_PASSCRED:
		putInt(b2i(o.PassCred))
	case unix.SO_ACCEPTCONN:
		putInt(b2i(s.Listening()))
	case unix.SO_RCVLOWAT:
		putInt(o.RcvLowat)
	case unix.SO_SNDLOWAT:
		putInt(1)
	case unix.SO_PEEK_OFF:
		putInt(o.PeekOff)
	case unix.SO_DEBUG, unix.SO_BROADCAST, unix.SO_OOBINLINE, unix.SO_PRIORITY, unix.SO_REUSEPORT, unix.SO_DONTROUTE:
		x := o.Other[name]
		if name != unix.SO_PRIORITY {
			x = b2i(x != 0)
		}
		putInt(x)
	case unix.SO_LINGER:
		v = le.AppendUint32(nil, uint32(b2i(o.Linger)))
		v = le.AppendUint32(v, uint32(o.LingerSecs))
	case unix.SO_PEERCRED:
		v = s.PeerCred().Encode()
	case soPeerPidfd:
		return peerPidFD(t, s.PeerCred(), optlen, a[3], a[4])
	case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO, soRcvTimeoNew, soSndTimeoNew:
		dur := o.SndTimeo
		if name == unix.SO_RCVTIMEO || name == soRcvTimeoNew {
			dur = o.RcvTimeo
		}
		v = le.AppendUint64(nil, uint64(dur/time.Second))
		v = le.AppendUint64(v, uint64(dur%time.Second/time.Microsecond))
	default:
		return 0, unix.ENOPROTOOPT
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
