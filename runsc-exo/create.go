package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/oci"
	"exokernelul.dev/exo/sentry"
)

// specCopy is the name of the container's config.json as create read it,
// kept in the state directory so later commands run the same hooks.
const specCopy = "config.json"

// createOpts are the flags of create and run.
type createOpts struct {
	bundle        string
	pidFile       string
	consoleSocket string
	id            string
}

func (o *createOpts) register(fs *flag.FlagSet) {
	fs.StringVar(&o.bundle, "bundle", "", "path to the bundle (default: the current directory)")
	fs.StringVar(&o.bundle, "b", "", "short for --bundle")
	fs.StringVar(&o.pidFile, "pid-file", "", "write the pid of the container's host process to this file")
	fs.StringVar(&o.consoleSocket, "console-socket", "", "unix socket to send the master of init's terminal to (process.terminal)")
	fs.Bool("no-pivot", false, "accepted for runc compatibility (the rootfs is a capability; there is no pivot_root)")
	fs.Bool("no-new-keyring", false, "accepted for runc compatibility (the library OS has no keyrings)")
}

// runCreate is `create`: set up the sandbox with init loaded but held, and
// return once it is ready.
func runCreate(g *globals, args []string) int {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	var o createOpts
	o.register(fs)
	if err := parseInterspersed(fs, args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		return g.fail(errors.New("create: want exactly one container id: usage: runsc-exo create [flags] ID"))
	}
	o.id = fs.Arg(0)
	inheritOnlyStdio()
	cmd, err := createContainer(g, &o, true)
	if err != nil {
		return g.fail(err)
	}
	// The exo process stays behind for the caller (a subreaper shim) to
	// reap; this process is done with it.
	cmd.Process.Release()
	return 0
}

// createContainer validates the bundle, makes the container's state and
// starts its exo process, returning once the sandbox is created (or
// failed). detach puts the exo process in a session of its own.
func createContainer(g *globals, o *createOpts, detach bool) (*exec.Cmd, error) {
	if err := oci.ValidateID(o.id); err != nil {
		return nil, err
	}
	if g.systemdCgroup {
		// runc's check and message; with systemd, the flag is accepted
		// (linux.cgroupsPath is taken as a cgroupfs path either way).
		if st, err := os.Stat("/run/systemd/system"); err != nil || !st.IsDir() {
			return nil, errors.New("systemd not running on this host, cannot use systemd cgroups manager")
		}
	}
	bundle := o.bundle
	if bundle == "" {
		bundle = "."
	}
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	spec, err := oci.LoadBundle(bundle)
	if err != nil {
		return nil, err
	}
	sbx, err := oci.Translate(spec, bundle)
	if err != nil {
		return nil, err
	}
	consoleSocket := ""
	if sbx.Terminal {
		if o.consoleSocket == "" {
			return nil, errors.New("config.json: process.terminal: a terminal needs --console-socket to send its master to")
		}
		if consoleSocket, err = filepath.Abs(o.consoleSocket); err != nil {
			return nil, fmt.Errorf("--console-socket: %w", err)
		}
	}
	store := oci.Store{Root: g.root}
	// A container of a pod joins its sandbox's library OS: the sandbox
	// must be there (containerd shows this error).
	sandbox := oci.PodSandboxOf(spec.Annotations)
	if sandbox != "" {
		if err := podSandbox(store, o.id, sandbox); err != nil {
			return nil, err
		}
	}
	l, err := store.Create(o.id)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*exec.Cmd, error) {
		l.Remove()
		return nil, err
	}
	data, err := json.Marshal(spec)
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(l.Dir, specCopy), data, 0o600); err != nil {
		return fail(fmt.Errorf("save config: %w", err))
	}
	st := &oci.State{
		State: specs.State{
			Version:     specs.Version,
			ID:          o.id,
			Status:      oci.StatusCreating,
			Bundle:      bundle,
			Annotations: spec.Annotations,
		},
		Rootfs:  sbx.Rootfs,
		Created: timeNow(),
		Sandbox: sandbox,
	}
	if err := l.Write(st); err != nil {
		return fail(err)
	}
	l.Unlock()

	readyR, readyW, err := os.Pipe()
	if err != nil {
		return fail(fmt.Errorf("ready pipe: %w", err))
	}
	defer readyR.Close()
	self, err := os.Executable()
	if err != nil {
		readyW.Close()
		return fail(fmt.Errorf("find own executable: %w", err))
	}
	exoArgs := append(g.args(), "exo", "--ready-fd", "3")
	if consoleSocket != "" {
		exoArgs = append(exoArgs, "--console-socket", consoleSocket)
	}
	if sandbox != "" {
		exoArgs = append(exoArgs, "--sandbox", sandbox)
	}
	var hostNS *os.File
	if sbx.NetNS != "" || sbx.NewNetNS {
		// exo runs in the container's network namespace; the runtime's
		// hooks run in this one, as runc runs them.
		if hostNS, err = os.Open("/proc/thread-self/ns/net"); err != nil {
			readyW.Close()
			return fail(fmt.Errorf("own network namespace: %w", err))
		}
		defer hostNS.Close()
		exoArgs = append(exoArgs, "--host-netns-fd", "4")
	}
	cmd := exec.Command(self, append(exoArgs, o.id)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if sbx.Terminal {
		// The terminal is init's stdio: exo must not hold create's
		// (containerd's shim reads create's output until every writer
		// has closed it, as runc's init holds only the pty).
		cmd.Stdin, cmd.Stdout = nil, nil
		if detach {
			cmd.Stderr = nil
		}
	}
	cmd.ExtraFiles = []*os.File{readyW}
	cmd.Dir = "/"
	// A terminal's host pty becomes exo's controlling terminal, which
	// needs a session of its own.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: detach || sbx.Terminal}
	if hostNS != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, hostNS)
	}
	if sbx.NewNetNS {
		// As runc: a network namespace without a path is a new one,
		// exo's, so /proc/<pid>/ns/net of the container's pid is it and
		// docker's libnetwork-setkey hook moves the container's
		// interface into it.
		cmd.SysProcAttr.Cloneflags |= unix.CLONE_NEWNET
	}
	start := cmd.Start
	if len(sbx.HostNS) > 0 {
		// exo (and the NIC it will open) lives in the spec's network
		// namespace, and in its IPC, UTS, PID and mount ones, where the
		// host sees a container's process; the sentry below it still
		// gets empty ones of its own to be confined in.
		start = func() error { return oci.InNamespaces(sbx.HostNS, cmd.Start) }
	}
	if err := start(); err != nil {
		readyW.Close()
		return fail(fmt.Errorf("start exo process: %w", err))
	}
	readyW.Close()
	var msg oci.Message
	line, rerr := bufio.NewReader(readyR).ReadBytes('\n')
	if rerr == nil {
		rerr = json.Unmarshal(line, &msg)
	}
	if rerr != nil || msg.Event != "created" {
		abandonCreate(store, o.id, cmd)
		if rerr != nil {
			return nil, errors.New("the sandbox ended before it was created (see its stderr)")
		}
		return nil, errors.New(msg.Error)
	}
	if o.pidFile != "" {
		if err := writePidFile(o.pidFile, cmd.Process.Pid); err != nil {
			abandonCreate(store, o.id, cmd)
			return nil, err
		}
	}
	return cmd, nil
}

// inheritOnlyStdio marks every inherited fd but 0-2 close-on-exec: the
// shim hands create more (a socket, a pipe), which must not reach the
// container's processes nor be held open by them.
func inheritOnlyStdio() {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// writePidFile writes pid atomically, as runc does, so a reader never sees
// a partial file.
func writePidFile(p string, pid int) error {
	p, err := filepath.Abs(p)
	if err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+".tmp")
	if err := os.WriteFile(tmp, []byte(fmt.Sprint(pid)), 0o644); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("pid file: %w", err)
	}
	return nil
}

// exoProc is the exo process of one container: it holds the capabilities,
// runs the sentry, serves the control socket and lives exactly as long as
// the container's init.
type exoProc struct {
	g     *globals
	id    string
	store oci.Store
	spec  *specs.Spec
	// consoleSocket gets the master of init's terminal.
	consoleSocket string
	// hostNS is the runtime's network namespace when exo runs in the
	// container's (nil otherwise).
	hostNS *os.File
	// hostNet says the container shares the runtime's network (host
	// sockets, no NICs): set by startSentry.
	hostNet bool
	// consoleGrant is the host pty slave granted to the sentry for
	// init's terminal (0: none); winch reports its resizes.
	consoleGrant caps.ID
	winch        chan os.Signal

	sentry *exec.Cmd
	ctl    *os.File
	ctlEnc *json.Encoder

	// callMu serialises requests to the sentry; replies carries the
	// sentry's answers to them.
	callMu  sync.Mutex
	replies chan oci.Message
	// gone is closed when the sentry's control channel ends.
	gone chan struct{}

	// startMu makes concurrent starts take turns: one starts, the
	// others find it running.
	startMu sync.Mutex

	mu     sync.Mutex
	status specs.ContainerState
	exit   *oci.Message
	// exo grants an exec's stdio; execs are the exec'd processes
	// still running, by exec id, told of their end.
	exo      *caps.Exo
	execs    map[int]chan oci.Message
	nextExec int
	// waiters are the host processes of running execs.
	waiters map[int]bool
	// podCtrs are the pod's other containers in this sandbox, told of
	// their end (pod.go).
	podCtrs map[string]chan oci.Message
	// podMem are the memory limits of the pod's containers, podQuota
	// the library OS's quota they made (0: not set yet); see
	// setPodMemory.
	podMem   map[string]int64
	podQuota int64
}

// runExo is the internal `exo` command: the container's host process,
// started by create.
func runExo(g *globals, args []string) int {
	go func() { os.Exit(runExoMain(g, args)) }()
	pinMainThread()
	return 0 // not reached
}

// pinMainThread parks the main thread for good in a syscall with every
// signal blocked, so that it runs nothing and, above all, never creates a
// thread. exo's pid is the container's (the pid file's), and a cgroup's
// membership is shown by its main thread's: with a split pids cgroup
// (oci.JoinCgroups) that thread alone joins the container's side, which
// counts the workload's tasks against the spec's exact limit, while exo's
// other threads, which the Go runtime makes at will, stay on the sandbox's
// side. The process ends by os.Exit (or a signal) from another thread.
// The main goroutine must be locked to the main thread (main's init).
func pinMainThread() {
	var all unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^uint64(0)
	}
	for {
		unix.Syscall6(unix.SYS_PPOLL, 0, 0, 0, uintptr(unsafe.Pointer(&all)), unsafe.Sizeof(all.Val[0]), 0)
	}
}

func runExoMain(g *globals, args []string) int {
	fs := flag.NewFlagSet("exo", flag.ContinueOnError)
	readyFD := fs.Int("ready-fd", -1, "fd to report the created sandbox (or its failure) on")
	consoleSocket := fs.String("console-socket", "", "unix socket to send the terminal's master to (process.terminal)")
	sandbox := fs.String("sandbox", "", "the pod sandbox container to run this container in (its host process only, see pod.go)")
	hostNSFD := fs.Int("host-netns-fd", -1, "fd of the runtime's network namespace, when exo runs in the container's")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return 125
	}
	// Hooks and the sentry must not hold the ready pipe open.
	unix.CloseOnExec(*readyFD)
	ready := os.NewFile(uintptr(*readyFD), "ready")
	report := func(m oci.Message) {
		if ready != nil {
			json.NewEncoder(ready).Encode(m)
			ready.Close()
			ready = nil
		}
	}
	var hostNS *os.File
	if *hostNSFD >= 0 {
		unix.CloseOnExec(*hostNSFD)
		hostNS = os.NewFile(uintptr(*hostNSFD), "host netns")
	}
	stopWatch := watchCreator(*readyFD)
	created := func(m oci.Message) {
		stopWatch()
		report(m)
	}
	var code, sig int
	var err error
	if *sandbox != "" {
		pe := &podExo{g: g, id: fs.Arg(0), sandbox: *sandbox, store: oci.Store{Root: g.root}, consoleSocket: *consoleSocket, hostNS: hostNS}
		code, sig, err = pe.run(created)
	} else {
		e := &exoProc{g: g, id: fs.Arg(0), store: oci.Store{Root: g.root}, replies: make(chan oci.Message, 1), gone: make(chan struct{}), consoleSocket: *consoleSocket, hostNS: hostNS}
		code, sig, err = e.run(created)
	}
	if err != nil {
		slog.Debug("create failed", "id", fs.Arg(0), "err", err)
		report(oci.Message{Event: "failed", Error: err.Error()})
		return 125
	}
	exitWith(code, sig)
	return code
}

func (e *exoProc) run(report func(oci.Message)) (code, sig int, err error) {
	dir := e.store.Dir(e.id)
	data, err := os.ReadFile(filepath.Join(dir, specCopy))
	if err != nil {
		return 0, 0, fmt.Errorf("read saved config: %w", err)
	}
	e.spec = &specs.Spec{}
	if err := json.Unmarshal(data, e.spec); err != nil {
		return 0, 0, fmt.Errorf("saved config: %w", err)
	}
	st, err := e.store.Get(e.id)
	if err != nil {
		return 0, 0, err
	}
	sbx, err := oci.Translate(e.spec, st.Bundle)
	if err != nil {
		return 0, 0, err
	}
	for _, w := range sbx.Warnings {
		slog.Warn(w, "id", e.id)
	}
	pid := oci.HostPid()
	var cgroups []string
	if e.spec.Linux != nil && e.spec.Linux.CgroupsPath != "" {
		// Before the sentry starts: it and its stubs inherit the cgroup.
		// systrap's stub threads are placed one by one (tasks
		// capability), so the container's pids cgroup can count the
		// workload's tasks alone.
		split := e.g.platform == "" || e.g.platform == "systrap"
		if cgroups, err = oci.JoinCgroups(e.spec.Linux.CgroupsPath, os.Getpid(), split); err != nil {
			return 0, 0, err
		}
		// The main thread stands for the container (pinMainThread).
		if err := oci.PlaceThread(cgroups, os.Getpid()); err != nil {
			e.store.Update(e.id, func(s *oci.State) { s.Cgroups = cgroups })
			return 0, 0, err
		}
		if err := oci.SetResources(cgroups, e.spec.Linux.Resources); err != nil {
			// This process sits in them: create's caller removes them
			// once it has reaped it.
			e.store.Update(e.id, func(s *oci.State) { s.Cgroups = cgroups })
			return 0, 0, fmt.Errorf("config.json: linux.resources: %w", err)
		}
	}
	if err := e.store.Update(e.id, func(s *oci.State) {
		s.Pid = pid
		s.PidStart = oci.ProcessStart(pid)
		s.Cgroups = cgroups
	}); err != nil {
		return 0, 0, err
	}

	exo := caps.NewExo(slog.Default())
	defer exo.Close()
	e.exo = exo
	if f := oci.PidsTasksFile(cgroups); f != "" {
		if _, err := exo.GrantTasks(sentry.TasksGrant, f); err != nil {
			return 0, 0, fmt.Errorf("cgroup: %w", err)
		}
	}
	if err := e.startSentry(exo, sbx); err != nil {
		return 0, 0, err
	}
	fail := func(err error) (int, int, error) {
		e.sentry.Process.Kill()
		e.sentry.Wait()
		return 0, 0, err
	}
	first, ok := <-e.replies
	switch {
	case !ok:
		return fail(errors.New("the sentry ended before loading the container's process"))
	case first.Event == "failed":
		return fail(errors.New(first.Error))
	case first.Event != "created":
		return fail(fmt.Errorf("unexpected sentry event %q", first.Event))
	}
	if e.consoleGrant != 0 {
		// The sentry has its copy of the host pty's slave: exo must not
		// hold one, or the client would not see the end of the
		// workload's side.
		exo.Revoke(e.consoleGrant)
		go e.relayResizes()
	}
	for _, stage := range []string{oci.Prestart, oci.CreateRuntime, oci.CreateContainer} {
		if err := runHooks(e.spec, stage, e.ociState(), e.hostNS); err != nil {
			return fail(err)
		}
	}
	if !e.hostNet && (sbx.NetNS != "" || sbx.NewNetNS) {
		// The hooks have configured the namespace's interfaces (docker's
		// libnetwork-setkey is a prestart hook); CNI did it before
		// create for a CRI pod.
		nics, restore, err := grantContainerNICs(exo, e.hostNS, sbx.NetworkRate)
		if err != nil {
			return fail(err)
		}
		defer restore()
		if len(nics) > 0 {
			if err := grantDNSForward(exo, e.spec); err != nil {
				return fail(err)
			}
			data, err := json.Marshal(nics)
			if err != nil {
				return fail(err)
			}
			if err := e.callSentry(oci.Message{Op: "add-nics", Config: data}); err != nil {
				return fail(fmt.Errorf("network: %w", err))
			}
			for _, n := range nics {
				slog.Debug("network interface granted", "id", e.id, "nic", n.Name, "addrs", n.Addrs)
			}
		}
	}
	ln, err := oci.ListenControl(dir)
	if err != nil {
		return fail(err)
	}
	defer os.Remove(filepath.Join(dir, oci.ControlSocket))
	defer ln.Close()
	if err := e.setStatus(oci.StatusCreated); err != nil {
		return fail(err)
	}
	go e.serve(ln)
	report(oci.Message{Event: "created"})

	werr := e.sentry.Wait()
	<-e.gone
	e.mu.Lock()
	exit := e.exit
	e.status = oci.StatusStopped
	e.mu.Unlock()
	if exit == nil {
		// The sentry died without reporting init's end: it was killed.
		exit = &oci.Message{ExitSignal: int(unix.SIGKILL)}
		var ee *exec.ExitError
		if errors.As(werr, &ee) && ee.ExitCode() >= 0 {
			exit = &oci.Message{Code: ee.ExitCode()}
		}
	}
	e.store.Update(e.id, func(s *oci.State) {
		s.Status = oci.StatusStopped
		s.ExitCode, s.ExitSignal = exit.Code, exit.ExitSignal
	})
	return exit.Code, exit.ExitSignal, nil
}

// startSentry grants the container's resources and starts the sentry with
// a control fd.
func (e *exoProc) startSentry(exo *caps.Exo, sbx *oci.Sandbox) error {
	// The memfd is the host's RAM (or the limit, if larger), the limit
	// the library OS's quota within it: `update` can then move the limit
	// either way live, with the host cgroup holding it on the host side
	// (see update.go).
	quota, err := memoryQuota("")
	if err != nil {
		return err
	}
	quota = max(quota, sbx.MemoryLimit)
	memID, err := exo.GrantMemory("memory", quota)
	if err != nil {
		return err
	}
	memFile, _, err := exo.Table().Dup(memID, caps.KindMemory, caps.RightRead)
	if err != nil {
		return fmt.Errorf("memory audit: %w", err)
	}
	setAuditedLimit(sbx.MemoryLimit)
	// As with runc, a container's writes land in its rootfs unless
	// root.readonly says otherwise: the bundle's owner sees them.
	rootRights := caps.RightRead
	if !sbx.ReadOnlyRoot {
		rootRights |= caps.RightWrite
	}
	if _, err := exo.GrantDir("rootfs", sbx.Rootfs, rootRights); err != nil {
		return fmt.Errorf("rootfs %q: %w", sbx.Rootfs, err)
	}
	cfg := e.sentryConfig(sbx)
	if e.hostNet, err = sharesHostNetwork(sbx, e.hostNS); err != nil {
		return err
	}
	if e.hostNet {
		if _, err := exo.GrantHostNet(sentry.HostNetGrant, 0); err != nil {
			return fmt.Errorf("host network: %w", err)
		}
		cfg.HostNetwork = true
	}
	mounts, _, err := grantMounts(exo, "", sbx)
	if err != nil {
		return err
	}
	cfg.Mounts = mounts
	if sbx.Terminal {
		slave, err := e.hostTerminal(sbx)
		if err != nil {
			return err
		}
		defer slave.Close()
		if e.consoleGrant, err = exo.GrantFile("console", slave, caps.RightRead|caps.RightWrite); err != nil {
			return err
		}
		cfg.Terminal = true
	}
	for _, s := range []struct {
		name   string
		f      *os.File
		rights caps.Rights
	}{
		{"stdin", os.Stdin, caps.RightRead},
		{"stdout", os.Stdout, caps.RightWrite},
		{"stderr", os.Stderr, caps.RightWrite},
	} {
		if sbx.Terminal {
			// The terminal is init's stdio.
			break
		}
		if _, err := exo.GrantFile(s.name, s.f, s.rights); err != nil {
			slog.Debug("no stdio handle", "name", s.name, "err", err)
		}
	}

	exoEnd, sentryEnd, err := caps.SocketPair()
	if err != nil {
		return err
	}
	sentrySock, err := sentryEnd.File()
	sentryEnd.Close()
	if err != nil {
		exoEnd.Close()
		return fmt.Errorf("caps socket: %w", err)
	}
	defer sentrySock.Close()
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		exoEnd.Close()
		return fmt.Errorf("config pipe: %w", err)
	}
	defer cfgR.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		exoEnd.Close()
		cfgW.Close()
		return fmt.Errorf("control socket pair: %w", err)
	}
	e.ctl = os.NewFile(uintptr(fds[0]), "control")
	sentryCtl := os.NewFile(uintptr(fds[1]), "control")
	defer sentryCtl.Close()
	self, err := os.Executable()
	if err != nil {
		exoEnd.Close()
		cfgW.Close()
		return fmt.Errorf("find own executable: %w", err)
	}
	bootArgs := append(e.g.args(), "boot", "--caps-fd", "3", "--config-fd", "4", "--control-fd", "5")
	cmd := exec.Command(self, bootArgs...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, os.Stderr
	cmd.ExtraFiles = []*os.File{sentrySock, cfgR, sentryCtl}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS,
		Pdeathsig:  syscall.SIGKILL,
		// With a terminal, exo alone is in the session the host pty
		// controls, so the host's SIGWINCH and SIGHUP reach only exo.
		Setsid: sbx.Terminal,
	}
	// The sentry's Pdeathsig follows the thread that forked it, so that
	// thread must outlive the sentry: it is this one, kept for good.
	runtime.LockOSThread()
	if err := cmd.Start(); err != nil {
		exoEnd.Close()
		cfgW.Close()
		return fmt.Errorf("start sentry: %w", err)
	}
	e.sentry = cmd
	go auditMemory(memFile, e.gone, func() { cmd.Process.Kill() })
	go func() {
		json.NewEncoder(cfgW).Encode(cfg)
		cfgW.Close()
	}()
	go func() {
		defer exoEnd.Close()
		if err := exo.Serve(exoEnd); err != nil {
			slog.Warn("capability server stopped", "err", err)
		}
	}()
	e.ctlEnc = json.NewEncoder(e.ctl)
	go e.readSentry()
	return nil
}

// sentryConfig is what the sentry runs for the container sbx, but its
// mounts (grantMounts).
func (e *exoProc) sentryConfig(sbx *oci.Sandbox) sentry.Config {
	cfg := sentry.Config{
		Argv:          sbx.Args,
		Env:           sbx.Env,
		Cwd:           sbx.Cwd,
		UID:           sbx.UID,
		GID:           sbx.GID,
		Groups:        sbx.Groups,
		Hostname:      sbx.Hostname,
		Platform:      e.g.platform,
		Strace:        e.g.strace,
		PidsLimit:     sbx.PidsLimit,
		MemoryLimit:   sbx.MemoryLimit,
		ReadOnlyRoot:  sbx.ReadOnlyRoot,
		MaskedPaths:   sbx.MaskedPaths,
		ReadonlyPaths: sbx.ReadonlyPaths,
		Sysctl:        sbx.Sysctl,
		Domainname:    sbx.Domainname,

		Caps:            sentryCaps(sbx.Caps),
		NoNewPrivileges: sbx.NoNewPrivileges,
		Seccomp:         sentrySeccomp(sbx.Seccomp),
		OOMScoreAdj:     int32(sbx.OOMScoreAdj),
		Cgroup: sentry.CgroupConfig{
			V1:        !oci.HostCgroupV2(),
			Memory:    sbx.MemoryLimit,
			CPUQuota:  sbx.CPUQuota,
			CPUPeriod: sbx.CPUPeriod,
			CPUShares: sbx.CPUShares,
		},
	}
	for _, d := range sbx.Devices {
		cfg.Devices = append(cfg.Devices, sentry.Device{Name: d.Name, Mode: d.Mode, Major: d.Major, Minor: d.Minor, UID: d.UID, GID: d.GID})
	}
	for _, r := range sbx.DeviceRules {
		cfg.DeviceRules = append(cfg.DeviceRules, sentry.DeviceRule{Allow: r.Allow, Type: r.Type, Major: r.Major, Minor: r.Minor, Access: r.Access})
	}
	if cfg.Hostname == "" {
		cfg.Hostname = e.id
		if len(cfg.Hostname) > 64 {
			cfg.Hostname = cfg.Hostname[:12]
		}
	}
	for _, r := range sbx.Rlimits {
		cfg.Rlimits = append(cfg.Rlimits, sentry.Rlimit{Resource: r.Resource, Soft: r.Soft, Hard: r.Hard})
	}
	return cfg
}

// grantMounts grants the sources of sbx's bind mounts as dir (or, for a
// file, file) capabilities named prefix+sentry.BindGrant(destination) and
// returns the sentry's mounts and the handles granted.
func grantMounts(exo *caps.Exo, prefix string, sbx *oci.Sandbox) ([]sentry.Mount, []caps.ID, error) {
	var out []sentry.Mount
	var ids []caps.ID
	for _, m := range sbx.Mounts {
		sm := sentry.Mount{Type: m.Type, Destination: m.Destination, ReadOnly: m.ReadOnly, Size: m.Size, Mode: m.Mode,
			File: m.File, NoExec: m.NoExec, NoSuid: m.NoSuid, NoDev: m.NoDev, Source: m.Source, Options: m.Options}
		if m.Type == "bind" {
			sm.Grant = sentry.BindGrant(m.Destination)
			rights := caps.RightRead
			if !m.ReadOnly {
				rights |= caps.RightWrite
			}
			grant := exo.GrantDir
			if m.File {
				grant = exo.GrantHostFile
			}
			id, err := grant(prefix+sm.Grant, m.Source, rights)
			if err != nil {
				return nil, ids, fmt.Errorf("mount %s: source %q: %w", m.Destination, m.Source, err)
			}
			ids = append(ids, id)
		}
		out = append(out, sm)
	}
	return out, ids, nil
}

// readSentry routes the sentry's messages: init's end is recorded, the
// rest are answers.
func (e *exoProc) readSentry() {
	defer close(e.gone)
	defer close(e.replies)
	sc := bufio.NewScanner(e.ctl)
	for sc.Scan() {
		var m oci.Message
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			slog.Warn("bad message from the sentry", "err", err)
			continue
		}
		switch m.Event {
		case "exited":
			e.mu.Lock()
			e.exit = &m
			e.mu.Unlock()
			continue
		case "containerExited":
			e.mu.Lock()
			ch := e.podCtrs[m.Container]
			delete(e.podCtrs, m.Container)
			e.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		case "execExited":
			e.mu.Lock()
			ch := e.execs[m.ExecID]
			delete(e.execs, m.ExecID)
			e.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		e.replies <- m
	}
}

// callSentry sends one request to the sentry and waits for its answer.
func (e *exoProc) callSentry(req oci.Message) error {
	_, err := e.callSentryPid(req)
	return err
}

// callSentryPid is callSentry for a request whose answer has a pid.
func (e *exoProc) callSentryPid(req oci.Message) (int, error) {
	e.callMu.Lock()
	defer e.callMu.Unlock()
	if err := e.ctlEnc.Encode(req); err != nil {
		return 0, errors.New("container not running")
	}
	m, ok := <-e.replies
	if !ok {
		return 0, errors.New("container not running")
	}
	if m.Error != "" {
		return 0, errors.New(m.Error)
	}
	return m.Pid, nil
}

// ociState is the state hooks get on stdin.
func (e *exoProc) ociState() specs.State { return hookState(e.store, e.id) }

// setStatus records the container's status unless init already ended.
func (e *exoProc) setStatus(s specs.ContainerState) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return storeStatusLocked(e.store, e.id, &e.status, s)
}

// serve answers the control socket: one request per connection.
func (e *exoProc) serve(ln *net.UnixListener) { acceptEach(ln, e.serveConn) }

// hookState is the state of container id that hooks get on stdin: the
// stored one, or as much as is known without it.
func hookState(store oci.Store, id string) specs.State {
	st, err := store.Get(id)
	if err != nil {
		return specs.State{Version: specs.Version, ID: id, Pid: oci.HostPid()}
	}
	return st.State
}

// storeStatusLocked sets *cur to s and records it in the store, unless
// the container has already stopped; the caller holds the lock guarding
// *cur.
func storeStatusLocked(store oci.Store, id string, cur *specs.ContainerState, s specs.ContainerState) error {
	if *cur == oci.StatusStopped {
		return nil
	}
	*cur = s
	return store.Update(id, func(st *oci.State) { st.Status = s })
}

// acceptEach serves each connection of ln on a goroutine of its own
// until ln is closed.
func acceptEach(ln *net.UnixListener, serve func(*net.UnixConn)) {
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			return
		}
		go serve(c)
	}
}

func (e *exoProc) serveConn(c *net.UnixConn) {
	defer c.Close()
	req, fds, err := readRequest(c)
	if err == nil && req.Op == "exec" {
		e.exec(c, req, fds)
		return
	}
	if err == nil && req.Op == "create-container" {
		e.createPodContainer(c, req, fds)
		return
	}
	for _, f := range fds {
		f.Close()
	}
	resp := oci.Message{Event: "reply"}
	if err != nil {
		resp.Error = "bad request: " + err.Error()
	} else if req.Op == "ps" {
		resp.Pids = hostTree(oci.HostPid())
		e.mu.Lock()
		for p := range e.waiters {
			resp.Pids = append(resp.Pids, p)
		}
		e.mu.Unlock()
		sort.Ints(resp.Pids)
	} else if req.Op == "stats" {
		resp.Stats, err = e.stats()
		if err != nil {
			resp.Error = err.Error()
		}
	} else if err := e.handle(req); err != nil {
		resp.Error = err.Error()
	}
	json.NewEncoder(c).Encode(resp)
}

// readRequest reads one JSON line and the fds sent with it.
func readRequest(c *net.UnixConn) (oci.Message, []*os.File, error) {
	var req oci.Message
	buf := make([]byte, 1<<16)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return req, nil, err
	}
	var fds []*os.File
	if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, cm := range cmsgs {
			if raw, err := unix.ParseUnixRights(&cm); err == nil {
				for _, fd := range raw {
					unix.CloseOnExec(fd)
					fds = append(fds, os.NewFile(uintptr(fd), "client"))
				}
			}
		}
	}
	data := buf[:n]
	for !strings.Contains(string(data), "\n") {
		if len(data) >= len(buf) {
			return req, fds, errors.New("request too long")
		}
		m, err := c.Read(buf[len(data):])
		if err != nil {
			return req, fds, err
		}
		data = buf[:len(data)+m]
	}
	if err := json.Unmarshal(data, &req); err != nil {
		return req, fds, err
	}
	return req, fds, nil
}

// exec starts a process in the running container with the client's
// stdio, answers "started" with its pid, then "exited" when it ends.
func (e *exoProc) exec(c *net.UnixConn, req oci.Message, fds []*os.File) {
	enc := json.NewEncoder(c)
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	fail := func(err error) { enc.Encode(oci.Message{Event: "reply", Error: err.Error()}) }
	e.mu.Lock()
	status := e.status
	e.mu.Unlock()
	if status != oci.StatusRunning {
		fail(fmt.Errorf("cannot exec in a container that is %s", status))
		return
	}
	switch {
	case req.Exec == nil:
		fail(errors.New("exec: want a process"))
		return
	case req.Exec.Terminal && len(fds) != 1:
		fail(errors.New("exec: want the terminal's host pty"))
		return
	case !req.Exec.Terminal && len(fds) != 3:
		fail(errors.New("exec: want three stdio fds"))
		return
	}
	e.mu.Lock()
	e.nextExec++
	id := e.nextExec
	done := make(chan oci.Message, 1)
	if e.execs == nil {
		e.execs = map[int]chan oci.Message{}
	}
	e.execs[id] = done
	e.mu.Unlock()
	forget := func() {
		e.mu.Lock()
		delete(e.execs, id)
		e.mu.Unlock()
	}
	var grants []caps.ID
	defer func() {
		for _, g := range grants {
			e.exo.Revoke(g)
		}
	}()
	if req.Exec.Terminal {
		gname := fmt.Sprintf("exec:%d:console", id)
		g, err := e.exo.GrantFile(gname, fds[0], caps.RightRead|caps.RightWrite)
		if err != nil {
			forget()
			fail(err)
			return
		}
		grants = append(grants, g)
		req.Exec.Console = gname
	}
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		if req.Exec.Terminal {
			break
		}
		rights := caps.RightWrite
		if i == 0 {
			rights = caps.RightRead
		}
		gname := fmt.Sprintf("exec:%d:%s", id, name)
		g, err := e.exo.GrantFile(gname, fds[i], rights)
		if err != nil {
			slog.Debug("exec: no stdio handle", "name", gname, "err", err)
			continue
		}
		grants = append(grants, g)
		req.Exec.Stdio[i] = gname
	}
	req.ExecID = id
	pid, err := e.callSentryPid(req)
	if err != nil {
		forget()
		fail(err)
		return
	}
	// The sentry holds its own copies now.
	for _, g := range grants {
		e.exo.Revoke(g)
	}
	grants = nil
	if req.Exec.Terminal {
		// Only the sentry may hold the host pty's slave, so the client
		// sees EIO once the workload's side has closed.
		fds[0].Close()
		fds = nil
	}
	enc.Encode(oci.Message{Event: "started", Pid: pid})
	// The client is the exec's host process: ps lists it with the
	// container's.
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
	// The client sends nothing more but, with a terminal, its pty's
	// resizes; its connection ends when it does.
	clientGone := make(chan struct{})
	go func() {
		defer close(clientGone)
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			var m oci.Message
			if req.Exec.Terminal && json.Unmarshal(sc.Bytes(), &m) == nil && m.Op == "resize" {
				e.callSentry(oci.Message{Op: "resize", ExecID: id})
			}
		}
	}()
	var end oci.Message
wait:
	for {
		select {
		case end = <-done:
			break wait
		case <-e.gone:
			select {
			case end = <-done:
			default:
				end = oci.Message{ExitSignal: int(unix.SIGKILL)}
			}
			break wait
		case <-clientGone:
			// The host process stands for the exec'd process (the shim
			// has its pid): killed, as a shim's exec timeout SIGKILLs it,
			// it takes the process along, which would otherwise keep the
			// shim's stdio pipes open and its exec waiting forever.
			clientGone = nil
			if err := e.callSentry(oci.Message{Op: "kill", Signal: int(unix.SIGKILL), Pid: pid}); err != nil {
				slog.Debug("exec: kill after its host process ended", "pid", pid, "err", err)
			}
		}
	}
	enc.Encode(oci.Message{Event: "exited", Code: end.Code, ExitSignal: end.ExitSignal})
}

func (e *exoProc) handle(req oci.Message) error {
	switch req.Op {
	case "start":
		if req.Container != "" {
			return e.callSentry(oci.Message{Op: "start", Container: req.Container})
		}
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
			e.callSentry(oci.Message{Op: "kill", Signal: int(unix.SIGKILL), All: true})
			return err
		}
		if e.consoleGrant != 0 {
			// A size the client set on the master before start must be
			// what init sees, as it would on a runc pty; its SIGWINCH
			// may not have been relayed yet.
			e.callSentry(oci.Message{Op: "resize"})
		}
		if err := e.callSentry(oci.Message{Op: "start"}); err != nil {
			return err
		}
		return e.setStatus(oci.StatusRunning)
	case "kill":
		return e.callSentry(req)
	case "update":
		if req.Container != "" {
			if req.Resources == nil || req.Resources.Memory == nil || req.Resources.Memory.Limit == nil {
				return nil
			}
			return e.setPodMemory(req.Container, *req.Resources.Memory.Limit, true)
		}
		return e.update(req.Resources)
	case "resize":
		// A pod container's exo process relays its init terminal's
		// resizes (an exec's come on its own connection).
		if req.Container == "" {
			return errors.New("resize: want a container")
		}
		return e.callSentry(oci.Message{Op: "resize", Container: req.Container})
	}
	return fmt.Errorf("unknown request %q", req.Op)
}

// exitWith ends the process as init ended: with the same signal when a
// signal killed it (so a reaping shim sees e.g. 137 for SIGKILL), else
// with its exit code.
func exitWith(code, sig int) {
	switch unix.Signal(sig) {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		// Raising these would stop this process, not end it.
		os.Exit(128 + sig)
	}
	if sig <= 0 || sig >= 65 {
		os.Exit(code)
	}
	// No core file of the runtime for a core-dumping signal.
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	// Go's own handler must not see the signal: the default action must
	// apply to this process.
	var act struct {
		handler  uintptr
		flags    uint64
		restorer uintptr
		mask     uint64
	}
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	runtime.LockOSThread()
	var set unix.Sigset_t
	set.Val[(sig-1)/64] = 1 << (uint(sig-1) % 64)
	unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil)
	unix.Tgkill(os.Getpid(), unix.Gettid(), unix.Signal(sig))
	// A signal whose default is to be ignored (SIGCHLD, SIGWINCH...) or
	// to stop cannot end the process: report it as a shell would.
	os.Exit(128 + sig)
}

func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var cerr error
	raw.Control(func(fd uintptr) { cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	return cred, cerr
}
