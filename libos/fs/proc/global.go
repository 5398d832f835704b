package proc

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/vfs"
)

// global is one file or link directly in /proc.
type global struct {
	name string
	mode uint32
	read func(fs *FS) ([]byte, error)
	link func(fs *FS) (string, error)
	// self is a link whose target depends on the task following it.
	self func(tgid, tid int32) string
}

// globals are /proc's own entries, in the order getdents lists them
// (before the process directories).
var globals = []global{
	{name: "cmdline", mode: unix.S_IFREG | 0o444, read: func(fs *FS) ([]byte, error) { return []byte(fs.opts.KernelCmdline + "\n"), nil }},
	{name: "cpuinfo", mode: unix.S_IFREG | 0o444, read: genCPUInfo},
	{name: "filesystems", mode: unix.S_IFREG | 0o444, read: func(fs *FS) ([]byte, error) {
		return []byte(strings.Join(fs.opts.FileSystems, "\n") + "\n"), nil
	}},
	{name: "loadavg", mode: unix.S_IFREG | 0o444, read: genLoadavg},
	{name: "meminfo", mode: unix.S_IFREG | 0o444, read: genMeminfo},
	{name: "mounts", mode: unix.S_IFLNK | 0o777, link: func(*FS) (string, error) { return "self/mounts", nil }},
	{name: "net", mode: unix.S_IFLNK | 0o777, link: func(*FS) (string, error) { return "self/net", nil }},
	{name: "self", mode: unix.S_IFLNK | 0o777, self: func(tgid, _ int32) string {
		return strconv.Itoa(int(tgid))
	}},
	{name: "stat", mode: unix.S_IFREG | 0o444, read: genStat},
	{name: "swaps", mode: unix.S_IFREG | 0o444, read: func(*FS) ([]byte, error) {
		return []byte("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"), nil
	}},
	{name: "sys", mode: unix.S_IFDIR | 0o555},
	{name: "thread-self", mode: unix.S_IFLNK | 0o777, self: func(tgid, tid int32) string {
		return strconv.Itoa(int(tgid)) + "/task/" + strconv.Itoa(int(tid))
	}},
	{name: "uptime", mode: unix.S_IFREG | 0o444, read: genUptime},
	{name: "version", mode: unix.S_IFREG | 0o444, read: func(fs *FS) ([]byte, error) { return []byte(fs.versionLine()), nil }},
	{name: "vmstat", mode: unix.S_IFREG | 0o444, read: genVmstat},
}

// rootDir is /proc itself: its own entries, then one directory per
// process.
type rootDir struct{ fs *FS }

func (d rootDir) list() ([]dirent, error) {
	pids := d.fs.src.Processes()
	out := make([]dirent, 0, len(globals)+len(pids))
	for _, g := range globals {
		if g.name == "net" && !d.fs.hasNet() {
			continue
		}
		out = append(out, dirent{g.name, dtype(g.mode)})
	}
	for _, p := range pids {
		out = append(out, dirent{strconv.Itoa(int(p)), unix.DT_DIR})
	}
	return out, nil
}

func (d rootDir) lookup(name string) (*inode, error) {
	if id, ok := parseID(name); ok {
		tgid, ok := d.fs.src.ThreadGroupOf(id)
		if !ok {
			return nil, unix.ENOENT
		}
		return d.fs.pidDirNode(tgid, id, true, "/"+name)
	}
	for i := range globals {
		g := &globals[i]
		if g.name != name || (g.name == "net" && !d.fs.hasNet()) {
			continue
		}
		if g.name == "sys" {
			return d.fs.sys.node("/sys", d.fs.sys.root), nil
		}
		n := d.fs.newNode("/"+name, g.mode, nil)
		switch {
		case g.read != nil:
			n.read = func() ([]byte, error) { return g.read(d.fs) }
		case g.link != nil:
			n.link = func(any) (*vfs.Dentry, string, error) {
				target, err := g.link(d.fs)
				return nil, target, err
			}
		default:
			n.link = func(caller any) (*vfs.Dentry, string, error) {
				tgid, tid := d.fs.src.Caller(caller)
				if tgid <= 0 {
					return nil, "", unix.ENOENT
				}
				return nil, g.self(tgid, tid), nil
			}
		}
		return n, nil
	}
	return nil, unix.ENOENT
}

// genCPUInfo passes the host's cpuinfo through, or makes a minimal one.
func genCPUInfo(fs *FS) ([]byte, error) {
	if fs.opts.CPUInfo != nil {
		return fs.opts.CPUInfo, nil
	}
	var b strings.Builder
	for i := range max(fs.src.System().NumCPU, 1) {
		fmt.Fprintf(&b, "processor\t: %d\nvendor_id\t: unknown\nmodel name\t: unknown\n"+
			"flags\t\t: fpu tsc cx8 cmov sse sse2 syscall lm\n\n", i)
	}
	return []byte(b.String()), nil
}

// centis formats d as seconds with two decimals ("123.45").
func centis(d time.Duration) string {
	c := max(int64(d/(10*time.Millisecond)), 0)
	return fmt.Sprintf("%d.%02d", c/100, c%100)
}

func genUptime(fs *FS) ([]byte, error) {
	s := fs.src.System()
	return []byte(centis(s.Uptime) + " " + centis(s.Idle) + "\n"), nil
}

func genLoadavg(fs *FS) ([]byte, error) {
	s := fs.src.System()
	return []byte(fmt.Sprintf("%.2f %.2f %.2f %d/%d %d\n",
		s.Load[0], s.Load[1], s.Load[2], s.Running, s.Threads, s.LastPID)), nil
}

// genStat is /proc/stat.
func genStat(fs *FS) ([]byte, error) {
	s := fs.src.System()
	n := max(s.NumCPU, 1)
	cpus := s.CPUs
	if len(cpus) != n {
		cpus = make([]CPUTimes, n)
	}
	var total CPUTimes
	for _, c := range cpus {
		total.User += c.User
		total.Nice += c.Nice
		total.System += c.System
		total.Idle += c.Idle
		total.IOWait += c.IOWait
		total.IRQ += c.IRQ
		total.SoftIRQ += c.SoftIRQ
		total.Steal += c.Steal
		total.Guest += c.Guest
		total.GuestNice += c.GuestNice
	}
	var b strings.Builder
	line := func(name string, c *CPUTimes) {
		fmt.Fprintf(&b, "%s %d %d %d %d %d %d %d %d %d %d\n", name,
			ticks(c.User), ticks(c.Nice), ticks(c.System), ticks(c.Idle), ticks(c.IOWait),
			ticks(c.IRQ), ticks(c.SoftIRQ), ticks(c.Steal), ticks(c.Guest), ticks(c.GuestNice))
	}
	line("cpu ", &total)
	for i := range cpus {
		line("cpu"+strconv.Itoa(i), &cpus[i])
	}
	fmt.Fprintf(&b, "intr 0\nctxt %d\nbtime %d\nprocesses %d\nprocs_running %d\nprocs_blocked %d\n",
		s.Ctxt, s.Boot.Unix(), s.Forks, max(s.Running, 1), s.Blocked)
	b.WriteString("softirq 0 0 0 0 0 0 0 0 0 0 0\n")
	return []byte(b.String()), nil
}

// genMeminfo is /proc/meminfo with Linux 6.x's rows; what the Source does
// not know shows as 0.
func genMeminfo(fs *FS) ([]byte, error) {
	m := fs.src.System().Mem
	commitLimit := m.CommitLimit
	if commitLimit == 0 {
		commitLimit = m.Total/2 + m.SwapTotal
	}
	avail := m.Available
	if avail == 0 {
		avail = m.Free + m.Cached + m.Buffers
	}
	rows := []struct {
		k string
		v uint64
	}{
		{"MemTotal", m.Total}, {"MemFree", m.Free}, {"MemAvailable", avail},
		{"Buffers", m.Buffers}, {"Cached", m.Cached}, {"SwapCached", 0},
		{"Active", m.Active}, {"Inactive", m.Inactive},
		{"Active(anon)", 0}, {"Inactive(anon)", 0}, {"Active(file)", 0}, {"Inactive(file)", 0},
		{"Unevictable", m.Mlocked}, {"Mlocked", m.Mlocked},
		{"SwapTotal", m.SwapTotal}, {"SwapFree", m.SwapFree}, {"Zswap", 0}, {"Zswapped", 0},
		{"Dirty", m.Dirty}, {"Writeback", 0}, {"AnonPages", m.AnonPages}, {"Mapped", m.Mapped},
		{"Shmem", m.Shmem}, {"KReclaimable", 0}, {"Slab", m.Slab}, {"SReclaimable", 0},
		{"SUnreclaim", m.Slab}, {"KernelStack", m.KernelStack}, {"PageTables", m.PageTables},
		{"SecPageTables", 0}, {"NFS_Unstable", 0}, {"Bounce", 0}, {"WritebackTmp", 0},
		{"CommitLimit", commitLimit}, {"Committed_AS", m.Committed},
		{"VmallocTotal", 34359738367 << 10}, {"VmallocUsed", 0}, {"VmallocChunk", 0},
		{"Percpu", 0}, {"HardwareCorrupted", 0}, {"AnonHugePages", 0}, {"ShmemHugePages", 0},
		{"ShmemPmdMapped", 0}, {"FileHugePages", 0}, {"FilePmdMapped", 0},
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-16s%8d kB\n", r.k+":", r.v>>10)
	}
	for _, k := range []string{"HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp"} {
		fmt.Fprintf(&b, "%-16s%8d\n", k+":", 0)
	}
	fmt.Fprintf(&b, "%-16s%8d kB\n%-16s%8d kB\n", "Hugepagesize:", 2048, "Hugetlb:", 0)
	fmt.Fprintf(&b, "%-16s%8d kB\n%-16s%8d kB\n", "DirectMap4k:", 0, "DirectMap2M:", m.Total>>10)
	return []byte(b.String()), nil
}

// genVmstat is /proc/vmstat: the page counts meminfo shows, in pages,
// under vmstat's names, and the event counters the library OS does not
// keep (page-ins, swaps, faults machine-wide) as zeros. procps's vmstat
// and free refuse to run without the file.
func genVmstat(fs *FS) ([]byte, error) {
	m := fs.src.System().Mem
	const page = 4096
	rows := []struct {
		k string
		v uint64
	}{
		{"nr_free_pages", m.Free / page},
		{"nr_zone_inactive_anon", 0}, {"nr_zone_active_anon", m.AnonPages / page},
		{"nr_zone_inactive_file", m.Inactive / page}, {"nr_zone_active_file", 0},
		{"nr_zone_unevictable", m.Mlocked / page}, {"nr_zone_write_pending", m.Dirty / page},
		{"nr_mlock", m.Mlocked / page},
		{"nr_inactive_anon", 0}, {"nr_active_anon", m.AnonPages / page},
		{"nr_inactive_file", m.Inactive / page}, {"nr_active_file", 0},
		{"nr_unevictable", m.Mlocked / page},
		{"nr_slab_reclaimable", 0}, {"nr_slab_unreclaimable", m.Slab / page},
		{"nr_anon_pages", m.AnonPages / page}, {"nr_mapped", m.Mapped / page},
		{"nr_file_pages", (m.Cached + m.Buffers) / page}, {"nr_dirty", m.Dirty / page},
		{"nr_writeback", 0}, {"nr_shmem", m.Shmem / page},
		{"nr_kernel_stack", m.KernelStack >> 10}, {"nr_page_table_pages", m.PageTables / page},
		{"nr_dirty_threshold", m.Total / page / 5}, {"nr_dirty_background_threshold", m.Total / page / 10},
		{"pgpgin", 0}, {"pgpgout", 0}, {"pswpin", 0}, {"pswpout", 0},
		{"pgalloc_normal", 0}, {"pgfree", 0}, {"pgactivate", 0}, {"pgdeactivate", 0},
		{"pgfault", 0}, {"pgmajfault", 0}, {"pgrefill", 0},
		{"pgsteal_kswapd", 0}, {"pgsteal_direct", 0}, {"pgscan_kswapd", 0}, {"pgscan_direct", 0},
		{"oom_kill", 0},
	}
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s %d\n", r.k, r.v)
	}
	return []byte(b.String()), nil
}

// sysDir is /proc/sys: a tree of sysctl files, read-only as a
// container's /proc/sys is (opening one for writing is EROFS).
type sysDir struct {
	fs   *FS
	root *sysEntry
}

// sysEntry is a /proc/sys directory (children) or file (read).
type sysEntry struct {
	children map[string]*sysEntry
	read     func() []byte
}

// names are the directory's entries, sorted.
func (e *sysEntry) names() []string {
	ns := make([]string, 0, len(e.children))
	for n := range e.children {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// sysctls are /proc/sys's fixed files; hostname, domainname,
// osrelease, version and random/{uuid,boot_id} are added by newSysDir.
var sysctls = map[string]string{
	"kernel/ostype":                  "Linux",
	"kernel/pid_max":                 "4194304",
	"kernel/dmesg_restrict":          "1",
	"kernel/threads-max":             "126732",
	"kernel/ngroups_max":             "65536",
	"kernel/cap_last_cap":            "40",
	"kernel/overflowuid":             "65534",
	"kernel/overflowgid":             "65534",
	"kernel/randomize_va_space":      "2",
	"kernel/core_pattern":            "core",
	"kernel/shmmax":                  "18446744073692774399",
	"kernel/shmall":                  "18446744073692774399",
	"kernel/shmmni":                  "4096",
	"kernel/msgmax":                  "8192",
	"kernel/msgmnb":                  "16384",
	"kernel/msgmni":                  "32000",
	"kernel/sem":                     "32000\t1024000000\t500\t32000",
	"kernel/random/entropy_avail":    "256",
	"kernel/random/poolsize":         "256",
	"kernel/yama/ptrace_scope":       "0",
	"fs/file-max":                    "9223372036854775807",
	"fs/nr_open":                     "1048576",
	"fs/pipe-max-size":               "1048576",
	"fs/inotify/max_user_watches":    "8192",
	"fs/inotify/max_user_instances":  "128",
	"fs/inotify/max_queued_events":   "16384",
	"vm/overcommit_memory":           "0",
	"vm/overcommit_ratio":            "50",
	"vm/max_map_count":               "65530",
	"vm/mmap_min_addr":               "65536",
	"vm/swappiness":                  "60",
	"net/core/somaxconn":             "4096",
	"net/ipv4/ip_local_port_range":   "32768\t60999",
	"net/ipv4/tcp_fin_timeout":       "60",
	"net/ipv4/tcp_keepalive_time":    "7200",
	"net/ipv6/conf/all/disable_ipv6": "0",
	"net/ipv4/ip_forward":            "0",
	// Every group may open ping sockets, as container runtimes set it.
	"net/ipv4/ping_group_range": "0\t2147483647",
	"net/core/rmem_max":         "212992",
	"net/core/wmem_max":         "212992",
}

func newSysDir(fs *FS) *sysDir {
	s := &sysDir{fs: fs, root: &sysEntry{children: map[string]*sysEntry{}}}
	line := func(v string) func() []byte {
		if !strings.HasSuffix(v, "\n") {
			v += "\n"
		}
		return func() []byte { return []byte(v) }
	}
	for k, v := range sysctls {
		s.add(k, line(v))
	}
	s.add("kernel/osrelease", line(fs.opts.Release))
	s.add("kernel/version", line(fs.opts.Version))
	s.add("kernel/random/boot_id", line(fs.opts.BootID))
	s.add("kernel/random/uuid", func() []byte { return []byte(newUUID() + "\n") })
	s.add("kernel/hostname", func() []byte { return []byte(fs.src.System().Hostname + "\n") })
	s.add("kernel/domainname", func() []byte {
		d := fs.src.System().Domainname
		if d == "" {
			d = "(none)"
		}
		return []byte(d + "\n")
	})
	for k, v := range fs.opts.Sysctl {
		s.add(k, line(v))
	}
	return s
}

// add puts a file at p (relative to /proc/sys), making directories.
func (s *sysDir) add(p string, read func() []byte) {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	e := s.root
	for _, part := range parts[:len(parts)-1] {
		c := e.children[part]
		if c == nil || c.children == nil {
			c = &sysEntry{children: map[string]*sysEntry{}}
			e.children[part] = c
		}
		e = c
	}
	e.children[parts[len(parts)-1]] = &sysEntry{read: read}
}

// node makes the inode of e at p (a path within /proc).
func (s *sysDir) node(p string, e *sysEntry) *inode {
	if e.children == nil {
		n := s.fs.newNode(p, unix.S_IFREG|0o644, nil)
		n.errW = unix.EROFS
		n.read = func() ([]byte, error) { return e.read(), nil }
		return n
	}
	n := s.fs.newNode(p, unix.S_IFDIR|0o555, nil)
	n.dir = sysDirOps{s, p, e}
	subdirs := uint64(0)
	for _, c := range e.children {
		if c.children != nil {
			subdirs++
		}
	}
	n.nlink = func() (uint64, error) { return 2 + subdirs, nil }
	return n
}

// sysDirOps lists and looks up one /proc/sys directory.
type sysDirOps struct {
	s *sysDir
	p string
	e *sysEntry
}

func (d sysDirOps) list() ([]dirent, error) {
	names := d.e.names()
	out := make([]dirent, 0, len(names))
	for _, n := range names {
		typ := uint8(unix.DT_REG)
		if d.e.children[n].children != nil {
			typ = unix.DT_DIR
		}
		out = append(out, dirent{n, typ})
	}
	return out, nil
}

func (d sysDirOps) lookup(name string) (*inode, error) {
	c, ok := d.e.children[name]
	if !ok {
		return nil, unix.ENOENT
	}
	return d.s.node(join(d.p, name), c), nil
}
