package mm

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeHost records host mapping calls instead of changing a real stub.
type fakeHost struct{ maps, unmaps, protects int }

func (f *fakeHost) MapFile(addr, length, offset uint64, prot Prot) error { f.maps++; return nil }
func (f *fakeHost) Unmap(addr, length uint64) error                      { f.unmaps++; return nil }
func (f *fakeHost) Protect(addr, length uint64, prot Prot) error         { f.protects++; return nil }

func newMM(t *testing.T, quota int64) (*MemoryManager, *fakeHost) {
	t.Helper()
	fd, err := unix.MemfdCreate("mm-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "mm-test")
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(quota); err != nil {
		t.Fatal(err)
	}
	mf, err := NewMemoryFile(f, quota)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	h := &fakeHost{}
	return New(mf, h), h
}

func TestMapCopyUnmap(t *testing.T) {
	m, h := newMM(t, 1<<20)
	addr, err := m.Map(MapOpts{Length: 8192, Prot: ProtRead | ProtWrite})
	if err != nil {
		t.Fatal(err)
	}
	if h.maps != 0 {
		t.Fatalf("host maps = %d before anything was touched, want 0", h.maps)
	}
	if _, err := m.CopyOut(addr+4000, []byte("across a page")); err != nil {
		t.Fatal(err)
	}
	if h.maps == 0 {
		t.Fatal("a touched page was not mapped on the host")
	}
	buf := make([]byte, 13)
	if _, err := m.CopyIn(addr+4000, buf); err != nil || string(buf) != "across a page" {
		t.Fatalf("CopyIn = %q, %v", buf, err)
	}
	if err := m.Unmap(addr, 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyIn(addr, buf); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("CopyIn of unmapped page: err = %v, want EFAULT", err)
	}
	if n, err := m.CopyIn(addr+4096, buf); err != nil || n != len(buf) {
		t.Fatalf("CopyIn of the page kept: %d, %v", n, err)
	}
}

// TestQuotaCountsTouchedPages: mappings cost the quota nothing until
// their pages are touched; a touch past the quota fails (ENOMEM from a
// fault, EFAULT from the sentry's own write), and freed memory is reused
// without its old contents.
func TestQuotaCountsTouchedPages(t *testing.T) {
	m, _ := newMM(t, 64<<10)
	a, err := m.Map(MapOpts{Length: 48 << 10, Prot: ProtRead | ProtWrite})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Map(MapOpts{Length: 192 << 10, Prot: ProtRead | ProtWrite})
	// Past the bound on what may be mapped (minOvercommit, here).
	if _, err := m.Map(MapOpts{Length: minOvercommit, Prot: ProtRead | ProtWrite}); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("mapping past the overcommit bound: %v, want ENOMEM", err)
	}
	if err != nil {
		t.Fatalf("a mapping past the quota, untouched: %v", err)
	}

	if used := m.mf.Stats().Usage; used != 0 {
		t.Fatalf("usage %d before any touch", used)
	}
	if _, err := m.CopyOut(a, make([]byte, 48<<10)); err != nil {
		t.Fatal(err)
	}
	if used := m.mf.Stats().Usage; used != 48<<10 {
		t.Fatalf("usage %d after touching 48K", used)
	}
	zero := make([]byte, 4096)
	if n, err := m.CopyIn(b+128<<10, zero); err != nil || n != 4096 {
		t.Fatalf("read of an untouched page: %d, %v", n, err)
	}
	if used := m.mf.Stats().Usage; used != 48<<10 {
		t.Fatalf("reading an untouched page took memory: usage %d", used)
	}
	if _, err := m.CopyOut(b, make([]byte, 32<<10)); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("sentry write past the quota: %v, want EFAULT", err)
	}
	if _, err := m.HandleFault(b+160<<10, true); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("fault past the quota: %v, want ENOMEM", err)
	}
	m.CopyOut(a, []byte("secret"))
	if err := m.Unmap(a, 48<<10); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(b, make([]byte, 64<<10)); err != nil {
		t.Fatalf("touch after freeing: %v", err)
	}
	buf := make([]byte, 6)
	for off := uint64(0); off < 64<<10; off += 4096 {
		m.CopyIn(b+off, buf)
		if string(buf) == "secret" {
			t.Fatalf("freed memory kept its contents at +%#x", off)
		}
	}
}

// TestFirstTouch: a fault on an untouched page maps the aligned block of
// faultAround pages around it; DONTNEED gives touched pages back to the
// quota; fork shares nothing untouched, and mlock touches everything.
func TestFirstTouch(t *testing.T) {
	m, h := newMM(t, 1<<20)
	a, _ := m.Map(MapOpts{Length: 64 * 4096, Prot: ProtRead | ProtWrite})
	handled, err := m.HandleFault(a+20*4096+5, false)
	if !handled || err != nil {
		t.Fatalf("first touch: %v, %v", handled, err)
	}
	if used := m.mf.Stats().Usage; used != faultAround*4096 {
		t.Fatalf("usage %d after one touch, want %d", used, faultAround*4096)
	}
	vec := make([]byte, 64)
	m.Resident(a, vec)
	base := int(a/4096) % faultAround
	for i, r := range vec {
		want := (base+i)/faultAround == (base+20)/faultAround
		if (r == 1) != want {
			t.Fatalf("page %d resident %d, want %v", i, r, want)
		}
	}
	// Another thread's fault on the block, reported after it was mapped:
	// run again, allocating nothing.
	if handled, err := m.HandleFault(a+21*4096, false); !handled || err != nil {
		t.Fatalf("a fault on a page mapped meanwhile: %v, %v", handled, err)
	}
	if used := m.mf.Stats().Usage; used != faultAround*4096 {
		t.Fatalf("usage %d after a second fault in the block", used)
	}
	maps := h.maps
	child, err := m.Fork(&fakeHost{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := child.CopyOut(a+60*4096, []byte("child")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if m.CopyIn(a+60*4096, buf); string(buf) == "child" {
		t.Fatal("the child's first touch showed in the parent")
	}
	child.Release()
	if err := m.Discard(a, 64*4096); err != nil {
		t.Fatal(err)
	}
	if used := m.mf.Stats().Usage; used != 0 {
		t.Fatalf("usage %d after DONTNEED of everything", used)
	}
	if err := m.Lock(a, a+64*4096, true); err != nil {
		t.Fatal(err)
	}
	if used := m.mf.Stats().Usage; used != 64*4096 {
		t.Fatalf("usage %d after mlock of 64 pages", used)
	}
	if h.maps == maps {
		t.Fatal("mlock mapped nothing on the host")
	}
	// Faults that keep landing right after touched memory take bigger
	// and bigger blocks.
	big, _ := newMM(t, 16<<20)
	c, _ := big.Map(MapOpts{Length: 1024 * 4096, Prot: ProtRead | ProtWrite})
	next := c
	for range 5 {
		if handled, err := big.HandleFault(next, true); !handled || err != nil {
			t.Fatalf("sequential touch: %v, %v", handled, err)
		}
		v := make([]byte, 1024)
		big.Resident(c, v)
		for next = c; v[(next-c)/4096] == 1; next += 4096 {
		}
	}
	if got := big.mf.Stats().Usage / 4096; got < 5*faultAround+64 {
		t.Fatalf("five faults in sequence took %d pages, want bigger blocks than %d each", got, faultAround)
	}
	small, _ := newMM(t, 8*4096)
	b, _ := small.Map(MapOpts{Length: 16 * 4096, Prot: ProtRead | ProtWrite})
	if err := small.Lock(b, b+16*4096, true); !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("mlock past the quota: %v, want EAGAIN", err)
	}
	if handled, err := small.HandleFault(b, true); !handled || err != nil {
		t.Fatalf("a touch short of the block's quota takes the page alone: %v, %v", handled, err)
	}
}

func TestProtNoneCostsNothingUntilAccessible(t *testing.T) {
	m, _ := newMM(t, 64<<10)
	a, err := m.Map(MapOpts{Length: 2 << 30, Prot: 0})
	if err != nil {
		t.Fatalf("PROT_NONE reservation bigger than the quota: %v", err)
	}
	if _, err := m.CopyIn(a, make([]byte, 1)); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("read of PROT_NONE: %v, want EFAULT", err)
	}
	if err := m.Protect(a, 16<<10, ProtRead|ProtWrite); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(a, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	if err := m.Protect(a, minOvercommit+4096, ProtRead); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("mprotect past the overcommit bound: %v, want ENOMEM", err)
	}
	if err := m.Protect(a+16<<10, 128<<10, ProtRead); err != nil {
		t.Fatalf("mprotect past the quota, untouched: %v", err)
	}
	// Touches take the quota until it is gone; then ENOMEM.
	var err2 error
	for off := uint64(16 << 10); off < 144<<10 && err2 == nil; off += 16 << 10 {
		_, err2 = m.HandleFault(a+off, false)
	}
	if !errors.Is(err2, unix.ENOMEM) {
		t.Fatalf("touches past the quota: %v, want ENOMEM", err2)
	}
	if used := m.mf.Stats().Usage; used > 64<<10 {
		t.Fatalf("usage %d past the quota", used)
	}
}

func TestProtectChecksAndWriteProtection(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	a, _ := m.Map(MapOpts{Length: 3 * 4096, Prot: ProtRead | ProtWrite})
	if err := m.Protect(a+1, 4096, ProtRead); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("unaligned mprotect: %v", err)
	}
	if err := m.Protect(a, 4*4096, ProtRead); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("mprotect over a hole: %v", err)
	}
	if err := m.Protect(a+4096, 4096, ProtRead); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(a+4096, []byte{1}); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("write to read-only page: %v, want EFAULT", err)
	}
	if err := m.WriteImage(a+4096, []byte{1}); err != nil {
		t.Fatalf("loader write to read-only page: %v", err)
	}
	if _, err := m.CopyOut(a+2*4096, []byte{1}); err != nil {
		t.Fatalf("write to the page after the split: %v", err)
	}
}

func TestFixedAndNoReplace(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	a, _ := m.Map(MapOpts{Length: 2 * 4096, Prot: ProtRead | ProtWrite})
	m.CopyOut(a, []byte("old"))
	if _, err := m.Map(MapOpts{Addr: a, Length: 4096, Prot: ProtRead | ProtWrite, NoReplace: true}); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("MAP_FIXED_NOREPLACE over a mapping: %v, want EEXIST", err)
	}
	got, err := m.Map(MapOpts{Addr: a, Length: 4096, Prot: ProtRead | ProtWrite, Fixed: true})
	if err != nil || got != a {
		t.Fatalf("MAP_FIXED: %#x, %v", got, err)
	}
	buf := make([]byte, 3)
	m.CopyIn(a, buf)
	if string(buf) == "old" {
		t.Fatal("MAP_FIXED kept the old contents")
	}
	if _, err := m.Map(MapOpts{Addr: a + 1, Length: 4096, Prot: ProtRead, Fixed: true}); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("unaligned MAP_FIXED: %v", err)
	}
	if _, err := m.Map(MapOpts{Length: 0, Prot: ProtRead}); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("zero-length map: %v", err)
	}
}

func TestBrk(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	m.SetBrkStart(0x600000)
	if got := m.Brk(0); got != 0x600000 {
		t.Fatalf("brk(0) = %#x", got)
	}
	if got := m.Brk(0x600000 + 10000); got != 0x600000+10000 {
		t.Fatalf("grow brk = %#x", got)
	}
	if _, err := m.CopyOut(0x600000+9999, []byte{1}); err != nil {
		t.Fatalf("write below the break: %v", err)
	}
	if got := m.Brk(0x600000 + 2<<20); got != 0x600000+2<<20 {
		t.Fatalf("brk past the quota, untouched = %#x, want it moved", got)
	}
	if _, err := m.CopyOut(0x600000+2<<20-1, []byte{1}); err != nil {
		t.Fatalf("a touch within the quota: %v", err)
	}
	if got := m.Brk(0x600000); got != 0x600000 {
		t.Fatalf("shrink brk = %#x", got)
	}
	if _, err := m.CopyOut(0x600000, []byte{1}); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("write above a shrunk break: %v", err)
	}
}

func TestRemapMovesContents(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	a, _ := m.Map(MapOpts{Length: 4096, Prot: ProtRead | ProtWrite})
	m.Map(MapOpts{Addr: a + 4096, Length: 4096, Prot: ProtRead, Fixed: true}) // block growth in place
	m.CopyOut(a, []byte("keep"))
	b, err := m.Remap(a, 4096, 3*4096, RemapOpts{MayMove: true})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	m.CopyIn(b, buf)
	if string(buf) != "keep" || b == a {
		t.Fatalf("remap to %#x (from %#x): %q", b, a, buf)
	}
	if _, err := m.Remap(b, 3*4096, 64<<20, RemapOpts{}); !errors.Is(err, unix.ENOMEM) {
		t.Fatalf("grow without MAYMOVE past quota: %v", err)
	}
}

func TestCopyInString(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	a, _ := m.Map(MapOpts{Length: 4096, Prot: ProtRead | ProtWrite})
	// A string ending exactly at the end of the mapping is still read.
	m.CopyOut(a+4096-4, []byte("abc\x00"))
	if s, err := m.CopyInString(a+4096-4, 100); err != nil || s != "abc" {
		t.Fatalf("CopyInString = %q, %v", s, err)
	}
	m.CopyOut(a+4096-3, []byte("xyz"))
	if _, err := m.CopyInString(a+4096-3, 100); !errors.Is(err, unix.EFAULT) {
		t.Fatalf("unterminated string at the end of memory: %v", err)
	}
	m.CopyOut(a, []byte("0123456789\x00"))
	if _, err := m.CopyInString(a, 5); !errors.Is(err, unix.ENAMETOOLONG) {
		t.Fatalf("too long: %v", err)
	}
}

func TestForkCopyOnWrite(t *testing.T) {
	parent, _ := newMM(t, 1<<20)
	a, err := parent.Map(MapOpts{Length: 4 * 4096, Prot: ProtRead | ProtWrite})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := parent.Map(MapOpts{Length: 4096, Prot: ProtRead | ProtWrite, Shared: true})
	if err != nil {
		t.Fatal(err)
	}
	parent.CopyOut(a, []byte("parent"))
	// An untouched shared page gets its frame at fork, for both sides.
	before := parent.mf.FreeBytes()
	used := before - 4096
	child, err := parent.Fork(&fakeHost{})
	if err != nil {
		t.Fatal(err)
	}
	if parent.mf.FreeBytes() != used {
		t.Fatalf("fork copied memory: free %d -> %d", used, parent.mf.FreeBytes())
	}
	child.CopyOut(a, []byte("child!"))
	buf := make([]byte, 6)
	parent.CopyIn(a, buf)
	if string(buf) != "parent" {
		t.Fatalf("parent sees %q after the child wrote", buf)
	}
	child.CopyIn(a, buf)
	if string(buf) != "child!" {
		t.Fatalf("child sees %q", buf)
	}
	if parent.mf.FreeBytes() != used-4096 {
		t.Fatalf("a copy-on-write break should cost one page: free %d -> %d", used, parent.mf.FreeBytes())
	}
	// MAP_SHARED memory stays shared.
	child.CopyOut(sh, []byte("both"))
	parent.CopyIn(sh, buf[:4])
	if string(buf[:4]) != "both" {
		t.Fatalf("shared mapping after fork: parent sees %q", buf[:4])
	}
	// A write fault in the parent on a page still shared is resolved.
	if ok, err := parent.HandleFault(a+4096, true); !ok || err != nil {
		t.Fatalf("HandleFault on a copy-on-write page = %v, %v", ok, err)
	}
	free := parent.mf.FreeBytes()
	if ok, _ := parent.HandleFault(a+4096, false); !ok || parent.mf.FreeBytes() != free {
		t.Fatal("a read fault on a page with its frame is run again, copying nothing")
	}
	if ok, _ := parent.HandleFault(0x1000, true); ok {
		t.Fatal("a fault outside any mapping was handled")
	}
	child.Release()
	parent.Release()
	if parent.mf.FreeBytes() != parent.mf.Size() {
		t.Fatalf("frames leaked: %d of %d free", parent.mf.FreeBytes(), parent.mf.Size())
	}
}

// TestRemapKeepsFirstTouch: memory moved or grown by mremap still gets
// its frames when first touched, and keeps what was written.
func TestRemapKeepsFirstTouch(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	a, _ := m.Map(MapOpts{Length: 4 * 4096, Prot: ProtRead | ProtWrite})
	m.CopyOut(a, []byte("kept"))
	// Something right after it, so that growing must move.
	if _, err := m.Map(MapOpts{Addr: a + 4*4096, Length: 4096, Prot: ProtRead, Fixed: true}); err != nil {
		t.Fatal(err)
	}
	b, err := m.Remap(a, 4*4096, 64*4096, RemapOpts{MayMove: true})
	if err != nil || b == a {
		t.Fatalf("mremap: %#x, %v", b, err)
	}
	buf := make([]byte, 4)
	if m.CopyIn(b, buf); string(buf) != "kept" {
		t.Fatalf("moved memory reads %q", buf)
	}
	for _, off := range []uint64{2 * 4096, 40 * 4096} {
		if handled, err := m.HandleFault(b+off, true); !handled || err != nil {
			t.Fatalf("first touch at +%#x of moved memory: %v, %v", off, handled, err)
		}
	}
	c, err := m.Remap(b, 64*4096, 128*4096, RemapOpts{MayMove: true})
	if err != nil {
		t.Fatal(err)
	}
	if handled, err := m.HandleFault(c+100*4096, false); !handled || err != nil {
		t.Fatalf("first touch of grown memory: %v, %v", handled, err)
	}
}

// batchHost is a fakeHost that batches: it counts round trips and what
// each carried.
type batchHost struct {
	fakeHost
	batches        int
	mapped, unmaps []HostMap
}

func (b *batchHost) MapFiles(ops []HostMap) error {
	b.batches++
	for _, op := range ops {
		if op.Unmap {
			b.unmaps = append(b.unmaps, op)
		} else {
			b.mapped = append(b.mapped, op)
		}
	}
	return nil
}

// TestForkBatchesHostCalls: a fork costs each side one round trip to its
// host however many mappings there are, and the child's new address space
// is not asked to unmap pages nobody touched.
func TestForkBatchesHostCalls(t *testing.T) {
	parent, _ := newMM(t, 1<<22)
	ph := &batchHost{}
	parent.host = ph
	for i := 0; i < 5; i++ {
		// Larger than a fault-around block: the first page touched
		// brings a block, the rest stays untouched.
		a, err := parent.Map(MapOpts{Length: 128 * 4096, Prot: ProtRead | ProtWrite})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parent.CopyOut(a, []byte{1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := parent.Map(MapOpts{Length: 4 * 4096, Prot: ProtRead | ProtWrite}); err != nil {
		t.Fatal(err)
	}
	ph.batches, ph.maps, ph.unmaps, ph.mapped = 0, 0, nil, nil
	ch := &batchHost{}
	child, err := parent.Fork(ch)
	if err != nil {
		t.Fatal(err)
	}
	defer child.Release()
	if ph.batches != 1 || ph.maps != 0 {
		t.Errorf("parent: %d batches and %d single maps for the write-protect, want 1 batch", ph.batches, ph.maps)
	}
	for _, op := range ph.mapped {
		if op.Prot&ProtWrite != 0 {
			t.Errorf("parent page %#x still writable after fork", op.Addr)
		}
	}
	if ch.batches != 1 || ch.maps != 0 {
		t.Errorf("child: %d batches and %d single maps, want 1 batch", ch.batches, ch.maps)
	}
	if len(ch.unmaps) != 0 {
		t.Errorf("child's fresh address space got %d unmaps", len(ch.unmaps))
	}
	if len(ch.mapped) < 5 {
		t.Errorf("child got %d maps, want the 5 touched pages at least", len(ch.mapped))
	}
}

// TestDeferredHost: an address space made by NewDeferred takes mappings
// and protection changes without a host, then makes them all in one
// batch, in order, on Attach.
func TestDeferredHost(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	d := NewDeferred(m.mf)
	a, err := d.Map(MapOpts{Length: 4 * 4096, Prot: ProtRead | ProtWrite})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CopyOut(a, []byte("loaded")); err != nil {
		t.Fatal(err)
	}
	if err := d.Protect(a, 4096, ProtRead); err != nil {
		t.Fatal(err)
	}
	h := &batchHost{}
	if err := d.Attach(h); err != nil {
		t.Fatal(err)
	}
	if h.batches != 1 || h.maps != 0 || len(h.mapped) == 0 {
		t.Errorf("Attach: %d batches, %d single maps, %d mapped; want everything in one batch", h.batches, h.maps, len(h.mapped))
	}
	if err := d.Attach(h); err == nil {
		t.Error("a second Attach succeeded")
	}
	// After Attach, changes go to the host at once.
	before := h.batches + h.maps + h.protects
	if err := d.Protect(a, 4096, ProtRead|ProtWrite); err != nil {
		t.Fatal(err)
	}
	if h.batches+h.maps+h.protects == before {
		t.Error("a change after Attach did not reach the host")
	}
	buf := make([]byte, 6)
	if _, err := d.CopyIn(a, buf); err != nil || string(buf) != "loaded" {
		t.Errorf("CopyIn after Attach = %q, %v", buf, err)
	}
	d.Release()
}
