package oci

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"exokernelul.dev/exo/oci"
	"exokernelul.dev/exo/test/internal/harness"
)

// cgroupDirs are the host cgroup directories of process pid, by
// controller list ("" for v2), found through /proc/self/mountinfo.
func cgroupDirs(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if f := strings.SplitN(line, ":", 3); len(f) == 3 {
			paths[f[1]] = f[2]
		}
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(info), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		key := ""
		switch qf[0] {
		case "cgroup2":
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(qf[2], ",") {
				switch o {
				case "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children", "xattr", "noprefix":
				default:
					ctrls = append(ctrls, o)
				}
			}
			key = strings.Join(ctrls, ",")
		default:
			continue
		}
		if p, ok := paths[key]; ok {
			out[key] = filepath.Join(pf[4], strings.TrimPrefix(p, pf[3]))
		}
	}
	return out
}

// limitFile reads a cgroup file of controller ctrl (v1), or of the v2
// hierarchy when v1 lacks the controller; "" if neither has it.
func limitFile(dirs map[string]string, ctrl, v1, v2 string) string {
	d, ok := dirs[ctrl]
	f := v1
	if !ok {
		d, f = dirs[""], v2
	}
	data, err := os.ReadFile(filepath.Join(d, f))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// statsEvent is the part of `events` output the tests read.
type statsEvent struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data struct {
		CPU struct {
			Usage struct {
				Total uint64 `json:"total"`
			} `json:"usage"`
		} `json:"cpu"`
		Memory struct {
			Usage struct {
				Limit uint64 `json:"limit"`
				Usage uint64 `json:"usage"`
			} `json:"usage"`
			Raw map[string]uint64 `json:"raw"`
		} `json:"memory"`
		Pids struct {
			Current uint64 `json:"current"`
			Limit   uint64 `json:"limit"`
		} `json:"pids"`
	} `json:"data"`
}

func (e *env) stats(id string) statsEvent {
	e.t.Helper()
	r := e.must("events", "--stats", id)
	var ev statsEvent
	if err := json.Unmarshal(r.Stdout, &ev); err != nil {
		e.t.Fatalf("events --stats printed no JSON: %v\n%s", err, r)
	}
	if ev.Type != "stats" || ev.ID != id {
		e.t.Errorf("events --stats: type %q id %q, want stats %s", ev.Type, ev.ID, id)
	}
	return ev
}

// cgroupParent names a cgroup parent for one test and removes it (in
// every hierarchy) when the test ends, as runc leaves parents it made.
func cgroupParent(t *testing.T, name string) string {
	parent := fmt.Sprintf("exo-test-%d-%s", os.Getpid(), name)
	t.Cleanup(func() {
		filepath.Walk("/sys/fs/cgroup", func(p string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() && info.Name() == parent {
				os.Remove(p)
				return filepath.SkipDir
			}
			return nil
		})
	})
	return "/" + parent
}

// findCgroup reports the directories named leaf under /sys/fs/cgroup.
func findCgroup(leaf string) []string {
	var found []string
	filepath.Walk("/sys/fs/cgroup", func(p string, info os.FileInfo, err error) error {
		if err == nil && info.IsDir() && info.Name() == leaf {
			found = append(found, p)
			return filepath.SkipDir
		}
		return nil
	})
	return found
}

// TestUpdateAndEvents: linux.resources reach the container's host cgroup
// at create; `update` moves the memory, pids and CPU limits live in the
// host cgroup and in the library OS (events --stats shows the library
// OS's quota and task limit); a memory limit below what the workload
// holds is refused and changes nothing; a lowered pids limit stops new
// processes; docker's update body (blkio weight 0, cpu shares 0) is
// accepted; `events` streams stats and ends with the container; delete
// removes the cgroup.
func TestUpdateAndEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		t.Skip("no cgroups mounted")
	}
	cgPath := cgroupParent(t, "upd") + "/upd"
	limit := int64(128 << 20)
	shares := uint64(512)
	// One task: a lowered pids limit then leaves no room, whatever the
	// timing.
	b := e.bundle([]string{"sh", "-c", "echo started; exec sleep 1000"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = cgPath
		s.Linux.Resources = &specs.LinuxResources{
			Memory: &specs.LinuxMemory{Limit: &limit},
			Pids:   &specs.LinuxPids{Limit: 20},
			CPU:    &specs.LinuxCPU{Shares: &shares},
		}
	})
	c := e.create(b, "upd")
	dirs := cgroupDirs(t, c.pid)
	memLimit := func() string { return limitFile(dirs, "memory", "memory.limit_in_bytes", "memory.max") }
	pidsMax := func() string { return limitFile(dirs, "pids", "pids.max", "pids.max") }
	// In a v1 pids hierarchy the container's cgroup counts the
	// workload's tasks alone, with the spec's limit exactly, and exo's
	// main thread, which stands for the container; the sandbox's own
	// threads are counted in a sibling with room for them
	// (oci.HostPidsLimit). Under v2 one cgroup has that room.
	sandboxDir := dirs["pids"] + oci.PidsSandboxSuffix
	_, err := os.Stat(sandboxDir)
	split := err == nil
	if _, v1 := dirs["pids"]; v1 && !split {
		t.Errorf("the pids cgroup %s is not split", dirs["pids"])
	}
	sandboxPids := func(f string) string {
		return limitFile(map[string]string{"pids": sandboxDir}, "pids", f, f)
	}
	wantPids := func(when, n, room string) {
		t.Helper()
		if !split {
			if got := pidsMax(); got != room {
				t.Errorf("host pids.max %s = %q, want %s", when, got, room)
			}
			return
		}
		if got := pidsMax(); got != n {
			t.Errorf("the container's pids.max %s = %q, want the spec's %s", when, got, n)
		}
		if got := sandboxPids("pids.max"); got != room {
			t.Errorf("the sandbox's pids.max %s = %q, want %s", when, got, room)
		}
	}
	wantPids("at create", "20", "124")
	if got := limitFile(dirs, "cpu", "cpu.shares", "cpu.weight"); got != "512" && got != "20" {
		t.Errorf("host CPU weight at create = %q, want shares 512 (v1) or weight 20 (v2)", got)
	}
	e.must("start", c.id)
	e.waitOutput(c, "started")

	ev := e.stats(c.id)
	if ev.Data.Memory.Usage.Limit != 128<<20 || ev.Data.Memory.Usage.Usage == 0 {
		t.Errorf("events: memory usage %+v, want the library OS's quota (limit 128 MiB) in use", ev.Data.Memory.Usage)
	}
	if ev.Data.Pids.Limit != 20 || ev.Data.Pids.Current == 0 {
		t.Errorf("events: pids %+v, want the library OS's tasks with limit 20", ev.Data.Pids)
	}
	if ev.Data.CPU.Usage.Total == 0 {
		t.Errorf("events: no CPU time")
	}

	e.must("update", "--memory", "256m", "--pids-limit", "30", "--cpu-quota", "50000", "--cpu-period", "100000", c.id)
	if got := memLimit(); got != "268435456" {
		t.Errorf("host memory limit after update = %q, want 268435456", got)
	}
	wantPids("after update", "30", "154")
	if split {
		// sh exec'd sleep: one task, one stub thread counted, and
		// exo's main thread, which stands for the container on the
		// host (its pid is the container's). A new thread is placed a
		// moment after it starts (sentry.placeDelay).
		got := ""
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if got = limitFile(dirs, "pids", "pids.current", "pids.current"); got == "2" {
				break
			}
		}
		if got != "2" {
			t.Errorf("the container's pids.current = %q, want 2 (the workload's one task and exo's main thread)", got)
		}
	}
	if got := limitFile(dirs, "cpu", "cpu.cfs_quota_us", "cpu.max"); got != "50000" && got != "50000 100000" {
		t.Errorf("host CPU quota after update = %q, want 50000", got)
	}
	if ev := e.stats(c.id); ev.Data.Memory.Usage.Limit != 256<<20 || ev.Data.Pids.Limit != 30 {
		t.Errorf("events after update: memory limit %d, pids limit %d; want 256 MiB and 30", ev.Data.Memory.Usage.Limit, ev.Data.Pids.Limit)
	}

	// docker update -m 64m: its whole body, zeros included.
	body := filepath.Join(e.root, "docker.json")
	os.WriteFile(body, []byte(`{"memory":{"limit":67108864,"reservation":0,"swap":134217728,"kernel":0},"cpu":{"shares":0,"quota":0,"period":0},"blockIO":{"weight":0}}`), 0o644)
	in, err := os.Open(body)
	if err != nil {
		t.Fatal(err)
	}
	r := harness.Run(harness.Cmd{Args: e.args("update", "--resources", "-", c.id), Stdin: in})
	in.Close()
	harness.CheckExit(t, "update --resources -", r, 0)
	if got := memLimit(); got != "67108864" {
		t.Errorf("host memory limit after docker's update = %q, want 67108864", got)
	}

	r = e.fails("below current usage", "update", "--memory", "1m", c.id)
	if got := memLimit(); got != "67108864" {
		t.Errorf("a refused update changed the host memory limit to %q", got)
	}
	if ev := e.stats(c.id); ev.Data.Memory.Usage.Limit != 64<<20 {
		t.Errorf("a refused update changed the library OS's limit to %d", ev.Data.Memory.Usage.Limit)
	}

	// init is the only task: a limit of one leaves no room for exec's.
	e.must("update", "--pids-limit", "1", c.id)
	e.fails("resource temporarily unavailable", "exec", c.id, "true")
	e.must("update", "--pids-limit", "-1", c.id)
	wantPids("after --pids-limit -1", "max", "max")
	e.must("exec", c.id, "true")

	// events streams stats until the container ends.
	evOut := filepath.Join(e.root, "events.out")
	f, err := os.Create(evOut)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.bin, e.args("events", "--interval", "200ms", c.id)[1:]...)
	cmd.Stdout = f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	deadline := time.Now().Add(harness.Timeout())
	for lines := 0; lines < 2; {
		data, _ := os.ReadFile(evOut)
		lines = strings.Count(string(data), "\n")
		if time.Now().After(deadline) {
			t.Fatalf("events printed %q", data)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.must("kill", c.id, "KILL")
	reap(t, c.pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("events ended with %v", err)
		}
	case <-time.After(harness.Timeout()):
		cmd.Process.Kill()
		t.Errorf("events did not end with the container")
	}
	data, _ := os.ReadFile(evOut)
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for sc.Scan() {
		var ev statsEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || ev.ID != c.id || (ev.Type != "stats" && ev.Type != "oom") {
			t.Errorf("events line %q: %v", sc.Text(), err)
		}
	}
	e.waitStatus(c.id, specs.StateStopped)
	e.fails("not running", "update", "--memory", "1g", c.id)
	e.must("delete", c.id)
	for ctrl, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("delete left the %q cgroup %s (%v)", ctrl, d, err)
		}
	}
}

// TestUpdateWithoutCgroup: without linux.cgroupsPath, update still moves
// the library OS's memory quota, which the workload sees as MemTotal.
func TestUpdateWithoutCgroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	limit := int64(64 << 20)
	c := e.create(e.bundle([]string{"sh", "-c", loopScript}, func(s *specs.Spec) {
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	}), "updnocg")
	e.must("start", c.id)
	e.waitOutput(c, "started")
	memTotal := func() string {
		r := e.must("exec", c.id, "head", "-n1", "/proc/meminfo")
		return strings.Join(strings.Fields(string(r.Stdout)), " ")
	}
	if got := memTotal(); got != "MemTotal: 65536 kB" {
		t.Errorf("before update: %q, want MemTotal: 65536 kB", got)
	}
	e.must("update", "--memory", "96m", c.id)
	if got := memTotal(); got != "MemTotal: 98304 kB" {
		t.Errorf("after update: %q, want MemTotal: 98304 kB", got)
	}
	e.must("kill", c.id, "KILL")
	reap(t, c.pid)
}

// TestFailedCreateLeavesNothing: a create that fails after its sandbox
// started (a missing program, a failing hook, a limit the host refuses)
// tears the sandbox down: no state, no cgroup, no process; the shim's
// delete --force then succeeds quietly.
func TestFailedCreateLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	parent := cgroupParent(t, "fail")
	for _, c := range []struct {
		name, want string
		edit       func(*specs.Spec)
	}{
		{"nobin", "nosuchprogram", func(s *specs.Spec) { s.Process.Args = []string{"/nosuchprogram"} }},
		{"prestart", "prestart hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Prestart: []specs.Hook{{Path: "/bin/false"}}}
		}},
		{"createcontainer", "createContainer hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateContainer: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 3"}}}}
		}},
		{"cpuset", "cpuset.cpus", func(s *specs.Spec) {
			s.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "4095"}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := os.Stat("/sys/fs/cgroup/cpuset/cpuset.cpus"); err != nil && c.name == "cpuset" {
				t.Skip("no v1 cpuset hierarchy to refuse the CPUs")
			}
			id := "fail-" + c.name
			b := e.bundle([]string{"sh", "-c", "true"}, func(s *specs.Spec) {
				s.Linux.CgroupsPath = parent + "/" + id
				c.edit(s)
			})
			e.fails(c.want, "create", "--bundle", b, id)
			checkNothingLeft(t, e, id)
		})
	}
}

// checkNothingLeft requires that container id left no state, cgroup or
// process, and that delete --force succeeds without a word.
func checkNothingLeft(t *testing.T, e *env, id string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(e.root, id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state directory of %s left (%v)", id, err)
	}
	if found := findCgroup(id); len(found) > 0 {
		t.Errorf("cgroups left: %v", found)
	}
	if ps := processes(); strings.Contains(ps, e.root+" ") {
		t.Errorf("processes left:\n%s", ps)
	}
	r := e.run("delete", "--force", id)
	if r.ExitCode != 0 || len(r.Stderr) != 0 {
		t.Errorf("delete --force after a failed create\n%s", r)
	}
}

// TestAbandonedCreate: a create whose caller kills it while a hook hangs
// takes its sandbox down with it (exo, the sentry, the stubs); delete
// --force removes the rest, the hung hook included.
func TestAbandonedCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := "abandoned"
	marker := filepath.Join(e.root, "hook-ran")
	b := e.bundle([]string{"sh", "-c", "true"}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = cgroupParent(t, "abandon") + "/" + id
		s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "touch " + marker + "; exec sleep 300"}}}}
	})
	cmd := exec.Command(e.bin, e.args("create", "--bundle", b, id)[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(harness.Timeout())
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the hook did not run\n%s", processes())
		}
		time.Sleep(20 * time.Millisecond)
	}
	st := e.state(id)
	cmd.Process.Kill()
	cmd.Wait()
	// The exo process, orphaned, is this test's (a subreaper) to reap.
	reap(t, st.Pid)
	r := e.run("delete", "--force", id)
	if r.ExitCode != 0 {
		t.Errorf("delete --force\n%s", r)
	}
	checkNothingLeft(t, e, id)
}

// TestStraceToLog: with --log, --strace writes the sandbox's syscalls
// to the log (one JSON record each with --log-format json), not to the
// container's output.
func TestStraceToLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	log := filepath.Join(e.root, "log.json")
	b := e.bundle([]string{"sh", "-c", "echo hi"}, nil)
	r := e.run("--strace", "--log", log, "--log-format", "json", "run", "--bundle", b, "straced")
	harness.CheckExit(t, "run", r, 0)
	if string(r.Stdout) != "hi\n" || strings.Contains(string(r.Stderr), "[pid ") {
		t.Errorf("the trace reached the container's output\n%s", r)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	traced := false
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line %q is not JSON: %v", line, err)
		}
		traced = traced || strings.HasPrefix(rec.Msg, "[pid 1] ")
	}
	if !traced {
		t.Errorf("the log holds no trace of the container's syscalls:\n%s", data)
	}
}
