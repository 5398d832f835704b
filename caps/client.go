package caps

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Grant is what the sentry holds for one handle.
type Grant struct {
	ID     ID
	Kind   Kind
	Rights Rights
	Name   string   // "memory", "rootfs", "stdin", "stdout", "stderr", ...
	Size   int64    // memory: quota bytes; otherwise 0
	File   *os.File // the host fd behind the handle (memfd, O_PATH dir fd, stdio dup)
}

// Client is the sentry's end of the protocol. Its methods may be called from
// several goroutines; exchanges are serialised.
type Client struct {
	mu     sync.Mutex
	conn   *net.UnixConn
	buf    []byte
	oob    []byte
	broken error // set once the stream may be out of step; sticky
}

// NewClient wraps the sentry's end of a SocketPair (or ConnFromFD). The
// Client owns conn from now on.
func NewClient(conn *net.UnixConn) *Client {
	return &Client{
		conn: conn,
		buf:  make([]byte, maxResponse),
		oob:  make([]byte, unix.CmsgSpace(grantsPerMsg*4)),
	}
}

// remoteError is a failure reported by exo. It unwraps to the matching
// sentinel (ErrDenied, ErrRevoked, ...) when exo sent a known code.
type remoteError struct {
	msg   string
	err   error
	errno unix.Errno // see Errno
}

func (e *remoteError) Error() string { return "exo: " + e.msg }
func (e *remoteError) Unwrap() error { return e.err }

// Grants returns every live handle exo holds for this sentry, each with a
// freshly received fd. The caller owns the files: every call returns new
// descriptors, which the caller must Close when done (revoking a handle does
// not close them). They are close-on-exec.
func (c *Client) Grants() ([]Grant, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Grant
	err := c.exchange(request{Op: opGrants}, func(resp response, g []Grant) {
		out = append(out, g...)
	})
	if err != nil {
		closeGrants(out)
		return nil, fmt.Errorf("caps: grants: %w", err)
	}
	return out, nil
}

// Attenuate asks exo for a copy of handle id holding only rights keep (a
// subset of its rights; id needs RightGrant). Exo narrows the host fd to
// match: a read-only reopen for files and memory, a fresh read-only mount
// clone for a dir losing RightWrite. The caller owns the returned File.
func (c *Client) Attenuate(id ID, keep Rights) (Grant, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Grant
	err := c.exchange(request{Op: opAttenuate, ID: id, Keep: keep}, func(resp response, g []Grant) {
		out = append(out, g...)
	})
	if err == nil && len(out) != 1 {
		err = fmt.Errorf("got %d grants, want 1", len(out))
		c.broken = err
	}
	if err != nil {
		closeGrants(out)
		return Grant{}, fmt.Errorf("caps: attenuate %d to %s: %w", id, keep, err)
	}
	return out[0], nil
}

// Revoke tells exo this sentry no longer needs id nor anything derived from
// it. The caller should also Close its own files for them; exo cannot.
func (c *Client) Revoke(id ID) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int
	err := c.exchange(request{Op: opRevoke, ID: id}, func(resp response, g []Grant) {
		n += len(g)
		closeGrants(g)
	})
	if err == nil && n != 0 {
		err = fmt.Errorf("revoke reply carried %d grants", n)
		c.broken = err
	}
	if err != nil {
		return fmt.Errorf("caps: revoke %d: %w", id, err)
	}
	return nil
}

// Close closes the connection. Files already received stay open.
func (c *Client) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("caps: close client: %w", err)
	}
	return nil
}

// exchange sends req and feeds each response record to fn until the last.
// c.mu must be held. fn owns the grants it is given.
func (c *Client) exchange(req request, fn func(response, []Grant)) error {
	if c.broken != nil {
		return fmt.Errorf("connection unusable after earlier protocol error: %w", c.broken)
	}
	if err := sendMsg(c.conn, req, nil); err != nil {
		return err
	}
	for {
		resp, grants, err := c.recv()
		if err != nil {
			// Later records of this reply may still be queued; the next
			// exchange would read them as its own.
			c.broken = err
			return err
		}
		fn(resp, grants)
		if resp.Error != "" {
			return &remoteError{msg: resp.Error, err: errOfCode(resp.Code), errno: unix.Errno(resp.Errno)}
		}
		if !resp.More {
			return nil
		}
	}
}

// recv reads one response record and pairs its grants with the fds it
// carried; on any mismatch every fd is closed.
func (c *Client) recv() (response, []Grant, error) {
	msg, fds, err := recvMsg(c.conn, c.buf, c.oob)
	if err != nil {
		return response{}, nil, err
	}
	var resp response
	if err := decodeStrict(msg, &resp); err != nil {
		closeRaw(fds)
		return response{}, nil, fmt.Errorf("decode response: %w", err)
	}
	if len(fds) != len(resp.Grants) {
		closeRaw(fds)
		return response{}, nil, fmt.Errorf("response has %d grants but %d fds", len(resp.Grants), len(fds))
	}
	if resp.Error != "" && (len(resp.Grants) != 0 || resp.More) {
		closeRaw(fds)
		return response{}, nil, errors.New("error response carries grants")
	}
	grants := make([]Grant, len(fds))
	for i, g := range resp.Grants {
		grants[i] = Grant{
			ID: g.ID, Kind: g.Kind, Rights: g.Rights, Name: g.Name, Size: g.Size,
			File: os.NewFile(uintptr(fds[i]), g.Name),
		}
	}
	return resp, grants, nil
}

func closeGrants(gs []Grant) {
	for _, g := range gs {
		if g.File != nil {
			g.File.Close()
		}
	}
}
