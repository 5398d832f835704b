package inotify

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// decoded is one record as a reader sees it.
type decoded struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string
}

func (d decoded) String() string {
	s := fmt.Sprintf("%d:%#x", d.wd, d.mask)
	if d.name != "" {
		s += ":" + d.name
	}
	return s
}

func decode(t *testing.T, b []byte) []decoded {
	t.Helper()
	var out []decoded
	for len(b) > 0 {
		if len(b) < eventSize {
			t.Fatalf("truncated record: %d bytes left", len(b))
		}
		e := decoded{
			wd:     int32(binary.NativeEndian.Uint32(b[0:])),
			mask:   binary.NativeEndian.Uint32(b[4:]),
			cookie: binary.NativeEndian.Uint32(b[8:]),
		}
		l := int(binary.NativeEndian.Uint32(b[12:]))
		if l%eventSize != 0 || len(b) < eventSize+l {
			t.Fatalf("bad name length %d", l)
		}
		if l > 0 {
			name := b[eventSize : eventSize+l]
			e.name = string(name[:strings.IndexByte(string(name), 0)])
		}
		out = append(out, e)
		b = b[eventSize+l:]
	}
	return out
}

// drain reads every queued event.
func drain(t *testing.T, f *File) []decoded {
	t.Helper()
	var out []decoded
	for {
		b := make([]byte, 4096)
		n, err := f.Read(b)
		if err == unix.EAGAIN {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, decode(t, b[:n])...)
	}
}

func expect(t *testing.T, f *File, want ...string) []decoded {
	t.Helper()
	got := drain(t, f)
	var gs []string
	for _, e := range got {
		gs = append(gs, e.String())
	}
	if strings.Join(gs, " ") != strings.Join(want, " ") {
		t.Fatalf("events:\n got  %v\n want %v", gs, want)
	}
	return got
}

func newFile(t *testing.T) *File {
	t.Helper()
	f, err := New(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRecordsArePaddedLikeLinux(t *testing.T) {
	f := newFile(t)
	f.Enqueue(1, vfs.InCreate, 0, "a")                // 1+NUL in 16
	f.Enqueue(1, vfs.InCreate, 0, "0123456789abcde")  // 15+NUL in 16
	f.Enqueue(1, vfs.InCreate, 0, "0123456789abcdef") // 16+NUL in 32
	f.Enqueue(2, vfs.InModify, 0, "")                 // no name, no padding
	if got, want := f.Queued(), 32+32+48+16; got != want {
		t.Fatalf("FIONREAD = %d, want %d", got, want)
	}
	b := make([]byte, 4096)
	n, err := f.Read(b)
	if err != nil || n != 128 {
		t.Fatalf("read = %d, %v", n, err)
	}
	if l := binary.NativeEndian.Uint32(b[12:]); l != 16 {
		t.Fatalf("len of a 1-byte name = %d, want 16", l)
	}
	got := decode(t, b[:n])
	if got[2].name != "0123456789abcdef" || got[3].name != "" || got[3].wd != 2 {
		t.Fatalf("decoded %v", got)
	}
}

func TestReadSizes(t *testing.T) {
	f := newFile(t)
	if _, err := f.Read(make([]byte, 64)); err != unix.EAGAIN {
		t.Fatalf("empty read: %v, want EAGAIN", err)
	}
	f.Enqueue(1, vfs.InCreate, 0, "name")
	f.Enqueue(1, vfs.InDelete, 0, "name")
	for _, size := range []int{0, 8, 31} {
		if _, err := f.Read(make([]byte, size)); err != unix.EINVAL {
			t.Fatalf("read of %d bytes: %v, want EINVAL", size, err)
		}
	}
	// Only whole events: room for one and a half gives one.
	n, err := f.Read(make([]byte, 48))
	if err != nil || n != 32 {
		t.Fatalf("read 48 = %d, %v; want 32", n, err)
	}
	if f.Queued() != 32 {
		t.Fatalf("FIONREAD after one = %d", f.Queued())
	}
	expect(t, f, "1:0x200:name")
}

func TestCoalescing(t *testing.T) {
	f := newFile(t)
	for range 3 {
		f.Enqueue(1, vfs.InModify, 0, "x")
	}
	f.Enqueue(1, vfs.InModify, 0, "y")
	f.Enqueue(1, vfs.InModify, 0, "x")
	f.Enqueue(2, vfs.InModify, 0, "x")
	f.Enqueue(1, vfs.InIgnored, 0, "")
	f.Enqueue(1, vfs.InIgnored, 0, "")
	expect(t, f, "1:0x2:x", "1:0x2:y", "1:0x2:x", "2:0x2:x", "1:0x8000", "1:0x8000")
	// Nothing merges with an event already read.
	f.Enqueue(1, vfs.InModify, 0, "x")
	expect(t, f, "1:0x2:x")
}

func TestOverflow(t *testing.T) {
	f := newFile(t)
	for i := range MaxQueuedEvents + 10 {
		f.Enqueue(1, vfs.InModify, 0, fmt.Sprint(i%2))
	}
	got := drain(t, f)
	if len(got) != MaxQueuedEvents+1 {
		t.Fatalf("%d events, want %d", len(got), MaxQueuedEvents+1)
	}
	if last := got[len(got)-1]; last.wd != -1 || last.mask != vfs.InQOverflow {
		t.Fatalf("last event %v, want the overflow", last)
	}
	// Once read, a new overflow can be reported.
	f.Enqueue(1, vfs.InModify, 0, "z")
	expect(t, f, "1:0x2:z")
}

type fakeMem struct{ b []byte }

func (m *fakeMem) CopyIn(addr uint64, dst []byte) (int, error) { return 0, unix.EFAULT }
func (m *fakeMem) CopyOut(addr uint64, src []byte) (int, error) {
	if addr != 0x1000 {
		return 0, unix.EFAULT
	}
	m.b = append([]byte(nil), src...)
	return len(src), nil
}

func TestIoctl(t *testing.T) {
	f := newFile(t)
	f.Enqueue(1, vfs.InCreate, 0, "abc")
	m := &fakeMem{}
	if _, err := f.Ioctl(fionread, 0x1000, m); err != nil || binary.NativeEndian.Uint32(m.b) != 32 {
		t.Fatalf("FIONREAD = %v, %v", m.b, err)
	}
	if _, err := f.Ioctl(fionread, 0x2000, m); err != unix.EFAULT {
		t.Fatalf("FIONREAD to a bad address: %v", err)
	}
	if _, err := f.Ioctl(ioctlSetNextWD, 0, m); err != unix.EINVAL {
		t.Fatalf("SETNEXTWD 0: %v", err)
	}
	if _, err := f.Ioctl(ioctlSetNextWD, 1<<31, m); err != unix.EINVAL {
		t.Fatalf("SETNEXTWD 2^31: %v", err)
	}
	if _, err := f.Ioctl(0x5401, 0, m); err != unix.ENOTTY {
		t.Fatalf("TCGETS: %v", err)
	}
}

func TestReadiness(t *testing.T) {
	f := newFile(t)
	if r := f.Readiness(waiter.EventsAll); r != 0 {
		t.Fatalf("empty readiness %#x", r)
	}
	e := waiter.NewEntry(waiter.EventIn)
	f.EventRegister(e)
	defer f.EventUnregister(e)
	f.Enqueue(1, vfs.InOpen, 0, "")
	select {
	case <-e.Ch:
	default:
		t.Fatal("no wake-up for a queued event")
	}
	if r := f.Readiness(waiter.EventsAll); r != waiter.EventIn|waiter.EventRdNorm {
		t.Fatalf("readiness %#x", r)
	}
	drain(t, f)
	if r := f.Readiness(waiter.EventsAll); r != 0 {
		t.Fatalf("drained readiness %#x", r)
	}
}

// fsEnv is a mount table over a tmpfs, to drive events through the VFS.
type fsEnv struct {
	t   testing.TB
	mt  *vfs.MountTable
	ctx *vfs.Context
}

func newEnv(t testing.TB) *fsEnv {
	t.Helper()
	fd, err := unix.MemfdCreate("inotify-test", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	mf := os.NewFile(uintptr(fd), "inotify-test")
	if err := mf.Truncate(16 << 20); err != nil {
		t.Fatal(err)
	}
	mem, err := mm.NewMemoryFile(mf, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	mt := vfs.NewMountTable(tmpfs.New(mem, tmpfs.Options{}), vfs.MountOptions{})
	return &fsEnv{t: t, mt: mt, ctx: &vfs.Context{Root: mt.Root(), Start: mt.Root()}}
}

func (e *fsEnv) ok(what string, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
}

func (e *fsEnv) open(p string, flags int) *vfs.FileDescription {
	e.t.Helper()
	d, err := e.mt.Open(e.ctx, p, vfs.OpenOptions{Flags: flags, Mode: 0o644})
	e.ok("open "+p, err)
	return d
}

func (e *fsEnv) lookup(p string, follow bool) (*vfs.Dentry, unix.Stat_t) {
	e.t.Helper()
	var lf vfs.LookupFlags
	if follow {
		lf = vfs.LookupFollow
	}
	d, st, err := e.mt.LookupStat(e.ctx, p, lf)
	e.ok("lookup "+p, err)
	return d, st
}

func (e *fsEnv) watch(f *File, p string, mask uint32) int32 {
	e.t.Helper()
	d, st := e.lookup(p, mask&vfs.InDontFollow == 0)
	wd, err := f.Group().AddWatch(d, &st, mask)
	e.ok("watch "+p, err)
	return wd
}

func (e *fsEnv) write(d *vfs.FileDescription, s string) {
	e.t.Helper()
	_, err := d.File.Write([]byte(s))
	e.ok("write", err)
	vfs.NotifyModify(d)
}

func TestDirectoryEvents(t *testing.T) {
	e := newEnv(t)
	f := newFile(t)
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w", 0o755))
	wd := e.watch(f, "/w", vfs.InAllEvents)
	if wd != 1 {
		t.Fatalf("first wd = %d", wd)
	}
	d := e.open("/w/a", unix.O_CREAT|unix.O_WRONLY)
	e.write(d, "x")
	e.write(d, "y") // coalesced
	d.DecRef()
	e.ok("mkdir sub", e.mt.Mkdir(e.ctx, "/w/sub", 0o755))
	e.ok("rename", e.mt.Rename(e.ctx, "/w/a", e.ctx, "/w/b", 0))
	got := expect(t, f,
		"1:0x100:a", "1:0x20:a", "1:0x2:a", "1:0x8:a",
		"1:0x40000100:sub", "1:0x40:a", "1:0x80:b")
	if c := got[5].cookie; c == 0 || got[6].cookie != c {
		t.Fatalf("move cookies %d, %d", c, got[6].cookie)
	}
	bd, _ := e.lookup("/w/b", false)
	e.ok("chmod", vfs.Chmod(e.ctx, bd, 0o600))
	e.ok("truncate", vfs.Truncate(e.ctx, bd, 0))
	e.ok("symlink", e.mt.Symlink(e.ctx, "b", "/w/l"))
	e.ok("unlink", e.mt.Unlink(e.ctx, "/w/b"))
	e.ok("rmdir", e.mt.Rmdir(e.ctx, "/w/sub"))
	r := e.open("/w", unix.O_RDONLY|unix.O_DIRECTORY)
	r.DecRef()
	expect(t, f, "1:0x4:b", "1:0x2:b", "1:0x100:l", "1:0x200:b", "1:0x40000200:sub",
		"1:0x40000020", "1:0x40000010")
	e.ok("rm_watch", f.Group().RemoveWatch(wd))
	if err := f.Group().RemoveWatch(wd); err != unix.EINVAL {
		t.Fatalf("second rm_watch: %v", err)
	}
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w/quiet", 0o755))
	expect(t, f, "1:0x8000")
}

func TestFileWatchAndDeleteSelf(t *testing.T) {
	e := newEnv(t)
	f := newFile(t)
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w", 0o755))
	e.open("/w/f", unix.O_CREAT|unix.O_WRONLY).DecRef()
	dwd := e.watch(f, "/w", vfs.InDelete|vfs.InModify)
	fwd := e.watch(f, "/w/f", vfs.InAllEvents)
	// Open twice, then unlink: IN_DELETE_SELF waits for the last close.
	a := e.open("/w/f", unix.O_RDWR)
	b := e.open("/w/f", unix.O_RDONLY)
	e.ok("unlink", e.mt.Unlink(e.ctx, "/w/f"))
	want := func(wd int32, mask uint32, name string) string {
		return decoded{wd: wd, mask: mask, name: name}.String()
	}
	// (The second IN_OPEN is the same as the first: coalesced.)
	expect(t, f, want(fwd, vfs.InOpen, ""), want(fwd, vfs.InAttrib, ""), want(dwd, vfs.InDelete, "f"))
	// The unlinked file still reports to its directory by its old name.
	e.write(a, "z")
	a.DecRef()
	expect(t, f, want(dwd, vfs.InModify, "f"), want(fwd, vfs.InModify, ""), want(fwd, vfs.InCloseWrite, ""))
	b.DecRef()
	expect(t, f, want(fwd, vfs.InCloseNowrite, ""), want(fwd, vfs.InDeleteSelf, ""), want(fwd, vfs.InIgnored, ""))
	if err := f.Group().RemoveWatch(fwd); err != unix.EINVAL {
		t.Fatalf("rm_watch of a deleted file's watch: %v", err)
	}
}

func TestExclUnlink(t *testing.T) {
	e := newEnv(t)
	f := newFile(t)
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w", 0o755))
	wd := e.watch(f, "/w", vfs.InModify|vfs.InExclUnlink)
	d := e.open("/w/f", unix.O_CREAT|unix.O_RDWR)
	e.write(d, "a")
	e.ok("unlink", e.mt.Unlink(e.ctx, "/w/f"))
	e.write(d, "b")
	d.DecRef()
	expect(t, f, decoded{wd: wd, mask: vfs.InModify, name: "f"}.String())
}

func TestRenameFollowsOpenFiles(t *testing.T) {
	e := newEnv(t)
	f := newFile(t)
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w", 0o755))
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/v", 0o755))
	d := e.open("/w/log", unix.O_CREAT|unix.O_WRONLY)
	defer d.DecRef()
	ww := e.watch(f, "/w", vfs.InModify)
	vw := e.watch(f, "/v", vfs.InModify)
	e.ok("rename", e.mt.Rename(e.ctx, "/w/log", e.ctx, "/w/log.1", 0))
	e.write(d, "x")
	e.ok("rename", e.mt.Rename(e.ctx, "/w/log.1", e.ctx, "/v/old", 0))
	e.write(d, "y")
	expect(t, f, decoded{wd: ww, mask: vfs.InModify, name: "log.1"}.String(),
		decoded{wd: vw, mask: vfs.InModify, name: "old"}.String())
}

func TestRenameOverAndExchange(t *testing.T) {
	e := newEnv(t)
	f := newFile(t)
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w", 0o755))
	e.open("/w/a", unix.O_CREAT|unix.O_WRONLY).DecRef()
	e.open("/w/b", unix.O_CREAT|unix.O_WRONLY).DecRef()
	dw := e.watch(f, "/w", vfs.InMovedFrom|vfs.InMovedTo)
	aw := e.watch(f, "/w/a", vfs.InAllEvents)
	bw := e.watch(f, "/w/b", vfs.InAllEvents)
	e.ok("exchange", e.mt.Rename(e.ctx, "/w/a", e.ctx, "/w/b", vfs.RenameExchange))
	got := expect(t, f,
		fmt.Sprintf("%d:0x40:a", dw), fmt.Sprintf("%d:0x80:b", dw), fmt.Sprintf("%d:0x800", aw),
		fmt.Sprintf("%d:0x40:b", dw), fmt.Sprintf("%d:0x80:a", dw), fmt.Sprintf("%d:0x800", bw))
	if got[0].cookie == got[3].cookie || got[0].cookie != got[1].cookie {
		t.Fatalf("cookies %d %d %d %d", got[0].cookie, got[1].cookie, got[3].cookie, got[4].cookie)
	}
	// Now /w/b is the file aw watches: moving /w/a over it replaces it.
	e.ok("rename", e.mt.Rename(e.ctx, "/w/a", e.ctx, "/w/b", 0))
	expect(t, f,
		fmt.Sprintf("%d:0x40:a", dw), fmt.Sprintf("%d:0x80:b", dw),
		fmt.Sprintf("%d:0x4", aw), fmt.Sprintf("%d:0x800", bw),
		fmt.Sprintf("%d:0x400", aw), fmt.Sprintf("%d:0x8000", aw))
}

func TestWatchFlags(t *testing.T) {
	e := newEnv(t)
	f := newFile(t)
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w", 0o755))
	d, st := e.lookup("/w", true)
	g := f.Group()
	wd, err := g.AddWatch(d, &st, vfs.InCreate)
	e.ok("add", err)
	if _, err := g.AddWatch(d, &st, vfs.InDelete|vfs.InMaskCreate); err != unix.EEXIST {
		t.Fatalf("IN_MASK_CREATE on a watched file: %v", err)
	}
	if w, err := g.AddWatch(d, &st, vfs.InDelete|vfs.InMaskAdd|vfs.InOneshot); err != nil || w != wd {
		t.Fatalf("IN_MASK_ADD = %d, %v", w, err)
	}
	if ws := g.Watches(); len(ws) != 1 || ws[0].Mask != vfs.InCreate|vfs.InDelete|vfs.InOneshot {
		t.Fatalf("watches %+v", ws)
	}
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w/x", 0o755))
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w/y", 0o755))
	// Oneshot: the first event, then the watch is gone.
	expect(t, f, fmt.Sprintf("%d:0x40000100:x", wd), fmt.Sprintf("%d:0x8000", wd))
	if ws := g.Watches(); len(ws) != 0 {
		t.Fatalf("watches after oneshot %+v", ws)
	}
	// Watch descriptors are not reused soon; SETNEXTWD picks the next.
	if w, _ := g.AddWatch(d, &st, vfs.InCreate); w != wd+1 {
		t.Fatalf("next wd = %d, want %d", w, wd+1)
	}
	g.SetNextWD(100)
	xd, xst := e.lookup("/w/x", true)
	if w, _ := g.AddWatch(xd, &xst, vfs.InCreate); w != 100 {
		t.Fatalf("wd after SETNEXTWD = %d", w)
	}
	// Replacing the mask drops what was there.
	if _, err := g.AddWatch(xd, &xst, vfs.InAttrib); err != nil {
		t.Fatal(err)
	}
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w/x/quiet", 0o755))
	expect(t, f)
	xd, xst = e.lookup("/w/x", true)
	e.ok("chmod", vfs.Chmod(e.ctx, xd, 0o700))
	expect(t, f, "100:0x40000004") // the directory watch is IN_CREATE only
	info := f.FDInfo()
	if !strings.HasPrefix(info, "inotify wd:64 ino:") || !strings.Contains(info, " mask:4 ignored_mask:0 \n") {
		t.Fatalf("fdinfo %q", info)
	}
}

func TestCloseDropsWatches(t *testing.T) {
	e := newEnv(t)
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w", 0o755))
	f, err := New(12345)
	e.ok("new", err)
	e.watch(f, "/w", vfs.InCreate)
	f.Close()
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w/x", 0o755))
	if n := f.Queued(); n != 0 {
		t.Fatalf("closed instance queued %d bytes", n)
	}
	if ws := f.Group().Watches(); len(ws) != 0 {
		t.Fatalf("closed instance has watches %+v", ws)
	}
}

func TestInstanceLimit(t *testing.T) {
	const uid = 4242
	var fs []*File
	defer func() {
		for _, f := range fs {
			f.Close()
		}
	}()
	for range vfs.MaxUserInstances {
		f, err := New(uid)
		if err != nil {
			t.Fatalf("instance %d: %v", len(fs), err)
		}
		fs = append(fs, f)
	}
	if _, err := New(uid); err != unix.EMFILE {
		t.Fatalf("one past the limit: %v", err)
	}
	fs[0].Close()
	f, err := New(uid)
	if err != nil {
		t.Fatalf("after a close: %v", err)
	}
	fs[0] = f
}

// TestConcurrent runs opens, writes, renames and removals against watches
// being added, removed and read, for the race detector.
func TestConcurrent(t *testing.T) {
	e := newEnv(t)
	f := newFile(t)
	e.ok("mkdir", e.mt.Mkdir(e.ctx, "/w", 0o755))
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("/w/f%d", i)
			for range 200 {
				d, err := e.mt.Open(e.ctx, name, vfs.OpenOptions{Flags: unix.O_CREAT | unix.O_RDWR, Mode: 0o644})
				if err != nil {
					t.Error(err)
					return
				}
				d.File.Write([]byte("x"))
				vfs.NotifyModify(d)
				e.mt.Rename(e.ctx, name, e.ctx, name+".old", 0)
				d.DecRef()
				e.mt.Unlink(e.ctx, name+".old")
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		b := make([]byte, 4096)
		for {
			select {
			case <-stop:
				return
			default:
			}
			f.Read(b)
			d, st, err := e.mt.LookupStat(e.ctx, "/w", 0)
			if err != nil {
				t.Error(err)
				return
			}
			wd, _ := f.Group().AddWatch(d, &st, vfs.InAllEvents)
			if d, st, err := e.mt.LookupStat(e.ctx, "/w/f0", 0); err == nil {
				f.Group().AddWatch(d, &st, vfs.InAllEvents|vfs.InOneshot)
			}
			f.Group().RemoveWatch(wd)
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
}

// BenchmarkOpenClose is the cost of an open and a close on tmpfs, which
// the registry of open files adds to, with no watch anywhere.
func BenchmarkOpenClose(b *testing.B) {
	e := newEnv(b)
	e.open("/f", unix.O_CREAT|unix.O_RDWR).DecRef()
	for b.Loop() {
		e.open("/f", unix.O_RDWR).DecRef()
	}
}

// BenchmarkModifyHook is the cost read and write pay for inotify: with no
// watch anywhere, and with a watch on another file.
func BenchmarkModifyHook(b *testing.B) {
	e := newEnv(b)
	d := e.open("/f", unix.O_CREAT|unix.O_RDWR)
	defer d.DecRef()
	b.Run("no-watches", func(b *testing.B) {
		for b.Loop() {
			vfs.NotifyModify(d)
		}
	})
	b.Run("unrelated-watch", func(b *testing.B) {
		f, err := New(0)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		e.ok("mkdir", e.mt.Mkdir(e.ctx, "/other", 0o755))
		e.watch(f, "/other", vfs.InModify)
		for b.Loop() {
			vfs.NotifyModify(d)
		}
	})
}
