package oci

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/test/internal/harness"
)

// term is the client's side of a container's terminal, as a shim or
// docker holds it: the pty master that came over the console socket.
type term struct {
	t  *testing.T
	m  *os.File
	mu sync.Mutex
	// buf is everything read; off is where the next expect looks from.
	buf  []byte
	off  int
	err  error // the read error that ended the reader
	wake chan struct{}
}

func newTerm(t *testing.T, m *os.File) *term {
	tm := &term{t: t, m: m, wake: make(chan struct{}, 1)}
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := m.Read(b)
			tm.mu.Lock()
			tm.buf = append(tm.buf, b[:n]...)
			if err != nil {
				tm.err = err
			}
			tm.mu.Unlock()
			select {
			case tm.wake <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return tm
}

// expect waits until the output from the last expectation on holds
// want, and returns that output up to and including want.
func (tm *term) expect(want string) string {
	tm.t.Helper()
	deadline := time.After(harness.Timeout())
	for {
		tm.mu.Lock()
		rest := string(tm.buf[tm.off:])
		if i := strings.Index(rest, want); i >= 0 {
			tm.off += i + len(want)
			tm.mu.Unlock()
			return rest[:i+len(want)]
		}
		err := tm.err
		tm.mu.Unlock()
		if err != nil {
			tm.t.Fatalf("terminal ended (%v) before %q; it printed %q", err, want, rest)
		}
		select {
		case <-tm.wake:
		case <-deadline:
			tm.t.Fatalf("terminal did not print %q; it printed %q\n%s", want, rest, processes())
		}
	}
}

// waitEnd waits until reading the master fails, and returns the error.
func (tm *term) waitEnd() error {
	tm.t.Helper()
	deadline := time.After(harness.Timeout())
	for {
		tm.mu.Lock()
		err := tm.err
		tm.mu.Unlock()
		if err != nil {
			return err
		}
		select {
		case <-tm.wake:
		case <-deadline:
			tm.t.Fatalf("the master still reads after the workload's side closed")
		}
	}
}

func (tm *term) send(s string) {
	tm.t.Helper()
	if _, err := tm.m.Write([]byte(s)); err != nil {
		tm.t.Fatalf("write to the master: %v", err)
	}
}

// resize sets the window size on the master, as `docker run -it` and
// `ctr run -t` do when the user's window changes.
func (tm *term) resize(rows, cols uint16) {
	tm.t.Helper()
	if err := ioctlWinsize(tm.m, rows, cols); err != nil {
		tm.t.Fatalf("TIOCSWINSZ on the master: %v", err)
	}
}

// ioctlWinsize sets f's window size without making f blocking, as Fd
// would.
func ioctlWinsize(f *os.File, rows, cols uint16) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	rc.Control(func(fd uintptr) {
		err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
	return err
}

// interactive drives a shell on tm through what a user of docker run -it
// relies on: job control's ^C, window size changes with SIGWINCH, echo
// done once, and the terminal's name. Markers are arithmetic, so the
// shell's echo of a command never matches its output.
func interactive(t *testing.T, tm *term, rows, cols uint16) {
	t.Helper()
	tm.send("trap 'echo got-WINCH' WINCH; echo ready-$((1+2))\n")
	tm.expect("ready-3")
	tm.send("stty size; echo m-$((40+1))\n")
	if out := tm.expect("m-41"); !strings.Contains(out, strconv.Itoa(int(rows))+" "+strconv.Itoa(int(cols))+"\r\n") {
		t.Errorf("stty size printed %q, want the initial size %d %d", out, rows, cols)
	}

	// SIGWINCH goes to the foreground job (the shell's line editor
	// takes it over while it reads a line, as on Linux).
	tm.send("sh -c 'trap \"echo got-WINCH\" WINCH; echo w-$((1+1)); while :; do sleep 0.1; done'\n")
	tm.expect("w-2")
	tm.resize(40, 120)
	tm.expect("got-WINCH")
	// ^C reaches the foreground job through the library OS's line
	// discipline, not the shell.
	tm.send("\x03")
	tm.expect("# ")
	tm.send("stty size; echo m-$((40+2))\n")
	if out := tm.expect("m-42"); !strings.Contains(out, "40 120\r\n") {
		t.Errorf("after TIOCSWINSZ 40x120 on the master stty size printed %q, want 40 120", out)
	}
	tm.send("sh -c 'echo st-$((1+1)); exec sleep 100'\n")
	tm.expect("st-2")
	tm.send("\x03")
	tm.send("echo rc-$((1000+$?))\n")
	tm.expect("rc-1")
	if out := tm.expect("\n"); out != "130\r\n" {
		t.Errorf("^C: the interrupted sleep's status is 1%q, want 1130 (SIGINT)", out)
	}

	// ^Z stops the foreground job (SIGTSTP) and gives the shell the
	// terminal back.
	tm.send("sh -c 'echo z-$((2+2)); exec sleep 100'\n")
	tm.expect("z-4")
	tm.send("\x1a")
	tm.expect("Stopped")
	tm.send("kill -9 %1; echo k-$((5+5))\n")
	tm.expect("k-10")

	// Line discipline and echo happen once: the command comes back once
	// (typed at the prompt: input typed ahead is echoed by the line
	// discipline and again by the shell's line editor, on Linux too).
	tm.expect("# ")
	tm.send("echo abc-$((6*7))\n")
	if out := tm.expect("abc-42"); strings.Count(out, "echo abc-$((6*7))") != 1 {
		t.Errorf("the command was echoed %d times, want once: %q", strings.Count(out, "echo abc-$((6*7))"), out)
	}
	tm.send("[ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo tty-$((3+3)) $(tty)\n")
	tm.expect("tty-6 ")
	if out := tm.expect("\n"); !strings.HasPrefix(out, "/dev/pts/") {
		t.Errorf("tty names %q, want /dev/pts/N", out)
	}
}

// TestTerminalCreateStart: with process.terminal, init's terminal is the
// library OS's own pty; its master's host side comes over the console
// socket.
func TestTerminalCreateStart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bundle([]string{"sh"}, func(s *specs.Spec) {
		s.Process.Terminal = true
		s.Process.ConsoleSize = &specs.Box{Height: 25, Width: 90}
	})
	sock := filepath.Join(e.root, "console.sock")
	masters := consoleSocket(t, sock)
	c := e.create(b, "ttyinit", "--console-socket", sock)
	master, ok := <-masters
	if !ok {
		t.Fatal("no pty master came over the console socket")
	}
	defer master.Close()
	tm := newTerm(t, master)
	e.must("start", c.id)
	interactive(t, tm, 25, 90)

	// /dev/console is the terminal, as runc bind-mounts the pty there.
	tm.send("echo con-$((2+3)) > /dev/console; stat -c '%t:%T' /dev/console /dev/pts/0\n")
	tm.expect("con-5")
	if out := tm.expect("88:0\r\n88:0\r\n"); strings.Contains(out, "5:1") {
		t.Errorf("/dev/console is not the terminal's node: %q", out)
	}

	// The workload's side closing ends the client's reads, as with runc.
	tm.send("exit 3\n")
	if err := tm.waitEnd(); err == nil {
		t.Error("the master read no error after the container ended")
	}
	if ws := reap(t, c.pid); ws.ExitStatus() != 3 {
		t.Errorf("init ended with %#x, want exit 3", int(ws))
	}
}

// TestTerminalExec: exec --tty gets a terminal of its own; the workload
// ending ends the client's reads, and the client closing its master hangs
// the terminal up (SIGHUP to the session leader), as with runc.
func TestTerminalExec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.create(e.bundle([]string{"sh", "-c", loopScript}, nil), "ttyexec2")
	e.must("start", c.id)
	e.waitOutput(c, "started")
	execTTY := func(name string, args ...string) (*term, int) {
		t.Helper()
		sock := filepath.Join(e.root, name+".sock")
		masters := consoleSocket(t, sock)
		pidFile := filepath.Join(e.root, name+".pid")
		e.must(append([]string{"exec", "--tty", "--detach", "--pid-file", pidFile, "--console-socket", sock, c.id}, args...)...)
		master, ok := <-masters
		if !ok {
			t.Fatal("no pty master came over the console socket for exec")
		}
		t.Cleanup(func() { master.Close() })
		data, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatalf("exec wrote no pid file: %v", err)
		}
		pid, _ := strconv.Atoi(string(data))
		return newTerm(t, master), pid
	}

	tm, pid := execTTY("sh", "sh")
	// The client sets the size once it has the master, as docker does;
	// the process may already be running.
	tm.resize(30, 80)
	interactive(t, tm, 30, 80)
	tm.send("exit 5\n")
	if err := tm.waitEnd(); err == nil {
		t.Error("the master read no error after the exec ended")
	}
	if ws := reap(t, pid); ws.ExitStatus() != 5 {
		t.Errorf("the exec ended with %#x, want exit 5", int(ws))
	}

	tm, pid = execTTY("hup", "sh", "-c", "trap 'echo hup > /dev/shm/hup; exit 9' HUP; echo tr-$((4+4)); while :; do sleep 0.1; done")
	tm.expect("tr-8")
	tm.m.Close()
	if ws := reap(t, pid); ws.ExitStatus() != 9 {
		t.Errorf("after the master closed the exec ended with %#x, want exit 9 from its SIGHUP trap", int(ws))
	}
	if r := e.must("exec", c.id, "cat", "/dev/shm/hup"); string(r.Stdout) != "hup\n" {
		t.Errorf("the SIGHUP trap wrote %q", r.Stdout)
	}
	e.must("kill", c.id, "KILL")
	reap(t, c.pid)
}

// TestRunOwnTerminal: run without --console-socket serves the terminal on
// its own stdio, as runc does, passing its window size on.
func TestRunOwnTerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bundle([]string{"sh", "-c", "stty size; echo done-$((1+1)); exit 4"}, func(s *specs.Spec) { s.Process.Terminal = true })
	// Non-blocking, so the reader can be closed.
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	var n int
	rc, _ := ptm.SyscallConn()
	rc.Control(func(fd uintptr) {
		if err = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); err == nil {
			n, err = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	pts, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	ioctlWinsize(ptm, 21, 71)
	args := e.args("run", "--bundle", b, "ownterm")
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pts, pts, pts
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts.Close()
	tm := newTerm(t, ptm)
	out := tm.expect("done-2")
	if !strings.Contains(out, "21 71") {
		t.Errorf("run's own terminal printed %q, want its size 21 71", out)
	}
	err = cmd.Wait()
	if cmd.ProcessState.ExitCode() != 4 {
		t.Errorf("run ended with %v, want exit 4", err)
	}
}

// TestTerminalCreateOutput: with a terminal, create's output ends when
// create does. containerd's shim reads it until every writer has closed
// it, so the exo process must not hold it (runc's init holds only the
// pty).
func TestTerminalCreateOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.bundle([]string{"sh"}, func(s *specs.Spec) { s.Process.Terminal = true })
	sock := filepath.Join(e.root, "console.sock")
	masters := consoleSocket(t, sock)
	args := e.args("create", "--bundle", b, "--console-socket", sock, "ttyout")
	cmd := exec.Command(args[0], args[1:]...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	t.Cleanup(func() { harness.Run(harness.Cmd{Args: e.args("delete", "--force", "ttyout")}) })
	done := make(chan error, 1)
	go func() { done <- cmd.Run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("create: %v\n%s", err, out.String())
		}
	case <-time.After(harness.Timeout()):
		t.Fatalf("create's output did not end when create did\n%s", processes())
	}
	if m, ok := <-masters; ok {
		m.Close()
	}
}
