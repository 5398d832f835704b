package sentry

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/devfs"
	"exokernelul.dev/exo/libos/fs/devpts"
	"exokernelul.dev/exo/libos/waiter"
)

// This file is a process's terminal (process.terminal, exec --tty). The
// workload's terminal is one of the library OS's own pseudo-terminals, so
// its line discipline, job control and window size behave as Linux's
// n_tty does. The client (a containerd shim, docker, runc's own `run`)
// still needs a host fd to read and write: exo makes a host pty, sends its
// master over the console socket and grants its slave, in raw mode, to
// the sentry. A console bridges that host slave and the library OS
// master byte for byte, so line editing, echo and signal characters
// happen once, in the library OS.
//
// Window size: the host kernel tells a terminal's window size changes
// only to the foreground process group of the session the terminal
// controls (SIGWINCH). The host slave is the controlling terminal of the
// process the client sees (exo for init, exec-wait for an exec), which
// leads a session of its own with nothing else in it; on SIGWINCH it asks
// the sentry to resize, and the console reads the new size from its host
// slave (TIOCGWINSZ) and sets it on the library OS terminal, which sends
// the workload's foreground group SIGWINCH. The sentry itself cannot take
// that role: a process has one controlling terminal, and a sandbox may
// have several (init's and each exec's). Polling each host slave's size
// would also work, but wakes the sentry for nothing most of the time and
// lags behind the client by the polling period; the signal costs nothing
// until the user resizes. (The sentry and the stubs lead sessions of
// their own, so the host's SIGWINCH and SIGHUP never reach them.)
//
// Hang-up: when the client closes the master, reads of the host slave
// fail (EIO) or end; the console then closes the library OS master, which
// hangs the terminal up as Linux does (SIGHUP and SIGCONT to the session
// leader, slave reads at end of file). When every library OS slave has
// closed, the master's reads fail with EIO; the console closes the host
// slave, so the client's master reads fail with EIO as with runc.

// terminals are a mount tree's devpts instance and consoles: the
// sandbox's (Sandbox.terms: its init's, and every exec's, a pod
// container's too, since exec ids are the sandbox's and Resize finds them
// by id) or a pod container's (its init's).
type terminals struct {
	// pts is the devpts of the mount tree buildMounts built with these
	// terminals: the sandbox's own, or a pod container's.
	pts *devpts.FS
	log *slog.Logger
	// initHost is the host pty slave exo granted for init's terminal,
	// until attach makes init's console of it.
	initHost *os.File

	mu sync.Mutex
	// consoles are the live consoles, by exec id (0: init's).
	consoles map[int]*console
}

// attach is buildMounts's hook: it records the sandbox's devpts and, for
// a container with a terminal, makes init's console and attaches it as
// /dev/console (runc bind-mounts the pty slave there).
func (ts *terminals) attach(dev *devfs.FS, pts *devpts.FS) error {
	ts.pts = pts
	if ts.initHost == nil {
		return nil
	}
	c, err := ts.newConsole(0, ts.initHost, pts)
	ts.initHost = nil
	if err != nil {
		return err
	}
	dev.SetConsoleTerminal(c.tty)
	return nil
}

// console bridges one library OS terminal to a host pty's slave.
type console struct {
	ts     *terminals
	id     int
	tty    *devpts.Terminal
	master *devpts.File
	// host is the host pty's slave, non-blocking so its reads and writes
	// wait in Go's poller and Close ends them.
	host *os.File

	done chan struct{}
	// flushed is closed when toHost has ended: the workload's output has
	// all gone to the host (or the host side has gone).
	flushed   chan struct{}
	closeOnce sync.Once
	mu        sync.Mutex
	// hostClosed says the host side is gone (the bridge ended).
	hostClosed bool
	// masterClosed says the library OS master is closed.
	masterClosed bool
}

// newConsole makes a library OS terminal of pts bridged to host, takes
// host (closing it on failure), and registers the console under id. pts
// is the devpts of the mount tree the terminal's process lives in, so
// its slave's /dev/pts/N is there (ttyname, /proc/PID/fd, reopening it):
// a pod container's own, for a process in it.
func (ts *terminals) newConsole(id int, host *os.File, pts *devpts.FS) (*console, error) {
	if pts == nil {
		host.Close()
		return nil, errors.New("terminal: the process's mount tree has no devpts")
	}
	nfd, err := unix.Dup(int(host.Fd()))
	host.Close()
	if err != nil {
		return nil, fmt.Errorf("terminal: dup the host pty: %w", err)
	}
	unix.CloseOnExec(nfd)
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return nil, fmt.Errorf("terminal: host pty: %w", err)
	}
	m, err := pts.OpenMaster(nil)
	if err != nil {
		unix.Close(nfd)
		return nil, fmt.Errorf("terminal: open a pty: %w", err)
	}
	c := &console{ts: ts, id: id, tty: m.Terminal(), master: m, host: os.NewFile(uintptr(nfd), "console"), done: make(chan struct{}), flushed: make(chan struct{})}
	// The initial size: what the client (or exo, from process.consoleSize)
	// set on the host pty before the console existed.
	c.resize()
	ts.mu.Lock()
	if ts.consoles == nil {
		ts.consoles = make(map[int]*console)
	}
	ts.consoles[id] = c
	ts.mu.Unlock()
	go c.fromHost()
	go c.toHost()
	return c, nil
}

// resize copies the host pty's window size to the library OS terminal.
func (c *console) resize() {
	rc, err := c.host.SyscallConn()
	if err != nil {
		return
	}
	var ws *unix.Winsize
	rc.Control(func(fd uintptr) { ws, err = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) })
	if err != nil {
		c.ts.log.Debug("terminal: host window size", "err", err)
		return
	}
	c.tty.SetWinsize(*ws)
}

// fromHost copies the client's input into the library OS master, whose
// line discipline processes it. The host side ending (the client closed
// the master) hangs the library OS terminal up.
func (c *console) fromHost() {
	buf := make([]byte, 4096)
	e := waiter.NewEntry(waiter.EventOut | waiter.EventHUp)
	c.master.EventRegister(e)
	defer c.master.EventUnregister(e)
	for {
		n, err := c.host.Read(buf)
		if n == 0 || err != nil {
			if !errors.Is(err, os.ErrClosed) {
				// EIO or end of file: the client's master is gone.
				c.closeHost()
				c.closeMaster()
			}
			return
		}
		for p := buf[:n]; len(p) > 0; {
			m, err := c.master.Write(p)
			p = p[m:]
			if err == unix.EAGAIN {
				// The line discipline's input is full: wait until the
				// workload reads, as a writer of a full pty waits.
				select {
				case <-e.Ch:
				case <-c.done:
					return
				}
				continue
			}
			if err != nil {
				return
			}
		}
	}
}

// toHost copies the workload's output from the library OS master to the
// client. Once every slave has closed (EIO), the host slave is closed so
// the client's master reads fail with EIO too.
func (c *console) toHost() {
	defer close(c.flushed)
	buf := make([]byte, 4096)
	e := waiter.NewEntry(waiter.EventIn | waiter.EventHUp)
	c.master.EventRegister(e)
	defer c.master.EventUnregister(e)
	for {
		n, err := c.master.Read(buf)
		if n > 0 {
			if _, err := c.host.Write(buf[:n]); err != nil && !errors.Is(err, os.ErrClosed) {
				// The client has gone; fromHost hangs up. Output is
				// dropped meanwhile rather than stopping the workload.
				c.ts.log.Debug("terminal: write to the host pty", "err", err)
			}
			continue
		}
		if err == unix.EAGAIN {
			select {
			case <-e.Ch:
			case <-c.done:
				return
			}
			continue
		}
		// EIO: the workload's side has closed.
		c.closeHost()
		if c.tty.Controller() == nil {
			// No session has the terminal any more (its leader has
			// ended): nothing can reopen it through /dev/tty.
			c.closeMaster()
		}
		return
	}
}

// closeHost ends the bridge and closes the host slave.
func (c *console) closeHost() {
	c.closeOnce.Do(func() { close(c.done) })
	c.mu.Lock()
	already := c.hostClosed
	c.hostClosed = true
	c.mu.Unlock()
	if !already {
		c.host.Close()
	}
}

// closeMaster closes the library OS master, hanging the terminal up, and
// forgets the console.
func (c *console) closeMaster() {
	c.mu.Lock()
	already := c.masterClosed
	c.masterClosed = true
	c.mu.Unlock()
	if already {
		return
	}
	c.master.Close()
	c.ts.mu.Lock()
	if c.ts.consoles[c.id] == c {
		delete(c.ts.consoles, c.id)
	}
	c.ts.mu.Unlock()
}

// processExited is told that the console's process (an exec's) has
// ended: once the bridge has ended too, the terminal is released.
func (c *console) processExited() {
	c.mu.Lock()
	hostGone := c.hostClosed
	c.mu.Unlock()
	if hostGone {
		c.closeMaster()
	}
}

// closeAll ends every console's bridge and closes its terminal.
func (ts *terminals) closeAll() {
	ts.mu.Lock()
	var cs []*console
	for _, c := range ts.consoles {
		cs = append(cs, c)
	}
	ts.mu.Unlock()
	for _, c := range cs {
		c.closeHost()
		c.closeMaster()
	}
}

// initTTY is init's terminal, or nil without process.terminal.
func (ts *terminals) initTTY() *devpts.Terminal {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if c := ts.consoles[0]; c != nil {
		return c.tty
	}
	return nil
}

// drain waits, for at most d, until every console has passed the
// workload's output on: once the sandbox's tasks are gone their terminals
// read EIO after the last output, and the sentry must not exit before it
// has reached the client.
func (ts *terminals) drain(d time.Duration) {
	ts.mu.Lock()
	var cs []*console
	for _, c := range ts.consoles {
		cs = append(cs, c)
	}
	ts.mu.Unlock()
	timeout := time.After(d)
	for _, c := range cs {
		select {
		case <-c.flushed:
		case <-timeout:
			ts.log.Warn("terminal output not passed on before the sandbox's end")
			return
		}
	}
}

// Resize copies the host pty's window size of console id (0: init's, else
// an exec's) to its library OS terminal: exo asks on SIGWINCH.
func (s *Sandbox) Resize(id int) error {
	s.terms.mu.Lock()
	c := s.terms.consoles[id]
	s.terms.mu.Unlock()
	if c == nil {
		return fmt.Errorf("no terminal %d", id)
	}
	c.resize()
	return nil
}
