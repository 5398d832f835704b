package dirfs

import (
	"os"
	"path/filepath"
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
		t.Fatal("the cache outlived its mappings")
	}
	if mem.FreeBytes() != mem.Size() {
		t.Fatalf("frames leaked: %d of %d bytes free", mem.FreeBytes(), mem.Size())
	}
}
