package syscalls

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MemoryReader reads workload memory; CopyIn returns the bytes copied before any fault, and an error (EFAULT) if it stopped short.
type MemoryReader interface {
	CopyIn(addr uint64, dst []byte) (int, error)
}

// Limits that match strace's defaults.
const (
	stMaxStr   = 32   // bytes of a buffer or argv string shown (strace -s 32)
	stMaxArray = 32   // elements of an array shown
	stMaxPath  = 4096 // bytes of a path read (PATH_MAX)
	stMaxRead  = 1 << 20
)

// FormatCall renders a syscall and its arguments as strace would, reading strings and buffers from m.
// It is called AFTER the syscall returned, so output buffers (read, getdents64, fstat's struct, uname, readlink, clock_gettime ...) can be shown; ret is the raw return value (negative errno on failure).
//
// Output arguments of a failed call are shown as addresses. Memory that
// cannot be read is shown as its address; nothing in args can make it panic.
// Arguments that are both read and written by the kernel (select's fd sets)
// are shown as addresses, since only their final contents are visible.
// Since memory is read after the call, format execve/execveat before
// running them: a successful exec replaces the memory their arguments
// point to (all their arguments are inputs, so ret=0 is fine there).
func FormatCall(nr uintptr, args [6]uint64, ret int64, m MemoryReader) (out string) {
	if m == nil {
		m = stNoMemory{}
	}
	name := Name(nr)
	defer func() {
		if recover() != nil {
			c := &stCall{a: args}
			c.raw(numArgs(nr))
			out = c.render(name)
		}
	}()
	c := &stCall{nr: nr, m: m, a: args, ret: ret, ok: !stIsErr(ret)}
	if d := stDecoders[nr]; d != nil {
		d(c)
	} else {
		c.raw(numArgs(nr))
	}
	return c.render(name)
}

// FormatReturn renders " = 3", " = -1 ENOENT (No such file or directory)", " = 0x7f...(hex for mmap/brk)", ...
func FormatReturn(nr uintptr, ret int64) string {
	switch nr {
	case SysExit, SysExitGroup:
		return " = ?"
	}
	if stIsErr(ret) {
		e := uint64(-ret)
		switch e {
		case stERESTARTSYS, stERESTARTNOINTR, stERESTARTNOHAND, stERESTARTRESTARTBLOCK:
			// The call will be restarted or reported as EINTR; strace
			// shows these as "?" with the internal error.
			return " = ? " + stErrnoName(e) + " (" + stErrnoMsg(e) + ")"
		}
		return " = -1 " + stErrnoName(e) + " (" + stErrnoMsg(e) + ")"
	}
	switch nr {
	case SysMmap, SysMremap, SysBrk, SysShmat, SysPersonality:
		return " = " + stHex(uint64(ret))
	case SysUmask:
		return " = " + stOctal(uint64(ret))
	}
	return " = " + strconv.FormatInt(ret, 10)
}

func stIsErr(ret int64) bool { return ret < 0 && ret >= -4095 }

// stNoMemory is the MemoryReader used when none is given: every read faults.
type stNoMemory struct{}

func (stNoMemory) CopyIn(uint64, []byte) (int, error) { return 0, unix.EFAULT }

// stCall is one call being formatted.
type stCall struct {
	nr    uintptr
	m     MemoryReader
	a     [6]uint64
	ret   int64
	ok    bool // the call succeeded: output arguments may be decoded
	parts []string
}

func (c *stCall) add(s ...string) { c.parts = append(c.parts, s...) }

func (c *stCall) render(name string) string {
	return name + "(" + strings.Join(c.parts, ", ") + ")"
}

// raw adds the first n arguments in hex.
func (c *stCall) raw(n int) {
	for i := 0; i < n && i < 6; i++ {
		c.add(stHex(c.a[i]))
	}
}

// ---- scalars ----

func stHex(v uint64) string {
	if v == 0 {
		return "0"
	}
	return "0x" + strconv.FormatUint(v, 16)
}

func stPtr(v uint64) string {
	if v == 0 {
		return "NULL"
	}
	return stHex(v)
}

func stOctal(v uint64) string { return fmt.Sprintf("%#03o", v) }

func stInt(v uint64) string   { return strconv.FormatInt(int64(int32(v)), 10) }
func stUint(v uint64) string  { return strconv.FormatUint(uint64(uint32(v)), 10) }
func stLong(v uint64) string  { return strconv.FormatInt(int64(v), 10) }
func stUlong(v uint64) string { return strconv.FormatUint(v, 10) }

func stDirFD(v uint64) string {
	if int32(v) == unix.AT_FDCWD {
		return "AT_FDCWD"
	}
	return stInt(v)
}

// stBit names one flag (or a multi-bit value, matched whole).
type stBit struct {
	v    uint64
	name string
}

// stFlags renders v as NAME|NAME|0x..., in table order. Entries with v == 0
// name the zero value. unknown, if set, comments a value with no known bit
// ("0x80 /* GRND_??? */").
func stFlags(v uint64, tbl []stBit, unknown string) string {
	if v == 0 {
		for _, b := range tbl {
			if b.v == 0 {
				return b.name
			}
		}
		return "0"
	}
	var parts []string
	for _, b := range tbl {
		if b.v != 0 && v&b.v == b.v {
			parts = append(parts, b.name)
			v &^= b.v
		}
	}
	if v != 0 {
		if len(parts) == 0 && unknown != "" {
			return stHex(v) + " /* " + unknown + " */"
		}
		parts = append(parts, stHex(v))
	}
	return strings.Join(parts, "|")
}

// stEnum renders v by name, or as "0x.. /* unknown */".
func stEnum(v uint64, tbl map[uint64]string, unknown string) string {
	if n, ok := tbl[v]; ok {
		return n
	}
	if unknown == "" {
		return stHex(v)
	}
	return stHex(v) + " /* " + unknown + " */"
}

// ---- strings and memory ----

// stQuote renders b as a C string literal the way strace does: \t \n \v \f
// \r \" \\ escaped by letter, other non-printable bytes in octal (three
// digits when an octal digit follows), "..." after the quote when more.
// hex escapes every byte as \xNN instead.
func stQuote(b []byte, more, hex bool) string {
	var s strings.Builder
	s.Grow(len(b) + 8)
	s.WriteByte('"')
	for i, ch := range b {
		if hex {
			fmt.Fprintf(&s, "\\x%02x", ch)
			continue
		}
		switch ch {
		case '"':
			s.WriteString(`\"`)
		case '\\':
			s.WriteString(`\\`)
		case '\t':
			s.WriteString(`\t`)
		case '\n':
			s.WriteString(`\n`)
		case '\v':
			s.WriteString(`\v`)
		case '\f':
			s.WriteString(`\f`)
		case '\r':
			s.WriteString(`\r`)
		default:
			switch {
			case ch >= ' ' && ch < 0x7f:
				s.WriteByte(ch)
			case i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '7':
				fmt.Fprintf(&s, "\\%03o", ch)
			default:
				fmt.Fprintf(&s, "\\%o", ch)
			}
		}
	}
	s.WriteByte('"')
	if more {
		s.WriteString("...")
	}
	return s.String()
}

// read copies n bytes at addr; false if any of them could not be read.
func (c *stCall) read(addr uint64, n int) ([]byte, bool) {
	if n < 0 || n > stMaxRead {
		return nil, false
	}
	b := make([]byte, n)
	got, err := c.m.CopyIn(addr, b)
	if err != nil || got != n {
		return nil, false
	}
	return b, true
}

func (c *stCall) u64(addr uint64) (uint64, bool) {
	b, ok := c.read(addr, 8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

func (c *stCall) u32(addr uint64) (uint32, bool) {
	b, ok := c.read(addr, 4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(b), true
}

func stLE16(b []byte) uint64 { return uint64(binary.LittleEndian.Uint16(b)) }
func stLE32(b []byte) uint64 { return uint64(binary.LittleEndian.Uint32(b)) }
func stLE64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// cstr reads the NUL-terminated string at addr, at most max bytes of it. more
// reports that it goes on past max; ok is false if memory faulted before the
// NUL (or before max+1 bytes were read).
func (c *stCall) cstr(addr uint64, max int) (s []byte, more, ok bool) {
	var out []byte
	for len(out) <= max {
		at := addr + uint64(len(out))
		want := max + 1 - len(out)
		if left := 4096 - int(at&4095); want > left {
			want = left // do not fault on a page the string may not reach
		}
		chunk := make([]byte, want)
		n, err := c.m.CopyIn(at, chunk)
		if n < 0 {
			n = 0
		}
		if n > want {
			n = want
		}
		if i := bytes.IndexByte(chunk[:n], 0); i >= 0 {
			return append(out, chunk[:i]...), false, true
		}
		out = append(out, chunk[:n]...)
		if err != nil || n < want {
			return nil, false, false
		}
	}
	return out[:max], true, true
}

// path renders a pathname argument.
func (c *stCall) path(addr uint64) string { return c.cstring(addr, stMaxPath) }

// str renders a string argument, truncated as strace's -s.
func (c *stCall) str(addr uint64) string { return c.cstring(addr, stMaxStr) }

func (c *stCall) cstring(addr uint64, max int) string {
	if addr == 0 {
		return "NULL"
	}
	s, more, ok := c.cstr(addr, max)
	if !ok {
		return stHex(addr)
	}
	return stQuote(s, more, false)
}

// buf renders n bytes at addr as a quoted string, truncated to stMaxStr.
func (c *stCall) buf(addr, n uint64) string { return c.bufq(addr, n, false) }

func (c *stCall) bufq(addr, n uint64, hex bool) string {
	if addr == 0 {
		return "NULL"
	}
	show, more := n, false
	if show > stMaxStr {
		show, more = stMaxStr, true
	}
	b, ok := c.read(addr, int(show))
	if !ok {
		return stHex(addr)
	}
	return stQuote(b, more, hex)
}

// outBuf renders an output buffer holding the call's result bytes.
func (c *stCall) outBuf(addr uint64) string {
	if !c.ok {
		return stPtr(addr)
	}
	return c.buf(addr, uint64(c.ret))
}

// intPtr renders an int the kernel reads or writes at addr as [n]. Output
// pointers of failed calls are shown as addresses.
func (c *stCall) intPtr(addr uint64, out bool) string {
	b, alt, ok := c.structAt(addr, 4, out)
	if !ok {
		return alt
	}
	v := binary.LittleEndian.Uint32(b)
	return "[" + stInt(uint64(v)) + "]"
}

// u64Ptr is intPtr for 64-bit values, shown in decimal (or hex if hex).
func (c *stCall) u64Ptr(addr uint64, out, hex bool) string {
	b, alt, ok := c.structAt(addr, 8, out)
	if !ok {
		return alt
	}
	v := binary.LittleEndian.Uint64(b)
	if hex {
		return "[" + stHex(v) + "]"
	}
	return "[" + stLong(v) + "]"
}

// array renders n elements of size bytes each at addr, each by f, at most
// stMaxArray of them.
func (c *stCall) array(addr, n uint64, size int, f func(b []byte) string) string {
	if addr == 0 {
		return "NULL"
	}
	var parts []string
	for i := uint64(0); i < n; i++ {
		if i == stMaxArray {
			parts = append(parts, "...")
			break
		}
		at := addr + i*uint64(size)
		b, ok := c.read(at, size)
		if !ok {
			if i == 0 {
				return stHex(addr)
			}
			parts = append(parts, "... /* "+stHex(at)+" */")
			break
		}
		parts = append(parts, f(b))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ---- errno ----

const (
	stERESTARTSYS          = 512
	stERESTARTNOINTR       = 513
	stERESTARTNOHAND       = 514
	stERESTARTRESTARTBLOCK = 516
)

// xErrnos names the Linux errno values.
var xErrnos = [...]string{
	1: "EPERM", 2: "ENOENT", 3: "ESRCH", 4: "EINTR", 5: "EIO", 6: "ENXIO",
	7: "E2BIG", 8: "ENOEXEC", 9: "EBADF", 10: "ECHILD", 11: "EAGAIN",
	12: "ENOMEM", 13: "EACCES", 14: "EFAULT", 15: "ENOTBLK", 16: "EBUSY",
	17: "EEXIST", 18: "EXDEV", 19: "ENODEV", 20: "ENOTDIR", 21: "EISDIR",
	22: "EINVAL", 23: "ENFILE", 24: "EMFILE", 25: "ENOTTY", 26: "ETXTBSY",
	27: "EFBIG", 28: "ENOSPC", 29: "ESPIPE", 30: "EROFS", 31: "EMLINK",
	32: "EPIPE", 33: "EDOM", 34: "ERANGE", 35: "EDEADLK", 36: "ENAMETOOLONG",
	37: "ENOLCK", 38: "ENOSYS", 39: "ENOTEMPTY", 40: "ELOOP", 42: "ENOMSG",
	43: "EIDRM", 44: "ECHRNG", 45: "EL2NSYNC", 46: "EL3HLT", 47: "EL3RST",
	48: "ELNRNG", 49: "EUNATCH", 50: "ENOCSI", 51: "EL2HLT", 52: "EBADE",
	53: "EBADR", 54: "EXFULL", 55: "ENOANO", 56: "EBADRQC", 57: "EBADSLT",
	59: "EBFONT", 60: "ENOSTR", 61: "ENODATA", 62: "ETIME", 63: "ENOSR",
	64: "ENONET", 65: "ENOPKG", 66: "EREMOTE", 67: "ENOLINK", 68: "EADV",
	69: "ESRMNT", 70: "ECOMM", 71: "EPROTO", 72: "EMULTIHOP", 73: "EDOTDOT",
	74: "EBADMSG", 75: "EOVERFLOW", 76: "ENOTUNIQ", 77: "EBADFD",
	78: "EREMCHG", 79: "ELIBACC", 80: "ELIBBAD", 81: "ELIBSCN", 82: "ELIBMAX",
	83: "ELIBEXEC", 84: "EILSEQ", 85: "ERESTART", 86: "ESTRPIPE",
	87: "EUSERS", 88: "ENOTSOCK", 89: "EDESTADDRREQ", 90: "EMSGSIZE",
	91: "EPROTOTYPE", 92: "ENOPROTOOPT", 93: "EPROTONOSUPPORT",
	94: "ESOCKTNOSUPPORT", 95: "EOPNOTSUPP", 96: "EPFNOSUPPORT",
	97: "EAFNOSUPPORT", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL",
	100: "ENETDOWN", 101: "ENETUNREACH", 102: "ENETRESET",
	103: "ECONNABORTED", 104: "ECONNRESET", 105: "ENOBUFS", 106: "EISCONN",
	107: "ENOTCONN", 108: "ESHUTDOWN", 109: "ETOOMANYREFS", 110: "ETIMEDOUT",
	111: "ECONNREFUSED", 112: "EHOSTDOWN", 113: "EHOSTUNREACH",
	114: "EALREADY", 115: "EINPROGRESS", 116: "ESTALE", 117: "EUCLEAN",
	118: "ENOTNAM", 119: "ENAVAIL", 120: "EISNAM", 121: "EREMOTEIO",
	122: "EDQUOT", 123: "ENOMEDIUM", 124: "EMEDIUMTYPE", 125: "ECANCELED",
	126: "ENOKEY", 127: "EKEYEXPIRED", 128: "EKEYREVOKED",
	129: "EKEYREJECTED", 130: "EOWNERDEAD", 131: "ENOTRECOVERABLE",
	132: "ERFKILL", 133: "EHWPOISON",
}

// xKernelErrnos are the kernel-internal errors (include/linux/errno.h) that
// can show up in a trace, with the messages strace gives them.
var xKernelErrnos = map[uint64][2]string{
	512: {"ERESTARTSYS", "To be restarted if SA_RESTART is set"},
	513: {"ERESTARTNOINTR", "To be restarted"},
	514: {"ERESTARTNOHAND", "To be restarted if no handler"},
	515: {"ENOIOCTLCMD", "No ioctl command"},
	516: {"ERESTART_RESTARTBLOCK", "Interrupted by signal"},
	517: {"EPROBE_DEFER", "Driver requests probe retry"},
	518: {"EOPENSTALE", "Open found a stale dentry"},
	519: {"ENOPARAM", "Parameter not supported"},
	521: {"EBADHANDLE", "Illegal NFS file handle"},
	522: {"ENOTSYNC", "Update synchronization mismatch"},
	523: {"EBADCOOKIE", "Cookie is stale"},
	524: {"ENOTSUPP", "Operation is not supported"},
	525: {"ETOOSMALL", "Buffer or request is too small"},
	526: {"ESERVERFAULT", "An untranslatable error occurred"},
	527: {"EBADTYPE", "Type not supported by server"},
	528: {"EJUKEBOX", "Request initiated, but will not complete before timeout"},
	529: {"EIOCBQUEUED", "iocb queued, will get completion event"},
	530: {"ERECALLCONFLICT", "Conflict with recalled state"},
	531: {"ENOGRACE", "NFS file lock reclaim refused"},
}

func stErrnoName(e uint64) string {
	if e < uint64(len(xErrnos)) && xErrnos[e] != "" {
		return xErrnos[e]
	}
	if k, ok := xKernelErrnos[e]; ok {
		return k[0]
	}
	return "ERRNO_" + strconv.FormatUint(e, 10)
}

func stErrnoMsg(e uint64) string {
	if k, ok := xKernelErrnos[e]; ok {
		return k[1]
	}
	if e < uint64(len(xErrnos)) && xErrnos[e] != "" {
		msg := unix.Errno(e).Error()
		if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
			msg = string(msg[0]-'a'+'A') + msg[1:]
		}
		return msg
	}
	return "Unknown error " + strconv.FormatUint(e, 10)
}

// ---- signals ----

var xSignals = [...]string{
	1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP",
	6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1",
	11: "SIGSEGV", 12: "SIGUSR2", 13: "SIGPIPE", 14: "SIGALRM",
	15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD", 18: "SIGCONT",
	19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
	23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM",
	27: "SIGPROF", 28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
}

// stSigName names signal sig (SIGINT, SIGRTMIN, SIGRT_3); ok is false
// outside 1..64.
func stSigName(sig uint64) (string, bool) {
	switch {
	case sig >= 1 && sig < uint64(len(xSignals)):
		return xSignals[sig], true
	case sig == 32:
		return "SIGRTMIN", true
	case sig > 32 && sig <= 64:
		return "SIGRT_" + strconv.FormatUint(sig-32, 10), true
	}
	return "", false
}

// stSig renders a signal number argument.
func stSig(v uint64) string {
	if n, ok := stSigName(uint64(uint32(v))); ok {
		return n
	}
	return stInt(v)
}

// stSigset renders a 64-signal mask as strace does: [INT TERM], or
// ~[KILL STOP] when more than half the signals are in it.
func stSigset(mask uint64) string {
	open := "["
	if bits.OnesCount64(mask) > 32 {
		open, mask = "~[", ^mask
	}
	var names []string
	for mask != 0 {
		i := bits.TrailingZeros64(mask)
		mask &^= 1 << i
		n, _ := stSigName(uint64(i) + 1)
		names = append(names, strings.TrimPrefix(n, "SIG"))
	}
	return open + strings.Join(names, " ") + "]"
}

// sigset renders the sigset_t at addr.
func (c *stCall) sigset(addr uint64, out bool) string {
	b, alt, ok := c.structAt(addr, 8, out)
	if !ok {
		return alt
	}
	v := binary.LittleEndian.Uint64(b)
	return stSigset(v)
}

// ---- flag and value tables ----

var xAccModes = [4]string{"O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"}

const stOLargefile = oLargefile

var xOpenFlags = []stBit{
	{unix.O_CREAT, "O_CREAT"}, {unix.O_EXCL, "O_EXCL"},
	{unix.O_NOCTTY, "O_NOCTTY"}, {unix.O_TRUNC, "O_TRUNC"},
	{unix.O_APPEND, "O_APPEND"}, {unix.O_NONBLOCK, "O_NONBLOCK"},
	{unix.O_SYNC, "O_SYNC"}, {unix.O_DSYNC, "O_DSYNC"},
	{unix.O_DIRECT, "O_DIRECT"}, {stOLargefile, "O_LARGEFILE"},
	{unix.O_TMPFILE, "O_TMPFILE"}, {unix.O_DIRECTORY, "O_DIRECTORY"},
	{unix.O_NOFOLLOW, "O_NOFOLLOW"}, {unix.O_NOATIME, "O_NOATIME"},
	{unix.O_CLOEXEC, "O_CLOEXEC"}, {unix.O_PATH, "O_PATH"},
	{unix.O_ASYNC, "FASYNC"},
}

// stOpenFlags renders open(2) flags: the access mode, then the other flags.
func stOpenFlags(v uint64) string {
	s := xAccModes[v&3]
	if rest := v &^ 3; rest != 0 {
		s += "|" + stFlags(rest, xOpenFlags, "")
	}
	return s
}

// stOpenHasMode reports whether open flags v take a mode argument.
func stOpenHasMode(v uint64) bool {
	return v&unix.O_CREAT != 0 || v&unix.O_TMPFILE == unix.O_TMPFILE
}

var xFDFlags = []stBit{{unix.FD_CLOEXEC, "FD_CLOEXEC"}}

var xCloexec = []stBit{{unix.O_CLOEXEC, "O_CLOEXEC"}}

var xPipeFlags = []stBit{
	{unix.O_NONBLOCK, "O_NONBLOCK"}, {unix.O_DIRECT, "O_DIRECT"},
	{unix.O_CLOEXEC, "O_CLOEXEC"}, {0x80, "O_NOTIFICATION_PIPE"},
}

var xSpliceFlags = []stBit{
	{1, "SPLICE_F_MOVE"}, {2, "SPLICE_F_NONBLOCK"}, {4, "SPLICE_F_MORE"}, {8, "SPLICE_F_GIFT"},
}

var xAtFlags = []stBit{
	{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
	{unix.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"},
	{unix.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"},
	{unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
	{0x8000, "AT_RECURSIVE"},
}

var xUnlinkatFlags = []stBit{{unix.AT_REMOVEDIR, "AT_REMOVEDIR"}}

var xFaccessatFlags = []stBit{
	{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
	{unix.AT_EACCESS, "AT_EACCESS"},
	{unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
}

var xAccessModes = []stBit{
	{0, "F_OK"}, {unix.R_OK, "R_OK"}, {unix.W_OK, "W_OK"}, {unix.X_OK, "X_OK"},
}

var xRenameFlags = []stBit{
	{unix.RENAME_NOREPLACE, "RENAME_NOREPLACE"},
	{unix.RENAME_EXCHANGE, "RENAME_EXCHANGE"},
	{unix.RENAME_WHITEOUT, "RENAME_WHITEOUT"},
}

var xResolveFlags = []stBit{
	{unix.RESOLVE_NO_XDEV, "RESOLVE_NO_XDEV"},
	{unix.RESOLVE_NO_MAGICLINKS, "RESOLVE_NO_MAGICLINKS"},
	{unix.RESOLVE_NO_SYMLINKS, "RESOLVE_NO_SYMLINKS"},
	{unix.RESOLVE_BENEATH, "RESOLVE_BENEATH"},
	{unix.RESOLVE_IN_ROOT, "RESOLVE_IN_ROOT"},
	{0x20, "RESOLVE_CACHED"},
}

var xWhence = map[uint64]string{
	unix.SEEK_SET: "SEEK_SET", unix.SEEK_CUR: "SEEK_CUR",
	unix.SEEK_END: "SEEK_END", unix.SEEK_DATA: "SEEK_DATA",
	unix.SEEK_HOLE: "SEEK_HOLE",
}

var xProt = []stBit{
	{0, "PROT_NONE"}, {unix.PROT_READ, "PROT_READ"},
	{unix.PROT_WRITE, "PROT_WRITE"}, {unix.PROT_EXEC, "PROT_EXEC"},
	{0x8, "PROT_SEM"}, {unix.PROT_GROWSDOWN, "PROT_GROWSDOWN"},
	{unix.PROT_GROWSUP, "PROT_GROWSUP"},
}

var xMapTypes = map[uint64]string{
	unix.MAP_SHARED: "MAP_SHARED", unix.MAP_PRIVATE: "MAP_PRIVATE",
	unix.MAP_SHARED_VALIDATE: "MAP_SHARED_VALIDATE",
}

var xMapFlags = []stBit{
	{unix.MAP_FIXED, "MAP_FIXED"}, {unix.MAP_ANONYMOUS, "MAP_ANONYMOUS"},
	{unix.MAP_32BIT, "MAP_32BIT"}, {unix.MAP_GROWSDOWN, "MAP_GROWSDOWN"},
	{unix.MAP_DENYWRITE, "MAP_DENYWRITE"},
	{unix.MAP_EXECUTABLE, "MAP_EXECUTABLE"}, {unix.MAP_LOCKED, "MAP_LOCKED"},
	{unix.MAP_NORESERVE, "MAP_NORESERVE"}, {unix.MAP_POPULATE, "MAP_POPULATE"},
	{unix.MAP_NONBLOCK, "MAP_NONBLOCK"}, {unix.MAP_STACK, "MAP_STACK"},
	{unix.MAP_HUGETLB, "MAP_HUGETLB"}, {unix.MAP_SYNC, "MAP_SYNC"},
	{unix.MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
}

// stMmapFlags renders mmap flags: the mapping type, the flags, then the
// huge page size.
func stMmapFlags(v uint64) string {
	if v == 0 {
		return "MAP_FILE"
	}
	var parts []string
	if t := v & 0xf; t != 0 {
		if n, ok := xMapTypes[t]; ok {
			parts = append(parts, n)
		} else {
			parts = append(parts, stHex(t)+" /* MAP_??? */")
		}
	}
	huge := (v >> unix.MAP_HUGE_SHIFT) & unix.MAP_HUGE_MASK
	rest := v &^ 0xf &^ (unix.MAP_HUGE_MASK << unix.MAP_HUGE_SHIFT)
	if rest != 0 {
		parts = append(parts, stFlags(rest, xMapFlags, ""))
	}
	if huge != 0 {
		parts = append(parts, strconv.FormatUint(huge, 10)+"<<MAP_HUGE_SHIFT")
	}
	return strings.Join(parts, "|")
}

var xMremapFlags = []stBit{
	{unix.MREMAP_MAYMOVE, "MREMAP_MAYMOVE"}, {unix.MREMAP_FIXED, "MREMAP_FIXED"},
	{unix.MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP"},
}

var xMsyncFlags = []stBit{
	{unix.MS_ASYNC, "MS_ASYNC"}, {unix.MS_INVALIDATE, "MS_INVALIDATE"},
	{unix.MS_SYNC, "MS_SYNC"},
}

var xMlockallFlags = []stBit{
	{unix.MCL_CURRENT, "MCL_CURRENT"}, {unix.MCL_FUTURE, "MCL_FUTURE"},
	{unix.MCL_ONFAULT, "MCL_ONFAULT"},
}

var xMadvise = map[uint64]string{
	0: "MADV_NORMAL", 1: "MADV_RANDOM", 2: "MADV_SEQUENTIAL",
	3: "MADV_WILLNEED", 4: "MADV_DONTNEED", 8: "MADV_FREE", 9: "MADV_REMOVE",
	10: "MADV_DONTFORK", 11: "MADV_DOFORK", 12: "MADV_MERGEABLE",
	13: "MADV_UNMERGEABLE", 14: "MADV_HUGEPAGE", 15: "MADV_NOHUGEPAGE",
	16: "MADV_DONTDUMP", 17: "MADV_DODUMP", 18: "MADV_WIPEONFORK",
	19: "MADV_KEEPONFORK", 20: "MADV_COLD", 21: "MADV_PAGEOUT",
	22: "MADV_POPULATE_READ", 23: "MADV_POPULATE_WRITE",
	24: "MADV_DONTNEED_LOCKED", 25: "MADV_COLLAPSE", 100: "MADV_HWPOISON",
	101: "MADV_SOFT_OFFLINE", 102: "MADV_GUARD_INSTALL",
	103: "MADV_GUARD_REMOVE",
}

var xSaFlags = []stBit{
	{0x04000000, "SA_RESTORER"}, {0x08000000, "SA_ONSTACK"},
	{0x10000000, "SA_RESTART"}, {0x20000000, "SA_INTERRUPT"},
	{0x40000000, "SA_NODEFER"}, {0x80000000, "SA_RESETHAND"},
	{0x1, "SA_NOCLDSTOP"}, {0x2, "SA_NOCLDWAIT"},
	{0x4, "SA_SIGINFO"}, {0x400, "SA_UNSUPPORTED"},
	{0x800, "SA_EXPOSE_TAGBITS"},
}

var xSigprocmaskHow = map[uint64]string{
	unix.SIG_BLOCK: "SIG_BLOCK", unix.SIG_UNBLOCK: "SIG_UNBLOCK",
	unix.SIG_SETMASK: "SIG_SETMASK",
}

var xSSFlags = []stBit{
	{0x1, "SS_ONSTACK"}, {0x2, "SS_DISABLE"},
	{1 << 31, "SS_AUTODISARM"},
}

var xArchPrctl = map[uint64]string{
	0x1001: "ARCH_SET_GS", 0x1002: "ARCH_SET_FS", 0x1003: "ARCH_GET_FS",
	0x1004: "ARCH_GET_GS", 0x1011: "ARCH_GET_CPUID", 0x1012: "ARCH_SET_CPUID",
	0x1021: "ARCH_GET_XCOMP_SUPP", 0x1022: "ARCH_GET_XCOMP_PERM",
	0x1023: "ARCH_REQ_XCOMP_PERM", 0x1024: "ARCH_GET_XCOMP_GUEST_PERM",
	0x1025: "ARCH_REQ_XCOMP_GUEST_PERM", 0x2001: "ARCH_MAP_VDSO_X32",
	0x2002: "ARCH_MAP_VDSO_32", 0x2003: "ARCH_MAP_VDSO_64",
	0x5001: "ARCH_SHSTK_ENABLE", 0x5002: "ARCH_SHSTK_DISABLE",
	0x5003: "ARCH_SHSTK_LOCK", 0x5004: "ARCH_SHSTK_UNLOCK",
	0x5005: "ARCH_SHSTK_STATUS",
}

var xRlimits = map[uint64]string{
	unix.RLIMIT_CPU: "RLIMIT_CPU", unix.RLIMIT_FSIZE: "RLIMIT_FSIZE",
	unix.RLIMIT_DATA: "RLIMIT_DATA", unix.RLIMIT_STACK: "RLIMIT_STACK",
	unix.RLIMIT_CORE: "RLIMIT_CORE", unix.RLIMIT_RSS: "RLIMIT_RSS",
	unix.RLIMIT_NPROC: "RLIMIT_NPROC", unix.RLIMIT_NOFILE: "RLIMIT_NOFILE",
	unix.RLIMIT_MEMLOCK: "RLIMIT_MEMLOCK", unix.RLIMIT_AS: "RLIMIT_AS",
	unix.RLIMIT_LOCKS: "RLIMIT_LOCKS", unix.RLIMIT_SIGPENDING: "RLIMIT_SIGPENDING",
	unix.RLIMIT_MSGQUEUE: "RLIMIT_MSGQUEUE", unix.RLIMIT_NICE: "RLIMIT_NICE",
	unix.RLIMIT_RTPRIO: "RLIMIT_RTPRIO", unix.RLIMIT_RTTIME: "RLIMIT_RTTIME",
}

var xGrndFlags = []stBit{
	{unix.GRND_NONBLOCK, "GRND_NONBLOCK"}, {unix.GRND_RANDOM, "GRND_RANDOM"},
	{unix.GRND_INSECURE, "GRND_INSECURE"},
}

var xClocks = map[uint64]string{
	unix.CLOCK_REALTIME: "CLOCK_REALTIME", unix.CLOCK_MONOTONIC: "CLOCK_MONOTONIC",
	unix.CLOCK_PROCESS_CPUTIME_ID: "CLOCK_PROCESS_CPUTIME_ID",
	unix.CLOCK_THREAD_CPUTIME_ID:  "CLOCK_THREAD_CPUTIME_ID",
	unix.CLOCK_MONOTONIC_RAW:      "CLOCK_MONOTONIC_RAW",
	unix.CLOCK_REALTIME_COARSE:    "CLOCK_REALTIME_COARSE",
	unix.CLOCK_MONOTONIC_COARSE:   "CLOCK_MONOTONIC_COARSE",
	unix.CLOCK_BOOTTIME:           "CLOCK_BOOTTIME",
	unix.CLOCK_REALTIME_ALARM:     "CLOCK_REALTIME_ALARM",
	unix.CLOCK_BOOTTIME_ALARM:     "CLOCK_BOOTTIME_ALARM",
	10:                            "CLOCK_SGI_CYCLE",
	unix.CLOCK_TAI:                "CLOCK_TAI",
}

func stClock(v uint64) string { return stEnum(uint64(uint32(v)), xClocks, "CLOCK_???") }

var xTimerFlags = []stBit{{unix.TIMER_ABSTIME, "TIMER_ABSTIME"}}

var xFcntlCmds = map[uint64]string{
	unix.F_DUPFD: "F_DUPFD", unix.F_GETFD: "F_GETFD", unix.F_SETFD: "F_SETFD",
	unix.F_GETFL: "F_GETFL", unix.F_SETFL: "F_SETFL", unix.F_GETLK: "F_GETLK",
	unix.F_SETLK: "F_SETLK", unix.F_SETLKW: "F_SETLKW",
	unix.F_SETOWN: "F_SETOWN", unix.F_GETOWN: "F_GETOWN",
	unix.F_SETSIG: "F_SETSIG", unix.F_GETSIG: "F_GETSIG",
	unix.F_SETOWN_EX: "F_SETOWN_EX", unix.F_GETOWN_EX: "F_GETOWN_EX",
	17: "F_GETOWNER_UIDS", unix.F_OFD_GETLK: "F_OFD_GETLK",
	unix.F_OFD_SETLK: "F_OFD_SETLK", unix.F_OFD_SETLKW: "F_OFD_SETLKW",
	unix.F_SETLEASE: "F_SETLEASE", unix.F_GETLEASE: "F_GETLEASE",
	unix.F_NOTIFY: "F_NOTIFY", 1027: "F_DUPFD_QUERY", 1028: "F_CREATED_QUERY",
	unix.F_DUPFD_CLOEXEC: "F_DUPFD_CLOEXEC", unix.F_SETPIPE_SZ: "F_SETPIPE_SZ",
	unix.F_GETPIPE_SZ: "F_GETPIPE_SZ", unix.F_ADD_SEALS: "F_ADD_SEALS",
	unix.F_GET_SEALS: "F_GET_SEALS", 1035: "F_GET_RW_HINT",
	1036: "F_SET_RW_HINT", 1037: "F_GET_FILE_RW_HINT",
	1038: "F_SET_FILE_RW_HINT",
}

var xSeals = []stBit{
	{unix.F_SEAL_SEAL, "F_SEAL_SEAL"}, {unix.F_SEAL_SHRINK, "F_SEAL_SHRINK"},
	{unix.F_SEAL_GROW, "F_SEAL_GROW"}, {unix.F_SEAL_WRITE, "F_SEAL_WRITE"},
	{unix.F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE"}, {0x20, "F_SEAL_EXEC"},
}

var xLockTypes = map[uint64]string{
	unix.F_RDLCK: "F_RDLCK", unix.F_WRLCK: "F_WRLCK", unix.F_UNLCK: "F_UNLCK",
}

var xNotifyFlags = []stBit{
	{0x1, "DN_ACCESS"}, {0x2, "DN_MODIFY"},
	{0x4, "DN_CREATE"}, {0x8, "DN_DELETE"},
	{0x10, "DN_RENAME"}, {0x20, "DN_ATTRIB"},
	{0x80000000, "DN_MULTISHOT"},
}

var xFlockOps = []stBit{
	{unix.LOCK_SH, "LOCK_SH"}, {unix.LOCK_EX, "LOCK_EX"},
	{unix.LOCK_NB, "LOCK_NB"}, {unix.LOCK_UN, "LOCK_UN"},
}

var xWaitOpts = []stBit{
	{unix.WNOHANG, "WNOHANG"}, {unix.WSTOPPED, "WSTOPPED"},
	{unix.WEXITED, "WEXITED"}, {unix.WCONTINUED, "WCONTINUED"},
	{unix.WNOWAIT, "WNOWAIT"}, {0x80000000, "__WCLONE"},
	{0x40000000, "__WALL"}, {0x20000000, "__WNOTHREAD"},
}

var xIDTypes = map[uint64]string{
	unix.P_ALL: "P_ALL", unix.P_PID: "P_PID", unix.P_PGID: "P_PGID",
	unix.P_PIDFD: "P_PIDFD",
}

var xCloneFlags = []stBit{
	{unix.CLONE_NEWTIME, "CLONE_NEWTIME"},
	{unix.CLONE_VM, "CLONE_VM"}, {unix.CLONE_FS, "CLONE_FS"},
	{unix.CLONE_FILES, "CLONE_FILES"}, {unix.CLONE_SIGHAND, "CLONE_SIGHAND"},
	{unix.CLONE_PIDFD, "CLONE_PIDFD"}, {unix.CLONE_PTRACE, "CLONE_PTRACE"},
	{unix.CLONE_VFORK, "CLONE_VFORK"}, {unix.CLONE_PARENT, "CLONE_PARENT"},
	{unix.CLONE_THREAD, "CLONE_THREAD"}, {unix.CLONE_NEWNS, "CLONE_NEWNS"},
	{unix.CLONE_SYSVSEM, "CLONE_SYSVSEM"}, {unix.CLONE_SETTLS, "CLONE_SETTLS"},
	{unix.CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"},
	{unix.CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"},
	{unix.CLONE_DETACHED, "CLONE_DETACHED"},
	{unix.CLONE_UNTRACED, "CLONE_UNTRACED"},
	{unix.CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"},
	{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	{unix.CLONE_NEWUTS, "CLONE_NEWUTS"}, {unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
	{unix.CLONE_NEWUSER, "CLONE_NEWUSER"}, {unix.CLONE_NEWPID, "CLONE_NEWPID"},
	{unix.CLONE_NEWNET, "CLONE_NEWNET"}, {unix.CLONE_IO, "CLONE_IO"},
	{unix.CLONE_CLEAR_SIGHAND, "CLONE_CLEAR_SIGHAND"},
	{unix.CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"},
}

// stCloneFlags renders clone(2) flags, whose low byte is the exit signal.
func stCloneFlags(v uint64) string {
	sig := v & 0xff
	v &^= 0xff
	var parts []string
	if v != 0 {
		parts = append(parts, stFlags(v, xCloneFlags, ""))
	}
	if sig != 0 {
		parts = append(parts, stSig(sig))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

var xFutexOps = map[uint64]string{
	0: "FUTEX_WAIT", 1: "FUTEX_WAKE",
	2: "FUTEX_FD", 3: "FUTEX_REQUEUE",
	4: "FUTEX_CMP_REQUEUE", 5: "FUTEX_WAKE_OP",
	6: "FUTEX_LOCK_PI", 7: "FUTEX_UNLOCK_PI",
	8: "FUTEX_TRYLOCK_PI", 9: "FUTEX_WAIT_BITSET",
	10: "FUTEX_WAKE_BITSET",
	11: "FUTEX_WAIT_REQUEUE_PI",
	12: "FUTEX_CMP_REQUEUE_PI",
	13: "FUTEX_LOCK_PI2",
}

var xFutexWakeOps = [...]string{"FUTEX_OP_SET", "FUTEX_OP_ADD", "FUTEX_OP_OR", "FUTEX_OP_ANDN", "FUTEX_OP_XOR"}

var xFutexWakeCmps = [...]string{"FUTEX_OP_CMP_EQ", "FUTEX_OP_CMP_NE", "FUTEX_OP_CMP_LT", "FUTEX_OP_CMP_LE", "FUTEX_OP_CMP_GT", "FUTEX_OP_CMP_GE"}

var xAddrFamilies = map[uint64]string{
	unix.AF_UNSPEC: "AF_UNSPEC", unix.AF_UNIX: "AF_UNIX", unix.AF_INET: "AF_INET",
	unix.AF_AX25: "AF_AX25", unix.AF_IPX: "AF_IPX", unix.AF_APPLETALK: "AF_APPLETALK",
	unix.AF_NETROM: "AF_NETROM", unix.AF_BRIDGE: "AF_BRIDGE",
	unix.AF_ATMPVC: "AF_ATMPVC", unix.AF_X25: "AF_X25", unix.AF_INET6: "AF_INET6",
	unix.AF_ROSE: "AF_ROSE", unix.AF_DECnet: "AF_DECnet",
	unix.AF_NETBEUI: "AF_NETBEUI", unix.AF_SECURITY: "AF_SECURITY",
	unix.AF_KEY: "AF_KEY", unix.AF_NETLINK: "AF_NETLINK",
	unix.AF_PACKET: "AF_PACKET", unix.AF_ASH: "AF_ASH", unix.AF_ECONET: "AF_ECONET",
	unix.AF_ATMSVC: "AF_ATMSVC", unix.AF_RDS: "AF_RDS", unix.AF_SNA: "AF_SNA",
	unix.AF_IRDA: "AF_IRDA", unix.AF_PPPOX: "AF_PPPOX",
	unix.AF_WANPIPE: "AF_WANPIPE", unix.AF_LLC: "AF_LLC", unix.AF_IB: "AF_IB",
	unix.AF_MPLS: "AF_MPLS", unix.AF_CAN: "AF_CAN", unix.AF_TIPC: "AF_TIPC",
	unix.AF_BLUETOOTH: "AF_BLUETOOTH", unix.AF_IUCV: "AF_IUCV",
	unix.AF_RXRPC: "AF_RXRPC", unix.AF_ISDN: "AF_ISDN",
	unix.AF_PHONET: "AF_PHONET", unix.AF_IEEE802154: "AF_IEEE802154",
	unix.AF_CAIF: "AF_CAIF", unix.AF_ALG: "AF_ALG", unix.AF_NFC: "AF_NFC",
	unix.AF_VSOCK: "AF_VSOCK", unix.AF_KCM: "AF_KCM", unix.AF_QIPCRTR: "AF_QIPCRTR",
	unix.AF_SMC: "AF_SMC", unix.AF_XDP: "AF_XDP", unix.AF_MCTP: "AF_MCTP",
}

func stFamily(v uint64) string { return stEnum(v, xAddrFamilies, "AF_???") }

var xSockTypes = map[uint64]string{
	unix.SOCK_STREAM: "SOCK_STREAM", unix.SOCK_DGRAM: "SOCK_DGRAM",
	unix.SOCK_RAW: "SOCK_RAW", unix.SOCK_RDM: "SOCK_RDM",
	unix.SOCK_SEQPACKET: "SOCK_SEQPACKET", unix.SOCK_DCCP: "SOCK_DCCP",
	unix.SOCK_PACKET: "SOCK_PACKET",
}

var xSockFlags = []stBit{
	{unix.SOCK_NONBLOCK, "SOCK_NONBLOCK"}, {unix.SOCK_CLOEXEC, "SOCK_CLOEXEC"},
}

// stSockType renders socket(2)'s type argument: a type and flags.
func stSockType(v uint64) string {
	v = uint64(uint32(v))
	t := v & 0xf
	var parts []string
	if n, ok := xSockTypes[t]; ok {
		parts = append(parts, n)
		v &^= 0xf
	}
	var known uint64
	for _, b := range xSockFlags {
		if v&b.v != 0 {
			parts = append(parts, b.name)
			known |= b.v
		}
	}
	if rest := v &^ known; rest != 0 {
		parts = append(parts, stHex(rest))
	}
	if len(parts) == 0 {
		return "0"
	}
	return strings.Join(parts, "|")
}

var xIPProtos = map[uint64]string{
	unix.IPPROTO_IP: "IPPROTO_IP", unix.IPPROTO_ICMP: "IPPROTO_ICMP",
	unix.IPPROTO_IGMP: "IPPROTO_IGMP", unix.IPPROTO_IPIP: "IPPROTO_IPIP",
	unix.IPPROTO_TCP: "IPPROTO_TCP", unix.IPPROTO_EGP: "IPPROTO_EGP",
	unix.IPPROTO_PUP: "IPPROTO_PUP", unix.IPPROTO_UDP: "IPPROTO_UDP",
	unix.IPPROTO_IDP: "IPPROTO_IDP", unix.IPPROTO_TP: "IPPROTO_TP",
	unix.IPPROTO_DCCP: "IPPROTO_DCCP", unix.IPPROTO_IPV6: "IPPROTO_IPV6",
	unix.IPPROTO_RSVP: "IPPROTO_RSVP", unix.IPPROTO_GRE: "IPPROTO_GRE",
	unix.IPPROTO_ESP: "IPPROTO_ESP", unix.IPPROTO_AH: "IPPROTO_AH",
	unix.IPPROTO_ICMPV6: "IPPROTO_ICMPV6", unix.IPPROTO_MTP: "IPPROTO_MTP",
	unix.IPPROTO_BEETPH: "IPPROTO_BEETPH", unix.IPPROTO_ENCAP: "IPPROTO_ENCAP",
	unix.IPPROTO_PIM: "IPPROTO_PIM", unix.IPPROTO_COMP: "IPPROTO_COMP",
	unix.IPPROTO_L2TP: "IPPROTO_L2TP", unix.IPPROTO_SCTP: "IPPROTO_SCTP",
	unix.IPPROTO_UDPLITE: "IPPROTO_UDPLITE", unix.IPPROTO_MPLS: "IPPROTO_MPLS",
	unix.IPPROTO_ETHERNET: "IPPROTO_ETHERNET", unix.IPPROTO_RAW: "IPPROTO_RAW",
	unix.IPPROTO_MPTCP: "IPPROTO_MPTCP",
}

var xNetlinkProtos = map[uint64]string{
	unix.NETLINK_ROUTE: "NETLINK_ROUTE", unix.NETLINK_UNUSED: "NETLINK_UNUSED",
	unix.NETLINK_USERSOCK: "NETLINK_USERSOCK", unix.NETLINK_FIREWALL: "NETLINK_FIREWALL",
	unix.NETLINK_SOCK_DIAG: "NETLINK_SOCK_DIAG", unix.NETLINK_NFLOG: "NETLINK_NFLOG",
	unix.NETLINK_XFRM: "NETLINK_XFRM", unix.NETLINK_SELINUX: "NETLINK_SELINUX",
	unix.NETLINK_ISCSI: "NETLINK_ISCSI", unix.NETLINK_AUDIT: "NETLINK_AUDIT",
	unix.NETLINK_FIB_LOOKUP: "NETLINK_FIB_LOOKUP", unix.NETLINK_CONNECTOR: "NETLINK_CONNECTOR",
	unix.NETLINK_NETFILTER: "NETLINK_NETFILTER", unix.NETLINK_IP6_FW: "NETLINK_IP6_FW",
	unix.NETLINK_DNRTMSG: "NETLINK_DNRTMSG", unix.NETLINK_KOBJECT_UEVENT: "NETLINK_KOBJECT_UEVENT",
	unix.NETLINK_GENERIC: "NETLINK_GENERIC", unix.NETLINK_SCSITRANSPORT: "NETLINK_SCSITRANSPORT",
	unix.NETLINK_ECRYPTFS: "NETLINK_ECRYPTFS", unix.NETLINK_RDMA: "NETLINK_RDMA",
	unix.NETLINK_CRYPTO: "NETLINK_CRYPTO", unix.NETLINK_SMC: "NETLINK_SMC",
}

var xMsgFlags = []stBit{
	{unix.MSG_OOB, "MSG_OOB"}, {unix.MSG_PEEK, "MSG_PEEK"},
	{unix.MSG_DONTROUTE, "MSG_DONTROUTE"}, {unix.MSG_CTRUNC, "MSG_CTRUNC"},
	{unix.MSG_PROXY, "MSG_PROXY"}, {unix.MSG_TRUNC, "MSG_TRUNC"},
	{unix.MSG_DONTWAIT, "MSG_DONTWAIT"}, {unix.MSG_EOR, "MSG_EOR"},
	{unix.MSG_WAITALL, "MSG_WAITALL"}, {unix.MSG_FIN, "MSG_FIN"},
	{unix.MSG_SYN, "MSG_SYN"}, {unix.MSG_CONFIRM, "MSG_CONFIRM"},
	{unix.MSG_RST, "MSG_RST"}, {unix.MSG_ERRQUEUE, "MSG_ERRQUEUE"},
	{unix.MSG_NOSIGNAL, "MSG_NOSIGNAL"}, {unix.MSG_MORE, "MSG_MORE"},
	{unix.MSG_WAITFORONE, "MSG_WAITFORONE"}, {unix.MSG_BATCH, "MSG_BATCH"},
	{unix.MSG_ZEROCOPY, "MSG_ZEROCOPY"}, {unix.MSG_FASTOPEN, "MSG_FASTOPEN"},
	{unix.MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"},
}

var xShutdown = map[uint64]string{
	unix.SHUT_RD: "SHUT_RD", unix.SHUT_WR: "SHUT_WR", unix.SHUT_RDWR: "SHUT_RDWR",
}

var xSockLevels = map[uint64]string{
	unix.SOL_IP: "SOL_IP", unix.SOL_SOCKET: "SOL_SOCKET", unix.SOL_TCP: "SOL_TCP",
	unix.SOL_UDP: "SOL_UDP", unix.SOL_IPV6: "SOL_IPV6", unix.SOL_ICMPV6: "SOL_ICMPV6",
	unix.SOL_RAW: "SOL_RAW", unix.SOL_PACKET: "SOL_PACKET",
	unix.SOL_NETLINK: "SOL_NETLINK", unix.SOL_ALG: "SOL_ALG",
}

var xSockOpts = map[uint64]map[uint64]string{
	unix.SOL_SOCKET: {
		unix.SO_DEBUG: "SO_DEBUG", unix.SO_REUSEADDR: "SO_REUSEADDR",
		unix.SO_TYPE: "SO_TYPE", unix.SO_ERROR: "SO_ERROR",
		unix.SO_DONTROUTE: "SO_DONTROUTE", unix.SO_BROADCAST: "SO_BROADCAST",
		unix.SO_SNDBUF: "SO_SNDBUF", unix.SO_RCVBUF: "SO_RCVBUF",
		unix.SO_KEEPALIVE: "SO_KEEPALIVE", unix.SO_OOBINLINE: "SO_OOBINLINE",
		unix.SO_NO_CHECK: "SO_NO_CHECK", unix.SO_PRIORITY: "SO_PRIORITY",
		unix.SO_LINGER: "SO_LINGER", unix.SO_BSDCOMPAT: "SO_BSDCOMPAT",
		unix.SO_REUSEPORT: "SO_REUSEPORT", unix.SO_PASSCRED: "SO_PASSCRED",
		unix.SO_PEERCRED: "SO_PEERCRED", unix.SO_RCVLOWAT: "SO_RCVLOWAT",
		unix.SO_SNDLOWAT: "SO_SNDLOWAT", unix.SO_RCVTIMEO_OLD: "SO_RCVTIMEO_OLD",
		unix.SO_SNDTIMEO_OLD: "SO_SNDTIMEO_OLD", unix.SO_BINDTODEVICE: "SO_BINDTODEVICE",
		unix.SO_ATTACH_FILTER: "SO_ATTACH_FILTER", unix.SO_DETACH_FILTER: "SO_DETACH_FILTER",
		unix.SO_PEERNAME: "SO_PEERNAME", unix.SO_TIMESTAMP_OLD: "SO_TIMESTAMP_OLD",
		unix.SO_ACCEPTCONN: "SO_ACCEPTCONN", unix.SO_PEERSEC: "SO_PEERSEC",
		unix.SO_SNDBUFFORCE: "SO_SNDBUFFORCE", unix.SO_RCVBUFFORCE: "SO_RCVBUFFORCE",
		unix.SO_PASSSEC: "SO_PASSSEC", unix.SO_MARK: "SO_MARK",
		unix.SO_PROTOCOL: "SO_PROTOCOL", unix.SO_DOMAIN: "SO_DOMAIN",
		unix.SO_RXQ_OVFL: "SO_RXQ_OVFL", unix.SO_PEEK_OFF: "SO_PEEK_OFF",
		unix.SO_BUSY_POLL: "SO_BUSY_POLL", unix.SO_INCOMING_CPU: "SO_INCOMING_CPU",
		unix.SO_ATTACH_BPF: "SO_ATTACH_BPF", unix.SO_PEERGROUPS: "SO_PEERGROUPS",
		unix.SO_ZEROCOPY: "SO_ZEROCOPY", unix.SO_COOKIE: "SO_COOKIE",
		unix.SO_RCVTIMEO_NEW: "SO_RCVTIMEO_NEW", unix.SO_SNDTIMEO_NEW: "SO_SNDTIMEO_NEW",
	},
	unix.SOL_TCP: {
		unix.TCP_NODELAY: "TCP_NODELAY", unix.TCP_MAXSEG: "TCP_MAXSEG",
		unix.TCP_CORK: "TCP_CORK", unix.TCP_KEEPIDLE: "TCP_KEEPIDLE",
		unix.TCP_KEEPINTVL: "TCP_KEEPINTVL", unix.TCP_KEEPCNT: "TCP_KEEPCNT",
		unix.TCP_SYNCNT: "TCP_SYNCNT", unix.TCP_LINGER2: "TCP_LINGER2",
		unix.TCP_DEFER_ACCEPT: "TCP_DEFER_ACCEPT", unix.TCP_WINDOW_CLAMP: "TCP_WINDOW_CLAMP",
		unix.TCP_INFO: "TCP_INFO", unix.TCP_QUICKACK: "TCP_QUICKACK",
		unix.TCP_CONGESTION: "TCP_CONGESTION", unix.TCP_USER_TIMEOUT: "TCP_USER_TIMEOUT",
		unix.TCP_FASTOPEN: "TCP_FASTOPEN", unix.TCP_NOTSENT_LOWAT: "TCP_NOTSENT_LOWAT",
	},
	unix.SOL_IP: {
		unix.IP_TOS: "IP_TOS", unix.IP_TTL: "IP_TTL", unix.IP_HDRINCL: "IP_HDRINCL",
		unix.IP_OPTIONS: "IP_OPTIONS", unix.IP_RECVOPTS: "IP_RECVOPTS",
		unix.IP_PKTINFO: "IP_PKTINFO", unix.IP_MTU_DISCOVER: "IP_MTU_DISCOVER",
		unix.IP_RECVERR: "IP_RECVERR", unix.IP_RECVTTL: "IP_RECVTTL",
		unix.IP_RECVTOS: "IP_RECVTOS", unix.IP_MTU: "IP_MTU",
		unix.IP_FREEBIND: "IP_FREEBIND", unix.IP_TRANSPARENT: "IP_TRANSPARENT",
		unix.IP_MULTICAST_IF: "IP_MULTICAST_IF", unix.IP_MULTICAST_TTL: "IP_MULTICAST_TTL",
		unix.IP_MULTICAST_LOOP: "IP_MULTICAST_LOOP", unix.IP_ADD_MEMBERSHIP: "IP_ADD_MEMBERSHIP",
		unix.IP_DROP_MEMBERSHIP: "IP_DROP_MEMBERSHIP",
	},
	unix.SOL_IPV6: {
		unix.IPV6_V6ONLY: "IPV6_V6ONLY", unix.IPV6_RECVERR: "IPV6_RECVERR",
		unix.IPV6_UNICAST_HOPS: "IPV6_UNICAST_HOPS", unix.IPV6_MULTICAST_IF: "IPV6_MULTICAST_IF",
		unix.IPV6_MULTICAST_HOPS: "IPV6_MULTICAST_HOPS", unix.IPV6_MULTICAST_LOOP: "IPV6_MULTICAST_LOOP",
		unix.IPV6_RECVPKTINFO: "IPV6_RECVPKTINFO", unix.IPV6_TCLASS: "IPV6_TCLASS",
		unix.IPV6_MTU_DISCOVER: "IPV6_MTU_DISCOVER",
	},
}

var xPollEvents = []stBit{
	{unix.POLLIN, "POLLIN"}, {unix.POLLPRI, "POLLPRI"}, {unix.POLLOUT, "POLLOUT"},
	{unix.POLLERR, "POLLERR"}, {unix.POLLHUP, "POLLHUP"}, {unix.POLLNVAL, "POLLNVAL"},
	{0x40, "POLLRDNORM"}, {0x80, "POLLRDBAND"},
	{0x100, "POLLWRNORM"}, {0x200, "POLLWRBAND"},
	{0x400, "POLLMSG"}, {0x1000, "POLLREMOVE"},
	{unix.POLLRDHUP, "POLLRDHUP"}, {0x8000, "POLL_BUSY_LOOP"},
}

var xEpollEvents = []stBit{
	{unix.EPOLLIN, "EPOLLIN"}, {unix.EPOLLPRI, "EPOLLPRI"}, {unix.EPOLLOUT, "EPOLLOUT"},
	{unix.EPOLLERR, "EPOLLERR"}, {unix.EPOLLHUP, "EPOLLHUP"}, {0x20, "EPOLLNVAL"},
	{unix.EPOLLRDNORM, "EPOLLRDNORM"}, {unix.EPOLLRDBAND, "EPOLLRDBAND"},
	{unix.EPOLLWRNORM, "EPOLLWRNORM"}, {unix.EPOLLWRBAND, "EPOLLWRBAND"},
	{unix.EPOLLMSG, "EPOLLMSG"}, {unix.EPOLLRDHUP, "EPOLLRDHUP"},
	{unix.EPOLLEXCLUSIVE, "EPOLLEXCLUSIVE"}, {unix.EPOLLWAKEUP, "EPOLLWAKEUP"},
	{unix.EPOLLONESHOT, "EPOLLONESHOT"}, {1 << 31, "EPOLLET"},
}

var xEpollCtlOps = map[uint64]string{
	unix.EPOLL_CTL_ADD: "EPOLL_CTL_ADD", unix.EPOLL_CTL_DEL: "EPOLL_CTL_DEL",
	unix.EPOLL_CTL_MOD: "EPOLL_CTL_MOD",
}

var xEpollCreateFlags = []stBit{{unix.EPOLL_CLOEXEC, "EPOLL_CLOEXEC"}}

var xEventfdFlags = []stBit{
	{unix.EFD_SEMAPHORE, "EFD_SEMAPHORE"}, {unix.EFD_CLOEXEC, "EFD_CLOEXEC"},
	{unix.EFD_NONBLOCK, "EFD_NONBLOCK"},
}

var xTfdFlags = []stBit{{unix.TFD_CLOEXEC, "TFD_CLOEXEC"}, {unix.TFD_NONBLOCK, "TFD_NONBLOCK"}}

var xTfdSetFlags = []stBit{
	{unix.TFD_TIMER_ABSTIME, "TFD_TIMER_ABSTIME"},
	{unix.TFD_TIMER_CANCEL_ON_SET, "TFD_TIMER_CANCEL_ON_SET"},
}

var xSfdFlags = []stBit{{unix.SFD_CLOEXEC, "SFD_CLOEXEC"}, {unix.SFD_NONBLOCK, "SFD_NONBLOCK"}}

var xInotifyInitFlags = []stBit{{unix.IN_CLOEXEC, "IN_CLOEXEC"}, {unix.IN_NONBLOCK, "IN_NONBLOCK"}}
var xInotifyMask = []stBit{
	{unix.IN_ACCESS, "IN_ACCESS"}, {unix.IN_MODIFY, "IN_MODIFY"}, {unix.IN_ATTRIB, "IN_ATTRIB"},
	{unix.IN_CLOSE_WRITE, "IN_CLOSE_WRITE"}, {unix.IN_CLOSE_NOWRITE, "IN_CLOSE_NOWRITE"}, {unix.IN_OPEN, "IN_OPEN"},
	{unix.IN_MOVED_FROM, "IN_MOVED_FROM"}, {unix.IN_MOVED_TO, "IN_MOVED_TO"}, {unix.IN_CREATE, "IN_CREATE"},
	{unix.IN_DELETE, "IN_DELETE"}, {unix.IN_DELETE_SELF, "IN_DELETE_SELF"}, {unix.IN_MOVE_SELF, "IN_MOVE_SELF"},
	{unix.IN_UNMOUNT, "IN_UNMOUNT"}, {unix.IN_Q_OVERFLOW, "IN_Q_OVERFLOW"}, {unix.IN_IGNORED, "IN_IGNORED"},
	{unix.IN_ONLYDIR, "IN_ONLYDIR"}, {unix.IN_DONT_FOLLOW, "IN_DONT_FOLLOW"}, {unix.IN_EXCL_UNLINK, "IN_EXCL_UNLINK"},
	{unix.IN_MASK_CREATE, "IN_MASK_CREATE"}, {unix.IN_MASK_ADD, "IN_MASK_ADD"}, {unix.IN_ISDIR, "IN_ISDIR"},
	{unix.IN_ONESHOT, "IN_ONESHOT"},
}

var xMfdFlags = []stBit{
	{unix.MFD_CLOEXEC, "MFD_CLOEXEC"}, {unix.MFD_ALLOW_SEALING, "MFD_ALLOW_SEALING"},
	{unix.MFD_HUGETLB, "MFD_HUGETLB"}, {unix.MFD_NOEXEC_SEAL, "MFD_NOEXEC_SEAL"},
	{unix.MFD_EXEC, "MFD_EXEC"},
}

var xCloseRangeFlags = []stBit{
	{unix.CLOSE_RANGE_UNSHARE, "CLOSE_RANGE_UNSHARE"},
	{unix.CLOSE_RANGE_CLOEXEC, "CLOSE_RANGE_CLOEXEC"},
}

var xPidfdFlags = []stBit{{unix.PIDFD_NONBLOCK, "PIDFD_NONBLOCK"}}

var xFallocFlags = []stBit{
	{unix.FALLOC_FL_KEEP_SIZE, "FALLOC_FL_KEEP_SIZE"},
	{unix.FALLOC_FL_PUNCH_HOLE, "FALLOC_FL_PUNCH_HOLE"},
	{unix.FALLOC_FL_NO_HIDE_STALE, "FALLOC_FL_NO_HIDE_STALE"},
	{unix.FALLOC_FL_COLLAPSE_RANGE, "FALLOC_FL_COLLAPSE_RANGE"},
	{unix.FALLOC_FL_ZERO_RANGE, "FALLOC_FL_ZERO_RANGE"},
	{unix.FALLOC_FL_INSERT_RANGE, "FALLOC_FL_INSERT_RANGE"},
	{unix.FALLOC_FL_UNSHARE_RANGE, "FALLOC_FL_UNSHARE_RANGE"},
}

var xFadvise = map[uint64]string{
	unix.FADV_NORMAL: "POSIX_FADV_NORMAL", unix.FADV_RANDOM: "POSIX_FADV_RANDOM",
	unix.FADV_SEQUENTIAL: "POSIX_FADV_SEQUENTIAL", unix.FADV_WILLNEED: "POSIX_FADV_WILLNEED",
	unix.FADV_DONTNEED: "POSIX_FADV_DONTNEED", unix.FADV_NOREUSE: "POSIX_FADV_NOREUSE",
}

var xRWFFlags = []stBit{
	{unix.RWF_HIPRI, "RWF_HIPRI"}, {unix.RWF_DSYNC, "RWF_DSYNC"},
	{unix.RWF_SYNC, "RWF_SYNC"}, {unix.RWF_NOWAIT, "RWF_NOWAIT"},
	{unix.RWF_APPEND, "RWF_APPEND"}, {0x20, "RWF_NOAPPEND"},
	{0x40, "RWF_ATOMIC"}, {0x80, "RWF_DONTCACHE"},
}

var xMountFlags = []stBit{
	{unix.MS_RDONLY, "MS_RDONLY"}, {unix.MS_NOSUID, "MS_NOSUID"},
	{unix.MS_NODEV, "MS_NODEV"}, {unix.MS_NOEXEC, "MS_NOEXEC"},
	{unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {unix.MS_REMOUNT, "MS_REMOUNT"},
	{unix.MS_MANDLOCK, "MS_MANDLOCK"}, {unix.MS_DIRSYNC, "MS_DIRSYNC"},
	{unix.MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"}, {unix.MS_NOATIME, "MS_NOATIME"},
	{unix.MS_NODIRATIME, "MS_NODIRATIME"}, {unix.MS_BIND, "MS_BIND"},
	{unix.MS_MOVE, "MS_MOVE"}, {unix.MS_REC, "MS_REC"},
	{unix.MS_SILENT, "MS_SILENT"}, {unix.MS_POSIXACL, "MS_POSIXACL"},
	{unix.MS_UNBINDABLE, "MS_UNBINDABLE"}, {unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_SLAVE, "MS_SLAVE"}, {unix.MS_SHARED, "MS_SHARED"},
	{unix.MS_RELATIME, "MS_RELATIME"}, {unix.MS_KERNMOUNT, "MS_KERNMOUNT"},
	{unix.MS_I_VERSION, "MS_I_VERSION"}, {unix.MS_STRICTATIME, "MS_STRICTATIME"},
	{unix.MS_LAZYTIME, "MS_LAZYTIME"},
}

var xUmountFlags = []stBit{
	{unix.MNT_FORCE, "MNT_FORCE"}, {unix.MNT_DETACH, "MNT_DETACH"},
	{unix.MNT_EXPIRE, "MNT_EXPIRE"}, {unix.UMOUNT_NOFOLLOW, "UMOUNT_NOFOLLOW"},
}

var xPrctlOpts = map[uint64]string{
	unix.PR_SET_PDEATHSIG: "PR_SET_PDEATHSIG", unix.PR_GET_PDEATHSIG: "PR_GET_PDEATHSIG",
	unix.PR_GET_DUMPABLE: "PR_GET_DUMPABLE", unix.PR_SET_DUMPABLE: "PR_SET_DUMPABLE",
	unix.PR_GET_KEEPCAPS: "PR_GET_KEEPCAPS", unix.PR_SET_KEEPCAPS: "PR_SET_KEEPCAPS",
	unix.PR_SET_NAME: "PR_SET_NAME", unix.PR_GET_NAME: "PR_GET_NAME",
	unix.PR_GET_SECCOMP: "PR_GET_SECCOMP", unix.PR_SET_SECCOMP: "PR_SET_SECCOMP",
	unix.PR_CAPBSET_READ: "PR_CAPBSET_READ", unix.PR_CAPBSET_DROP: "PR_CAPBSET_DROP",
	unix.PR_GET_TIMERSLACK: "PR_GET_TIMERSLACK", unix.PR_SET_TIMERSLACK: "PR_SET_TIMERSLACK",
	unix.PR_SET_MM: "PR_SET_MM", unix.PR_SET_CHILD_SUBREAPER: "PR_SET_CHILD_SUBREAPER",
	unix.PR_GET_CHILD_SUBREAPER: "PR_GET_CHILD_SUBREAPER",
	unix.PR_SET_NO_NEW_PRIVS:    "PR_SET_NO_NEW_PRIVS", unix.PR_GET_NO_NEW_PRIVS: "PR_GET_NO_NEW_PRIVS",
	unix.PR_GET_TID_ADDRESS: "PR_GET_TID_ADDRESS", unix.PR_SET_THP_DISABLE: "PR_SET_THP_DISABLE",
	unix.PR_GET_THP_DISABLE: "PR_GET_THP_DISABLE", unix.PR_CAP_AMBIENT: "PR_CAP_AMBIENT",
	unix.PR_GET_SPECULATION_CTRL: "PR_GET_SPECULATION_CTRL",
	unix.PR_SET_SPECULATION_CTRL: "PR_SET_SPECULATION_CTRL",
	unix.PR_SET_TAGGED_ADDR_CTRL: "PR_SET_TAGGED_ADDR_CTRL",
	unix.PR_GET_TAGGED_ADDR_CTRL: "PR_GET_TAGGED_ADDR_CTRL",
	unix.PR_SET_PTRACER:          "PR_SET_PTRACER", unix.PR_SCHED_CORE: "PR_SCHED_CORE",
	unix.PR_SET_MDWE: "PR_SET_MDWE", unix.PR_GET_MDWE: "PR_GET_MDWE",
	unix.PR_SET_VMA: "PR_SET_VMA", unix.PR_SET_SECUREBITS: "PR_SET_SECUREBITS",
	unix.PR_GET_SECUREBITS: "PR_GET_SECUREBITS",
}

var xRusageWho = map[uint64]string{
	0: "RUSAGE_SELF", 0xffffffff: "RUSAGE_CHILDREN", 1: "RUSAGE_THREAD",
}

var xItimers = map[uint64]string{0: "ITIMER_REAL", 1: "ITIMER_VIRTUAL", 2: "ITIMER_PROF"}

var xPrioWhich = map[uint64]string{0: "PRIO_PROCESS", 1: "PRIO_PGRP", 2: "PRIO_USER"}

var xRseqFlags = []stBit{{1, "RSEQ_FLAG_UNREGISTER"}}

var xStatxMask = []stBit{
	{0xfff, "STATX_ALL"}, {0x7ff, "STATX_BASIC_STATS"},
	{unix.STATX_TYPE, "STATX_TYPE"}, {unix.STATX_MODE, "STATX_MODE"},
	{unix.STATX_NLINK, "STATX_NLINK"}, {unix.STATX_UID, "STATX_UID"},
	{unix.STATX_GID, "STATX_GID"}, {unix.STATX_ATIME, "STATX_ATIME"},
	{unix.STATX_MTIME, "STATX_MTIME"}, {unix.STATX_CTIME, "STATX_CTIME"},
	{unix.STATX_INO, "STATX_INO"}, {unix.STATX_SIZE, "STATX_SIZE"},
	{unix.STATX_BLOCKS, "STATX_BLOCKS"}, {unix.STATX_BTIME, "STATX_BTIME"},
	{unix.STATX_MNT_ID, "STATX_MNT_ID"}, {unix.STATX_DIOALIGN, "STATX_DIOALIGN"},
	{0x4000, "STATX_MNT_ID_UNIQUE"}, {0x8000, "STATX_SUBVOL"},
	{0x10000, "STATX_WRITE_ATOMIC"}, {0x20000, "STATX_DIO_READ_ALIGN"},
}

var xStatxAttrs = []stBit{
	{unix.STATX_ATTR_COMPRESSED, "STATX_ATTR_COMPRESSED"},
	{unix.STATX_ATTR_IMMUTABLE, "STATX_ATTR_IMMUTABLE"},
	{unix.STATX_ATTR_APPEND, "STATX_ATTR_APPEND"},
	{unix.STATX_ATTR_NODUMP, "STATX_ATTR_NODUMP"},
	{unix.STATX_ATTR_ENCRYPTED, "STATX_ATTR_ENCRYPTED"},
	{unix.STATX_ATTR_AUTOMOUNT, "STATX_ATTR_AUTOMOUNT"},
	{unix.STATX_ATTR_MOUNT_ROOT, "STATX_ATTR_MOUNT_ROOT"},
	{unix.STATX_ATTR_VERITY, "STATX_ATTR_VERITY"},
	{unix.STATX_ATTR_DAX, "STATX_ATTR_DAX"},
	{0x400000, "STATX_ATTR_WRITE_ATOMIC"},
}

var xFileTypes = map[uint64]string{
	unix.S_IFSOCK: "S_IFSOCK", unix.S_IFLNK: "S_IFLNK", unix.S_IFREG: "S_IFREG",
	unix.S_IFBLK: "S_IFBLK", unix.S_IFDIR: "S_IFDIR", unix.S_IFCHR: "S_IFCHR",
	unix.S_IFIFO: "S_IFIFO",
}

// stMode renders a file mode with its type: S_IFREG|0644.
func stMode(m uint64) string {
	t := m & unix.S_IFMT
	perm := stOctal(m &^ unix.S_IFMT)
	if t == 0 {
		return perm
	}
	if n, ok := xFileTypes[t]; ok {
		return n + "|" + perm
	}
	return stOctal(m)
}

// stMakedev renders a device number (glibc's encoding of a 64-bit dev_t).
func stMakedev(dev uint64) string {
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	return "makedev(" + stHex(major&0xffffffff) + ", " + stHex(minor&0xffffffff) + ")"
}

// ---- decoders ----

// stArg renders one argument value.
type stArg func(c *stCall, v uint64) string

func stAHex(_ *stCall, v uint64) string   { return stHex(v) }
func stAPtr(_ *stCall, v uint64) string   { return stPtr(v) }
func stAInt(_ *stCall, v uint64) string   { return stInt(v) }
func stAUint(_ *stCall, v uint64) string  { return stUint(v) }
func stALong(_ *stCall, v uint64) string  { return stLong(v) }
func stAUlong(_ *stCall, v uint64) string { return stUlong(v) }
func stADirFD(_ *stCall, v uint64) string { return stDirFD(v) }
func stAMode(_ *stCall, v uint64) string  { return stOctal(uint64(uint32(v))) }
func stASig(_ *stCall, v uint64) string   { return stSig(v) }
func stAPath(c *stCall, v uint64) string  { return c.path(v) }
func stAStr(c *stCall, v uint64) string   { return c.str(v) }
func stAClock(_ *stCall, v uint64) string { return stClock(v) }

func stASigset(c *stCall, v uint64) string   { return c.sigset(v, false) }
func stATimespec(c *stCall, v uint64) string { return c.timespec(v) }

// stAFD renders a file descriptor (an int).
var stAFD = stAInt

func stAFlags(tbl []stBit, unknown string) stArg {
	return func(_ *stCall, v uint64) string { return stFlags(v, tbl, unknown) }
}

func stAFlags32(tbl []stBit, unknown string) stArg {
	return func(_ *stCall, v uint64) string { return stFlags(uint64(uint32(v)), tbl, unknown) }
}

func stAEnum(tbl map[uint64]string, unknown string) stArg {
	return func(_ *stCall, v uint64) string { return stEnum(uint64(uint32(v)), tbl, unknown) }
}

// sig builds a decoder that renders each argument with its own function.
func stArgs(fns ...stArg) func(*stCall) {
	return func(c *stCall) {
		for i, f := range fns {
			c.add(f(c, c.a[i]))
		}
	}
}

// stDecoders holds the syscalls decoded beyond raw hex.
var stDecoders map[uintptr]func(*stCall)

func init() {
	atFlags := stAFlags32(xAtFlags, "AT_???")
	mapFlags := func(_ *stCall, v uint64) string { return stMmapFlags(v) }
	prot := stAFlags(xProt, "PROT_???")
	accessMode := stAFlags32(xAccessModes, "?_OK")
	chown := []stArg{stAPath, stAInt, stAInt}

	stDecoders = map[uintptr]func(*stCall){
		SysRead:     (*stCall).sysRead,
		SysWrite:    (*stCall).sysWrite,
		SysPread64:  (*stCall).sysRead,
		SysPwrite64: (*stCall).sysWrite,
		SysReadv:    (*stCall).sysReadv,
		SysWritev:   (*stCall).sysWritev,
		SysPreadv:   (*stCall).sysReadv,
		SysPwritev:  (*stCall).sysWritev,
		SysPreadv2:  (*stCall).sysReadv,
		SysPwritev2: (*stCall).sysWritev,

		SysOpen:       (*stCall).sysOpen,
		SysOpenat:     (*stCall).sysOpen,
		SysOpenat2:    (*stCall).sysOpenat2,
		SysCreat:      stArgs(stAPath, stAMode),
		SysClose:      stArgs(stAFD),
		SysStat:       (*stCall).sysStat,
		SysLstat:      (*stCall).sysStat,
		SysFstat:      (*stCall).sysStat,
		SysNewfstatat: (*stCall).sysStat,
		SysStatx:      (*stCall).sysStatx,
		SysLseek:      stArgs(stAFD, stALong, stAEnum(xWhence, "SEEK_???")),

		SysMmap:         stArgs(stAPtr, stAUlong, prot, mapFlags, stAFD, stAHex),
		SysMprotect:     stArgs(stAPtr, stAUlong, prot),
		SysPkeyMprotect: stArgs(stAPtr, stAUlong, prot, stAInt),
		SysMunmap:       stArgs(stAPtr, stAUlong),
		SysBrk:          stArgs(stAPtr),
		SysMremap:       (*stCall).sysMremap,
		SysMadvise:      stArgs(stAPtr, stAUlong, stAEnum(xMadvise, "MADV_???")),
		SysMsync:        stArgs(stAPtr, stAUlong, stAFlags(xMsyncFlags, "MS_???")),
		SysMlock:        stArgs(stAPtr, stAUlong),
		SysMunlock:      stArgs(stAPtr, stAUlong),
		SysMlockall:     stArgs(stAFlags(xMlockallFlags, "MCL_???")),

		SysRtSigaction:      (*stCall).sysRtSigaction,
		SysRtSigprocmask:    (*stCall).sysRtSigprocmask,
		SysRtSigsuspend:     func(c *stCall) { c.add(c.sigsetN(c.a[0], false, c.a[1]), stUlong(c.a[1])) },
		SysRtSigpending:     func(c *stCall) { c.add(c.sigsetN(c.a[0], true, c.a[1]), stUlong(c.a[1])) },
		SysRtSigtimedwait:   stArgs(stASigset, stAPtr, stATimespec, stAUlong),
		SysRtSigqueueinfo:   stArgs(stAInt, stASig, stAPtr),
		SysRtTgsigqueueinfo: stArgs(stAInt, stAInt, stASig, stAPtr),
		SysSigaltstack:      (*stCall).sysSigaltstack,
		SysSignalfd:         stArgs(stAFD, stASigset, stAUlong),
		SysSignalfd4:        stArgs(stAFD, stASigset, stAUlong, stAFlags(xSfdFlags, "SFD_???")),
		SysKill:             stArgs(stAInt, stASig),
		SysTkill:            stArgs(stAInt, stASig),
		SysTgkill:           stArgs(stAInt, stAInt, stASig),
		SysPidfdSendSignal:  stArgs(stAFD, stASig, stAPtr, stAUint),
		SysIoctl:            (*stCall).sysIoctl,

		SysAccess:     stArgs(stAPath, accessMode),
		SysFaccessat:  stArgs(stADirFD, stAPath, accessMode),
		SysFaccessat2: stArgs(stADirFD, stAPath, accessMode, stAFlags32(xFaccessatFlags, "AT_???")),

		SysExecve:    (*stCall).sysExecve,
		SysExecveat:  (*stCall).sysExecve,
		SysExit:      stArgs(stAInt),
		SysExitGroup: stArgs(stAInt),
		SysWait4:     (*stCall).sysWait4,
		SysWaitid:    stArgs(stAEnum(xIDTypes, "P_???"), stAInt, stAPtr, stAFlags32(xWaitOpts, "W???"), stAPtr),
		SysClone:     (*stCall).sysClone,
		SysClone3:    (*stCall).sysClone3,
		SysUnshare:   stArgs(stAFlags(xCloneFlags, "CLONE_???")),
		SysSetns:     stArgs(stAFD, stAFlags(xCloneFlags, "CLONE_???")),

		SysUname:         (*stCall).sysUname,
		SysArchPrctl:     (*stCall).sysArchPrctl,
		SysSetTidAddress: stArgs(stAHex),
		SysSetRobustList: stArgs(stAPtr, stAUlong),
		SysRseq:          stArgs(stAPtr, stAHex, stAFlags32(xRseqFlags, "RSEQ_FLAG_???"), stAHex),
		SysPrlimit64:     (*stCall).sysPrlimit64,
		SysGetrlimit:     (*stCall).sysGetrlimit,
		SysSetrlimit:     (*stCall).sysGetrlimit,
		SysGetrusage:     (*stCall).sysGetrusage,
		SysGetrandom:     (*stCall).sysGetrandom,
		SysPrctl:         (*stCall).sysPrctl,

		SysClockGettime:   (*stCall).sysClockGettime,
		SysClockGetres:    (*stCall).sysClockGettime,
		SysClockSettime:   stArgs(stAClock, stATimespec),
		SysClockNanosleep: (*stCall).sysClockNanosleep,
		SysNanosleep:      (*stCall).sysNanosleep,
		SysGettimeofday:   (*stCall).sysGettimeofday,
		SysGetitimer:      (*stCall).sysItimer,
		SysSetitimer:      (*stCall).sysItimer,
		SysAlarm:          stArgs(stAUint),
		SysTimerfdCreate:  stArgs(stAClock, stAFlags32(xTfdFlags, "TFD_???")),
		SysTimerfdSettime: (*stCall).sysTimerfdSettime,
		SysTimerfdGettime: func(c *stCall) { c.add(stInt(c.a[0]), c.itimerspec(c.a[1], true)) },

		SysGetdents:      (*stCall).sysGetdents,
		SysGetdents64:    (*stCall).sysGetdents,
		SysReadlink:      (*stCall).sysReadlink,
		SysReadlinkat:    (*stCall).sysReadlink,
		SysGetcwd:        (*stCall).sysGetcwd,
		SysChdir:         stArgs(stAPath),
		SysFchdir:        stArgs(stAFD),
		SysChroot:        stArgs(stAPath),
		SysMkdir:         stArgs(stAPath, stAMode),
		SysMkdirat:       stArgs(stADirFD, stAPath, stAMode),
		SysMknod:         (*stCall).sysMknod,
		SysMknodat:       (*stCall).sysMknod,
		SysRmdir:         stArgs(stAPath),
		SysUnlink:        stArgs(stAPath),
		SysUnlinkat:      stArgs(stADirFD, stAPath, stAFlags32(xUnlinkatFlags, "AT_???")),
		SysRename:        stArgs(stAPath, stAPath),
		SysRenameat:      stArgs(stADirFD, stAPath, stADirFD, stAPath),
		SysRenameat2:     stArgs(stADirFD, stAPath, stADirFD, stAPath, stAFlags32(xRenameFlags, "RENAME_???")),
		SysLink:          stArgs(stAPath, stAPath),
		SysLinkat:        stArgs(stADirFD, stAPath, stADirFD, stAPath, atFlags),
		SysSymlink:       stArgs(stAPath, stAPath),
		SysSymlinkat:     stArgs(stAPath, stADirFD, stAPath),
		SysChmod:         stArgs(stAPath, stAMode),
		SysFchmod:        stArgs(stAFD, stAMode),
		SysFchmodat:      stArgs(stADirFD, stAPath, stAMode),
		SysFchmodat2:     stArgs(stADirFD, stAPath, stAMode, atFlags),
		SysChown:         stArgs(chown...),
		SysLchown:        stArgs(chown...),
		SysFchown:        stArgs(stAFD, stAInt, stAInt),
		SysFchownat:      stArgs(stADirFD, stAPath, stAInt, stAInt, atFlags),
		SysTruncate:      stArgs(stAPath, stALong),
		SysFtruncate:     stArgs(stAFD, stALong),
		SysFsync:         stArgs(stAFD),
		SysFdatasync:     stArgs(stAFD),
		SysSyncfs:        stArgs(stAFD),
		SysFlock:         stArgs(stAFD, stAFlags32(xFlockOps, "LOCK_???")),
		SysFallocate:     stArgs(stAFD, stAFlags32(xFallocFlags, "FALLOC_FL_???"), stALong, stALong),
		SysFadvise64:     stArgs(stAFD, stALong, stALong, stAEnum(xFadvise, "POSIX_FADV_???")),
		SysUmask:         stArgs(stAMode),
		SysUtimensat:     (*stCall).sysUtimensat,
		SysMount:         (*stCall).sysMount,
		SysUmount2:       stArgs(stAPath, stAFlags32(xUmountFlags, "MNT_???")),
		SysSethostname:   func(c *stCall) { c.add(c.buf(c.a[0], c.a[1]), stUlong(c.a[1])) },
		SysSetdomainname: func(c *stCall) { c.add(c.buf(c.a[0], c.a[1]), stUlong(c.a[1])) },
		SysMemfdCreate:   stArgs(stAPath, stAFlags32(xMfdFlags, "MFD_???")),
		SysSendfile:      func(c *stCall) { c.add(stInt(c.a[0]), stInt(c.a[1]), c.u64Ptr(c.a[2], false, false), stUlong(c.a[3])) },
		SysCopyFileRange: func(c *stCall) {
			c.add(stInt(c.a[0]), c.u64Ptr(c.a[1], false, false), stInt(c.a[2]), c.u64Ptr(c.a[3], false, false), stUlong(c.a[4]), stUint(c.a[5]))
		},
		SysSplice: func(c *stCall) {
			c.add(stInt(c.a[0]), c.u64Ptr(c.a[1], false, false), stInt(c.a[2]), c.u64Ptr(c.a[3], false, false), stUlong(c.a[4]),
				stFlags(uint64(uint32(c.a[5])), xSpliceFlags, "SPLICE_F_???"))
		},
		SysTee: func(c *stCall) {
			c.add(stInt(c.a[0]), stInt(c.a[1]), stUlong(c.a[2]), stFlags(uint64(uint32(c.a[3])), xSpliceFlags, "SPLICE_F_???"))
		},
		// Which way vmsplice copies depends on the fd, so the iovecs are
		// shown whole, as for writev.
		SysVmsplice: func(c *stCall) {
			c.add(stInt(c.a[0]), c.iovec(c.a[1], c.a[2], false), stUlong(c.a[2]), stFlags(uint64(uint32(c.a[3])), xSpliceFlags, "SPLICE_F_???"))
		},

		SysFcntl:           (*stCall).sysFcntl,
		SysDup:             stArgs(stAFD),
		SysDup2:            stArgs(stAFD, stAFD),
		SysDup3:            stArgs(stAFD, stAFD, stAFlags32(xCloexec, "O_???")),
		SysPipe:            func(c *stCall) { c.add(c.fdPair(c.a[0])) },
		SysPipe2:           func(c *stCall) { c.add(c.fdPair(c.a[0]), stFlags(uint64(uint32(c.a[1])), xPipeFlags, "O_???")) },
		SysCloseRange:      stArgs(stAUint, stAUint, stAFlags32(xCloseRangeFlags, "CLOSE_RANGE_???")),
		SysPidfdOpen:       stArgs(stAInt, stAFlags32(xPidfdFlags, "PIDFD_???")),
		SysPidfdGetfd:      stArgs(stAFD, stAFD, stAUint),
		SysEventfd:         stArgs(stAUint),
		SysEventfd2:        stArgs(stAUint, stAFlags32(xEventfdFlags, "EFD_???")),
		SysInotifyInit1:    stArgs(stAFlags32(xInotifyInitFlags, "IN_???")),
		SysInotifyAddWatch: stArgs(stAFD, stAPath, stAFlags32(xInotifyMask, "IN_???")),
		SysInotifyRmWatch:  stArgs(stAFD, stAInt),
		SysEpollCreate:     stArgs(stAInt),
		SysEpollCreate1:    stArgs(stAFlags32(xEpollCreateFlags, "EPOLL_???")),
		SysEpollCtl:        (*stCall).sysEpollCtl,
		SysEpollWait:       (*stCall).sysEpollWait,
		SysEpollPwait:      (*stCall).sysEpollWait,
		SysEpollPwait2:     (*stCall).sysEpollWait,
		SysPoll:            (*stCall).sysPoll,
		SysPpoll:           (*stCall).sysPoll,
		SysSelect:          stArgs(stAInt, stAPtr, stAPtr, stAPtr, stAPtr),
		SysPselect6:        stArgs(stAInt, stAPtr, stAPtr, stAPtr, stAPtr, stAPtr),

		SysFutex: (*stCall).sysFutex,

		SysSocket:      (*stCall).sysSocket,
		SysSocketpair:  (*stCall).sysSocket,
		SysBind:        func(c *stCall) { c.add(stInt(c.a[0]), c.sockaddr(c.a[1], c.a[2]), stUint(c.a[2])) },
		SysConnect:     func(c *stCall) { c.add(stInt(c.a[0]), c.sockaddr(c.a[1], c.a[2]), stUint(c.a[2])) },
		SysListen:      stArgs(stAFD, stAInt),
		SysAccept:      (*stCall).sysAccept,
		SysAccept4:     (*stCall).sysAccept,
		SysGetsockname: (*stCall).sysAccept,
		SysGetpeername: (*stCall).sysAccept,
		SysShutdown:    stArgs(stAFD, stAEnum(xShutdown, "SHUT_???")),
		SysSendto:      (*stCall).sysSendto,
		SysRecvfrom:    (*stCall).sysRecvfrom,
		SysSendmsg:     (*stCall).sysSendmsg,
		SysRecvmsg:     (*stCall).sysSendmsg,
		SysSetsockopt:  (*stCall).sysSockopt,
		SysGetsockopt:  (*stCall).sysSockopt,

		SysSetuid:           stArgs(stAInt),
		SysSetgid:           stArgs(stAInt),
		SysSetfsuid:         stArgs(stAInt),
		SysSetfsgid:         stArgs(stAInt),
		SysSetreuid:         stArgs(stAInt, stAInt),
		SysSetregid:         stArgs(stAInt, stAInt),
		SysSetresuid:        stArgs(stAInt, stAInt, stAInt),
		SysSetresgid:        stArgs(stAInt, stAInt, stAInt),
		SysGetresuid:        (*stCall).sysGetresuid,
		SysGetresgid:        (*stCall).sysGetresuid,
		SysGetgroups:        (*stCall).sysGroups,
		SysSetgroups:        (*stCall).sysGroups,
		SysSetpgid:          stArgs(stAInt, stAInt),
		SysGetpgid:          stArgs(stAInt),
		SysGetsid:           stArgs(stAInt),
		SysGetpriority:      stArgs(stAEnum(xPrioWhich, "PRIO_???"), stAInt),
		SysSetpriority:      stArgs(stAEnum(xPrioWhich, "PRIO_???"), stAInt, stAInt),
		SysSchedGetaffinity: (*stCall).sysSchedAffinity,
		SysSchedSetaffinity: (*stCall).sysSchedAffinity,
		SysGetxattr:         (*stCall).sysXattr,
		SysLgetxattr:        (*stCall).sysXattr,
		SysFgetxattr:        (*stCall).sysXattr,
		SysSetxattr:         (*stCall).sysXattr,
		SysLsetxattr:        (*stCall).sysXattr,
		SysFsetxattr:        (*stCall).sysXattr,
		SysListxattr:        (*stCall).sysXattr,
		SysLlistxattr:       (*stCall).sysXattr,
		SysFlistxattr:       (*stCall).sysXattr,
		SysRemovexattr:      stArgs(stAPath, stAStr),
		SysLremovexattr:     stArgs(stAPath, stAStr),
		SysFremovexattr:     stArgs(stAFD, stAStr),
		SysStatfs:           stArgs(stAPath, stAPtr),
		SysFstatfs:          stArgs(stAFD, stAPtr),
		SysTimes:            (*stCall).sysTimes,
		SysTime:             func(c *stCall) { c.add(c.u64Ptr(c.a[0], true, false)) },
	}
}

func (c *stCall) sysRead() {
	c.add(stInt(c.a[0]), c.outBuf(c.a[1]), stUlong(c.a[2]))
	if c.nr == SysPread64 {
		c.add(stLong(c.a[3]))
	}
}

func (c *stCall) sysWrite() {
	c.add(stInt(c.a[0]), c.buf(c.a[1], c.a[2]), stUlong(c.a[2]))
	if c.nr == SysPwrite64 {
		c.add(stLong(c.a[3]))
	}
}

// ---- read/write ----

func (c *stCall) sysReadv() {
	c.add(stInt(c.a[0]), c.iovec(c.a[1], c.a[2], true), stUlong(c.a[2]))
	c.vectorTail()
}

func (c *stCall) sysWritev() {
	c.add(stInt(c.a[0]), c.iovec(c.a[1], c.a[2], false), stUlong(c.a[2]))
	c.vectorTail()
}

// vectorTail adds the offset and flags of preadv/pwritev and the v2 forms.
func (c *stCall) vectorTail() {
	switch c.nr {
	case SysPreadv, SysPwritev:
		c.add(stLong(c.a[3]))
	case SysPreadv2, SysPwritev2:
		c.add(stLong(c.a[3]), stFlags(uint64(uint32(c.a[5])), xRWFFlags, "RWF_???"))
	}
}

// iovec renders an iovec array. For reads (out) the data shown is what the
// call returned, spread over the buffers in order.
func (c *stCall) iovec(addr, n uint64, out bool) string {
	if out && !c.ok {
		return stPtr(addr)
	}
	left := uint64(c.ret)
	return c.array(addr, n, 16, func(b []byte) string {
		base, ln := stLE64(b), stLE64(b[8:])
		show := ln
		if out {
			show = min(ln, left)
			left -= show
		}
		return "{iov_base=" + c.buf(base, show) + ", iov_len=" + stUlong(ln) + "}"
	})
}

// ---- files ----

func (c *stCall) sysOpen() {
	a := c.a[:]
	if c.nr == SysOpenat {
		c.add(stDirFD(a[0]))
		a = a[1:]
	}
	flags := uint64(uint32(a[1]))
	c.add(c.path(a[0]), stOpenFlags(flags))
	if stOpenHasMode(flags) {
		c.add(stOctal(uint64(uint32(a[2]))))
	}
}

func (c *stCall) sysOpenat2() {
	c.add(stDirFD(c.a[0]), c.path(c.a[1]), c.openHow(c.a[2], c.a[3]), stUlong(c.a[3]))
}

func (c *stCall) openHow(addr, size uint64) string {
	if addr == 0 {
		return "NULL"
	}
	b, ok := c.read(addr, 24)
	if size < 24 || !ok {
		return stHex(addr)
	}
	flags, mode, resolve := stLE64(b), stLE64(b[8:]), stLE64(b[16:])
	s := "{flags=" + stOpenFlags(flags)
	if stOpenHasMode(flags) || mode != 0 {
		s += ", mode=" + stOctal(mode)
	}
	return s + ", resolve=" + stFlags(resolve, xResolveFlags, "RESOLVE_???") + "}"
}

func (c *stCall) sysStat() {
	switch c.nr {
	case SysFstat:
		c.add(stInt(c.a[0]), c.statBuf(c.a[1]))
	case SysNewfstatat:
		c.add(stDirFD(c.a[0]), c.path(c.a[1]), c.statBuf(c.a[2]), stFlags(uint64(uint32(c.a[3])), xAtFlags, "AT_???"))
	default:
		c.add(c.path(c.a[0]), c.statBuf(c.a[1]))
	}
}

// statBuf renders the parts of a struct stat that strace shows by default.
func (c *stCall) statBuf(addr uint64) string {
	if addr == 0 {
		return "NULL"
	}
	if !c.ok {
		return stHex(addr)
	}
	b, ok := c.read(addr, 64)
	if !ok {
		return stHex(addr)
	}
	mode := stLE32(b[24:])
	s := "{st_mode=" + stMode(mode)
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR, unix.S_IFBLK:
		s += ", st_rdev=" + stMakedev(stLE64(b[40:]))
	default:
		s += ", st_size=" + stLong(stLE64(b[48:]))
	}
	return s + ", ...}"
}

func (c *stCall) sysStatx() {
	c.add(stDirFD(c.a[0]), c.path(c.a[1]), stStatxFlags(uint64(uint32(c.a[2]))),
		stFlags(uint64(uint32(c.a[3])), xStatxMask, "STATX_???"), c.statxBuf(c.a[4]))
}

func stStatxFlags(v uint64) string {
	var s string
	switch v & 0x6000 {
	case 0:
		s = "AT_STATX_SYNC_AS_STAT"
	case 0x2000:
		s = "AT_STATX_FORCE_SYNC"
	case 0x4000:
		s = "AT_STATX_DONT_SYNC"
	default:
		s = "AT_STATX_FORCE_SYNC|AT_STATX_DONT_SYNC"
	}
	if rest := v &^ 0x6000; rest != 0 {
		s += "|" + stFlags(rest, xAtFlags, "")
	}
	return s
}

func (c *stCall) statxBuf(addr uint64) string {
	if addr == 0 {
		return "NULL"
	}
	if !c.ok {
		return stHex(addr)
	}
	b, ok := c.read(addr, 48)
	if !ok {
		return stHex(addr)
	}
	return "{stx_mask=" + stFlags(stLE32(b), xStatxMask, "") +
		", stx_attributes=" + stFlags(stLE64(b[8:]), xStatxAttrs, "") +
		", stx_mode=" + stMode(stLE16(b[28:])) +
		", stx_size=" + stUlong(stLE64(b[40:])) + ", ...}"
}

func (c *stCall) sysGetdents() {
	dirp := stPtr(c.a[1])
	if c.ok && c.a[1] != 0 {
		if n, ok := c.countDirents(c.a[1], uint64(c.ret)); ok {
			dirp = stHex(c.a[1]) + " /* " + strconv.Itoa(n) + " entries */"
		}
	}
	c.add(stInt(c.a[0]), dirp, stUint(c.a[2]))
}

// countDirents counts the linux_dirent(64) records in size bytes at addr;
// both layouts keep d_reclen at offset 16.
func (c *stCall) countDirents(addr, size uint64) (int, bool) {
	size = min(size, stMaxRead)
	b, ok := c.read(addr, int(size))
	if !ok {
		return 0, false
	}
	n := 0
	for off := 0; off+18 <= len(b); n++ {
		reclen := int(stLE16(b[off+16:]))
		if reclen == 0 {
			break
		}
		off += reclen
	}
	return n, true
}

func (c *stCall) sysReadlink() {
	a := c.a[:]
	if c.nr == SysReadlinkat {
		c.add(stDirFD(a[0]))
		a = a[1:]
	}
	c.add(c.path(a[0]), c.outBuf(a[1]), stUlong(a[2]))
}

var xXattrFlags = []stBit{{unix.XATTR_CREATE, "XATTR_CREATE"}, {unix.XATTR_REPLACE, "XATTR_REPLACE"}}

// sysXattr decodes the get/set/list xattr families, by path, by link
// path and by fd.
func (c *stCall) sysXattr() {
	switch c.nr {
	case SysFgetxattr, SysFsetxattr, SysFlistxattr:
		c.add(stInt(c.a[0]))
	default:
		c.add(c.path(c.a[0]))
	}
	switch c.nr {
	case SysGetxattr, SysLgetxattr, SysFgetxattr:
		c.add(c.str(c.a[1]), c.outBuf(c.a[2]), stUlong(c.a[3]))
	case SysSetxattr, SysLsetxattr, SysFsetxattr:
		c.add(c.str(c.a[1]), c.buf(c.a[2], c.a[3]), stUlong(c.a[3]), stFlags(uint64(uint32(c.a[4])), xXattrFlags, "XATTR_???"))
	default: // listxattr: NUL-separated names
		c.add(c.outBuf(c.a[1]), stUlong(c.a[2]))
	}
}

func (c *stCall) sysGetcwd() {
	buf := stPtr(c.a[0])
	if c.ok {
		buf = c.path(c.a[0])
	}
	c.add(buf, stUlong(c.a[1]))
}

func (c *stCall) sysMknod() {
	a := c.a[:]
	if c.nr == SysMknodat {
		c.add(stDirFD(a[0]))
		a = a[1:]
	}
	mode := uint64(uint32(a[1]))
	c.add(c.path(a[0]), stMode(mode))
	if t := mode & unix.S_IFMT; t == unix.S_IFCHR || t == unix.S_IFBLK {
		c.add(stMakedev(uint64(uint32(a[2]))))
	}
}

func (c *stCall) sysUtimensat() {
	times := stPtr(c.a[2])
	if c.a[2] != 0 {
		if b, ok := c.read(c.a[2], 32); ok {
			one := func(b []byte) string {
				switch stLE64(b[8:]) {
				case unix.UTIME_NOW:
					return "UTIME_NOW"
				case unix.UTIME_OMIT:
					return "UTIME_OMIT"
				}
				return stTimespec(b)
			}
			times = "[" + one(b) + ", " + one(b[16:]) + "]"
		}
	}
	c.add(stDirFD(c.a[0]), c.path(c.a[1]), times, stFlags(uint64(uint32(c.a[3])), xAtFlags, "AT_???"))
}

func (c *stCall) sysMount() {
	flags := c.a[3]
	var fs string
	if flags&0xffff0000 == 0xc0ed0000 {
		fs = "MS_MGC_VAL"
		flags &= 0xffff
	}
	if f := stFlags(flags, xMountFlags, "MS_???"); fs == "" {
		fs = f
	} else if flags != 0 {
		fs += "|" + f
	}
	c.add(c.path(c.a[0]), c.path(c.a[1]), c.path(c.a[2]), fs, c.str(c.a[4]))
}

func (c *stCall) sysFcntl() {
	cmd := uint64(uint32(c.a[1]))
	arg := c.a[2]
	arg32 := uint64(uint32(arg))
	c.add(stInt(c.a[0]), stEnum(cmd, xFcntlCmds, "F_???"))
	switch cmd {
	case unix.F_GETFD, unix.F_GETFL, unix.F_GETOWN, unix.F_GETSIG,
		unix.F_GETLEASE, unix.F_GETPIPE_SZ, unix.F_GET_SEALS:
	case unix.F_DUPFD, unix.F_DUPFD_CLOEXEC, unix.F_SETOWN, unix.F_SETPIPE_SZ, 1027:
		c.add(stInt(arg))
	case unix.F_SETFD:
		c.add(stFlags(arg32, xFDFlags, "FD_???"))
	case unix.F_SETFL:
		c.add(stOpenFlags(arg32))
	case unix.F_SETSIG:
		c.add(stSig(arg))
	case unix.F_SETLEASE:
		c.add(stEnum(arg32, xLockTypes, "F_???"))
	case unix.F_NOTIFY:
		c.add(stFlags(arg32, xNotifyFlags, "DN_???"))
	case unix.F_ADD_SEALS:
		c.add(stFlags(arg32, xSeals, "F_SEAL_???"))
	case unix.F_SETLK, unix.F_SETLKW, unix.F_OFD_SETLK, unix.F_OFD_SETLKW:
		c.add(c.flock(arg, false))
	case unix.F_GETLK, unix.F_OFD_GETLK:
		c.add(c.flock(arg, true))
	default:
		c.add(stHex(arg))
	}
}

func (c *stCall) flock(addr uint64, out bool) string {
	b, alt, ok := c.structAt(addr, 32, out)
	if !ok {
		return alt
	}
	s := "{l_type=" + stEnum(stLE16(b), xLockTypes, "F_???") +
		", l_whence=" + stEnum(stLE16(b[2:]), xWhence, "SEEK_???") +
		", l_start=" + stLong(stLE64(b[8:])) + ", l_len=" + stLong(stLE64(b[16:]))
	if out {
		s += ", l_pid=" + stInt(stLE32(b[24:]))
	}
	return s + "}"
}

// fdPair renders the int[2] that pipe and socketpair fill in.
func (c *stCall) fdPair(addr uint64) string {
	if !c.ok {
		return stPtr(addr)
	}
	b, ok := c.read(addr, 8)
	if !ok {
		return stHex(addr)
	}
	return "[" + stInt(stLE32(b)) + ", " + stInt(stLE32(b[4:])) + "]"
}

// ---- memory ----

func (c *stCall) sysMremap() {
	flags := uint64(uint32(c.a[3]))
	c.add(stPtr(c.a[0]), stUlong(c.a[1]), stUlong(c.a[2]), stFlags(flags, xMremapFlags, "MREMAP_???"))
	if flags&unix.MREMAP_FIXED != 0 {
		c.add(stPtr(c.a[4]))
	}
}

// ---- signals ----

func (c *stCall) sysRtSigaction() {
	c.add(stSig(c.a[0]), c.sigaction(c.a[1], false), c.sigaction(c.a[2], true), stUlong(c.a[3]))
}

func (c *stCall) sigaction(addr uint64, out bool) string {
	b, alt, ok := c.structAt(addr, 32, out)
	if !ok {
		return alt
	}
	handler, flags, restorer, mask := stLE64(b), stLE64(b[8:]), stLE64(b[16:]), stLE64(b[24:])
	h := stHex(handler)
	switch handler {
	case 0:
		h = "SIG_DFL"
	case 1:
		h = "SIG_IGN"
	}
	s := "{sa_handler=" + h + ", sa_mask=" + stSigset(mask) + ", sa_flags=" + stFlags(flags, xSaFlags, "SA_???")
	if flags&0x04000000 != 0 {
		s += ", sa_restorer=" + stHex(restorer)
	}
	return s + "}"
}

func (c *stCall) sysRtSigprocmask() {
	c.add(stEnum(uint64(uint32(c.a[0])), xSigprocmaskHow, "SIG_???"),
		c.sigsetN(c.a[1], false, c.a[3]), c.sigsetN(c.a[2], true, c.a[3]), stUlong(c.a[3]))
}

// sigsetN renders a sigset_t whose size the call passes; the kernel
// accepts only 8.
func (c *stCall) sigsetN(addr uint64, out bool, size uint64) string {
	if size != 8 {
		return stPtr(addr)
	}
	return c.sigset(addr, out)
}

func (c *stCall) sysSigaltstack() {
	c.add(c.stackT(c.a[0], false), c.stackT(c.a[1], true))
}

func (c *stCall) stackT(addr uint64, out bool) string {
	b, alt, ok := c.structAt(addr, 24, out)
	if !ok {
		return alt
	}
	return "{ss_sp=" + stPtr(stLE64(b)) + ", ss_flags=" + stFlags(stLE32(b[8:]), xSSFlags, "SS_???") +
		", ss_size=" + stUlong(stLE64(b[16:])) + "}"
}

// ---- processes ----

func (c *stCall) sysExecve() {
	a := c.a[:]
	if c.nr == SysExecveat {
		c.add(stDirFD(a[0]))
		a = a[1:]
	}
	c.add(c.path(a[0]), c.strArray(a[1]), c.envCount(a[2]))
	if c.nr == SysExecveat {
		c.add(stFlags(uint64(uint32(a[3])), xAtFlags, "AT_???"))
	}
}

// strArray renders a NULL-terminated array of strings (argv).
func (c *stCall) strArray(addr uint64) string {
	if addr == 0 {
		return "NULL"
	}
	var parts []string
	for i := uint64(0); ; i++ {
		at := addr + 8*i
		p, ok := c.u64(at)
		if !ok {
			if i == 0 {
				return stHex(addr)
			}
			parts = append(parts, "... /* "+stHex(at)+" */")
			break
		}
		if p == 0 {
			break
		}
		if i == stMaxArray {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, c.str(p))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// envCount renders a NULL-terminated array of strings (envp) as strace
// does by default: its address and how many entries it has.
func (c *stCall) envCount(addr uint64) string {
	if addr == 0 {
		return "NULL"
	}
	n := 0
	chunk := make([]byte, 512)
count:
	for n < 1<<16 {
		got, _ := c.m.CopyIn(addr+uint64(8*n), chunk)
		got = max(0, min(got, len(chunk)))
		for i := 0; i+8 <= got; i += 8 {
			if stLE64(chunk[i:]) == 0 {
				break count
			}
			n++
		}
		if got < len(chunk) {
			if n == 0 {
				return stHex(addr)
			}
			break
		}
	}
	word := " vars */"
	if n == 1 {
		word = " var */"
	}
	return stHex(addr) + " /* " + strconv.Itoa(n) + word
}

func (c *stCall) sysWait4() {
	status := stPtr(c.a[1])
	if c.a[1] != 0 && c.ok && c.ret != 0 {
		if v, ok := c.u32(c.a[1]); ok {
			status = "[" + stWaitStatus(v) + "]"
		}
	}
	c.add(stInt(c.a[0]), status, stFlags(uint64(uint32(c.a[2])), xWaitOpts, "W???"), c.rusage(c.a[3]))
}

var xPtraceEvents = map[uint64]string{
	1: "PTRACE_EVENT_FORK", 2: "PTRACE_EVENT_VFORK", 3: "PTRACE_EVENT_CLONE",
	4: "PTRACE_EVENT_EXEC", 5: "PTRACE_EVENT_VFORK_DONE", 6: "PTRACE_EVENT_EXIT",
	7: "PTRACE_EVENT_SECCOMP", 128: "PTRACE_EVENT_STOP",
}

// stWaitStatus renders a wait status with the macros that decode it.
func stWaitStatus(s uint32) string {
	v := uint64(s)
	switch {
	case v&0x7f == 0:
		return "{WIFEXITED(s) && WEXITSTATUS(s) == " + stUint(v>>8&0xff) + "}"
	case v&0xff == 0x7f:
		r := "{WIFSTOPPED(s) && WSTOPSIG(s) == " + stSig(v>>8&0xff) + "}"
		if ev := v >> 16; ev != 0 {
			r += " | " + stEnum(ev, xPtraceEvents, "") + " << 16"
		}
		return r
	case v == 0xffff:
		return "{WIFCONTINUED(s)}"
	}
	r := "{WIFSIGNALED(s) && WTERMSIG(s) == " + stSig(v&0x7f)
	if v&0x80 != 0 {
		r += " && WCOREDUMP(s)"
	}
	return r + "}"
}

// rusage renders the struct rusage the call filled in.
func (c *stCall) rusage(addr uint64) string {
	if addr == 0 {
		return "NULL"
	}
	if !c.ok {
		return stHex(addr)
	}
	b, ok := c.read(addr, 32)
	if !ok {
		return stHex(addr)
	}
	return "{ru_utime=" + stTimeval(b) + ", ru_stime=" + stTimeval(b[16:]) + ", ...}"
}

func (c *stCall) sysTimes() {
	tms := stPtr(c.a[0])
	if c.ok && c.a[0] != 0 {
		tms = stHex(c.a[0])
		if b, ok := c.read(c.a[0], 32); ok {
			tms = "{tms_utime=" + stLong(stLE64(b)) + ", tms_stime=" + stLong(stLE64(b[8:])) +
				", tms_cutime=" + stLong(stLE64(b[16:])) + ", tms_cstime=" + stLong(stLE64(b[24:])) + "}"
		}
	}
	c.add(tms)
}

func (c *stCall) sysGetrusage() {
	c.add(stEnum(uint64(uint32(c.a[0])), xRusageWho, "RUSAGE_???"), c.rusage(c.a[1]))
}

func (c *stCall) sysClone() {
	flags := c.a[0]
	c.add("child_stack="+stPtr(c.a[1]), "flags="+stCloneFlags(flags))
	if flags&unix.CLONE_PARENT_SETTID != 0 {
		c.add("parent_tid=" + c.intPtr(c.a[2], true))
	}
	if flags&unix.CLONE_SETTLS != 0 {
		c.add("tls=" + stHex(c.a[4]))
	}
	if flags&(unix.CLONE_CHILD_SETTID|unix.CLONE_CHILD_CLEARTID) != 0 {
		c.add("child_tidptr=" + stHex(c.a[3]))
	}
}

func (c *stCall) sysClone3() {
	c.add(c.cloneArgs(c.a[0], c.a[1]), stUlong(c.a[1]))
}

func (c *stCall) cloneArgs(addr, size uint64) string {
	if addr == 0 {
		return "NULL"
	}
	n := 64 // CLONE_ARGS_SIZE_VER0
	if size >= 88 {
		n = 88
	}
	b, ok := c.read(addr, n)
	if size < 64 || !ok {
		return stHex(addr)
	}
	f := func(i int) uint64 { // fields past what was read are 0
		if 8*i+8 > len(b) {
			return 0
		}
		return stLE64(b[8*i:])
	}
	flags := f(0)
	parts := []string{"flags=" + stFlags(flags, xCloneFlags, "CLONE_???")}
	var outs []string // what the kernel stored for the parent
	if flags&unix.CLONE_PIDFD != 0 {
		parts = append(parts, "pidfd="+stPtr(f(1)))
		if c.ok && f(1) != 0 {
			outs = append(outs, "pidfd="+c.intPtr(f(1), true))
		}
	}
	if flags&(unix.CLONE_CHILD_SETTID|unix.CLONE_CHILD_CLEARTID) != 0 {
		parts = append(parts, "child_tid="+stPtr(f(2)))
	}
	if flags&unix.CLONE_PARENT_SETTID != 0 {
		parts = append(parts, "parent_tid="+stPtr(f(3)))
		if c.ok && f(3) != 0 {
			outs = append(outs, "parent_tid="+c.intPtr(f(3), true))
		}
	}
	parts = append(parts, "exit_signal="+stSig(f(4)), "stack="+stPtr(f(5)), "stack_size="+stHex(f(6)))
	if flags&unix.CLONE_SETTLS != 0 {
		parts = append(parts, "tls="+stHex(f(7)))
	}
	if f(9) != 0 {
		parts = append(parts, "set_tid="+stHex(f(8)), "set_tid_size="+stUlong(f(9)))
	}
	if n >= 88 && flags&unix.CLONE_INTO_CGROUP != 0 {
		parts = append(parts, "cgroup="+stUlong(f(10)))
	}
	s := "{" + strings.Join(parts, ", ") + "}"
	if len(outs) > 0 {
		s += " => {" + strings.Join(outs, ", ") + "}"
	}
	return s
}

func (c *stCall) sysUname() {
	addr := c.a[0]
	if addr == 0 || !c.ok {
		c.add(stPtr(addr))
		return
	}
	b, ok := c.read(addr, 2*65)
	if !ok {
		c.add(stHex(addr))
		return
	}
	field := func(i int) string {
		f := b[65*i : 65*(i+1)]
		if j := bytes.IndexByte(f, 0); j >= 0 {
			f = f[:j]
		}
		return stQuote(f, false, false)
	}
	c.add("{sysname=" + field(0) + ", nodename=" + field(1) + ", ...}")
}

func (c *stCall) sysArchPrctl() {
	code := uint64(uint32(c.a[0]))
	c.add(stEnum(code, xArchPrctl, "ARCH_???"))
	switch code {
	case 0x1003, 0x1004: // ARCH_GET_FS, ARCH_GET_GS
		c.add(c.u64Ptr(c.a[1], true, true))
	default:
		c.add(stHex(c.a[1]))
	}
}

func (c *stCall) sysPrlimit64() {
	c.add(stInt(c.a[0]), stEnum(uint64(uint32(c.a[1])), xRlimits, "RLIMIT_???"),
		c.rlimit(c.a[2], false), c.rlimit(c.a[3], true))
}

func (c *stCall) sysGetrlimit() {
	c.add(stEnum(uint64(uint32(c.a[0])), xRlimits, "RLIMIT_???"),
		c.rlimit(c.a[1], c.nr == SysGetrlimit))
}

func (c *stCall) rlimit(addr uint64, out bool) string {
	b, alt, ok := c.structAt(addr, 16, out)
	if !ok {
		return alt
	}
	lim := func(v uint64) string {
		switch {
		case v == ^uint64(0):
			return "RLIM64_INFINITY"
		case v > 1024 && v%1024 == 0:
			return stUlong(v/1024) + "*1024"
		}
		return stUlong(v)
	}
	return "{rlim_cur=" + lim(stLE64(b)) + ", rlim_max=" + lim(stLE64(b[8:])) + "}"
}

func (c *stCall) sysGetrandom() {
	buf := stPtr(c.a[0])
	if c.ok {
		buf = c.bufq(c.a[0], uint64(c.ret), true)
	}
	c.add(buf, stUlong(c.a[1]), stFlags(uint64(uint32(c.a[2])), xGrndFlags, "GRND_???"))
}

func (c *stCall) sysPrctl() {
	opt := uint64(uint32(c.a[0]))
	c.add(stEnum(opt, xPrctlOpts, "PR_???"))
	switch opt {
	case unix.PR_SET_NAME:
		c.add(c.cstring(c.a[1], 16))
	case unix.PR_GET_NAME:
		if c.ok {
			c.add(c.cstring(c.a[1], 16))
		} else {
			c.add(stPtr(c.a[1]))
		}
	case unix.PR_SET_PDEATHSIG:
		c.add(stSig(c.a[1]))
	case unix.PR_GET_PDEATHSIG, unix.PR_GET_CHILD_SUBREAPER:
		c.add(c.intPtr(c.a[1], true))
	case unix.PR_GET_TID_ADDRESS:
		c.add(c.u64Ptr(c.a[1], true, true))
	case unix.PR_GET_DUMPABLE, unix.PR_GET_KEEPCAPS, unix.PR_GET_SECCOMP,
		unix.PR_GET_TIMERSLACK, unix.PR_GET_NO_NEW_PRIVS, unix.PR_GET_THP_DISABLE,
		unix.PR_GET_TAGGED_ADDR_CTRL, unix.PR_GET_MDWE, unix.PR_GET_SECUREBITS:
	case unix.PR_SET_NO_NEW_PRIVS, unix.PR_SET_DUMPABLE, unix.PR_SET_KEEPCAPS,
		unix.PR_SET_CHILD_SUBREAPER, unix.PR_SET_THP_DISABLE, unix.PR_SET_TIMERSLACK,
		unix.PR_CAPBSET_READ, unix.PR_CAPBSET_DROP, unix.PR_SET_SECUREBITS:
		for i := 1; i < 5; i++ {
			c.add(stUlong(c.a[i]))
		}
	default:
		for i := 1; i < 5; i++ {
			c.add(stHex(c.a[i]))
		}
	}
}

func (c *stCall) sysGetresuid() {
	for i := 0; i < 3; i++ {
		c.add(c.intPtr(c.a[i], true))
	}
}

func (c *stCall) sysGroups() {
	n := uint64(uint32(c.a[0]))
	if c.nr == SysGetgroups {
		if !c.ok || n == 0 {
			c.add(stInt(c.a[0]), stPtr(c.a[1]))
			return
		}
		n = uint64(c.ret)
	}
	c.add(stInt(c.a[0]), c.array(c.a[1], n, 4, func(b []byte) string { return stUint(stLE32(b)) }))
}

func (c *stCall) sysSchedAffinity() {
	n := c.a[1]
	mask := stPtr(c.a[2])
	if c.nr == SysSchedSetaffinity || c.ok {
		if c.nr == SysSchedGetaffinity {
			n = uint64(c.ret)
		}
		mask = c.cpuSet(c.a[2], n)
	}
	c.add(stInt(c.a[0]), stUlong(c.a[1]), mask)
}

// cpuSet renders a CPU mask of n bytes as the list of CPUs in it.
func (c *stCall) cpuSet(addr, n uint64) string {
	if addr == 0 {
		return "NULL"
	}
	b, ok := c.read(addr, int(min(n, 8192)))
	if !ok {
		return stHex(addr)
	}
	var cpus []string
	for i, x := range b {
		for x != 0 {
			bit := bits.TrailingZeros8(x)
			x &^= 1 << bit
			if len(cpus) == stMaxArray {
				cpus = append(cpus, "...")
				return "[" + strings.Join(cpus, " ") + "]"
			}
			cpus = append(cpus, strconv.Itoa(8*i+bit))
		}
	}
	return "[" + strings.Join(cpus, " ") + "]"
}

// ---- time ----

func stTimespec(b []byte) string {
	return "{tv_sec=" + stLong(stLE64(b)) + ", tv_nsec=" + stLong(stLE64(b[8:])) + "}"
}

func stTimeval(b []byte) string {
	return "{tv_sec=" + stLong(stLE64(b)) + ", tv_usec=" + stLong(stLE64(b[8:])) + "}"
}

// timespec renders the struct timespec at addr.
func (c *stCall) timespec(addr uint64) string {
	if addr == 0 {
		return "NULL"
	}
	b, ok := c.read(addr, 16)
	if !ok {
		return stHex(addr)
	}
	return stTimespec(b)
}

// outTimespec renders a struct timespec the call filled in.
func (c *stCall) outTimespec(addr uint64) string {
	if !c.ok {
		return stPtr(addr)
	}
	return c.timespec(addr)
}

// remTimespec renders a sleep's remaining-time output, which the kernel
// writes only when the sleep is interrupted.
func (c *stCall) remTimespec(addr uint64) string {
	if addr != 0 && (c.ret == -int64(unix.EINTR) || c.ret == -stERESTARTRESTARTBLOCK) {
		return c.timespec(addr)
	}
	return stPtr(addr)
}

func (c *stCall) sysClockGettime() { c.add(stClock(c.a[0]), c.outTimespec(c.a[1])) }

func (c *stCall) sysClockNanosleep() {
	c.add(stClock(c.a[0]), stFlags(uint64(uint32(c.a[1])), xTimerFlags, "TIMER_???"),
		c.timespec(c.a[2]), c.remTimespec(c.a[3]))
}

func (c *stCall) sysNanosleep() { c.add(c.timespec(c.a[0]), c.remTimespec(c.a[1])) }

func (c *stCall) sysGettimeofday() {
	tv := stPtr(c.a[0])
	if c.ok && c.a[0] != 0 {
		tv = stHex(c.a[0])
		if b, ok := c.read(c.a[0], 16); ok {
			tv = stTimeval(b)
		}
	}
	c.add(tv, stPtr(c.a[1]))
}

func (c *stCall) sysItimer() {
	c.add(stEnum(uint64(uint32(c.a[0])), xItimers, "ITIMER_???"))
	if c.nr == SysGetitimer {
		c.add(c.itimer(c.a[1], true, stTimeval))
		return
	}
	c.add(c.itimer(c.a[1], false, stTimeval), c.itimer(c.a[2], true, stTimeval))
}

func (c *stCall) sysTimerfdSettime() {
	c.add(stInt(c.a[0]), stFlags(uint64(uint32(c.a[1])), xTfdSetFlags, "TFD_???"),
		c.itimerspec(c.a[2], false), c.itimerspec(c.a[3], true))
}

func (c *stCall) itimerspec(addr uint64, out bool) string { return c.itimer(addr, out, stTimespec) }

// itimer renders a struct itimerval or itimerspec.
func (c *stCall) itimer(addr uint64, out bool, f func([]byte) string) string {
	b, alt, ok := c.structAt(addr, 32, out)
	if !ok {
		return alt
	}
	return "{it_interval=" + f(b) + ", it_value=" + f(b[16:]) + "}"
}

// ---- polling, futexes ----

func (c *stCall) sysPoll() {
	fds := c.array(c.a[0], uint64(uint32(c.a[1])), 8, func(b []byte) string {
		return "{fd=" + stInt(stLE32(b)) + ", events=" + stFlags(stLE16(b[4:]), xPollEvents, "POLL???") + "}"
	})
	c.add(fds, stUint(c.a[1]))
	if c.nr == SysPoll {
		c.add(stInt(c.a[2]))
		return
	}
	c.add(stPtr(c.a[2]), c.sigset(c.a[3], false), stUlong(c.a[4]))
}

func stEpollEvent(b []byte) string {
	return "{events=" + stFlags(stLE32(b), xEpollEvents, "EPOLL???") +
		", data={u32=" + stUint(stLE32(b[4:])) + ", u64=" + stUlong(stLE64(b[4:])) + "}}"
}

func (c *stCall) sysEpollCtl() {
	ev := stPtr(c.a[3])
	if c.a[3] != 0 {
		if b, ok := c.read(c.a[3], 12); ok {
			ev = stEpollEvent(b)
		}
	}
	c.add(stInt(c.a[0]), stEnum(uint64(uint32(c.a[1])), xEpollCtlOps, "EPOLL_CTL_???"), stInt(c.a[2]), ev)
}

func (c *stCall) sysEpollWait() {
	evs := stPtr(c.a[1])
	if c.ok {
		evs = c.array(c.a[1], uint64(c.ret), 12, stEpollEvent)
	}
	c.add(stInt(c.a[0]), evs, stInt(c.a[2]))
	switch c.nr {
	case SysEpollWait:
		c.add(stInt(c.a[3]))
	case SysEpollPwait:
		c.add(stInt(c.a[3]), c.sigset(c.a[4], false), stUlong(c.a[5]))
	case SysEpollPwait2:
		c.add(c.timespec(c.a[3]), c.sigset(c.a[4], false), stUlong(c.a[5]))
	}
}

func (c *stCall) sysFutex() {
	op := uint64(uint32(c.a[1]))
	cmd := op &^ (128 | 256) // FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME
	name, known := xFutexOps[cmd]
	if known {
		if op&128 != 0 {
			name += "_PRIVATE"
		}
		if op&256 != 0 {
			name += "|FUTEX_CLOCK_REALTIME"
		}
	} else {
		name = stHex(op) + " /* FUTEX_??? */"
	}
	val, timeout, uaddr2, val3 := c.a[2], c.a[3], c.a[4], c.a[5]
	bitset := func(v uint64) string {
		if uint32(v) == 0xffffffff {
			return "FUTEX_BITSET_MATCH_ANY"
		}
		return stHex(uint64(uint32(v)))
	}
	c.add(stHex(c.a[0]), name)
	switch {
	case !known:
		c.add(stUint(val), stHex(timeout), stHex(uaddr2), stHex(val3))
	case cmd == 0: // FUTEX_WAIT
		c.add(stUint(val), c.timespec(timeout))
	case cmd == 9: // FUTEX_WAIT_BITSET
		c.add(stUint(val), c.timespec(timeout), bitset(val3))
	case cmd == 1 || cmd == 2: // FUTEX_WAKE, FUTEX_FD
		c.add(stUint(val))
	case cmd == 10: // FUTEX_WAKE_BITSET
		c.add(stUint(val), bitset(val3))
	case cmd == 3: // FUTEX_REQUEUE
		c.add(stUint(val), stUint(timeout), stHex(uaddr2))
	case cmd == 4 || cmd == 12: // FUTEX_CMP_REQUEUE, FUTEX_CMP_REQUEUE_PI
		c.add(stUint(val), stUint(timeout), stHex(uaddr2), stUint(val3))
	case cmd == 5: // FUTEX_WAKE_OP
		c.add(stUint(val), stUint(timeout), stHex(uaddr2), stFutexWakeOp(uint32(val3)))
	case cmd == 6 || cmd == 13: // FUTEX_LOCK_PI, FUTEX_LOCK_PI2
		c.add(c.timespec(timeout))
	case cmd == 11: // FUTEX_WAIT_REQUEUE_PI
		c.add(stUint(val), c.timespec(timeout), stHex(uaddr2))
	}
}

// stFutexWakeOp renders FUTEX_WAKE_OP's encoded operation.
func stFutexWakeOp(v uint32) string {
	op, cmp := v>>28&7, v>>24&0xf
	var s string
	if v>>28&8 != 0 {
		s = "FUTEX_OP_OPARG_SHIFT<<28|"
	}
	if int(op) < len(xFutexWakeOps) {
		s += xFutexWakeOps[op] + "<<28"
	} else {
		s += stHex(uint64(op)) + "<<28"
	}
	s += "|" + stHex(uint64(v>>12&0xfff)) + "<<12|"
	if int(cmp) < len(xFutexWakeCmps) {
		s += xFutexWakeCmps[cmp] + "<<24"
	} else {
		s += stHex(uint64(cmp)) + "<<24"
	}
	return s + "|" + stHex(uint64(v&0xfff))
}

// ---- ioctl ----

// ioctl requests golang.org/x/sys/unix does not define for linux.
const (
	stFIBMAP          = 0x1
	stFIGETBSZ        = 0x2
	stFIOASYNC        = 0x5452
	stFIOCLEX         = 0x5451
	stFIOGETOWN       = 0x8903
	stFIONBIO         = 0x5421
	stFIONCLEX        = 0x5450
	stFIONREAD        = 0x541b
	stFIOQSIZE        = 0x5460
	stFIOSETOWN       = 0x8901
	stFSIOCGETVERSION = 0x80087601
)

var xIoctls = map[uint64]string{
	unix.TCGETS: "TCGETS", unix.TCSETS: "TCSETS", unix.TCSETSW: "TCSETSW",
	unix.TCSETSF: "TCSETSF", unix.TCGETA: "TCGETA", unix.TCSETA: "TCSETA",
	unix.TCSETAW: "TCSETAW", unix.TCSETAF: "TCSETAF", unix.TCSBRK: "TCSBRK",
	unix.TCXONC: "TCXONC", unix.TCFLSH: "TCFLSH", unix.TIOCEXCL: "TIOCEXCL",
	unix.TIOCNXCL: "TIOCNXCL", unix.TIOCSCTTY: "TIOCSCTTY",
	unix.TIOCGPGRP: "TIOCGPGRP", unix.TIOCSPGRP: "TIOCSPGRP",
	unix.TIOCOUTQ: "TIOCOUTQ", unix.TIOCSTI: "TIOCSTI",
	unix.TIOCGWINSZ: "TIOCGWINSZ", unix.TIOCSWINSZ: "TIOCSWINSZ",
	unix.TIOCMGET: "TIOCMGET", unix.TIOCMBIS: "TIOCMBIS", unix.TIOCMBIC: "TIOCMBIC",
	unix.TIOCMSET: "TIOCMSET", unix.TIOCGSOFTCAR: "TIOCGSOFTCAR",
	unix.TIOCSSOFTCAR: "TIOCSSOFTCAR", stFIONREAD: "FIONREAD",
	unix.TIOCLINUX: "TIOCLINUX", unix.TIOCCONS: "TIOCCONS",
	unix.TIOCGSERIAL: "TIOCGSERIAL", unix.TIOCSSERIAL: "TIOCSSERIAL",
	unix.TIOCPKT: "TIOCPKT", stFIONBIO: "FIONBIO", unix.TIOCNOTTY: "TIOCNOTTY",
	unix.TIOCSETD: "TIOCSETD", unix.TIOCGETD: "TIOCGETD", unix.TCSBRKP: "TCSBRKP",
	unix.TIOCSBRK: "TIOCSBRK", unix.TIOCCBRK: "TIOCCBRK", unix.TIOCGSID: "TIOCGSID",
	unix.TCGETS2: "TCGETS2", unix.TCSETS2: "TCSETS2", unix.TCSETSW2: "TCSETSW2",
	unix.TCSETSF2: "TCSETSF2", unix.TIOCGRS485: "TIOCGRS485",
	unix.TIOCSRS485: "TIOCSRS485", unix.TIOCGPTN: "TIOCGPTN",
	unix.TIOCSPTLCK: "TIOCSPTLCK", unix.TIOCGDEV: "TIOCGDEV",
	unix.TIOCSIG: "TIOCSIG", unix.TIOCVHANGUP: "TIOCVHANGUP",
	unix.TIOCGPKT: "TIOCGPKT", unix.TIOCGPTLCK: "TIOCGPTLCK",
	unix.TIOCGEXCL: "TIOCGEXCL", unix.TIOCGPTPEER: "TIOCGPTPEER",
	stFIONCLEX: "FIONCLEX", stFIOCLEX: "FIOCLEX", stFIOASYNC: "FIOASYNC",
	stFIOQSIZE: "FIOQSIZE", stFIOSETOWN: "FIOSETOWN",
	stFIOGETOWN: "FIOGETOWN", unix.SIOCSPGRP: "SIOCSPGRP",
	unix.SIOCGPGRP: "SIOCGPGRP", unix.SIOCATMARK: "SIOCATMARK",
	unix.SIOCGSTAMP: "SIOCGSTAMP", unix.SIOCGIFNAME: "SIOCGIFNAME",
	unix.SIOCGIFCONF: "SIOCGIFCONF", unix.SIOCGIFFLAGS: "SIOCGIFFLAGS",
	unix.SIOCSIFFLAGS: "SIOCSIFFLAGS", unix.SIOCGIFADDR: "SIOCGIFADDR",
	unix.SIOCGIFMTU: "SIOCGIFMTU", unix.SIOCGIFHWADDR: "SIOCGIFHWADDR",
	unix.SIOCGIFINDEX: "SIOCGIFINDEX", stFIBMAP: "FIBMAP",
	stFIGETBSZ: "FIGETBSZ", unix.FICLONE: "FICLONE",
	unix.FICLONERANGE: "FICLONERANGE", unix.FIDEDUPERANGE: "FIDEDUPERANGE",
	unix.FS_IOC_GETFLAGS: "FS_IOC_GETFLAGS", unix.FS_IOC_SETFLAGS: "FS_IOC_SETFLAGS",
	stFSIOCGETVERSION: "FS_IOC_GETVERSION", unix.BLKGETSIZE64: "BLKGETSIZE64",
	unix.BLKSSZGET: "BLKSSZGET", unix.BLKGETSIZE: "BLKGETSIZE",
	unix.BLKFLSBUF: "BLKFLSBUF", unix.BLKRRPART: "BLKRRPART",
	unix.LOOP_SET_FD: "LOOP_SET_FD", unix.LOOP_CLR_FD: "LOOP_CLR_FD",
	unix.LOOP_SET_STATUS64: "LOOP_SET_STATUS64", unix.LOOP_GET_STATUS64: "LOOP_GET_STATUS64",
	unix.LOOP_CONFIGURE: "LOOP_CONFIGURE", unix.LOOP_CTL_GET_FREE: "LOOP_CTL_GET_FREE",
	unix.TUNSETIFF: "TUNSETIFF", unix.TUNGETIFF: "TUNGETIFF",
}

// stIoctlCmd names an ioctl request, or decodes its _IOC fields.
func stIoctlCmd(cmd uint64) string {
	if n, ok := xIoctls[cmd]; ok {
		return n
	}
	dirs := [4]string{"_IOC_NONE", "_IOC_WRITE", "_IOC_READ", "_IOC_READ|_IOC_WRITE"}
	return "_IOC(" + dirs[cmd>>30&3] + ", " + stHex(cmd>>8&0xff) + ", " + stHex(cmd&0xff) + ", " + stHex(cmd>>16&0x3fff) + ")"
}

var xTcflsh = map[uint64]string{0: "TCIFLUSH", 1: "TCOFLUSH", 2: "TCIOFLUSH"}

func (c *stCall) sysIoctl() {
	cmd := uint64(uint32(c.a[1]))
	arg := c.a[2]
	c.add(stInt(c.a[0]), stIoctlCmd(cmd))
	switch cmd {
	case stFIOCLEX, stFIONCLEX, unix.TIOCNOTTY, unix.TIOCEXCL,
		unix.TIOCNXCL, unix.TIOCSBRK, unix.TIOCCBRK, unix.TIOCVHANGUP:
	case unix.TIOCSPGRP, stFIONBIO, stFIOASYNC, unix.TIOCSPTLCK,
		unix.TIOCSETD, unix.TIOCPKT:
		c.add(c.intPtr(arg, false))
	case unix.TIOCGPGRP, stFIONREAD, unix.TIOCOUTQ, unix.TIOCGPTN,
		unix.TIOCGSID, unix.TIOCGETD, unix.TIOCGPTLCK, unix.TIOCGPKT,
		unix.TIOCMGET, unix.TIOCGEXCL:
		c.add(c.intPtr(arg, true))
	case unix.TIOCSCTTY, unix.TCSBRK, unix.TCSBRKP, unix.TCXONC:
		c.add(stInt(arg))
	case unix.TCFLSH:
		c.add(stEnum(uint64(uint32(arg)), xTcflsh, "TC???"))
	case unix.TIOCSIG:
		c.add(stSig(arg))
	case unix.TIOCGPTPEER:
		c.add(stOpenFlags(uint64(uint32(arg))))
	case unix.TIOCGWINSZ:
		c.add(c.winsize(arg, true))
	case unix.TIOCSWINSZ:
		c.add(c.winsize(arg, false))
	case unix.TCGETS:
		c.add(c.termios(arg, true))
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		c.add(c.termios(arg, false))
	default:
		c.add(stHex(arg))
	}
}

func (c *stCall) winsize(addr uint64, out bool) string {
	b, alt, ok := c.structAt(addr, 8, out)
	if !ok {
		return alt
	}
	return "{ws_row=" + stUlong(stLE16(b)) + ", ws_col=" + stUlong(stLE16(b[2:])) +
		", ws_xpixel=" + stUlong(stLE16(b[4:])) + ", ws_ypixel=" + stUlong(stLE16(b[6:])) + "}"
}

var xTermIflags = []stBit{
	{unix.IGNBRK, "IGNBRK"}, {unix.BRKINT, "BRKINT"}, {unix.IGNPAR, "IGNPAR"},
	{unix.PARMRK, "PARMRK"}, {unix.INPCK, "INPCK"}, {unix.ISTRIP, "ISTRIP"},
	{unix.INLCR, "INLCR"}, {unix.IGNCR, "IGNCR"}, {unix.ICRNL, "ICRNL"},
	{unix.IUCLC, "IUCLC"}, {unix.IXON, "IXON"}, {unix.IXANY, "IXANY"},
	{unix.IXOFF, "IXOFF"}, {unix.IMAXBEL, "IMAXBEL"}, {unix.IUTF8, "IUTF8"},
}

var xTermOflags = []stBit{
	{unix.OPOST, "OPOST"}, {unix.OLCUC, "OLCUC"}, {unix.ONLCR, "ONLCR"},
	{unix.OCRNL, "OCRNL"}, {unix.ONOCR, "ONOCR"}, {unix.ONLRET, "ONLRET"},
	{unix.OFILL, "OFILL"}, {unix.OFDEL, "OFDEL"},
}

var xTermLflags = []stBit{
	{unix.ISIG, "ISIG"}, {unix.ICANON, "ICANON"}, {unix.XCASE, "XCASE"},
	{unix.ECHO, "ECHO"}, {unix.ECHOE, "ECHOE"}, {unix.ECHOK, "ECHOK"},
	{unix.ECHONL, "ECHONL"}, {unix.NOFLSH, "NOFLSH"}, {unix.IEXTEN, "IEXTEN"},
	{unix.ECHOCTL, "ECHOCTL"}, {unix.ECHOPRT, "ECHOPRT"}, {unix.ECHOKE, "ECHOKE"},
	{unix.FLUSHO, "FLUSHO"}, {unix.PENDIN, "PENDIN"}, {unix.TOSTOP, "TOSTOP"},
	{unix.EXTPROC, "EXTPROC"},
}

var xTermCflags = []stBit{
	{unix.CSTOPB, "CSTOPB"}, {unix.CREAD, "CREAD"}, {unix.PARENB, "PARENB"},
	{unix.PARODD, "PARODD"}, {unix.HUPCL, "HUPCL"}, {unix.CLOCAL, "CLOCAL"},
	{unix.CMSPAR, "CMSPAR"}, {unix.CRTSCTS, "CRTSCTS"},
}

var xBauds = map[uint64]string{
	unix.B0: "B0", unix.B50: "B50", unix.B75: "B75", unix.B110: "B110",
	unix.B134: "B134", unix.B150: "B150", unix.B200: "B200", unix.B300: "B300",
	unix.B600: "B600", unix.B1200: "B1200", unix.B1800: "B1800",
	unix.B2400: "B2400", unix.B4800: "B4800", unix.B9600: "B9600",
	unix.B19200: "B19200", unix.B38400: "B38400", unix.BOTHER: "BOTHER",
	unix.B57600: "B57600", unix.B115200: "B115200", unix.B230400: "B230400",
	unix.B460800: "B460800", unix.B500000: "B500000", unix.B576000: "B576000",
	unix.B921600: "B921600", unix.B1000000: "B1000000", unix.B1152000: "B1152000",
	unix.B1500000: "B1500000", unix.B2000000: "B2000000", unix.B2500000: "B2500000",
	unix.B3000000: "B3000000", unix.B3500000: "B3500000", unix.B4000000: "B4000000",
}

// stTermOflag renders c_oflag: the delay fields always, then the flags.
func stTermOflag(v uint64) string {
	parts := []string{
		"NL" + stUlong(v>>8&1), "CR" + stUlong(v>>9&3), "TAB" + stUlong(v>>11&3),
		"BS" + stUlong(v>>13&1), "VT" + stUlong(v>>14&1), "FF" + stUlong(v>>15&1),
	}
	if rest := v &^ 0xff00; rest != 0 {
		parts = append(parts, stFlags(rest, xTermOflags, ""))
	}
	return strings.Join(parts, "|")
}

// stTermCflag renders c_cflag: speed, character size, then the flags.
func stTermCflag(v uint64) string {
	parts := []string{stEnum(v&unix.CBAUD, xBauds, ""), "CS" + stUlong(5+(v&unix.CSIZE)>>4)}
	if rest := v &^ (unix.CBAUD | unix.CSIZE); rest != 0 {
		parts = append(parts, stFlags(rest, xTermCflags, ""))
	}
	return strings.Join(parts, "|")
}

func (c *stCall) termios(addr uint64, out bool) string {
	b, alt, ok := c.structAt(addr, 36, out)
	if !ok {
		return alt
	}
	return "{c_iflag=" + stFlags(stLE32(b), xTermIflags, "") +
		", c_oflag=" + stTermOflag(stLE32(b[4:])) +
		", c_cflag=" + stTermCflag(stLE32(b[8:])) +
		", c_lflag=" + stFlags(stLE32(b[12:]), xTermLflags, "") + ", ...}"
}

// ---- sockets ----

func (c *stCall) sysSocket() {
	fam := uint64(uint32(c.a[0]))
	c.add(stFamily(fam), stSockType(c.a[1]), stSockProto(fam, uint64(uint32(c.a[2]))))
	if c.nr == SysSocketpair {
		c.add(c.fdPair(c.a[3]))
	}
}

var xEthProtos = map[uint64]string{
	0x0003: "ETH_P_ALL", 0x0800: "ETH_P_IP", 0x0806: "ETH_P_ARP", 0x86dd: "ETH_P_IPV6",
	0x8100: "ETH_P_8021Q",
}

func stSockProto(fam, p uint64) string {
	switch fam {
	case unix.AF_INET, unix.AF_INET6:
		return stEnum(p, xIPProtos, "IPPROTO_???")
	case unix.AF_NETLINK:
		return stEnum(p, xNetlinkProtos, "NETLINK_???")
	case unix.AF_PACKET:
		return "htons(" + stEnum(uint64(bits.ReverseBytes16(uint16(p))), xEthProtos, "ETH_P_???") + ")"
	}
	return stInt(p)
}

// sockaddr renders the socket address of n bytes at addr.
func (c *stCall) sockaddr(addr, n uint64) string {
	if addr == 0 {
		return "NULL"
	}
	n = uint64(uint32(n))
	if n < 2 || n > 128 {
		return stHex(addr)
	}
	b, ok := c.read(addr, int(n))
	if !ok {
		return stHex(addr)
	}
	fam := stLE16(b)
	s := "{sa_family=" + stFamily(fam)
	port := func(b []byte) string { return stUlong(uint64(binary.BigEndian.Uint16(b))) }
	switch {
	case fam == unix.AF_INET && n >= 8:
		ip := netip.AddrFrom4([4]byte(b[4:8]))
		s += ", sin_port=htons(" + port(b[2:]) + "), sin_addr=inet_addr(\"" + ip.String() + "\")"
	case fam == unix.AF_INET6 && n >= 24:
		ip := netip.AddrFrom16([16]byte(b[8:24]))
		s += ", sin6_port=htons(" + port(b[2:]) + "), sin6_flowinfo=htonl(" +
			stUlong(uint64(binary.BigEndian.Uint32(b[4:]))) + "), inet_pton(AF_INET6, \"" + ip.String() + "\", &sin6_addr)"
		if n >= 28 {
			s += ", sin6_scope_id=" + stUlong(stLE32(b[24:]))
		}
	case fam == unix.AF_UNIX:
		p := b[2:]
		switch {
		case len(p) == 0:
		case p[0] == 0:
			s += ", sun_path=@" + stQuote(p[1:], false, false)
		default:
			if i := bytes.IndexByte(p, 0); i >= 0 {
				p = p[:i]
			}
			s += ", sun_path=" + stQuote(p, false, false)
		}
	case fam == unix.AF_NETLINK && n >= 12:
		s += ", nl_pid=" + stInt(stLE32(b[4:])) + fmt.Sprintf(", nl_groups=%08x", stLE32(b[8:]))
	case fam == unix.AF_PACKET && n >= 12:
		s += ", sll_protocol=htons(" + stEnum(uint64(binary.BigEndian.Uint16(b[2:])), xEthProtos, "ETH_P_???") +
			"), sll_ifindex=" + stInt(stLE32(b[4:])) + ", ..."
	default:
		s += ", sa_data=" + stQuote(b[2:], false, false)
	}
	return s + "}"
}

// outSockaddr renders a socket address the call filled in, whose length it
// stored at lenp.
func (c *stCall) outSockaddr(addr, lenp uint64) string {
	if !c.ok || addr == 0 {
		return stPtr(addr)
	}
	n, ok := c.u32(lenp)
	if lenp == 0 || !ok {
		return stHex(addr)
	}
	return c.sockaddr(addr, uint64(min(n, 128)))
}

func (c *stCall) sysAccept() {
	c.add(stInt(c.a[0]), c.outSockaddr(c.a[1], c.a[2]), c.intPtr(c.a[2], false))
	if c.nr == SysAccept4 {
		c.add(stFlags(uint64(uint32(c.a[3])), xSockFlags, "SOCK_???"))
	}
}

func (c *stCall) sysSendto() {
	c.add(stInt(c.a[0]), c.buf(c.a[1], c.a[2]), stUlong(c.a[2]),
		stFlags(uint64(uint32(c.a[3])), xMsgFlags, "MSG_???"), c.sockaddr(c.a[4], c.a[5]), stUint(c.a[5]))
}

func (c *stCall) sysRecvfrom() {
	c.add(stInt(c.a[0]), c.outBuf(c.a[1]), stUlong(c.a[2]),
		stFlags(uint64(uint32(c.a[3])), xMsgFlags, "MSG_???"), c.outSockaddr(c.a[4], c.a[5]), c.intPtr(c.a[5], false))
}

func (c *stCall) sysSendmsg() {
	c.add(stInt(c.a[0]), c.msghdr(c.a[1], c.nr == SysRecvmsg), stFlags(uint64(uint32(c.a[2])), xMsgFlags, "MSG_???"))
}

func (c *stCall) msghdr(addr uint64, out bool) string {
	b, alt, ok := c.structAt(addr, 56, out)
	if !ok {
		return alt
	}
	name, namelen := stLE64(b), stLE32(b[8:])
	iov, iovlen := stLE64(b[16:]), stLE64(b[24:])
	ctl, ctllen := stLE64(b[32:]), stLE64(b[40:])
	s := "{msg_name=" + c.sockaddr(name, min(namelen, 128)) + ", msg_namelen=" + stUlong(namelen) +
		", msg_iov=" + c.iovec(iov, iovlen, out) + ", msg_iovlen=" + stUlong(iovlen)
	if ctllen != 0 {
		s += ", msg_control=" + stPtr(ctl)
	}
	return s + ", msg_controllen=" + stUlong(ctllen) + ", msg_flags=" + stFlags(stLE32(b[48:]), xMsgFlags, "MSG_???") + "}"
}

func (c *stCall) sysSockopt() {
	level, name := uint64(uint32(c.a[1])), uint64(uint32(c.a[2]))
	opt := stUlong(name)
	if tbl, ok := xSockOpts[level]; ok {
		if n, ok := tbl[name]; ok {
			opt = n
		}
	}
	val, lenArg := c.a[3], c.a[4]
	c.add(stInt(c.a[0]), stEnum(level, xSockLevels, "SOL_???"), opt)
	if c.nr == SysSetsockopt {
		v := stPtr(val)
		if uint32(lenArg) == 4 {
			v = c.intPtr(val, false)
		} else if val != 0 {
			v = c.buf(val, uint64(uint32(lenArg)))
		}
		c.add(v, stUint(lenArg))
		return
	}
	v := stPtr(val)
	if n, ok := c.u32(lenArg); ok && c.ok && lenArg != 0 {
		if n == 4 {
			v = c.intPtr(val, true)
		} else if val != 0 {
			v = c.buf(val, uint64(n))
		}
	}
	c.add(v, c.intPtr(lenArg, false))
}

// structAt reads the n-byte struct argument at addr. When it cannot be
// shown it returns what to print instead: NULL, or the bare address for an
// output of a failed call or memory that cannot be read.
func (c *stCall) structAt(addr uint64, n int, out bool) ([]byte, string, bool) {
	if addr == 0 {
		return nil, "NULL", false
	}
	if out && !c.ok {
		return nil, stHex(addr), false
	}
	b, ok := c.read(addr, n)
	if !ok {
		return nil, stHex(addr), false
	}
	return b, "", true
}
