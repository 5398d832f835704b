package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/oci"
)

// stringList collects a repeated flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runExec is `exec`: start a process in a running container. Its host
// process (the --pid-file pid) lives as long as the process and exits
// with its status; without --detach this command waits for it.
func runExec(g *globals, args []string) int {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	processFile := fs.String("process", "", "path to a process.json (an OCI process) to run")
	fs.StringVar(processFile, "p", "", "short for --process")
	detach := fs.Bool("detach", false, "return once the process has started")
	fs.BoolVar(detach, "d", false, "short for --detach")
	pidFile := fs.String("pid-file", "", "write the pid of the process's host process to this file")
	cwd := fs.String("cwd", "", "working directory of the process")
	user := fs.String("user", "", "UID[:GID] to run the process as")
	fs.StringVar(user, "u", "", "short for --user")
	tty := fs.Bool("tty", false, "give the process a terminal (its master goes to --console-socket)")
	fs.BoolVar(tty, "t", false, "short for --tty")
	consoleSocket := fs.String("console-socket", "", "unix socket to send the terminal's master to (with --tty or process.terminal)")
	var env, gids stringList
	fs.Var(&env, "env", "NAME=VALUE to add to the environment (repeatable)")
	fs.Var(&env, "e", "short for --env")
	fs.Var(&gids, "additional-gids", "supplementary group of the process (repeatable)")
	fs.Var(&gids, "g", "short for --additional-gids")
	// Flags come before the id; what follows the id is the command.
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() < 1 {
		return g.fail(errors.New("exec: usage: runsc-exo exec [flags] ID [COMMAND ARGS...]"))
	}
	id := fs.Arg(0)
	if err := oci.ValidateID(id); err != nil {
		return g.fail(err)
	}
	store := oci.Store{Root: g.root}
	st, err := store.Get(id)
	if err != nil {
		return g.fail(err)
	}
	if st.Status != oci.StatusRunning {
		return g.fail(fmt.Errorf("cannot exec in a container that is %s", st.Status))
	}
	var proc *specs.Process
	if *processFile != "" {
		data, err := os.ReadFile(*processFile)
		if err != nil {
			return g.fail(fmt.Errorf("process: %w", err))
		}
		proc = &specs.Process{}
		if err := json.Unmarshal(data, proc); err != nil {
			return g.fail(fmt.Errorf("process.json: %w", err))
		}
	} else {
		spec, err := savedSpec(store, id)
		if err != nil {
			return g.fail(err)
		}
		// As runc: the container's process, with the command and the
		// flags' changes.
		p := *spec.Process
		p.Args = fs.Args()[1:]
		p.Terminal = *tty
		p.Env = append(append([]string{}, p.Env...), env...)
		if *cwd != "" {
			p.Cwd = *cwd
		}
		if *user != "" {
			u, gid, hasGID := strings.Cut(*user, ":")
			n, err := strconv.ParseUint(u, 10, 32)
			if err != nil {
				return g.fail(fmt.Errorf("--user %q: want UID[:GID]", *user))
			}
			p.User.UID = uint32(n)
			if hasGID {
				n, err := strconv.ParseUint(gid, 10, 32)
				if err != nil {
					return g.fail(fmt.Errorf("--user %q: want UID[:GID]", *user))
				}
				p.User.GID = uint32(n)
			}
		}
		for _, s := range gids {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return g.fail(fmt.Errorf("--additional-gids %q: not a number", s))
			}
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
		}
		proc = &p
	}
	ep, err := oci.ExecProcessOf(proc, st.Rootfs)
	if err != nil {
		return g.fail(err)
	}
	console := ""
	if ep.Terminal {
		if *consoleSocket == "" {
			return g.fail(errors.New("process.terminal: a terminal needs --console-socket to send its master to"))
		}
		if console, err = filepath.Abs(*consoleSocket); err != nil {
			return g.fail(fmt.Errorf("--console-socket: %w", err))
		}
	}
	inheritOnlyStdio()
	data, err := json.Marshal(ep)
	if err != nil {
		return g.fail(err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return g.fail(err)
	}
	procR, procW, err := os.Pipe()
	if err != nil {
		return g.fail(err)
	}
	self, err := os.Executable()
	if err != nil {
		return g.fail(fmt.Errorf("find own executable: %w", err))
	}
	waitArgs := append(g.args(), "exec-wait", "--ready-fd", "3", "--process-fd", "4")
	if console != "" {
		waitArgs = append(waitArgs, "--console-socket", console)
	}
	cmd := exec.Command(self, append(waitArgs, id)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if ep.Terminal {
		// The terminal is the process's stdio: the host process must not
		// hold the caller's open (a detached exec's caller would wait on
		// them, as for a process of its own).
		cmd.Stdin, cmd.Stdout = nil, nil
		if *detach {
			cmd.Stderr = nil
		}
	}
	cmd.ExtraFiles = []*os.File{readyW, procR}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: *detach}
	if err := cmd.Start(); err != nil {
		return g.fail(fmt.Errorf("start exec process: %w", err))
	}
	readyW.Close()
	procR.Close()
	procW.Write(append(data, '\n'))
	procW.Close()
	var msg oci.Message
	line, rerr := bufio.NewReader(readyR).ReadBytes('\n')
	if rerr == nil {
		rerr = json.Unmarshal(line, &msg)
	}
	if rerr != nil || msg.Event != "started" {
		cmd.Process.Kill()
		cmd.Wait()
		if rerr != nil {
			return g.fail(errors.New("exec: the process's host process ended before it started"))
		}
		return g.fail(fmt.Errorf("exec failed: %s", msg.Error))
	}
	if *pidFile != "" {
		if err := writePidFile(*pidFile, cmd.Process.Pid); err != nil {
			cmd.Process.Kill()
			return g.fail(err)
		}
	}
	if *detach {
		cmd.Process.Release()
		return 0
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return g.fail(err)
	}
	return 0
}

// runExecWait is the internal `exec-wait`: the host process of one exec'd
// process. It hands its stdio to the container's exo process with the
// process to start, reports the start on the ready fd, and exits as the
// process does.
func runExecWait(g *globals, args []string) int {
	fs := flag.NewFlagSet("exec-wait", flag.ContinueOnError)
	readyFD := fs.Int("ready-fd", -1, "fd to report the start (or its failure) on")
	procFD := fs.Int("process-fd", -1, "fd to read the process (JSON) from")
	consoleSocket := fs.String("console-socket", "", "unix socket to send the terminal's master to")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return 125
	}
	unix.CloseOnExec(*readyFD)
	ready := os.NewFile(uintptr(*readyFD), "ready")
	report := func(m oci.Message) {
		if ready != nil {
			json.NewEncoder(ready).Encode(m)
			ready.Close()
			ready = nil
		}
	}
	failed := func(err error) int {
		report(oci.Message{Event: "failed", Error: err.Error()})
		return 125
	}
	// As runc's exec joins the container's cgroups, the exec's host
	// process joins the sandbox's, so the container's accounting and
	// limits cover it.
	if st, err := (oci.Store{Root: g.root}).Get(fs.Arg(0)); err == nil {
		oci.EnterCgroups(st.Cgroups, os.Getpid())
	}
	pf := os.NewFile(uintptr(*procFD), "process")
	var ep oci.ExecProcess
	if err := json.NewDecoder(pf).Decode(&ep); err != nil {
		return failed(fmt.Errorf("read process: %w", err))
	}
	pf.Close()
	c, err := oci.Dial(oci.Store{Root: g.root}.Dir(fs.Arg(0)))
	if err != nil {
		return failed(err)
	}
	defer c.Close()
	req, _ := json.Marshal(oci.Message{Op: "exec", Exec: &ep})
	rights := unix.UnixRights(0, 1, 2)
	var winch chan os.Signal
	var ttyFile *os.File
	if ep.Terminal {
		// This process leads the session the host pty controls: it hears
		// of resizes and relays them (see sentry/console.go).
		winch = make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		slave, err := openHostTerminal(*consoleSocket, ep.ConsoleSize)
		if err != nil {
			return failed(err)
		}
		// Only the sentry may keep the slave open once it has its copy,
		// so the client sees the workload's side end.
		rights = unix.UnixRights(int(slave.Fd()))
		ttyFile = slave
	}
	_, _, err = c.WriteMsgUnix(append(req, '\n'), rights, nil)
	if ttyFile != nil {
		ttyFile.Close()
	}
	if err != nil {
		return failed(fmt.Errorf("control socket: %w", err))
	}
	r := bufio.NewReader(c)
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
		return failed(fmt.Errorf("control socket: %w", err))
	}
	if m.Error != "" || m.Event != "started" {
		return failed(errors.New(m.Error))
	}
	report(m)
	if winch != nil {
		go relayExecResizes(json.NewEncoder(c), winch)
	}
	m, err = next()
	if err != nil || m.Event != "exited" {
		// exo is gone, and with it the sandbox.
		exitWith(0, int(unix.SIGKILL))
	}
	exitWith(m.Code, m.ExitSignal)
	return m.Code
}
