package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/caps"
	"exokernelul.dev/exo/libos/loader"
	"exokernelul.dev/exo/sentry"
)

// runBoot is the sentry process: it confines itself, receives its
// capabilities from exo, boots the library OS and runs the workload. Its
// exit status is the workload's (128+N for a signal death), or 125-127 for
// a workload that could not start.
func runBoot(g *globals, args []string) int {
	fs := flag.NewFlagSet("boot", flag.ContinueOnError)
	capsFD := fs.Int("caps-fd", -1, "fd of the capability socket to exo")
	configFD := fs.Int("config-fd", -1, "fd to read the sandbox config (JSON) from")
	controlFD := fs.Int("control-fd", -1, "fd of exo's control socket: hold init until exo says start (OCI create/start)")
	if err := fs.Parse(args); err != nil {
		return 125
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "runsc-exo: "+format+"\n", a...)
		if *controlFD >= 0 {
			reportBootFailure(*controlFD, fmt.Sprintf(format, a...))
		}
		return 125
	}
	var cfg sentry.Config
	cf := os.NewFile(uintptr(*configFD), "config")
	if err := json.NewDecoder(cf).Decode(&cfg); err != nil {
		return fail("read sandbox config: %v", err)
	}
	cf.Close()
	conn, err := caps.ConnFromFD(*capsFD)
	if err != nil {
		return fail("%v", err)
	}
	client := caps.NewClient(conn)
	defer client.Close()

	// Until the sandbox runs, a signal for the workload must not kill the
	// sentry; ForwardSignals then routes them to the workload.
	forwarded := []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2}
	signal.Ignore(forwarded...)
	signal.Ignore(unix.SIGPIPE)

	aux, err := sentry.ReadHostAux()
	if err != nil {
		return fail("%v", err)
	}
	cpuinfo := sentry.ReadHostCPUInfo()
	tsc, _ := loader.HostTSC()
	stubDir, err := sentry.Confine()
	if err != nil {
		return fail("%v", err)
	}
	sb, err := sentry.Boot(client, cfg, sentry.HostState{Aux: aux, StubDir: stubDir, CPUInfo: cpuinfo, TSC: tsc}, slog.Default())
	if err != nil {
		return fail("boot: %v", err)
	}
	if err := sentry.Seal(); err != nil {
		return fail("%v", err)
	}
	// From here on the sentry makes only the host syscalls its grants
	// need: no socket, no mount, no namespace; it binds and connects only
	// with --network=host, on the sockets exo makes.
	if err := caps.InstallSentryFilter(cfg.SentryPolicy()); err != nil {
		return fail("%v", err)
	}
	if cfg.Strace && g.logFile != nil {
		sb.SetStrace(straceLog(g.logFile, g.logFormat))
	}
	sb.ForwardSignals(forwarded...)
	if *controlFD >= 0 {
		return bootControlled(sb, *controlFD)
	}
	status, err := sb.Run()
	if err != nil {
		fmt.Fprintf(os.Stderr, "runsc-exo: %v\n", err)
		return sentry.ExitCode(err)
	}
	if status.Signal != 0 {
		return 128 + status.Signal
	}
	return status.Code
}

// straceLog is where --strace lines go when there is a --log file: raw
// lines for text logs, one JSON record per line for JSON logs (containerd
// reads a runtime's JSON log line by line).
func straceLog(f *os.File, format string) io.Writer {
	if format != "json" {
		return f
	}
	return jsonLines{f}
}

type jsonLines struct{ f *os.File }

func (j jsonLines) Write(p []byte) (int, error) {
	rec, err := json.Marshal(struct {
		Time  string `json:"time"`
		Level string `json:"level"`
		Msg   string `json:"msg"`
	}{time.Now().Format(time.RFC3339Nano), "INFO", strings.TrimSuffix(string(p), "\n")})
	if err != nil {
		return 0, err
	}
	if _, err := j.f.Write(append(rec, '\n')); err != nil {
		return 0, err
	}
	return len(p), nil
}
