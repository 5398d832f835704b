package proc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// fakeSource is a Source over maps a test fills in.
type fakeSource struct {
	mu     sync.Mutex
	procs  map[int32]*Process
	fds    map[int32][]FD
	maps   map[int32][]Mapping
	mounts []Mount
	sys    System
	caller atomic.Uint64 // tgid<<32 | tid
	oom    map[int32]int32
	comms  map[int32]string
}

func (s *fakeSource) setCaller(tgid, tid int32) {
	s.caller.Store(uint64(uint32(tgid))<<32 | uint64(uint32(tid)))
}

// fakeTask is what a fake VFS walk passes as vfs.Context.Caller.
type fakeTask struct{ tgid, tid int32 }

func (s *fakeSource) Caller(caller any) (int32, int32) {
	if t, ok := caller.(*fakeTask); ok {
		return t.tgid, t.tid
	}
	v := s.caller.Load()
	return int32(v >> 32), int32(uint32(v))
}

func (s *fakeSource) Processes() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int32
	for id := range s.procs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (s *fakeSource) ThreadGroupOf(tid int32) (int32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.procs[tid]; ok {
		return tid, true
	}
	for id, p := range s.procs {
		for _, t := range p.Threads {
			if t.TID == tid {
				return id, true
			}
		}
	}
	return 0, false
}

func (s *fakeSource) Process(tgid int32) (*Process, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.procs[tgid]
	if !ok {
		return nil, false
	}
	c := *p
	c.Threads = slices.Clone(p.Threads)
	if adj, ok := s.oom[tgid]; ok {
		c.OOMScoreAdj = adj
	}
	for i := range c.Threads {
		if n, ok := s.comms[c.Threads[i].TID]; ok {
			c.Threads[i].Comm = n
		}
	}
	return &c, true
}

func (s *fakeSource) Files(tgid int32) ([]FD, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.procs[tgid]; !ok {
		return nil, false
	}
	return slices.Clone(s.fds[tgid]), true
}

func (s *fakeSource) Maps(tgid int32) ([]Mapping, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.procs[tgid]; !ok {
		return nil, false
	}
	return slices.Clone(s.maps[tgid]), true
}

func (s *fakeSource) Mounts(tgid int32) ([]Mount, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.procs[tgid]; !ok {
		return nil, false
	}
	return slices.Clone(s.mounts), true
}

func (s *fakeSource) System() System {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sys
}

// setterSource adds the optional write hooks.
type setterSource struct{ *fakeSource }

func (s setterSource) SetOOMScoreAdj(tgid, adj int32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oom[tgid] = adj
	return nil
}

func (s setterSource) SetComm(tgid, tid int32, comm string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.comms[tid] = comm
	return nil
}

var boot = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func defaultLimits() [NumRlimits]Rlimit {
	var r [NumRlimits]Rlimit
	for i := range r {
		r[i] = Rlimit{RlimInfinity, RlimInfinity}
	}
	r[unix.RLIMIT_STACK] = Rlimit{8 << 20, RlimInfinity}
	r[unix.RLIMIT_CORE] = Rlimit{0, RlimInfinity}
	r[unix.RLIMIT_NOFILE] = Rlimit{1024, 1 << 20}
	r[unix.RLIMIT_SIGPENDING] = Rlimit{63704, 63704}
	r[unix.RLIMIT_NICE] = Rlimit{0, 0}
	return r
}

// newFake is a container: init (1) with a second thread (7), a shell (5)
// of user 1000, and a zombie (9).
func newFake() *fakeSource {
	s := &fakeSource{
		procs: map[int32]*Process{},
		fds:   map[int32][]FD{},
		maps:  map[int32][]Mapping{},
		oom:   map[int32]int32{},
		comms: map[int32]string{},
		sys: System{
			Hostname: "box", Boot: boot, Uptime: 1234567 * time.Millisecond, Idle: 2 * time.Second,
			NumCPU: 2, Load: [3]float64{0.5, 0.25, 0}, Running: 1, Threads: 4, LastPID: 9, Forks: 12,
			Mem: Meminfo{Total: 1 << 30, Free: 512 << 20, Cached: 64 << 20},
		},
		mounts: []Mount{
			{ID: 1, ParentID: 0, Dev: unix.Mkdev(0, 30), Root: "/", Point: "/", Options: "rw,relatime",
				FSType: "overlay", Source: "overlay", SuperOptions: "rw,lowerdir=/l"},
			{ID: 2, ParentID: 1, Dev: unix.Mkdev(0, 21), Root: "/", Point: "/proc", Options: "rw,nosuid,nodev,noexec,relatime",
				Optional: "shared:3", FSType: "proc", Source: "proc", SuperOptions: "rw"},
			{ID: 3, ParentID: 1, Dev: unix.Mkdev(0, 31), Root: "/", Point: "/mnt/my dir", Options: "ro",
				FSType: "tmpfs", Source: "", SuperOptions: "ro,size=65536k,mode=755"},
		},
	}
	s.procs[1] = &Process{
		PID: 1, PPID: 0, PGID: 1, SID: 1, TPGID: -1, Comm: "init", State: 'S', Flags: 0x400000,
		ExitSignal: 17, Umask: 0o22, Dumpable: true, FDSize: 64,
		CapPrm: 0xa80425fb, CapEff: 0xa80425fb, CapBnd: 0xa80425fb,
		Threads: []Thread{
			{TID: 1, Comm: "init", State: 'S', Start: 10 * time.Millisecond, Utime: 150 * time.Millisecond, SigBlk: 1 << 1, VoluntaryCtxt: 3},
			{TID: 7, Comm: "worker", State: 'R', Start: 2 * time.Second, CPU: 1, Utime: 20 * time.Millisecond},
		},
		Cmdline: []string{"/sbin/init", "--flag"}, Environ: []string{"PATH=/bin", "HOME=/"},
		Exe: "/sbin/init", Cwd: "/", Root: "/", Rlimits: defaultLimits(),
		Mem: MemUsage{Peak: 8 << 20, Size: 6 << 20, HWM: 2 << 20, RSS: 1 << 20, RSSAnon: 256 << 10,
			RSSFile: 768 << 10, Data: 1 << 20, Stack: 132 << 10, Exe: 20 << 10, Lib: 1 << 20},
		Layout: Layout{StartCode: 0x400000, EndCode: 0x401000, StartStack: 0x7ffc0000},
		Utime:  170 * time.Millisecond, Stime: 30 * time.Millisecond, Start: 10 * time.Millisecond,
		SigIgn: 1 << 12, SigCgt: 1<<16 | 1<<1, LoginUID: 4294967295, SessionID: 4294967295,
	}
	s.procs[5] = &Process{
		PID: 5, PPID: 1, PGID: 5, SID: 1, TTY: unix.Mkdev(136, 0), TPGID: 5, Comm: "sh", State: 'S',
		ExitSignal: 17, UID: [4]uint32{1000, 1000, 1000, 1000}, GID: [4]uint32{100, 100, 100, 100},
		Groups: []uint32{100, 27}, Dumpable: true, Umask: 0o77,
		Threads: []Thread{{TID: 5, Comm: "sh", State: 'S', Start: time.Second}},
		Cmdline: []string{"sh"}, Exe: "/bin/sh", Cwd: "/home/u", Root: "/", Rlimits: defaultLimits(),
		Mem: MemUsage{Size: 4 << 20, RSS: 1 << 20}, Start: time.Second,
	}
	s.procs[9] = &Process{
		PID: 9, PPID: 5, PGID: 5, SID: 1, TPGID: -1, Comm: "gone", State: 'Z', ExitSignal: 17,
		ExitCode: 256, Dumpable: true, Rlimits: defaultLimits(), Start: 3 * time.Second,
	}
	s.fds[1] = []FD{
		{Num: 0, Target: "/dev/null", Flags: unix.O_RDONLY | OLargefile, MntID: 4, Ino: 3},
		{Num: 1, Target: "pipe:[42]", Flags: unix.O_WRONLY, Pos: 0, MntID: 9, Ino: 42},
		{Num: 2, Target: "/var/log/x", Flags: unix.O_RDWR | unix.O_APPEND | unix.O_CLOEXEC, Pos: 889, MntID: 1, Ino: 77},
		{Num: 10, Target: "anon_inode:[eventfd]", Flags: unix.O_RDWR, Extra: "eventfd-count:                0\n", File: &seqFile{}},
	}
	s.maps[1] = []Mapping{
		{Start: 0x400000, End: 0x401000, Read: true, Exec: true, Dev: unix.Mkdev(0xfe, 0), Inode: 247026, Path: "/sbin/init"},
		{Start: 0x401000, End: 0x423000, Read: true, Write: true, Path: "[heap]"},
		{Start: 0x7f0000000000, End: 0x7f0000001000, Read: true, Write: true},
		{Start: 0x7f0000001000, End: 0x7f0000003000, Read: true, Shared: true, Offset: 0x2000, Dev: unix.Mkdev(8, 0x11), Inode: 12, Path: "/dev/shm/a b"},
	}
	return s
}

func newTestFS(t *testing.T) (*FS, *fakeSource) {
	t.Helper()
	src := newFake()
	src.setCaller(1, 1)
	return New(src, Options{}), src
}

// walk resolves p (relative to /proc) as the VFS would, following
// symlinks within /proc (all but a final one when nofollow).
func walk(fs *FS, p string, nofollow bool) (vfs.Inode, error) {
	var stack []vfs.Inode
	stack = append(stack, fs.Root())
	parts := strings.Split(strings.Trim(p, "/"), "/")
	for depth := 0; len(parts) > 0; {
		name := parts[0]
		parts = parts[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		n, err := stack[len(stack)-1].Lookup(name)
		if err != nil {
			return nil, err
		}
		st, err := n.Stat()
		if err != nil {
			return nil, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK && !(nofollow && len(parts) == 0) {
			if depth++; depth > 40 {
				return nil, unix.ELOOP
			}
			target, err := n.Readlink()
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(target, "/") {
				return nil, fmt.Errorf("absolute target %q", target)
			}
			parts = append(strings.Split(target, "/"), parts...)
			continue
		}
		stack = append(stack, n)
	}
	return stack[len(stack)-1], nil
}

func mustWalk(t *testing.T, fs *FS, p string) vfs.Inode {
	t.Helper()
	n, err := walk(fs, p, false)
	if err != nil {
		t.Fatalf("walk %s: %v", p, err)
	}
	return n
}

func readAll(t *testing.T, fs *FS, p string) string {
	t.Helper()
	f, err := mustWalk(t, fs, p).Open(unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	defer f.Close()
	var out []byte
	buf := make([]byte, 7) // small reads exercise the offset
	for {
		n, err := f.Read(buf)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		if n == 0 {
			return string(out)
		}
		out = append(out, buf[:n]...)
	}
}

type gotDirent struct {
	ino  uint64
	off  int64
	typ  uint8
	name string
}

func parseDirents(b []byte) []gotDirent {
	var out []gotDirent
	for len(b) > 0 {
		reclen := binary.LittleEndian.Uint16(b[16:])
		name := b[19:reclen]
		name = name[:bytes.IndexByte(name, 0)]
		out = append(out, gotDirent{
			ino: binary.LittleEndian.Uint64(b), off: int64(binary.LittleEndian.Uint64(b[8:])),
			typ: b[18], name: string(name),
		})
		b = b[reclen:]
	}
	return out
}

func readDir(t *testing.T, f vfs.File) []gotDirent {
	t.Helper()
	var out []gotDirent
	buf := make([]byte, 100) // a few records per call
	for {
		n, err := f.Getdents(buf)
		if err != nil {
			t.Fatalf("getdents: %v", err)
		}
		if n == 0 {
			return out
		}
		out = append(out, parseDirents(buf[:n])...)
	}
}

func list(t *testing.T, fs *FS, p string) []gotDirent {
	t.Helper()
	f, err := mustWalk(t, fs, p).Open(unix.O_RDONLY | unix.O_DIRECTORY)
	if err != nil {
		t.Fatalf("open %s: %v", p, err)
	}
	defer f.Close()
	return readDir(t, f)
}

func names(ds []gotDirent) []string {
	var ns []string
	for _, d := range ds {
		ns = append(ns, d.name)
	}
	return ns
}

func TestRootListing(t *testing.T) {
	fs, _ := newTestFS(t)
	ds := list(t, fs, "")
	want := []string{".", "..", "cmdline", "cpuinfo", "filesystems", "loadavg", "meminfo", "mounts",
		"self", "stat", "swaps", "sys", "thread-self", "uptime", "version", "vmstat", "1", "5", "9"}
	if got := names(ds); !slices.Equal(got, want) {
		t.Fatalf("root lists %q, want %q", got, want)
	}
	for i, d := range ds {
		if d.off != int64(i+1) {
			t.Errorf("%s: d_off %d, want %d", d.name, d.off, i+1)
		}
		if d.name == "." || d.name == ".." {
			if d.ino != 1 || d.typ != unix.DT_DIR {
				t.Errorf("%s: ino %d type %d", d.name, d.ino, d.typ)
			}
			continue
		}
		n, err := fs.Root().Lookup(d.name)
		if err != nil {
			t.Fatalf("lookup %s: %v", d.name, err)
		}
		st, err := n.Stat()
		if err != nil {
			t.Fatalf("stat %s: %v", d.name, err)
		}
		if st.Ino != d.ino || dtype(st.Mode) != d.typ {
			t.Errorf("%s: dirent ino %d type %d, stat ino %d mode %o", d.name, d.ino, d.typ, st.Ino, st.Mode)
		}
	}
	// A thread id is looked up but not listed.
	if got := readAll(t, fs, "7/status"); !strings.Contains(got, "\nPid:\t7\n") || !strings.Contains(got, "\nTgid:\t1\n") {
		t.Errorf("/proc/7/status:\n%s", got)
	}
	for _, bad := range []string{"0", "01", "+1", "1a", "99", "4294967297"} {
		if _, err := fs.Root().Lookup(bad); err != unix.ENOENT {
			t.Errorf("lookup %q: %v, want ENOENT", bad, err)
		}
	}
}

func TestDirRewindAndSmallBuffer(t *testing.T) {
	fs, src := newTestFS(t)
	f, err := fs.Root().Open(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Getdents(make([]byte, 10)); err != unix.EINVAL {
		t.Errorf("getdents into 10 bytes: %v, want EINVAL", err)
	}
	first := readDir(t, f)
	if n, _ := f.Getdents(make([]byte, 4096)); n != 0 {
		t.Errorf("getdents at end returned %d", n)
	}
	src.mu.Lock()
	src.procs[12] = &Process{PID: 12, Comm: "new", Start: 5 * time.Second}
	src.mu.Unlock()
	// Seeking into the middle keeps the old listing...
	if _, err := f.Seek(3, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	if got := names(readDir(t, f)); !slices.Equal(got, names(first)[3:]) {
		t.Errorf("after seek 3: %q", got)
	}
	// ...a rewind lists afresh.
	if _, err := f.Seek(0, unix.SEEK_SET); err != nil {
		t.Fatal(err)
	}
	if got := names(readDir(t, f)); got[len(got)-1] != "12" {
		t.Errorf("after rewind: %q", got)
	}
	if _, err := f.Read(make([]byte, 1)); err != unix.EISDIR {
		t.Errorf("read of a directory: %v", err)
	}
}

func TestSelf(t *testing.T) {
	fs, src := newTestFS(t)
	src.setCaller(5, 5)
	self, err := fs.Root().Lookup("self")
	if err != nil {
		t.Fatal(err)
	}
	if target, err := self.Readlink(); err != nil || target != "5" {
		t.Errorf("self -> %q, %v", target, err)
	}
	if got := readAll(t, fs, "self/status"); !strings.HasPrefix(got, "Name:\tsh\n") {
		t.Errorf("self/status:\n%s", got)
	}
	// The same inode answers for whoever asks.
	src.setCaller(1, 7)
	if target, _ := self.Readlink(); target != "1" {
		t.Errorf("self for 1 -> %q", target)
	}
	ts, _ := fs.Root().Lookup("thread-self")
	if target, _ := ts.Readlink(); target != "1/task/7" {
		t.Errorf("thread-self -> %q", target)
	}
	if got := readAll(t, fs, "thread-self/comm"); got != "worker\n" {
		t.Errorf("thread-self/comm = %q", got)
	}
	if got := readAll(t, fs, "mounts"); !strings.HasPrefix(got, "overlay / overlay") {
		t.Errorf("/proc/mounts:\n%s", got)
	}
	// The VFS's walk passes the task following the link.
	ml := self.(vfs.MagicLinker)
	if d, target, err := ml.MagicLink(&fakeTask{5, 5}); d != nil || target != "5" || err != nil {
		t.Errorf("MagicLink(task 5) of self = %v %q, %v", d, target, err)
	}
	if _, target, _ := ts.(vfs.MagicLinker).MagicLink(&fakeTask{9, 9}); target != "9/task/9" {
		t.Errorf("MagicLink(task 9) of thread-self = %q", target)
	}
	if _, _, err := mustWalk(t, fs, "meminfo").(vfs.MagicLinker).MagicLink(&fakeTask{1, 1}); err != unix.EINVAL {
		t.Errorf("MagicLink of a file: %v", err)
	}
	if _, _, err := ml.MagicLink(&fakeTask{0, 0}); err != unix.ENOENT {
		t.Errorf("MagicLink with no task: %v", err)
	}
	src.setCaller(0, 0)
	if _, err := self.Readlink(); err != unix.ENOENT {
		t.Errorf("self with no caller: %v", err)
	}
	st, err := self.Stat()
	if err != nil || st.Mode != unix.S_IFLNK|0o777 {
		t.Errorf("self stat mode %o, %v", st.Mode, err)
	}
	if _, err := self.Open(unix.O_RDONLY); err != unix.ELOOP {
		t.Errorf("open of a symlink inode: %v", err)
	}
}

// statFields splits a stat line as procps does: the comm is everything
// between the first '(' and the last ')'.
func statFields(t *testing.T, line string) []string {
	t.Helper()
	if !strings.HasSuffix(line, "\n") {
		t.Fatalf("stat line without newline: %q", line)
	}
	open, close := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	f := []string{strings.TrimSpace(line[:open]), line[open+1 : close]}
	return append(f, strings.Fields(line[close+1:])...)
}

func TestStat(t *testing.T) {
	fs, src := newTestFS(t)
	src.procs[1].Comm = "a) b (c"
	src.procs[1].Threads[0].Comm = "a) b (c"
	f := statFields(t, readAll(t, fs, "1/stat"))
	if len(f) != 52 {
		t.Fatalf("%d fields: %q", len(f), f)
	}
	want := map[int]string{
		1: "1", 2: "a) b (c", 3: "S", 4: "0", 5: "1", 6: "1", 7: "0", 8: "-1", 9: "4194304",
		14: "17", 15: "3", 18: "20", 19: "0", 20: "2", 21: "0", 22: "1", 23: "6291456", 24: "256",
		25: "18446744073709551615", 26: "4194304", 27: "4198400", 28: "2147221504",
		31: "0", 32: "2", 33: "4096", 34: "65538", 35: "0", 38: "17", 52: "0",
	}
	for i, w := range want {
		if f[i-1] != w {
			t.Errorf("stat field %d = %q, want %q", i, f[i-1], w)
		}
	}
	// The thread's own view: its pid, times, and no exit signal.
	f = statFields(t, readAll(t, fs, "1/task/7/stat"))
	for i, w := range map[int]string{1: "7", 2: "worker", 3: "R", 14: "2", 20: "2", 22: "200", 38: "-1", 39: "1"} {
		if f[i-1] != w {
			t.Errorf("task/7/stat field %d = %q, want %q", i, f[i-1], w)
		}
	}
	// The shell has a controlling tty: pts/0 is 136:0, encoded 34816.
	f = statFields(t, readAll(t, fs, "5/stat"))
	if f[6] != "34816" || f[7] != "5" || f[34] != "1" {
		t.Errorf("5/stat tty_nr %s tpgid %s wchan %s", f[6], f[7], f[34])
	}
	f = statFields(t, readAll(t, fs, "9/stat"))
	if len(f) != 52 || f[2] != "Z" || f[22] != "0" || f[51] != "256" {
		t.Errorf("zombie stat %q", f)
	}
}

// statusKeys are the keys of a live process's status, in Linux 6.x's
// order.
var statusKeys = []string{
	"Name", "Umask", "State", "Tgid", "Ngid", "Pid", "PPid", "TracerPid", "Uid", "Gid", "FDSize",
	"Groups", "NStgid", "NSpid", "NSpgid", "NSsid", "Kthread", "VmPeak", "VmSize", "VmLck", "VmPin",
	"VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "VmData", "VmStk", "VmExe", "VmLib", "VmPTE",
	"VmSwap", "HugetlbPages", "CoreDumping", "THP_enabled", "untag_mask", "Threads", "SigQ", "SigPnd",
	"ShdPnd", "SigBlk", "SigIgn", "SigCgt", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
	"NoNewPrivs", "Seccomp", "Seccomp_filters", "Speculation_Store_Bypass",
	"SpeculationIndirectBranch", "Cpus_allowed", "Cpus_allowed_list", "Mems_allowed",
	"Mems_allowed_list", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches",
}

func parseStatus(t *testing.T, s string) ([]string, map[string]string) {
	t.Helper()
	var keys []string
	vals := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		k, v, ok := strings.Cut(line, ":\t")
		if !ok {
			t.Fatalf("status line %q", line)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}

func TestStatus(t *testing.T) {
	fs, _ := newTestFS(t)
	keys, v := parseStatus(t, readAll(t, fs, "5/status"))
	if !slices.Equal(keys, statusKeys) {
		t.Errorf("status keys:\n%q\nwant\n%q", keys, statusKeys)
	}
	for k, w := range map[string]string{
		"Name": "sh", "Umask": "0077", "State": "S (sleeping)", "Tgid": "5", "Pid": "5", "PPid": "1",
		"Uid": "1000\t1000\t1000\t1000", "Gid": "100\t100\t100\t100", "Groups": "100 27 ",
		"VmSize": "    4096 kB", "VmRSS": "    1024 kB", "VmPeak": "    4096 kB", "Threads": "1",
		"SigQ": "0/63704", "SigPnd": "0000000000000000", "Cpus_allowed": "3", "Cpus_allowed_list": "0-1",
		"NSpgid": "5", "NSsid": "1",
	} {
		if v[k] != w {
			t.Errorf("status %s = %q, want %q", k, v[k], w)
		}
	}
	_, v = parseStatus(t, readAll(t, fs, "1/task/7/status"))
	if v["Pid"] != "7" || v["Tgid"] != "1" || v["State"] != "R (running)" || v["Threads"] != "2" || v["Groups"] != " " {
		t.Errorf("task status %q", v)
	}
	_, v = parseStatus(t, readAll(t, fs, "1/status"))
	if v["SigBlk"] != "0000000000000002" || v["SigCgt"] != "0000000000010002" || v["CapEff"] != "00000000a80425fb" {
		t.Errorf("init status signals/caps %q", v)
	}
	keys, v = parseStatus(t, readAll(t, fs, "9/status"))
	if v["State"] != "Z (zombie)" || slices.Contains(keys, "VmSize") || slices.Contains(keys, "Umask") {
		t.Errorf("zombie status keys %q state %q", keys, v["State"])
	}
}

func TestBitmaps(t *testing.T) {
	for _, c := range []struct {
		mask  uint64
		nbits int
		str   string
		list  string
	}{
		{3, 2, "3", "0-1"}, {0xff, 8, "ff", "0-7"}, {5, 4, "5", "0,2"},
		{1<<40 | 1, 48, "0100,00000001", "0,40"}, {0xffffffff, 32, "ffffffff", "0-31"},
	} {
		if got := bitmapString(c.mask, c.nbits); got != c.str {
			t.Errorf("bitmapString(%#x, %d) = %q, want %q", c.mask, c.nbits, got, c.str)
		}
		if got := bitmapList(c.mask); got != c.list {
			t.Errorf("bitmapList(%#x) = %q, want %q", c.mask, got, c.list)
		}
	}
}

func TestMaps(t *testing.T) {
	fs, _ := newTestFS(t)
	want := "" +
		"00400000-00401000 r-xp 00000000 fe:00 247026                             /sbin/init\n" +
		"00401000-00423000 rw-p 00000000 00:00 0                                  [heap]\n" +
		"7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n" +
		"7f0000001000-7f0000003000 r--s 00002000 08:11 12                         /dev/shm/a b\n"
	if got := readAll(t, fs, "1/maps"); got != want {
		t.Errorf("maps:\n%s\nwant\n%s", got, want)
	}
	if got := readAll(t, fs, "1/task/7/maps"); got != want {
		t.Errorf("task maps differ:\n%s", got)
	}
	if got := readAll(t, fs, "9/maps"); got != "" {
		t.Errorf("zombie maps %q", got)
	}
}

// TestMapsMatchHost parses this test process's own maps and formats the
// mappings back: the result must be the host kernel's text byte for byte.
func TestMapsMatchHost(t *testing.T) {
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	re := regexp.MustCompile(`^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([ps]) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+) ?\s*(.*)$`)
	sc := bufio.NewScanner(bytes.NewReader(data))
	var out []byte
	for sc.Scan() {
		m := re.FindStringSubmatch(sc.Text())
		if m == nil {
			t.Fatalf("unparsed host line %q", sc.Text())
		}
		h := func(s string) uint64 { v, _ := strconv.ParseUint(s, 16, 64); return v }
		ino, _ := strconv.ParseUint(m[10], 10, 64)
		out = appendMapping(out, &Mapping{
			Start: h(m[1]), End: h(m[2]), Read: m[3] == "r", Write: m[4] == "w", Exec: m[5] == "x",
			Shared: m[6] == "s", Offset: h(m[7]), Dev: unix.Mkdev(uint32(h(m[8])), uint32(h(m[9]))),
			Inode: ino, Path: m[11],
		})
	}
	if !bytes.Equal(out, data) {
		t.Errorf("formatted:\n%s\nhost:\n%s", out, data)
	}
}

func TestLimitsMatchHost(t *testing.T) {
	data, err := os.ReadFile("/proc/self/limits")
	if err != nil {
		t.Skip(err)
	}
	var r [NumRlimits]Rlimit
	for i := range r {
		var l unix.Rlimit
		if err := unix.Getrlimit(i, &l); err != nil {
			t.Fatal(err)
		}
		r[i] = Rlimit{l.Cur, l.Max}
	}
	if got := formatLimits(&r); !bytes.Equal(got, data) {
		t.Errorf("limits:\n%s\nhost:\n%s", got, data)
	}
}

func TestLimits(t *testing.T) {
	fs, _ := newTestFS(t)
	lines := strings.Split(readAll(t, fs, "5/limits"), "\n")
	if len(lines) != 18 || lines[17] != "" {
		t.Fatalf("%d lines", len(lines))
	}
	for i, w := range map[int]string{
		0:  "Limit                     Soft Limit           Hard Limit           Units     ",
		4:  "Max stack size            8388608              unlimited            bytes     ",
		8:  "Max open files            1024                 1048576              files     ",
		14: "Max nice priority         0                    0                    ",
		16: "Max realtime timeout      unlimited            unlimited            us        ",
	} {
		if lines[i] != w {
			t.Errorf("line %d = %q, want %q", i, lines[i], w)
		}
	}
}

func TestFDs(t *testing.T) {
	fs, _ := newTestFS(t)
	ds := list(t, fs, "1/fd")
	if got := names(ds); !slices.Equal(got, []string{".", "..", "0", "1", "2", "10"}) {
		t.Fatalf("fd lists %q", got)
	}
	if ds[2].typ != unix.DT_LNK {
		t.Errorf("fd entry type %d", ds[2].typ)
	}
	for fd, w := range map[string]struct {
		target string
		mode   uint32
	}{
		"0": {"/dev/null", 0o500}, "1": {"pipe:[42]", 0o300}, "2": {"/var/log/x", 0o700},
		"10": {"anon_inode:[eventfd]", 0o700},
	} {
		n, err := walk(fs, "1/fd/"+fd, true)
		if err != nil {
			t.Fatal(err)
		}
		target, err := n.Readlink()
		st, _ := n.Stat()
		if err != nil || target != w.target || st.Mode != unix.S_IFLNK|w.mode || st.Size != 64 {
			t.Errorf("fd %s -> %q (%v) mode %o size %d", fd, target, err, st.Mode, st.Size)
		}
		lf, ok := n.(LinkedFile)
		if !ok {
			t.Fatalf("fd link is not a LinkedFile")
		}
		f, ok, err := lf.Linked()
		if err != nil || ok != (fd == "10") || (f != nil) != ok {
			t.Errorf("fd %s linked file %v %v %v", fd, f, ok, err)
		}
	}
	dir := mustWalk(t, fs, "1/fd")
	if st, _ := dir.Stat(); st.Mode != unix.S_IFDIR|0o500 || st.Size != 4 {
		t.Errorf("fd dir mode %o size %d", st.Mode, st.Size)
	}
	if _, err := dir.Lookup("3"); err != unix.ENOENT {
		t.Errorf("closed fd: %v", err)
	}
	if got := readAll(t, fs, "1/fdinfo/2"); got != "pos:\t889\nflags:\t02002002\nmnt_id:\t1\nino:\t77\n" {
		t.Errorf("fdinfo/2 = %q", got)
	}
	if got := readAll(t, fs, "1/fdinfo/0"); got != "pos:\t0\nflags:\t0100000\nmnt_id:\t4\nino:\t3\n" {
		t.Errorf("fdinfo/0 = %q", got)
	}
	if got := readAll(t, fs, "1/fdinfo/10"); !strings.HasSuffix(got, "ino:\t0\neventfd-count:                0\n") {
		t.Errorf("fdinfo/10 = %q", got)
	}
	if got := names(list(t, fs, "1/fdinfo")); !slices.Equal(got, []string{".", "..", "0", "1", "2", "10"}) {
		t.Errorf("fdinfo lists %q", got)
	}
	if got := names(list(t, fs, "9/fd")); len(got) != 2 {
		t.Errorf("zombie fd lists %q", got)
	}
}

func TestLinks(t *testing.T) {
	fs, _ := newTestFS(t)
	for p, w := range map[string]string{"5/exe": "/bin/sh", "5/cwd": "/home/u", "5/root": "/", "1/task/7/exe": "/sbin/init"} {
		n, err := walk(fs, p, true)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := n.Readlink(); got != w || err != nil {
			t.Errorf("%s -> %q, %v", p, got, err)
		}
	}
	n, err := walk(fs, "9/exe", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Readlink(); err != unix.ENOENT {
		t.Errorf("zombie exe: %v", err)
	}
}

func TestSmallFiles(t *testing.T) {
	fs, _ := newTestFS(t)
	for p, w := range map[string]string{
		"1/cmdline":                "/sbin/init\x00--flag\x00",
		"1/environ":                "PATH=/bin\x00HOME=/\x00",
		"1/comm":                   "init\n",
		"1/task/7/comm":            "worker\n",
		"1/cgroup":                 "0::/\n",
		"1/loginuid":               "4294967295",
		"1/oom_score_adj":          "0\n",
		"1/statm":                  "1536 256 192 5 0 289 0\n",
		"1/uid_map":                "         0          0 4294967295\n",
		"9/cmdline":                "",
		"sys/kernel/ostype":        "Linux\n",
		"sys/kernel/hostname":      "box\n",
		"sys/kernel/osrelease":     DefaultRelease + "\n",
		"sys/kernel/pid_max":       "4194304\n",
		"sys/kernel/ngroups_max":   "65536\n",
		"sys/kernel/cap_last_cap":  "40\n",
		"sys/fs/file-max":          "9223372036854775807\n",
		"sys/fs/nr_open":           "1048576\n",
		"sys/fs/pipe-max-size":     "1048576\n",
		"sys/vm/overcommit_memory": "0\n",
		"sys/vm/max_map_count":     "65530\n",
		"sys/net/core/somaxconn":   "4096\n",
		"uptime":                   "1234.56 2.00\n",
		"loadavg":                  "0.50 0.25 0.00 1/4 9\n",
	} {
		if got := readAll(t, fs, p); got != w {
			t.Errorf("%s = %q, want %q", p, got, w)
		}
	}
}

func TestGlobalFiles(t *testing.T) {
	src := newFake()
	fs := New(src, Options{CPUInfo: []byte("processor\t: 0\n"), Sysctl: map[string]string{"kernel/pid_max": "32768", "user/max_user_namespaces": "0"}})
	if got := readAll(t, fs, "cpuinfo"); got != "processor\t: 0\n" {
		t.Errorf("cpuinfo %q", got)
	}
	if got := readAll(t, fs, "sys/kernel/pid_max"); got != "32768\n" {
		t.Errorf("pid_max override %q", got)
	}
	if got := readAll(t, fs, "sys/user/max_user_namespaces"); got != "0\n" {
		t.Errorf("added sysctl %q", got)
	}
	mem := readAll(t, fs, "meminfo")
	re := regexp.MustCompile(`^[A-Za-z0-9_()]+: +\d+( kB)?$`)
	seen := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(mem, "\n"), "\n") {
		if !re.MatchString(l) {
			t.Errorf("meminfo line %q", l)
		}
		if len(l) < 24 {
			t.Errorf("meminfo line too short %q", l)
		}
		k, v, _ := strings.Cut(l, ":")
		seen[k] = strings.TrimSpace(v)
	}
	if seen["MemTotal"] != "1048576 kB" || seen["MemFree"] != "524288 kB" || seen["MemAvailable"] != "589824 kB" || seen["HugePages_Total"] != "0" {
		t.Errorf("meminfo %q", seen)
	}
	if !strings.HasPrefix(mem, "MemTotal:        1048576 kB\nMemFree:          524288 kB\n") {
		t.Errorf("meminfo layout:\n%s", mem)
	}

	vm := readAll(t, fs, "vmstat")
	vmRe := regexp.MustCompile(`^[a-z_]+ \d+$`)
	for _, l := range strings.Split(strings.TrimSuffix(vm, "\n"), "\n") {
		if !vmRe.MatchString(l) {
			t.Errorf("vmstat line %q", l)
		}
	}
	// MemFree 512 MiB is 131072 pages.
	if !strings.HasPrefix(vm, "nr_free_pages 131072\n") || !strings.Contains(vm, "\npswpin 0\n") {
		t.Errorf("vmstat:\n%s", vm)
	}

	stat := readAll(t, fs, "stat")
	lines := strings.Split(stat, "\n")
	if lines[0] != "cpu  0 0 0 0 0 0 0 0 0 0" || lines[1] != "cpu0 0 0 0 0 0 0 0 0 0 0" || lines[2] != "cpu1 0 0 0 0 0 0 0 0 0 0" {
		t.Errorf("stat cpu lines %q", lines[:3])
	}
	for _, w := range []string{"\nbtime " + strconv.FormatInt(boot.Unix(), 10) + "\n", "\nprocesses 12\n", "\nprocs_running 1\n", "\nctxt 0\n"} {
		if !strings.Contains(stat, w) {
			t.Errorf("stat lacks %q:\n%s", w, stat)
		}
	}
	if got := readAll(t, fs, "version"); !strings.HasPrefix(got, "Linux version "+DefaultRelease+" (") {
		t.Errorf("version %q", got)
	}
	if got := readAll(t, fs, "filesystems"); !strings.Contains(got, "nodev\tproc\n") || !strings.Contains(got, "nodev\ttmpfs\n") {
		t.Errorf("filesystems %q", got)
	}
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$`)
	u1, u2 := readAll(t, fs, "sys/kernel/random/uuid"), readAll(t, fs, "sys/kernel/random/uuid")
	if !uuidRE.MatchString(u1) || u1 == u2 {
		t.Errorf("uuid %q then %q", u1, u2)
	}
	b1, b2 := readAll(t, fs, "sys/kernel/random/boot_id"), readAll(t, fs, "sys/kernel/random/boot_id")
	if !uuidRE.MatchString(b1) || b1 != b2 {
		t.Errorf("boot_id %q then %q", b1, b2)
	}
	if got := names(list(t, fs, "sys")); !slices.Equal(got, []string{".", "..", "fs", "kernel", "net", "user", "vm"}) {
		t.Errorf("sys lists %q", got)
	}
}

func TestMounts(t *testing.T) {
	fs, _ := newTestFS(t)
	wantMounts := "" +
		"overlay / overlay rw,relatime,lowerdir=/l 0 0\n" +
		"proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n" +
		"none /mnt/my\\040dir tmpfs ro,size=65536k,mode=755 0 0\n"
	if got := readAll(t, fs, "1/mounts"); got != wantMounts {
		t.Errorf("mounts:\n%s\nwant\n%s", got, wantMounts)
	}
	wantInfo := "" +
		"1 0 0:30 / / rw,relatime - overlay overlay rw,lowerdir=/l\n" +
		"2 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:3 - proc proc rw\n" +
		"3 1 0:31 / /mnt/my\\040dir ro - tmpfs none ro,size=65536k,mode=755\n"
	if got := readAll(t, fs, "self/mountinfo"); got != wantInfo {
		t.Errorf("mountinfo:\n%s\nwant\n%s", got, wantInfo)
	}
}

func TestPidDirListing(t *testing.T) {
	fs, _ := newTestFS(t)
	whole := names(list(t, fs, "1"))
	thread := names(list(t, fs, "1/task/7"))
	if !slices.Contains(whole, "task") || slices.Contains(thread, "task") {
		t.Errorf("task entry: whole %q thread %q", whole, thread)
	}
	for _, want := range []string{"stat", "statm", "status", "cmdline", "environ", "comm", "maps", "fd", "fdinfo",
		"exe", "cwd", "root", "mounts", "mountinfo", "limits", "oom_score_adj", "cgroup", "loginuid"} {
		if !slices.Contains(whole, want) || !slices.Contains(thread, want) {
			t.Errorf("%s missing from %q", want, whole)
		}
	}
	if got := names(list(t, fs, "1/task")); !slices.Equal(got, []string{".", "..", "1", "7"}) {
		t.Errorf("task lists %q", got)
	}
	if got := names(list(t, fs, "9/task")); !slices.Equal(got, []string{".", ".."}) {
		t.Errorf("zombie task lists %q", got)
	}
	if _, err := walk(fs, "5/task/7", false); err != unix.ENOENT {
		t.Errorf("another process's thread: %v", err)
	}
}

func TestStatModesOwnersInodes(t *testing.T) {
	fs, _ := newTestFS(t)
	seen := map[uint64]string{}
	for p, w := range map[string]uint32{
		"":                    unix.S_IFDIR | 0o555,
		"5":                   unix.S_IFDIR | 0o555,
		"5/stat":              unix.S_IFREG | 0o444,
		"5/environ":           unix.S_IFREG | 0o400,
		"5/fd":                unix.S_IFDIR | 0o500,
		"5/fdinfo":            unix.S_IFDIR | 0o555,
		"5/exe":               unix.S_IFLNK | 0o777,
		"5/task":              unix.S_IFDIR | 0o555,
		"5/task/5":            unix.S_IFDIR | 0o555,
		"5/task/5/stat":       unix.S_IFREG | 0o444,
		"5/oom_score_adj":     unix.S_IFREG | 0o644,
		"self":                unix.S_IFLNK | 0o777,
		"meminfo":             unix.S_IFREG | 0o444,
		"vmstat":              unix.S_IFREG | 0o444,
		"sys":                 unix.S_IFDIR | 0o555,
		"sys/kernel/hostname": unix.S_IFREG | 0o644,
	} {
		n, err := walk(fs, p, true)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		st, err := n.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode != w {
			t.Errorf("%s: mode %o, want %o", p, st.Mode, w)
		}
		if st.Dev != unix.Mkdev(0, 21) {
			t.Errorf("%s: dev %#x", p, st.Dev)
		}
		wantUID := uint32(0)
		if strings.HasPrefix(p, "5") {
			wantUID = 1000
		}
		if st.Uid != wantUID {
			t.Errorf("%s: uid %d, want %d", p, st.Uid, wantUID)
		}
		if other, dup := seen[st.Ino]; dup {
			t.Errorf("%s and %s share ino %d", p, other, st.Ino)
		}
		seen[st.Ino] = p
		// A second lookup gives the same inode number.
		n2, _ := walk(fs, p, true)
		if st2, _ := n2.Stat(); st2.Ino != st.Ino {
			t.Errorf("%s: ino %d then %d", p, st.Ino, st2.Ino)
		}
		if p == "5" && (st.Nlink != 5 || st.Mtim.Sec != boot.Add(time.Second).Unix()) {
			t.Errorf("/proc/5 nlink %d mtime %d", st.Nlink, st.Mtim.Sec)
		}
	}
	sf, _ := fs.Root().Statfs()
	if sf.Type != SuperMagic {
		t.Errorf("statfs type %#x", sf.Type)
	}
}

func TestSnapshotPreadSeek(t *testing.T) {
	fs, src := newTestFS(t)
	f, err := mustWalk(t, fs, "5/comm").Open(unix.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	src.procs[5].Threads[0].Comm = "renamed"
	src.mu.Unlock()
	buf := make([]byte, 10)
	if n, _ := f.Pread(buf, 1); string(buf[:n]) != "h\n" {
		t.Errorf("pread at 1: %q", buf[:n])
	}
	if n, _ := f.Read(buf); string(buf[:n]) != "sh\n" {
		t.Errorf("read: %q (the content is the open's)", buf[:n])
	}
	if off, err := f.Seek(-2, unix.SEEK_CUR); off != 1 || err != nil {
		t.Errorf("seek cur: %d %v", off, err)
	}
	if n, _ := f.Read(buf); string(buf[:n]) != "h\n" {
		t.Errorf("read after seek: %q", buf[:n])
	}
	if _, err := f.Seek(0, unix.SEEK_END); err != unix.EINVAL {
		t.Errorf("SEEK_END: %v", err)
	}
	if _, err := f.Write([]byte("x")); err != unix.EBADF {
		t.Errorf("write to a read-only open: %v", err)
	}
	if n, _ := f.Pread(buf, 100); n != 0 {
		t.Errorf("pread past the end: %d", n)
	}
	if got := readAll(t, fs, "5/comm"); got != "renamed\n" {
		t.Errorf("a new open sees %q", got)
	}
	if _, err := f.Getdents(buf); err != unix.ENOTDIR {
		t.Errorf("getdents on a file: %v", err)
	}
	st, _ := f.Stat()
	if st.Mode != unix.S_IFREG|0o644 {
		t.Errorf("fstat mode %o", st.Mode)
	}
	pf, err := mustWalk(t, fs, "5/stat").Open(unix.O_PATH)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pf.Read(buf); err != unix.EBADF {
		t.Errorf("read of an O_PATH file: %v", err)
	}
}

func TestWrites(t *testing.T) {
	fs, src := newTestFS(t)
	for p, want := range map[string]error{
		"5/stat":              unix.EACCES,
		"5/oom_score_adj":     unix.EACCES, // the Source has no setter
		"5/comm":              unix.EACCES,
		"sys/kernel/hostname": unix.EROFS,
		"meminfo":             unix.EACCES,
		"vmstat":              unix.EACCES,
	} {
		if _, err := mustWalk(t, fs, p).Open(unix.O_WRONLY); err != want {
			t.Errorf("open %s for writing: %v, want %v", p, err, want)
		}
	}
	if _, err := mustWalk(t, fs, "5").Open(unix.O_RDWR); err != unix.EISDIR {
		t.Errorf("open a dir for writing: %v", err)
	}
	if _, err := mustWalk(t, fs, "5/stat").Open(unix.O_RDONLY | unix.O_DIRECTORY); err != unix.ENOTDIR {
		t.Errorf("O_DIRECTORY on a file: %v", err)
	}
	if err := mustWalk(t, fs, "5/stat").Setattr(vfs.Attr{Mask: vfs.AttrMode, Mode: 0o777}); err != unix.EPERM {
		t.Errorf("chmod: %v", err)
	}

	wfs := New(setterSource{src}, Options{})
	n := mustWalk(t, wfs, "5/oom_score_adj")
	f, err := n.Open(unix.O_WRONLY | unix.O_TRUNC)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Setattr(vfs.Attr{Mask: vfs.AttrSize}); err != nil {
		t.Errorf("truncate oom_score_adj: %v", err)
	}
	if w, err := f.Write([]byte("-500\n")); w != 5 || err != nil {
		t.Errorf("write: %d %v", w, err)
	}
	for _, bad := range []string{"1001\n", "abc", ""} {
		if _, err := f.Write([]byte(bad)); err != unix.EINVAL {
			t.Errorf("write %q: %v", bad, err)
		}
	}
	if _, err := f.Read(make([]byte, 4)); err != unix.EBADF {
		t.Errorf("read of a write-only open: %v", err)
	}
	if got := readAll(t, wfs, "5/oom_score_adj"); got != "-500\n" {
		t.Errorf("oom_score_adj after write %q", got)
	}
	cf, err := mustWalk(t, wfs, "1/task/7/comm").Open(unix.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cf.Write([]byte("a-very-long-thread-name\n")); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, wfs, "1/task/7/comm"); got != "a-very-long-thr\n" {
		t.Errorf("comm after write %q", got)
	}
}

func TestProcessGoneOrReused(t *testing.T) {
	fs, src := newTestFS(t)
	dir := mustWalk(t, fs, "5")
	status := mustWalk(t, fs, "5/status")
	fd0, err := walk(fs, "1/fd/0", true)
	if err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	old := src.procs[5]
	delete(src.procs, 5)
	src.fds[1] = src.fds[1][1:]
	src.mu.Unlock()
	for name, n := range map[string]vfs.Inode{"dir": dir, "status": status, "fd": fd0} {
		if _, err := n.Stat(); err != unix.ENOENT {
			t.Errorf("%s after exit: stat %v", name, err)
		}
	}
	if _, err := status.Open(unix.O_RDONLY); err != unix.ENOENT {
		t.Errorf("open after exit: %v", err)
	}
	if _, err := dir.Lookup("stat"); err != unix.ENOENT {
		t.Errorf("lookup after exit: %v", err)
	}
	if _, err := fd0.Readlink(); err != unix.ENOENT {
		t.Errorf("readlink of a closed fd: %v", err)
	}
	// The pid is reused by a process that started later.
	reuse := *old
	reuse.Start = 9 * time.Second
	src.mu.Lock()
	src.procs[5] = &reuse
	src.mu.Unlock()
	if _, err := status.Open(unix.O_RDONLY); err != unix.ENOENT {
		t.Errorf("open after pid reuse: %v", err)
	}
	if _, err := mustWalk(t, fs, "5/status").Open(unix.O_RDONLY); err != nil {
		t.Errorf("a fresh lookup: %v", err)
	}
}

func TestConcurrent(t *testing.T) {
	fs, src := newTestFS(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int32(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			src.mu.Lock()
			if i%2 == 0 {
				src.procs[20] = &Process{PID: 20, Comm: "flicker", State: 'R', Start: time.Duration(i)}
			} else {
				delete(src.procs, 20)
			}
			src.mu.Unlock()
		}
	}()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				for _, p := range []string{"self/stat", "1/status", "20/stat", "meminfo", "1/maps"} {
					n, err := walk(fs, p, false)
					if err != nil {
						continue
					}
					f, err := n.Open(unix.O_RDONLY)
					if err != nil {
						continue
					}
					buf := make([]byte, 64)
					for {
						if k, err := f.Read(buf); k == 0 || err != nil {
							break
						}
					}
					f.Close()
				}
				if df, err := fs.Root().Open(unix.O_RDONLY); err == nil {
					df.Getdents(make([]byte, 512))
					df.Seek(0, unix.SEEK_SET)
				}
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
}

func TestErrnoTypes(t *testing.T) {
	fs, _ := newTestFS(t)
	_, err := fs.Root().Lookup("nope")
	var errno unix.Errno
	if !errors.As(err, &errno) {
		t.Errorf("error %T is not an Errno", err)
	}
	if _, err := mustWalk(t, fs, "meminfo").Lookup("x"); err != unix.ENOTDIR {
		t.Errorf("lookup in a file: %v", err)
	}
	if _, err := mustWalk(t, fs, "meminfo").Readlink(); err != unix.EINVAL {
		t.Errorf("readlink of a file: %v", err)
	}
}
