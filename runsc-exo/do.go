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
	"path"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/oci"
	"exokernelul.dev/exo/sentry"
)

// runDo runs CMD sandboxed. This process plays exo: it opens the rootfs and
// the memory quota as capabilities, starts the sentry in its own
// namespaces, serves its capability requests, and exits with the
// workload's status.
func runDo(g *globals, args []string) int {
	fs := flag.NewFlagSet("do", flag.ContinueOnError)
	rootfs := fs.String("rootfs", "/", "host directory to use as the container's root file system (never written: changes go to an in-memory overlay)")
	rootReadOnly := fs.Bool("rootfs-readonly", false, "serve the rootfs read-only (EROFS) instead of under a writable in-memory overlay")
	platform := fs.String("platform", "systrap", "how workload syscalls are trapped: systrap (seccomp and a SIGSYS handler) or ptrace")
	strace := fs.Bool("strace", false, "print every syscall the workload makes, strace-style, to stderr")
	memLimit := fs.String("memory-limit", "", "memory quota of the sandbox, e.g. 512M or 2G (default: the host's RAM)")
	cwd := fs.String("cwd", "", "working directory inside the sandbox (default: / )")
	hostname := fs.String("hostname", "runsc-exo", "host name the workload sees")
	pidsLimit := fs.Int("pids-limit", 0, "most tasks (processes and threads) the sandbox may have; 0 for no limit")
	var mounts mountFlags
	var nf networkFlags
	fs.StringVar(&nf.mode, "network", "none", "network of the sandbox: none (loopback only), sandbox (the library OS's TCP/IP on an interface of runsc-exo's netns, whose addresses are taken off the host: use it in a netns made for the sandbox) or host (weaker isolation: the workload's TCP and UDP sockets are host sockets of runsc-exo's netns, which runsc-exo makes for it; no raw sockets)")
	fs.StringVar(&nf.iface, "network-interface", "", "with --network=sandbox, the interface to take (default: the netns's only non-loopback interface)")
	fs.Int64Var(&nf.rate, "network-rate", 0, "with --network=sandbox, most bytes per second the sandbox may send (0: no limit)")
	fs.Var(&mounts, "mount", "mount `SPEC` in the sandbox (repeatable): type=bind,src=HOSTDIR,dst=PATH[,ro] or type=tmpfs,dst=PATH[,size=64M][,mode=1777]")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: runsc-exo do [flags] [--] CMD [ARGS...]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "runsc-exo do: missing CMD: usage: runsc-exo do [flags] [--] CMD [ARGS...]")
		return 2
	}
	quota, err := memoryQuota(*memLimit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc-exo do: --memory-limit: %v\n", err)
		return 2
	}
	st, err := os.Stat(*rootfs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc-exo do: --rootfs %q: %v\n", *rootfs, errors.Unwrap(err))
		return 125
	}
	if !st.IsDir() {
		fmt.Fprintf(os.Stderr, "runsc-exo do: --rootfs %q: not a directory\n", *rootfs)
		return 125
	}
	cfg := sentry.Config{
		Argv:     fs.Args(),
		Env:      os.Environ(),
		Cwd:      *cwd,
		Hostname: *hostname,
		Platform: *platform,
		Strace:   *strace,

		PidsLimit:    *pidsLimit,
		ReadOnlyRoot: *rootReadOnly,
	}
	for _, m := range mounts {
		cfg.Mounts = append(cfg.Mounts, m.Mount)
	}
	if nf.mode != "none" && nf.mode != "sandbox" && nf.mode != "host" {
		fmt.Fprintf(os.Stderr, "runsc-exo do: --network %q: want none, sandbox or host\n", nf.mode)
		return 2
	}
	code, err := doSandbox(g, cfg, *rootfs, quota, mounts, nf)
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc-exo do: %v\n", err)
		return 125
	}
	return code
}

// doSandbox sets up exo's grants, starts the sentry and waits for it.
func doSandbox(g *globals, cfg sentry.Config, rootfs string, quota int64, mounts mountFlags, nf networkFlags) (int, error) {
	exo := caps.NewExo(slog.Default())
	defer exo.Close()
	nics, restore, err := grantNetwork(exo, nf)
	if err != nil {
		return 0, err
	}
	defer restore()
	cfg.NICs = nics
	if nf.mode == "host" {
		if _, err := exo.GrantHostNet(sentry.HostNetGrant, 0); err != nil {
			return 0, fmt.Errorf("--network=host: %w", err)
		}
		cfg.HostNetwork = true
	}
	if _, err := exo.GrantMemory("memory", quota); err != nil {
		return 0, err
	}
	if _, err := exo.GrantDir("rootfs", rootfs, caps.RightRead); err != nil {
		return 0, fmt.Errorf("rootfs %q: %w", rootfs, err)
	}
	for _, m := range mounts {
		if m.Type != "bind" {
			continue
		}
		rights := caps.RightRead
		if !m.ReadOnly {
			rights |= caps.RightWrite
		}
		if _, err := exo.GrantDir(m.Grant, m.src, rights); err != nil {
			return 0, fmt.Errorf("--mount %q: src: %w", m.spec, err)
		}
	}
	stdio := []struct {
		name   string
		f      *os.File
		rights caps.Rights
	}{
		{"stdin", os.Stdin, caps.RightRead},
		{"stdout", os.Stdout, caps.RightWrite},
		{"stderr", os.Stderr, caps.RightWrite},
	}
	for _, s := range stdio {
		if _, err := exo.GrantFile(s.name, s.f, s.rights); err != nil {
			// A closed stdio fd is not an error: the workload sees it closed.
			slog.Debug("no stdio handle", "name", s.name, "err", err)
		}
	}
	exoEnd, sentryEnd, err := caps.SocketPair()
	if err != nil {
		return 0, err
	}
	defer exoEnd.Close()
	sentrySock, err := sentryEnd.File()
	sentryEnd.Close()
	if err != nil {
		return 0, fmt.Errorf("caps socket: %w", err)
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("config pipe: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.Command(self, append(g.args(), "boot", "--caps-fd", "3", "--config-fd", "4")...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, os.Stderr
	cmd.ExtraFiles = []*os.File{sentrySock, cfgR}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS,
		Pdeathsig:  syscall.SIGKILL,
	}
	// Signals meant for the workload reach it through the sentry.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start sentry: %w", err)
	}
	sentrySock.Close()
	cfgR.Close()
	go func() {
		json.NewEncoder(cfgW).Encode(cfg)
		cfgW.Close()
	}()
	go func() {
		if err := exo.Serve(exoEnd); err != nil {
			slog.Warn("capability server stopped", "err", err)
		}
	}()
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 0, fmt.Errorf("sentry killed by %v", ws.Signal())
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("wait for sentry: %w", err)
	}
	return 0, nil
}

// memoryQuota parses a size like 64M; empty means the host's total RAM.
func memoryQuota(s string) (int64, error) {
	if s == "" {
		var si unix.Sysinfo_t
		if err := unix.Sysinfo(&si); err != nil {
			return 0, fmt.Errorf("read host memory size: %w", err)
		}
		return int64(si.Totalram) * int64(si.Unit), nil
	}
	n, err := oci.ParseSize(s)
	if err != nil || n == 0 || n > 1<<46 {
		return 0, fmt.Errorf("%q is not a size like 512M or 2G", s)
	}
	return n, nil
}

// mountSpec is one --mount flag: the sentry's mount, and for a bind the
// host directory exo grants.
type mountSpec struct {
	sentry.Mount
	src  string
	spec string
}

// mountFlags collects repeated --mount flags.
type mountFlags []mountSpec

func (m *mountFlags) String() string {
	var specs []string
	for _, s := range *m {
		specs = append(specs, s.spec)
	}
	return strings.Join(specs, " ")
}

// Set parses one --mount: comma-separated key=value fields (type, src or
// source, dst or destination or target, size, mode) and the bare words
// ro, readonly, rw, noexec, nosuid and nodev. A bad spec's error names the field.
func (m *mountFlags) Set(spec string) error {
	ms := mountSpec{spec: spec}
	seen := map[string]bool{}
	for _, field := range strings.Split(spec, ",") {
		key, val, hasVal := strings.Cut(field, "=")
		key = strings.TrimSpace(key)
		switch key {
		case "source":
			key = "src"
		case "destination", "target":
			key = "dst"
		case "readonly":
			key = "ro"
		}
		if seen[key] {
			return fmt.Errorf("field %q given twice", key)
		}
		seen[key] = true
		switch key {
		case "type":
			if val != "bind" && val != "tmpfs" {
				return fmt.Errorf("type: %q is not bind or tmpfs", val)
			}
			ms.Type = val
		case "src":
			if val == "" {
				return fmt.Errorf("src: empty host path")
			}
			ms.src = val
		case "dst":
			if !strings.HasPrefix(val, "/") {
				return fmt.Errorf("dst: %q is not an absolute path", val)
			}
			ms.Destination = path.Clean(val)
		case "ro", "rw":
			if hasVal && val != "true" && val != "false" && val != "1" && val != "0" {
				return fmt.Errorf("%s: %q is not true or false", key, val)
			}
			on := !hasVal || val == "true" || val == "1"
			ms.ReadOnly = on == (key == "ro")
		case "noexec", "nosuid", "nodev":
			if hasVal {
				return fmt.Errorf("%s: takes no value", key)
			}
			switch key {
			case "noexec":
				ms.NoExec = true
			case "nosuid":
				ms.NoSuid = true
			default:
				ms.NoDev = true
			}
		case "size":
			n, err := memoryQuota(val)
			if err != nil || val == "" {
				return fmt.Errorf("size: %q is not a size like 64M", val)
			}
			ms.Size = n
		case "mode":
			n, err := strconv.ParseUint(val, 8, 32)
			if err != nil || n&^0o7777 != 0 {
				return fmt.Errorf("mode: %q is not an octal permission mode", val)
			}
			ms.Mode = uint32(n)
		case "":
			return fmt.Errorf("empty field")
		default:
			return fmt.Errorf("unknown field %q (want type, src, dst, ro, noexec, nosuid, nodev, size, mode)", key)
		}
	}
	switch {
	case ms.Type == "":
		return fmt.Errorf("type: missing (type=bind or type=tmpfs)")
	case ms.Destination == "":
		return fmt.Errorf("dst: missing")
	case ms.Type == "bind" && ms.src == "":
		return fmt.Errorf("src: missing (the host directory to bind)")
	case ms.Type == "tmpfs" && ms.src != "":
		return fmt.Errorf("src: a tmpfs has no source")
	case ms.Type == "bind" && (ms.Size != 0 || ms.Mode != 0):
		return fmt.Errorf("size and mode are tmpfs fields, not bind's")
	}
	if ms.Type == "bind" {
		st, err := os.Stat(ms.src)
		if err != nil {
			return fmt.Errorf("src: %v", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("src: %q is not a directory", ms.src)
		}
		ms.Grant = sentry.BindGrant(ms.Destination)
	}
	for _, o := range *m {
		if o.Destination == ms.Destination {
			return fmt.Errorf("dst: %s is mounted twice", ms.Destination)
		}
	}
	*m = append(*m, ms)
	return nil
}
