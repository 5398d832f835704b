package inet

import (
	"encoding/binary"
	"errors"
	"net/netip"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
)

const (
	sockaddrInLen  = 16
	sockaddrIn6Len = 28
	// sin6LenRFC2133 is the size of a sockaddr_in6 without sin6_scope_id,
	// which Linux still accepts.
	sin6LenRFC2133 = 24
)

// ErrUnspec is what ParseAddr returns for an address of family
// AF_UNSPEC: connect takes it as a request to disconnect.
var ErrUnspec = errors.New("inet: AF_UNSPEC address")

// parseAddr decodes the sockaddr_in or sockaddr_in6 b for a socket of
// family fam.
func parseAddr(fam int, b []byte) (tcpip.FullAddress, error) {
	if len(b) < 2 {
		return tcpip.FullAddress{}, unix.EINVAL
	}
	f := int(binary.LittleEndian.Uint16(b))
	if f == unix.AF_UNSPEC {
		return tcpip.FullAddress{}, ErrUnspec
	}
	if f != fam {
		if fam == unix.AF_INET6 && len(b) < sin6LenRFC2133 {
			return tcpip.FullAddress{}, unix.EINVAL
		}
		return tcpip.FullAddress{}, unix.EAFNOSUPPORT
	}
	port := binary.BigEndian.Uint16(b[2:])
	if fam == unix.AF_INET {
		if len(b) < sockaddrInLen {
			return tcpip.FullAddress{}, unix.EINVAL
		}
		return fullAddr(netip.AddrFrom4([4]byte(b[4:8])), port, 0), nil
	}
	if len(b) < sin6LenRFC2133 {
		return tcpip.FullAddress{}, unix.EINVAL
	}
	ip := netip.AddrFrom16([16]byte(b[8:24]))
	var scope uint32
	if len(b) >= sockaddrIn6Len {
		scope = binary.LittleEndian.Uint32(b[24:])
	}
	if !ip.IsLinkLocalUnicast() && !ip.IsLinkLocalMulticast() {
		scope = 0
	}
	return fullAddr(ip, port, int32(scope)), nil
}

// encodeAddr is the sockaddr for a of a socket of family fam: an IPv4
// address of an AF_INET6 socket is given v4-mapped.
func encodeAddr(fam int, a tcpip.FullAddress) []byte {
	ip, _ := netip.AddrFromSlice(a.Addr.AsSlice())
	if fam == unix.AF_INET {
		b := make([]byte, sockaddrInLen)
		binary.LittleEndian.PutUint16(b, unix.AF_INET)
		binary.BigEndian.PutUint16(b[2:], a.Port)
		if ip.Is4() || ip.Is4In6() {
			v := ip.Unmap().As4()
			copy(b[4:], v[:])
		}
		return b
	}
	b := make([]byte, sockaddrIn6Len)
	binary.LittleEndian.PutUint16(b, unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], a.Port)
	if ip.IsValid() {
		// As16 of an IPv4 address is its v4-mapped form.
		x := ip.As16()
		copy(b[8:], x[:])
		if ip.Is6() && (ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast()) {
			binary.LittleEndian.PutUint32(b[24:], uint32(a.NIC))
		}
	}
	return b
}
