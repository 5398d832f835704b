package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/oci"
	"exokernelul.dev/exo/sentry"
)

// A Kubernetes pod through the CRI is one sandbox container (the pause
// process) and the containers that join it: their configs carry the
// annotations io.kubernetes.cri.container-type=container and
// io.kubernetes.cri.sandbox-id=<sandbox>, and paths to the pause
// process's namespaces. Such a container does not get a sandbox of its
// own: the sandbox's exo grants its rootfs and mounts, and the sandbox's
// sentry runs it in the same library OS (one kernel: pids, IPC, hostname,
// network), in a mount tree of its own (sentry/pod.go). The container's
// own exo process (podExo) is only its host process: it sits in the
// container's cgroup, lives as long as the container's init and exits with
// its status, and serves the container's control socket by passing the
// requests on to the sandbox's exo.

// podSandbox checks that sandbox, the sandbox a pod container joins, is a
// running runsc-exo sandbox in store.
func podSandbox(store oci.Store, id, sandbox string) error {
	st, err := store.Get(sandbox)
	if err != nil {
		if errors.Is(err, oci.ErrNotExist) {
			return fmt.Errorf("container %q: its pod sandbox %q (%s) is not a runsc-exo container in %s", id, sandbox, oci.AnnotationSandboxID, store.Root)
		}
		return fmt.Errorf("container %q: pod sandbox %q: %w", id, sandbox, err)
	}
	if st.Sandbox != "" {
		return fmt.Errorf("container %q: %q (%s) is a container of pod sandbox %q, not a sandbox", id, sandbox, oci.AnnotationSandboxID, st.Sandbox)
	}
	if st.Status != oci.StatusCreated && st.Status != oci.StatusRunning {
		return fmt.Errorf("container %q: its pod sandbox %q is %s, not running", id, sandbox, st.Status)
	}
	return nil
}

// joinsNamespace reports whether spec joins an existing namespace of type
// typ (the pause process's: for pids, the CRI's pid mode POD, Kubernetes'
// shareProcessNamespace; the CRI always joins the pod's IPC) rather than
// making its own.
func joinsNamespace(spec *specs.Spec, typ specs.LinuxNamespaceType) bool {
	if spec.Linux == nil {
		return true
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == typ {
			return ns.Path != ""
		}
	}
	// No pid namespace in the list: the runtime's own, shared.
	return true
}

// createPodContainer is the sandbox exo's side of "create-container": it
// grants the container's rootfs, mounts and stdio (the fds sent with the
// request), has the sentry build and load it, answers "created", and
// "exited" once the container is gone. The connection is the container's
// life line: if its exo process goes, the container is killed.
func (e *exoProc) createPodContainer(c *net.UnixConn, req oci.Message, fds []*os.File) {
	enc := json.NewEncoder(c)
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	fail := func(err error) { enc.Encode(oci.Message{Event: "reply", Error: err.Error()}) }
	id := req.Container
	if err := oci.ValidateID(id); err != nil {
		fail(err)
		return
	}
	e.mu.Lock()
	status := e.status
	e.mu.Unlock()
	if status != oci.StatusCreated && status != oci.StatusRunning {
		fail(fmt.Errorf("cannot add a container to a sandbox that is %s", status))
		return
	}
	st, err := e.store.Get(id)
	if err != nil {
		fail(err)
		return
	}
	spec, err := savedSpec(e.store, id)
	if err != nil {
		fail(err)
		return
	}
	sbx, err := oci.Translate(spec, st.Bundle)
	if err != nil {
		fail(err)
		return
	}
	switch {
	case sbx.Terminal && len(fds) != 1:
		fail(errors.New("create-container: want the terminal's host pty"))
		return
	case !sbx.Terminal && len(fds) != 3:
		fail(errors.New("create-container: want three stdio fds"))
		return
	}
	for _, w := range sbx.Warnings {
		// The pause process's namespaces it names are this sandbox's:
		// joining them is what this does.
		if !strings.HasPrefix(w, "linux.namespaces") {
			slog.Warn(w, "id", id)
		}
	}
	prefix := sentry.ContainerGrants(id)
	var grants []caps.ID
	defer func() {
		// The sentry holds its own copies once it has answered.
		for _, g := range grants {
			e.exo.Revoke(g)
		}
	}()
	// As the sandbox's: writes land in the rootfs unless root.readonly.
	rootRights := caps.RightRead
	if !sbx.ReadOnlyRoot {
		rootRights |= caps.RightWrite
	}
	g, err := e.exo.GrantDir(prefix+"rootfs", sbx.Rootfs, rootRights)
	if err != nil {
		fail(fmt.Errorf("rootfs %q: %w", sbx.Rootfs, err))
		return
	}
	grants = append(grants, g)
	mounts, ids, err := grantMounts(e.exo, prefix, sbx)
	grants = append(grants, ids...)
	if err != nil {
		fail(err)
		return
	}
	if sbx.Terminal {
		// init's terminal: the sentry bridges the host pty's slave to
		// a terminal of the container's devpts (sentry/pod.go).
		g, err := e.exo.GrantFile(prefix+"console", fds[0], caps.RightRead|caps.RightWrite)
		if err != nil {
			fail(fmt.Errorf("terminal: %w", err))
			return
		}
		grants = append(grants, g)
	}
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		if sbx.Terminal {
			break
		}
		r := caps.RightWrite
		if i == 0 {
			r = caps.RightRead
		}
		g, err := e.exo.GrantFile(prefix+name, fds[i], r)
		if err != nil {
			slog.Debug("pod container: no stdio handle", "id", id, "name", name, "err", err)
			continue
		}
		grants = append(grants, g)
	}
	cfg := e.sentryConfig(sbx)
	cfg.Mounts = mounts
	cfg.Terminal = sbx.Terminal
	cfg.SharePIDs = joinsNamespace(spec, specs.PIDNamespace)
	cfg.ShareIPC = joinsNamespace(spec, specs.IPCNamespace)
	raw, err := json.Marshal(cfg)
	if err != nil {
		fail(err)
		return
	}
	done := make(chan oci.Message, 1)
	e.mu.Lock()
	if e.podCtrs == nil {
		e.podCtrs = map[string]chan oci.Message{}
	}
	if e.podCtrs[id] != nil {
		e.mu.Unlock()
		fail(fmt.Errorf("container %q is already in the sandbox", id))
		return
	}
	e.podCtrs[id] = done
	e.mu.Unlock()
	pid, err := e.callSentryPid(oci.Message{Op: "create-container", Container: id, Config: raw})
	if err != nil {
		e.mu.Lock()
		delete(e.podCtrs, id)
		e.mu.Unlock()
		fail(err)
		return
	}
	for _, g := range grants {
		e.exo.Revoke(g)
	}
	grants = nil
	// Only the sentry may hold the container's stdio now: a terminal's
	// client must see EIO once the workload's side has closed.
	for _, f := range fds {
		f.Close()
	}
	fds = nil
	if err := e.setPodMemory(id, sbx.MemoryLimit, true); err != nil {
		slog.Warn("pod memory limit not applied", "id", id, "err", err)
	}
	defer e.setPodMemory(id, 0, false)
	enc.Encode(oci.Message{Event: "created", Pid: pid})
	// The container's exo process says nothing more; its end is the
	// container's.
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c)
		close(gone)
	}()
	var end oci.Message
	select {
	case end = <-done:
	case <-gone:
		e.callSentry(oci.Message{Op: "kill", Container: id, Signal: int(unix.SIGKILL), All: true})
		select {
		case end = <-done:
		case <-e.gone:
		}
		return
	case <-e.gone:
		select {
		case end = <-done:
		default:
			end = oci.Message{ExitSignal: int(unix.SIGKILL)}
		}
	}
	enc.Encode(oci.Message{Event: "exited", Code: end.Code, ExitSignal: end.ExitSignal})
}

// setPodMemory records the memory limit of pod container id (limit <= 0:
// none; present false: the container is gone) and sets the library OS's
// memory quota to the pod's: the sum of its containers' limits when each
// has one, as Kubernetes sizes a pod's cgroup (the sandbox's own pause
// process adds nothing), within the sandbox's own limit; else the
// sandbox's own limit.
func (e *exoProc) setPodMemory(id string, limit int64, present bool) error {
	updateMu.Lock()
	defer updateMu.Unlock()
	e.mu.Lock()
	if e.podMem == nil {
		e.podMem = map[string]int64{}
	}
	if present {
		e.podMem[id] = limit
	} else {
		delete(e.podMem, id)
	}
	sum, each := int64(0), len(e.podMem) > 0
	for _, l := range e.podMem {
		if l <= 0 {
			each = false
		}
		sum += l
	}
	e.mu.Unlock()
	own := int64(-1)
	if r := e.spec.Linux; r != nil && r.Resources != nil && r.Resources.Memory != nil && r.Resources.Memory.Limit != nil && *r.Resources.Memory.Limit > 0 {
		own = *r.Resources.Memory.Limit
	}
	want := own
	if each && (own <= 0 || sum < own) {
		want = sum
	}
	if want == e.podQuota {
		return nil
	}
	if _, err := e.callSentryMsg(oci.Message{Op: "update", Limits: &oci.Limits{Memory: &want}}); err != nil {
		return err
	}
	e.podQuota = want
	setAuditedLimit(want)
	return nil
}

// podExo is the host process of a container of a pod: what the exo
// process is to a container with its own sandbox, without a sentry.
type podExo struct {
	g       *globals
	id      string
	sandbox string
	store   oci.Store
	spec    *specs.Spec
	// consoleSocket gets the master of init's terminal.
	consoleSocket string
	// winch reports the resizes of init's host pty, if it has one.
	winch chan os.Signal
	// hostNS is the runtime's network namespace (nil: exo runs in it).
	hostNS  *os.File
	cgroups []string

	startMu sync.Mutex
	mu      sync.Mutex
	status  specs.ContainerState
	// waiters are the host processes of running execs.
	waiters map[int]bool
}

func (e *podExo) sandboxDir() string { return e.store.Dir(e.sandbox) }

func (e *podExo) run(report func(oci.Message)) (code, sig int, err error) {
	dir := e.store.Dir(e.id)
	spec, err := savedSpec(e.store, e.id)
	if err != nil {
		return 0, 0, err
	}
	e.spec = spec
	st, err := e.store.Get(e.id)
	if err != nil {
		return 0, 0, err
	}
	sbx, err := oci.Translate(spec, st.Bundle)
	if err != nil {
		return 0, 0, err
	}
	pid := oci.HostPid()
	if spec.Linux != nil && spec.Linux.CgroupsPath != "" {
		// The shim reads the container's stats from the cgroup of this
		// process; the workload's memory and CPU are the sandbox's.
		if e.cgroups, err = oci.JoinCgroups(spec.Linux.CgroupsPath, os.Getpid(), false); err != nil {
			return 0, 0, err
		}
		if err := oci.SetResources(e.cgroups, spec.Linux.Resources); err != nil {
			e.store.Update(e.id, func(s *oci.State) { s.Cgroups = e.cgroups })
			return 0, 0, fmt.Errorf("config.json: linux.resources: %w", err)
		}
	}
	if err := e.store.Update(e.id, func(s *oci.State) {
		s.Pid = pid
		s.PidStart = oci.ProcessStart(pid)
		s.Cgroups = e.cgroups
		s.Sandbox = e.sandbox
	}); err != nil {
		return 0, 0, err
	}
	if err := podSandbox(e.store, e.id, e.sandbox); err != nil {
		return 0, 0, err
	}
	conn, err := oci.Dial(e.sandboxDir())
	if err != nil {
		return 0, 0, fmt.Errorf("pod sandbox %q: %w", e.sandbox, err)
	}
	defer conn.Close()
	rights := unix.UnixRights(0, 1, 2)
	var slave *os.File
	if sbx.Terminal {
		// As the exo process of a sandbox: the host pty's slave goes to
		// the sentry, which bridges it to the library OS's terminal
		// (sentry/console.go); this process controls it, so it hears of
		// resizes and relays them.
		e.winch = make(chan os.Signal, 1)
		signal.Notify(e.winch, unix.SIGWINCH)
		if slave, err = openHostTerminal(e.consoleSocket, sbx.ConsoleSize); err != nil {
			return 0, 0, err
		}
		rights = unix.UnixRights(int(slave.Fd()))
	}
	req, _ := json.Marshal(oci.Message{Op: "create-container", Container: e.id})
	_, _, err = conn.WriteMsgUnix(append(req, '\n'), rights, nil)
	if slave != nil {
		// Only the sentry may keep it open.
		slave.Close()
	}
	if err != nil {
		return 0, 0, fmt.Errorf("pod sandbox %q: control socket: %w", e.sandbox, err)
	}
	r := bufio.NewReader(conn)
	next := func() (oci.Message, error) {
		var m oci.Message
		line, err := r.ReadBytes('\n')
		if err != nil {
			return m, err
		}
		return m, json.Unmarshal(line, &m)
	}
	m, err := next()
	if err != nil {
		return 0, 0, fmt.Errorf("pod sandbox %q: %w", e.sandbox, err)
	}
	if m.Error != "" || m.Event != "created" {
		return 0, 0, fmt.Errorf("pod sandbox %q: %s", e.sandbox, m.Error)
	}
	kill := func() {
		oci.Call(e.sandboxDir(), oci.Message{Op: "kill", Container: e.id, Signal: int(unix.SIGKILL), All: true})
	}
	for _, stage := range []string{oci.Prestart, oci.CreateRuntime, oci.CreateContainer} {
		if err := runHooks(spec, stage, e.ociState(), e.hostNS); err != nil {
			kill()
			return 0, 0, err
		}
	}
	ln, err := oci.ListenControl(dir)
	if err != nil {
		kill()
		return 0, 0, err
	}
	defer os.Remove(filepath.Join(dir, oci.ControlSocket))
	defer ln.Close()
	if err := e.setStatus(oci.StatusCreated); err != nil {
		kill()
		return 0, 0, err
	}
	go e.serve(ln)
	if e.winch != nil {
		go e.relayResizes()
	}
	report(oci.Message{Event: "created"})

	end, err := next()
	if err != nil || end.Event != "exited" {
		// The sandbox is gone, and the container with it.
		end = oci.Message{ExitSignal: int(unix.SIGKILL)}
	}
	e.mu.Lock()
	e.status = oci.StatusStopped
	e.mu.Unlock()
	e.store.Update(e.id, func(s *oci.State) {
		s.Status = oci.StatusStopped
		s.ExitCode, s.ExitSignal = end.Code, end.ExitSignal
	})
	return end.Code, end.ExitSignal, nil
}

func (e *podExo) ociState() specs.State { return hookState(e.store, e.id) }

func (e *podExo) setStatus(s specs.ContainerState) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return storeStatusLocked(e.store, e.id, &e.status, s)
}

func (e *podExo) serve(ln *net.UnixListener) { acceptEach(ln, e.serveConn) }

func (e *podExo) serveConn(c *net.UnixConn) {
	defer c.Close()
	req, fds, err := readRequest(c)
	if err == nil && req.Op == "exec" {
		e.exec(c, req, fds)
		return
	}
	for _, f := range fds {
		f.Close()
	}
	resp := oci.Message{Event: "reply"}
	if err != nil {
		resp.Error = "bad request: " + err.Error()
	} else if err := e.handle(req, &resp); err != nil {
		resp.Error = err.Error()
	}
	json.NewEncoder(c).Encode(resp)
}

func (e *podExo) handle(req oci.Message, resp *oci.Message) error {
	switch req.Op {
	case "start":
		e.startMu.Lock()
		defer e.startMu.Unlock()
		e.mu.Lock()
		status := e.status
		e.mu.Unlock()
		switch status {
		case oci.StatusCreated:
		case oci.StatusRunning:
			return errors.New("cannot start an already running container")
		default:
			return fmt.Errorf("cannot start a container in the %s state", status)
		}
		if err := oci.RunHooks(e.spec, oci.StartContainer, e.ociState()); err != nil {
			oci.Call(e.sandboxDir(), oci.Message{Op: "kill", Container: e.id, Signal: int(unix.SIGKILL), All: true})
			return err
		}
		if e.winch != nil {
			// A size the client set on the master before start must be
			// what init sees; its SIGWINCH may not have been relayed yet.
			e.resize()
		}
		if _, err := oci.Call(e.sandboxDir(), oci.Message{Op: "start", Container: e.id}); err != nil {
			return err
		}
		return e.setStatus(oci.StatusRunning)
	case "kill":
		req.Container = e.id
		_, err := oci.Call(e.sandboxDir(), req)
		return err
	case "ps":
		resp.Pids = hostTree(oci.HostPid())
		e.mu.Lock()
		for p := range e.waiters {
			resp.Pids = append(resp.Pids, p)
		}
		e.mu.Unlock()
		sort.Ints(resp.Pids)
		return nil
	case "stats":
		// The library OS accounts for the pod as a whole.
		m, err := oci.Call(e.sandboxDir(), oci.Message{Op: "stats"})
		resp.Stats = m.Stats
		return err
	case "update":
		// The container's host cgroup, and its share of the pod's
		// memory quota in the library OS.
		if req.Resources == nil {
			return errors.New("update: no resources")
		}
		if err := oci.SetResources(e.cgroups, req.Resources); err != nil {
			return err
		}
		if m := req.Resources.Memory; m != nil && m.Limit != nil && *m.Limit != 0 {
			if _, err := oci.Call(e.sandboxDir(), oci.Message{Op: "update", Container: e.id, Resources: req.Resources}); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown request %q", req.Op)
}

// exec passes an exec on to the sandbox's exo, for this container, with
// the client's stdio (or terminal), and relays the conversation both ways.
func (e *podExo) exec(c *net.UnixConn, req oci.Message, fds []*os.File) {
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	fail := func(err error) { json.NewEncoder(c).Encode(oci.Message{Event: "reply", Error: err.Error()}) }
	e.mu.Lock()
	status := e.status
	e.mu.Unlock()
	if status != oci.StatusRunning {
		fail(fmt.Errorf("cannot exec in a container that is %s", status))
		return
	}
	sc, err := oci.Dial(e.sandboxDir())
	if err != nil {
		fail(err)
		return
	}
	defer sc.Close()
	req.Container = e.id
	data, _ := json.Marshal(req)
	var raw []int
	for _, f := range fds {
		raw = append(raw, int(f.Fd()))
	}
	if _, _, err := sc.WriteMsgUnix(append(data, '\n'), unix.UnixRights(raw...), nil); err != nil {
		fail(fmt.Errorf("pod sandbox: %w", err))
		return
	}
	for _, f := range fds {
		f.Close()
	}
	fds = nil
	if cred, err := peerCred(c); err == nil {
		e.mu.Lock()
		if e.waiters == nil {
			e.waiters = map[int]bool{}
		}
		e.waiters[int(cred.Pid)] = true
		e.mu.Unlock()
		defer func() {
			e.mu.Lock()
			delete(e.waiters, int(cred.Pid))
			e.mu.Unlock()
		}()
	}
	// The exec's host process talks to the sandbox's exo through this
	// process: "started", then "exited" one way, an exec with a
	// terminal's "resize" requests the other.
	go func() {
		io.Copy(sc, c)
		// The exec's host process is gone (the shim killed it, as for an
		// execSync past its timeout): the sandbox's exo, seeing its end of
		// the connection close, kills the exec'd process.
		sc.CloseWrite()
	}()
	io.Copy(c, sc)
}

// relayResizes tells the sandbox of each resize of init's host pty; the
// sentry reads the new size from its copy of the slave.
func (e *podExo) relayResizes() {
	for range e.winch {
		e.resize()
	}
}

func (e *podExo) resize() {
	if _, err := oci.Call(e.sandboxDir(), oci.Message{Op: "resize", Container: e.id}); err != nil {
		slog.Debug("terminal resize", "id", e.id, "err", err)
	}
}
