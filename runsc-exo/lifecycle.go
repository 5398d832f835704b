package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/oci"
)

func timeNow() time.Time { return time.Now().UTC() }

// parseInterspersed parses flags that may come before or after the
// positional arguments (runc's CLI takes `delete ID --force` too).
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// oneID parses a command taking flags and exactly one container id.
func oneID(g *globals, fs *flag.FlagSet, args []string) (string, int) {
	if err := parseInterspersed(fs, args); err != nil {
		return "", 2
	}
	if fs.NArg() != 1 {
		return "", g.fail(fmt.Errorf("%s: want exactly one container id", fs.Name()))
	}
	if err := oci.ValidateID(fs.Arg(0)); err != nil {
		return "", g.fail(err)
	}
	return fs.Arg(0), -1
}

// runStart is `start`: let the created container's init run, then run the
// poststart hooks.
func runStart(g *globals, args []string) int {
	id, code := oneID(g, flag.NewFlagSet("start", flag.ContinueOnError), args)
	if code >= 0 {
		return code
	}
	if err := startContainer(g, id); err != nil {
		return g.fail(err)
	}
	return 0
}

func startContainer(g *globals, id string) error {
	store := oci.Store{Root: g.root}
	st, err := store.Get(id)
	if err != nil {
		return err
	}
	switch st.Status {
	case oci.StatusCreated:
	case oci.StatusStopped:
		return errors.New("cannot start a container that has stopped")
	case oci.StatusRunning:
		return errors.New("cannot start an already running container")
	default:
		return fmt.Errorf("cannot start a container in the %s state", st.Status)
	}
	if _, err := oci.Call(store.Dir(id), oci.Message{Op: "start"}); err != nil {
		return fmt.Errorf("start container %q: %w", id, err)
	}
	spec, err := savedSpec(store, id)
	if err != nil {
		return err
	}
	st, err = store.Get(id)
	if err != nil {
		return err
	}
	if err := oci.RunHooks(spec, oci.Poststart, st.State); err != nil {
		// As runc: a failed poststart hook ends the container.
		oci.Call(store.Dir(id), oci.Message{Op: "kill", Signal: int(unix.SIGKILL), All: true})
		return err
	}
	return nil
}

func savedSpec(store oci.Store, id string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(store.Dir(id), specCopy))
	if err != nil {
		return nil, fmt.Errorf("container %q: saved config: %w", id, err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("container %q: saved config: %w", id, err)
	}
	return &spec, nil
}

// runRun is `run`: create, start, and unless --detach wait for init and
// delete the container, exiting with init's status.
func runRun(g *globals, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var o createOpts
	o.register(fs)
	detach := fs.Bool("detach", false, "return once the container has started")
	fs.BoolVar(detach, "d", false, "short for --detach")
	keep := fs.Bool("keep", false, "do not delete the container after it exits")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		return g.fail(errors.New("run: want exactly one container id: usage: runsc-exo run [flags] ID"))
	}
	o.id = fs.Arg(0)
	inheritOnlyStdio()
	// Signals for the container reach its init through exo; they must
	// not end this process first.
	sigs := make(chan os.Signal, 8)
	if !*detach {
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	}
	var lc *localConsole
	if o.consoleSocket == "" && !*detach && wantsTerminal(o.bundle) {
		// As runc: without a console socket, run serves the terminal
		// on its own stdio.
		var err error
		if lc, o.consoleSocket, err = newLocalConsole(); err != nil {
			return g.fail(err)
		}
	}
	cmd, err := createContainer(g, &o, *detach)
	if err != nil {
		if lc != nil {
			lc.abort()
		}
		return g.fail(err)
	}
	if lc != nil {
		restore, err := lc.attach()
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return g.fail(err)
		}
		defer restore()
		defer lc.drain()
	}
	store := oci.Store{Root: g.root}
	if err := startContainer(g, o.id); err != nil {
		// The forced delete ends the exo process, which waited for start.
		deleteContainer(g, store, o.id, true)
		if !*detach {
			cmd.Wait()
		}
		return g.fail(err)
	}
	if *detach {
		cmd.Process.Release()
		return 0
	}
	go func() {
		for s := range sigs {
			oci.Call(store.Dir(o.id), oci.Message{Op: "kill", Signal: int(s.(unix.Signal))})
		}
	}()
	err = cmd.Wait()
	signal.Stop(sigs)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		} else {
			code = ee.ExitCode()
		}
	} else if err != nil {
		return g.fail(fmt.Errorf("wait for container: %w", err))
	}
	if !*keep {
		if err := deleteContainer(g, store, o.id, false); err != nil {
			g.fail(err)
		}
	}
	return code
}

// stateJSON is the `state` output: the OCI state plus runc's extra fields.
type stateJSON struct {
	Version     string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      string            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Owner       string            `json:"owner"`
}

func toStateJSON(st *oci.State) stateJSON {
	pid := st.Pid
	if st.Status == oci.StatusStopped {
		pid = 0
	}
	return stateJSON{
		Version: st.Version, ID: st.ID, Pid: pid, Status: string(st.Status), Bundle: st.Bundle,
		Rootfs: st.Rootfs, Created: st.Created, Annotations: st.Annotations, Owner: "",
	}
}

// runState is `state`: print the container's state as JSON.
func runState(g *globals, args []string) int {
	id, code := oneID(g, flag.NewFlagSet("state", flag.ContinueOnError), args)
	if code >= 0 {
		return code
	}
	st, err := oci.Store{Root: g.root}.Get(id)
	if err != nil {
		return g.fail(err)
	}
	out, _ := json.MarshalIndent(toStateJSON(st), "", "  ")
	fmt.Println(string(out))
	return 0
}

// runList is `list`: every container under --root.
func runList(g *globals, args []string) int {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	format := fs.String("format", "table", "table or json")
	fs.StringVar(format, "f", "table", "short for --format")
	quiet := fs.Bool("quiet", false, "print only the container ids")
	fs.BoolVar(quiet, "q", false, "short for --quiet")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	sts, err := oci.Store{Root: g.root}.List()
	if err != nil {
		return g.fail(err)
	}
	switch {
	case *quiet:
		for _, st := range sts {
			fmt.Println(st.ID)
		}
	case *format == "json":
		out := make([]stateJSON, 0, len(sts))
		for _, st := range sts {
			out = append(out, toStateJSON(st))
		}
		data, _ := json.Marshal(out)
		fmt.Println(string(data))
	case *format == "table":
		w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
		fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
		for _, st := range sts {
			s := toStateJSON(st)
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), "root")
		}
		w.Flush()
	default:
		return g.fail(fmt.Errorf("list: --format %q: want table or json", *format))
	}
	return 0
}

// runKill is `kill ID [SIGNAL]`.
func runKill(g *globals, args []string) int {
	fs := flag.NewFlagSet("kill", flag.ContinueOnError)
	all := fs.Bool("all", false, "send the signal to every process of the container")
	fs.BoolVar(all, "a", false, "short for --all")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return g.fail(errors.New("kill: usage: runsc-exo kill [--all] ID [SIGNAL]"))
	}
	id := fs.Arg(0)
	if err := oci.ValidateID(id); err != nil {
		return g.fail(err)
	}
	sig := unix.SIGTERM
	if fs.NArg() == 2 {
		s, err := oci.ParseSignal(fs.Arg(1))
		if err != nil {
			return g.fail(err)
		}
		sig = s
	}
	store := oci.Store{Root: g.root}
	st, err := store.Get(id)
	if err != nil {
		return g.fail(err)
	}
	req := oci.Message{Op: "kill", Signal: int(sig), All: *all}
	switch st.Status {
	case oci.StatusCreated, oci.StatusRunning:
		if _, err := oci.Call(store.Dir(id), req); err != nil {
			return g.fail(err)
		}
	case oci.StatusPaused:
		// Delivered when the container is resumed, as Linux delivers a
		// signal to frozen processes.
		if err := oci.Send(store.Dir(id), req); err != nil {
			return g.fail(err)
		}
	default:
		return g.fail(errors.New("container not running"))
	}
	return 0
}

// runPause is `pause`: freeze every process of the container.
func runPause(g *globals, args []string) int {
	return pauseResume(g, flag.NewFlagSet("pause", flag.ContinueOnError), args, false)
}

// runResume is `resume`: thaw a paused container.
func runResume(g *globals, args []string) int {
	return pauseResume(g, flag.NewFlagSet("resume", flag.ContinueOnError), args, true)
}

func pauseResume(g *globals, fs *flag.FlagSet, args []string, thaw bool) int {
	id, code := oneID(g, fs, args)
	if code >= 0 {
		return code
	}
	l, err := oci.Store{Root: g.root}.Lock(id)
	if err != nil {
		return g.fail(err)
	}
	defer l.Unlock()
	st, err := l.Read()
	if err != nil {
		return g.fail(err)
	}
	if st.Sandbox != "" {
		// Its processes are the sandbox's library OS's, in the
		// sandbox's cgroup: freezing its own would stop only its host
		// process.
		return g.fail(fmt.Errorf("container %q runs in pod sandbox %q: pause or resume the sandbox", id, st.Sandbox))
	}
	from, to := oci.StatusRunning, oci.StatusPaused
	if thaw {
		from, to = oci.StatusPaused, oci.StatusRunning
	}
	if st.Status != from {
		return g.fail(fmt.Errorf("container %q is %s, not %s", id, st.Status, from))
	}
	if err := oci.Freeze(st.Cgroups, thaw); err != nil {
		return g.fail(err)
	}
	st.Status = to
	if err := l.Write(st); err != nil {
		return g.fail(err)
	}
	return 0
}

// runDelete is `delete [--force] ID`.
func runDelete(g *globals, args []string) int {
	fs := flag.NewFlagSet("delete", flag.ContinueOnError)
	force := fs.Bool("force", false, "kill the container first if it still runs")
	fs.BoolVar(force, "f", false, "short for --force")
	id, code := oneID(g, fs, args)
	if code >= 0 {
		return code
	}
	if err := deleteContainer(g, oci.Store{Root: g.root}, id, *force); err != nil {
		if *force && errors.Is(err, oci.ErrNotExist) {
			// The shim deletes, then deletes --force: the second finds
			// nothing left to do.
			return 0
		}
		return g.fail(err)
	}
	return 0
}

// deleteContainer removes a stopped container (a created one, or with
// force a running one, is killed first) and runs its poststop hooks.
func deleteContainer(g *globals, store oci.Store, id string, force bool) error {
	st, err := store.Get(id)
	if err != nil && !errors.Is(err, oci.ErrNotExist) {
		return err
	}
	if st != nil {
		switch st.Status {
		case oci.StatusStopped:
		case oci.StatusRunning, oci.StatusPaused:
			if !force {
				return fmt.Errorf("cannot delete container %q that is not stopped: %s", id, st.Status)
			}
			if st.Status == oci.StatusPaused {
				oci.Freeze(st.Cgroups, true)
			}
			fallthrough
		default:
			// Not under the lock: exo takes it to record the end.
			killAndWait(store, id, st)
		}
	}
	l, err := store.Lock(id)
	if err != nil {
		return err
	}
	defer l.Unlock()
	spec, specErr := savedSpec(store, id)
	if st != nil && len(st.Cgroups) > 0 {
		// A frozen container's processes cannot die until thawed.
		oci.Freeze(st.Cgroups, true)
		if err := oci.RemoveCgroups(st.Cgroups); err != nil {
			slog.Warn("cgroup not removed", "id", id, "err", err)
		}
	}
	if err := l.Remove(); err != nil {
		return err
	}
	if st != nil && specErr == nil {
		st.Status = oci.StatusStopped
		if err := oci.RunHooks(spec, oci.Poststop, st.State); err != nil {
			return err
		}
	}
	return nil
}

// killAndWait ends the container: SIGKILL to all its processes through
// exo, and if exo does not end soon, to exo itself (the sentry and the
// stubs die with it).
func killAndWait(store oci.Store, id string, st *oci.State) {
	if st.Pid <= 0 {
		return
	}
	oci.Call(store.Dir(id), oci.Message{Op: "kill", Signal: int(unix.SIGKILL), All: true})
	for i := 0; i < 100 && oci.ProcessAlive(st.Pid, st.PidStart); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if oci.ProcessAlive(st.Pid, st.PidStart) {
		unix.Kill(st.Pid, unix.SIGKILL)
		for i := 0; i < 250 && oci.ProcessAlive(st.Pid, st.PidStart); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// runPs is `ps [--format json] ID`: the host processes of the sandbox.
func runPs(g *globals, args []string) int {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	format := fs.String("format", "table", "table or json")
	fs.StringVar(format, "f", "table", "short for --format")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() < 1 {
		return g.fail(errors.New("ps: usage: runsc-exo ps [--format json] ID [PS_ARGS...]"))
	}
	id := fs.Arg(0)
	if err := oci.ValidateID(id); err != nil {
		return g.fail(err)
	}
	st, err := oci.Store{Root: g.root}.Get(id)
	if err != nil {
		return g.fail(err)
	}
	var pids []int
	if st.Status == oci.StatusPaused {
		// The exo process is frozen too: ask /proc instead.
		pids = hostTree(st.Pid)
	} else if st.Status != oci.StatusStopped {
		if m, err := oci.Call(oci.Store{Root: g.root}.Dir(id), oci.Message{Op: "ps"}); err == nil {
			pids = m.Pids
		} else {
			pids = hostTree(st.Pid)
		}
	}
	switch *format {
	case "json":
		if pids == nil {
			pids = []int{}
		}
		data, _ := json.Marshal(pids)
		fmt.Println(string(data))
		return 0
	case "table":
	default:
		return g.fail(fmt.Errorf("ps: --format %q: want table or json", *format))
	}
	psArgs := []string{"-ef"}
	if fs.NArg() > 1 {
		psArgs = fs.Args()[1:]
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return g.fail(fmt.Errorf("ps: %w", err))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	pidCol := -1
	for i, f := range strings.Fields(lines[0]) {
		if f == "PID" {
			pidCol = i
		}
	}
	if pidCol < 0 {
		return g.fail(errors.New("ps: no PID column in the output of ps"))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	fmt.Println(lines[0])
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) > pidCol {
			if p, err := strconv.Atoi(f[pidCol]); err == nil && in[p] {
				fmt.Println(l)
			}
		}
	}
	return 0
}

// hostTree is pid and its descendants on the host, sorted.
func hostTree(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []int{pid}
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], p)
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		out = append(out, p)
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
	sort.Ints(out)
	return out
}

// runSpec is `spec`: write a default config.json, as runc spec does.
func runSpec(g *globals, args []string) int {
	fs := flag.NewFlagSet("spec", flag.ContinueOnError)
	bundle := fs.String("bundle", "", "directory to write config.json in (default: the current directory)")
	fs.StringVar(bundle, "b", "", "short for --bundle")
	fs.Bool("rootless", false, "accepted for runc compatibility")
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	p := filepath.Join(*bundle, "config.json")
	if _, err := os.Stat(p); err == nil {
		return g.fail(fmt.Errorf("spec: %s already exists; remove it first", p))
	}
	data, _ := json.MarshalIndent(defaultSpec(), "", "\t")
	if err := os.WriteFile(p, append(data, '\n'), 0o666); err != nil {
		return g.fail(fmt.Errorf("spec: %w", err))
	}
	return 0
}

// defaultSpec is runc spec's example, without a terminal (not supported
// yet).
func defaultSpec() *specs.Spec {
	return &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Terminal: false,
			User:     specs.User{},
			Args:     []string{"sh"},
			Env:      []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:      "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Effective: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Permitted: []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
				Ambient:   []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"},
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Hostname: "runsc-exo",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace}, {Type: specs.CgroupNamespace},
			},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
				"/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// runFeatures is `features`: what this runtime supports, as runc features
// reports it.
func runFeatures(g *globals, args []string) int {
	fs := flag.NewFlagSet("features", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var nsTypes []string
	for _, t := range []specs.LinuxNamespaceType{specs.CgroupNamespace, specs.IPCNamespace, specs.MountNamespace,
		specs.NetworkNamespace, specs.PIDNamespace, specs.UserNamespace, specs.UTSNamespace} {
		nsTypes = append(nsTypes, string(t))
	}
	f := features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks:         []string{oci.Prestart, oci.CreateRuntime, oci.CreateContainer, oci.StartContainer, oci.Poststart, oci.Poststop},
		MountOptions:  []string{"bind", "rbind", "ro", "rw", "mode", "size", "nosuid", "nodev", "noexec", "rprivate", "private"},
		Linux: &features.Linux{
			Namespaces: nsTypes,
		},
		Annotations: map[string]string{
			"io.github.exokernelul.runsc-exo.version": version,
		},
	}
	data, _ := json.MarshalIndent(f, "", "    ")
	fmt.Println(string(data))
	return 0
}
