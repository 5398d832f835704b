package caps

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// The host-socket manager, behind --network=host. A host-network handle
// (KindHostNet) lets the sentry ask exo for TCP and UDP sockets of the
// network namespace exo runs in: exo calls socket(2) and passes the new
// descriptor back over the capability channel, so the sentry itself never
// creates a socket (its seccomp filter refuses socket(2)) and can hold
// nothing but AF_INET/AF_INET6 stream and datagram sockets: no raw, packet
// or netlink ones, which could forge traffic or reconfigure the host.
//
// This is weaker isolation than a NIC: the workload's connections are the
// host's own, with the host's addresses and ports, and what it does on them
// (bind, connect, setsockopt) is checked by the sentry, not by exo.
//
// The quota bounds the sockets the sentry holds at once, as the sentry
// reports closing them; a sentry that does not report only starves itself.
// The hard bound is the sentry's RLIMIT_NOFILE on the host.

// maxHostSockets is the default quota of a host-network handle.
const maxHostSockets = 4096

// hostNet is exo's accounting of one host-network handle.
type hostNet struct {
	mu   sync.Mutex
	open map[ID]int64 // sockets handed out and not reported closed, by handle
}

// GrantHostNet creates a host-network handle named name allowing at most
// max sockets open at once (0: a default of 4096). HandleInfo.Size is the
// quota. The handle's fd is an eventfd standing for nothing: the right is
// in the table, not in the descriptor.
func (e *Exo) GrantHostNet(name string, max int64) (ID, error) {
	if max < 0 {
		return 0, fmt.Errorf("caps: grant host network %q: quota %d: %w", name, max, ErrInvalid)
	}
	if max == 0 {
		max = maxHostSockets
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		return 0, fmt.Errorf("caps: grant host network %q: eventfd: %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "hostnet:"+name)
	id, err := e.table.insert(HandleInfo{Kind: KindHostNet, Rights: RightRead | RightWrite, Name: name, Size: max}, resource{file: f})
	if err != nil {
		f.Close()
		return 0, fmt.Errorf("caps: grant host network %q: %w", name, err)
	}
	return id, nil
}

// CheckHostSocket says whether a host-network handle may create a socket of
// family, typ (no flags) and proto: TCP or UDP over IPv4 or IPv6, nothing
// else.
func CheckHostSocket(family, typ, proto int) error {
	switch family {
	case unix.AF_INET, unix.AF_INET6:
	default:
		return fmt.Errorf("family %d: only AF_INET and AF_INET6: %w", family, ErrDenied)
	}
	switch {
	case typ == unix.SOCK_STREAM && (proto == 0 || proto == unix.IPPROTO_TCP):
	case typ == unix.SOCK_DGRAM && (proto == 0 || proto == unix.IPPROTO_UDP):
	default:
		return fmt.Errorf("type %d protocol %d: only TCP and UDP: %w", typ, proto, ErrDenied)
	}
	return nil
}

// hostSocket creates the socket a request asks for, in exo's network
// namespace, non-blocking and close-on-exec, counting it against the
// handle's quota. The caller closes the returned fd once sent.
func (e *Exo) hostSocket(req request) (HandleInfo, int, error) {
	info, err := e.table.Lookup(req.ID, KindHostNet, RightWrite)
	if err != nil {
		return HandleInfo{}, -1, err
	}
	if err := CheckHostSocket(req.Family, req.Type, req.Proto); err != nil {
		e.log.Warn("caps: denied", "op", opSocket, "id", req.ID, "err", err)
		return HandleInfo{}, -1, fmt.Errorf("caps: socket: %w", err)
	}
	e.hostNet.mu.Lock()
	defer e.hostNet.mu.Unlock()
	if e.hostNet.open == nil {
		e.hostNet.open = make(map[ID]int64)
	}
	if n := e.hostNet.open[req.ID]; n >= info.Size {
		return HandleInfo{}, -1, fmt.Errorf("caps: socket: %d sockets open: %w", n, ErrQuota)
	}
	fd, err := unix.Socket(req.Family, req.Type|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, req.Proto)
	if err != nil {
		// The workload sees the errno (EAFNOSUPPORT without IPv6, EMFILE).
		return HandleInfo{}, -1, fmt.Errorf("caps: socket: %w", errnoError{err})
	}
	e.hostNet.open[req.ID]++
	e.log.Debug("caps: host socket", "id", req.ID, "family", req.Family, "type", req.Type, "open", e.hostNet.open[req.ID])
	return HandleInfo{ID: req.ID, Kind: KindSocket, Rights: RightRead | RightWrite, Name: "socket"}, fd, nil
}

// hostSocketClosed takes one socket off a handle's count.
func (e *Exo) hostSocketClosed(id ID) error {
	if _, err := e.table.Lookup(id, KindHostNet, 0); err != nil {
		return err
	}
	e.hostNet.mu.Lock()
	defer e.hostNet.mu.Unlock()
	if e.hostNet.open[id] == 0 {
		return fmt.Errorf("caps: socket closed: handle %d has no open sockets: %w", id, ErrInvalid)
	}
	e.hostNet.open[id]--
	return nil
}

// HostSockets is how many sockets handle id has open, as exo counts them.
func (e *Exo) HostSockets(id ID) int64 {
	e.hostNet.mu.Lock()
	defer e.hostNet.mu.Unlock()
	return e.hostNet.open[id]
}

// errnoError carries a host errno across the wire to the sentry, which
// gives it to the workload (see Errno).
type errnoError struct{ errno error }

func (e errnoError) Error() string { return e.errno.Error() }
func (e errnoError) Unwrap() error { return e.errno }

// HostSocket asks exo for a socket through host-network handle id. The
// caller owns the returned file (non-blocking, close-on-exec) and tells
// exo with HostSocketClosed once it has closed it. A refused request
// unwraps to ErrDenied or ErrQuota; a failed socket(2) to its errno (see
// Errno).
func (c *Client) HostSocket(id ID, family, typ, proto int) (*os.File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Grant
	err := c.exchange(request{Op: opSocket, ID: id, Family: family, Type: typ, Proto: proto}, func(resp response, g []Grant) {
		out = append(out, g...)
	})
	if err == nil && (len(out) != 1 || out[0].Kind != KindSocket) {
		err = fmt.Errorf("got %d grants, want 1 socket", len(out))
		c.broken = err
	}
	if err != nil {
		closeGrants(out)
		return nil, fmt.Errorf("caps: host socket: %w", err)
	}
	f := out[0].File
	if err := checkSocket(f, family, typ); err != nil {
		f.Close()
		return nil, fmt.Errorf("caps: host socket: %w", err)
	}
	return f, nil
}

// checkSocket makes sure exo sent what was asked for, so a confused exo
// cannot hand the sentry some other kind of descriptor.
func checkSocket(f *os.File, family, typ int) error {
	return withFD(f, func(fd int) error {
		for _, want := range []struct{ opt, val int }{{unix.SO_DOMAIN, family}, {unix.SO_TYPE, typ}} {
			got, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, want.opt)
			if err != nil {
				return fmt.Errorf("getsockopt: %w", err)
			}
			if got != want.val {
				return fmt.Errorf("socket option %d is %d, want %d: %w", want.opt, got, want.val, ErrInvalid)
			}
		}
		return nil
	})
}

// HostSocketClosed tells exo one socket of handle id is closed.
func (c *Client) HostSocketClosed(id ID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.exchange(request{Op: opSocketClosed, ID: id}, func(resp response, g []Grant) { closeGrants(g) })
	if err != nil {
		return fmt.Errorf("caps: host socket closed: %w", err)
	}
	return nil
}

// Errno is the host errno behind a failed HostSocket whose socket(2) exo
// could not make, or 0.
func Errno(err error) unix.Errno {
	var re *remoteError
	if !errors.As(err, &re) {
		return 0
	}
	return re.errno
}

// errnoOf is the host errno an exo-side error carries, or 0.
func errnoOf(err error) unix.Errno {
	var ee errnoError
	if !errors.As(err, &ee) {
		return 0
	}
	var en unix.Errno
	if errors.As(ee.errno, &en) {
		return en
	}
	return 0
}
