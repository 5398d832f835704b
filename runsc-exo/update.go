package main

// `update`: change a running container's limits live.
//
// The CLI sends the new linux.resources to the container's exo process
// over the control socket (op "update"); exo writes them to the host
// cgroup (oci.SetResources) and sends the library OS's share, the memory
// quota and the pids limit, to the sentry over its control fd (op
// "update" with Limits). The memory quota is a limit within the memfd exo
// granted at create, which is as large as the host's RAM, so the quota
// moves both ways without a new grant; the host's memory cgroup is what
// holds a sentry that ignored it.
//
// Lowering the memory limit below what the workload holds fails and
// changes nothing ("memory limit below current usage"), as a cgroup v1
// memory.limit_in_bytes write fails with EBUSY when reclaim cannot get
// under it (v2's memory.max would OOM-kill instead): the library OS has
// no swap and nothing to drop, and killing the workload to honour an
// update is not what `update` asks for. The order makes that atomic: when
// the memory limit goes down, the library OS takes it first (and may
// refuse), then the host cgroup; when it goes up, the host first, so the
// library OS never allows what the host would refuse. If the second step
// fails, the first is undone.
//
// Lowering the pids limit below the tasks running is accepted, as
// pids.max is: they go on, and new clones fail with EAGAIN.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"exokernelul.dev/exo/oci"
)

// runUpdate is `update [--resources -|FILE] [runc's flags] ID`.
func runUpdate(g *globals, args []string) int {
	fs := flag.NewFlagSet("update", flag.ContinueOnError)
	resources := fs.String("resources", "", "path to a JSON linux.resources object, or - for stdin")
	fs.StringVar(resources, "r", "", "short for --resources")
	var set []func(*specs.LinuxResources) error
	sizeFlag := func(name, usage string, apply func(*specs.LinuxResources, int64)) {
		fs.Func(name, usage, func(v string) error {
			n, err := parseSize(v)
			if err != nil {
				return err
			}
			set = append(set, func(r *specs.LinuxResources) error { apply(r, n); return nil })
			return nil
		})
	}
	intFlag := func(name, usage string, apply func(*specs.LinuxResources, int64)) {
		fs.Func(name, usage, func(v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", v)
			}
			set = append(set, func(r *specs.LinuxResources) error { apply(r, n); return nil })
			return nil
		})
	}
	strFlag := func(name, usage string, apply func(*specs.LinuxResources, string)) {
		fs.Func(name, usage, func(v string) error {
			set = append(set, func(r *specs.LinuxResources) error { apply(r, v); return nil })
			return nil
		})
	}
	mem := func(r *specs.LinuxResources) *specs.LinuxMemory {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		return r.Memory
	}
	cpu := func(r *specs.LinuxResources) *specs.LinuxCPU {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		return r.CPU
	}
	sizeFlag("memory", "memory limit in bytes (suffixes k, m, g; -1: unlimited)", func(r *specs.LinuxResources, n int64) { mem(r).Limit = &n })
	sizeFlag("memory-reservation", "memory soft limit in bytes", func(r *specs.LinuxResources, n int64) { mem(r).Reservation = &n })
	sizeFlag("memory-swap", "memory plus swap limit in bytes (-1: unlimited)", func(r *specs.LinuxResources, n int64) { mem(r).Swap = &n })
	sizeFlag("kernel-memory", "accepted for runc compatibility (ignored, as by the kernel)", func(*specs.LinuxResources, int64) {})
	sizeFlag("kernel-memory-tcp", "accepted for runc compatibility (ignored)", func(*specs.LinuxResources, int64) {})
	intFlag("pids-limit", "maximum number of tasks (0 or -1: unlimited)", func(r *specs.LinuxResources, n int64) { r.Pids = &specs.LinuxPids{Limit: n} })
	intFlag("cpu-quota", "CPU time in microseconds per period (CFS quota)", func(r *specs.LinuxResources, n int64) { cpu(r).Quota = &n })
	intFlag("cpu-period", "CFS period in microseconds", func(r *specs.LinuxResources, n int64) { u := uint64(n); cpu(r).Period = &u })
	intFlag("cpu-shares", "relative CPU weight", func(r *specs.LinuxResources, n int64) { u := uint64(n); cpu(r).Shares = &u })
	intFlag("cpu-rt-period", "realtime period in microseconds", func(r *specs.LinuxResources, n int64) { u := uint64(n); cpu(r).RealtimePeriod = &u })
	intFlag("cpu-rt-runtime", "realtime runtime in microseconds", func(r *specs.LinuxResources, n int64) { cpu(r).RealtimeRuntime = &n })
	intFlag("cpu-idle", "1: SCHED_IDLE for the cgroup", func(r *specs.LinuxResources, n int64) { cpu(r).Idle = &n })
	strFlag("cpuset-cpus", "CPUs to run on (e.g. 0-1)", func(r *specs.LinuxResources, v string) { cpu(r).Cpus = v })
	strFlag("cpuset-mems", "memory nodes to use (e.g. 0)", func(r *specs.LinuxResources, v string) { cpu(r).Mems = v })
	intFlag("blkio-weight", "block IO weight (10-1000)", func(r *specs.LinuxResources, n int64) {
		w := uint16(n)
		r.BlockIO = &specs.LinuxBlockIO{Weight: &w}
	})
	strFlag("l3-cache-schema", "accepted for runc compatibility (no Intel RDT)", func(*specs.LinuxResources, string) {})
	strFlag("mem-bw-schema", "accepted for runc compatibility (no Intel RDT)", func(*specs.LinuxResources, string) {})
	id, code := oneID(g, fs, args)
	if code >= 0 {
		return code
	}
	r := &specs.LinuxResources{}
	if *resources != "" {
		var err error
		if r, err = readResources(*resources); err != nil {
			return g.fail(err)
		}
	}
	for _, f := range set {
		f(r)
	}
	if err := updateContainer(g, id, r); err != nil {
		return g.fail(err)
	}
	return 0
}

// readResources reads a linux.resources object as runc does: fields it
// does not know are ignored.
func readResources(p string) (*specs.LinuxResources, error) {
	var in io.Reader = os.Stdin
	if p != "-" {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("update: --resources: %w", err)
		}
		defer f.Close()
		in = f
	}
	var r specs.LinuxResources
	if err := json.NewDecoder(in).Decode(&r); err != nil {
		return nil, fmt.Errorf("update: --resources: not a linux.resources JSON object: %w", err)
	}
	return &r, nil
}

// parseSize reads a byte count as runc's flags take it (oci.ParseSize),
// or -1.
func parseSize(s string) (int64, error) {
	if s == "-1" {
		return -1, nil
	}
	n, err := oci.ParseSize(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size like 512m or 2g", s)
	}
	return n, nil
}

func updateContainer(g *globals, id string, r *specs.LinuxResources) error {
	store := oci.Store{Root: g.root}
	st, err := store.Get(id)
	if err != nil {
		return err
	}
	switch st.Status {
	case oci.StatusCreated, oci.StatusRunning:
	case oci.StatusPaused:
		// Its exo process is frozen and could not answer.
		return fmt.Errorf("container %q is paused: resume it to update it", id)
	default:
		return fmt.Errorf("container %q is not running", id)
	}
	if _, err := oci.Call(store.Dir(id), oci.Message{Op: "update", Resources: r}); err != nil {
		return fmt.Errorf("update container %q: %w", id, err)
	}
	return nil
}

// updateMu makes updates of one container take turns.
var updateMu sync.Mutex

// update is exo's side of `update`: host cgroup and library OS, in the
// order that keeps them consistent (see the top of this file).
func (e *exoProc) update(r *specs.LinuxResources) error {
	if r == nil {
		return errors.New("update: no resources")
	}
	updateMu.Lock()
	defer updateMu.Unlock()
	e.mu.Lock()
	status := e.status
	e.mu.Unlock()
	if status != oci.StatusCreated && status != oci.StatusRunning {
		return fmt.Errorf("cannot update a container that is %s", status)
	}
	st, err := e.store.Get(e.id)
	if err != nil {
		return err
	}
	old, err := e.callSentryMsg(oci.Message{Op: "stats"})
	if err != nil {
		return err
	}
	lim := libosLimits(r)
	lowering := lim.Memory != nil && old.Stats != nil && *lim.Memory >= 0 && uint64(*lim.Memory) < old.Stats.MemoryLimit
	prev := e.currentResources()
	sentryStep := func() error {
		if lim.Memory == nil && lim.Pids == nil {
			return nil
		}
		_, err := e.callSentryMsg(oci.Message{Op: "update", Limits: lim})
		return err
	}
	undoSentry := func() {
		if old.Stats == nil {
			return
		}
		m, p := int64(old.Stats.MemoryLimit), int64(old.Stats.PidsLimit)
		e.callSentryMsg(oci.Message{Op: "update", Limits: &oci.Limits{Memory: &m, Pids: &p}})
	}
	// exo's own check of the memfd (memaudit.go) follows the library
	// OS's limit: it moves once the library OS has taken a lower one,
	// and before it is given a higher one.
	oldAudit := memLimit.Load()
	if lowering {
		if err := sentryStep(); err != nil {
			return err
		}
		if err := oci.SetResources(st.Cgroups, r); err != nil {
			undoSentry()
			return err
		}
		setAuditedLimit(*lim.Memory)
	} else {
		if lim.Memory != nil {
			setAuditedLimit(*lim.Memory)
		}
		if err := oci.SetResources(st.Cgroups, r); err != nil {
			oci.SetResources(st.Cgroups, prev)
			memLimit.Store(oldAudit)
			return err
		}
		if err := sentryStep(); err != nil {
			oci.SetResources(st.Cgroups, prev)
			memLimit.Store(oldAudit)
			return err
		}
	}
	e.recordResources(r)
	return nil
}

// libosLimits is the library OS's share of r: the memory quota and the
// pids limit.
func libosLimits(r *specs.LinuxResources) *oci.Limits {
	l := &oci.Limits{}
	if r.Memory != nil && r.Memory.Limit != nil && *r.Memory.Limit != 0 {
		m := *r.Memory.Limit
		l.Memory = &m
	}
	if r.Pids != nil && r.Pids.Limit != 0 {
		p := r.Pids.Limit
		l.Pids = &p
	}
	return l
}

// currentResources is the memory and pids part of the limits in force,
// to undo a half-done update with.
func (e *exoProc) currentResources() *specs.LinuxResources {
	out := &specs.LinuxResources{}
	if e.spec.Linux != nil && e.spec.Linux.Resources != nil {
		data, _ := json.Marshal(e.spec.Linux.Resources)
		json.Unmarshal(data, out)
	}
	if out.Memory == nil {
		out.Memory = &specs.LinuxMemory{}
	}
	if out.Memory.Limit == nil {
		unlimited := int64(-1)
		out.Memory.Limit = &unlimited
	}
	if out.Pids == nil || out.Pids.Limit == 0 {
		out.Pids = &specs.LinuxPids{Limit: -1}
	}
	return out
}

// recordResources merges r into the saved config's linux.resources, so
// the container's config reflects its limits, as runc keeps them.
func (e *exoProc) recordResources(r *specs.LinuxResources) {
	if e.spec.Linux == nil {
		e.spec.Linux = &specs.Linux{}
	}
	if e.spec.Linux.Resources == nil {
		e.spec.Linux.Resources = &specs.LinuxResources{}
	}
	cur := e.spec.Linux.Resources
	if r.Memory != nil {
		if cur.Memory == nil {
			cur.Memory = &specs.LinuxMemory{}
		}
		m := r.Memory
		for _, p := range []struct{ dst, src **int64 }{{&cur.Memory.Limit, &m.Limit}, {&cur.Memory.Reservation, &m.Reservation}, {&cur.Memory.Swap, &m.Swap}} {
			if *p.src != nil && **p.src != 0 {
				*p.dst = *p.src
			}
		}
	}
	if r.Pids != nil && r.Pids.Limit != 0 {
		cur.Pids = &specs.LinuxPids{Limit: r.Pids.Limit}
	}
	if r.CPU != nil {
		if cur.CPU == nil {
			cur.CPU = &specs.LinuxCPU{}
		}
		c := r.CPU
		if c.Shares != nil && *c.Shares != 0 {
			cur.CPU.Shares = c.Shares
		}
		if c.Quota != nil && *c.Quota != 0 {
			cur.CPU.Quota = c.Quota
		}
		if c.Period != nil && *c.Period != 0 {
			cur.CPU.Period = c.Period
		}
		if c.Cpus != "" {
			cur.CPU.Cpus = c.Cpus
		}
		if c.Mems != "" {
			cur.CPU.Mems = c.Mems
		}
	}
	if data, err := json.Marshal(e.spec); err == nil {
		os.WriteFile(filepath.Join(e.store.Dir(e.id), specCopy), data, 0o600)
	}
}

// callSentryMsg is callSentry returning the sentry's whole answer.
func (e *exoProc) callSentryMsg(req oci.Message) (oci.Message, error) {
	e.callMu.Lock()
	defer e.callMu.Unlock()
	if err := e.ctlEnc.Encode(req); err != nil {
		return oci.Message{}, errors.New("container not running")
	}
	m, ok := <-e.replies
	if !ok {
		return oci.Message{}, errors.New("container not running")
	}
	if m.Error != "" {
		return m, errors.New(m.Error)
	}
	return m, nil
}

// stats is exo's side of `events`: the library OS's accounting.
func (e *exoProc) stats() (*oci.LibOSStats, error) {
	m, err := e.callSentryMsg(oci.Message{Op: "stats"})
	if err != nil {
		return nil, err
	}
	if m.Stats == nil {
		return nil, errors.New("the sentry sent no stats")
	}
	return m.Stats, nil
}
