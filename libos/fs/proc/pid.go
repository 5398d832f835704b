package proc

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// pctx names the task a /proc/PID or /proc/PID/task/TID directory shows.
type pctx struct {
	fs   *FS
	tgid int32
	tid  int32
	// whole is true for /proc/PID (figures of the whole process, with a
	// task/ directory) and false for /proc/PID/task/TID.
	whole bool
	// start is the process's start time when it was looked up: a pid
	// reused by another process does not match.
	start time.Duration
	dir   string // the directory's path within /proc
}

// view is what one file shows: the process and the thread its directory
// names.
type view struct {
	p *Process
	t Thread
}

// view snapshots the process; ENOENT once it is gone (or its pid belongs
// to another process now), or when the thread has gone.
func (c *pctx) view() (*view, error) {
	p, ok := c.fs.src.Process(c.tgid)
	if !ok || p.Start != c.start {
		return nil, unix.ENOENT
	}
	for _, t := range p.Threads {
		if t.TID == c.tid {
			return &view{p, t}, nil
		}
	}
	if c.tid != c.tgid {
		return nil, unix.ENOENT
	}
	// The leader has exited (a zombie, or a process whose other threads
	// live on): show the process's own figures.
	return &view{p, Thread{TID: c.tid, Comm: p.Comm, State: p.State, Start: p.Start}}, nil
}

// newPctx makes the context of /proc/<tid> (whole) or
// /proc/<tgid>/task/<tid>, checking that it exists.
func (fs *FS) newPctx(tgid, tid int32, whole bool, dir string) (*pctx, error) {
	p, ok := fs.src.Process(tgid)
	if !ok {
		return nil, unix.ENOENT
	}
	c := &pctx{fs: fs, tgid: tgid, tid: tid, whole: whole, start: p.Start, dir: dir}
	if _, err := c.view(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseID parses a directory name as a pid the way Linux does: decimal,
// no sign, no leading zero.
func parseID(name string) (int32, bool) {
	if name == "" || (len(name) > 1 && name[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '0' || name[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(name, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// entry is one file of a process directory.
type entry struct {
	name string
	mode uint32
	// processOnly leaves the entry out of task/TID (task/ itself).
	processOnly bool
	// present is nil or says whether the entry exists.
	present  func(fs *FS) bool
	read     func(c *pctx, v *view) ([]byte, error)
	write    func(c *pctx, b []byte) error // nil: read-only
	canWrite func(fs *FS) bool             // nil: writable whenever write is set
	link     func(c *pctx, v *view) (*vfs.Dentry, string, error)
	dir      func(c *pctx, n *inode)
}

// pidEntries are the files of /proc/PID, alphabetical (the order getdents
// lists them in).
var pidEntries = []entry{
	{name: "auxv", mode: unix.S_IFREG | 0o400, read: func(_ *pctx, v *view) ([]byte, error) { return v.p.Auxv, nil }},
	{name: "cgroup", mode: unix.S_IFREG | 0o444, read: genCgroup},
	{name: "cmdline", mode: unix.S_IFREG | 0o444, read: func(_ *pctx, v *view) ([]byte, error) { return nulJoin(v.p.Cmdline), nil }},
	{name: "comm", mode: unix.S_IFREG | 0o644, read: func(_ *pctx, v *view) ([]byte, error) { return []byte(comm(v.t.Comm) + "\n"), nil },
		write: writeComm, canWrite: func(fs *FS) bool { _, ok := fs.src.(CommSetter); return ok }},
	{name: "coredump_filter", mode: unix.S_IFREG | 0o644, read: constant("00000033\n")},
	{name: "cpuset", mode: unix.S_IFREG | 0o444, read: constant("/\n")},
	{name: "cwd", mode: unix.S_IFLNK | 0o777, link: func(_ *pctx, v *view) (*vfs.Dentry, string, error) { return magic(v.p.CwdDentry, v.p.Cwd) }},
	{name: "environ", mode: unix.S_IFREG | 0o400, read: func(_ *pctx, v *view) ([]byte, error) { return nulJoin(v.p.Environ), nil }},
	{name: "exe", mode: unix.S_IFLNK | 0o777, link: func(_ *pctx, v *view) (*vfs.Dentry, string, error) { return magic(v.p.ExeDentry, v.p.Exe) }},
	{name: "fd", mode: unix.S_IFDIR | 0o500, dir: func(c *pctx, n *inode) {
		n.dir = fdDir{c, false}
		// st_size is the number of open fds, as on Linux 6.x.
		n.sizeFn = func() (int64, error) {
			fds, ok := c.fs.src.Files(c.tgid)
			if !ok {
				return 0, unix.ENOENT
			}
			return int64(len(fds)), nil
		}
	}},
	{name: "fdinfo", mode: unix.S_IFDIR | 0o555, dir: func(c *pctx, n *inode) { n.dir = fdDir{c, true} }},
	{name: "gid_map", mode: unix.S_IFREG | 0o644, read: constant(idMap)},
	{name: "io", mode: unix.S_IFREG | 0o400, read: genIO},
	{name: "limits", mode: unix.S_IFREG | 0o444, read: func(_ *pctx, v *view) ([]byte, error) { return formatLimits(&v.p.Rlimits), nil }},
	{name: "loginuid", mode: unix.S_IFREG | 0o644, read: func(_ *pctx, v *view) ([]byte, error) {
		return strconv.AppendUint(nil, uint64(v.p.LoginUID), 10), nil
	}},
	{name: "maps", mode: unix.S_IFREG | 0o444, read: genMaps},
	{name: "mountinfo", mode: unix.S_IFREG | 0o444, read: genMountinfo},
	{name: "mounts", mode: unix.S_IFREG | 0o444, read: genMounts},
	{name: "net", mode: unix.S_IFDIR | 0o555, present: (*FS).hasNet, dir: func(c *pctx, n *inode) { n.dir = netDir{c} }},
	{name: "oom_score", mode: unix.S_IFREG | 0o444, read: func(_ *pctx, v *view) ([]byte, error) {
		return []byte(strconv.FormatUint(v.p.OOMScore, 10) + "\n"), nil
	}},
	{name: "oom_score_adj", mode: unix.S_IFREG | 0o644, read: func(_ *pctx, v *view) ([]byte, error) {
		return []byte(strconv.Itoa(int(v.p.OOMScoreAdj)) + "\n"), nil
	}, write: writeOOMScoreAdj, canWrite: func(fs *FS) bool { _, ok := fs.src.(OOMScoreAdjSetter); return ok }},
	{name: "personality", mode: unix.S_IFREG | 0o400, read: constant("00000000\n")},
	{name: "root", mode: unix.S_IFLNK | 0o777, link: func(_ *pctx, v *view) (*vfs.Dentry, string, error) { return magic(v.p.RootDentry, v.p.Root) }},
	{name: "sessionid", mode: unix.S_IFREG | 0o444, read: func(_ *pctx, v *view) ([]byte, error) {
		return strconv.AppendUint(nil, uint64(v.p.SessionID), 10), nil
	}},
	{name: "setgroups", mode: unix.S_IFREG | 0o644, read: constant("allow\n")},
	{name: "stat", mode: unix.S_IFREG | 0o444, read: func(c *pctx, v *view) ([]byte, error) {
		return formatStat(v, c.whole), nil
	}},
	{name: "statm", mode: unix.S_IFREG | 0o444, read: genStatm},
	{name: "status", mode: unix.S_IFREG | 0o444, read: func(c *pctx, v *view) ([]byte, error) {
		return formatStatus(v, c.fs.src.System().NumCPU), nil
	}},
	{name: "task", mode: unix.S_IFDIR | 0o555, processOnly: true, dir: func(c *pctx, n *inode) {
		n.dir = taskDir{c}
		n.nlink = func() (uint64, error) {
			v, err := c.view()
			if err != nil {
				return 0, err
			}
			return 2 + uint64(len(v.p.Threads)), nil
		}
	}},
	{name: "uid_map", mode: unix.S_IFREG | 0o644, read: constant(idMap)},
	{name: "wchan", mode: unix.S_IFREG | 0o444, read: constant("0")},
}

// idMap is uid_map and gid_map: the container sees the identity mapping of
// every id, as in an initial user namespace.
const idMap = "         0          0 4294967295\n"

func constant(s string) func(*pctx, *view) ([]byte, error) {
	return func(*pctx, *view) ([]byte, error) { return []byte(s), nil }
}

// magic is a link to a process's file: ENOENT when it has none (a
// zombie), else the dentry to jump to (if the Source gave one) and the
// text readlink shows.
func magic(d *vfs.Dentry, target string) (*vfs.Dentry, string, error) {
	if target == "" {
		return nil, "", unix.ENOENT
	}
	return d, target, nil
}

// nulJoin is cmdline's and environ's format: each string followed by NUL.
func nulJoin(ss []string) []byte {
	var b []byte
	for _, s := range ss {
		b = append(b, s...)
		b = append(b, 0)
	}
	return b
}

// comm cuts a task name to TASK_COMM_LEN-1 bytes.
func comm(s string) string {
	if len(s) > 15 {
		return s[:15]
	}
	return s
}

func genCgroup(c *pctx, v *view) ([]byte, error) {
	cg := v.p.Cgroup
	if cg == "" {
		cg = "/"
	}
	var b strings.Builder
	for i, h := range c.fs.opts.CgroupV1 {
		fmt.Fprintf(&b, "%d:%s:%s\n", len(c.fs.opts.CgroupV1)-i, h, cg)
	}
	b.WriteString("0::" + cg + "\n")
	return []byte(b.String()), nil
}

func genIO(_ *pctx, v *view) ([]byte, error) {
	io := v.p.IO
	var b strings.Builder
	for _, f := range []struct {
		k string
		v uint64
	}{
		{"rchar", io.RChar}, {"wchar", io.WChar}, {"syscr", io.SyscR}, {"syscw", io.SyscW},
		{"read_bytes", io.ReadBytes}, {"write_bytes", io.WriteBytes}, {"cancelled_write_bytes", 0},
	} {
		b.WriteString(f.k + ": " + strconv.FormatUint(f.v, 10) + "\n")
	}
	return []byte(b.String()), nil
}

func genMaps(c *pctx, _ *view) ([]byte, error) {
	ms, ok := c.fs.src.Maps(c.tgid)
	if !ok {
		return nil, unix.ENOENT
	}
	var b []byte
	for i := range ms {
		b = appendMapping(b, &ms[i])
	}
	return b, nil
}

func genMounts(c *pctx, _ *view) ([]byte, error) {
	ms, ok := c.fs.src.Mounts(c.tgid)
	if !ok {
		return nil, unix.ENOENT
	}
	return formatMounts(ms), nil
}

func genMountinfo(c *pctx, _ *view) ([]byte, error) {
	ms, ok := c.fs.src.Mounts(c.tgid)
	if !ok {
		return nil, unix.ENOENT
	}
	return formatMountinfo(ms), nil
}

func genStatm(_ *pctx, v *view) ([]byte, error) {
	m := v.p.Mem
	pg := func(x uint64) string { return strconv.FormatUint(x/pageSize, 10) }
	s := strings.Join([]string{
		pg(m.Size), pg(m.RSS), pg(m.RSSFile + m.RSSShmem), pg(m.Exe), "0", pg(m.Data + m.Stack), "0",
	}, " ")
	return []byte(s + "\n"), nil
}

// writeOOMScoreAdj parses a decimal in [-1000, 1000] as Linux does
// (surrounding whitespace allowed) and hands it to the Source.
func writeOOMScoreAdj(c *pctx, b []byte) error {
	s, ok := c.fs.src.(OOMScoreAdjSetter)
	if !ok {
		return unix.EACCES
	}
	if len(b) > 23 {
		b = b[:23]
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return unix.EINVAL
	}
	if v < -1000 || v > 1000 {
		return unix.EINVAL
	}
	if _, err := c.view(); err != nil {
		return unix.ESRCH
	}
	return s.SetOOMScoreAdj(c.tgid, int32(v))
}

// writeComm renames the directory's thread: the name up to a newline,
// cut to 15 bytes.
func writeComm(c *pctx, b []byte) error {
	s, ok := c.fs.src.(CommSetter)
	if !ok {
		return unix.EACCES
	}
	name, _, _ := strings.Cut(string(b), "\n")
	if _, err := c.view(); err != nil {
		return unix.ESRCH
	}
	return s.SetComm(c.tgid, c.tid, comm(name))
}

// pidDir is /proc/PID or /proc/PID/task/TID.
type pidDir struct{ c *pctx }

func (d pidDir) list() ([]dirent, error) {
	if _, err := d.c.view(); err != nil {
		return nil, err
	}
	out := make([]dirent, 0, len(pidEntries))
	for i := range pidEntries {
		e := &pidEntries[i]
		if (e.processOnly && !d.c.whole) || (e.present != nil && !e.present(d.c.fs)) {
			continue
		}
		out = append(out, dirent{e.name, dtype(e.mode)})
	}
	return out, nil
}

func (d pidDir) lookup(name string) (*inode, error) {
	if _, err := d.c.view(); err != nil {
		return nil, err
	}
	for i := range pidEntries {
		e := &pidEntries[i]
		if e.name != name || (e.processOnly && !d.c.whole) || (e.present != nil && !e.present(d.c.fs)) {
			continue
		}
		return d.c.node(e), nil
	}
	return nil, unix.ENOENT
}

// node makes the inode of one entry of c's directory.
func (c *pctx) node(e *entry) *inode {
	n := c.fs.newNode(join(c.dir, e.name), e.mode, c)
	switch {
	case e.read != nil:
		n.read = func() ([]byte, error) {
			v, err := c.view()
			if err != nil {
				return nil, err
			}
			return e.read(c, v)
		}
		if e.write != nil && (e.canWrite == nil || e.canWrite(c.fs)) {
			n.write = func(b []byte) error { return e.write(c, b) }
		}
	case e.link != nil:
		n.link = func(any) (*vfs.Dentry, string, error) {
			v, err := c.view()
			if err != nil {
				return nil, "", err
			}
			return e.link(c, v)
		}
	case e.dir != nil:
		e.dir(c, n)
	}
	return n
}

// pidDirNode makes the inode of /proc/<tid> (whole) or
// /proc/<tgid>/task/<tid>.
func (fs *FS) pidDirNode(tgid, tid int32, whole bool, dir string) (*inode, error) {
	c, err := fs.newPctx(tgid, tid, whole, dir)
	if err != nil {
		return nil, err
	}
	n := fs.newNode(dir, unix.S_IFDIR|0o555, c)
	n.dir = pidDir{c}
	subdirs := uint64(2) // fd, fdinfo
	if whole {
		subdirs++ // task
	}
	if fs.hasNet() {
		subdirs++
	}
	n.nlink = func() (uint64, error) { return 2 + subdirs, nil }
	return n, nil
}

// taskDir is /proc/PID/task.
type taskDir struct{ c *pctx }

func (d taskDir) list() ([]dirent, error) {
	v, err := d.c.view()
	if err != nil {
		return nil, err
	}
	tids := make([]int32, 0, len(v.p.Threads))
	for _, t := range v.p.Threads {
		tids = append(tids, t.TID)
	}
	sortIDs(tids)
	out := make([]dirent, 0, len(tids))
	for _, t := range tids {
		out = append(out, dirent{strconv.Itoa(int(t)), unix.DT_DIR})
	}
	return out, nil
}

func (d taskDir) lookup(name string) (*inode, error) {
	tid, ok := parseID(name)
	if !ok {
		return nil, unix.ENOENT
	}
	v, err := d.c.view()
	if err != nil {
		return nil, err
	}
	for _, t := range v.p.Threads {
		if t.TID == tid {
			return d.c.fs.pidDirNode(d.c.tgid, tid, false, join(join(d.c.dir, "task"), name))
		}
	}
	return nil, unix.ENOENT
}

// fdDir is /proc/PID/fd (links) or /proc/PID/fdinfo (files).
type fdDir struct {
	c    *pctx
	info bool
}

func (d fdDir) path() string {
	if d.info {
		return join(d.c.dir, "fdinfo")
	}
	return join(d.c.dir, "fd")
}

func (d fdDir) files() ([]FD, error) {
	if _, err := d.c.view(); err != nil {
		return nil, err
	}
	fds, ok := d.c.fs.src.Files(d.c.tgid)
	if !ok {
		return nil, unix.ENOENT
	}
	return fds, nil
}

func (d fdDir) list() ([]dirent, error) {
	fds, err := d.files()
	if err != nil {
		return nil, err
	}
	typ := uint8(unix.DT_LNK)
	if d.info {
		typ = unix.DT_REG
	}
	out := make([]dirent, 0, len(fds))
	for _, f := range fds {
		out = append(out, dirent{strconv.Itoa(int(f.Num)), typ})
	}
	return out, nil
}

// find returns fd num of the process now.
func (d fdDir) find(num int32) (FD, error) {
	fds, err := d.files()
	if err != nil {
		return FD{}, err
	}
	for _, f := range fds {
		if f.Num == num {
			return f, nil
		}
	}
	return FD{}, unix.ENOENT
}

func (d fdDir) lookup(name string) (*inode, error) {
	num, ok := parseID(name)
	if !ok {
		return nil, unix.ENOENT
	}
	f, err := d.find(num)
	if err != nil {
		return nil, err
	}
	p := join(d.path(), name)
	alive := func() error { _, err := d.find(num); return err }
	if d.info {
		n := d.c.fs.newNode(p, unix.S_IFREG|0o444, d.c)
		n.alive = alive
		n.read = func() ([]byte, error) {
			f, err := d.find(num)
			if err != nil {
				return nil, err
			}
			return formatFdinfo(&f), nil
		}
		return n, nil
	}
	n := d.c.fs.newNode(p, unix.S_IFLNK|fdLinkPerm(f.Flags), d.c)
	n.size = 64
	n.alive = alive
	n.link = func(any) (*vfs.Dentry, string, error) {
		f, err := d.find(num)
		if err != nil {
			return nil, "", err
		}
		return f.Dentry, f.Target, nil
	}
	n.file = func() (vfs.File, error) {
		f, err := d.find(num)
		if err != nil {
			return nil, err
		}
		return f.File, nil
	}
	return n, nil
}

// fdLinkPerm is an fd link's mode as Linux gives it: r-x for reading,
// -wx for writing, none for O_PATH.
func fdLinkPerm(flags int) uint32 {
	if flags&unix.O_PATH != 0 {
		return 0
	}
	switch flags & unix.O_ACCMODE {
	case unix.O_RDONLY:
		return 0o500
	case unix.O_WRONLY:
		return 0o300
	}
	return 0o700
}

// ProcessDir reports which process a /proc/<pid> directory shows, for
// pidfd_send_signal, which takes such a directory's fd as a pidfd (Linux's
// tgid_pidfd_to_pid): its tgid and its start time since boot, which tells
// it from a later process given the same pid. ok is false for any other
// inode, /proc/<pid>/task/<tid> included.
func ProcessDir(in vfs.Inode) (tgid int32, start time.Duration, ok bool) {
	n, isProc := in.(*inode)
	if !isProc {
		return 0, 0, false
	}
	d, isPid := n.dir.(pidDir)
	if !isPid || !d.c.whole {
		return 0, 0, false
	}
	return d.c.tgid, d.c.start, true
}
