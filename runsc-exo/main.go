// Command runsc-exo is an OCI container runtime that runs each container's
// programs on a library OS in a sandbox. This file holds the command
// dispatch and the global flags; each subcommand lives in its own file.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"exokernelul.dev/exo/oci"
	"exokernelul.dev/exo/sentry/syscalls"
)

// version and commit are set at build time with -ldflags "-X
// main.version=... -X main.commit=..."; without, commit comes from the
// VCS stamp the go command adds.
var (
	version = "0.1.0-dev"
	commit  = ""
)

// printVersion prints what runc --version prints: the runtime's version,
// its commit and the runtime-spec version it implements.
func printVersion(w io.Writer) {
	c := commit
	if c == "" {
		c = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			var rev, dirty string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					if s.Value == "true" {
						dirty = "-dirty"
					}
				}
			}
			if rev != "" {
				c = rev + dirty
			}
		}
	}
	fmt.Fprintf(w, "runsc-exo version %s\ncommit: %s\nspec: %s\n", version, c, specs.Version)
}

// globals are the runc-style flags that precede the subcommand.
type globals struct {
	debug     bool
	logPath   string
	logFormat string
	root      string
	// platform and strace apply to the containers the OCI commands make.
	platform      string
	strace        bool
	systemdCgroup bool
	// logFile is the open --log file (nil: stderr).
	logFile *os.File
}

type command struct {
	summary string
	run     func(g *globals, args []string) int
}

var commands = map[string]command{
	"do":   {"run a command sandboxed on the host's root file system (no bundle)", runDo},
	"boot": {"internal: the sentry process of a sandbox", runBoot},
	"exo":  {"internal: the host process of an OCI container (started by create)", runExo},

	"create": {"create a container from a bundle; its process waits for start", runCreate},
	"start":  {"run the process of a created container", runStart},
	"run":    {"create and start a container, wait for it and delete it", runRun},
	"state":  {"print the state of a container as JSON", runState},
	"list":   {"list the containers", runList},
	"kill":   {"send a signal to a container's init (--all: every process)", runKill},
	"delete": {"delete a stopped container (--force: kill it first)", runDelete},
	"ps":     {"list the host processes of a container", runPs},
	"exec":   {"run another process in a running container", runExec},
	"pause":  {"freeze every process of a container (needs linux.cgroupsPath)", runPause},
	"resume": {"thaw a paused container", runResume},
	"update": {"change a running container's memory, pids and CPU limits", runUpdate},
	"events": {"print a container's stats and OOM events (--stats: once)", runEvents},

	"exec-wait": {"internal: the host process of an exec'd process (started by exec)", runExecWait},
	"spec":      {"write a default config.json", runSpec},
	"features":  {"print the features of the runtime as JSON", runFeatures},
}

// The main goroutine starts on the main thread and, for the exo
// subcommand, keeps it (pinMainThread); the others let it go in run.
func init() { runtime.LockOSThread() }

func init() {
	// oci compiles linux.seccomp with the library OS's syscall table.
	oci.SyscallNumber = syscalls.Number
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	g := &globals{}
	fs := flag.NewFlagSet("runsc-exo", flag.ContinueOnError)
	fs.BoolVar(&g.debug, "debug", false, "log debug messages")
	fs.StringVar(&g.logPath, "log", "", "write logs to this file instead of stderr")
	fs.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&g.root, "root", "/run/runsc-exo", "directory for container state")
	fs.StringVar(&g.platform, "platform", "", "how workload syscalls are trapped in OCI containers: systrap (default) or ptrace")
	fs.BoolVar(&g.strace, "strace", false, "print every syscall of OCI containers, strace-style, to their stderr")
	fs.BoolVar(&g.systemdCgroup, "systemd-cgroup", false, "accepted for runc compatibility (linux.cgroupsPath is always taken as a cgroupfs path)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.BoolVar(showVersion, "v", false, "short for --version")
	fs.Usage = func() { usage(fs.Output(), fs) }
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		printVersion(os.Stdout)
		return 0
	}
	if fs.NArg() == 0 {
		usage(os.Stderr, fs)
		return 2
	}
	name := fs.Arg(0)
	if name != "exo" {
		runtime.UnlockOSThread()
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "runsc-exo: unknown command %q (see runsc-exo --help)\n", name)
		return 2
	}
	if err := setupLogging(g); err != nil {
		fmt.Fprintf(os.Stderr, "runsc-exo: %v\n", err)
		return 125
	}
	return cmd.run(g, fs.Args()[1:])
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: runsc-exo [global flags] COMMAND [flags] [args]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !strings.HasPrefix(commands[n].summary, "internal") {
			fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
		}
	}
	fmt.Fprintf(w, "\nglobal flags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func setupLogging(g *globals) error {
	var out io.Writer = os.Stderr
	if g.logPath != "" {
		f, err := os.OpenFile(g.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open log %q: %w", g.logPath, err)
		}
		out = f
		g.logFile = f
	}
	level := slog.LevelWarn
	if g.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: runcLevel}
	var h slog.Handler
	switch g.logFormat {
	case "text":
		h = slog.NewTextHandler(out, opts)
	case "json":
		h = slog.NewJSONHandler(out, opts)
	default:
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	slog.SetDefault(slog.New(h))
	return nil
}

// runcLevel writes levels as runc's logrus does ("error", "warning"):
// containerd's shim reports the last "error" entry of the --log file as the
// reason a command failed, and finds slog's "ERROR" nowhere.
func runcLevel(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 || a.Key != slog.LevelKey {
		return a
	}
	l, ok := a.Value.Any().(slog.Level)
	if !ok {
		return a
	}
	switch {
	case l >= slog.LevelError:
		a.Value = slog.StringValue("error")
	case l >= slog.LevelWarn:
		a.Value = slog.StringValue("warning")
	case l >= slog.LevelInfo:
		a.Value = slog.StringValue("info")
	default:
		a.Value = slog.StringValue("debug")
	}
	return a
}

// globalArgs renders the global flags again for a child runsc-exo process.
func (g *globals) args() []string {
	a := []string{"--log-format", g.logFormat, "--root", g.root}
	if g.debug {
		a = append(a, "--debug")
	}
	if g.logPath != "" {
		a = append(a, "--log", g.logPath)
	}
	if g.platform != "" {
		a = append(a, "--platform", g.platform)
	}
	if g.strace {
		a = append(a, "--strace")
	}
	return a
}

// fail reports a command's error and returns its exit status: on stderr,
// and as the last line of --log, which is what containerd shows.
func (g *globals) fail(err error) int {
	fmt.Fprintf(os.Stderr, "runsc-exo: %v\n", err)
	if g.logPath != "" {
		slog.Error(err.Error())
	}
	return 1
}
