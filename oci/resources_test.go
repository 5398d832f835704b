package oci

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeCgroup makes a directory holding the named cgroup files, empty.
func fakeCgroup(t *testing.T, files ...string) string {
	t.Helper()
	d := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(d, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func read(t *testing.T, d, f string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d, f))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestSetResourcesWritesWhatEachHierarchyHas: docker's and CRI's update
// bodies go to the v1 files their hierarchies have and to the converted
// v2 files; fields without a file (docker's blkio weight 0, swap without
// swap accounting) are skipped, never an error.
func TestSetResourcesWritesWhatEachHierarchyHas(t *testing.T) {
	const docker = `{"memory":{"limit":67108864,"reservation":0,"swap":134217728,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},"blockIO":{"weight":0}}`
	const cri = `{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":100000000,"swap":100000000},"cpu":{"shares":256,"quota":50000,"period":100000},"pids":{"limit":10},"unknownField":1}`
	mem := fakeCgroup(t, "memory.limit_in_bytes", "memory.soft_limit_in_bytes")
	cpu := fakeCgroup(t, "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us")
	pids := fakeCgroup(t, "pids.max")
	v2 := fakeCgroup(t, "cgroup.controllers", "memory.max", "memory.swap.max", "cpu.weight", "cpu.max", "pids.max")
	dirs := []string{mem, cpu, pids, v2}
	for _, body := range []string{docker, cri} {
		var r specs.LinuxResources
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		if err := SetResources(dirs, &r); err != nil {
			t.Fatalf("SetResources(%s): %v", body, err)
		}
	}
	for _, c := range []struct{ dir, file, want string }{
		{mem, "memory.limit_in_bytes", "100000000"},
		{mem, "memory.soft_limit_in_bytes", ""},
		{cpu, "cpu.shares", "256"},
		{cpu, "cpu.cfs_period_us", "100000"},
		{cpu, "cpu.cfs_quota_us", "50000"},
		{pids, "pids.max", "94"},
		{v2, "memory.max", "100000000"},
		{v2, "memory.swap.max", "0"},
		{v2, "cpu.weight", "10"},
		{v2, "cpu.max", "50000 100000"},
		{v2, "pids.max", "94"},
	} {
		if got := read(t, c.dir, c.file); got != c.want {
			t.Errorf("%s = %q, want %q", c.file, got, c.want)
		}
	}
	for _, f := range []string{"memory.memsw.limit_in_bytes", "blkio.weight"} {
		if _, err := os.Stat(filepath.Join(mem, f)); err == nil {
			t.Errorf("%s was made", f)
		}
	}
	unlimited := int64(-1)
	if err := SetResources(dirs, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &unlimited}, Pids: &specs.LinuxPids{Limit: -1}}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, v2, "memory.max") + " " + read(t, v2, "pids.max") + " " + read(t, pids, "pids.max"); got != "max max max" {
		t.Errorf("unlimited: memory.max, pids.max (v2, v1) = %q, want max max max", got)
	}
	if got := read(t, mem, "memory.limit_in_bytes"); got != "-1" {
		t.Errorf("unlimited: memory.limit_in_bytes = %q, want -1", got)
	}
}

func TestCPUWeightAsRunc(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000, 1: 1, 1 << 20: 10000} {
		if got := cpuWeight(shares); got != want {
			t.Errorf("cpuWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

// TestReadCgroupStats reads v1 and v2 counters into runc's stats.
func TestReadCgroupStats(t *testing.T) {
	acct := fakeCgroup(t)
	os.WriteFile(filepath.Join(acct, "cpuacct.usage"), []byte("3000\n"), 0o644)
	os.WriteFile(filepath.Join(acct, "cpuacct.usage_user"), []byte("2000\n"), 0o644)
	os.WriteFile(filepath.Join(acct, "cpuacct.usage_sys"), []byte("1000\n"), 0o644)
	os.WriteFile(filepath.Join(acct, "cpuacct.usage_percpu"), []byte("1000 2000 \n"), 0o644)
	mem := fakeCgroup(t)
	os.WriteFile(filepath.Join(mem, "memory.usage_in_bytes"), []byte("4096\n"), 0o644)
	os.WriteFile(filepath.Join(mem, "memory.limit_in_bytes"), []byte("9223372036854771712\n"), 0o644)
	os.WriteFile(filepath.Join(mem, "memory.stat"), []byte("cache 512\nrss 1024\n"), 0o644)
	os.WriteFile(filepath.Join(mem, "memory.oom_control"), []byte("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"), 0o644)
	v2 := fakeCgroup(t, "cgroup.controllers")
	os.WriteFile(filepath.Join(v2, "pids.current"), []byte("7\n"), 0o644)
	var s Stats
	ReadCgroupStats([]string{acct, mem, v2}, &s)
	if s.CPU.Usage.Total != 3000 || s.CPU.Usage.User != 2000 || s.CPU.Usage.Kernel != 1000 || len(s.CPU.Usage.Percpu) != 2 {
		t.Errorf("cpu = %+v", s.CPU.Usage)
	}
	if s.Memory.Cache != 512 || s.Memory.Raw["host_usage"] != 4096 || s.Memory.Raw["rss"] != 1024 {
		t.Errorf("memory = %+v", s.Memory)
	}
	if _, ok := s.Memory.Raw["host_limit"]; ok {
		t.Errorf("an unlimited host limit is reported: %+v", s.Memory.Raw)
	}
	if s.Pids.Current != 7 {
		t.Errorf("pids = %+v", s.Pids)
	}
	if n, ok := OOMKills([]string{acct, mem}); !ok || n != 2 {
		t.Errorf("OOMKills = %d, %v; want 2, true", n, ok)
	}
	data, _ := json.Marshal(Event{Type: "stats", ID: "x", Data: &s})
	for _, want := range []string{`"type":"stats"`, `"cpu":{"usage":{"total":3000`, `"memory":{`, `"pids":{"current":7}`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("event JSON %s lacks %s", data, want)
		}
	}
}
