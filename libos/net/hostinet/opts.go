package hostinet

import (
	"encoding/binary"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// Socket options. The sentry runs with host privileges, so only options
// that concern the socket's own behaviour reach the host: not SO_MARK,
// SO_BINDTODEVICE, SO_*BUFFORCE, IP_TRANSPARENT, IP_FREEBIND, filters
// (SO_ATTACH_*), IP_OPTIONS or setting TCP_CONGESTION (which may load a
// kernel module). The rest are ENOPROTOOPT, as for an option Linux does
// not know.

type optKey struct{ level, name int }

// optGet says an option may be read from the host; optSet that it may be
// set.
const (
	optGet = 1 << iota
	optSet
)

const (
	soRcvTimeoNew = 66 // SO_RCVTIMEO_NEW
	soSndTimeoNew = 67 // SO_SNDTIMEO_NEW
	// maxPriority is the highest SO_PRIORITY Linux lets a process without
	// CAP_NET_ADMIN set.
	maxPriority = 6
	// maxOpt bounds what getsockopt reads back (struct tcp_info is the
	// largest allowed).
	maxOpt = 512
)

var allowed = map[optKey]int{
	{unix.SOL_SOCKET, unix.SO_TYPE}:       optGet,
	{unix.SOL_SOCKET, unix.SO_DOMAIN}:     optGet,
	{unix.SOL_SOCKET, unix.SO_PROTOCOL}:   optGet,
	{unix.SOL_SOCKET, unix.SO_ERROR}:      optGet,
	{unix.SOL_SOCKET, unix.SO_ACCEPTCONN}: optGet,
	{unix.SOL_SOCKET, unix.SO_SNDLOWAT}:   optGet,
	{unix.SOL_SOCKET, unix.SO_REUSEADDR}:  optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_REUSEPORT}:  optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_KEEPALIVE}:  optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_BROADCAST}:  optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_LINGER}:     optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_SNDBUF}:     optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_RCVBUF}:     optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_OOBINLINE}:  optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_RCVLOWAT}:   optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_PRIORITY}:   optGet | optSet,
	{unix.SOL_SOCKET, unix.SO_TIMESTAMP}:  optGet,
	{unix.SOL_SOCKET, unix.SO_PASSCRED}:   optGet,

	{unix.IPPROTO_IP, unix.IP_TOS}:                  optGet | optSet,
	{unix.IPPROTO_IP, unix.IP_TTL}:                  optGet | optSet,
	{unix.IPPROTO_IP, unix.IP_MTU}:                  optGet,
	{unix.IPPROTO_IP, unix.IP_MTU_DISCOVER}:         optGet | optSet,
	{unix.IPPROTO_IP, unix.IP_RECVERR}:              optGet | optSet,
	{unix.IPPROTO_IP, unix.IP_MULTICAST_TTL}:        optGet | optSet,
	{unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP}:       optGet | optSet,
	{unix.IPPROTO_IP, unix.IP_MULTICAST_IF}:         optGet | optSet,
	{unix.IPPROTO_IP, unix.IP_ADD_MEMBERSHIP}:       optSet,
	{unix.IPPROTO_IP, unix.IP_DROP_MEMBERSHIP}:      optSet,
	{unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT}: optGet | optSet,

	{unix.IPPROTO_IPV6, unix.IPV6_V6ONLY}:         optGet | optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS}:   optGet | optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS}: optGet | optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP}: optGet | optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF}:   optGet | optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_JOIN_GROUP}:     optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_LEAVE_GROUP}:    optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_TCLASS}:         optGet | optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_RECVERR}:        optGet | optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER}:   optGet | optSet,
	{unix.IPPROTO_IPV6, unix.IPV6_MTU}:            optGet,

	{unix.IPPROTO_TCP, unix.TCP_NODELAY}:          optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_MAXSEG}:           optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_CORK}:             optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE}:         optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL}:        optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_KEEPCNT}:          optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_SYNCNT}:           optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_LINGER2}:          optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT}:     optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_WINDOW_CLAMP}:     optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_QUICKACK}:         optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT}:     optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_FASTOPEN}:         optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_FASTOPEN_CONNECT}: optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT}:    optGet | optSet,
	{unix.IPPROTO_TCP, unix.TCP_INFO}:             optGet,
	{unix.IPPROTO_TCP, unix.TCP_CONGESTION}:       optGet,

	{unix.IPPROTO_UDP, unix.UDP_CORK}: optGet | optSet,
}

// SetSockOpt sets option name at level: the timeouts here, an allowed
// option on the host.
func (s *Socket) SetSockOpt(level, name int, v []byte) error {
	if level == unix.SOL_SOCKET {
		switch name {
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO, soRcvTimeoNew, soSndTimeoNew:
			d, err := timeval(v)
			if err != nil {
				return err
			}
			s.mu.Lock()
			if name == unix.SO_RCVTIMEO || name == soRcvTimeoNew {
				s.rcvTimeo = d
			} else {
				s.sndTimeo = d
			}
			s.mu.Unlock()
			return nil
		case unix.SO_PRIORITY:
			if len(v) >= 4 && int32(binary.LittleEndian.Uint32(v)) > maxPriority {
				return unix.EPERM
			}
		}
	}
	if allowed[optKey{level, name}]&optSet == 0 {
		return unix.ENOPROTOOPT
	}
	p, n := ptrLen(v)
	_, err := call(unix.SYS_SETSOCKOPT, uintptr(s.fd), uintptr(level), uintptr(name), uintptr(p), n)
	s.h.Rearm()
	return err
}

// timeval reads a struct timeval as SO_RCVTIMEO takes it: zero is no
// timeout, a negative one too.
func timeval(v []byte) (time.Duration, error) {
	if len(v) < 16 {
		return 0, unix.EINVAL
	}
	sec := int64(binary.LittleEndian.Uint64(v))
	usec := int64(binary.LittleEndian.Uint64(v[8:]))
	if usec < 0 || usec >= 1000000 {
		return 0, unix.EDOM
	}
	if sec < 0 {
		return 0, nil
	}
	return time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond, nil
}

// GetSockOpt returns option name at level; the caller truncates it to the
// length asked for.
func (s *Socket) GetSockOpt(level, name int) ([]byte, error) {
	if level == unix.SOL_SOCKET {
		switch name {
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO, soRcvTimeoNew, soSndTimeoNew:
			rcv, snd := s.Timeouts()
			d := snd
			if name == unix.SO_RCVTIMEO || name == soRcvTimeoNew {
				d = rcv
			}
			b := binary.LittleEndian.AppendUint64(nil, uint64(d/time.Second))
			return binary.LittleEndian.AppendUint64(b, uint64(d%time.Second/time.Microsecond)), nil
		}
	}
	if allowed[optKey{level, name}]&optGet == 0 {
		switch level {
		case unix.SOL_SOCKET, unix.IPPROTO_IP, unix.IPPROTO_IPV6, unix.IPPROTO_TCP, unix.IPPROTO_UDP:
			return nil, unix.ENOPROTOOPT
		}
		return nil, unix.EOPNOTSUPP
	}
	b := make([]byte, maxOpt)
	n := uint32(len(b))
	if _, err := call(unix.SYS_GETSOCKOPT, uintptr(s.fd), uintptr(level), uintptr(name), uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&n))); err != nil {
		return nil, err
	}
	return b[:min(int(n), len(b))], nil
}

// Interface queries passed to the host: only the SIOCGIF* reads of one
// struct ifreq, never the SIOCSIF* writes (the sentry's host privileges
// would let them reconfigure the host's interfaces) nor SIOCGIFCONF.
const ifreqLen = 40

var ifreqGets = map[uint64]bool{
	unix.SIOCGIFNAME: true, unix.SIOCGIFINDEX: true, unix.SIOCGIFFLAGS: true,
	unix.SIOCGIFADDR: true, unix.SIOCGIFBRDADDR: true, unix.SIOCGIFNETMASK: true,
	unix.SIOCGIFDSTADDR: true, unix.SIOCGIFMTU: true, unix.SIOCGIFHWADDR: true,
	unix.SIOCGIFTXQLEN: true,
}

// Ioctl implements vfs.File: the queue sizes, the urgent mark and the
// interface reads.
func (s *Socket) Ioctl(req, arg uint64, mem vfs.Memory) (uint64, error) {
	switch req {
	case unix.TIOCINQ, unix.TIOCOUTQ, unix.SIOCATMARK:
		v, err := unix.IoctlGetInt(s.fd, uint(req))
		if err != nil {
			return 0, err
		}
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], uint32(v))
		if _, err := mem.CopyOut(arg, b[:]); err != nil {
			return 0, unix.EFAULT
		}
		return 0, nil
	}
	if !ifreqGets[req] {
		return 0, unix.ENOTTY
	}
	var ifr [ifreqLen]byte
	if _, err := mem.CopyIn(arg, ifr[:]); err != nil {
		return 0, unix.EFAULT
	}
	if _, err := call(unix.SYS_IOCTL, uintptr(s.fd), uintptr(req), uintptr(unsafe.Pointer(&ifr[0]))); err != nil {
		return 0, err
	}
	if _, err := mem.CopyOut(arg, ifr[:]); err != nil {
		return 0, unix.EFAULT
	}
	return 0, nil
}
