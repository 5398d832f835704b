package proc

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	pageSize = 4096
	// userHZ is USER_HZ, the unit of clock_t figures.
	userHZ = 100
	// sigMask is what stat shows of signal sets: the low 31 bits.
	sigMask = 0x7fffffff
)

// ticks converts d to clock ticks as Linux's nsec_to_clock_t does.
func ticks(d time.Duration) uint64 {
	if d < 0 {
		return 0
	}
	return uint64(d) / uint64(time.Second/userHZ)
}

// encodeDev is Linux's new_encode_dev, stat's tty_nr encoding.
func encodeDev(dev uint64) uint64 {
	maj, min := uint64(unix.Major(dev)), uint64(unix.Minor(dev))
	return min&0xff | maj<<8 | (min&^0xff)<<12
}

func sortIDs(ids []int32) { slices.Sort(ids) }

// state returns the state letter, 'R' if the Source left it unset.
func state(s byte) byte {
	if s == 0 {
		return 'R'
	}
	return s
}

// stateNames are status's State descriptions.
var stateNames = map[byte]string{
	'R': "running", 'S': "sleeping", 'D': "disk sleep", 'T': "stopped",
	't': "tracing stop", 'X': "dead", 'Z': "zombie", 'P': "parked", 'I': "idle",
}

// numThreads is the thread count stat and status show: a zombie counts
// its leader until it is reaped.
func numThreads(p *Process) int {
	return max(len(p.Threads), 1)
}

// formatStat is /proc/PID/stat (whole) or /proc/PID/task/TID/stat: the 52
// fields of Linux's do_task_stat.
func formatStat(v *view, whole bool) []byte {
	p, t := v.p, &v.t
	minflt, majflt, utime, stime := t.MinFlt, t.MajFlt, t.Utime, t.Stime
	if whole {
		minflt, majflt, utime, stime = p.MinFlt, p.MajFlt, p.Utime, p.Stime
	}
	nthreads := numThreads(p)
	st := state(t.State)
	wchan := 0
	if (!whole || nthreads < 2) && st != 'R' {
		wchan = 1
	}
	prio := int64(20 + t.Nice)
	if t.Policy == unix.SCHED_FIFO || t.Policy == unix.SCHED_RR {
		prio = -1 - int64(t.RTPriority)
	}
	exitSignal := p.ExitSignal
	if t.TID != p.PID {
		exitSignal = -1 // threads of a group signal nobody
	}
	l := &p.Layout
	b := make([]byte, 0, 320)
	b = strconv.AppendInt(b, int64(t.TID), 10)
	b = append(b, " ("...)
	b = append(b, comm(t.Comm)...)
	b = append(b, ") "...)
	b = append(b, st)
	d := func(x int64) { b = append(b, ' '); b = strconv.AppendInt(b, x, 10) }
	u := func(x uint64) { b = append(b, ' '); b = strconv.AppendUint(b, x, 10) }
	d(int64(p.PPID))                  // 4 ppid
	d(int64(p.PGID))                  // 5 pgrp
	d(int64(p.SID))                   // 6 session
	u(encodeDev(p.TTY))               // 7 tty_nr
	d(int64(p.TPGID))                 // 8 tpgid
	u(uint64(p.Flags))                // 9 flags
	u(minflt)                         // 10 minflt
	u(p.CMinFlt)                      // 11 cminflt
	u(majflt)                         // 12 majflt
	u(p.CMajFlt)                      // 13 cmajflt
	u(ticks(utime))                   // 14 utime
	u(ticks(stime))                   // 15 stime
	u(ticks(p.CUtime))                // 16 cutime
	u(ticks(p.CStime))                // 17 cstime
	d(prio)                           // 18 priority
	d(int64(t.Nice))                  // 19 nice
	d(int64(nthreads))                // 20 num_threads
	d(0)                              // 21 itrealvalue
	u(ticks(t.Start))                 // 22 starttime
	u(p.Mem.Size)                     // 23 vsize
	u(p.Mem.RSS / pageSize)           // 24 rss
	u(p.Rlimits[unix.RLIMIT_RSS].Cur) // 25 rsslim
	u(l.StartCode)                    // 26 startcode
	u(l.EndCode)                      // 27 endcode
	u(l.StartStack)                   // 28 startstack
	u(0)                              // 29 kstkesp
	u(0)                              // 30 kstkeip
	u(t.SigPnd & sigMask)             // 31 signal
	u(t.SigBlk & sigMask)             // 32 blocked
	u(p.SigIgn & sigMask)             // 33 sigignore
	u(p.SigCgt & sigMask)             // 34 sigcatch
	d(int64(wchan))                   // 35 wchan
	u(0)                              // 36 nswap
	u(0)                              // 37 cnswap
	d(int64(exitSignal))              // 38 exit_signal
	d(int64(t.CPU))                   // 39 processor
	u(uint64(t.RTPriority))           // 40 rt_priority
	u(uint64(t.Policy))               // 41 policy
	u(0)                              // 42 delayacct_blkio_ticks
	u(0)                              // 43 guest_time
	d(0)                              // 44 cguest_time
	u(l.StartData)                    // 45 start_data
	u(l.EndData)                      // 46 end_data
	u(l.StartBrk)                     // 47 start_brk
	u(l.ArgStart)                     // 48 arg_start
	u(l.ArgEnd)                       // 49 arg_end
	u(l.EnvStart)                     // 50 env_start
	u(l.EnvEnd)                       // 51 env_end
	d(int64(p.ExitCode))              // 52 exit_code
	return append(b, '\n')
}

// escapeComm is status's Name: newline and backslash escaped.
func escapeComm(s string) string {
	return strings.NewReplacer("\\", "\\\\", "\n", "\\n").Replace(comm(s))
}

// formatStatus is /proc/PID/status, in Linux 6.x's order.
func formatStatus(v *view, ncpu int) []byte {
	p, t := v.p, &v.t
	var b strings.Builder
	kv := func(k string, val any) { fmt.Fprintf(&b, "%s:\t%v\n", k, val) }
	st := state(t.State)
	kv("Name", escapeComm(t.Comm))
	if len(p.Threads) > 0 { // a zombie has no fs context, so no umask
		fmt.Fprintf(&b, "Umask:\t%04o\n", p.Umask)
	}
	fmt.Fprintf(&b, "State:\t%c (%s)\n", st, stateNames[st])
	kv("Tgid", p.PID)
	kv("Ngid", 0)
	kv("Pid", t.TID)
	kv("PPid", p.PPID)
	kv("TracerPid", 0)
	fmt.Fprintf(&b, "Uid:\t%d\t%d\t%d\t%d\n", p.UID[0], p.UID[1], p.UID[2], p.UID[3])
	fmt.Fprintf(&b, "Gid:\t%d\t%d\t%d\t%d\n", p.GID[0], p.GID[1], p.GID[2], p.GID[3])
	kv("FDSize", p.FDSize)
	b.WriteString("Groups:\t")
	for i, g := range p.Groups {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatUint(uint64(g), 10))
	}
	b.WriteString(" \n") // Linux's trailing space
	kv("NStgid", p.PID)
	kv("NSpid", t.TID)
	kv("NSpgid", p.PGID)
	kv("NSsid", p.SID)
	kv("Kthread", 0)
	if m := &p.Mem; m.Size != 0 { // a zombie has no address space
		kb := func(k string, x uint64) { fmt.Fprintf(&b, "%s:\t%8d kB\n", k, x>>10) }
		kb("VmPeak", max(m.Peak, m.Size))
		kb("VmSize", m.Size)
		kb("VmLck", m.Locked)
		kb("VmPin", m.Pinned)
		kb("VmHWM", max(m.HWM, m.RSS))
		kb("VmRSS", m.RSS)
		kb("RssAnon", m.RSSAnon)
		kb("RssFile", m.RSSFile)
		kb("RssShmem", m.RSSShmem)
		kb("VmData", m.Data)
		kb("VmStk", m.Stack)
		kb("VmExe", m.Exe)
		kb("VmLib", m.Lib)
		kb("VmPTE", m.PTE)
		kb("VmSwap", m.Swap)
		kb("HugetlbPages", 0)
		kv("CoreDumping", 0)
		kv("THP_enabled", 1)
		kv("untag_mask", "0xffffffffffffffff")
	}
	kv("Threads", numThreads(p))
	fmt.Fprintf(&b, "SigQ:\t%d/%d\n", p.SigQueued, p.Rlimits[unix.RLIMIT_SIGPENDING].Cur)
	hex := func(k string, x uint64) { fmt.Fprintf(&b, "%s:\t%016x\n", k, x) }
	hex("SigPnd", t.SigPnd)
	hex("ShdPnd", p.ShdPnd)
	hex("SigBlk", t.SigBlk)
	hex("SigIgn", p.SigIgn)
	hex("SigCgt", p.SigCgt)
	hex("CapInh", p.CapInh)
	hex("CapPrm", p.CapPrm)
	hex("CapEff", p.CapEff)
	hex("CapBnd", p.CapBnd)
	hex("CapAmb", p.CapAmb)
	kv("NoNewPrivs", b2i(p.NoNewPrivs))
	kv("Seccomp", p.Seccomp)
	kv("Seccomp_filters", b2i(p.Seccomp == 2))
	kv("Speculation_Store_Bypass", "thread vulnerable")
	kv("SpeculationIndirectBranch", "conditional enabled")
	ncpu = max(min(ncpu, 64), 1)
	cpus := t.CPUs
	all := uint64(1)<<ncpu - 1
	if ncpu == 64 {
		all = ^uint64(0)
	}
	if cpus == 0 {
		cpus = all
	}
	cpus &= all
	kv("Cpus_allowed", bitmapString(cpus, ncpu))
	kv("Cpus_allowed_list", bitmapList(cpus))
	kv("Mems_allowed", strings.Repeat("00000000,", 31)+"00000001")
	kv("Mems_allowed_list", 0)
	kv("voluntary_ctxt_switches", t.VoluntaryCtxt)
	kv("nonvoluntary_ctxt_switches", t.NonvoluntaryCtxt)
	return []byte(b.String())
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bitmapString is the kernel's %*pb: nbits bits in hex, 32-bit groups
// separated by commas, the first group only as wide as its bits need.
func bitmapString(mask uint64, nbits int) string {
	var parts []string
	first := nbits % 32
	if first == 0 {
		first = 32
	}
	for hi := ((nbits + 31) / 32) * 32; hi > 0; hi -= 32 {
		w := 32
		if len(parts) == 0 {
			w = first
		}
		lo := hi - 32
		var chunk uint64
		if lo < 64 {
			chunk = mask >> lo & 0xffffffff
		}
		parts = append(parts, fmt.Sprintf("%0*x", (w+3)/4, chunk))
	}
	return strings.Join(parts, ",")
}

// bitmapList is the kernel's %*pbl: ranges of set bits ("0-1,4").
func bitmapList(mask uint64) string {
	var parts []string
	for i := 0; i < 64; {
		if mask&(1<<i) == 0 {
			i++
			continue
		}
		j := i
		for j+1 < 64 && mask&(1<<(j+1)) != 0 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(i))
		} else {
			parts = append(parts, strconv.Itoa(i)+"-"+strconv.Itoa(j))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// appendHex appends x in lowercase hex, zero-padded to width digits.
func appendHex(b []byte, x uint64, width int) []byte {
	s := strconv.FormatUint(x, 16)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// mapsNameColumn is where a maps line's name starts: Linux pads the
// fields to 25 + 6*sizeof(void *) - 1 = 72 columns, then a space.
const mapsNameColumn = 72

// appendMapping appends one /proc/PID/maps line, byte for byte as Linux's
// show_map_vma writes it (an unnamed mapping keeps the trailing space).
func appendMapping(b []byte, m *Mapping) []byte {
	start := len(b)
	b = appendHex(b, m.Start, 8)
	b = append(b, '-')
	b = appendHex(b, m.End, 8)
	b = append(b, ' ')
	perm := func(on bool, c byte) byte {
		if on {
			return c
		}
		return '-'
	}
	b = append(b, perm(m.Read, 'r'), perm(m.Write, 'w'), perm(m.Exec, 'x'))
	if m.Shared {
		b = append(b, 's')
	} else {
		b = append(b, 'p')
	}
	b = append(b, ' ')
	b = appendHex(b, m.Offset, 8)
	b = append(b, ' ')
	b = appendHex(b, uint64(unix.Major(m.Dev)), 2)
	b = append(b, ':')
	b = appendHex(b, uint64(unix.Minor(m.Dev)), 2)
	b = append(b, ' ')
	b = strconv.AppendUint(b, m.Inode, 10)
	b = append(b, ' ')
	if m.Path != "" {
		for len(b)-start < mapsNameColumn {
			b = append(b, ' ')
		}
		b = append(b, ' ')
		b = append(b, strings.ReplaceAll(m.Path, "\n", "\\012")...)
	}
	return append(b, '\n')
}

// rlimitNames are /proc/PID/limits' rows: name and unit by RLIMIT_*.
var rlimitNames = [NumRlimits][2]string{
	unix.RLIMIT_CPU:     {"Max cpu time", "seconds"},
	unix.RLIMIT_FSIZE:   {"Max file size", "bytes"},
	unix.RLIMIT_DATA:    {"Max data size", "bytes"},
	unix.RLIMIT_STACK:   {"Max stack size", "bytes"},
	unix.RLIMIT_CORE:    {"Max core file size", "bytes"},
	unix.RLIMIT_RSS:     {"Max resident set", "bytes"},
	unix.RLIMIT_NPROC:   {"Max processes", "processes"},
	unix.RLIMIT_NOFILE:  {"Max open files", "files"},
	unix.RLIMIT_MEMLOCK: {"Max locked memory", "bytes"},
	unix.RLIMIT_AS:      {"Max address space", "bytes"},
	10:                  {"Max file locks", "locks"},        // RLIMIT_LOCKS
	11:                  {"Max pending signals", "signals"}, // RLIMIT_SIGPENDING
	12:                  {"Max msgqueue size", "bytes"},     // RLIMIT_MSGQUEUE
	13:                  {"Max nice priority", ""},          // RLIMIT_NICE
	14:                  {"Max realtime priority", ""},      // RLIMIT_RTPRIO
	15:                  {"Max realtime timeout", "us"},     // RLIMIT_RTTIME
}

// formatLimits is /proc/PID/limits.
func formatLimits(r *[NumRlimits]Rlimit) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%-25s %-20s %-20s %-10s\n", "Limit", "Soft Limit", "Hard Limit", "Units")
	val := func(x uint64) string {
		if x == RlimInfinity {
			return "unlimited"
		}
		return strconv.FormatUint(x, 10)
	}
	for i, n := range rlimitNames {
		fmt.Fprintf(&b, "%-25s %-20s %-20s ", n[0], val(r[i].Cur), val(r[i].Max))
		if n[1] != "" {
			fmt.Fprintf(&b, "%-10s", n[1])
		}
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// mangle escapes what would break a mounts line: space, tab, newline and
// backslash become octal escapes, as Linux's mangle does.
func mangle(s string) string {
	if !strings.ContainsAny(s, " \t\n\\") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// mountsOptions is /proc/mounts' fourth column: the per-mount options
// followed by the file system's own (less its rw/ro, which the mount's
// already says).
func mountsOptions(m *Mount) string {
	opts := m.Options
	if opts == "" {
		opts = "rw"
	}
	for _, o := range strings.Split(m.SuperOptions, ",") {
		if o != "" && o != "rw" && o != "ro" {
			opts += "," + o
		}
	}
	return opts
}

// formatMounts is /proc/PID/mounts.
func formatMounts(ms []Mount) []byte {
	var b strings.Builder
	for i := range ms {
		m := &ms[i]
		fmt.Fprintf(&b, "%s %s %s %s 0 0\n", mangle(orNone(m.Source)), mangle(m.Point),
			mangle(m.FSType), mountsOptions(m))
	}
	return []byte(b.String())
}

// formatMountinfo is /proc/PID/mountinfo.
func formatMountinfo(ms []Mount) []byte {
	var b strings.Builder
	for i := range ms {
		m := &ms[i]
		root := m.Root
		if root == "" {
			root = "/"
		}
		opts := m.Options
		if opts == "" {
			opts = "rw"
		}
		sopts := m.SuperOptions
		if sopts == "" {
			sopts = "rw"
		}
		fmt.Fprintf(&b, "%d %d %d:%d %s %s %s", m.ID, m.ParentID, unix.Major(m.Dev), unix.Minor(m.Dev),
			mangle(root), mangle(m.Point), opts)
		if m.Optional != "" {
			b.WriteString(" " + m.Optional)
		}
		fmt.Fprintf(&b, " - %s %s %s\n", mangle(m.FSType), mangle(orNone(m.Source)), sopts)
	}
	return []byte(b.String())
}

// formatFdinfo is /proc/PID/fdinfo/N.
func formatFdinfo(f *FD) []byte {
	s := fmt.Sprintf("pos:\t%d\nflags:\t0%o\nmnt_id:\t%d\nino:\t%d\n", f.Pos, f.Flags, f.MntID, f.Ino)
	return []byte(s + f.Extra)
}
