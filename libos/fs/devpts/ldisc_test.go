package devpts

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// typed runs input through a line discipline with settings adjusted by
// set, and returns what the slave can read line by line (or in one raw
// read), the echo the master sees and the signals raised.
func typed(t *testing.T, set func(*termios), input string) (reads []string, echo string, sigs []int) {
	t.Helper()
	l := newLdisc()
	if set != nil {
		tios := l.tios
		set(&tios)
		l.setTermios(tios)
	}
	if n := l.receive([]byte(input), time.Now()); n != len(input) {
		t.Fatalf("receive took %d of %d bytes", n, len(input))
	}
	buf := make([]byte, 256)
	if l.tios.l(unix.ICANON) {
		for {
			n, ok := l.readCanon(buf)
			if !ok {
				break
			}
			reads = append(reads, string(buf[:n]))
		}
	} else if n := l.readRaw(buf); n > 0 {
		reads = append(reads, string(buf[:n]))
	}
	return reads, string(l.out), l.takeSignals()
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		set      func(*termios)
		reads    []string
		echo     string
	}{
		{name: "line", in: "hello\n", reads: []string{"hello\n"}, echo: "hello\r\n"},
		{name: "incomplete", in: "abc", reads: nil, echo: "abc"},
		{name: "two lines", in: "a\nb\n", reads: []string{"a\n", "b\n"}, echo: "a\r\nb\r\n"},
		{name: "cr is nl", in: "x\r", reads: []string{"x\n"}, echo: "x\r\n"},
		{name: "erase", in: "abx\x7fc\n", reads: []string{"abc\n"}, echo: "abx\b \bc\r\n"},
		{name: "erase empty", in: "\x7f\x7fa\n", reads: []string{"a\n"}, echo: "a\r\n"},
		{name: "erase control char", in: "a\x01\x7f\n", reads: []string{"a\n"}, echo: "a^A\b \b\b \b\r\n"},
		{name: "kill echoke", in: "abc\x15d\n", reads: []string{"d\n"}, echo: "abc\b \b\b \b\b \bd\r\n"},
		{name: "kill echok", in: "abc\x15d\n", set: func(t *termios) { t.lflag &^= unix.ECHOKE },
			reads: []string{"d\n"}, echo: "abc^U\r\nd\r\n"},
		{name: "werase", in: "xyz foo\x17bar\n", reads: []string{"xyz bar\n"}, echo: "xyz foo\b \b\b \b\b \bbar\r\n"},
		{name: "werase trailing space", in: "ab cd  \x17\n", reads: []string{"ab \n"}},
		{name: "erase without echoe", in: "ab\x7f\n", set: func(t *termios) { t.lflag &^= unix.ECHOE },
			reads: []string{"a\n"}, echo: "ab^?\r\n"},
		{name: "eof alone", in: "\x04", reads: []string{""}, echo: ""},
		{name: "eof ends a line", in: "ab\x04", reads: []string{"ab"}, echo: "ab"},
		{name: "eol", in: "ab!", set: func(t *termios) { t.cc[vEOL] = '!' }, reads: []string{"ab!"}, echo: "ab!"},
		{name: "lnext", in: "a\x16\x7f\n", reads: []string{"a\x7f\n"}, echo: "a^\b^?\r\n"},
		{name: "no echo", in: "pw\n", set: func(t *termios) { t.lflag &^= unix.ECHO }, reads: []string{"pw\n"}, echo: ""},
		{name: "echonl", in: "pw\n", set: func(t *termios) { t.lflag = t.lflag&^unix.ECHO | unix.ECHONL },
			reads: []string{"pw\n"}, echo: "\r\n"},
		{name: "igncr", in: "a\rb\n", set: func(t *termios) { t.iflag |= unix.IGNCR }, reads: []string{"ab\n"}, echo: "ab\r\n"},
		{name: "inlcr", in: "a\n!", set: func(t *termios) { t.iflag |= unix.INLCR; t.cc[vEOL] = '!' },
			reads: []string{"a\r!"}, echo: "a^M!"},
		{name: "istrip", in: "\xe1\n", set: func(t *termios) { t.iflag |= unix.ISTRIP }, reads: []string{"a\n"}, echo: "a\r\n"},
		{name: "tab erase", in: "ab\t\x7f\n", reads: []string{"ab\n"}, echo: "ab\t\b\b\b\b\b\b\r\n"},
		{name: "utf8 erase", in: "a\xc3\xa9\x7f\n", set: func(t *termios) { t.iflag |= unix.IUTF8 },
			reads: []string{"a\n"}, echo: "a\xc3\xa9\b \b\r\n"},
		{name: "stop start consumed", in: "a\x13b\x11\n", reads: []string{"ab\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reads, echo, _ := typed(t, tc.set, tc.in)
			if len(reads) != len(tc.reads) {
				t.Fatalf("reads %q, want %q", reads, tc.reads)
			}
			for i := range reads {
				if reads[i] != tc.reads[i] {
					t.Errorf("read %d: %q, want %q", i, reads[i], tc.reads[i])
				}
			}
			if tc.echo != "" || tc.name == "eof alone" || tc.name == "no echo" {
				if echo != tc.echo {
					t.Errorf("echo %q, want %q", echo, tc.echo)
				}
			}
		})
	}
}

func TestSignals(t *testing.T) {
	reads, echo, sigs := typed(t, nil, "abc\x03")
	if len(reads) != 0 || echo != "^C" || len(sigs) != 1 || sigs[0] != int(unix.SIGINT) {
		t.Errorf("^C: reads %q echo %q sigs %v; want nothing queued, ^C echoed, SIGINT", reads, echo, sigs)
	}
	// The second signal character flushes the first one's echo.
	_, echo, sigs = typed(t, nil, "\x1c\x1a")
	if echo != "^Z" || len(sigs) != 2 || sigs[0] != int(unix.SIGQUIT) || sigs[1] != int(unix.SIGTSTP) {
		t.Errorf("^\\ ^Z: echo %q sigs %v", echo, sigs)
	}
	// NOFLSH keeps the queued input.
	l := newLdisc()
	l.tios.lflag |= unix.NOFLSH
	l.receive([]byte("ab\n\x03"), time.Now())
	buf := make([]byte, 8)
	if n, ok := l.readCanon(buf); !ok || string(buf[:n]) != "ab\n" {
		t.Errorf("NOFLSH: read %q %v", buf[:n], ok)
	}
	// Without ISIG ^C is data.
	reads, _, sigs = typed(t, func(t *termios) { t.lflag &^= unix.ISIG }, "\x03\n")
	if len(sigs) != 0 || len(reads) != 1 || reads[0] != "\x03\n" {
		t.Errorf("no ISIG: reads %q sigs %v", reads, sigs)
	}
}

func TestRaw(t *testing.T) {
	raw := func(t *termios) { t.lflag &^= unix.ICANON }
	reads, echo, _ := typed(t, raw, "ab\x7f\n")
	if len(reads) != 1 || reads[0] != "ab\x7f\n" {
		t.Errorf("raw reads %q", reads)
	}
	if echo != "ab^?^J" {
		t.Errorf("raw echo %q", echo)
	}
	// Leaving canonical mode makes the edited line readable; entering
	// it makes what is queued a line.
	l := newLdisc()
	l.receive([]byte("par"), time.Now())
	tios := l.tios
	tios.lflag &^= unix.ICANON
	l.setTermios(tios)
	buf := make([]byte, 8)
	if n := l.readRaw(buf); string(buf[:n]) != "par" {
		t.Errorf("after leaving canonical mode: %q", buf[:n])
	}
	l.receive([]byte("xy"), time.Now())
	tios.lflag |= unix.ICANON
	l.setTermios(tios)
	if n, ok := l.readCanon(buf); !ok || string(buf[:n]) != "xy" {
		t.Errorf("after entering canonical mode: %q %v", buf[:n], ok)
	}
}

func TestOutput(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*termios)
		in   string
		out  string
	}{
		{"onlcr", nil, "a\nb\n", "a\r\nb\r\n"},
		{"raw", func(t *termios) { t.oflag &^= unix.OPOST }, "a\nb\n", "a\nb\n"},
		{"ocrnl", func(t *termios) { t.oflag |= unix.OCRNL }, "a\r", "a\n"},
		{"onocr", func(t *termios) { t.oflag |= unix.ONOCR }, "\rab\r", "ab\r"},
		{"xtabs", func(t *termios) { t.oflag |= unix.XTABS }, "ab\tc", "ab      c"},
		{"olcuc", func(t *termios) { t.oflag |= unix.OLCUC }, "aB", "AB"},
	} {
		l := newLdisc()
		if tc.set != nil {
			tc.set(&l.tios)
		}
		if n := l.write([]byte(tc.in)); n != len(tc.in) {
			t.Errorf("%s: wrote %d", tc.name, n)
		}
		if string(l.out) != tc.out {
			t.Errorf("%s: out %q, want %q", tc.name, l.out, tc.out)
		}
	}
	// Stopped output takes nothing.
	l := newLdisc()
	l.receive([]byte{0x13}, time.Now())
	if n := l.write([]byte("x")); n != 0 {
		t.Errorf("write while stopped took %d", n)
	}
	l.receive([]byte{0x11}, time.Now())
	if n := l.write([]byte("x")); n != 1 {
		t.Errorf("write after start took %d", n)
	}
}

func TestLineLimit(t *testing.T) {
	l := newLdisc()
	l.tios.lflag &^= unix.ECHO
	long := make([]byte, lineMax+100)
	for i := range long {
		long[i] = 'x'
	}
	l.receive(long, time.Now())
	l.receive([]byte("\n"), time.Now())
	buf := make([]byte, 2*lineMax)
	n, ok := l.readCanon(buf)
	if !ok || n != lineMax+1 || buf[n-1] != '\n' {
		t.Errorf("overlong line: read %d bytes, ok %v", n, ok)
	}
}

func TestTermiosRoundTrip(t *testing.T) {
	d := defaultTermios()
	for _, size := range []int{termiosSize, termios2Size} {
		got := decodeTermios(d.encode(size))
		if got != d {
			t.Errorf("size %d: %+v, want %+v", size, got, d)
		}
	}
}
