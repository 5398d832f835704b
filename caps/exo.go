package caps

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// Exo is the trusted side: it owns the handle table and the host fds behind
// it, and serves one sentry's requests. One Exo stands for one sandbox: every
// live handle in it is granted to the sentry on the other end.
type Exo struct {
	log     *slog.Logger
	table   *Table
	hostNet hostNet
	tasks   taskTable
}

// NewExo returns an Exo with an empty table, auditing to log (slog.Default if
// nil).
func NewExo(log *slog.Logger) *Exo {
	if log == nil {
		log = slog.Default()
	}
	return &Exo{log: log, table: NewTable(log)}
}

// memoryRights: the library OS reads, writes and maps its memory, but has no
// one to pass it on to, so a memory handle is not grantable.
const memoryRights = RightRead | RightWrite | RightMap

// GrantMemory creates a memory handle: a memfd sealed at quota bytes, rounded
// up to whole pages (HandleInfo.Size and Grant.Size say how many).
func (e *Exo) GrantMemory(name string, quota int64) (ID, error) {
	f, size, err := NewMemory(name, quota)
	if err != nil {
		return 0, fmt.Errorf("caps: grant memory %q: %w", name, err)
	}
	id, err := e.table.insert(HandleInfo{Kind: KindMemory, Rights: memoryRights, Name: name, Size: size}, resource{file: f})
	if err != nil {
		f.Close()
		return 0, fmt.Errorf("caps: grant memory %q: %w", name, err)
	}
	return id, nil
}

// GrantDir creates a dir handle on the tree at hostPath, read-only on the
// host unless rights include RightWrite (see OpenDir).
func (e *Exo) GrantDir(name, hostPath string, rights Rights) (ID, error) {
	res, err := openDir(hostPath, rights, e.log)
	if err != nil {
		return 0, fmt.Errorf("caps: grant dir %q: %w", name, err)
	}
	id, err := e.table.insert(HandleInfo{Kind: KindDir, Rights: rights, Name: name}, res)
	if err != nil {
		res.close()
		return 0, fmt.Errorf("caps: grant dir %q: %w", name, err)
	}
	return id, nil
}

// GrantFile creates a file handle for f, typically host stdio. Exo keeps its
// own descriptor (a dup, or a reopen with fewer access bits when f allows
// more than rights), so the caller keeps ownership of f and may close it
// right away. Rights that f's access mode cannot honour are refused.
func (e *Exo) GrantFile(name string, f *os.File, rights Rights) (ID, error) {
	if f == nil {
		return 0, fmt.Errorf("caps: grant file %q: nil file: %w", name, ErrInvalid)
	}
	if rights&^AllRights != 0 {
		return 0, fmt.Errorf("caps: grant file %q: rights %s: %w", name, rights, ErrInvalid)
	}
	nf, err := narrowFile(f, rights, e.log)
	if err != nil {
		return 0, fmt.Errorf("caps: grant file %q: %w", name, err)
	}
	id, err := e.table.insert(HandleInfo{Kind: KindFile, Rights: rights, Name: name}, resource{file: nf})
	if err != nil {
		nf.Close()
		return 0, fmt.Errorf("caps: grant file %q: %w", name, err)
	}
	return id, nil
}

// Revoke revokes id and everything derived from it (see Table.Revoke).
func (e *Exo) Revoke(id ID) error { return e.table.Revoke(id) }

// Table gives exo-side code (other resource managers, the CLI) direct access
// to the handle table.
func (e *Exo) Table() *Table { return e.table }

// Handles lists every handle, live and revoked.
func (e *Exo) Handles() []HandleInfo { return e.table.Handles() }

// Close closes all host fds exo holds. It does not close connections being
// served; their requests then fail with ErrClosed.
func (e *Exo) Close() error { return e.table.Close() }

// Serve answers the sentry's requests on conn until the peer hangs up, which
// returns nil. Malformed or refused requests get an error reply and the loop
// goes on; only a failure of the connection itself ends it with an error.
// Serve does not close conn.
func (e *Exo) Serve(conn *net.UnixConn) error {
	buf := make([]byte, maxRequest)
	oob := make([]byte, unix.CmsgSpace(strayFDs*4))
	for {
		msg, fds, err := recvMsg(conn, buf, oob)
		if errors.Is(err, errHangup) {
			e.log.Debug("caps: sentry hung up", "err", err)
			return nil
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			return fmt.Errorf("caps: serve: %w", err)
		}
		if err == nil && len(fds) > 0 {
			closeRaw(fds)
			err = fmt.Errorf("request carried %d file descriptors: %w", len(fds), ErrInvalid)
		}
		if err != nil {
			e.log.Warn("caps: bad request", "err", err)
			err = e.replyErr(conn, err)
		} else {
			err = e.handle(conn, msg)
		}
		if err != nil {
			return fmt.Errorf("caps: serve: reply: %w", err)
		}
	}
}

// handle answers one request. Its error is for connection failures only;
// request failures are replies.
func (e *Exo) handle(conn *net.UnixConn, msg []byte) error {
	var req request
	if err := decodeStrict(msg, &req); err != nil {
		e.log.Warn("caps: bad request", "err", err, "len", len(msg))
		return e.replyErr(conn, fmt.Errorf("decode request: %w: %w", err, ErrInvalid))
	}
	switch req.Op {
	case opGrants:
		if req.ID != 0 || req.Keep != 0 {
			return e.replyErr(conn, fmt.Errorf("grants takes no arguments: %w", ErrInvalid))
		}
		return e.sendGrants(conn)
	case opAttenuate:
		cid, err := e.table.Attenuate(req.ID, req.Keep)
		if err != nil {
			return e.replyErr(conn, err)
		}
		info, fd, err := e.table.dupOne(cid)
		if err != nil {
			return e.replyErr(conn, err)
		}
		defer unix.Close(fd)
		return sendMsg(conn, response{Grants: []wireGrant{toWire(info)}}, []int{fd})
	case opRevoke:
		if req.Keep != 0 {
			return e.replyErr(conn, fmt.Errorf("revoke takes no rights: %w", ErrInvalid))
		}
		if err := e.table.Revoke(req.ID); err != nil {
			return e.replyErr(conn, err)
		}
		return sendMsg(conn, response{}, nil)
	case opSocket:
		info, fd, err := e.hostSocket(req)
		if err != nil {
			return e.replyErr(conn, err)
		}
		defer unix.Close(fd)
		return sendMsg(conn, response{Grants: []wireGrant{toWire(info)}}, []int{fd})
	case opSocketClosed:
		if req.Keep != 0 || req.Family != 0 || req.Type != 0 || req.Proto != 0 {
			return e.replyErr(conn, fmt.Errorf("socket-closed takes a handle only: %w", ErrInvalid))
		}
		if err := e.hostSocketClosed(req.ID); err != nil {
			return e.replyErr(conn, err)
		}
		return sendMsg(conn, response{}, nil)
	case opPlaceTask:
		if req.Keep != 0 || req.Family != 0 || req.Type != 0 || req.Proto != 0 {
			return e.replyErr(conn, fmt.Errorf("place-task takes a handle and a thread only: %w", ErrInvalid))
		}
		if err := e.placeTask(req.ID, req.PID, req.TID); err != nil {
			return e.replyErr(conn, err)
		}
		return sendMsg(conn, response{}, nil)
	default:
		e.log.Warn("caps: bad request", "op", req.Op)
		return e.replyErr(conn, fmt.Errorf("unknown op %q: %w", req.Op, ErrInvalid))
	}
}

func (e *Exo) sendGrants(conn *net.UnixConn) error {
	infos, fds, err := e.table.dupLive()
	if err != nil {
		return e.replyErr(conn, err)
	}
	defer closeRaw(fds)
	for start := 0; ; start += grantsPerMsg {
		end := min(start+grantsPerMsg, len(infos))
		resp := response{More: end < len(infos)}
		for _, info := range infos[start:end] {
			resp.Grants = append(resp.Grants, toWire(info))
		}
		if err := sendMsg(conn, resp, fds[start:end]); err != nil {
			return err
		}
		if !resp.More {
			return nil
		}
	}
}

// replyErr sends a request failure. Errors without a protocol code are
// exo-internal (a failed syscall, naming host paths): the sentry gets a
// generic message and exo's log gets the detail.
func (e *Exo) replyErr(conn *net.UnixConn, err error) error {
	code := codeOf(err)
	msg := err.Error()
	if en := errnoOf(err); en != 0 {
		// A failed socket(2): its errno is the workload's answer.
		return sendMsg(conn, response{Error: msg, Code: code, Errno: int(en)}, nil)
	}
	if code == "" {
		e.log.Error("caps: request failed", "err", err)
		msg = "exo internal error"
	}
	return sendMsg(conn, response{Error: msg, Code: code}, nil)
}
