package mm

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSetLimitMovesTheQuotaLive: the quota within the memfd rises and
// falls live; lowering it below what is in use fails with EBUSY and
// changes nothing, and the stats count the peak and the refusals.
func TestSetLimitMovesTheQuotaLive(t *testing.T) {
	m, _ := newMM(t, 256<<10)
	mf := m.mf
	if err := mf.SetLimit(64 << 10); err != nil {
		t.Fatal(err)
	}
	if got := mf.Size(); got != 64<<10 {
		t.Fatalf("Size after SetLimit = %d, want %d", got, 64<<10)
	}
	// mlock gives a mapping's pages their frames at once.
	a, err := m.Map(MapOpts{Length: 48 << 10, Prot: ProtRead | ProtWrite})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(a, a+48<<10, true); err != nil {
		t.Fatal(err)
	}
	b, err := m.Map(MapOpts{Length: 32 << 10, Prot: ProtRead | ProtWrite})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(b, b+32<<10, true); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("mlock past the limit: err = %v, want EAGAIN", err)
	}
	if err := mf.SetLimit(32 << 10); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("limit below use: err = %v, want EBUSY", err)
	}
	if got := mf.Size(); got != 64<<10 {
		t.Fatalf("a refused SetLimit changed the limit to %d", got)
	}
	if err := mf.SetLimit(128 << 10); err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(b, b+32<<10, true); err != nil {
		t.Fatalf("mlock within the raised limit: %v", err)
	}
	st := mf.Stats()
	if st.Usage != 80<<10 || st.Limit != 128<<10 || st.MaxUsage != 80<<10 || st.Failcnt != 1 {
		t.Errorf("stats = %+v, want usage 80K, limit 128K, peak 80K, one failure", st)
	}
	if err := m.Unmap(a, 48<<10); err != nil {
		t.Fatal(err)
	}
	if err := mf.SetLimit(32 << 10); err != nil {
		t.Fatalf("limit at use after freeing: %v", err)
	}
	if err := mf.SetLimit(1 << 30); err != nil || mf.Size() != 256<<10 {
		t.Errorf("a limit above the memfd: err %v, size %d; want it capped at %d", err, mf.Size(), 256<<10)
	}
	if err := mf.SetLimit(0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("limit 0: err = %v, want EINVAL", err)
	}
}
