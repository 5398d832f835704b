package oci

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Host limits of a container's cgroup (linux.resources, and `update`).
//
// They are written as runc's cgroupfs driver writes them: each value to
// the file of the hierarchy that has it (v1), or to the unified
// hierarchy's file (v2, with the v1 values converted as runc converts
// them). A file the kernel does not offer (no swap accounting, no
// blkio.weight without CFQ/BFQ, a v2 controller not enabled) is skipped,
// as runc skips unset and unsupported values: docker sends fields like
// blkioWeight 0 that this kernel has nothing for. A file that exists but
// refuses the value is an error.
//
// The pids limit is written exactly where the container's cgroup counts
// the workload's tasks only (a v1 pids cgroup split by JoinCgroups: exo
// places each stub thread that runs workload code there, and the
// sandbox's own threads in a sibling, which gets HostPidsLimit).
//
// The memory limit is written as given: the sandbox's whole host
// footprint (exo, the sentry, the stubs and the memory quota's pages)
// counts against it, as a runc container's processes do. The pids limit
// gets headroom instead (HostPidsLimit): the library OS counts the
// workload's tasks exactly, while on the host each task is a stub thread
// and may hold a sentry thread, and the host wall must not fail a clone
// the library OS allowed (the sentry cannot survive a failed thread
// creation).

// HostPidsLimit is the pids.max written for a container whose library OS
// allows n tasks: a stub thread and a sentry thread per task, a stub
// address-space thread per process, plus exo's and the sentry's own
// threads.
func HostPidsLimit(n int64) int64 {
	if n <= 0 {
		return -1
	}
	return 3*n + 64
}

// cgroupWrite is one value for one cgroup file.
type cgroupWrite struct {
	file, value string
}

// v1Writes are the cgroup v1 files for r, in the order they must be
// written.
func v1Writes(r *specs.LinuxResources) []cgroupWrite {
	var w []cgroupWrite
	add := func(f, v string) { w = append(w, cgroupWrite{f, v}) }
	if c := r.CPU; c != nil {
		if c.Cpus != "" {
			add("cpuset.cpus", c.Cpus)
		}
		if c.Mems != "" {
			add("cpuset.mems", c.Mems)
		}
		if c.Shares != nil && *c.Shares != 0 {
			add("cpu.shares", strconv.FormatUint(*c.Shares, 10))
		}
		// The period first: a quota is checked against the period in
		// place.
		if c.Period != nil && *c.Period != 0 {
			add("cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
		}
		if c.Quota != nil && *c.Quota != 0 {
			add("cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10))
		}
		if c.RealtimePeriod != nil && *c.RealtimePeriod != 0 {
			add("cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10))
		}
		if c.RealtimeRuntime != nil && *c.RealtimeRuntime != 0 {
			add("cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10))
		}
		if c.Idle != nil {
			add("cpu.idle", strconv.FormatInt(*c.Idle, 10))
		}
	}
	if m := r.Memory; m != nil {
		if m.Limit != nil && *m.Limit != 0 {
			add("memory.limit_in_bytes", strconv.FormatInt(*m.Limit, 10))
		}
		if m.Swap != nil && *m.Swap != 0 {
			add("memory.memsw.limit_in_bytes", strconv.FormatInt(*m.Swap, 10))
		}
		if m.Reservation != nil && *m.Reservation != 0 {
			add("memory.soft_limit_in_bytes", strconv.FormatInt(*m.Reservation, 10))
		}
		if m.Swappiness != nil && *m.Swappiness <= 100 {
			add("memory.swappiness", strconv.FormatUint(*m.Swappiness, 10))
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			add("memory.oom_control", "1")
		}
	}
	if p := r.Pids; p != nil && p.Limit != 0 {
		add("pids.max", pidsMax(p.Limit))
	}
	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight != 0 {
		add("blkio.weight", strconv.FormatUint(uint64(*b.Weight), 10))
	}
	return w
}

// v2Writes are the unified hierarchy's files for r.
func v2Writes(r *specs.LinuxResources) []cgroupWrite {
	var w []cgroupWrite
	add := func(f, v string) { w = append(w, cgroupWrite{f, v}) }
	if c := r.CPU; c != nil {
		if c.Cpus != "" {
			add("cpuset.cpus", c.Cpus)
		}
		if c.Mems != "" {
			add("cpuset.mems", c.Mems)
		}
		if c.Shares != nil && *c.Shares != 0 {
			add("cpu.weight", strconv.FormatUint(cpuWeight(*c.Shares), 10))
		}
		if (c.Quota != nil && *c.Quota != 0) || (c.Period != nil && *c.Period != 0) {
			quota, period := "max", uint64(100000)
			if c.Quota != nil && *c.Quota > 0 {
				quota = strconv.FormatInt(*c.Quota, 10)
			}
			if c.Period != nil && *c.Period != 0 {
				period = *c.Period
			}
			add("cpu.max", fmt.Sprintf("%s %d", quota, period))
		}
		if c.Idle != nil {
			add("cpu.idle", strconv.FormatInt(*c.Idle, 10))
		}
	}
	if m := r.Memory; m != nil {
		if m.Limit != nil && *m.Limit != 0 {
			add("memory.max", bytesMax(*m.Limit))
			// v1's memsw is memory plus swap; v2's swap.max is swap
			// alone (runc's conversion).
			if m.Swap != nil && *m.Swap != 0 {
				swap := "max"
				if *m.Swap > 0 && *m.Limit > 0 {
					swap = strconv.FormatInt(max(*m.Swap-*m.Limit, 0), 10)
				}
				add("memory.swap.max", swap)
			}
		}
		if m.Reservation != nil && *m.Reservation != 0 {
			add("memory.low", bytesMax(*m.Reservation))
		}
	}
	if p := r.Pids; p != nil && p.Limit != 0 {
		add("pids.max", pidsMax(p.Limit))
	}
	if b := r.BlockIO; b != nil && b.Weight != nil && *b.Weight != 0 {
		add("io.bfq.weight", strconv.FormatUint(uint64(*b.Weight), 10))
	}
	return w
}

// cpuWeight converts v1 cpu.shares [2, 262144] to v2 cpu.weight
// [1, 10000], as runc does.
func cpuWeight(shares uint64) uint64 {
	shares = min(max(shares, 2), 262144)
	return 1 + ((shares-2)*9999)/262142
}

func bytesMax(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

// pidsSplitWrites rewrites the pids.max of writes for v1 cgroup d when
// JoinCgroups split the pids cgroup: the container's side gets n exactly,
// the sandbox's side its headroom.
func pidsSplitWrites(d string, writes []cgroupWrite, n int64) []cgroupWrite {
	var v string
	switch _, err := os.Stat(d + PidsSandboxSuffix); {
	case err == nil:
		v = "max"
		if n > 0 {
			v = strconv.FormatInt(n, 10)
		}
	case strings.HasSuffix(d, PidsSandboxSuffix):
		v = pidsMax(n)
	default:
		return writes
	}
	out := make([]cgroupWrite, len(writes))
	for i, w := range writes {
		if w.file == "pids.max" {
			w.value = v
		}
		out[i] = w
	}
	return out
}

// pidsMax is the host's pids.max for the library OS's limit n.
func pidsMax(n int64) string {
	h := HostPidsLimit(n)
	if h < 0 {
		return "max"
	}
	return strconv.FormatInt(h, 10)
}

// isV2 reports whether d is a cgroup of the unified hierarchy.
func isV2(d string) bool {
	_, err := os.Stat(filepath.Join(d, "cgroup.controllers"))
	return err == nil
}

// SetResources writes r's limits into the container's cgroup directories
// (as JoinCgroups returned them). Nothing is written for a nil r.
func SetResources(dirs []string, r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	for _, d := range dirs {
		v2 := isV2(d)
		writes := v1Writes(r)
		if v2 {
			writes = v2Writes(r)
		}
		if r.Pids != nil && !v2 {
			writes = pidsSplitWrites(d, writes, r.Pids.Limit)
		}
		for _, w := range writes {
			p := filepath.Join(d, w.file)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			err := writeCgroupFile(p, w.value)
			if err != nil && w.file == "memory.limit_in_bytes" && errors.Is(err, unix.EINVAL) && r.Memory.Swap != nil {
				// v1 refuses a memory limit above memsw's: raising both
				// takes memsw first.
				if err = writeCgroupFile(filepath.Join(d, "memory.memsw.limit_in_bytes"), strconv.FormatInt(*r.Memory.Swap, 10)); err == nil {
					err = writeCgroupFile(p, w.value)
				}
			}
			if err != nil {
				if w.file == "memory.limit_in_bytes" && errors.Is(err, unix.EBUSY) {
					usage, _ := readUint(filepath.Join(d, "memory.usage_in_bytes"))
					return fmt.Errorf("cannot set the memory limit to %s bytes: the container uses %d (%s: %w)", w.value, usage, p, err)
				}
				return fmt.Errorf("cgroup %s: write %q: %w", p, w.value, err)
			}
		}
	}
	return nil
}

func writeCgroupFile(p, v string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(v)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func readUint(p string) (uint64, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}
