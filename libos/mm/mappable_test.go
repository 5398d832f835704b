package mm

import (
	"testing"
)

// fakeFile is a Mappable whose pages are frames of the memory file, like
// a tmpfs file's.
type fakeFile struct {
	mf     *MemoryFile
	frames []uint64
	size   int64
	maps   int
}

func newFakeFile(t *testing.T, mf *MemoryFile, pages int, size int64) *fakeFile {
	t.Helper()
	frames, err := mf.Allocate(pages)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		p := mf.Page(f)
		for j := range p {
			p[j] = byte('A' + i)
		}
	}
	return &fakeFile{mf: mf, frames: frames, size: size}
}

func (f *fakeFile) MapPages(first, n uint64, _ bool) ([]uint64, error) {
	out := append([]uint64(nil), f.frames[first:first+n]...)
	f.mf.IncRef(out)
	return out, nil
}
func (f *fakeFile) Size() int64             { return f.size }
func (f *fakeFile) AddMapping(bool)         { f.maps++ }
func (f *fakeFile) RemoveMapping(bool)      { f.maps-- }
func (f *fakeFile) Sync() error             { return nil }
func (f *fakeFile) write(off int, s string) { copy(f.mf.Page(f.frames[off/4096])[off%4096:], s) }

func readByte(t *testing.T, m *MemoryManager, addr uint64) byte {
	t.Helper()
	b := make([]byte, 1)
	if _, err := m.CopyIn(addr, b); err != nil {
		t.Fatalf("read %#x: %v", addr, err)
	}
	return b[0]
}

func TestPrivateFileMappingSeesWritesUntilCopied(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	f := newFakeFile(t, m.mf, 2, 2*4096)
	addr, err := m.Map(MapOpts{Length: 2 * 4096, Prot: ProtRead | ProtWrite, Mappable: f})
	if err != nil {
		t.Fatal(err)
	}
	if f.maps != 1 {
		t.Fatalf("mappings counted %d, want 1", f.maps)
	}
	f.write(0, "x")
	if got := readByte(t, m, addr); got != 'x' {
		t.Fatalf("private mapping after a file write reads %q, want 'x'", got)
	}
	if _, err := m.CopyOut(addr, []byte("p")); err != nil {
		t.Fatal(err)
	}
	f.write(0, "y")
	if got := readByte(t, m, addr); got != 'p' {
		t.Fatalf("private mapping after its own store reads %q, want 'p'", got)
	}
	if f.mf.page(f.frames[0])[0] != 'y' {
		t.Fatal("the private store reached the file")
	}
	// MADV_DONTNEED drops the private copy.
	if err := m.Discard(addr, 4096); err != nil {
		t.Fatal(err)
	}
	if got := readByte(t, m, addr); got != 'y' {
		t.Fatalf("after Discard reads %q, want the file's 'y'", got)
	}
	// Splitting counts each half; unmapping all returns the count to 0.
	if err := m.Protect(addr, 4096, ProtRead); err != nil {
		t.Fatal(err)
	}
	if f.maps != 2 {
		t.Fatalf("after a split, mappings counted %d, want 2", f.maps)
	}
	if err := m.Unmap(addr, 2*4096); err != nil {
		t.Fatal(err)
	}
	if f.maps != 0 {
		t.Fatalf("after unmap, mappings counted %d, want 0", f.maps)
	}
}

func TestSharedFileMappingGrowsWithFile(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	f := newFakeFile(t, m.mf, 3, 2*4096+10)
	addr, err := m.Map(MapOpts{Length: 4096, Prot: ProtRead | ProtWrite, Shared: true, MayWrite: true, Mappable: f})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CopyOut(addr, []byte("s")); err != nil {
		t.Fatal(err)
	}
	if m.mf.page(f.frames[0])[0] != 's' {
		t.Fatal("a shared store did not reach the file")
	}
	grown, err := m.Remap(addr, 4096, 4*4096, RemapOpts{MayMove: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := readByte(t, m, grown+4096); got != 'B' {
		t.Fatalf("grown page 1 reads %q, want the file's 'B'", got)
	}
	if got := readByte(t, m, grown+2*4096); got != 'C' {
		t.Fatalf("grown page 2 reads %q, want the file's 'C'", got)
	}
	// Page 3 is past the end of the file: SIGBUS.
	if _, err := m.CopyIn(grown+3*4096, make([]byte, 1)); err == nil {
		t.Fatal("page past the end of the file is readable")
	}
	if sig, _ := m.FaultSignal(grown + 3*4096); sig != 7 {
		t.Fatalf("fault past the end of the file: signal %d, want SIGBUS", sig)
	}
	// Moving to a fixed address keeps the pages.
	dst, err := m.Map(MapOpts{Length: 8 * 4096})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := m.Remap(grown, 4*4096, 4*4096, RemapOpts{MayMove: true, Fixed: true, NewAddr: dst + 4096})
	if err != nil || moved != dst+4096 {
		t.Fatalf("Remap fixed = %#x, %v; want %#x", moved, err, dst+4096)
	}
	if got := readByte(t, m, moved); got != 's' {
		t.Fatalf("moved mapping reads %q, want 's'", got)
	}
	m.Release()
	if f.maps != 0 {
		t.Fatalf("after Release, mappings counted %d, want 0", f.maps)
	}
}

func TestLockAccounting(t *testing.T) {
	m, _ := newMM(t, 1<<20)
	addr, err := m.Map(MapOpts{Length: 4 * 4096, Prot: ProtRead | ProtWrite})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(addr+4096, addr+3*4096, true); err != nil {
		t.Fatal(err)
	}
	if got := m.LockedBytes(); got != 2*4096 {
		t.Fatalf("LockedBytes = %d, want %d", got, 2*4096)
	}
	if got := m.UnlockedBytes(addr, addr+4*4096); got != 2*4096 {
		t.Fatalf("UnlockedBytes = %d, want %d", got, 2*4096)
	}
	if err := m.Lock(addr, addr+8*4096, true); err == nil {
		t.Fatal("Lock of an unmapped range succeeded")
	}
	m.LockAll(false, false, true)
	if got := m.LockedBytes(); got != 0 {
		t.Fatalf("after munlockall LockedBytes = %d", got)
	}
}
