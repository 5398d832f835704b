package caps

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

func TestTableLookupAndDenials(t *testing.T) {
	log, audit := testLogger(t)
	tab := NewTable(log)
	defer tab.Close()

	id, err := tab.Insert(KindFile, RightRead|RightGrant, "stdin", 0, openDevNull(t, os.O_RDONLY))
	if err != nil {
		t.Fatal(err)
	}
	info, err := tab.Lookup(id, KindFile, RightRead)
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	if info.ID != id || info.Name != "stdin" || info.Rights != RightRead|RightGrant {
		t.Errorf("lookup info = %+v", info)
	}
	if _, err := tab.Lookup(id, 0, 0); err != nil {
		t.Errorf("lookup any kind: %v", err)
	}
	for _, tc := range []struct {
		id   ID
		kind Kind
		need Rights
		want error
	}{
		{id, KindFile, RightWrite, ErrDenied},
		{id, KindFile, RightRead | RightMap, ErrDenied},
		{id, KindMemory, RightRead, ErrWrongKind},
		{id + 100, KindFile, RightRead, ErrNotFound},
		{0, 0, 0, ErrNotFound},
	} {
		if _, err := tab.Lookup(tc.id, tc.kind, tc.need); !errors.Is(err, tc.want) {
			t.Errorf("Lookup(%d, %s, %s) = %v, want %v", tc.id, tc.kind, tc.need, err, tc.want)
		}
	}
	if n := audit.count("caps: denied"); n != 5 {
		t.Errorf("audit has %d denials, want 5", n)
	}
	if audit.count("caps: grant") != 1 {
		t.Error("grant not audited")
	}

	f, _, err := tab.Dup(id, KindFile, RightRead)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !isCloexec(t, f) {
		t.Error("Dup result is not close-on-exec")
	}
}

func TestTableInsertValidation(t *testing.T) {
	tab := NewTable(quiet)
	defer tab.Close()
	f := openDevNull(t, os.O_RDONLY)
	defer f.Close()
	for _, tc := range []struct {
		kind   Kind
		rights Rights
		name   string
	}{
		{0, RightRead, "x"},
		{Kind(42), RightRead, "x"},
		{KindFile, 1 << 9, "x"},
		{KindFile, RightRead, ""},
		{KindFile, RightRead, string(make([]byte, maxNameLen+1))},
	} {
		if _, err := tab.Insert(tc.kind, tc.rights, tc.name, 0, f); !errors.Is(err, ErrInvalid) {
			t.Errorf("Insert(%s, %s, %q) = %v, want ErrInvalid", tc.kind, tc.rights, tc.name, err)
		}
	}
	if _, err := tab.Insert(KindFile, RightRead, "x", 0, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("Insert(nil file) = %v", err)
	}
}

func TestTableAttenuate(t *testing.T) {
	log, audit := testLogger(t)
	tab := NewTable(log)
	defer tab.Close()

	root, err := tab.Insert(KindFile, RightRead|RightWrite|RightGrant, "dev", 0, openDevNull(t, os.O_RDWR))
	if err != nil {
		t.Fatal(err)
	}
	ro, err := tab.Attenuate(root, RightRead|RightGrant)
	if err != nil {
		t.Fatalf("attenuate: %v", err)
	}
	info, err := tab.Lookup(ro, KindFile, RightRead)
	if err != nil {
		t.Fatal(err)
	}
	if info.Parent != root || info.Rights != RightRead|RightGrant || info.Name != "dev" {
		t.Errorf("derived = %+v", info)
	}
	if _, err := tab.Lookup(ro, KindFile, RightWrite); !errors.Is(err, ErrDenied) {
		t.Errorf("derived handle still has write: %v", err)
	}
	// The host fd follows the rights: the derived descriptor is read-only.
	f, _, err := tab.Dup(ro, KindFile, RightRead)
	if err != nil {
		t.Fatal(err)
	}
	if r, w := accessOf(t, f); !r || w {
		t.Errorf("derived fd access read=%t write=%t, want read-only", r, w)
	}
	f.Close()

	// Never amplifies: asking for write back from the read-only child is denied.
	if _, err := tab.Attenuate(ro, RightRead|RightWrite|RightGrant); !errors.Is(err, ErrDenied) {
		t.Errorf("amplifying attenuate = %v, want ErrDenied", err)
	}
	// Without RightGrant nothing can be derived.
	leaf, err := tab.Attenuate(ro, RightRead)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Attenuate(leaf, RightRead); !errors.Is(err, ErrDenied) {
		t.Errorf("attenuate without grant = %v, want ErrDenied", err)
	}
	if _, err := tab.Attenuate(leaf, 0); !errors.Is(err, ErrDenied) {
		t.Errorf("attenuate to nothing without grant = %v, want ErrDenied", err)
	}
	if _, err := tab.Attenuate(root, 1<<12); !errors.Is(err, ErrInvalid) {
		t.Errorf("attenuate with unknown bits = %v, want ErrInvalid", err)
	}
	if _, err := tab.Attenuate(999, RightRead); !errors.Is(err, ErrNotFound) {
		t.Errorf("attenuate missing = %v", err)
	}
	if n := audit.count("caps: attenuate"); n != 2 {
		t.Errorf("audit has %d attenuations, want 2", n)
	}
	if n := audit.count("caps: denied"); n < 5 {
		t.Errorf("audit has %d denials, want >= 5", n)
	}
}

func TestTableRevokeTree(t *testing.T) {
	log, audit := testLogger(t)
	tab := NewTable(log)
	defer tab.Close()

	all := RightRead | RightWrite | RightGrant
	root, err := tab.Insert(KindFile, all, "root", 0, openDevNull(t, os.O_RDWR))
	if err != nil {
		t.Fatal(err)
	}
	other, err := tab.Insert(KindFile, all, "other", 0, openDevNull(t, os.O_RDWR))
	if err != nil {
		t.Fatal(err)
	}
	// root -> a -> (b -> d), c
	a := mustAttenuate(t, tab, root, all)
	b := mustAttenuate(t, tab, a, RightRead|RightGrant)
	c := mustAttenuate(t, tab, a, RightWrite)
	d := mustAttenuate(t, tab, b, RightRead)

	// Keep exo's own file for d to check it gets closed.
	tab.mu.Lock()
	dFile := tab.handles[d].res.file
	tab.mu.Unlock()

	// Revoking a leaf leaves its ancestors alone.
	if err := tab.Revoke(c); err != nil {
		t.Fatal(err)
	}
	if _, err := tab.Lookup(a, 0, 0); err != nil {
		t.Errorf("parent of revoked leaf: %v", err)
	}
	if err := tab.Revoke(c); !errors.Is(err, ErrRevoked) {
		t.Errorf("double revoke = %v, want ErrRevoked", err)
	}

	if err := tab.Revoke(a); err != nil {
		t.Fatal(err)
	}
	for _, id := range []ID{a, b, c, d} {
		if _, err := tab.Lookup(id, 0, 0); !errors.Is(err, ErrRevoked) {
			t.Errorf("handle %d after revoking ancestor: %v", id, err)
		}
		if _, err := tab.Attenuate(id, 0); !errors.Is(err, ErrRevoked) {
			t.Errorf("attenuate revoked %d: %v", id, err)
		}
	}
	if _, err := tab.Lookup(root, 0, 0); err != nil {
		t.Errorf("root after revoking child: %v", err)
	}
	if _, err := tab.Lookup(other, 0, 0); err != nil {
		t.Errorf("unrelated handle: %v", err)
	}
	if _, err := dFile.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("exo's fd for a revoked descendant is still open: %v", err)
	}

	revoked := map[ID]bool{}
	for _, h := range tab.Handles() {
		revoked[h.ID] = h.Revoked
	}
	want := map[ID]bool{root: false, other: false, a: true, b: true, c: true, d: true}
	if fmt.Sprint(revoked) != fmt.Sprint(want) {
		t.Errorf("Handles revoked = %v, want %v", revoked, want)
	}
	if n := audit.count("caps: revoke"); n != 2 {
		t.Errorf("audit has %d revocations, want 2", n)
	}

	// A fresh derivation from root gets a new id; old ids are never reused.
	e := mustAttenuate(t, tab, root, RightRead)
	if e <= d {
		t.Errorf("new id %d reuses an old one (last was %d)", e, d)
	}
}

func TestTableLimits(t *testing.T) {
	tab := NewTable(quiet)
	defer tab.Close()
	root, err := tab.Insert(KindFile, RightRead|RightGrant, "root", 0, openDevNull(t, os.O_RDONLY))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < maxLive; i++ {
		mustAttenuate(t, tab, root, RightRead)
	}
	if _, err := tab.Attenuate(root, RightRead); !errors.Is(err, ErrQuota) {
		t.Fatalf("attenuate past the live limit = %v, want ErrQuota", err)
	}
	if err := tab.Revoke(root + 1); err != nil {
		t.Fatal(err)
	}
	// Churn: tombstones stay bounded.
	for range 3 * maxTombstones {
		id := mustAttenuate(t, tab, root, 0)
		if err := tab.Revoke(id); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(tab.Handles()); n > maxLive+maxTombstones {
		t.Errorf("table remembers %d handles", n)
	}
	tab.mu.Lock()
	for _, c := range tab.handles[root].children {
		if tab.handles[c] == nil {
			t.Errorf("root lists pruned child %d", c)
		}
	}
	tab.mu.Unlock()
}

func TestTableClose(t *testing.T) {
	tab := NewTable(quiet)
	id, err := tab.Insert(KindFile, RightRead|RightGrant, "x", 0, openDevNull(t, os.O_RDONLY))
	if err != nil {
		t.Fatal(err)
	}
	tab.mu.Lock()
	f := tab.handles[id].res.file
	tab.mu.Unlock()
	if err := tab.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("fd still open after Close: %v", err)
	}
	if _, err := tab.Lookup(id, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("lookup after close = %v", err)
	}
	if _, err := tab.Attenuate(id, RightRead); !errors.Is(err, ErrClosed) {
		t.Errorf("attenuate after close = %v", err)
	}
	if len(tab.Handles()) != 1 {
		t.Error("handles not listed after close")
	}
	if err := tab.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// TestTableConcurrent is for -race: derivations and revocations of one tree
// from many goroutines.
func TestTableConcurrent(t *testing.T) {
	tab := NewTable(quiet)
	defer tab.Close()
	root, err := tab.Insert(KindFile, RightRead|RightWrite|RightGrant, "root", 0, openDevNull(t, os.O_RDWR))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				id, err := tab.Attenuate(root, RightRead|RightGrant)
				if err != nil {
					t.Error(err)
					return
				}
				child, err := tab.Attenuate(id, RightRead)
				if err != nil && !errors.Is(err, ErrRevoked) {
					t.Error(err)
					return
				}
				if f, _, err := tab.Dup(id, KindFile, RightRead); err == nil {
					f.Close()
				}
				if (g+i)%2 == 0 {
					_ = tab.Revoke(id)
				} else if err == nil {
					_ = tab.Revoke(child)
				}
				tab.Handles()
			}
		})
	}
	wg.Wait()
}

func mustAttenuate(t *testing.T, tab *Table, id ID, keep Rights) ID {
	t.Helper()
	c, err := tab.Attenuate(id, keep)
	if err != nil {
		t.Fatalf("attenuate %d to %s: %v", id, keep, err)
	}
	return c
}
