package devpts

import (
	"time"

	"golang.org/x/sys/unix"
)

// The line discipline is Linux's n_tty for one pseudo-terminal: input
// arriving from the master is edited (canonical mode), echoed and queued
// for the slave's readers; what the slave writes is post-processed and
// queued for the master's readers. It is plain state under the
// terminal's lock, so it can be tested without files.

const (
	// lineMax is the longest canonical line (N_TTY_BUF_SIZE - 1):
	// characters past it are dropped, only a line end is still taken.
	lineMax = 4095
	// inputMax bounds the input queued for the slave; the master's writes
	// wait beyond it.
	inputMax = 64 << 10
	// outputMax bounds the output queued for the master; the slave's
	// writes wait beyond it.
	outputMax = 64 << 10
)

type ldisc struct {
	tios termios

	// line is the canonical line being edited; canonCol is the output
	// column it started at (for erasing tabs).
	line     []byte
	canonCol int
	// in is the input the slave can read; in canonical mode lines holds
	// the lengths of the complete lines it is made of, oldest first (a
	// line ended by EOF may be empty: a read of it returns 0).
	in    []byte
	lines []int
	// lnext: the previous character was VLNEXT, take this one literally.
	lnext bool
	// lastIn is when input last arrived (VTIME's inter-byte timer).
	lastIn time.Time

	// out is what the master can read: the slave's output and echoes.
	out    []byte
	column int
	// stopped: output was stopped by VSTOP (IXON) or TCXONC.
	stopped bool

	// sigs are the signals input characters raised, for the terminal to
	// send once its lock is dropped.
	sigs []int
}

func newLdisc() *ldisc { return &ldisc{tios: defaultTermios()} }

func isCntrl(c byte) bool { return c < 0x20 || c == 0x7f }

func (l *ldisc) continuation(c byte) bool { return l.tios.i(unix.IUTF8) && c&0xc0 == 0x80 }

// receive runs the input characters b through the discipline, as typed
// at the terminal. It returns how many it took: it stops when the slave's
// input queue is full.
func (l *ldisc) receive(b []byte, now time.Time) int {
	n := 0
	for _, c := range b {
		if len(l.in)+len(l.line) >= inputMax {
			break
		}
		l.receiveChar(c)
		n++
	}
	if n > 0 {
		l.lastIn = now
	}
	return n
}

func (l *ldisc) receiveChar(c byte) {
	t := &l.tios
	if t.i(unix.ISTRIP) {
		c &= 0x7f
	}
	if t.i(unix.IUCLC) && t.l(unix.IEXTEN) && c >= 'A' && c <= 'Z' {
		c += 'a' - 'A'
	}
	if l.lnext {
		l.lnext = false
		l.putChar(c)
		return
	}
	// Flow control and signal characters are recognised before CR and NL
	// are mapped, as n_tty does.
	if t.i(unix.IXON) {
		switch {
		case t.is(c, vSTART):
			l.stopped = false
			return
		case t.is(c, vSTOP):
			l.stopped = true
			return
		}
	}
	if t.l(unix.ISIG) {
		for _, s := range [...]struct {
			slot int
			sig  unix.Signal
		}{{vINTR, unix.SIGINT}, {vQUIT, unix.SIGQUIT}, {vSUSP, unix.SIGTSTP}} {
			if t.is(c, s.slot) {
				l.signalChar(c, int(s.sig))
				return
			}
		}
	}
	switch {
	case c == '\r' && t.i(unix.IGNCR):
		return
	case c == '\r' && t.i(unix.ICRNL):
		c = '\n'
	case c == '\n' && t.i(unix.INLCR):
		c = '\r'
	}
	if t.l(unix.ICANON) {
		switch {
		case t.is(c, vERASE):
			l.erase(eraseChar)
			return
		case t.is(c, vKILL):
			l.erase(eraseLine)
			return
		case t.is(c, vWERASE) && t.l(unix.IEXTEN):
			l.erase(eraseWord)
			return
		case t.is(c, vLNEXT) && t.l(unix.IEXTEN):
			l.lnext = true
			if t.l(unix.ECHO) {
				if t.l(unix.ECHOCTL) {
					l.echoRaw('^')
					l.echoRaw('\b')
				}
			}
			return
		case t.is(c, vREPRINT) && t.l(unix.IEXTEN) && t.l(unix.ECHO):
			l.echo(c)
			l.output('\n')
			for _, lc := range l.line {
				l.echo(lc)
			}
			return
		case c == '\n':
			if t.l(unix.ECHO) || t.l(unix.ECHONL) {
				l.output('\n')
			}
			l.line = append(l.line, c)
			l.commitLine()
			return
		case t.is(c, vEOF):
			l.commitLine()
			return
		case t.is(c, vEOL) || (t.is(c, vEOL2) && t.l(unix.IEXTEN)):
			if t.l(unix.ECHO) {
				l.echo(c)
			}
			l.line = append(l.line, c)
			l.commitLine()
			return
		}
	}
	l.putChar(c)
}

// putChar echoes and queues an ordinary character.
func (l *ldisc) putChar(c byte) {
	t := &l.tios
	if t.l(unix.ICANON) {
		if len(l.line) >= lineMax {
			return
		}
		if len(l.line) == 0 {
			l.canonCol = l.column
		}
		if t.l(unix.ECHO) {
			l.echo(c)
		}
		l.line = append(l.line, c)
		return
	}
	if t.l(unix.ECHO) {
		l.echo(c)
	}
	l.in = append(l.in, c)
}

// signalChar handles INTR, QUIT and SUSP: unless NOFLSH both queues are
// flushed, the character is echoed and the signal goes to the foreground
// process group.
func (l *ldisc) signalChar(c byte, sig int) {
	l.sigs = append(l.sigs, sig)
	if !l.tios.l(unix.NOFLSH) {
		l.flushInput()
		l.out = l.out[:0]
	}
	if l.tios.i(unix.IXON) {
		l.stopped = false
	}
	if l.tios.l(unix.ECHO) {
		l.echo(c)
	}
}

func (l *ldisc) commitLine() {
	l.in = append(l.in, l.line...)
	l.lines = append(l.lines, len(l.line))
	l.line = l.line[:0]
}

func (l *ldisc) flushInput() {
	l.in, l.lines, l.line, l.lnext = l.in[:0], l.lines[:0], l.line[:0], false
}

type eraseKind int

const (
	eraseChar eraseKind = iota
	eraseWord
	eraseLine
)

// erase is n_tty's eraser: ERASE takes back one character, WERASE a word,
// KILL the line, echoing as ECHOE, ECHOK and ECHOKE ask.
func (l *ldisc) erase(kind eraseKind) {
	t := &l.tios
	if len(l.line) == 0 {
		return
	}
	if kind == eraseLine {
		if !t.l(unix.ECHO) {
			l.line = l.line[:0]
			return
		}
		if !t.l(unix.ECHOK) || !t.l(unix.ECHOKE) || !t.l(unix.ECHOE) {
			l.line = l.line[:0]
			l.echo(t.cc[vKILL])
			if t.l(unix.ECHOK) {
				l.output('\n')
			}
			return
		}
	}
	seenAlnum := false
	for len(l.line) > 0 {
		i := len(l.line) - 1
		for i > 0 && l.continuation(l.line[i]) {
			i--
		}
		c := l.line[i]
		if kind == eraseWord {
			if c == '_' || c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c >= 0x80 {
				seenAlnum = true
			} else if seenAlnum {
				break
			}
		}
		l.line = l.line[:i]
		if t.l(unix.ECHO) {
			switch {
			case kind == eraseChar && !t.l(unix.ECHOE):
				l.echo(t.cc[vERASE])
			case c == '\t':
				// Back to where the tab started: the column the rest of the
				// line ends at.
				col := l.canonCol
				for _, lc := range l.line {
					switch {
					case lc == '\t':
						col = col | 7 + 1
					case isCntrl(lc):
						if t.l(unix.ECHOCTL) {
							col += 2
						}
					case !l.continuation(lc):
						col++
					}
				}
				for ; l.column > col; l.column-- {
					l.out = append(l.out, '\b')
				}
			default:
				if isCntrl(c) && t.l(unix.ECHOCTL) {
					l.echoRaw('\b', ' ', '\b')
				}
				if !isCntrl(c) || t.l(unix.ECHOCTL) {
					l.echoRaw('\b', ' ', '\b')
				}
			}
		}
		if kind == eraseChar {
			break
		}
	}
}

// echo echoes one input character: a control character other than tab
// as ^X under ECHOCTL (newline too: canonical mode echoes its line
// ends with output), anything else as output.
func (l *ldisc) echo(c byte) {
	if l.tios.l(unix.ECHOCTL) && isCntrl(c) && c != '\t' {
		l.echoRaw('^', c^0x40)
		return
	}
	l.output(c)
}

// echoRaw queues echo bytes as they are, keeping track of the column.
func (l *ldisc) echoRaw(bs ...byte) {
	for _, b := range bs {
		switch {
		case b == '\b':
			if l.column > 0 {
				l.column--
			}
		case !isCntrl(b):
			l.column++
		}
		l.out = append(l.out, b)
	}
}

// output queues one character of output for the master, processed as
// OPOST asks.
func (l *ldisc) output(c byte) {
	t := &l.tios
	if !t.o(unix.OPOST) {
		l.out = append(l.out, c)
		return
	}
	switch c {
	case '\n':
		if t.o(unix.ONLRET) {
			l.column = 0
		}
		if t.o(unix.ONLCR) {
			l.column = 0
			l.out = append(l.out, '\r', '\n')
			return
		}
	case '\r':
		if t.o(unix.ONOCR) && l.column == 0 {
			return
		}
		if t.o(unix.OCRNL) {
			c = '\n'
			if t.o(unix.ONLRET) {
				l.column = 0
			}
			break
		}
		l.column = 0
	case '\t':
		spaces := 8 - l.column&7
		if t.oflag&unix.TABDLY == unix.XTABS {
			for range spaces {
				l.out = append(l.out, ' ')
			}
			l.column += spaces
			return
		}
		l.column += spaces
	case '\b':
		if l.column > 0 {
			l.column--
		}
	default:
		if !isCntrl(c) {
			if t.o(unix.OLCUC) && c >= 'a' && c <= 'z' {
				c -= 'a' - 'A'
			}
			if !l.continuation(c) {
				l.column++
			}
		}
	}
	l.out = append(l.out, c)
}

// write queues what the slave writes for the master; it takes what fits.
func (l *ldisc) write(b []byte) int {
	n := 0
	for _, c := range b {
		if len(l.out) >= outputMax || l.stopped {
			break
		}
		l.output(c)
		n++
	}
	return n
}

// canonReadable reports whether a canonical read has a line to take.
func (l *ldisc) canonReadable() bool { return len(l.lines) > 0 }

// readCanon takes at most one line, or the part of it that fits in p.
// ok is false when no line is complete.
func (l *ldisc) readCanon(p []byte) (n int, ok bool) {
	if len(l.lines) == 0 {
		return 0, false
	}
	n = min(len(p), l.lines[0])
	copy(p, l.in[:n])
	l.in = l.in[:copy(l.in, l.in[n:])]
	if l.lines[0] -= n; l.lines[0] == 0 || n == 0 {
		l.lines = l.lines[:copy(l.lines, l.lines[1:])]
	}
	return n, true
}

// readRaw takes what is queued, up to len(p).
func (l *ldisc) readRaw(p []byte) int {
	n := copy(p, l.in)
	l.in = l.in[:copy(l.in, l.in[n:])]
	return n
}

// inq is FIONREAD on the slave: in canonical mode the bytes of complete
// lines, else everything queued.
func (l *ldisc) inq() int { return len(l.in) }

// setTermios applies new settings; leaving canonical mode makes the line
// being edited readable, entering it makes what is queued one line.
func (l *ldisc) setTermios(t termios) {
	wasCanon := l.tios.l(unix.ICANON)
	l.tios = t
	canon := t.l(unix.ICANON)
	switch {
	case wasCanon && !canon:
		l.in = append(l.in, l.line...)
		l.line, l.lines = l.line[:0], l.lines[:0]
	case !wasCanon && canon && len(l.in) > 0:
		l.lines = append(l.lines[:0], len(l.in))
	}
	if !t.i(unix.IXON) {
		l.stopped = false
	}
}

// takeSignals returns and clears the signals input raised.
func (l *ldisc) takeSignals() []int {
	s := l.sigs
	l.sigs = nil
	return s
}
