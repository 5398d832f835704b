package main

// `events`: a container's stats and OOM events, as runc prints them.
//
// The stats merge two views. The library OS's own accounting (asked of
// the sentry through exo, op "stats") gives memory.usage: the memory
// quota in use, its peak, its limit and the allocations it refused; and
// pids: the workload's tasks and their limit. The host cgroup gives the
// CPU time (cpuacct or v2 cpu.stat; without a cgroup, the CPU time of the
// sandbox's host processes from /proc) and the host's memory counters,
// kept in memory.raw with the cgroup's total as host_usage: what the
// sandbox costs the host, sentry and stubs included. OOM events come from
// the host cgroup's oom_kill counter.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"exokernelul.dev/exo/oci"
)

// runEvents is `events [--stats] [--interval D] ID`.
func runEvents(g *globals, args []string) int {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	once := fs.Bool("stats", false, "print the container's stats once and exit")
	interval := fs.Duration("interval", 5*time.Second, "how often to print stats")
	id, code := oneID(g, fs, args)
	if code >= 0 {
		return code
	}
	if *interval <= 0 {
		return g.fail(fmt.Errorf("events: --interval %v: must be positive", *interval))
	}
	store := oci.Store{Root: g.root}
	st, err := store.Get(id)
	if err != nil {
		return g.fail(err)
	}
	if st.Status == oci.StatusStopped {
		return g.fail(fmt.Errorf("container %q is not running", id))
	}
	enc := json.NewEncoder(os.Stdout)
	emit := func(ev oci.Event) bool { return enc.Encode(ev) == nil }
	if *once {
		s, err := containerStats(store, st)
		if err != nil {
			return g.fail(err)
		}
		emit(oci.Event{Type: "stats", ID: id, Data: s})
		return 0
	}
	// OOM kills are polled more often than stats are printed, so each
	// shows up soon after it happened.
	ooms, _ := oci.OOMKills(st.Cgroups)
	poll := min(*interval, 200*time.Millisecond)
	next := time.Now()
	for {
		cur, err := store.Get(id)
		if errors.Is(err, oci.ErrNotExist) {
			return 0
		}
		if err == nil {
			st = cur
		}
		if n, ok := oci.OOMKills(st.Cgroups); ok && n > ooms {
			ooms = n
			if !emit(oci.Event{Type: "oom", ID: id}) {
				return 0
			}
		}
		if st.Status == oci.StatusStopped {
			return 0
		}
		if !time.Now().Before(next) {
			next = time.Now().Add(*interval)
			if s, err := containerStats(store, st); err == nil {
				if !emit(oci.Event{Type: "stats", ID: id, Data: s}) {
					return 0
				}
			}
		}
		time.Sleep(poll)
	}
}

// containerStats samples the container's stats.
func containerStats(store oci.Store, st *oci.State) (*oci.Stats, error) {
	s := &oci.Stats{Hugetlb: map[string]struct{}{}}
	oci.ReadCgroupStats(st.Cgroups, s)
	if s.CPU.Usage.Total == 0 {
		s.CPU.Usage = procCPU(hostTree(st.Pid))
	}
	if st.Status == oci.StatusPaused {
		// exo is frozen: the host's counts stand in.
		return s, nil
	}
	m, err := oci.Call(store.Dir(st.ID), oci.Message{Op: "stats"})
	if err != nil {
		return nil, fmt.Errorf("stats of container %q: %w", st.ID, err)
	}
	if l := m.Stats; l != nil {
		s.Memory.Usage = oci.MemoryEntry{Usage: l.MemoryUsage, Max: l.MemoryMaxUsage, Limit: l.MemoryLimit, Failcnt: l.MemoryFailcnt}
		s.Pids = oci.PidsStats{Current: l.Pids, Limit: l.PidsLimit}
	}
	return s, nil
}

// procCPU is the CPU time of host processes pids and of their reaped
// children, from /proc (utime, stime, cutime and cstime of each).
func procCPU(pids []int) oci.CPUUsage {
	var u oci.CPUUsage
	// USER_HZ is 100 on x86-64 Linux.
	const tick = uint64(time.Second / 100)
	for _, p := range pids {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		// Fields from state (3rd in stat) on: utime is the 14th.
		if len(f) < 15 {
			continue
		}
		var t [4]uint64
		for j := range t {
			t[j], _ = strconv.ParseUint(f[11+j], 10, 64)
		}
		u.User += (t[0] + t[2]) * tick
		u.Kernel += (t[1] + t[3]) * tick
	}
	u.Total = u.User + u.Kernel
	return u
}
