package devpts

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Indexes into c_cc (asm-generic/termbits.h).
const (
	vINTR    = 0
	vQUIT    = 1
	vERASE   = 2
	vKILL    = 3
	vEOF     = 4
	vTIME    = 5
	vMIN     = 6
	vSTART   = 8
	vSTOP    = 9
	vSUSP    = 10
	vEOL     = 11
	vREPRINT = 12
	vWERASE  = 14
	vLNEXT   = 15
	vEOL2    = 16

	nccs = 19
	// disabled is _POSIX_VDISABLE: a c_cc slot holding it matches no
	// character.
	disabled = 0
)

// Sizes of the kernel's struct termios and struct termios2 on x86-64.
const (
	termiosSize  = 36
	termios2Size = 44
)

// termios is the kernel's struct termios2 (struct termios without the
// two speeds).
type termios struct {
	iflag, oflag, cflag, lflag uint32
	line                       uint8
	cc                         [nccs]uint8
	ispeed, ospeed             uint32
}

// defaultTermios is what a new pseudo-terminal's slave starts with,
// Linux's tty_std_termios with the pty driver's c_cflag: cooked input,
// echo, signals, and output with NL mapped to CR NL.
func defaultTermios() termios {
	return termios{
		iflag:  unix.ICRNL | unix.IXON,
		oflag:  unix.OPOST | unix.ONLCR,
		cflag:  unix.B38400 | unix.CS8 | unix.CREAD,
		lflag:  unix.ISIG | unix.ICANON | unix.ECHO | unix.ECHOE | unix.ECHOK | unix.ECHOCTL | unix.ECHOKE | unix.IEXTEN,
		cc:     [nccs]uint8{3, 034, 0177, 025, 4, 0, 1, 0, 021, 023, 032, 0, 022, 017, 027, 026, 0},
		ispeed: 38400,
		ospeed: 38400,
	}
}

// encode returns the struct termios (size termiosSize) or termios2
// (termios2Size) bytes.
func (t *termios) encode(size int) []byte {
	b := make([]byte, termios2Size)
	binary.LittleEndian.PutUint32(b[0:], t.iflag)
	binary.LittleEndian.PutUint32(b[4:], t.oflag)
	binary.LittleEndian.PutUint32(b[8:], t.cflag)
	binary.LittleEndian.PutUint32(b[12:], t.lflag)
	b[16] = t.line
	copy(b[17:36], t.cc[:])
	binary.LittleEndian.PutUint32(b[36:], t.ispeed)
	binary.LittleEndian.PutUint32(b[40:], t.ospeed)
	return b[:size]
}

// decode reads a struct termios or termios2. A plain termios keeps the
// speeds the baud bits of c_cflag name, as Linux derives them.
func decodeTermios(b []byte) termios {
	var t termios
	t.iflag = binary.LittleEndian.Uint32(b[0:])
	t.oflag = binary.LittleEndian.Uint32(b[4:])
	t.cflag = binary.LittleEndian.Uint32(b[8:])
	t.lflag = binary.LittleEndian.Uint32(b[12:])
	t.line = b[16]
	copy(t.cc[:], b[17:36])
	if len(b) >= termios2Size {
		t.ispeed = binary.LittleEndian.Uint32(b[36:])
		t.ospeed = binary.LittleEndian.Uint32(b[40:])
	} else {
		t.ispeed = baudOf(t.cflag)
		t.ospeed = t.ispeed
	}
	return t
}

// baudOf maps c_cflag's CBAUD bits to a speed.
func baudOf(cflag uint32) uint32 {
	speeds := [...]uint32{0, 50, 75, 110, 134, 150, 200, 300, 600, 1200, 1800, 2400, 4800, 9600, 19200, 38400}
	c := cflag & unix.CBAUD
	if c < uint32(len(speeds)) {
		return speeds[c]
	}
	ext := [...]uint32{0, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000}
	if i := c &^ unix.CBAUDEX; i < uint32(len(ext)) {
		return ext[i]
	}
	return 38400
}

func (t *termios) i(f uint32) bool { return t.iflag&f != 0 }
func (t *termios) o(f uint32) bool { return t.oflag&f != 0 }
func (t *termios) l(f uint32) bool { return t.lflag&f != 0 }

// is reports whether c is the character of slot i (never for a disabled
// slot).
func (t *termios) is(c byte, i int) bool { return t.cc[i] != disabled && c == t.cc[i] }
