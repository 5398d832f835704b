package sysfs

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/mm"
)

// Limits are the container's resource limits as its cgroup files show
// them; 0 is "no limit" throughout.
type Limits struct {
	// Memory is the memory limit in bytes.
	Memory int64
	// Pids is the task limit.
	Pids int
	// CPUQuota and CPUPeriod are the CFS bandwidth in microseconds
	// (period 0: 100000).
	CPUQuota  int64
	CPUPeriod uint64
	// CPUShares is cgroup v1's cpu.shares (0: 1024).
	CPUShares uint64
	// CPUs is how many CPUs the sandbox may use.
	CPUs int
}

// V1Controllers are the cgroup v1 hierarchies a v1 layout shows, each a
// mount of its own under /sys/fs/cgroup as on a v1 host.
var V1Controllers = []string{"cpu,cpuacct", "cpuset", "memory", "pids"}

// CgroupFS is a read-only cgroup file system holding the container's own
// cgroup: the limits the workload reads to size itself (memory.max or
// memory.limit_in_bytes, pids.max, cpu.max or cpu.cfs_quota_us). Nothing
// can be written and usage figures are not tracked; the workload is the
// cgroup's root, as inside a cgroup namespace.
type CgroupFS struct {
	*tmpfs.FS
	name string
}

// Name implements vfs.FS: "cgroup2", or "cgroup" for a v1 hierarchy.
func (c *CgroupFS) Name() string { return c.name }

func cpuList(cpus int) string {
	if cpus <= 1 {
		return "0\n"
	}
	return fmt.Sprintf("0-%d\n", cpus-1)
}

func orMax(n int64) string {
	if n <= 0 {
		return "max"
	}
	return fmt.Sprint(n)
}

// NewCgroup2 builds a cgroup v2 root showing l.
func NewCgroup2(mem *mm.MemoryFile, dev uint64, l Limits) (*CgroupFS, error) {
	period := l.CPUPeriod
	if period == 0 {
		period = 100000
	}
	cpuMax := fmt.Sprintf("max %d\n", period)
	if l.CPUQuota > 0 {
		cpuMax = fmt.Sprintf("%d %d\n", l.CPUQuota, period)
	}
	weight := uint64(100)
	if l.CPUShares > 0 {
		// runc's conversion of shares [2, 262144] to weight [1, 10000].
		weight = 1 + ((l.CPUShares-2)*9999)/262142
	}
	files := map[string]string{
		"cgroup.controllers":     "cpuset cpu io memory hugetlb pids rdma misc\n",
		"cgroup.subtree_control": "\n",
		"cgroup.type":            "domain\n",
		"cgroup.procs":           "",
		"cgroup.max.depth":       "max\n",
		"cgroup.max.descendants": "max\n",
		"memory.max":             orMax(l.Memory) + "\n",
		"memory.high":            "max\n",
		"memory.low":             "0\n",
		"memory.min":             "0\n",
		"memory.swap.max":        "0\n",
		"pids.max":               orMax(int64(l.Pids)) + "\n",
		"cpu.max":                cpuMax,
		"cpu.weight":             fmt.Sprintf("%d\n", weight),
		"cpuset.cpus":            "",
		"cpuset.cpus.effective":  cpuList(l.CPUs),
		"cpuset.mems":            "",
		"cpuset.mems.effective":  "0\n",
	}
	return buildCgroup(mem, dev, "cgroup2", files)
}

// NewCgroup1 builds the cgroup v1 hierarchy of controller (one of
// V1Controllers) showing l.
func NewCgroup1(mem *mm.MemoryFile, dev uint64, controller string, l Limits) (*CgroupFS, error) {
	files := map[string]string{"cgroup.procs": "", "tasks": "", "notify_on_release": "0\n"}
	switch controller {
	case "memory":
		limit := int64(9223372036854771712) // v1's "unlimited", page-aligned LONG_MAX
		if l.Memory > 0 {
			limit = l.Memory
		}
		files["memory.limit_in_bytes"] = fmt.Sprintf("%d\n", limit)
		files["memory.soft_limit_in_bytes"] = "9223372036854771712\n"
		files["memory.memsw.limit_in_bytes"] = fmt.Sprintf("%d\n", limit)
		files["memory.use_hierarchy"] = "1\n"
	case "pids":
		files["pids.max"] = orMax(int64(l.Pids)) + "\n"
	case "cpu,cpuacct":
		quota := int64(-1)
		if l.CPUQuota > 0 {
			quota = l.CPUQuota
		}
		period, shares := l.CPUPeriod, l.CPUShares
		if period == 0 {
			period = 100000
		}
		if shares == 0 {
			shares = 1024
		}
		files["cpu.cfs_quota_us"] = fmt.Sprintf("%d\n", quota)
		files["cpu.cfs_period_us"] = fmt.Sprintf("%d\n", period)
		files["cpu.shares"] = fmt.Sprintf("%d\n", shares)
	case "cpuset":
		files["cpuset.cpus"] = cpuList(l.CPUs)
		files["cpuset.effective_cpus"] = cpuList(l.CPUs)
		files["cpuset.mems"] = "0\n"
		files["cpuset.effective_mems"] = "0\n"
	default:
		return nil, fmt.Errorf("cgroup: unknown v1 controller %q", controller)
	}
	return buildCgroup(mem, dev, "cgroup", files)
}

func buildCgroup(mem *mm.MemoryFile, dev uint64, name string, files map[string]string) (*CgroupFS, error) {
	magic := int64(unix.CGROUP_SUPER_MAGIC)
	if name == "cgroup2" {
		magic = unix.CGROUP2_SUPER_MAGIC
	}
	fs := &CgroupFS{FS: tmpfs.New(mem, tmpfs.Options{Mode: 0o755, Dev: dev, Magic: magic}), name: name}
	for p, content := range files {
		if strings.Contains(p, "/") {
			return nil, fmt.Errorf("cgroup: %s: nested file", p)
		}
		if err := writeFile(fs.Root(), p, content); err != nil {
			return nil, fmt.Errorf("cgroup: %s: %w", p, err)
		}
	}
	return fs, nil
}
