package dirfs

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/mm"
)

func newMemory(t *testing.T) *mm.MemoryFile {
	t.Helper()
	fd, err := unix.MemfdCreate("dirfs-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "dirfs-test")
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	mf, err := mm.NewMemoryFile(f, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mf.Close() })
	return mf
}

// TestPageCacheCoherence: stores into cached frames are what reads see,
// writes update the frames, and the last mapping writes them back.
func TestPageCacheCoherence(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "f")
	if err := os.WriteFile(host, make([]byte, 2*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(root) })
	fs := New(root, true)
	mem := newMemory(t)
	fs.SetMemory(mem)
	ino, err := fs.Root().Lookup("f")
	if err != nil {
		t.Fatal(err)
	}
	vf, err := ino.Open(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	defer vf.Close()
	f := vf.(*file)
	mp, done, err := f.Mappable()
	if err != nil {
		t.Fatal(err)
	}
	mp.AddMapping(true)
	done()
	frames, err := mp.MapPages(0, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	copy(mem.Page(frames[1])[10:], "mapped")
	buf := make([]byte, 6)
	if _, err := f.Pread(buf, pageSize+10); err != nil || string(buf) != "mapped" {
		t.Fatalf("Pread = %q, %v; want the mapping's store", buf, err)
	}
	if _, err := f.Pwrite([]byte("written"), 100); err != nil {
		t.Fatal(err)
	}
	if got := string(mem.Page(frames[0])[100:107]); got != "written" {
		t.Fatalf("cached page after Pwrite holds %q", got)
	}
	if onHost, _ := os.ReadFile(host); string(onHost[pageSize+10:pageSize+16]) == "mapped" {
		t.Fatal("the store reached the host before any writeback")
	}
	mem.DecRef(frames)
	mp.RemoveMapping(true)
	onHost, err := os.ReadFile(host)
	if err != nil {
		t.Fatal(err)
	}
	if string(onHost[pageSize+10:pageSize+16]) != "mapped" || string(onHost[100:107]) != "written" {
		t.Fatal("the last unmap did not write the pages back")
	}
	if fs.ncaches.Load() != 0 {
		t.Fatal("the cache is still in use after its last mapping")
	}
	// The pages stay, idle, until reclaimed.
	fs.reclaim(^uint64(0))
	if mem.FreeBytes() != mem.Size() {
		t.Fatalf("frames leaked: %d of %d bytes free", mem.FreeBytes(), mem.Size())
	}
}

// cacheFixture is a dirfs over a temp dir holding one file of size bytes,
// with a memory quota of quota bytes.
type cacheFixture struct {
	fs   *FS
	mem  *mm.MemoryFile
	host string
}

func newCacheFixture(t *testing.T, size int) *cacheFixture {
	t.Helper()
	dir := t.TempDir()
	host := filepath.Join(dir, "f")
	if err := os.WriteFile(host, bytes.Repeat([]byte("a"), size), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(root) })
	fx := &cacheFixture{fs: New(root, true), mem: newMemory(t), host: host}
	fx.fs.SetMemory(fx.mem)
	return fx
}

// mapOnce opens the file, maps its first n pages and unmaps them again,
// returning the frames the mapping had and its first byte.
func (fx *cacheFixture) mapOnce(t *testing.T, n uint64) ([]uint64, byte) {
	t.Helper()
	ino, err := fx.fs.Root().Lookup("f")
	if err != nil {
		t.Fatal(err)
	}
	vf, err := ino.Open(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer vf.Close()
	mp, done, err := vf.(*file).Mappable()
	if err != nil {
		t.Fatal(err)
	}
	mp.AddMapping(false)
	done()
	frames, err := mp.MapPages(0, n, false)
	if err != nil {
		t.Fatal(err)
	}
	first := fx.mem.Page(frames[0])[0]
	fx.mem.DecRef(frames)
	mp.RemoveMapping(false)
	return frames, first
}

// TestIdleCacheReused: a file mapped again after its last unmap gets the
// pages it had, without reading the host again, unless the host file
// changed meanwhile.
func TestIdleCacheReused(t *testing.T) {
	fx := newCacheFixture(t, 8*pageSize)
	f1, _ := fx.mapOnce(t, 8)
	// Taking the lowest free frame meanwhile makes pages read afresh
	// land elsewhere.
	hold, err := fx.mem.Allocate(1)
	if err != nil {
		t.Fatal(err)
	}
	defer fx.mem.DecRef(hold)
	f2, b := fx.mapOnce(t, 8)
	if !slices.Equal(f1, f2) || b != 'a' {
		t.Fatalf("mapped again: frames %v then %v, first byte %q: want the idle cache's", f1, f2, b)
	}
	if err := os.WriteFile(fx.host, bytes.Repeat([]byte("b"), 8*pageSize), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, b := fx.mapOnce(t, 8); b != 'b' {
		t.Fatalf("after the host file changed, a mapping reads %q: the stale cache was used", b)
	}
}

// TestIdleCacheReclaimed: memory held by idle caches is given to an
// allocation that would otherwise exceed the quota.
func TestIdleCacheReclaimed(t *testing.T) {
	fx := newCacheFixture(t, 32*pageSize)
	fx.mapOnce(t, 32)
	if got := fx.mem.Size() - fx.mem.FreeBytes(); got != 32*pageSize {
		t.Fatalf("idle cache holds %d bytes, want %d", got, 32*pageSize)
	}
	all := int(fx.mem.Size() / pageSize)
	frames, err := fx.mem.Allocate(all)
	if err != nil {
		t.Fatalf("allocating the whole quota with an idle cache in it: %v", err)
	}
	fx.mem.DecRef(frames)
	if fx.fs.idlePages != 0 || len(fx.fs.idle) != 0 {
		t.Fatalf("idle caches after reclaim: %d pages in %d", fx.fs.idlePages, len(fx.fs.idle))
	}
	// And the file maps again, read afresh.
	if _, b := fx.mapOnce(t, 32); b != 'a' {
		t.Fatalf("mapping after reclaim reads %q", b)
	}
}
