// Package oci drives runsc-exo's runc-compatible commands on bundles whose
// rootfs is a small busybox tree: create/start/state/kill/delete
// sequences, the --pid-file process and its exit status as a subreaper
// sees it, run compared with runc run, hooks with the state on stdin, and
// the errors of a bad config.json, an unknown id, a double create and the
// delete of a running container.
package oci

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/oci"
	"exokernelul.dev/exo/test/internal/harness"
)

// Busybox is where Debian's busybox-static package installs the binary.
const Busybox = "/bin/busybox"

var suite *harness.Suite

func TestMain(m *testing.M) {
	flag.Parse()
	harness.LimitParallel()
	s, err := harness.NewSuite("oci")
	if err != nil {
		fmt.Fprintln(os.Stderr, "oci: cannot create a scratch directory:", err)
		os.Exit(1)
	}
	suite = s
	// The container's host process (the --pid-file pid) outlives create;
	// like containerd's shim, this process adopts and reaps it.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// env is one test's runtime and state root.
type env struct {
	t    *testing.T
	bin  string
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	rt := suite.Runtime(t)
	if _, err := os.Stat(Busybox); err != nil {
		t.Fatalf("%s is needed (apt-get install -y busybox-static): %v", Busybox, err)
	}
	root, err := os.MkdirTemp(suite.Dir, "root-")
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, bin: rt.Bin, root: root}
}

// args is the runtime's command line with the test's --root.
func (e *env) args(args ...string) []string {
	return append([]string{e.bin, "--root", e.root}, args...)
}

// run runs one runtime command to completion.
func (e *env) run(args ...string) *harness.Result {
	e.t.Helper()
	r := harness.Run(harness.Cmd{Args: e.args(args...)})
	if strings.Contains(string(r.Stderr), "panic:") || strings.Contains(string(r.Stderr), "goroutine ") {
		e.t.Errorf("the runtime panicked:\n%s", r)
	}
	return r
}

// must runs one runtime command and requires exit status 0.
func (e *env) must(args ...string) *harness.Result {
	e.t.Helper()
	r := e.run(args...)
	if r.ExitCode != 0 {
		e.t.Fatalf("%s: want exit status 0\n%s", strings.Join(args, " "), r)
	}
	return r
}

// fails runs one runtime command and requires a non-zero status and an
// error on stderr containing want.
func (e *env) fails(want string, args ...string) *harness.Result {
	e.t.Helper()
	r := e.run(args...)
	if r.ExitCode == 0 || r.ExitCode < 0 {
		e.t.Errorf("%s: want a non-zero exit status\n%s", strings.Join(args, " "), r)
	}
	if !strings.Contains(string(r.Stderr), want) {
		e.t.Errorf("%s: want %q in stderr\n%s", strings.Join(args, " "), want, r)
	}
	return r
}

// bundle makes a bundle whose rootfs holds busybox and its applets, with
// the runtime's default spec running args, changed by edit.
func (e *env) bundle(args []string, edit func(*specs.Spec)) string {
	e.t.Helper()
	dir, err := os.MkdirTemp(suite.Dir, "bundle-")
	if err != nil {
		e.t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	rootfs := filepath.Join(dir, "rootfs")
	// Every mount point exists up front, so runc does not create any and
	// both runtimes see the same tree.
	for _, d := range []string{"bin", "dev", "etc", "proc", "sys", "tmp", "root"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := harness.CopyExecutable(Busybox, filepath.Join(rootfs, "bin", "busybox")); err != nil {
		e.t.Fatal(err)
	}
	out, err := exec.Command(Busybox, "--list").Output()
	if err != nil {
		e.t.Fatalf("busybox --list: %v", err)
	}
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" {
			os.Symlink("busybox", filepath.Join(rootfs, "bin", a))
		}
	}
	os.WriteFile(filepath.Join(rootfs, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc", "group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	e.must("spec", "--bundle", dir)
	spec := e.readSpec(dir)
	spec.Process.Args = args
	spec.Process.Env = []string{"PATH=/bin", "TERM=xterm"}
	if edit != nil {
		edit(spec)
	}
	e.writeSpec(dir, spec)
	return dir
}

func (e *env) readSpec(bundle string) *specs.Spec {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		e.t.Fatalf("spec wrote a bad config.json: %v", err)
	}
	return &spec
}

func (e *env) writeSpec(bundle string, spec *specs.Spec) {
	e.t.Helper()
	data, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// created is a container made by create, with its output in a file.
type created struct {
	id     string
	pid    int
	output string
}

// create runs `create` with the container's stdout and stderr going to
// one file (a pipe would be held open by the container's process), and
// deletes the container when the test ends.
func (e *env) create(bundle, id string, extra ...string) *created {
	e.t.Helper()
	c := &created{id: id, output: filepath.Join(e.root, id+".out")}
	pidFile := filepath.Join(e.root, id+".pid")
	out, err := os.Create(c.output)
	if err != nil {
		e.t.Fatal(err)
	}
	defer out.Close()
	args := append([]string{"create", "--bundle", bundle, "--pid-file", pidFile}, extra...)
	cmd := exec.Command(e.bin, e.args(append(args, id)...)[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		data, _ := os.ReadFile(c.output)
		e.t.Fatalf("create %s: %v\n%s", id, err, data)
	}
	e.t.Cleanup(func() { harness.Run(harness.Cmd{Args: e.args("delete", "--force", id)}) })
	data, err := os.ReadFile(pidFile)
	if err != nil {
		e.t.Fatalf("create wrote no pid file: %v", err)
	}
	c.pid, err = strconv.Atoi(string(data))
	if err != nil || c.pid <= 0 {
		e.t.Fatalf("pid file holds %q, not a pid", data)
	}
	return c
}

func (c *created) out(t *testing.T) string {
	data, err := os.ReadFile(c.output)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// stateJSON is what `state` prints.
type stateJSON struct {
	specs.State
	Rootfs string `json:"rootfs"`
}

func (e *env) state(id string) stateJSON {
	e.t.Helper()
	r := e.must("state", id)
	var st stateJSON
	if err := json.Unmarshal(r.Stdout, &st); err != nil {
		e.t.Fatalf("state printed no JSON: %v\n%s", err, r)
	}
	return st
}

// waitStatus polls the container's state until it has status want.
func (e *env) waitStatus(id string, want specs.ContainerState) stateJSON {
	e.t.Helper()
	deadline := time.Now().Add(harness.Timeout())
	for {
		var st stateJSON
		r := e.run("state", id)
		if r.ExitCode == 0 {
			if err := json.Unmarshal(r.Stdout, &st); err != nil {
				e.t.Fatalf("state printed no JSON: %v\n%s", err, r)
			}
			if st.Status == want {
				return st
			}
		} else if !strings.Contains(string(r.Stderr), "does not exist") {
			e.t.Fatalf("state %s failed\n%s", id, r)
		}
		if time.Now().After(deadline) || (st.Status == specs.StateStopped && want != specs.StateStopped) {
			e.t.Errorf("container %s is %q, want %s\n%s", id, st.Status, want, processes())
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitOutput polls the container's output until it contains want.
func (e *env) waitOutput(c *created, want string) {
	e.t.Helper()
	deadline := time.Now().Add(harness.Timeout())
	for !strings.Contains(c.out(e.t), want) {
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s did not print %q; it printed %q\n%s", c.id, want, c.out(e.t), processes())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processes lists the host's runtime processes, for a failure's report.
func processes() string {
	out, _ := exec.Command("ps", "-eo", "pid,ppid,stat,wchan:20,etime,args").Output()
	var keep []string
	for i, l := range strings.Split(string(out), "\n") {
		if i == 0 || strings.Contains(l, "runsc-exo") || strings.Contains(l, "exo-stub") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// reap waits for the container's host process, which this test process
// adopted as a subreaper.
func reap(t *testing.T, pid int) syscall.WaitStatus {
	t.Helper()
	var ws syscall.WaitStatus
	done := make(chan error, 1)
	go func() {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("wait4(%d): %v", pid, err)
		}
	case <-time.After(harness.Timeout()):
		t.Fatalf("the pid-file process %d did not end\n%s", pid, processes())
	}
	return ws
}

// loopScript runs until SIGTERM; it prints "started" once its trap is set
// (before that, init ignores SIGTERM from the host).
const loopScript = `trap 'echo got TERM; exit 7' TERM; echo started; while :; do sleep 0.1; done`

func TestCreateStartKillDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", loopScript}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.example.test": "yes"}
	})
	c := e.create(b, "lifecycle")
	st := e.state(c.id)
	if st.Status != specs.StateCreated || st.Pid != c.pid || st.Bundle != b || st.ID != c.id || st.Annotations["org.example.test"] != "yes" {
		t.Errorf("state after create = %+v; want created, pid %d, bundle %s, the annotation", st, c.pid, b)
	}
	if out := c.out(t); strings.Contains(out, "started") {
		t.Errorf("the container ran before start: %q", out)
	}
	r := e.must("list", "--format", "json")
	var list []stateJSON
	if err := json.Unmarshal(r.Stdout, &list); err != nil || len(list) != 1 || list[0].ID != c.id {
		t.Errorf("list --format json = %s (%v); want just %s", r.Stdout, err, c.id)
	}
	if r := e.must("list"); !strings.Contains(string(r.Stdout), "ID") || !strings.Contains(string(r.Stdout), c.id) {
		t.Errorf("list table lacks the header or the container:\n%s", r.Stdout)
	}

	e.must("start", c.id)
	e.waitStatus(c.id, specs.StateRunning)
	e.waitOutput(c, "started")
	e.fails("already running", "start", c.id)
	e.fails("not stopped", "delete", c.id)

	r = e.must("ps", "--format", "json", c.id)
	var pids []int
	if err := json.Unmarshal(r.Stdout, &pids); err != nil || len(pids) < 2 || pids[0] != c.pid {
		t.Errorf("ps --format json = %s (%v); want the pid-file process %d and the sandbox's processes", r.Stdout, err, c.pid)
	}

	e.must("kill", c.id, "TERM")
	ws := reap(t, c.pid)
	if !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("pid-file process ended with %v, want exit status 7 (the trap's)", ws)
	}
	e.waitStatus(c.id, specs.StateStopped)
	if out := c.out(t); out != "started\ngot TERM\n" {
		t.Errorf("container output = %q, want started and got TERM", out)
	}
	e.fails("not running", "kill", c.id, "KILL")
	e.must("delete", c.id)
	e.fails("does not exist", "state", c.id)
	e.must("delete", "--force", c.id)
}

func TestPidFileExitStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name   string
		args   []string
		kill   string
		exited bool
		want   int
	}{
		{"exit3", []string{"sh", "-c", "exit 3"}, "", true, 3},
		{"sigkill", []string{"sh", "-c", loopScript}, "9", false, 9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{t: t, bin: e.bin, root: e.root}
			c := e.create(e.bundle(tc.args, nil), tc.name)
			e.must("start", c.id)
			if tc.kill != "" {
				e.waitOutput(c, "started")
				e.must("kill", c.id, tc.kill)
			}
			ws := reap(t, c.pid)
			switch {
			case tc.exited && (!ws.Exited() || ws.ExitStatus() != tc.want):
				t.Errorf("pid-file process ended with %#x, want exit status %d", int(ws), tc.want)
			case !tc.exited && (!ws.Signaled() || int(ws.Signal()) != tc.want):
				t.Errorf("pid-file process ended with %#x, want death by signal %d", int(ws), tc.want)
			}
			e.waitStatus(c.id, specs.StateStopped)
			e.must("delete", c.id)
		})
	}
}

// TestInitIgnoresUnhandledSignal: as for a container's init in its own pid
// namespace, a signal from the host reaches init only if init handles it
// (docker stop of `sleep` waits for its SIGKILL); SIGKILL always does.
func TestInitIgnoresUnhandledSignal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(e.bundle([]string{"sleep", "100"}, nil), "unhandled")
	e.must("start", c.id)
	e.waitStatus(c.id, specs.StateRunning)
	e.must("kill", c.id, "TERM")
	time.Sleep(300 * time.Millisecond)
	if st := e.state(c.id); st.Status != specs.StateRunning {
		t.Errorf("init without a SIGTERM handler ended on kill TERM: status %s", st.Status)
	}
	e.must("kill", "--all", c.id, "KILL")
	ws := reap(t, c.pid)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("pid-file process ended with %#x, want SIGKILL", int(ws))
	}
}

func TestKillBeforeStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(e.bundle([]string{"sh", "-c", "echo ran"}, nil), "killcreated")
	e.must("kill", c.id, "KILL")
	ws := reap(t, c.pid)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("pid-file process ended with %#x, want SIGKILL", int(ws))
	}
	e.waitStatus(c.id, specs.StateStopped)
	if out := c.out(t); out != "" {
		t.Errorf("a container killed before start printed %q", out)
	}
	e.must("delete", c.id)
}

func TestDeleteForce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(e.bundle([]string{"sh", "-c", loopScript}, nil), "forced")
	e.must("start", c.id)
	e.waitStatus(c.id, specs.StateRunning)
	e.fails("not stopped", "delete", c.id)
	e.must("delete", "--force", c.id)
	ws := reap(t, c.pid)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("pid-file process ended with %#x, want SIGKILL", int(ws))
	}
	e.fails("does not exist", "state", c.id)
	// The shim's cleanup deletes again with --force.
	e.must("delete", "--force", c.id)

	// A created container is deleted without --force, as runc does.
	c = e.create(e.bundle([]string{"true"}, nil), "forced2")
	e.must("delete", c.id)
	reap(t, c.pid)
	e.fails("does not exist", "state", c.id)
}

// busyboxScript prints what both runtimes must show alike.
const busyboxScript = `echo hello; echo to-stderr >&2; id; hostname; pwd; echo "HOME=$HOME"; ls /; cat /etc/passwd | wc -l; echo $$; ulimit -n; exit 3`

func TestRunMatchesRunc(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	edit := func(s *specs.Spec) {
		s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 512, Hard: 1024}}
		s.Hostname = "samehost"
	}
	b := e.bundle([]string{"sh", "-c", busyboxScript}, edit)
	r := e.run("run", "--bundle", b, "runme")
	harness.CheckExit(t, "runsc-exo run", r, 3)
	want := "hello\nuid=0(root) gid=0(root) groups=0(root)\nsamehost\n/\nHOME=/root\nbin\ndev\netc\nproc\nroot\nsys\ntmp\n2\n1\n512\n"
	runc, err := exec.LookPath("runc")
	if err != nil {
		if string(r.Stdout) != want {
			t.Errorf("runsc-exo run printed %q, want %q", r.Stdout, want)
		}
		t.Skip("runc is not installed: compared with the expected output only")
	}
	runcRoot := filepath.Join(e.root, "runc")
	nr := harness.Run(harness.Cmd{Args: []string{runc, "--root", runcRoot, "run", "--bundle", b, "runme"}})
	if nr.ExitCode != 3 {
		t.Fatalf("runc run: want exit status 3\n%s", nr)
	}
	if string(r.Stdout) != string(nr.Stdout) {
		t.Errorf("stdout differs from runc's:\n%s", harness.FirstDifference("runsc-exo", r.Stdout, "runc", nr.Stdout))
	}
	if string(r.Stderr) != string(nr.Stderr) {
		t.Errorf("stderr differs from runc's:\n%s", harness.FirstDifference("runsc-exo", r.Stderr, "runc", nr.Stderr))
	}
	e.fails("does not exist", "state", "runme")
}

func TestRunSignalExit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bundle([]string{"sleep", "100"}, nil)
	p, err := harness.Start(harness.Cmd{Args: e.args("run", "--bundle", b, "runkill")})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.waitStatus("runkill", specs.StateRunning); st.Status != specs.StateRunning {
		p.Cmd.Process.Kill()
		t.Fatalf("run did not start the container\n%s", p.Wait())
	}
	e.must("kill", "runkill", "SIGKILL")
	r := p.Wait()
	harness.CheckExit(t, "run of a container killed by SIGKILL", r, 137)
	e.fails("does not exist", "state", "runkill")
}

func TestHooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rec := filepath.Join(e.root, "hooks")
	if err := os.Mkdir(rec, 0o755); err != nil {
		t.Fatal(err)
	}
	hook := func(stage string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$0/$1.json"; echo "$FOO" > "$0/$1.env"`, rec, stage}, Env: []string{"FOO=bar-" + stage}}
	}
	b := e.bundle([]string{"sh", "-c", "echo ran"}, func(s *specs.Spec) {
		s.Hooks = &specs.Hooks{
			Prestart:        []specs.Hook{hook("prestart")}, //nolint:staticcheck // the legacy stage is part of the contract
			CreateRuntime:   []specs.Hook{hook("createRuntime")},
			CreateContainer: []specs.Hook{hook("createContainer")},
			StartContainer:  []specs.Hook{hook("startContainer")},
			Poststart:       []specs.Hook{hook("poststart")},
			Poststop:        []specs.Hook{hook("poststop")},
		}
	})
	c := e.create(b, "hooked")
	for _, stage := range []string{"prestart", "createRuntime", "createContainer"} {
		if _, err := os.Stat(filepath.Join(rec, stage+".json")); err != nil {
			t.Errorf("the %s hook did not run by the end of create: %v", stage, err)
		}
	}
	if _, err := os.Stat(filepath.Join(rec, "startContainer.json")); err == nil {
		t.Errorf("the startContainer hook ran before start")
	}
	e.must("start", c.id)
	reap(t, c.pid)
	e.waitStatus(c.id, specs.StateStopped)
	e.must("delete", c.id)
	wantStatus := map[string]specs.ContainerState{
		"prestart": specs.StateCreating, "createRuntime": specs.StateCreating, "createContainer": specs.StateCreating,
		"startContainer": specs.StateCreated, "poststart": specs.StateRunning, "poststop": specs.StateStopped,
	}
	for stage, status := range wantStatus {
		data, err := os.ReadFile(filepath.Join(rec, stage+".json"))
		if err != nil {
			t.Errorf("the %s hook did not run: %v", stage, err)
			continue
		}
		var st specs.State
		if err := json.Unmarshal(data, &st); err != nil {
			t.Errorf("the %s hook's stdin is not the state JSON: %v: %q", stage, err, data)
			continue
		}
		if st.ID != c.id || st.Bundle != b || st.Version == "" {
			t.Errorf("the %s hook got state %+v; want id %s, bundle %s, ociVersion", stage, st, c.id, b)
		}
		// A fast container may be gone before poststart runs.
		if st.Status != status && !(stage == "poststart" && st.Status == specs.StateStopped) {
			t.Errorf("the %s hook got status %s, want %s", stage, st.Status, status)
		}
		if stage != "poststop" && st.Pid != c.pid {
			t.Errorf("the %s hook got pid %d, want the container's %d", stage, st.Pid, c.pid)
		}
		env, _ := os.ReadFile(filepath.Join(rec, stage+".env"))
		if string(env) != "bar-"+stage+"\n" {
			t.Errorf("the %s hook saw FOO=%q, want its env", stage, env)
		}
	}
}

func TestFailingHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	timeout := 1
	cases := map[string]specs.Hook{
		"exit":    {Path: "/bin/sh", Args: []string{"sh", "-c", "echo hook says no >&2; exit 4"}},
		"timeout": {Path: "/bin/sleep", Args: []string{"sleep", "30"}, Timeout: &timeout},
	}
	for name, h := range cases {
		b := e.bundle([]string{"true"}, func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{h}}
		})
		start := time.Now()
		r := e.fails("createRuntime hook", "create", "--bundle", b, "fail-"+name)
		if name == "timeout" && time.Since(start) > 20*time.Second {
			t.Errorf("the hook's 1s timeout was not applied: create took %v", time.Since(start))
		}
		if name == "exit" && !strings.Contains(string(r.Stderr), "hook says no") {
			t.Errorf("the error does not show the hook's output\n%s", r)
		}
		e.fails("does not exist", "state", "fail-"+name)
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name  string
		edit  func(*specs.Spec)
		field string
	}{
		{"no-args", func(s *specs.Spec) { s.Process.Args = nil }, "process.args: must not be empty"},
		{"no-root", func(s *specs.Spec) { s.Root.Path = "missing" }, `root.path: "missing": no such directory`},
		{"relative-cwd", func(s *specs.Spec) { s.Process.Cwd = "tmp" }, "process.cwd"},
		{"bad-rlimit", func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOPE", Soft: 1, Hard: 1}}
		}, "process.rlimits[0].type"},
		{"bad-mount", func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "ext4", Source: "/dev/sda1"})
		}, "mounts[7].type"},
		{"bad-hook", func(s *specs.Spec) {
			s.Hooks = &specs.Hooks{Poststart: []specs.Hook{{Path: "relative"}}}
		}, "hooks.poststart[0].path"},
		{"no-version", func(s *specs.Spec) { s.Version = "" }, "ociVersion"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &env{t: t, bin: e.bin, root: e.root}
			b := e.bundle([]string{"true"}, tc.edit)
			e.fails("config.json: "+tc.field, "create", "--bundle", b, "bad-"+tc.name)
			e.fails("does not exist", "state", "bad-"+tc.name)
		})
	}
	t.Run("not-json", func(t *testing.T) {
		e := &env{t: t, bin: e.bin, root: e.root}
		b := e.bundle([]string{"true"}, nil)
		os.WriteFile(filepath.Join(b, "config.json"), []byte("{not json"), 0o644)
		e.fails("config.json", "create", "--bundle", b, "notjson")
	})
	t.Run("log-json", func(t *testing.T) {
		// containerd shows the msg of the last JSON line of --log.
		e := &env{t: t, bin: e.bin, root: e.root}
		b := e.bundle(nil, nil)
		log := filepath.Join(e.root, "log.json")
		e.fails("process.args", "--log", log, "--log-format", "json", "create", "--bundle", b, "logged")
		data, _ := os.ReadFile(log)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		var last struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || !strings.Contains(last.Msg, "process.args") {
			t.Errorf("the last line of --log is %q; want JSON whose msg names process.args", lines[len(lines)-1])
		}
	})
}

func TestUnknownID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, cmd := range [][]string{{"state"}, {"start"}, {"kill"}, {"delete"}, {"ps"}} {
		e.fails("does not exist", append(cmd, "nosuch")...)
	}
	e.must("delete", "--force", "nosuch")
	e.fails("invalid container id", "state", "../etc")
}

func TestDoubleCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", "echo once"}, nil)
	c := e.create(b, "twice")
	e.fails("already exists", "create", "--bundle", b, "twice")
	if st := e.state(c.id); st.Status != specs.StateCreated || st.Pid != c.pid {
		t.Errorf("the second create changed the first container: %+v", st)
	}
	e.must("start", c.id)
	reap(t, c.pid)
	e.waitStatus(c.id, specs.StateStopped)
	if out := c.out(t); out != "once\n" {
		t.Errorf("container printed %q, want once", out)
	}
}

func TestMountsAndLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host, err := os.MkdirTemp(suite.Dir, "bind-")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644)
	ro, err := os.MkdirTemp(suite.Dir, "bindro-")
	if err != nil {
		t.Fatal(err)
	}
	script := `cat /data/in; echo out > /data/out; echo x > /ro/x || echo ro-refused; echo shm > /dev/shm/f && cat /dev/shm/f; id -G`
	limit := int64(64 << 20)
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/data", Type: "bind", Source: host, Options: []string{"rbind", "rw"}},
			specs.Mount{Destination: "/ro", Source: ro, Options: []string{"bind", "ro"}},
		)
		s.Process.User.AdditionalGids = []uint32{65534}
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}, Pids: &specs.LinuxPids{Limit: 50}}
	})
	os.MkdirAll(filepath.Join(b, "rootfs", "data"), 0o755)
	os.MkdirAll(filepath.Join(b, "rootfs", "ro"), 0o755)
	r := e.run("run", "--bundle", b, "mounts")
	harness.CheckExit(t, "run", r, 0)
	want := "from host\nro-refused\nshm\n0 65534\n"
	if got := string(r.Stdout); got != want {
		t.Errorf("container printed %q, want %q\n%s", got, want, r)
	}
	if data, err := os.ReadFile(filepath.Join(host, "out")); err != nil || string(data) != "out\n" {
		t.Errorf("the write through the rw bind mount did not reach the host: %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(ro, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a write through the ro bind mount reached the host")
	}
}

func TestSpecAndFeatures(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	e.must("spec", "--bundle", dir)
	spec := e.readSpec(dir)
	if spec.Version == "" || spec.Process == nil || len(spec.Process.Args) != 1 || spec.Process.Args[0] != "sh" || spec.Root.Path != "rootfs" {
		t.Errorf("spec wrote %+v; want ociVersion, args [sh], root rootfs", spec)
	}
	e.fails("exists", "spec", "--bundle", dir)
	r := e.must("features")
	var f struct {
		OCIVersionMin string   `json:"ociVersionMin"`
		OCIVersionMax string   `json:"ociVersionMax"`
		Hooks         []string `json:"hooks"`
	}
	if err := json.Unmarshal(r.Stdout, &f); err != nil || f.OCIVersionMax == "" || len(f.Hooks) != 6 {
		t.Errorf("features printed %s (%v); want versions and the six hook stages", r.Stdout, err)
	}
}

func TestExec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(e.bundle([]string{"sh", "-c", loopScript}, nil), "execd")
	e.must("start", c.id)
	e.waitOutput(c, "started")

	r := e.run("exec", c.id, "sh", "-c", `echo "in exec $$ $PPID"; echo to-stderr >&2; exit 4`)
	harness.CheckExit(t, "exec", r, 4)
	// Its parent is outside the container's pid namespace: ppid 0.
	if got := string(r.Stdout); !strings.HasPrefix(got, "in exec ") || !strings.HasSuffix(got, " 0\n") {
		t.Errorf("exec printed %q, want its pid and ppid 0", got)
	}
	if string(r.Stderr) != "to-stderr\n" {
		t.Errorf("exec's stderr = %q", r.Stderr)
	}

	proc := filepath.Join(e.root, "process.json")
	p := specs.Process{Args: []string{"sh", "-c", `echo "$FOO $(pwd) $(id -u)"`}, Env: []string{"PATH=/bin", "FOO=bar"}, Cwd: "/tmp", User: specs.User{UID: 65534, GID: 65534}}
	data, _ := json.Marshal(p)
	os.WriteFile(proc, data, 0o644)
	r = e.must("exec", "--process", proc, c.id)
	if got := string(r.Stdout); got != "bar /tmp 65534\n" {
		t.Errorf("exec --process printed %q, want %q", got, "bar /tmp 65534\n")
	}
	p.Args = nil
	data, _ = json.Marshal(p)
	os.WriteFile(proc, data, 0o644)
	e.fails("process.args", "exec", "--process", proc, c.id)
	e.fails("not found", "exec", c.id, "nosuchprogram")

	// Detached, as the shim runs it: the pid-file process lives as long
	// as the exec'd process and ends as it does.
	pidFile := filepath.Join(e.root, "exec.pid")
	e.must("exec", "--detach", "--pid-file", pidFile, c.id, "sleep", "100")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("exec wrote no pid file: %v", err)
	}
	pid, _ := strconv.Atoi(string(data))
	r = e.must("ps", "--format", "json", c.id)
	var pids []int
	json.Unmarshal(r.Stdout, &pids)
	found := false
	for _, p := range pids {
		found = found || p == pid
	}
	if !found {
		t.Errorf("ps --format json = %s lacks the exec's host process %d", r.Stdout, pid)
	}

	// SIGKILL of the pid-file process (a shim's exec timeout) ends the
	// exec'd process too: its stdout, a pipe as the shim's, reaches EOF.
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.bin, e.args("exec", "--detach", "--pid-file", pidFile+"2", c.id, "sleep", "100")[1:]...)
	cmd.Stdout, cmd.Stderr = outW, outW
	if err := cmd.Run(); err != nil {
		t.Fatalf("exec --detach: %v", err)
	}
	outW.Close()
	data, _ = os.ReadFile(pidFile + "2")
	pid2, _ := strconv.Atoi(string(data))
	syscall.Kill(pid2, syscall.SIGKILL)
	reap(t, pid2)
	eof := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(outR)
		eof <- err
	}()
	select {
	case <-eof:
	case <-time.After(harness.Timeout()):
		t.Errorf("the exec'd process outlived its killed pid-file process\n%s", e.run("exec", c.id, "ps").Stdout)
	}
	outR.Close()

	e.must("kill", "--all", c.id, "KILL")
	if ws := reap(t, pid); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the exec's pid-file process ended with %#x, want SIGKILL", int(ws))
	}
	reap(t, c.pid)
	e.waitStatus(c.id, specs.StateStopped)
	e.fails("stopped", "exec", c.id, "true")
}

func TestSystemdCgroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: --systemd-cgroup is accepted")
	}
	b := e.bundle([]string{"true"}, nil)
	e.fails("systemd not running", "--systemd-cgroup", "create", "--bundle", b, "sd")
	e.fails("does not exist", "state", "sd")
}

// consoleSocket listens where the runtime sends a terminal's master and
// returns the master it receives.
func consoleSocket(t *testing.T, path string) <-chan *os.File {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *os.File, 1)
	go func() {
		defer ln.Close()
		c, err := ln.AcceptUnix()
		if err != nil {
			close(ch)
			return
		}
		defer c.Close()
		buf := make([]byte, 256)
		oob := make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			close(ch)
			return
		}
		cmsgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		for _, cm := range cmsgs {
			if fds, err := unix.ParseUnixRights(&cm); err == nil && len(fds) == 1 {
				// Non-blocking, so reads can have deadlines.
				unix.SetNonblock(fds[0], true)
				ch <- os.NewFile(uintptr(fds[0]), "master")
				return
			}
		}
		close(ch)
	}()
	return ch
}

func readAll(t *testing.T, f *os.File, want string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(harness.Timeout())
	for !strings.Contains(string(got), want) && time.Now().Before(deadline) {
		f.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := f.Read(buf)
		got = append(got, buf[:n]...)
	}
	return string(got)
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `if [ -t 0 ] && [ -t 1 ]; then echo is-a-tty; fi; stty size; echo done`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) { s.Process.Terminal = true })
	e.fails("console-socket", "create", "--bundle", b, "tty-nosock")
	sock := filepath.Join(e.root, "console.sock")
	masters := consoleSocket(t, sock)
	c := e.create(b, "tty", "--console-socket", sock)
	master, ok := <-masters
	if !ok {
		t.Fatal("no pty master came over the console socket")
	}
	defer master.Close()
	unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 30, Col: 100})
	e.must("start", c.id)
	out := readAll(t, master, "done")
	out = strings.ReplaceAll(out, "\r\n", "\n")
	if out != "is-a-tty\n30 100\ndone\n" {
		t.Errorf("on its terminal the container printed %q, want is-a-tty, 30 100, done", out)
	}
	reap(t, c.pid)

	// exec --tty, into a running container.
	c = e.create(e.bundle([]string{"sh", "-c", loopScript}, nil), "ttyexec")
	e.must("start", c.id)
	e.waitOutput(c, "started")
	sock2 := filepath.Join(e.root, "console2.sock")
	masters = consoleSocket(t, sock2)
	e.must("exec", "--tty", "--detach", "--console-socket", sock2, c.id, "sh", "-c", script)
	master, ok = <-masters
	if !ok {
		t.Fatal("no pty master came over the console socket for exec")
	}
	defer master.Close()
	out = strings.ReplaceAll(readAll(t, master, "done"), "\r\n", "\n")
	if !strings.HasPrefix(out, "is-a-tty\n") || !strings.HasSuffix(out, "done\n") {
		t.Errorf("exec --tty printed %q", out)
	}
}

// TestCgroupsPauseResume: the sandbox's host processes sit in the cgroup
// linux.cgroupsPath names (below the runtime's own cgroup), pause freezes
// them, a signal sent while paused arrives on resume, and delete removes
// the cgroup.
func TestCgroupsPauseResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	freezer := "/sys/fs/cgroup/freezer"
	if _, err := os.Stat(filepath.Join(freezer, "freezer.state")); err != nil {
		if _, err := os.Stat(freezer); err != nil {
			t.Skip("no cgroup v1 freezer hierarchy at " + freezer)
		}
	}
	parent := fmt.Sprintf("exo-test-%d", os.Getpid())
	cgPath := "/" + parent + "/paused"
	t.Cleanup(func() {
		// The parent is made on the way and left, as runc leaves it.
		filepath.Walk("/sys/fs/cgroup", func(p string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() && info.Name() == parent {
				os.Remove(p)
				return filepath.SkipDir
			}
			return nil
		})
	})
	c := e.create(e.bundle([]string{"sh", "-c", loopScript}, func(s *specs.Spec) { s.Linux.CgroupsPath = cgPath }), "paused")
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", c.pid))
	if err != nil {
		t.Fatal(err)
	}
	var freezerDir string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || !strings.HasSuffix(f[2], cgPath) && !(f[1] == "pids" && strings.HasSuffix(f[2], cgPath+oci.PidsSandboxSuffix)) {
			t.Errorf("the pid-file process is in cgroup %q, want one ending in %s", line, cgPath)
		}
		if len(f) == 3 && f[1] == "freezer" {
			freezerDir = filepath.Join(freezer, f[2])
		}
	}
	e.must("start", c.id)
	e.waitOutput(c, "started")
	e.fails("not paused", "resume", c.id)
	e.must("pause", c.id)
	if st := e.state(c.id); st.Status != "paused" {
		t.Errorf("status after pause = %s, want paused", st.Status)
	}
	if state, _ := os.ReadFile(filepath.Join(freezerDir, "freezer.state")); strings.TrimSpace(string(state)) != "FROZEN" {
		t.Errorf("%s/freezer.state = %q, want FROZEN", freezerDir, state)
	}
	e.fails("not stopped", "delete", c.id)
	e.must("kill", c.id, "TERM")
	e.must("resume", c.id)
	if ws := reap(t, c.pid); !ws.Exited() || ws.ExitStatus() != 7 {
		t.Errorf("pid-file process ended with %#x, want exit status 7 (SIGTERM sent while paused)", int(ws))
	}
	e.waitStatus(c.id, specs.StateStopped)
	e.must("delete", c.id)
	if _, err := os.Stat(freezerDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("delete left the cgroup %s (%v)", freezerDir, err)
	}
}

// TestReadOnlyRootWithoutMountPoints: a read-only rootfs that lacks the
// directories the spec mounts on (/proc, /sys, /dev, a bind's
// destination) still runs, as with runc, which makes them before it makes
// the root read-only; the container cannot write its root, and the
// host's rootfs directory is left as it was.
func TestReadOnlyRootWithoutMountPoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host, err := os.MkdirTemp(suite.Dir, "bind-")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644)
	script := `cat /data/in; ls /proc/self/exe >/dev/null && echo proc; echo x > /new || echo ro-refused`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: host, Options: []string{"rbind", "ro"}})
	})
	rootfs := filepath.Join(b, "rootfs")
	for _, d := range []string{"dev", "proc", "sys"} {
		if err := os.Remove(filepath.Join(rootfs, d)); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := os.ReadDir(rootfs)
	r := e.run("run", "--bundle", b, "romissing")
	harness.CheckExit(t, "run", r, 0)
	if got, want := string(r.Stdout), "from host\nproc\nro-refused\n"; got != want {
		t.Errorf("container printed %q, want %q\n%s", got, want, r)
	}
	after, _ := os.ReadDir(rootfs)
	if len(after) != len(before) {
		t.Errorf("the host rootfs changed: %d entries before, %d after", len(before), len(after))
	}
}

// TestProcessCredentials: process.capabilities, noNewPrivileges and
// oomScoreAdj are what the container's process sees in /proc/self/status
// after its execve, as under runc (root gains its bounding and inheritable
// sets; another user keeps only the ambient set), and its writes land in
// the bundle's rootfs.
func TestProcessCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status; cat /proc/self/oom_score_adj; echo written > /written`
	for _, tc := range []struct {
		name string
		uid  uint32
		want string
	}{
		{"root", 0, "CapInh:\t0000000000000020\nCapPrm:\t0000000000000021\nCapEff:\t0000000000000021\nCapBnd:\t0000000000000021\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n300\n"},
		{"user", 0, ""},
	} {
		if tc.name == "user" {
			// A user other than root keeps only its ambient set, and
			// writes only where it may: the rootfs is root's.
			tc.uid = 1000
			tc.want = "CapInh:\t0000000000000020\nCapPrm:\t0000000000000020\nCapEff:\t0000000000000020\nCapBnd:\t0000000000000021\nCapAmb:\t0000000000000020\nNoNewPrivs:\t1\n300\n"
		}
		b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
			adj := 300
			s.Root.Readonly = false
			s.Process.User = specs.User{UID: tc.uid, GID: tc.uid}
			s.Process.NoNewPrivileges = true
			s.Process.OOMScoreAdj = &adj
			s.Process.Capabilities = &specs.LinuxCapabilities{
				Bounding:    []string{"CAP_KILL", "CAP_CHOWN"},
				Effective:   []string{"CAP_KILL", "CAP_CHOWN"},
				Permitted:   []string{"CAP_KILL", "CAP_CHOWN"},
				Inheritable: []string{"CAP_KILL"},
				Ambient:     []string{"CAP_KILL", "CAP_NOT_A_CAPABILITY"},
			}
			if tc.uid == 0 {
				s.Process.Capabilities.Ambient = nil
			}
		})
		r := e.run("run", "--bundle", b, "creds-"+tc.name)
		if got := string(r.Stdout); got != tc.want {
			t.Errorf("%s: container printed\n%s\nwant\n%s\n%s", tc.name, got, tc.want, r)
		}
		written, err := os.ReadFile(filepath.Join(b, "rootfs", "written"))
		switch {
		case tc.uid == 0 && (err != nil || string(written) != "written\n"):
			t.Errorf("root's write did not reach the bundle's rootfs: %q, %v", written, err)
		case tc.uid != 0 && err == nil:
			t.Errorf("uid %d wrote into root's rootfs", tc.uid)
		}
	}
}

// TestSeccompProfile: linux.seccomp holds for init and for a process exec'd
// into the container; a profile the runtime cannot honour fails create
// with the field named.
func TestSeccompProfile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	profile := func(s *specs.Spec) {
		s.Linux.Seccomp = &specs.LinuxSeccomp{
			DefaultAction: specs.ActAllow,
			Architectures: []specs.Arch{specs.ArchX86_64},
			Syscalls: []specs.LinuxSyscall{
				{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: func() *uint { e := uint(13); return &e }()},
				{Names: []string{"getppid"}, Action: specs.ActErrno},
			},
		}
	}
	script := `mkdir /tmp/denied 2>/dev/null; echo "mkdir $?"; grep Seccomp: /proc/self/status`
	b := e.bundle([]string{"sh", "-c", script}, profile)
	r := e.run("run", "--bundle", b, "seccomp-run")
	if got, want := string(r.Stdout), "mkdir 1\nSeccomp:\t2\n"; got != want {
		t.Errorf("container printed %q, want %q\n%s", got, want, r)
	}

	c := e.create(e.bundle([]string{"sh", "-c", loopScript}, profile), "seccomp-exec")
	e.must("start", c.id)
	e.waitOutput(c, "started")
	r = e.run("exec", c.id, "sh", "-c", `mkdir /tmp/denied-too || echo refused`)
	if !strings.Contains(string(r.Stdout), "refused") || !strings.Contains(string(r.Stderr), "Permission denied") {
		t.Errorf("exec under the profile: %s", r)
	}

	bad := e.bundle([]string{"true"}, func(s *specs.Spec) {
		profile(s)
		s.Linux.Seccomp.Syscalls[1].Action = "SCMP_ACT_NOPE"
	})
	e.fails("linux.seccomp.syscalls[1].action", "create", "--bundle", bad, "seccomp-bad")
}
