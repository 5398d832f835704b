package oci

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ControlSocket is the name of the control socket in a container's state
// directory, served by the container's exo process.
const ControlSocket = "control.sock"

// Message is one JSON line of the control protocols: the CLI asks the exo
// process (Op), which asks the sentry over its control fd; the sentry also
// reports events (Event) to exo.
type Message struct {
	// Op is a request: "start", "kill" with Signal and All (or Pid: one
	// exec'd process, exo to the sentry only), "ps", "exec", "update"
	// (Resources from the CLI, Limits to the sentry), "stats", or "resize"
	// (the host pty of init's terminal, or of exec ExecID's, has a new
	// window size).
	Op     string `json:"op,omitempty"`
	Signal int    `json:"signal,omitempty"`
	All    bool   `json:"all,omitempty"`

	// Event is what the sentry reports: "created" (init is loaded and
	// held), "failed" (it could not be, Error says why), "reply" (to the
	// last request) and "exited" (init ended with Code or ExitSignal).
	Event      string `json:"event,omitempty"`
	Error      string `json:"error,omitempty"`
	Code       int    `json:"code,omitempty"`
	ExitSignal int    `json:"exitSignal,omitempty"`

	// Exec is the process of an "exec" request; the client's fds 0-2
	// come with the request (SCM_RIGHTS). The answer is an event
	// "started" with Pid (the process's pid in the sandbox), then
	// "exited" when it ends. ExecID tells exo's and the sentry's
	// messages about one exec apart.
	Exec   *ExecProcess `json:"exec,omitempty"`
	ExecID int          `json:"execId,omitempty"`
	Pid    int          `json:"pid,omitempty"`

	// Pids answers "ps": the host processes of the container.
	Pids []int `json:"pids,omitempty"`

	// Resources are the new limits of an "update" from the CLI: exo
	// writes them to the host cgroup and passes the library OS's share
	// on to the sentry as Limits.
	Resources *specs.LinuxResources `json:"resources,omitempty"`
	Limits    *Limits               `json:"limits,omitempty"`
	// Stats answers "stats": the library OS's own accounting.
	Stats *LibOSStats `json:"stats,omitempty"`

	// Container names a container of the pod whose sandbox this exo
	// runs (see State.Sandbox): "start", "kill" and "exec" act on it
	// alone. "create-container" (from the container's own exo process,
	// with its fds 0-2) adds it to the sandbox: the answer is "created"
	// with Pid, then "exited" when the container's init has ended and
	// its processes are gone; the sentry reports that as
	// "containerExited". Config is the container as the sentry builds
	// it (exo to sentry only); for "add-nics" (exo to sentry, once the
	// hooks have configured the container's network namespace) it is
	// the []caps.NICConfig of the interfaces exo granted.
	Container string          `json:"container,omitempty"`
	Config    json.RawMessage `json:"config,omitempty"`
}

// Limits are the library OS's limits an "update" changes (nil: as it
// is).
type Limits struct {
	// Memory is the memory quota in bytes (-1: as much as exo granted).
	Memory *int64 `json:"memory,omitempty"`
	// Pids caps the tasks (0 or less: no limit).
	Pids *int64 `json:"pids,omitempty"`
}

// LibOSStats is what the sentry reports of its resources.
type LibOSStats struct {
	MemoryUsage    uint64 `json:"memoryUsage"`
	MemoryMaxUsage uint64 `json:"memoryMaxUsage"`
	MemoryLimit    uint64 `json:"memoryLimit"`
	MemoryFailcnt  uint64 `json:"memoryFailcnt"`
	Pids           uint64 `json:"pids"`
	PidsLimit      uint64 `json:"pidsLimit"`
}

// ExecProcess is a process to start in a running container.
type ExecProcess struct {
	Args    []string `json:"args"`
	Env     []string `json:"env,omitempty"`
	Cwd     string   `json:"cwd"`
	UID     uint32   `json:"uid"`
	GID     uint32   `json:"gid"`
	Groups  []uint32 `json:"groups,omitempty"`
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// Caps are the process's capability sets (nil: every capability).
	Caps            *Caps `json:"caps,omitempty"`
	NoNewPrivileges bool  `json:"noNewPrivileges,omitempty"`
	// Stdio names the file capabilities exo granted for fds 0-2 ("": the
	// fd is closed).
	Stdio [3]string `json:"stdio"`
	// Terminal says the process wants a pty (process.terminal).
	Terminal bool `json:"terminal,omitempty"`
	// ConsoleSize is process.consoleSize, the terminal's initial size.
	ConsoleSize *specs.Box `json:"consoleSize,omitempty"`
	// Console names the file capability exo granted for the terminal
	// (the host pty's slave), in place of Stdio.
	Console string `json:"console,omitempty"`
}

// ExecProcessOf validates an OCI process for exec (errors name the
// field, as for config.json's) and translates it.
func ExecProcessOf(p *specs.Process, rootfs string) (*ExecProcess, error) {
	sb := &Sandbox{Rootfs: rootfs}
	if err := translateProcess(p, sb); err != nil {
		return nil, errors.New(strings.Replace(err.Error(), "config.json: ", "process.json: ", 1))
	}
	return &ExecProcess{Args: sb.Args, Env: sb.Env, Cwd: sb.Cwd, UID: sb.UID, GID: sb.GID, Groups: sb.Groups, Rlimits: sb.Rlimits, Terminal: sb.Terminal, ConsoleSize: sb.ConsoleSize, Caps: sb.Caps, NoNewPrivileges: sb.NoNewPrivileges}, nil
}

// socketAddr is a path to dir/name that fits a sockaddr_un (108 bytes):
// containerd's state directories are longer, so a long one goes through an
// O_PATH fd of dir, which the caller closes.
func socketAddr(dir, name string) (string, func(), error) {
	p := filepath.Join(dir, name)
	if len(p) < 100 {
		return p, func() {}, nil
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return fmt.Sprintf("/proc/self/fd/%d/%s", fd, name), func() { unix.Close(fd) }, nil
}

// ListenControl binds the control socket in dir.
func ListenControl(dir string) (*net.UnixListener, error) {
	addr, done, err := socketAddr(dir, ControlSocket)
	if err != nil {
		return nil, err
	}
	defer done()
	os.Remove(filepath.Join(dir, ControlSocket))
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// The path through /proc/self/fd means nothing after this process:
	// the socket file is removed explicitly when exo ends.
	l.SetUnlinkOnClose(false)
	return l, nil
}

// Call sends one request to the exo process of the container whose state
// directory is dir and returns its answer; an answer with Error set is
// returned as an error.
func Call(dir string, req Message) (Message, error) {
	addr, done, err := socketAddr(dir, ControlSocket)
	if err != nil {
		return Message{}, err
	}
	defer done()
	c, err := net.DialTimeout("unix", addr, 10*time.Second)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return Message{}, errors.New("container not running")
		}
		return Message{}, fmt.Errorf("control socket: %w", err)
	}
	defer c.Close()
	// A frozen (paused) or wedged exo process must not hang the caller.
	c.SetDeadline(time.Now().Add(callTimeout))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return Message{}, fmt.Errorf("control socket: send: %w", err)
	}
	var resp Message
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return Message{}, fmt.Errorf("control socket: no answer: %w", err)
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return Message{}, fmt.Errorf("control socket: %w", err)
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}

// Dial connects to the control socket of the container whose state
// directory is dir.
func Dial(dir string) (*net.UnixConn, error) {
	addr, done, err := socketAddr(dir, ControlSocket)
	if err != nil {
		return nil, err
	}
	defer done()
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ECONNREFUSED) {
			return nil, errors.New("container not running")
		}
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return c, nil
}

// callTimeout bounds one control request; starting a container (its
// startContainer hooks) is the slowest.
const callTimeout = 2 * time.Minute

// Send queues a request without waiting for the answer: a paused
// container's exo process serves it once resumed.
func Send(dir string, req Message) error {
	c, err := Dial(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return fmt.Errorf("control socket: send: %w", err)
	}
	return nil
}

// signalNames are the signals kill takes by name.
var signalNames = map[string]unix.Signal{
	"HUP": unix.SIGHUP, "INT": unix.SIGINT, "QUIT": unix.SIGQUIT, "ILL": unix.SIGILL,
	"TRAP": unix.SIGTRAP, "ABRT": unix.SIGABRT, "IOT": unix.SIGIOT, "BUS": unix.SIGBUS,
	"FPE": unix.SIGFPE, "KILL": unix.SIGKILL, "USR1": unix.SIGUSR1, "SEGV": unix.SIGSEGV,
	"USR2": unix.SIGUSR2, "PIPE": unix.SIGPIPE, "ALRM": unix.SIGALRM, "TERM": unix.SIGTERM,
	"STKFLT": unix.SIGSTKFLT, "CHLD": unix.SIGCHLD, "CONT": unix.SIGCONT, "STOP": unix.SIGSTOP,
	"TSTP": unix.SIGTSTP, "TTIN": unix.SIGTTIN, "TTOU": unix.SIGTTOU, "URG": unix.SIGURG,
	"XCPU": unix.SIGXCPU, "XFSZ": unix.SIGXFSZ, "VTALRM": unix.SIGVTALRM, "PROF": unix.SIGPROF,
	"WINCH": unix.SIGWINCH, "IO": unix.SIGIO, "POLL": unix.SIGPOLL, "PWR": unix.SIGPWR, "SYS": unix.SIGSYS,
}

// ParseSignal reads a signal as kill takes it: a number, or a name with or
// without SIG (any case).
func ParseSignal(s string) (unix.Signal, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err == nil && fmt.Sprint(n) == s {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("signal %q: not a signal number", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig, ok := signalNames[name]; ok {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}
