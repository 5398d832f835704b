package kernel

import (
	"runtime"
	"sort"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/epoll"
	"exokernelul.dev/exo/libos/fs/eventfd"
	"exokernelul.dev/exo/libos/fs/inotify"
	"exokernelul.dev/exo/libos/fs/pipe"
	"exokernelul.dev/exo/libos/fs/proc"
	"exokernelul.dev/exo/libos/mm"
	"exokernelul.dev/exo/libos/vfs"
)

// ProcSource is the kernel seen by /proc (proc.Source): snapshots of its
// processes, their files, memory and mounts, and the machine's figures.
// Figures the kernel does not keep (page faults, context switches, I/O
// counts) read as zero.
func (k *Kernel) ProcSource() proc.Source { return procSource{k: k} }

// procSource is /proc for the whole sandbox, or (ctr set) for one
// container of it.
type procSource struct {
	k   *Kernel
	ctr *Container
}

// Caller implements proc.Source.
func (s procSource) Caller(caller any) (int32, int32) {
	t, ok := caller.(*Task)
	if !ok || t == nil {
		return 0, 0
	}
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	return t.tg.tgid, t.TID
}

// Processes implements proc.Source.
func (s procSource) Processes() []int32 {
	k := s.k
	k.mu.Lock()
	defer k.mu.Unlock()
	seen := make(map[int32]bool)
	var out []int32
	for _, t := range k.tasks {
		if id := t.tg.tgid; !seen[id] && s.visibleLocked(t.tg) {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ThreadGroupOf implements proc.Source.
func (s procSource) ThreadGroupOf(tid int32) (int32, bool) {
	k := s.k
	k.mu.Lock()
	defer k.mu.Unlock()
	t, ok := k.tasks[tid]
	if !ok || !s.visibleLocked(t.tg) {
		return 0, false
	}
	return t.tg.tgid, true
}

// groupLocked finds the process tgid, live or zombie, if this /proc
// shows it.
func (s procSource) groupLocked(tgid int32) *ThreadGroup {
	tg := s.k.groupLocked(tgid)
	if tg == nil || !s.visibleLocked(tg) {
		return nil
	}
	return tg
}

// groupLocked finds the process tgid, live or zombie.
func (k *Kernel) groupLocked(tgid int32) *ThreadGroup {
	t, ok := k.tasks[tgid]
	if !ok || t.tg.tgid != tgid {
		return nil
	}
	return t.tg
}

func taskState(t *Task, tg *ThreadGroup) byte {
	switch {
	case tg.zombie || t.exited:
		return 'Z'
	case tg.stopped:
		return 'T'
	}
	return 'S'
}

// Process implements proc.Source.
func (s procSource) Process(tgid int32) (*proc.Process, bool) {
	k := s.k
	k.mu.Lock()
	tg := s.groupLocked(tgid)
	if tg == nil {
		k.mu.Unlock()
		return nil, false
	}
	leader := tg.leader
	p := &proc.Process{
		PID:         tgid,
		TPGID:       -1,
		Comm:        leader.Comm,
		Flags:       0x400000,
		ExitSignal:  int32(tg.termSig),
		Dumpable:    leader.Dumpable,
		NoNewPrivs:  leader.creds.NoNewPrivs,
		Seccomp:     leader.SeccompMode(),
		OOMScoreAdj: tg.oomAdj,
		Start:       leader.Start.Sub(k.Boot),
		LoginUID:    ^uint32(0),
		SessionID:   ^uint32(0),
		FDSize:      64,
	}
	if tg.parent != nil {
		p.PPID = tg.parent.tgid
	}
	if tg.pgrp != nil {
		p.PGID = tg.pgrp.id
		p.SID = tg.pgrp.session.sid
		p.TTY = tg.terminalDeviceLocked()
		if fg := tg.pgrp.session.foreground; fg != nil {
			p.TPGID = fg.id
		}
	}
	c := leader.creds
	p.UID = [4]uint32{c.UID, c.EUID, c.SUID, c.FSUID}
	p.GID = [4]uint32{c.GID, c.EGID, c.SGID, c.FSGID}
	p.Groups = append([]uint32(nil), c.Groups...)
	p.CapInh, p.CapPrm, p.CapEff = uint64(c.Caps.Inheritable), uint64(c.Caps.Permitted), uint64(c.Caps.Effective)
	p.CapBnd, p.CapAmb = uint64(c.Caps.Bounding), uint64(c.Caps.Ambient)
	for i, r := range tg.rlimits {
		p.Rlimits[i] = proc.Rlimit{Cur: r.Cur, Max: r.Max}
	}
	p.ShdPnd = tg.pending.set
	for sig := 1; sig < NumSignals; sig++ {
		switch tg.handlers.actions[sig].Handler {
		case SigDfl:
		case SigIgn:
			p.SigIgn |= 1 << (sig - 1)
		default:
			p.SigCgt |= 1 << (sig - 1)
		}
	}
	u := tg.usageLocked()
	p.Utime, p.Stime = u.User, u.Sys
	p.CUtime, p.CStime = tg.childUsage.User, tg.childUsage.Sys
	switch {
	case tg.zombie:
		p.State = 'Z'
		p.ExitCode = int32(tg.exitStatus.WaitStatus())
	default:
		p.State = taskState(leader, tg)
		for _, t := range tg.tasks {
			p.Threads = append(p.Threads, proc.Thread{
				TID:    t.TID,
				Comm:   t.Comm,
				State:  taskState(t, tg),
				Utime:  t.ThreadUsage().User,
				Stime:  time.Duration(t.stime.Load()),
				Start:  t.Start.Sub(k.Boot),
				SigPnd: t.pending.set,
				SigBlk: t.sigMask,
				CPUs:   t.affinity,
				Nice:   t.sched.nice,
				Policy: uint32(t.sched.policy),
			})
		}
	}
	fsc, memory, zombie := leader.FS, leader.MM, tg.zombie
	exe, exeD, argv, envv := leader.Exe, leader.ExeDentry, leader.Argv, leader.Envv
	k.mu.Unlock()

	if zombie {
		return p, true
	}
	p.Cmdline = append([]string(nil), argv...)
	p.Environ = append([]string(nil), envv...)
	p.Exe, p.ExeDentry = exe, exeD
	if fsc != nil {
		root, cwd := fsc.Root(), fsc.Cwd()
		p.Umask = fsc.Umask()
		p.Root, _ = root.PathFrom(root)
		p.Cwd, _ = cwd.PathFrom(root)
		p.RootDentry, p.CwdDentry = root, cwd
	}
	if memory != nil {
		u := memory.Usage(exe)
		p.Mem = proc.MemUsage{Peak: u.Size, Size: u.Size, HWM: u.RSS, RSS: u.RSS, RSSAnon: u.RSSAnon,
			RSSFile: u.RSSFile, RSSShmem: u.RSSShmem, Data: u.Data, Stack: u.Stack, Exe: u.Exe, Lib: u.Lib,
			Locked: memory.LockedBytes()}
		_, brk := memory.BrkRange()
		p.Layout.StartBrk = brk
	}
	return p, true
}

// Files implements proc.Source.
func (s procSource) Files(tgid int32) ([]proc.FD, bool) {
	k := s.k
	k.mu.Lock()
	tg := s.groupLocked(tgid)
	if tg == nil {
		k.mu.Unlock()
		return nil, false
	}
	var fds *vfs.FDTable
	var root *vfs.Dentry
	if !tg.zombie {
		fds = tg.leader.FDs
	}
	fsc := tg.leader.FS
	k.mu.Unlock()
	if fds == nil {
		return nil, true
	}
	if fsc != nil {
		root = fsc.Root()
	}
	var out []proc.FD
	for _, e := range fds.List() {
		d := e.Desc
		f := proc.FD{Num: int32(e.FD), Flags: d.Flags(), Dentry: d.Dentry}
		if e.CloseOn {
			f.Flags |= unix.O_CLOEXEC
		}
		st, _ := d.File.Stat()
		f.Ino = st.Ino
		if d.Dentry != nil {
			f.Target, _ = d.Dentry.PathFrom(root)
			f.MntID = int32(d.Dentry.Mount().ID())
			if d.Flags()&unix.O_PATH == 0 {
				if pos, err := d.File.Seek(0, unix.SEEK_CUR); err == nil {
					f.Pos = pos
				}
			}
		} else {
			f.File = d.File
			f.Target = anonTarget(d.File, &st)
			switch u := vfs.Underlying(d.File).(type) {
			case *inotify.File:
				f.Extra = u.FDInfo()
			case *PidFD:
				f.Extra = u.FDInfo()
			}
		}
		out = append(out, f)
		d.DecRef()
	}
	return out, true
}

// anonTarget is the link text of a file with no path.
func anonTarget(f vfs.File, st *unix.Stat_t) string {
	switch vfs.Underlying(f).(type) {
	case *pipe.End:
		return "pipe:[" + strconv.FormatUint(st.Ino, 10) + "]"
	case *eventfd.File:
		return "anon_inode:[eventfd]"
	case *epoll.Instance:
		return "anon_inode:[eventpoll]"
	case *inotify.File:
		return "anon_inode:inotify"
	case *PidFD:
		return "anon_inode:[pidfd]"
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
		return "pipe:[" + strconv.FormatUint(st.Ino, 10) + "]"
	case unix.S_IFSOCK:
		return "socket:[" + strconv.FormatUint(st.Ino, 10) + "]"
	case unix.S_IFCHR:
		// The sandbox's stdio on a host terminal.
		return "/dev/console"
	}
	return "anon_inode:[" + strconv.FormatUint(st.Ino, 10) + "]"
}

// Maps implements proc.Source, with the names the memory manager
// recorded (files, [stack], [vdso]) and the heap found by the break.
func (s procSource) Maps(tgid int32) ([]proc.Mapping, bool) {
	k := s.k
	k.mu.Lock()
	tg := s.groupLocked(tgid)
	if tg == nil {
		k.mu.Unlock()
		return nil, false
	}
	var memory *mm.MemoryManager
	if !tg.zombie {
		memory = tg.leader.MM
	}
	k.mu.Unlock()
	if memory == nil {
		return nil, true
	}
	brkStart, brk := memory.BrkRange()
	var out []proc.Mapping
	for _, m := range memory.Mappings() {
		pm := proc.Mapping{
			Start: m.Start, End: m.End,
			Read:   m.Prot&mm.ProtRead != 0,
			Write:  m.Prot&mm.ProtWrite != 0,
			Exec:   m.Prot&mm.ProtExec != 0,
			Shared: m.Shared,
			Offset: m.Offset,
			Dev:    m.Dev,
			Inode:  m.Ino,
			Path:   m.Name,
		}
		if m.Name == "" && brk > brkStart && m.Start >= brkStart && m.End <= (brk+4095)&^4095 {
			pm.Path = "[heap]"
		}
		out = append(out, pm)
	}
	return out, true
}

// Mounts implements proc.Source: the mount table of the process's
// container (the sandbox's, or its own in a pod; see Container), with
// mount points as process tgid's root shows them.
func (s procSource) Mounts(tgid int32) ([]proc.Mount, bool) {
	k := s.k
	k.mu.Lock()
	tg := s.groupLocked(tgid)
	if tg == nil {
		k.mu.Unlock()
		return nil, false
	}
	fsc := tg.leader.FS
	table := k.Mounts
	if tg.ctr != nil {
		table = tg.ctr.Mounts
	}
	k.mu.Unlock()
	root := table.Root()
	if fsc != nil {
		root = fsc.Root()
	}
	var out []proc.Mount
	for _, m := range table.Mounts() {
		pm := proc.Mount{ID: int32(m.ID()), Root: "/", FSType: m.FS().Name()}
		opts := m.Options()
		if opts.Root != "" {
			pm.Root = opts.Root
		}
		pm.Source = opts.Source
		if pm.Source == "" {
			pm.Source = "none"
		}
		if m.Parent() != nil {
			pm.ParentID = int32(m.Parent().ID())
			pm.Point, _ = m.Point().PathFrom(root)
		} else {
			pm.Point = "/"
		}
		if st, err := m.Root().Stat(); err == nil {
			pm.Dev = st.Dev
		}
		rw := "rw"
		if opts.ReadOnly {
			rw = "ro"
		}
		pm.Options = rw
		for _, f := range []struct {
			on   bool
			name string
		}{{opts.NoSuid, ",nosuid"}, {opts.NoDev, ",nodev"}, {opts.NoExec, ",noexec"}} {
			if f.on {
				pm.Options += f.name
			}
		}
		pm.Options += ",relatime"
		pm.SuperOptions = rw
		if opts.Options != "" {
			pm.SuperOptions += "," + opts.Options
		}
		out = append(out, pm)
	}
	return out, true
}

// System implements proc.Source.
func (s procSource) System() proc.System {
	k := s.k
	k.mu.Lock()
	threads := len(k.tasks)
	last := k.nextPID
	k.mu.Unlock()
	sys := proc.System{
		Hostname:   k.Hostname,
		Domainname: k.Domainname,
		Boot:       k.Boot,
		Uptime:     k.Uptime(),
		NumCPU:     runtime.NumCPU(),
		Threads:    threads,
		Running:    1,
		LastPID:    last,
	}
	if k.Memory != nil {
		total := k.Memory.Size()
		free := k.Memory.FreeBytes()
		sys.Mem = proc.Meminfo{Total: total, Free: free, Available: free}
	}
	return sys
}

// SetOOMScoreAdj implements proc.OOMScoreAdjSetter. The library OS never
// kills for memory (exo's quota fails allocations instead), so the value
// is only kept and shown, and inherited by children as Linux does.
func (s procSource) SetOOMScoreAdj(tgid int32, adj int32) error {
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	tg := s.k.groupLocked(tgid)
	if tg == nil {
		return unix.ESRCH
	}
	tg.oomAdj = adj
	return nil
}
