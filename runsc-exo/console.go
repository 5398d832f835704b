package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/oci"
)

// hostTerminal makes the host pty of init's terminal: its master goes to
// the console socket, its slave (returned) to the sentry, which bridges it
// to the library OS's terminal. exo becomes the pty's controlling process
// so it hears of resizes (relayResizes) and of the client's hang-up.
func (e *exoProc) hostTerminal(sbx *oci.Sandbox) (*os.File, error) {
	slave, err := openHostTerminal(e.consoleSocket, sbx.ConsoleSize)
	if err != nil {
		return nil, err
	}
	e.winch = make(chan os.Signal, 1)
	signal.Notify(e.winch, unix.SIGWINCH)
	return slave, nil
}

// openHostTerminal makes a host pty ready for the sentry's bridge, makes
// it the calling process's controlling terminal, and sends its master to
// the console socket. From then on the process must not die of SIGHUP
// (the client closing the master): the hang-up reaches the workload
// through the bridge, as the workload's own SIGHUP.
func openHostTerminal(socket string, size *specs.Box) (*os.File, error) {
	master, slave, err := oci.NewPty()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		master.Close()
		slave.Close()
		return nil, err
	}
	if err := oci.PrepareHostPty(master, slave, size); err != nil {
		return fail(err)
	}
	if err := oci.ControlTerminal(slave); err != nil {
		return fail(err)
	}
	// Caught rather than ignored: an ignored signal stays ignored in the
	// processes this one starts.
	signal.Notify(make(chan os.Signal, 1), unix.SIGHUP)
	err = oci.SendConsole(socket, master)
	master.Close()
	if err != nil {
		slave.Close()
		return nil, err
	}
	return slave, nil
}

// relayResizes tells the sentry of each resize of init's host pty; the
// sentry reads the new size from its copy of the slave.
func (e *exoProc) relayResizes() {
	for range e.winch {
		if err := e.callSentry(oci.Message{Op: "resize"}); err != nil {
			slog.Debug("terminal resize", "err", err)
		}
	}
}

// relayExecResizes sends a resize request on an exec's control
// connection for each SIGWINCH: exo passes it to the sentry.
func relayExecResizes(enc *json.Encoder, winch chan os.Signal) {
	for range winch {
		if err := enc.Encode(oci.Message{Op: "resize"}); err != nil {
			return
		}
	}
}

// localConsole is init's terminal for `run` without --console-socket, as
// runc serves it: runsc-exo receives the master itself and joins it to
// its own stdin and stdout, with its own terminal (if stdin is one) in
// raw mode and its window size passed on.
type localConsole struct {
	dir    string
	ln     *net.UnixListener
	master chan *os.File
	// out is closed once the container's output has all been copied.
	out chan struct{}
}

// newLocalConsole listens on a console socket of its own.
func newLocalConsole() (*localConsole, string, error) {
	dir, err := os.MkdirTemp("", "runsc-exo-console")
	if err != nil {
		return nil, "", fmt.Errorf("console socket: %w", err)
	}
	p := filepath.Join(dir, "console.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", fmt.Errorf("console socket: %w", err)
	}
	lc := &localConsole{dir: dir, ln: ln, master: make(chan *os.File, 1), out: make(chan struct{})}
	go lc.receive()
	return lc, p, nil
}

// receive takes the one master exo sends.
func (lc *localConsole) receive() {
	c, err := lc.ln.AcceptUnix()
	if err != nil {
		close(lc.master)
		return
	}
	defer c.Close()
	oob := make([]byte, unix.CmsgSpace(4))
	buf := make([]byte, 256)
	_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err == nil {
		if cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(cmsgs) == 1 {
			if fds, err := unix.ParseUnixRights(&cmsgs[0]); err == nil && len(fds) == 1 {
				unix.CloseOnExec(fds[0])
				lc.master <- os.NewFile(uintptr(fds[0]), "/dev/ptmx")
				return
			}
		}
	}
	close(lc.master)
}

// attach joins the received master to this process's stdio and returns
// what undoes it. It waits for the master only as long as exo takes to
// send it, which is before create returns.
func (lc *localConsole) attach() (func(), error) {
	lc.ln.Close()
	os.RemoveAll(lc.dir)
	m, ok := <-lc.master
	if !ok {
		return nil, errors.New("console socket: no terminal master received")
	}
	in := int(os.Stdin.Fd())
	restore := func() {}
	if old, err := unix.IoctlGetTermios(in, unix.TCGETS); err == nil {
		raw := *old
		raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		raw.Oflag &^= unix.OPOST
		raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		raw.Cflag &^= unix.CSIZE | unix.PARENB
		raw.Cflag |= unix.CS8
		raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
		unix.IoctlSetTermios(in, unix.TCSETS, &raw)
		restore = func() { unix.IoctlSetTermios(in, unix.TCSETSW, old) }
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		resize := func() {
			if ws, err := unix.IoctlGetWinsize(in, unix.TIOCGWINSZ); err == nil {
				unix.IoctlSetWinsize(int(m.Fd()), unix.TIOCSWINSZ, ws)
			}
		}
		resize()
		go func() {
			for range winch {
				resize()
			}
		}()
	}
	go io.Copy(m, os.Stdin)
	go func() {
		io.Copy(os.Stdout, m)
		close(lc.out)
	}()
	return restore, nil
}

// abort gives up the console of a container that was not created.
func (lc *localConsole) abort() {
	lc.ln.Close()
	os.RemoveAll(lc.dir)
	if m, ok := <-lc.master; ok {
		m.Close()
	}
}

// drain waits until the container's output has been copied (the master
// reads EIO once the sandbox's side has closed), a little at most.
func (lc *localConsole) drain() {
	select {
	case <-lc.out:
	case <-time.After(2 * time.Second):
	}
}

// wantsTerminal reports whether the bundle's spec asks for a terminal;
// an unreadable spec is create's to report.
func wantsTerminal(bundle string) bool {
	if bundle == "" {
		bundle = "."
	}
	spec, err := oci.LoadBundle(bundle)
	return err == nil && spec.Process != nil && spec.Process.Terminal
}
