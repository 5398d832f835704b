package oci

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Cgroups places a container's host processes in the cgroup its spec names
// (linux.cgroupsPath), in every cgroup v1 hierarchy and the v2 one, so
// that what reads a container's stats from the cgroup of its pid (the
// containerd shim, docker stats) finds them there.
//
// An absolute path is taken from each hierarchy's mount point, as the
// runtime spec requires and runc does (in a cgroup namespace that is the
// namespace's root); a relative one below the runtime's own cgroup, so
// such a sandbox stays inside whatever accounting its caller is under.
// The limits written there are in resources.go.

// cgroupMount is one mounted cgroup hierarchy.
type cgroupMount struct {
	point string // where it is mounted
	root  string // the cgroup the mount shows at its point
	own   string // this process's cgroup in it
	ctrls string // comma-separated controllers ("" for v2), for freezer lookups
}

// cgroupMounts lists the hierarchies this process can place others in.
func cgroupMounts() ([]cgroupMount, error) {
	own := map[string]string{}
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/cgroup: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 {
			own[f[1]] = f[2]
		}
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self/mountinfo: %w", err)
	}
	var out []cgroupMount
	for _, line := range strings.Split(string(info), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		m := cgroupMount{point: pf[4], root: pf[3]}
		switch qf[0] {
		case "cgroup2":
			p, ok := own[""]
			if !ok {
				continue
			}
			m.own = p
		case "cgroup":
			var ctrls []string
			for _, o := range strings.Split(qf[2], ",") {
				switch o {
				case "rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "clone_children", "xattr", "noprefix":
				default:
					ctrls = append(ctrls, o)
				}
			}
			m.ctrls = strings.Join(ctrls, ",")
			p, ok := own[m.ctrls]
			if !ok {
				continue
			}
			m.own = p
		default:
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// dir is where cgroup path p lives in m: from its mount point if p is
// absolute, else below this process's cgroup.
func (m cgroupMount) dir(p string) string {
	if path.IsAbs(p) {
		return filepath.Join(m.point, path.Clean(p))
	}
	rel := strings.TrimPrefix(path.Clean(m.own), path.Clean(m.root))
	return filepath.Join(m.point, rel, path.Clean("/"+p))
}

// PidsSandboxSuffix names the sibling of a container's v1 pids cgroup that
// holds the sandbox's own threads (exo, the sentry, the stubs'
// address-space threads) when the container's cgroup counts only the
// threads that run workload code (JoinCgroups with splitPids; exo places
// those through a tasks capability, caps/tasks.go).
const PidsSandboxSuffix = ".exo-sandbox"

// JoinCgroups creates cgroup p in every hierarchy and moves pid into it;
// its children follow. It returns the directories made, for RemoveCgroups.
//
// With splitPids, in a v1 pids hierarchy pid goes to p's sibling
// p+PidsSandboxSuffix instead: p then counts the workload's tasks only,
// and its pids.max can be the spec's limit exactly (SetResources).
func JoinCgroups(p string, pid int, splitPids bool) ([]string, error) {
	if strings.Contains(p, "..") {
		return nil, fmt.Errorf("config.json: linux.cgroupsPath: %q must not hold ..", p)
	}
	mounts, err := cgroupMounts()
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, m := range mounts {
		d := m.dir(p)
		if err := mkdirCgroup(d, strings.Contains(","+m.ctrls+",", ",cpuset,")); err != nil {
			RemoveCgroups(dirs)
			return nil, fmt.Errorf("cgroup %s: %w", d, err)
		}
		dirs = append(dirs, d)
		if splitPids && m.ctrls == "pids" {
			sd := d + PidsSandboxSuffix
			if err := mkdirCgroup(sd, false); err != nil {
				RemoveCgroups(dirs)
				return nil, fmt.Errorf("cgroup %s: %w", sd, err)
			}
			dirs = append(dirs, sd)
			d = sd
		}
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			RemoveCgroups(dirs)
			return nil, fmt.Errorf("cgroup %s: join: %w", d, err)
		}
	}
	return dirs, nil
}

// PidsTasksFile is the "tasks" file of the v1 pids cgroup that counts the
// workload's threads alone, when JoinCgroups split it from the sandbox's
// own ("" otherwise).
func PidsTasksFile(dirs []string) string {
	for _, d := range dirs {
		if _, err := os.Stat(d + PidsSandboxSuffix); err == nil && !isV2(d) {
			return filepath.Join(d, "tasks")
		}
	}
	return ""
}

// PlaceThread moves thread tid into the container's side of a split pids
// cgroup (a no-op when JoinCgroups did not split one).
func PlaceThread(dirs []string, tid int) error {
	f := PidsTasksFile(dirs)
	if f == "" {
		return nil
	}
	if err := os.WriteFile(f, []byte(strconv.Itoa(tid)), 0o644); err != nil {
		return fmt.Errorf("cgroup %s: place thread %d: %w", filepath.Dir(f), tid, err)
	}
	return nil
}

// EnterCgroups moves pid into cgroup directories JoinCgroups made, as
// far as it can: a process that cannot join still runs. The workload's
// side of a split pids cgroup is left to the placement of its threads.
func EnterCgroups(dirs []string, pid int) {
	for _, d := range dirs {
		if _, err := os.Stat(d + PidsSandboxSuffix); err == nil {
			continue
		}
		os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644)
	}
}

// mkdirCgroup makes cgroup directory d and its missing parents. A new
// v1 cpuset cgroup starts with no CPUs and no memory nodes, so no process
// could join it: each new level gets its parent's.
func mkdirCgroup(d string, cpuset bool) error {
	if _, err := os.Stat(d); err == nil {
		return nil
	}
	if err := mkdirCgroup(filepath.Dir(d), cpuset); err != nil {
		return err
	}
	if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if cpuset {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, _ := os.ReadFile(filepath.Join(d, f))
			if strings.TrimSpace(string(cur)) != "" {
				continue
			}
			parent, err := os.ReadFile(filepath.Join(filepath.Dir(d), f))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(d, f), parent, 0o644); err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	return nil
}

// RemoveCgroups removes the directories JoinCgroups made, once the
// processes in them are gone (they leave a moment after they die).
//
// Whatever is still in them is killed first, as runc's delete kills what
// is left in a container's cgroup: a hook a failed create left running,
// or a process that outlived its sandbox.
func RemoveCgroups(dirs []string) error {
	var last error
	for _, d := range dirs {
		killCgroup(d)
	}
	for _, d := range dirs {
		for i := 0; i < 50; i++ {
			last = os.Remove(d)
			if last == nil || errors.Is(last, os.ErrNotExist) {
				last = nil
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return last
}

// freezerState is the v1 freezer's state file among dirs ("" if none).
func freezerState(dirs []string) string {
	for _, d := range dirs {
		p := filepath.Join(d, "freezer.state")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// Freeze stops (or with thaw, resumes) every process of the cgroup, as
// runc pause and resume do.
func Freeze(dirs []string, thaw bool) error {
	p := freezerState(dirs)
	if p == "" {
		return errors.New("the container has no freezer cgroup (linux.cgroupsPath not set, or no freezer hierarchy)")
	}
	want := "FROZEN"
	if thaw {
		want = "THAWED"
	}
	for i := 0; i < 250; i++ {
		if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		data, err := os.ReadFile(p)
		if err == nil && strings.TrimSpace(string(data)) == want {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !thaw {
		os.WriteFile(p, []byte("THAWED"), 0o644)
	}
	return fmt.Errorf("%s: did not become %s", p, want)
}

// killCgroup sends SIGKILL to every process in cgroup directory d.
func killCgroup(d string) {
	data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
	if err != nil {
		return
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 1 {
			continue
		}
		if pid == os.Getpid() {
			// Not a container's own cgroup but its caller's (a
			// cgroupsPath of "/"): nothing in it is the container's to
			// kill.
			return
		}
		pids = append(pids, pid)
	}
	for _, pid := range pids {
		unix.Kill(pid, unix.SIGKILL)
	}
}

// HostCgroupV2 reports whether the host's /sys/fs/cgroup is a unified
// (cgroup v2) hierarchy; a container's cgroup files follow its layout.
func HostCgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}
