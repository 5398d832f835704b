package caps

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
)

// Table limits. A sentry can create handles (Attenuate) and tombstones
// (Revoke) at will, so both are bounded to keep it from growing exo's memory
// or fd table without end.
const (
	maxLive       = 1024 // live handles per table
	maxTombstones = 1024 // revoked handles remembered for listings
	maxNameLen    = 128
)

// HandleInfo describes one handle for listings and audits; it holds no fd.
type HandleInfo struct {
	ID      ID     `json:"id"`
	Kind    Kind   `json:"kind"`
	Rights  Rights `json:"rights"`
	Name    string `json:"name"`
	Size    int64  `json:"size,omitempty"`
	Parent  ID     `json:"parent,omitempty"` // 0 for a handle granted directly
	Revoked bool   `json:"revoked,omitempty"`
}

type handle struct {
	info     HandleInfo
	res      resource // zero once revoked: the fds are closed
	children []ID
}

// Table is a thread-safe handle table: every resource exo grants, with its
// rights and its place in the attenuation tree.
type Table struct {
	log *slog.Logger

	mu         sync.Mutex
	closed     bool
	next       ID
	live       int
	handles    map[ID]*handle
	tombstones []ID // revoked handles, oldest first
}

// NewTable returns an empty table auditing to log (slog.Default if nil).
func NewTable(log *slog.Logger) *Table {
	if log == nil {
		log = slog.Default()
	}
	return &Table{log: log, next: 1, handles: make(map[ID]*handle)}
}

// Insert adds a root handle for f. On success the table owns f and closes it
// on revocation or Close; on error the caller still owns it.
func (t *Table) Insert(kind Kind, rights Rights, name string, size int64, f *os.File) (ID, error) {
	if f == nil {
		return 0, fmt.Errorf("caps: insert %q: nil file: %w", name, ErrInvalid)
	}
	return t.insert(HandleInfo{Kind: kind, Rights: rights, Name: name, Size: size}, resource{file: f})
}

func (t *Table) insert(info HandleInfo, res resource) (ID, error) {
	if err := validInfo(info); err != nil {
		return 0, fmt.Errorf("caps: insert: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id, err := t.add(info, res)
	if err != nil {
		return 0, fmt.Errorf("caps: insert %q: %w", info.Name, err)
	}
	t.log.Info("caps: grant", "id", id, "kind", info.Kind, "rights", info.Rights, "name", info.Name, "size", info.Size)
	return id, nil
}

func validInfo(info HandleInfo) error {
	switch {
	case !info.Kind.valid():
		return fmt.Errorf("kind %s: %w", info.Kind, ErrInvalid)
	case info.Rights&^AllRights != 0:
		return fmt.Errorf("rights %s: %w", info.Rights, ErrInvalid)
	case info.Name == "" || len(info.Name) > maxNameLen:
		return fmt.Errorf("name %q: length must be 1..%d: %w", info.Name, maxNameLen, ErrInvalid)
	case info.Size < 0:
		return fmt.Errorf("size %d: %w", info.Size, ErrInvalid)
	}
	return nil
}

// add files a new handle. t.mu must be held.
func (t *Table) add(info HandleInfo, res resource) (ID, error) {
	if t.closed {
		return 0, ErrClosed
	}
	if t.live >= maxLive {
		return 0, fmt.Errorf("%d live handles: %w", t.live, ErrQuota)
	}
	if t.next == 0 {
		return 0, fmt.Errorf("handle ids exhausted: %w", ErrQuota)
	}
	info.ID = t.next
	t.next++ // wraps to 0 after 2^32-1 ids, which the check above then refuses
	t.handles[info.ID] = &handle{info: info, res: res}
	t.live++
	return info.ID, nil
}

// get finds a live handle with the wanted kind (0: any) and rights, logging a
// denial otherwise. t.mu must be held.
func (t *Table) get(op string, id ID, want Kind, need Rights) (*handle, error) {
	h, err := t.check(id, want, need)
	if err != nil {
		t.log.Warn("caps: denied", "op", op, "id", id, "kind", want, "need", need, "err", err)
		return nil, fmt.Errorf("caps: %s %d: %w", op, id, err)
	}
	return h, nil
}

func (t *Table) check(id ID, want Kind, need Rights) (*handle, error) {
	if t.closed {
		return nil, ErrClosed
	}
	h := t.handles[id]
	switch {
	case h == nil:
		return nil, ErrNotFound
	case h.info.Revoked:
		return nil, ErrRevoked
	case want != 0 && h.info.Kind != want:
		return nil, fmt.Errorf("is %s, want %s: %w", h.info.Kind, want, ErrWrongKind)
	case h.info.Rights&need != need:
		return nil, fmt.Errorf("has %s, need %s: %w", h.info.Rights, need, ErrDenied)
	}
	return h, nil
}

// Lookup checks that id is a live handle of kind want (0: any kind) holding
// at least rights need, and describes it.
func (t *Table) Lookup(id ID, want Kind, need Rights) (HandleInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, err := t.get("lookup", id, want, need)
	if err != nil {
		return HandleInfo{}, err
	}
	return h.info, nil
}

// Dup is Lookup that also returns a close-on-exec duplicate of the handle's
// fd, owned by the caller. Revoking the handle later does not close it.
func (t *Table) Dup(id ID, want Kind, need Rights) (*os.File, HandleInfo, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, err := t.get("dup", id, want, need)
	if err != nil {
		return nil, HandleInfo{}, err
	}
	f, err := dupFile(h.res.file)
	if err != nil {
		return nil, HandleInfo{}, fmt.Errorf("caps: dup %d: %w", id, err)
	}
	return f, h.info, nil
}

// Attenuate derives from id a new handle holding only rights keep, with its
// own host fd narrowed to match (a read-only reopen, a read-only mount
// clone). The parent must hold RightGrant, and keep must be a subset of its
// rights: asking for more is denied rather than silently trimmed, so a caller
// never believes it holds a right it does not.
func (t *Table) Attenuate(id ID, keep Rights) (ID, error) {
	if keep&^AllRights != 0 {
		t.log.Warn("caps: denied", "op", "attenuate", "id", id, "keep", keep, "err", ErrInvalid)
		return 0, fmt.Errorf("caps: attenuate %d: rights %s: %w", id, keep, ErrInvalid)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, err := t.get("attenuate", id, 0, RightGrant)
	if err != nil {
		return 0, err
	}
	if extra := keep &^ p.info.Rights; extra != 0 {
		err := fmt.Errorf("has %s, asked for %s: %w", p.info.Rights, keep, ErrDenied)
		t.log.Warn("caps: denied", "op", "attenuate", "id", id, "keep", keep, "err", err)
		return 0, fmt.Errorf("caps: attenuate %d: %w", id, err)
	}
	if t.live >= maxLive {
		return 0, fmt.Errorf("caps: attenuate %d: %d live handles: %w", id, t.live, ErrQuota)
	}
	// Deriving may clone a mount tree; doing it under the lock keeps the
	// parent's fds from being closed by a concurrent Revoke meanwhile, and
	// these calls do not block on anything the sentry controls.
	var res resource
	if p.info.Kind == KindDir {
		res, err = deriveDir(p.res, keep, t.log)
	} else {
		res.file, err = narrowFile(p.res.file, keep, t.log)
	}
	if err != nil {
		return 0, fmt.Errorf("caps: attenuate %d to %s: %w", id, keep, err)
	}
	info := p.info
	info.Rights, info.Parent = keep, p.info.ID
	cid, err := t.add(info, res)
	if err != nil {
		res.close()
		return 0, fmt.Errorf("caps: attenuate %d: %w", id, err)
	}
	p.children = append(p.children, cid)
	t.log.Info("caps: attenuate", "parent", id, "id", cid, "kind", info.Kind, "rights", keep, "name", info.Name)
	return cid, nil
}

// Revoke revokes id and every handle derived from it, closing exo's fds for
// them. It cannot recall fds already passed to the sentry: a descriptor in
// another process cannot be taken back, only the process killed. Revocation
// makes exo refuse any further use of the handles (lookups, attenuation,
// re-sending) and releases exo's references, which for a dir clone is what
// keeps the detached mount alive once the sentry's copies are gone.
func (t *Table) Revoke(id ID) error {
	t.mu.Lock()
	h, err := t.get("revoke", id, 0, 0)
	if err != nil {
		t.mu.Unlock()
		return err
	}
	name := h.info.Name
	var doomed []resource
	stack := []*handle{h}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if x.info.Revoked {
			continue // its subtree went with it
		}
		x.info.Revoked = true
		doomed = append(doomed, x.res)
		x.res = resource{}
		t.live--
		t.tombstones = append(t.tombstones, x.info.ID)
		for _, c := range x.children {
			if ch := t.handles[c]; ch != nil {
				stack = append(stack, ch)
			}
		}
	}
	t.prune()
	t.mu.Unlock()

	// Closing a detached mount's last fd unmounts it; keep that out of the lock.
	var errs []error
	for _, r := range doomed {
		if err := r.close(); err != nil {
			errs = append(errs, err)
		}
	}
	t.log.Info("caps: revoke", "id", id, "name", name, "revoked", len(doomed))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("caps: revoke %d: close: %w", id, err)
	}
	return nil
}

// prune forgets the oldest tombstones beyond the limit. t.mu must be held.
func (t *Table) prune() {
	for len(t.tombstones) > maxTombstones {
		id := t.tombstones[0]
		t.tombstones = t.tombstones[1:]
		h := t.handles[id]
		if h == nil {
			continue
		}
		if p := t.handles[h.info.Parent]; p != nil {
			p.children = slices.DeleteFunc(p.children, func(c ID) bool { return c == id })
		}
		delete(t.handles, id)
	}
}

func byID(a, b HandleInfo) int { return cmp.Compare(a.ID, b.ID) }

// Handles lists every remembered handle, live and revoked, by ID.
func (t *Table) Handles() []HandleInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]HandleInfo, 0, len(t.handles))
	for _, h := range t.handles {
		out = append(out, h.info)
	}
	slices.SortFunc(out, byID)
	return out
}

// dupLive returns every live handle, by ID, with a raw close-on-exec dup of
// its fd that the caller must unix.Close. Dups rather than the table's own
// fds, so that a concurrent Revoke cannot close a number while it is being
// sent.
func (t *Table) dupLive() ([]HandleInfo, []int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, nil, fmt.Errorf("caps: list grants: %w", ErrClosed)
	}
	var infos []HandleInfo
	for _, h := range t.handles {
		if !h.info.Revoked {
			infos = append(infos, h.info)
		}
	}
	slices.SortFunc(infos, byID)
	fds := make([]int, 0, len(infos))
	for _, info := range infos {
		fd, err := dupRaw(t.handles[info.ID].res.file)
		if err != nil {
			closeRaw(fds)
			return nil, nil, fmt.Errorf("caps: list grants: handle %d: %w", info.ID, err)
		}
		fds = append(fds, fd)
	}
	return infos, fds, nil
}

// dupOne is dupLive for a single handle.
func (t *Table) dupOne(id ID) (HandleInfo, int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h, err := t.get("send", id, 0, 0)
	if err != nil {
		return HandleInfo{}, -1, err
	}
	fd, err := dupRaw(h.res.file)
	if err != nil {
		return HandleInfo{}, -1, fmt.Errorf("caps: send %d: %w", id, err)
	}
	return h.info, fd, nil
}

// Close closes every host fd in the table. Handles stay listed; any other
// use fails with ErrClosed.
func (t *Table) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	var doomed []resource
	for _, h := range t.handles {
		if !h.info.Revoked {
			doomed = append(doomed, h.res)
			h.res = resource{}
		}
	}
	t.mu.Unlock()
	var errs []error
	for _, r := range doomed {
		if err := r.close(); err != nil {
			errs = append(errs, err)
		}
	}
	t.log.Info("caps: close", "closed", len(doomed))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("caps: close table: %w", err)
	}
	return nil
}
