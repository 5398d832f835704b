package oci

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"exokernelul.dev/exo/test/internal/harness"
)

// podBundles are the configs the CRI gives a pod (see
// shared/integration/samples/config.cri-*.json): a sandbox running a
// pause-like init, and containers that name it by the annotations and
// join its namespaces by path.
type pod struct {
	e       *env
	sandbox *created
	// shm is the host directory both bind on /dev/shm, as containerd
	// shares a pod's /dev/shm.
	shm string
}

const pauseScript = `echo pause-up; while :; do sleep 1; done`

func newPod(t *testing.T, e *env, id string) *pod {
	t.Helper()
	shm, err := os.MkdirTemp(suite.Dir, "shm-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(shm, 0o1777)
	p := &pod{e: e, shm: shm}
	b := e.bundle([]string{"sh", "-c", pauseScript}, func(s *specs.Spec) {
		s.Hostname = "pod-host"
		s.Annotations = map[string]string{
			"io.kubernetes.cri.container-type": "sandbox",
			"io.kubernetes.cri.sandbox-id":     id,
		}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: shm, Options: []string{"rbind", "rw"}})
	})
	os.WriteFile(filepath.Join(b, "rootfs", "etc", "sandbox-only"), []byte("pause\n"), 0o644)
	p.sandbox = e.create(b, id)
	e.must("start", id)
	e.waitOutput(p.sandbox, "pause-up")
	return p
}

// containerBundle is a busybox container of the pod running args.
func (p *pod) containerBundle(args []string, edit func(*specs.Spec)) string {
	e := p.e
	sb := e.state(p.sandbox.id)
	b := e.bundle(args, func(s *specs.Spec) {
		s.Hostname = ""
		s.Annotations = map[string]string{
			"io.kubernetes.cri.container-type": "container",
			"io.kubernetes.cri.sandbox-id":     p.sandbox.id,
		}
		var ns []specs.LinuxNamespace
		for _, n := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.NetworkNamespace} {
			ns = append(ns, specs.LinuxNamespace{Type: n, Path: fmt.Sprintf("/proc/%d/ns/%s", sb.Pid, nsFile(n))})
		}
		s.Linux.Namespaces = append(ns, specs.LinuxNamespace{Type: specs.MountNamespace})
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/dev/shm", Type: "bind", Source: p.shm, Options: []string{"rbind", "rw"}})
		if edit != nil {
			edit(s)
		}
	})
	os.WriteFile(filepath.Join(b, "rootfs", "etc", "app-only"), []byte("app\n"), 0o644)
	return b
}

// ownPIDNamespace gives the container a pid namespace of its own, as the
// kubelet does (CRI pid mode CONTAINER) unless the pod sets
// shareProcessNamespace; crictl's default (POD) joins the pause's.
func ownPIDNamespace(s *specs.Spec) {
	for i, n := range s.Linux.Namespaces {
		if n.Type == specs.PIDNamespace {
			s.Linux.Namespaces[i].Path = ""
		}
	}
}

func nsFile(t specs.LinuxNamespaceType) string {
	if t == specs.NetworkNamespace {
		return "net"
	}
	return string(t)
}

// children are the host processes whose parent is pid.
func children(pid int) []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == fmt.Sprint(pid) {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			out = append(out, e.Name()+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}

// TestPodContainer: a container with the CRI annotations runs in its
// pod's sandbox (no sentry of its own; the pod's hostname and /dev/shm),
// in its own rootfs and mount tree, sees only its own processes in /proc,
// and its pid-file process ends with its init's status; the sandbox
// outlives it.
func TestPodContainer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newPod(t, e, "pod-sb")
	cg := cgroupParent(t, "pod") + "/app"
	limit := int64(64 << 20)
	b := p.containerBundle([]string{"sh", "-c", `echo "app-up $(hostname)"; ` + loopScript}, func(s *specs.Spec) {
		s.Linux.CgroupsPath = cg
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
		ownPIDNamespace(s)
	})
	c := e.create(b, "pod-app")
	if st := e.state(c.id); st.Status != specs.StateCreated || st.Pid != c.pid {
		t.Errorf("state after create = %s pid %d, want created pid %d", st.Status, st.Pid, c.pid)
	}
	if kids := children(c.pid); len(kids) != 0 {
		t.Errorf("the container's host process has children %q: a sandbox of its own?", kids)
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.pid)); err == nil && !strings.Contains(string(data), cg) {
		t.Errorf("the pid-file process is in cgroups %q, want %s", data, cg)
	}
	e.must("start", c.id)
	e.waitOutput(c, "started")
	if out := c.out(t); !strings.Contains(out, "app-up pod-host\n") {
		t.Errorf("the container printed %q, want the pod's hostname pod-host", out)
	}
	if st := e.state(c.id); st.Status != specs.StateRunning {
		t.Errorf("state after start = %s", st.Status)
	}

	// Its own rootfs and mount tree.
	r := e.must("exec", c.id, "sh", "-c", `cat /etc/app-only; test -e /etc/sandbox-only && echo sees-sandbox; grep -q ' /dev/shm ' /proc/mounts && echo has-shm`)
	if got := string(r.Stdout); got != "app\nhas-shm\n" {
		t.Errorf("exec in the container printed %q, want its own /etc and a /dev/shm mount", got)
	}
	r = e.must("exec", p.sandbox.id, "sh", "-c", `cat /etc/sandbox-only; test -e /etc/app-only && echo sees-app; true`)
	if got := string(r.Stdout); got != "pause\n" {
		t.Errorf("exec in the sandbox printed %q, want only its own /etc", got)
	}
	// One IPC: the pod's /dev/shm.
	e.must("exec", c.id, "sh", "-c", "echo shared > /dev/shm/pod-file")
	if r := e.must("exec", p.sandbox.id, "cat", "/dev/shm/pod-file"); string(r.Stdout) != "shared\n" {
		t.Errorf("the sandbox reads %q from /dev/shm/pod-file, want the container's", r.Stdout)
	}
	// A pid namespace of its own: its own processes in /proc (the pod's
	// init, pid 1, is not there; its own init is), and kill cannot reach
	// the others.
	r = e.must("exec", c.id, "sh", "-c", `test -e /proc/1 && echo "pid1""-visible"; kill -0 1 2>/dev/null && echo "can""-signal-1"; for p in /proc/[0-9]*; do cat $p/cmdline | tr '\0' ' '; echo; done`)
	if strings.Contains(string(r.Stdout), "pid1-visible") || strings.Contains(string(r.Stdout), "can-signal-1") || strings.Contains(string(r.Stdout), "pause-up") {
		t.Errorf("the container sees the sandbox's processes:\n%s", r.Stdout)
	}
	if !strings.Contains(string(r.Stdout), "app-up") {
		t.Errorf("the container does not see its init in /proc:\n%s", r.Stdout)
	}

	e.fails("pause or resume the sandbox", "pause", c.id)
	// ps lists the container's host process.
	r = e.must("ps", "--format", "json", c.id)
	if !strings.Contains(string(r.Stdout), fmt.Sprint(c.pid)) {
		t.Errorf("ps --format json = %s lacks the container's host process %d", r.Stdout, c.pid)
	}
	// events: the pod's library OS accounting.
	if r := e.must("events", "--stats", c.id); !strings.Contains(string(r.Stdout), `"type":"stats"`) {
		t.Errorf("events --stats printed %q", r.Stdout)
	}
	// The library OS's memory is the pod's: its containers' limits
	// (the pause container adds none), as a pod's cgroup has it.
	meminfo := func() string {
		return string(e.must("exec", c.id, "sh", "-c", `grep MemTotal /proc/meminfo | tr -s " "`).Stdout)
	}
	if got := meminfo(); got != "MemTotal: 65536 kB\n" {
		t.Errorf("the container's /proc/meminfo says %q, want its limit of 64 MiB", got)
	}
	e.must("update", "--memory", "100000000", c.id)
	if got := meminfo(); got != "MemTotal: 97656 kB\n" {
		t.Errorf("after update, the container's /proc/meminfo says %q, want 97656 kB", got)
	}

	e.must("kill", c.id, "TERM")
	if ws := reap(t, c.pid); !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("the container's pid-file process ended with %#x, want exit status 7", int(ws))
	}
	e.waitStatus(c.id, specs.StateStopped)
	e.must("delete", c.id)
	if st := e.state(p.sandbox.id); st.Status != specs.StateRunning {
		t.Errorf("the sandbox is %s after its container's delete, want running", st.Status)
	}
	// The same id again: the sandbox forgot the first.
	c2 := e.create(b, "pod-app")
	e.must("start", c2.id)
	e.waitOutput(c2, "started")
	e.must("delete", "--force", c2.id)
	if ws := reap(t, c2.pid); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the forcibly deleted container's pid-file process ended with %#x, want SIGKILL", int(ws))
	}
	// Killed before it starts: its init never runs.
	c3 := e.create(p.containerBundle([]string{"sh", "-c", "echo ran"}, nil), "pod-never")
	e.must("kill", c3.id, "KILL")
	if ws := reap(t, c3.pid); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the container killed before start ended with %#x, want SIGKILL", int(ws))
	}
	if out := c3.out(t); out != "" {
		t.Errorf("the container killed before start printed %q", out)
	}
	e.must("delete", c3.id)
	e.must("delete", "--force", p.sandbox.id)
	reap(t, p.sandbox.pid)
}

// TestPodSandboxDeleteEndsContainers: the pod is gone with its sandbox:
// a started (sharing the pod's pid namespace: it sees the pause as pid 1)
// and a created container end (their pid-file processes with
// SIGKILL) and show as stopped.
func TestPodSandboxDeleteEndsContainers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newPod(t, e, "pod-sb2")
	// Without the CRI's /dev/shm bind: it gets the pod's /dev/shm, as it
	// joins the pod's IPC namespace.
	run := e.create(p.containerBundle([]string{"sh", "-c", loopScript}, func(s *specs.Spec) {
		var keep []specs.Mount
		for _, m := range s.Mounts {
			if m.Destination != "/dev/shm" {
				keep = append(keep, m)
			}
		}
		s.Mounts = keep
	}), "pod-run")
	e.must("start", run.id)
	e.waitOutput(run, "started")
	// It shares the pod's pid namespace (crictl's default): pid 1 is the
	// pause.
	if r := e.must("exec", run.id, "sh", "-c", `tr '\0' ' ' </proc/1/cmdline; kill -0 1 && echo can-signal-1`); !strings.Contains(string(r.Stdout), "pause-up") || !strings.Contains(string(r.Stdout), "can-signal-1") {
		t.Errorf("in a container sharing the pod's pid namespace, pid 1 is %q, want the pause", r.Stdout)
	}
	e.must("exec", run.id, "sh", "-c", "echo via-ipc > /dev/shm/ipc-file")
	if r := e.must("exec", p.sandbox.id, "cat", "/dev/shm/ipc-file"); string(r.Stdout) != "via-ipc\n" {
		t.Errorf("the sandbox reads %q from /dev/shm/ipc-file, want the container's", r.Stdout)
	}
	held := e.create(p.containerBundle([]string{"sh", "-c", loopScript}, nil), "pod-held")

	e.must("delete", "--force", p.sandbox.id)
	reap(t, p.sandbox.pid)
	for _, c := range []*created{run, held} {
		if ws := reap(t, c.pid); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Errorf("%s: pid-file process ended with %#x, want SIGKILL", c.id, int(ws))
		}
		e.waitStatus(c.id, specs.StateStopped)
		e.must("delete", c.id)
	}
}

// TestPodContainerWithoutSandbox: a container naming a sandbox that is
// not there fails to create, saying so, and leaves nothing behind.
func TestPodContainerWithoutSandbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{
			"io.kubernetes.cri.container-type": "container",
			"io.kubernetes.cri.sandbox-id":     "no-such-pod",
		}
	})
	e.fails(`pod sandbox "no-such-pod"`, "create", "--bundle", b, "orphan")
	e.fails("does not exist", "state", "orphan")
	// A stopped sandbox is no better.
	sb := e.create(e.bundle([]string{"true"}, nil), "stopped-pod")
	e.must("start", sb.id)
	reap(t, sb.pid)
	e.waitStatus(sb.id, specs.StateStopped)
	b2 := e.bundle([]string{"true"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{
			"io.kubernetes.cri.container-type": "container",
			"io.kubernetes.cri.sandbox-id":     sb.id,
		}
	})
	e.fails("not running", "create", "--bundle", b2, "orphan2")
	_ = harness.Timeout
}

// TestPodContainerTerminal: a pod container's init on a terminal (its
// master over --console-socket, as crictl run -t gets it), and exec --tty
// into it.
func TestPodContainerTerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newPod(t, e, "pod-tty")
	b := p.containerBundle([]string{"sh"}, func(s *specs.Spec) { s.Process.Terminal = true })
	sock := filepath.Join(e.root, "console.sock")
	masters := consoleSocket(t, sock)
	c := e.create(b, "pod-tty-app", "--console-socket", sock)
	master, ok := <-masters
	if !ok {
		t.Fatal("no pty master came over the console socket")
	}
	defer master.Close()
	tm := newTerm(t, master)
	// Set before start, as a shim does: init sees it.
	tm.resize(30, 100)
	e.must("start", c.id)
	// init's terminal is the library OS's, of the container's devpts:
	// its name, job control, resizes and ^C behave as in a sandbox's
	// init.
	interactive(t, tm, 30, 100)
	sock2 := filepath.Join(e.root, "console2.sock")
	masters = consoleSocket(t, sock2)
	e.must("exec", "--tty", "--detach", "--console-socket", sock2, c.id, "sh", "-c", `test -t 1 && echo exec-tty; cat /etc/app-only`)
	m2, ok := <-masters
	if !ok {
		t.Fatal("no pty master came over the console socket for exec")
	}
	defer m2.Close()
	if out := strings.ReplaceAll(readAll(t, m2, "app\r\n"), "\r\n", "\n"); out != "exec-tty\napp\n" {
		t.Errorf("exec --tty in the pod container printed %q", out)
	}
	tm.send("echo bye-$((2+2)); exit 6\n")
	tm.expect("bye-4")
	if ws := reap(t, c.pid); ws.ExitStatus() != 6 {
		t.Errorf("pid-file process ended with %#x, want exit 6", int(ws))
	}
	if err := tm.waitEnd(); err == nil {
		t.Error("the master read no error after the container ended")
	}
}

// TestPodContainerExecTerminalShim: an exec with a terminal into a pod
// container, as containerd's shim asks for it (kubectl exec -it, crictl
// exec -it): --process of a process.json with terminal true,
// --console-socket, --detach, --pid-file. The process gets a terminal of
// the container's own devpts: a tty on fds 0-2 whose /dev/pts/N exists in
// the container's view, the client's resizes reach it (SIGWINCH, stty
// size), and ^C is the line discipline's.
func TestPodContainerExecTerminalShim(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newPod(t, e, "pod-shimtty")
	c := e.create(p.containerBundle([]string{"sh", "-c", "echo app-up; while :; do sleep 1; done"}, nil), "pod-shimtty-app")
	e.must("start", c.id)
	e.waitOutput(c, "app-up")
	n := 0
	execTTY := func(args ...string) (*term, int) {
		t.Helper()
		n++
		// The shim's process.json (shared/integration/samples/
		// process.exec.tty.json): no consoleSize; the client sizes the
		// master once it has it.
		proc := specs.Process{
			Terminal: true,
			Args:     args,
			Env:      []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cwd:      "/",
			User:     specs.User{AdditionalGids: []uint32{0}},
			Rlimits:  []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
		}
		dir, err := os.MkdirTemp(e.root, "pty")
		if err != nil {
			t.Fatal(err)
		}
		pf := filepath.Join(dir, fmt.Sprintf("runc-process%d", n))
		data, _ := json.Marshal(proc)
		if err := os.WriteFile(pf, data, 0o600); err != nil {
			t.Fatal(err)
		}
		sock := filepath.Join(dir, "pty.sock")
		masters := consoleSocket(t, sock)
		pidFile := filepath.Join(dir, fmt.Sprintf("exec%d.pid", n))
		e.must("exec", "--process", pf, "--console-socket", sock, "--detach", "--pid-file", pidFile, c.id)
		master, ok := <-masters
		if !ok {
			t.Fatal("no pty master came over the console socket for exec")
		}
		t.Cleanup(func() { master.Close() })
		pidData, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatalf("exec wrote no pid file: %v", err)
		}
		pid, _ := strconv.Atoi(string(pidData))
		return newTerm(t, master), pid
	}

	// crictl exec -it CTR tty.
	tm, pid := execTTY("tty")
	if out := tm.expect("\n"); !strings.HasPrefix(out, "/dev/pts/") {
		t.Errorf("tty printed %q, want /dev/pts/N", out)
	}
	if ws := reap(t, pid); ws.ExitStatus() != 0 {
		t.Errorf("tty ended with %#x, want exit 0", int(ws))
	}

	tm, pid = execTTY("sh")
	tm.resize(30, 80)
	// The terminal's node is the container's, and it is what fds 0-2
	// name.
	tm.send(`t=$(tty); [ -c "$t" ] && [ "$(readlink /proc/self/fd/0)" = "$t" ] && [ "$(readlink /proc/$$/fd/2)" = "$t" ] && echo node-$((2+5))` + "\n")
	tm.expect("node-7")
	interactive(t, tm, 30, 80)
	tm.send("exit 4\n")
	if ws := reap(t, pid); ws.ExitStatus() != 4 {
		t.Errorf("the exec ended with %#x, want exit 4", int(ws))
	}
	e.must("kill", c.id, "KILL")
	reap(t, c.pid)
}
