package oci

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The stats of `events`, in runc's JSON format (its types/events.go): one
// {"type":"stats","id":ID,"data":Stats} line per sample, and
// {"type":"oom","id":ID} when the host's OOM killer struck the container's
// cgroup.

// Event is one line of `events`.
type Event struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data any    `json:"data,omitempty"`
}

// Stats is a container's resource use.
type Stats struct {
	CPU               CPUStats            `json:"cpu"`
	Memory            MemoryStats         `json:"memory"`
	Pids              PidsStats           `json:"pids"`
	Blkio             struct{}            `json:"blkio"`
	Hugetlb           map[string]struct{} `json:"hugetlb"`
	NetworkInterfaces []struct{}          `json:"network_interfaces"`
}

// CPUUsage is in nanoseconds.
type CPUUsage struct {
	Total  uint64   `json:"total,omitempty"`
	Percpu []uint64 `json:"percpu,omitempty"`
	Kernel uint64   `json:"kernel"`
	User   uint64   `json:"user"`
}

// Throttling is the CFS quota's effect.
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// CPUStats is the container's CPU time.
type CPUStats struct {
	Usage      CPUUsage   `json:"usage,omitempty"`
	Throttling Throttling `json:"throttling,omitempty"`
}

// MemoryEntry is one memory counter with its limit.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// MemoryStats is the container's memory.
type MemoryStats struct {
	Cache uint64            `json:"cache,omitempty"`
	Usage MemoryEntry       `json:"usage,omitempty"`
	Swap  MemoryEntry       `json:"swap,omitempty"`
	Raw   map[string]uint64 `json:"raw,omitempty"`
}

// PidsStats counts the container's tasks.
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// unlimited is what a v1 limit file reads when there is no limit (the
// largest page-aligned int64); anything at or above it is reported as 0,
// as runc's JSON omits it.
const unlimited = uint64(1<<63 - 4096)

// ReadCgroupStats fills s from the container's cgroup directories (v1
// hierarchies and the v2 one): CPU time and throttling, the host's memory
// counters (in Raw, with the cgroup's total use as "host_usage"), and
// pids. Files a hierarchy lacks are skipped.
func ReadCgroupStats(dirs []string, s *Stats) {
	for _, d := range dirs {
		f := func(name string) string { return filepath.Join(d, name) }
		if isV2(d) {
			if kv := readKV(f("cpu.stat")); kv != nil {
				s.CPU.Usage.Total = kv["usage_usec"] * 1000
				s.CPU.Usage.User = kv["user_usec"] * 1000
				s.CPU.Usage.Kernel = kv["system_usec"] * 1000
				s.CPU.Throttling = Throttling{kv["nr_periods"], kv["nr_throttled"], kv["throttled_usec"] * 1000}
			}
			if n, err := readUint(f("memory.current")); err == nil {
				addRaw(s, "host_usage", n)
				for k, v := range readKV(f("memory.stat")) {
					addRaw(s, k, v)
				}
			}
			if n, err := readUint(f("pids.current")); err == nil {
				s.Pids.Current = n
			}
			continue
		}
		if n, err := readUint(f("cpuacct.usage")); err == nil {
			s.CPU.Usage.Total = n
			if u, err := readUint(f("cpuacct.usage_user")); err == nil {
				s.CPU.Usage.User = u
			}
			if k, err := readUint(f("cpuacct.usage_sys")); err == nil {
				s.CPU.Usage.Kernel = k
			}
			if data, err := os.ReadFile(f("cpuacct.usage_percpu")); err == nil {
				s.CPU.Usage.Percpu = nil
				for _, w := range strings.Fields(string(data)) {
					v, _ := strconv.ParseUint(w, 10, 64)
					s.CPU.Usage.Percpu = append(s.CPU.Usage.Percpu, v)
				}
			}
		}
		if kv := readKV(f("cpu.stat")); kv != nil {
			if _, ok := kv["nr_periods"]; ok {
				s.CPU.Throttling = Throttling{kv["nr_periods"], kv["nr_throttled"], kv["throttled_time"]}
			}
		}
		if n, err := readUint(f("memory.usage_in_bytes")); err == nil {
			addRaw(s, "host_usage", n)
			if l, err := readUint(f("memory.limit_in_bytes")); err == nil && l < unlimited {
				addRaw(s, "host_limit", l)
			}
			kv := readKV(f("memory.stat"))
			for k, v := range kv {
				addRaw(s, k, v)
			}
			s.Memory.Cache = kv["cache"]
			if sw, err := readUint(f("memory.memsw.usage_in_bytes")); err == nil {
				s.Memory.Swap.Usage = sw
				if l, err := readUint(f("memory.memsw.limit_in_bytes")); err == nil && l < unlimited {
					s.Memory.Swap.Limit = l
				}
			}
		}
		if n, err := readUint(f("pids.current")); err == nil {
			s.Pids.Current = n
		}
	}
}

func addRaw(s *Stats, k string, v uint64) {
	if s.Memory.Raw == nil {
		s.Memory.Raw = map[string]uint64{}
	}
	s.Memory.Raw[k] = v
}

// readKV reads a "key value" per line file (cpu.stat, memory.stat).
func readKV(p string) map[string]uint64 {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// OOMKills is how many times the host's OOM killer killed a process of
// the container's cgroup (v1 memory.oom_control's oom_kill, v2
// memory.events'), and whether any hierarchy counts them.
func OOMKills(dirs []string) (uint64, bool) {
	for _, d := range dirs {
		for _, name := range []string{"memory.oom_control", "memory.events"} {
			if kv := readKV(filepath.Join(d, name)); kv != nil {
				if n, ok := kv["oom_kill"]; ok {
					return n, true
				}
			}
		}
	}
	return 0, false
}
