package caps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// The exo⇄sentry protocol. Each SOCK_SEQPACKET record is one JSON object;
// the sentry sends a request and reads responses until one has More unset.
// The fd for Grants[i] is the i-th descriptor in the record's SCM_RIGHTS.
// Requests carry no fds; responses carry exactly one per grant.

// Protocol operations.
const (
	opGrants    = "grants"
	opAttenuate = "attenuate"
	opRevoke    = "revoke"
	// opSocket asks for a host socket through a host-network handle
	// (hostsock.go); opSocketClosed reports one closed.
	opSocket       = "socket"
	opSocketClosed = "socket-closed"
	// opPlaceTask asks exo to count a stub thread as one of the
	// container's tasks (tasks.go).
	opPlaceTask = "place-task"
)

const (
	// maxRequest bounds what exo reads from the sentry; real requests are
	// well under 100 bytes.
	maxRequest = 4096
	// grantsPerMsg keeps each record far below SCM_MAX_FD (253) and, with
	// names capped at maxNameLen, far below maxResponse.
	grantsPerMsg = 64
	maxResponse  = 64 << 10
	// strayFDs sizes exo's control buffer so that fds a misbehaving sentry
	// attaches are received (and closed) rather than silently dropped.
	strayFDs = 16
)

type request struct {
	Op   string `json:"op"`
	ID   ID     `json:"id,omitempty"`
	Keep Rights `json:"keep,omitempty"`
	// Family, Type and Proto are socket(2)'s arguments for opSocket.
	Family int `json:"family,omitempty"`
	Type   int `json:"type,omitempty"`
	Proto  int `json:"proto,omitempty"`
	// PID and TID name the stub thread opPlaceTask places, as the
	// sentry's pid namespace numbers them.
	PID int `json:"pid,omitempty"`
	TID int `json:"tid,omitempty"`
}

type wireGrant struct {
	ID     ID     `json:"id"`
	Kind   Kind   `json:"kind"`
	Rights Rights `json:"rights"`
	Name   string `json:"name"`
	Size   int64  `json:"size,omitempty"`
}

type response struct {
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"` // see errorCodes
	// Errno is the host errno of a failed syscall exo made on the
	// sentry's behalf (opSocket), for the workload to see.
	Errno  int         `json:"errno,omitempty"`
	Grants []wireGrant `json:"grants,omitempty"`
	More   bool        `json:"more,omitempty"`
}

func toWire(h HandleInfo) wireGrant {
	return wireGrant{ID: h.ID, Kind: h.Kind, Rights: h.Rights, Name: h.Name, Size: h.Size}
}

// decodeStrict rejects unknown fields and trailing data: the peer is not
// trusted, and anything the decoder would ignore is a sign of a mismatch.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after JSON object")
	}
	return nil
}

// sendMsg writes one record carrying fds. It does not close them.
func sendMsg(conn *net.UnixConn, v any, fds []int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, oobn, err := conn.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if n != len(b) || oobn != len(oob) {
		return fmt.Errorf("send: short write %d/%d bytes, %d/%d control", n, len(b), oobn, len(oob))
	}
	return nil
}

// errHangup is returned by recvMsg when the peer closed its end. On a
// SOCK_SEQPACKET socket an empty record reads the same, and is treated the
// same: a sentry that sends one has hung up as far as exo is concerned.
var errHangup = errors.New("peer hung up")

// recvMsg reads one record and returns its payload and any fds it carried,
// close-on-exec (Go's ReadMsgUnix asks for MSG_CMSG_CLOEXEC on Linux). On
// error no fds are returned: they have been closed.
func recvMsg(conn *net.UnixConn, buf, oob []byte) ([]byte, []int, error) {
	n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) {
			return nil, nil, fmt.Errorf("%w: %w", errHangup, err)
		}
		return nil, nil, fmt.Errorf("receive: %w", err)
	}
	fds, perr := parseFDs(oob[:oobn])
	switch {
	case perr != nil:
		closeRaw(fds)
		return nil, nil, fmt.Errorf("receive: control message: %w", perr)
	case n == 0 && oobn == 0:
		return nil, nil, errHangup
	case flags&unix.MSG_TRUNC != 0:
		closeRaw(fds)
		return nil, nil, fmt.Errorf("receive: message larger than %d bytes: %w", len(buf), ErrInvalid)
	case flags&unix.MSG_CTRUNC != 0:
		closeRaw(fds)
		return nil, nil, fmt.Errorf("receive: too many file descriptors: %w", ErrInvalid)
	}
	return buf[:n], fds, nil
}

// parseFDs extracts every SCM_RIGHTS fd, even when it also reports an error,
// so the caller can close them all.
func parseFDs(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	var errs []error
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fds = append(fds, got...)
	}
	return fds, errors.Join(errs...)
}

func closeRaw(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
