package syscalls

import (
	"encoding/binary"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeMem is workload memory made of separate regions; reading past the
// end of a region faults.
type fakeMem map[uint64][]byte

func (m fakeMem) CopyIn(addr uint64, dst []byte) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	for base, b := range m {
		if addr >= base && addr < base+uint64(len(b)) {
			n := copy(dst, b[addr-base:])
			if n < len(dst) {
				return n, unix.EFAULT
			}
			return n, nil
		}
	}
	return 0, unix.EFAULT
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func u64s(v ...uint64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], x)
	}
	return b
}

func u32s(v ...uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// statBuf builds a struct stat with the given mode, rdev and size.
func statBuf(mode uint32, rdev uint64, size int64) []byte {
	b := make([]byte, 144)
	binary.LittleEndian.PutUint32(b[24:], mode)
	binary.LittleEndian.PutUint64(b[40:], rdev)
	binary.LittleEndian.PutUint64(b[48:], uint64(size))
	return b
}

func neg(e unix.Errno) int64 { return -int64(e) }

const atFDCWD = uint64(0xffffffffffffff9c) // -100

type callCase struct {
	name string
	nr   uintptr
	args [6]uint64
	ret  int64
	mem  fakeMem
	want string
}

func runCases(t *testing.T, cases []callCase) {
	t.Helper()
	for _, tc := range cases {
		got := FormatCall(tc.nr, tc.args, tc.ret, tc.mem)
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestFormatCallStrings(t *testing.T) {
	// Expected renderings below were checked against strace 6.1.
	escapes := []byte("a\tb\nc\x00d\"e\\f\x01\x7f\xff\xe2\x80\x99" + "1\x012\x00\x00")
	runCases(t, []callCase{
		{"openat", SysOpenat, [6]uint64{atFDCWD, 0x1000, unix.O_RDONLY | unix.O_CLOEXEC}, 3,
			fakeMem{0x1000: cstr("/etc/passwd")}, `openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC)`},
		{"openat creat", SysOpenat, [6]uint64{atFDCWD, 0x1000, unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC | 0x40000000, 0644}, 3,
			fakeMem{0x1000: cstr("/tmp/out")}, `openat(AT_FDCWD, "/tmp/out", O_WRONLY|O_CREAT|O_TRUNC|0x40000000, 0644)`},
		{"openat tmpfile", SysOpenat, [6]uint64{5, 0x1000, unix.O_RDWR | unix.O_TMPFILE, 0600}, -9,
			fakeMem{0x1000: cstr("x")}, `openat(5, "x", O_RDWR|O_TMPFILE, 0600)`},
		{"open unknown bits", SysOpen, [6]uint64{0x1000, 0xff000000 | unix.O_APPEND}, neg(unix.ENOENT),
			fakeMem{0x1000: cstr("x")}, `open("x", O_RDONLY|O_APPEND|0xff000000)`},
		{"open many flags", SysOpen, [6]uint64{0x1000, unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_NOCTTY | unix.O_SYNC | unix.O_DSYNC | unix.O_PATH | unix.O_NOATIME | unix.O_ASYNC | unix.O_DIRECT, 01777}, neg(unix.ENOENT),
			fakeMem{0x1000: cstr("x")}, `open("x", O_WRONLY|O_CREAT|O_EXCL|O_NOCTTY|O_SYNC|O_DIRECT|O_NOFOLLOW|O_NOATIME|O_PATH|FASYNC, 01777)`},
		{"open accmode 3", SysOpen, [6]uint64{0x1000, 3}, 3, fakeMem{0x1000: cstr("x")}, `open("x", O_ACCMODE)`},
		{"open largefile", SysOpen, [6]uint64{0x1000, 0x18000}, 3, fakeMem{0x1000: cstr("d")}, `open("d", O_RDONLY|O_LARGEFILE|O_DIRECTORY)`},
		{"path escapes", SysOpenat, [6]uint64{atFDCWD, 0x1000}, neg(unix.ENOENT),
			fakeMem{0x1000: cstr("/d/\x01\ty\"\\z")}, `openat(AT_FDCWD, "/d/\1\ty\"\\z", O_RDONLY)`},
		{"path not truncated at 32", SysOpenat, [6]uint64{atFDCWD, 0x1000}, neg(unix.ENAMETOOLONG),
			fakeMem{0x1000: cstr(strings.Repeat("a", 299))}, `openat(AT_FDCWD, "` + strings.Repeat("a", 299) + `", O_RDONLY)`},
		{"path bad pointer", SysOpenat, [6]uint64{atFDCWD, 0x8}, neg(unix.EFAULT), nil, `openat(AT_FDCWD, 0x8, O_RDONLY)`},
		{"path NULL", SysOpenat, [6]uint64{atFDCWD, 0}, neg(unix.EFAULT), nil, `openat(AT_FDCWD, NULL, O_RDONLY)`},
		{"path without NUL before fault", SysOpen, [6]uint64{0x1000}, neg(unix.EFAULT),
			fakeMem{0x1000: []byte("abc")}, `open(0x1000, O_RDONLY)`},
		{"path crossing pages", SysChdir, [6]uint64{0x1ffe}, 0,
			fakeMem{0x1ffe: cstr("/tmp/dir")}, `chdir("/tmp/dir")`},
		{"openat2", SysOpenat2, [6]uint64{atFDCWD, 0x1000, 0x2000, 24}, neg(unix.EXDEV),
			fakeMem{0x1000: cstr("/tmp"), 0x2000: u64s(unix.O_RDONLY|unix.O_CLOEXEC, 0, unix.RESOLVE_BENEATH)},
			`openat2(AT_FDCWD, "/tmp", {flags=O_RDONLY|O_CLOEXEC, resolve=RESOLVE_BENEATH}, 24)`},
		{"openat2 mode", SysOpenat2, [6]uint64{atFDCWD, 0x1000, 0x2000, 24}, 3,
			fakeMem{0x1000: cstr("/tmp/o2"), 0x2000: u64s(unix.O_RDWR|unix.O_CREAT, 0600, 0)},
			`openat2(AT_FDCWD, "/tmp/o2", {flags=O_RDWR|O_CREAT, mode=0600, resolve=0}, 24)`},
		{"openat2 short size", SysOpenat2, [6]uint64{atFDCWD, 0x1000, 0x2000, 8}, neg(unix.EINVAL),
			fakeMem{0x1000: cstr("/"), 0x2000: u64s(0, 0, 0)}, `openat2(AT_FDCWD, "/", 0x2000, 8)`},

		{"read escapes", SysRead, [6]uint64{3, 0x1000, 100}, int64(len(escapes)),
			fakeMem{0x1000: escapes}, `read(3, "a\tb\nc\0d\"e\\f\1\177\377\342\200\2311\0012\0\0", 100)`},
		{"read control chars", SysRead, [6]uint64{0, 0x1000, 9}, 9,
			fakeMem{0x1000: []byte("\r\v\f\a\b\x1b\x1f ~")}, `read(0, "\r\v\f\7\10\33\37 ~", 9)`},
		{"read digit after NUL, 8 after NUL", SysRead, [6]uint64{0, 0x1000, 5}, 5,
			fakeMem{0x1000: []byte("\x00123\x008"[:5])}, `read(0, "\000123\0", 5)`},
		{"read 8 after NUL", SysRead, [6]uint64{0, 0x1000, 2}, 2,
			fakeMem{0x1000: []byte("\x008")}, `read(0, "\08", 2)`},
		{"read truncated", SysRead, [6]uint64{3, 0x1000, 832}, 832,
			fakeMem{0x1000: []byte("\x7fELF\x02\x01\x01\x03" + strings.Repeat("\x00", 8) + "\x03\x00>\x00\x01\x00\x00\x00\x10t\x02\x00\x00\x00\x00\x00" + strings.Repeat("z", 800))},
			`read(3, "\177ELF\2\1\1\3\0\0\0\0\0\0\0\0\3\0>\0\1\0\0\0\20t\2\0\0\0\0\0"..., 832)`},
		{"read only returned bytes", SysRead, [6]uint64{3, 0x1000, 100}, 4,
			fakeMem{0x1000: []byte("rootXXXXXXXX")}, `read(3, "root", 100)`},
		{"read EOF", SysRead, [6]uint64{0, 0x8, 10}, 0, nil, `read(0, "", 10)`},
		{"read failed", SysRead, [6]uint64{1000, 0x1000, 10}, neg(unix.EBADF),
			fakeMem{0x1000: []byte("garbage...")}, `read(1000, 0x1000, 10)`},
		{"read returned but unreadable", SysRead, [6]uint64{0, 0x1000, 10}, 10, nil, `read(0, 0x1000, 10)`},
		{"write 31", SysWrite, [6]uint64{1, 0x1000, 31}, 31,
			fakeMem{0x1000: []byte("0123456789012345678901234567890")}, `write(1, "0123456789012345678901234567890", 31)`},
		{"write 32", SysWrite, [6]uint64{1, 0x1000, 32}, 32,
			fakeMem{0x1000: []byte("01234567890123456789012345678901")}, `write(1, "01234567890123456789012345678901", 32)`},
		{"write 33", SysWrite, [6]uint64{1, 0x1000, 33}, 33,
			fakeMem{0x1000: []byte("012345678901234567890123456789012")}, `write(1, "01234567890123456789012345678901"..., 33)`},
		{"write high bytes", SysWrite, [6]uint64{1, 0x1000, 3}, 3,
			fakeMem{0x1000: []byte{0x80, 0x81, 0x82}}, `write(1, "\200\201\202", 3)`},
		{"write bad pointer", SysWrite, [6]uint64{1, 0x10, 3}, neg(unix.EFAULT), nil, `write(1, 0x10, 3)`},
		{"write NULL", SysWrite, [6]uint64{1, 0, 5}, 5, nil, `write(1, NULL, 5)`},
		{"write failed still shows input", SysWrite, [6]uint64{1, 0x1000, 2}, neg(unix.EPIPE),
			fakeMem{0x1000: []byte("hi")}, `write(1, "hi", 2)`},
		{"pread64", SysPread64, [6]uint64{3, 0x1000, 10, 5}, 10,
			fakeMem{0x1000: []byte("x:0:0:root")}, `pread64(3, "x:0:0:root", 10, 5)`},
		{"pwrite64", SysPwrite64, [6]uint64{3, 0x1000, 2, 1 << 40}, 2,
			fakeMem{0x1000: []byte("ab")}, `pwrite64(3, "ab", 2, 1099511627776)`},
	})
}

func TestFormatCallVectors(t *testing.T) {
	iov := fakeMem{
		0x1000: u64s(0x2000, 5, 0x3000, 6),
		0x2000: []byte("hello"),
		0x3000: []byte("world\n"),
	}
	readIov := fakeMem{
		0x1000: u64s(0x2000, 3, 0x3000, 100, 0x4000, 10, 0, 0),
		0x2000: []byte("roo"),
		0x3000: []byte(strings.Repeat("t:x:0:0:root:/root:/bin/bash\ndae", 4)),
		0x4000: []byte("/sbin/nolo"),
	}
	runCases(t, []callCase{
		{"writev", SysWritev, [6]uint64{1, 0x1000, 2}, 11, iov,
			`writev(1, [{iov_base="hello", iov_len=5}, {iov_base="world\n", iov_len=6}], 2)`},
		{"readv", SysReadv, [6]uint64{5, 0x1000, 4}, 113, readIov,
			`readv(5, [{iov_base="roo", iov_len=3}, {iov_base="t:x:0:0:root:/root:/bin/bash\ndae"..., iov_len=100}, {iov_base="/sbin/nolo", iov_len=10}, {iov_base=NULL, iov_len=0}], 4)`},
		{"readv short", SysReadv, [6]uint64{5, 0x1000, 3}, 4, readIov,
			`readv(5, [{iov_base="roo", iov_len=3}, {iov_base="t", iov_len=100}, {iov_base="", iov_len=10}], 3)`},
		{"readv empty", SysReadv, [6]uint64{5, 0x1000, 0}, 0, readIov, `readv(5, [], 0)`},
		{"readv NULL", SysReadv, [6]uint64{0, 0, 0}, 0, nil, `readv(0, NULL, 0)`},
		{"readv EFAULT", SysReadv, [6]uint64{0, 1, 1}, neg(unix.EFAULT), nil, `readv(0, 0x1, 1)`},
		{"writev bad base", SysWritev, [6]uint64{1, 0x1000, 2}, neg(unix.EFAULT),
			fakeMem{0x1000: u64s(0x500001, 4096, 0, 10)}, `writev(1, [{iov_base=0x500001, iov_len=4096}, {iov_base=NULL, iov_len=10}], 2)`},
		{"writev array fault midway", SysWritev, [6]uint64{1, 0x1000, 3}, neg(unix.EFAULT),
			fakeMem{0x1000: u64s(0, 0)}, `writev(1, [{iov_base=NULL, iov_len=0}, ... /* 0x1010 */], 3)`},
		{"writev truncated array", SysWritev, [6]uint64{1, 0x1000, 40}, neg(unix.EINVAL),
			fakeMem{0x1000: make([]byte, 16*40)}, `writev(1, [` + strings.Repeat(`{iov_base=NULL, iov_len=0}, `, 32) + `...], 40)`},
		{"pwritev2", SysPwritev2, [6]uint64{1, 0x1000, 1, 7, 0, unix.RWF_NOWAIT}, 5, iov,
			`pwritev2(1, [{iov_base="hello", iov_len=5}], 1, 7, RWF_NOWAIT)`},
		{"preadv", SysPreadv, [6]uint64{1, 0x1000, 1, 9}, 2, iov,
			`preadv(1, [{iov_base="he", iov_len=5}], 1, 9)`},
	})
}

func TestFormatCallFiles(t *testing.T) {
	reg := statBuf(unix.S_IFREG|0644, 0, 1221)
	chr := statBuf(unix.S_IFCHR|0666, unix.Mkdev(1, 3), 0)
	dirents := cat(
		u64s(1, 1), []byte{24, 0, 4}, []byte(".\x00\x00\x00\x00"),
		u64s(2, 2), []byte{24, 0, 4}, []byte("..\x00\x00\x00"),
		u64s(3, 3), []byte{32, 0, 8}, []byte("file\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
	)
	runCases(t, []callCase{
		{"close", SysClose, [6]uint64{3}, 0, nil, `close(3)`},
		{"close -1", SysClose, [6]uint64{0xffffffffffffffff}, neg(unix.EBADF), nil, `close(-1)`},
		{"fstat", SysFstat, [6]uint64{3, 0x1000}, 0, fakeMem{0x1000: reg}, `fstat(3, {st_mode=S_IFREG|0644, st_size=1221, ...})`},
		{"stat", SysStat, [6]uint64{0x2000, 0x1000}, 0, fakeMem{0x1000: reg, 0x2000: cstr("/etc/passwd")},
			`stat("/etc/passwd", {st_mode=S_IFREG|0644, st_size=1221, ...})`},
		{"stat failed", SysStat, [6]uint64{0x2000, 0x1000}, neg(unix.ENOENT), fakeMem{0x1000: reg, 0x2000: cstr("/nope")},
			`stat("/nope", 0x1000)`},
		{"lstat bad path", SysLstat, [6]uint64{8, 0x1000}, neg(unix.EFAULT), nil, `lstat(0x8, 0x1000)`},
		{"newfstatat empty path", SysNewfstatat, [6]uint64{3, 0x2000, 0x1000, unix.AT_EMPTY_PATH}, 0,
			fakeMem{0x1000: reg, 0x2000: cstr("")}, `newfstatat(3, "", {st_mode=S_IFREG|0644, st_size=1221, ...}, AT_EMPTY_PATH)`},
		{"newfstatat chr", SysNewfstatat, [6]uint64{atFDCWD, 0x2000, 0x1000, 0}, 0,
			fakeMem{0x1000: chr, 0x2000: cstr("/dev/null")},
			`newfstatat(AT_FDCWD, "/dev/null", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x3), ...}, 0)`},
		{"statx", SysStatx, [6]uint64{atFDCWD, 0x2000, unix.AT_SYMLINK_NOFOLLOW, 0xfff, 0x1000}, 0,
			fakeMem{0x2000: cstr("/dev/null"), 0x1000: cat(u32s(0x1fff, 4096), u64s(0), u32s(1, 0, 0), []byte{0xb6, 0x21, 0, 0}, u64s(5, 0))},
			`statx(AT_FDCWD, "/dev/null", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, STATX_ALL, {stx_mask=STATX_ALL|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFCHR|0666, stx_size=0, ...})`},
		{"lseek", SysLseek, [6]uint64{3, 0, unix.SEEK_CUR}, 100, nil, `lseek(3, 0, SEEK_CUR)`},
		{"lseek negative, bad whence", SysLseek, [6]uint64{0, ^uint64(4), 7}, neg(unix.EINVAL), nil, `lseek(0, -5, 0x7 /* SEEK_??? */)`},
		{"access", SysAccess, [6]uint64{0x1000, unix.R_OK | unix.W_OK}, 0, fakeMem{0x1000: cstr("/etc")}, `access("/etc", R_OK|W_OK)`},
		{"access F_OK", SysAccess, [6]uint64{0x1000, 0}, 0, fakeMem{0x1000: cstr("/etc")}, `access("/etc", F_OK)`},
		{"access unknown", SysAccess, [6]uint64{0x1000, 0x10}, neg(unix.EINVAL), fakeMem{0x1000: cstr("/etc")}, `access("/etc", 0x10 /* ?_OK */)`},
		{"faccessat", SysFaccessat, [6]uint64{atFDCWD, 0x1000, unix.X_OK}, neg(unix.ENOENT), fakeMem{0x1000: cstr("x")}, `faccessat(AT_FDCWD, "x", X_OK)`},
		{"faccessat2", SysFaccessat2, [6]uint64{3, 0x1000, unix.X_OK, unix.AT_EACCESS}, neg(unix.ENOTDIR), fakeMem{0x1000: cstr("x")}, `faccessat2(3, "x", X_OK, AT_EACCESS)`},
		{"getdents64", SysGetdents64, [6]uint64{4, 0x1000, 256}, 80, fakeMem{0x1000: dirents}, `getdents64(4, 0x1000 /* 3 entries */, 256)`},
		{"getdents64 one", SysGetdents64, [6]uint64{4, 0x1000, 256}, 24, fakeMem{0x1000: dirents}, `getdents64(4, 0x1000 /* 1 entries */, 256)`},
		{"getdents64 end", SysGetdents64, [6]uint64{4, 0x1000, 256}, 0, fakeMem{0x1000: dirents}, `getdents64(4, 0x1000 /* 0 entries */, 256)`},
		{"getdents64 failed", SysGetdents64, [6]uint64{1000, 0x1000, 64}, neg(unix.EBADF), nil, `getdents64(1000, 0x1000, 64)`},
		{"readlink", SysReadlink, [6]uint64{0x1000, 0x2000, 256}, 10, fakeMem{0x1000: cstr("/proc/self/exe"), 0x2000: []byte("/tmp/stc/tXXXX")},
			`readlink("/proc/self/exe", "/tmp/stc/t", 256)`},
		{"readlink short buffer", SysReadlink, [6]uint64{0x1000, 0x2000, 3}, 3, fakeMem{0x1000: cstr("/proc/self/exe"), 0x2000: []byte("/tmp")},
			`readlink("/proc/self/exe", "/tm", 3)`},
		{"readlinkat failed", SysReadlinkat, [6]uint64{atFDCWD, 0x1000, 0x2000, 64}, neg(unix.EINVAL), fakeMem{0x1000: cstr("/")},
			`readlinkat(AT_FDCWD, "/", 0x2000, 64)`},
		{"getcwd", SysGetcwd, [6]uint64{0x1000, 256}, 9, fakeMem{0x1000: cstr("/tmp/stc")}, `getcwd("/tmp/stc", 256)`},
		{"getcwd ERANGE", SysGetcwd, [6]uint64{0x1000, 1}, neg(unix.ERANGE), nil, `getcwd(0x1000, 1)`},
		{"chdir", SysChdir, [6]uint64{0x1000}, 0, fakeMem{0x1000: cstr("/tmp")}, `chdir("/tmp")`},
		{"fcntl F_GETFD", SysFcntl, [6]uint64{4, unix.F_GETFD, 99}, 0, nil, `fcntl(4, F_GETFD)`},
		{"fcntl F_SETFD", SysFcntl, [6]uint64{4, unix.F_SETFD, unix.FD_CLOEXEC}, 0, nil, `fcntl(4, F_SETFD, FD_CLOEXEC)`},
		{"fcntl F_SETFL", SysFcntl, [6]uint64{4, unix.F_SETFL, unix.O_NONBLOCK}, 0, nil, `fcntl(4, F_SETFL, O_RDONLY|O_NONBLOCK)`},
		{"fcntl F_DUPFD_CLOEXEC", SysFcntl, [6]uint64{4, unix.F_DUPFD_CLOEXEC, 10}, 11, nil, `fcntl(4, F_DUPFD_CLOEXEC, 10)`},
		{"fcntl unknown", SysFcntl, [6]uint64{0, 999, 5}, neg(unix.EINVAL), nil, `fcntl(0, 0x3e7 /* F_??? */, 0x5)`},
		{"fcntl F_SETLK", SysFcntl, [6]uint64{0, unix.F_SETLK, 0x1000}, neg(unix.EBADF),
			fakeMem{0x1000: cat([]byte{unix.F_WRLCK, 0, unix.SEEK_SET, 0, 0, 0, 0, 0}, u64s(0, 10, 0))},
			`fcntl(0, F_SETLK, {l_type=F_WRLCK, l_whence=SEEK_SET, l_start=0, l_len=10})`},
		{"fcntl F_GETLK", SysFcntl, [6]uint64{0, unix.F_GETLK, 0x1000}, 0,
			fakeMem{0x1000: cat([]byte{unix.F_UNLCK, 0, unix.SEEK_SET, 0, 0, 0, 0, 0}, u64s(0, 10, 0))},
			`fcntl(0, F_GETLK, {l_type=F_UNLCK, l_whence=SEEK_SET, l_start=0, l_len=10, l_pid=0})`},
		{"fcntl F_ADD_SEALS", SysFcntl, [6]uint64{0, unix.F_ADD_SEALS, 3}, neg(unix.EPERM), nil, `fcntl(0, F_ADD_SEALS, F_SEAL_SEAL|F_SEAL_SHRINK)`},
		{"dup", SysDup, [6]uint64{4}, 5, nil, `dup(4)`},
		{"dup2", SysDup2, [6]uint64{0, 0xfffffffffffffffd}, neg(unix.EBADF), nil, `dup2(0, -3)`},
		{"dup3", SysDup3, [6]uint64{4, 21, unix.O_CLOEXEC}, 21, nil, `dup3(4, 21, O_CLOEXEC)`},
		{"pipe2", SysPipe2, [6]uint64{0x1000, unix.O_CLOEXEC | unix.O_NONBLOCK}, 0, fakeMem{0x1000: u32s(6, 7)}, `pipe2([6, 7], O_NONBLOCK|O_CLOEXEC)`},
		{"pipe2 failed", SysPipe2, [6]uint64{8, 0}, neg(unix.EFAULT), nil, `pipe2(0x8, 0)`},
		{"pipe", SysPipe, [6]uint64{0x1000}, 0, fakeMem{0x1000: u32s(9, 11)}, `pipe([9, 11])`},
		{"splice", SysSplice, [6]uint64{3, 0x1000, 5, 0, 4096, 3}, 4096, fakeMem{0x1000: u64s(6096)},
			`splice(3, [6096], 5, NULL, 4096, SPLICE_F_MOVE|SPLICE_F_NONBLOCK)`},
		{"splice bad flags", SysSplice, [6]uint64{3, 0, 5, 0, 10, 0x30}, neg(unix.EINVAL), nil, `splice(3, NULL, 5, NULL, 10, 0x30 /* SPLICE_F_??? */)`},
		{"tee", SysTee, [6]uint64{3, 7, 100, 0}, 8, nil, `tee(3, 7, 100, 0)`},
		{"vmsplice", SysVmsplice, [6]uint64{7, 0x1000, 1, 8}, 3, fakeMem{0x1000: u64s(0x2000, 3), 0x2000: []byte("abc")},
			`vmsplice(7, [{iov_base="abc", iov_len=3}], 1, SPLICE_F_GIFT)`},
		{"unlinkat", SysUnlinkat, [6]uint64{atFDCWD, 0x1000, unix.AT_REMOVEDIR}, neg(unix.ENOENT), fakeMem{0x1000: cstr("zz")}, `unlinkat(AT_FDCWD, "zz", AT_REMOVEDIR)`},
		{"mkdir mode 0", SysMkdir, [6]uint64{0x1000, 0}, 0, fakeMem{0x1000: cstr("d2")}, `mkdir("d2", 000)`},
		{"fchmodat", SysFchmodat, [6]uint64{atFDCWD, 0x1000, 04755}, neg(unix.ENOENT), fakeMem{0x1000: cstr("/proc/zz")}, `fchmodat(AT_FDCWD, "/proc/zz", 04755)`},
		{"mknodat fifo", SysMknodat, [6]uint64{atFDCWD, 0x1000, unix.S_IFIFO | 0600, 0}, 0, fakeMem{0x1000: cstr("f")}, `mknodat(AT_FDCWD, "f", S_IFIFO|0600)`},
		{"mknod chr", SysMknod, [6]uint64{0x1000, unix.S_IFCHR | 0600, uint64(unix.Mkdev(4, 64))}, 0, fakeMem{0x1000: cstr("tty")}, `mknod("tty", S_IFCHR|0600, makedev(0x4, 0x40))`},
		{"chown -1", SysChown, [6]uint64{0x1000, 0xffffffff, 5}, neg(unix.ENOENT), fakeMem{0x1000: cstr("/x")}, `chown("/x", -1, 5)`},
		{"umask", SysUmask, [6]uint64{022}, 022, nil, `umask(022)`},
		{"renameat2", SysRenameat2, [6]uint64{atFDCWD, 0x1000, atFDCWD, 0x2000, unix.RENAME_NOREPLACE}, neg(unix.ENOENT),
			fakeMem{0x1000: cstr("a"), 0x2000: cstr("b")}, `renameat2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE)`},
		{"symlinkat", SysSymlinkat, [6]uint64{0x1000, atFDCWD, 0x2000}, 0, fakeMem{0x1000: cstr("t"), 0x2000: cstr("l")}, `symlinkat("t", AT_FDCWD, "l")`},
		{"utimensat", SysUtimensat, [6]uint64{atFDCWD, 0x1000, 0x2000, 0}, 0,
			fakeMem{0x1000: cstr("f"), 0x2000: u64s(0, unix.UTIME_NOW, 5, unix.UTIME_OMIT)}, `utimensat(AT_FDCWD, "f", [UTIME_NOW, UTIME_OMIT], 0)`},
		{"mount", SysMount, [6]uint64{0x1000, 0x2000, 0x1000, unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, 0}, neg(unix.ENOENT),
			fakeMem{0x1000: cstr("proc"), 0x2000: cstr("/nope")}, `mount("proc", "/nope", "proc", MS_NOSUID|MS_NODEV|MS_NOEXEC, NULL)`},
		{"getxattr", SysLgetxattr, [6]uint64{0x1000, 0x2000, 0x3000, 255}, neg(unix.ENODATA),
			fakeMem{0x1000: cstr("/etc"), 0x2000: cstr("security.selinux")}, `lgetxattr("/etc", "security.selinux", 0x3000, 255)`},
	})
}

func TestFormatCallMemoryAndProcess(t *testing.T) {
	sigact := u64s(1, 0x04000000|0x10000000, 0x7fc721ea1050, 1<<1|1<<35)
	argv := fakeMem{
		0x1000: cstr("/bin/ls"),
		0x2000: u64s(0x3000, 0x3100, 0x3200, 0),
		0x3000: cstr("ls"),
		0x3100: cstr("-la"),
		0x3200: cstr("a very long argument string that's more than 32"),
		0x4000: u64s(0x3000, 0x3000, 0),
	}
	runCases(t, []callCase{
		{"mmap anon", SysMmap, [6]uint64{0, 8192, unix.PROT_READ | unix.PROT_WRITE, unix.MAP_PRIVATE | unix.MAP_ANONYMOUS, 0xffffffffffffffff, 0}, 0x7f0000000000, nil,
			`mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0)`},
		{"mmap file", SysMmap, [6]uint64{0x7fc721e8b000, 1400832, unix.PROT_READ | unix.PROT_EXEC, unix.MAP_PRIVATE | unix.MAP_FIXED | unix.MAP_DENYWRITE, 3, 0x26000}, 0x7fc721e8b000, nil,
			`mmap(0x7fc721e8b000, 1400832, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3, 0x26000)`},
		{"mmap odd", SysMmap, [6]uint64{0x10000, 4096, 0x80 | unix.PROT_EXEC, unix.MAP_SHARED | unix.MAP_FIXED | 0x10000000, 5, 0x3000}, neg(unix.EBADF), nil,
			`mmap(0x10000, 4096, PROT_EXEC|0x80, MAP_SHARED|MAP_FIXED|4<<MAP_HUGE_SHIFT, 5, 0x3000)`},
		{"mmap zero", SysMmap, [6]uint64{}, neg(unix.EINVAL), nil, `mmap(NULL, 0, PROT_NONE, MAP_FILE, 0, 0)`},
		{"mmap unknown prot only", SysMmap, [6]uint64{0, 4096, 0x80, unix.MAP_SHARED_VALIDATE, 0xffffffffffffffff, 0}, neg(unix.EINVAL), nil,
			`mmap(NULL, 4096, 0x80 /* PROT_??? */, MAP_SHARED_VALIDATE, -1, 0)`},
		{"mprotect", SysMprotect, [6]uint64{0x7fc722034000, 16384, unix.PROT_READ}, 0, nil, `mprotect(0x7fc722034000, 16384, PROT_READ)`},
		{"munmap NULL", SysMunmap, [6]uint64{0, 0}, neg(unix.EINVAL), nil, `munmap(NULL, 0)`},
		{"brk NULL", SysBrk, [6]uint64{0}, 0x55d5ca813000, nil, `brk(NULL)`},
		{"brk", SysBrk, [6]uint64{0x1000}, 0x55d5ca813000, nil, `brk(0x1000)`},
		{"mremap", SysMremap, [6]uint64{0x7fea35bcb000, 8192, 16384, unix.MREMAP_MAYMOVE, 77}, 0x7fea35bc7000, nil,
			`mremap(0x7fea35bcb000, 8192, 16384, MREMAP_MAYMOVE)`},
		{"madvise", SysMadvise, [6]uint64{0x7fea35bcb000, 4096, unix.MADV_DONTNEED}, 0, nil, `madvise(0x7fea35bcb000, 4096, MADV_DONTNEED)`},

		{"rt_sigaction", SysRtSigaction, [6]uint64{uint64(unix.SIGUSR1), 0x1000, 0, 8}, 0, fakeMem{0x1000: sigact},
			`rt_sigaction(SIGUSR1, {sa_handler=SIG_IGN, sa_mask=[INT RT_4], sa_flags=SA_RESTORER|SA_RESTART, sa_restorer=0x7fc721ea1050}, NULL, 8)`},
		{"rt_sigaction old", SysRtSigaction, [6]uint64{uint64(unix.SIGTERM), 0, 0x1000, 8}, 0, fakeMem{0x1000: u64s(0, 0, 0, 0)},
			`rt_sigaction(SIGTERM, NULL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8)`},
		{"rt_sigaction flags", SysRtSigaction, [6]uint64{uint64(unix.SIGCHLD), 0x1000, 0, 8}, 0,
			fakeMem{0x1000: u64s(0x1234, 0xffffffff00000100|0x04000000|0x08000000|0x40000000|0x80000000|4, 0x7f00, 0)},
			`rt_sigaction(SIGCHLD, {sa_handler=0x1234, sa_mask=[], sa_flags=SA_RESTORER|SA_ONSTACK|SA_NODEFER|SA_RESETHAND|SA_SIGINFO|0xffffffff00000100, sa_restorer=0x7f00}, NULL, 8)`},
		{"rt_sigaction bad", SysRtSigaction, [6]uint64{65, 0, 0x1000, 8}, neg(unix.EINVAL), nil, `rt_sigaction(65, NULL, 0x1000, 8)`},
		{"rt_sigaction fault", SysRtSigaction, [6]uint64{uint64(unix.SIGTERM), 8, 0, 8}, neg(unix.EFAULT), nil, `rt_sigaction(SIGTERM, 0x8, NULL, 8)`},
		{"rt_sigprocmask complement", SysRtSigprocmask, [6]uint64{unix.SIG_BLOCK, 0x1000, 0, 8}, 0,
			fakeMem{0x1000: u64s(^uint64(1<<8 | 1<<31 | 1<<32))}, `rt_sigprocmask(SIG_BLOCK, ~[KILL RTMIN RT_1], NULL, 8)`},
		{"rt_sigprocmask setmask", SysRtSigprocmask, [6]uint64{unix.SIG_SETMASK, 0x1000, 0x2000, 8}, 0,
			fakeMem{0x1000: u64s(0), 0x2000: u64s(1<<16 | 1<<63)}, `rt_sigprocmask(SIG_SETMASK, [], [CHLD RT_32], 8)`},
		{"rt_sigprocmask bad how", SysRtSigprocmask, [6]uint64{5, 0, 0x2000, 8}, 0, fakeMem{0x2000: u64s(0)}, `rt_sigprocmask(0x5 /* SIG_??? */, NULL, [], 8)`},
		{"rt_sigprocmask bad size", SysRtSigprocmask, [6]uint64{unix.SIG_BLOCK, 0x1000, 0, 16}, neg(unix.EINVAL), fakeMem{0x1000: u64s(0, 0)}, `rt_sigprocmask(SIG_BLOCK, 0x1000, NULL, 16)`},
		{"kill", SysKill, [6]uint64{123, uint64(unix.SIGTERM)}, 0, nil, `kill(123, SIGTERM)`},
		{"kill 0", SysKill, [6]uint64{123, 0}, 0, nil, `kill(123, 0)`},
		{"kill rt", SysKill, [6]uint64{1234567, 64}, neg(unix.ESRCH), nil, `kill(1234567, SIGRT_32)`},
		{"kill bad", SysKill, [6]uint64{1234567, 65}, neg(unix.ESRCH), nil, `kill(1234567, 65)`},
		{"kill group", SysKill, [6]uint64{uint64(0xffffffffffed2979), 34}, neg(unix.ESRCH), nil, `kill(-1234567, SIGRT_2)`},
		{"tgkill", SysTgkill, [6]uint64{3042, 3042, uint64(unix.SIGWINCH)}, 0, nil, `tgkill(3042, 3042, SIGWINCH)`},

		{"execve", SysExecve, [6]uint64{0x1000, 0x2000, 0x4000}, 0, argv,
			`execve("/bin/ls", ["ls", "-la", "a very long argument string that"...], 0x4000 /* 2 vars */)`},
		{"execve one var", SysExecve, [6]uint64{0x1000, 0x2000, 0x4008}, 0, argv,
			`execve("/bin/ls", ["ls", "-la", "a very long argument string that"...], 0x4008 /* 1 var */)`},
		{"execve bad argv", SysExecve, [6]uint64{0x1000, 8, 0}, neg(unix.ENOENT), argv, `execve("/bin/ls", 0x8, NULL)`},
		{"execve bad element", SysExecve, [6]uint64{0x1000, 0x5000, 8}, neg(unix.ENOENT),
			fakeMem{0x1000: cstr("/x"), 0x5000: u64s(0x6000, 8, 0), 0x6000: cstr("a")}, `execve("/x", ["a", 0x8], 0x8)`},
		{"execveat", SysExecveat, [6]uint64{atFDCWD, 0x1000, 0x2000, 0x4000, unix.AT_EMPTY_PATH}, neg(unix.ENOENT), argv,
			`execveat(AT_FDCWD, "/bin/ls", ["ls", "-la", "a very long argument string that"...], 0x4000 /* 2 vars */, AT_EMPTY_PATH)`},
		{"exit_group", SysExitGroup, [6]uint64{0}, 0, nil, `exit_group(0)`},
		{"exit", SysExit, [6]uint64{1 << 40}, 0, nil, `exit(0)`},
		{"wait4 exited", SysWait4, [6]uint64{3043, 0x1000, 0, 0}, 3043, fakeMem{0x1000: u32s(3 << 8)},
			`wait4(3043, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL)`},
		{"wait4 signaled", SysWait4, [6]uint64{0xffffffffffffffff, 0x1000, 0, 0}, 6193, fakeMem{0x1000: u32s(9)},
			`wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}], 0, NULL)`},
		{"wait4 core", SysWait4, [6]uint64{0xffffffffffffffff, 0x1000, 0, 0}, 6193, fakeMem{0x1000: u32s(0x80 | 11)},
			`wait4(-1, [{WIFSIGNALED(s) && WTERMSIG(s) == SIGSEGV && WCOREDUMP(s)}], 0, NULL)`},
		{"wait4 stopped", SysWait4, [6]uint64{18913, 0x1000, unix.WUNTRACED, 0}, 18913, fakeMem{0x1000: u32s(19<<8 | 0x7f)},
			`wait4(18913, [{WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP}], WSTOPPED, NULL)`},
		{"wait4 continued", SysWait4, [6]uint64{1, 0x1000, unix.WCONTINUED, 0}, 1, fakeMem{0x1000: u32s(0xffff)},
			`wait4(1, [{WIFCONTINUED(s)}], WCONTINUED, NULL)`},
		{"wait4 failed, options", SysWait4, [6]uint64{0xffffffffffffffff, 0x1000, 1 | 2 | 0x40000000, 0}, neg(unix.ECHILD), nil,
			`wait4(-1, 0x1000, WNOHANG|WSTOPPED|__WALL, NULL)`},
		{"wait4 unknown options", SysWait4, [6]uint64{0, 0x1000, 0xffffffff &^ 0x7f}, neg(unix.EINVAL), nil,
			`wait4(0, 0x1000, WNOWAIT|__WCLONE|__WALL|__WNOTHREAD|0x1effff80, NULL)`},
		{"wait4 WNOHANG nothing", SysWait4, [6]uint64{0xffffffffffffffff, 0x1000, unix.WNOHANG, 0}, 0, fakeMem{0x1000: u32s(0)},
			`wait4(-1, 0x1000, WNOHANG, NULL)`},
		{"clone fork", SysClone, [6]uint64{unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID | uint64(unix.SIGCHLD), 0, 0, 0x7fc3f1d05a10, 0}, 3043, nil,
			`clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7fc3f1d05a10)`},
		{"clone thread", SysClone, [6]uint64{unix.CLONE_VM | unix.CLONE_THREAD | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID, 0x7000, 0x1000, 0, 0x1234}, 3164,
			fakeMem{0x1000: u32s(3164)},
			`clone(child_stack=0x7000, flags=CLONE_VM|CLONE_THREAD|CLONE_SETTLS|CLONE_PARENT_SETTID, parent_tid=[3164], tls=0x1234)`},
		{"clone3", SysClone3, [6]uint64{0x1000, 88}, neg(unix.EINVAL),
			fakeMem{0x1000: u64s(unix.CLONE_VM|unix.CLONE_PIDFD|unix.CLONE_VFORK|unix.CLONE_THREAD, 0x7ec0, 0, 0, uint64(unix.SIGCHLD), 0x7ec0, 100, 0, 0, 0, 0)},
			`clone3({flags=CLONE_VM|CLONE_PIDFD|CLONE_VFORK|CLONE_THREAD, pidfd=0x7ec0, exit_signal=SIGCHLD, stack=0x7ec0, stack_size=0x64}, 88)`},
		{"clone3 ok", SysClone3, [6]uint64{0x1000, 88}, 18912,
			fakeMem{0x1000: u64s(unix.CLONE_PIDFD|unix.CLONE_PARENT_SETTID, 0x2000, 0, 0x2004, uint64(unix.SIGCHLD), 0, 0, 0, 0, 0, 0), 0x2000: u32s(14, 18912)},
			`clone3({flags=CLONE_PIDFD|CLONE_PARENT_SETTID, pidfd=0x2000, parent_tid=0x2004, exit_signal=SIGCHLD, stack=NULL, stack_size=0} => {pidfd=[14], parent_tid=[18912]}, 88)`},
		{"clone3 small", SysClone3, [6]uint64{0x1000, 20}, neg(unix.EINVAL), fakeMem{0x1000: make([]byte, 88)}, `clone3(0x1000, 20)`},

		{"uname", SysUname, [6]uint64{0x1000}, 0,
			fakeMem{0x1000: cat([]byte("Linux"), make([]byte, 60), []byte("vm"), make([]byte, 63+65*4))},
			`uname({sysname="Linux", nodename="vm", ...})`},
		{"uname fault", SysUname, [6]uint64{8}, neg(unix.EFAULT), nil, `uname(0x8)`},
		{"arch_prctl set", SysArchPrctl, [6]uint64{0x1002, 0x7fc721e62740}, 0, nil, `arch_prctl(ARCH_SET_FS, 0x7fc721e62740)`},
		{"arch_prctl get", SysArchPrctl, [6]uint64{0x1003, 0x1000}, 0, fakeMem{0x1000: u64s(0x1234)}, `arch_prctl(ARCH_GET_FS, [0x1234])`},
		{"arch_prctl unknown", SysArchPrctl, [6]uint64{0x3001, 0x1000}, neg(unix.EINVAL), nil, `arch_prctl(0x3001 /* ARCH_??? */, 0x1000)`},
		{"set_tid_address", SysSetTidAddress, [6]uint64{0x7fc721e62a10}, 3016, nil, `set_tid_address(0x7fc721e62a10)`},
		{"set_tid_address 0", SysSetTidAddress, [6]uint64{0}, 3016, nil, `set_tid_address(0)`},
		{"set_robust_list", SysSetRobustList, [6]uint64{0x7fc721e62a20, 24}, 0, nil, `set_robust_list(0x7fc721e62a20, 24)`},
		{"rseq", SysRseq, [6]uint64{0x7fc721e63060, 0x20, 0, 0x53053053}, 0, nil, `rseq(0x7fc721e63060, 0x20, 0, 0x53053053)`},
		{"prlimit64", SysPrlimit64, [6]uint64{0, unix.RLIMIT_STACK, 0, 0x1000}, 0, fakeMem{0x1000: u64s(8192*1024, ^uint64(0))},
			`prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY})`},
		{"prlimit64 set", SysPrlimit64, [6]uint64{0, unix.RLIMIT_AS, 0x1000, 0x2000}, neg(unix.EINVAL), fakeMem{0x1000: u64s(5242881, 4096)},
			`prlimit64(0, RLIMIT_AS, {rlim_cur=5242881, rlim_max=4*1024}, 0x2000)`},
		{"prlimit64 unknown", SysPrlimit64, [6]uint64{1, 99, 0, 0}, neg(unix.EINVAL), nil, `prlimit64(1, 0x63 /* RLIMIT_??? */, NULL, NULL)`},
		{"setrlimit 1024", SysSetrlimit, [6]uint64{unix.RLIMIT_CORE, 0x1000}, neg(unix.EINVAL), fakeMem{0x1000: u64s(1024, 0)},
			`setrlimit(RLIMIT_CORE, {rlim_cur=1024, rlim_max=0})`},
		{"getrandom", SysGetrandom, [6]uint64{0x1000, 8, unix.GRND_NONBLOCK}, 8, fakeMem{0x1000: []byte{0xeb, 0xce, 0xf5, 0x46, 0x2c, 0xbc, 0x60, 0xe1}},
			`getrandom("\xeb\xce\xf5\x46\x2c\xbc\x60\xe1", 8, GRND_NONBLOCK)`},
		{"getrandom flags", SysGetrandom, [6]uint64{0x1000, 4, 7}, neg(unix.EINVAL), nil, `getrandom(0x1000, 4, GRND_NONBLOCK|GRND_RANDOM|GRND_INSECURE)`},
		{"getrandom unknown flag", SysGetrandom, [6]uint64{0x1000, 4, 0x80}, neg(unix.EINVAL), nil, `getrandom(0x1000, 4, 0x80 /* GRND_??? */)`},
		{"prctl set name", SysPrctl, [6]uint64{unix.PR_SET_NAME, 0x1000}, 0, fakeMem{0x1000: cstr("myname")}, `prctl(PR_SET_NAME, "myname")`},
		{"prctl nnp", SysPrctl, [6]uint64{unix.PR_SET_NO_NEW_PRIVS, 1}, 0, nil, `prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)`},
		{"prctl get dumpable", SysPrctl, [6]uint64{unix.PR_GET_DUMPABLE}, 1, nil, `prctl(PR_GET_DUMPABLE)`},
		{"prctl pdeathsig", SysPrctl, [6]uint64{unix.PR_SET_PDEATHSIG, uint64(unix.SIGKILL)}, 0, nil, `prctl(PR_SET_PDEATHSIG, SIGKILL)`},
		{"sigaltstack", SysSigaltstack, [6]uint64{0, 0x1000}, 0, fakeMem{0x1000: cat(u64s(0x7ffc17bba470), u32s(0, 0), u64s(8192))},
			`sigaltstack(NULL, {ss_sp=0x7ffc17bba470, ss_flags=0, ss_size=8192})`},
		{"getresuid", SysGetresuid, [6]uint64{0x1000, 0x1004, 0x1008}, 0, fakeMem{0x1000: u32s(0, 0, 0)}, `getresuid([0], [0], [0])`},
		{"sched_getaffinity", SysSchedGetaffinity, [6]uint64{0, 64, 0x1000}, 32, fakeMem{0x1000: make([]byte, 31)}, `sched_getaffinity(0, 64, 0x1000)`},
		{"sched_getaffinity ok", SysSchedGetaffinity, [6]uint64{0, 64, 0x1000}, 8, fakeMem{0x1000: u64s(3)}, `sched_getaffinity(0, 64, [0 1])`},
	})
}

func TestFormatCallTimeIoctlNet(t *testing.T) {
	ts := fakeMem{0x1000: u64s(0, 1000)}
	runCases(t, []callCase{
		{"clock_gettime", SysClockGettime, [6]uint64{unix.CLOCK_MONOTONIC, 0x1000}, 0, fakeMem{0x1000: u64s(246, 467740358)},
			`clock_gettime(CLOCK_MONOTONIC, {tv_sec=246, tv_nsec=467740358})`},
		{"clock_gettime bad clock", SysClockGettime, [6]uint64{99, 0x1000}, neg(unix.EINVAL), ts, `clock_gettime(0x63 /* CLOCK_??? */, 0x1000)`},
		{"clock_gettime cpu clock", SysClockGettime, [6]uint64{0xfffffffffffffffa, 0x1000}, 0, ts, `clock_gettime(0xfffffffa /* CLOCK_??? */, {tv_sec=0, tv_nsec=1000})`},
		{"clock_gettime EFAULT", SysClockGettime, [6]uint64{1, 8}, neg(unix.EFAULT), nil, `clock_gettime(CLOCK_MONOTONIC, 0x8)`},
		{"clock_nanosleep", SysClockNanosleep, [6]uint64{unix.CLOCK_REALTIME, 0, 0x1000, 0}, 0, ts,
			`clock_nanosleep(CLOCK_REALTIME, 0, {tv_sec=0, tv_nsec=1000}, NULL)`},
		{"clock_nanosleep abs", SysClockNanosleep, [6]uint64{unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, 0x1000, 0}, 0, ts,
			`clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, {tv_sec=0, tv_nsec=1000}, NULL)`},
		{"nanosleep", SysNanosleep, [6]uint64{0x1000, 0x2000}, 0, ts, `nanosleep({tv_sec=0, tv_nsec=1000}, 0x2000)`},
		{"nanosleep interrupted", SysNanosleep, [6]uint64{0x1000, 0x2000}, neg(unix.EINTR), fakeMem{0x1000: u64s(5, 0), 0x2000: u64s(2, 500)},
			`nanosleep({tv_sec=5, tv_nsec=0}, {tv_sec=2, tv_nsec=500})`},
		{"gettimeofday", SysGettimeofday, [6]uint64{0x1000, 0}, 0, fakeMem{0x1000: u64s(17, 42)}, `gettimeofday({tv_sec=17, tv_usec=42}, NULL)`},

		{"ioctl TIOCGWINSZ", SysIoctl, [6]uint64{1, unix.TIOCGWINSZ, 0x1000}, 0, fakeMem{0x1000: []byte{24, 0, 80, 0, 0, 0, 0, 0}},
			`ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0})`},
		{"ioctl TIOCGWINSZ failed", SysIoctl, [6]uint64{1, unix.TIOCGWINSZ, 0x1000}, neg(unix.ENOTTY), nil, `ioctl(1, TIOCGWINSZ, 0x1000)`},
		{"ioctl TCGETS", SysIoctl, [6]uint64{0, unix.TCGETS, 0x1000}, 0,
			fakeMem{0x1000: cat(u32s(unix.ICRNL|unix.IXON, unix.OPOST|unix.ONLCR, unix.B38400|unix.CS8|unix.CREAD,
				unix.ISIG|unix.ICANON|unix.ECHO|unix.ECHOE|unix.ECHOK|unix.IEXTEN|unix.ECHOCTL|unix.ECHOKE), make([]byte, 20))},
			`ioctl(0, TCGETS, {c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR, c_cflag=B38400|CS8|CREAD, c_lflag=ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|ECHOKE, ...})`},
		{"ioctl TIOCSPGRP", SysIoctl, [6]uint64{255, unix.TIOCSPGRP, 0x1000}, neg(unix.ENOTTY), fakeMem{0x1000: u32s(1)}, `ioctl(255, TIOCSPGRP, [1])`},
		{"ioctl TIOCGPGRP", SysIoctl, [6]uint64{0, unix.TIOCGPGRP, 0x1000}, 0, fakeMem{0x1000: u32s(18747)}, `ioctl(0, TIOCGPGRP, [18747])`},
		{"ioctl FIONBIO", SysIoctl, [6]uint64{0, stFIONBIO, 0x1000}, 0, fakeMem{0x1000: u32s(1)}, `ioctl(0, FIONBIO, [1])`},
		{"ioctl FIOCLEX", SysIoctl, [6]uint64{0, stFIOCLEX, 77}, 0, nil, `ioctl(0, FIOCLEX)`},
		{"ioctl unknown", SysIoctl, [6]uint64{1, 0x1234, 7}, neg(unix.ENOTTY), nil, `ioctl(1, _IOC(_IOC_NONE, 0x12, 0x34, 0), 0x7)`},
		{"ioctl unknown read", SysIoctl, [6]uint64{1, 0x80045499, 0}, neg(unix.ENOTTY), nil, `ioctl(1, _IOC(_IOC_READ, 0x54, 0x99, 0x4), 0)`},

		{"socket", SysSocket, [6]uint64{unix.AF_INET, unix.SOCK_STREAM | unix.SOCK_CLOEXEC, 0}, 8, nil, `socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP)`},
		{"socket unix", SysSocket, [6]uint64{unix.AF_UNIX, unix.SOCK_DGRAM, 0}, 9, nil, `socket(AF_UNIX, SOCK_DGRAM, 0)`},
		{"socket icmpv6", SysSocket, [6]uint64{unix.AF_INET6, unix.SOCK_RAW, 58}, 12, nil, `socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)`},
		{"socket netlink", SysSocket, [6]uint64{unix.AF_NETLINK, unix.SOCK_RAW, 0}, 3, nil, `socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)`},
		{"socket unknown", SysSocket, [6]uint64{99, 77 | unix.SOCK_NONBLOCK, 0}, neg(unix.EINVAL), nil, `socket(0x63 /* AF_??? */, SOCK_NONBLOCK|0x4d, 0)`},
		{"socketpair", SysSocketpair, [6]uint64{unix.AF_UNIX, unix.SOCK_STREAM, 0, 0x1000}, 0, fakeMem{0x1000: u32s(4, 5)}, `socketpair(AF_UNIX, SOCK_STREAM, 0, [4, 5])`},
		{"connect inet", SysConnect, [6]uint64{3, 0x1000, 16}, neg(unix.ECONNREFUSED),
			fakeMem{0x1000: cat([]byte{2, 0, 0, 9, 127, 0, 0, 1}, make([]byte, 8))},
			`connect(3, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, 16)`},
		{"connect inet6", SysConnect, [6]uint64{3, 0x1000, 28}, neg(unix.EAFNOSUPPORT),
			fakeMem{0x1000: cat([]byte{10, 0, 0, 80}, make([]byte, 4), make([]byte, 15), []byte{1}, make([]byte, 4))},
			`connect(3, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28)`},
		{"connect unix", SysConnect, [6]uint64{3, 0x1000, 110}, neg(unix.ENOENT),
			fakeMem{0x1000: cat([]byte{1, 0}, []byte("/run/x.sock"), make([]byte, 97))}, `connect(3, {sa_family=AF_UNIX, sun_path="/run/x.sock"}, 110)`},
		{"connect abstract", SysConnect, [6]uint64{3, 0x1000, 11}, neg(unix.EINVAL),
			fakeMem{0x1000: cat([]byte{1, 0, 0}, []byte("abstract"))}, `connect(3, {sa_family=AF_UNIX, sun_path=@"abstract"}, 11)`},
		{"sendto", SysSendto, [6]uint64{3, 0x1000, 2, unix.MSG_NOSIGNAL | unix.MSG_DONTWAIT, 0, 0}, neg(unix.EPIPE), fakeMem{0x1000: []byte("hi")},
			`sendto(3, "hi", 2, MSG_DONTWAIT|MSG_NOSIGNAL, NULL, 0)`},
		{"recvfrom", SysRecvfrom, [6]uint64{5, 0x1000, 100, 0, 0, 0}, 2, fakeMem{0x1000: []byte("x\n")}, `recvfrom(5, "x\n", 100, 0, NULL, NULL)`},
		{"accept4", SysAccept4, [6]uint64{6, 0x1000, 0x2000, unix.SOCK_CLOEXEC}, 8, fakeMem{0x1000: []byte{1, 0}, 0x2000: u32s(2)},
			`accept4(6, {sa_family=AF_UNIX}, [2], SOCK_CLOEXEC)`},
		{"setsockopt", SysSetsockopt, [6]uint64{3, unix.SOL_SOCKET, unix.SO_REUSEADDR, 0x1000, 4}, 0, fakeMem{0x1000: u32s(1)},
			`setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4)`},
		{"getsockopt", SysGetsockopt, [6]uint64{3, unix.SOL_SOCKET, unix.SO_ERROR, 0x1000, 0x2000}, 0, fakeMem{0x1000: u32s(0), 0x2000: u32s(4)},
			`getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4])`},
		{"recvmsg", SysRecvmsg, [6]uint64{5, 0x1000, 0}, 11,
			fakeMem{0x1000: cat(u64s(0), u32s(0, 0), u64s(0x2000, 2, 0, 0), u32s(0, 0)), 0x2000: u64s(0x3000, 5, 0x4000, 20), 0x3000: []byte("hello"), 0x4000: []byte(" world")},
			`recvmsg(5, {msg_name=NULL, msg_namelen=0, msg_iov=[{iov_base="hello", iov_len=5}, {iov_base=" world", iov_len=20}], msg_iovlen=2, msg_controllen=0, msg_flags=0}, 0)`},

		{"futex wait", SysFutex, [6]uint64{0x7ffc, 0, 1, 0}, neg(unix.EAGAIN), nil, `futex(0x7ffc, FUTEX_WAIT, 1, NULL)`},
		{"futex wake private", SysFutex, [6]uint64{0x7ffc, 1 | 128, 1}, 0, nil, `futex(0x7ffc, FUTEX_WAKE_PRIVATE, 1)`},
		{"futex wait bitset", SysFutex, [6]uint64{0x7ffc, 9 | 128, 1, 0x1000, 0, 0xffffffff}, neg(unix.EAGAIN), ts,
			`futex(0x7ffc, FUTEX_WAIT_BITSET_PRIVATE, 1, {tv_sec=0, tv_nsec=1000}, FUTEX_BITSET_MATCH_ANY)`},
		{"futex realtime", SysFutex, [6]uint64{0x7ffc, 9 | 256, 1, 0x1000, 0, 0xff}, neg(unix.EAGAIN), ts,
			`futex(0x7ffc, FUTEX_WAIT_BITSET|FUTEX_CLOCK_REALTIME, 1, {tv_sec=0, tv_nsec=1000}, 0xff)`},
		{"futex wake op", SysFutex, [6]uint64{0x7ffc, 5, 1, 2, 0x7ff0, 0x1234}, 0, nil,
			`futex(0x7ffc, FUTEX_WAKE_OP, 1, 2, 0x7ff0, FUTEX_OP_SET<<28|0x1<<12|FUTEX_OP_CMP_EQ<<24|0x234)`},
		{"futex cmp requeue", SysFutex, [6]uint64{0x7ffc, 4 | 128, 1, 2, 0x7ff0, 3}, neg(unix.EAGAIN), nil,
			`futex(0x7ffc, FUTEX_CMP_REQUEUE_PRIVATE, 1, 2, 0x7ff0, 3)`},
		{"futex lock pi", SysFutex, [6]uint64{0x7ffc, 6, 1, 0x1000}, 0, ts, `futex(0x7ffc, FUTEX_LOCK_PI, {tv_sec=0, tv_nsec=1000})`},
		{"futex unknown", SysFutex, [6]uint64{0x7ffc, 99, 1, 2, 0x7ff0, 3}, neg(unix.ENOSYS), nil,
			`futex(0x7ffc, 0x63 /* FUTEX_??? */, 1, 0x2, 0x7ff0, 0x3)`},
		{"poll", SysPoll, [6]uint64{0x1000, 2, 0}, 1,
			fakeMem{0x1000: cat(u32s(6), []byte{1, 0, 0, 0}, u32s(7), []byte{5, 0, 4, 0})},
			`poll([{fd=6, events=POLLIN}, {fd=7, events=POLLIN|POLLOUT}], 2, 0)`},
		{"poll fault", SysPoll, [6]uint64{8, 1, 0xffffffff}, neg(unix.EFAULT), nil, `poll(0x8, 1, -1)`},
		{"epoll_ctl", SysEpollCtl, [6]uint64{6, unix.EPOLL_CTL_ADD, 4, 0x1000}, 0,
			fakeMem{0x1000: cat(u32s(unix.EPOLLIN|1<<31), u64s(0x100000003))},
			`epoll_ctl(6, EPOLL_CTL_ADD, 4, {events=EPOLLIN|EPOLLET, data={u32=3, u64=4294967299}})`},
		{"epoll_wait", SysEpollWait, [6]uint64{6, 0x1000, 4, 0}, 1,
			fakeMem{0x1000: cat(u32s(unix.EPOLLIN), u64s(0x100000003))},
			`epoll_wait(6, [{events=EPOLLIN, data={u32=3, u64=4294967299}}], 4, 0)`},
	})
}

func TestFormatCallGeneric(t *testing.T) {
	runCases(t, []callCase{
		{"no args", SysGetpid, [6]uint64{1, 2, 3}, 42, nil, `getpid()`},
		{"gettid", SysGettid, [6]uint64{}, 42, nil, `gettid()`},
		{"unknown syscall", 500, [6]uint64{1, 2, 3, 0, 0, 0x7ffc}, neg(unix.ENOSYS), nil, `syscall_500(0x1, 0x2, 0x3, 0, 0, 0x7ffc)`},
		{"gap in table", 400, [6]uint64{1}, neg(unix.ENOSYS), nil, `syscall_400(0x1, 0, 0, 0, 0, 0)`},
		{"undecoded uses arg count", SysIoprioGet, [6]uint64{1, 0, 9, 9}, 4, nil, `ioprio_get(0x1, 0)`},
		{"undecoded 6 args", SysMbind, [6]uint64{1, 2, 3, 4, 5, 6}, 0, nil, `mbind(0x1, 0x2, 0x3, 0x4, 0x5, 0x6)`},
		{"newer than header", SysFchmodat2, [6]uint64{atFDCWD, 0x1000, 0644, unix.AT_SYMLINK_NOFOLLOW}, 0, fakeMem{0x1000: cstr("f")},
			`fchmodat2(AT_FDCWD, "f", 0644, AT_SYMLINK_NOFOLLOW)`},
		{"nil memory", SysOpenat, [6]uint64{atFDCWD, 0x1000}, 3, nil, `openat(AT_FDCWD, 0x1000, O_RDONLY)`},
	})
	if got := FormatCall(SysRead, [6]uint64{0, 0x1000, 4}, 4, nil); got != `read(0, 0x1000, 4)` {
		t.Errorf("nil MemoryReader: got %s", got)
	}
}

func TestFormatReturn(t *testing.T) {
	cases := []struct {
		nr   uintptr
		ret  int64
		want string
	}{
		{SysOpenat, 3, " = 3"},
		{SysRead, 0, " = 0"},
		{SysOpenat, neg(unix.ENOENT), " = -1 ENOENT (No such file or directory)"},
		{SysFutex, neg(unix.EAGAIN), " = -1 EAGAIN (Resource temporarily unavailable)"},
		{SysIoctl, neg(unix.ENOTTY), " = -1 ENOTTY (Inappropriate ioctl for device)"},
		{SysOpenat2, neg(unix.EXDEV), " = -1 EXDEV (Invalid cross-device link)"},
		{500, neg(unix.ENOSYS), " = -1 ENOSYS (Function not implemented)"},
		{SysMmap, 0x7fc722050000, " = 0x7fc722050000"},
		{SysMmap, 0, " = 0"},
		{SysMmap, neg(unix.ENOMEM), " = -1 ENOMEM (Cannot allocate memory)"},
		{SysBrk, 0x55d5ca813000, " = 0x55d5ca813000"},
		{SysMremap, 0x7fea35bc7000, " = 0x7fea35bc7000"},
		{SysUmask, 022, " = 022"},
		{SysExitGroup, 0, " = ?"},
		{SysExit, 0, " = ?"},
		{SysPoll, -512, " = ? ERESTARTSYS (To be restarted if SA_RESTART is set)"},
		{SysNanosleep, -516, " = ? ERESTART_RESTARTBLOCK (Interrupted by signal)"},
		{SysIoctl, -515, " = -1 ENOIOCTLCMD (No ioctl command)"},
		{SysRead, -600, " = -1 ERRNO_600 (Unknown error 600)"},
		{SysLseek, -4096, " = -4096"},
		{SysRead, -4095, " = -1 ERRNO_4095 (Unknown error 4095)"},
	}
	for _, tc := range cases {
		if got := FormatReturn(tc.nr, tc.ret); got != tc.want {
			t.Errorf("FormatReturn(%s, %d) = %q, want %q", Name(tc.nr), tc.ret, got, tc.want)
		}
	}
}

func TestErrnoTable(t *testing.T) {
	aliases := map[string]bool{"EWOULDBLOCK": true, "EDEADLOCK": true, "ENOTSUP": true, "EFSCORRUPTED": true}
	for e := 1; e <= 133; e++ {
		name := stErrnoName(uint64(e))
		if e == 41 || e == 58 { // unused numbers
			if !strings.HasPrefix(name, "ERRNO_") {
				t.Errorf("errno %d: got name %s for an unused number", e, name)
			}
			continue
		}
		if want := unix.ErrnoName(unix.Errno(e)); want != name && !aliases[want] {
			t.Errorf("errno %d: name %s, x/sys says %s", e, name, want)
		}
		msg := stErrnoMsg(uint64(e))
		if msg == "" || msg[0] >= 'a' && msg[0] <= 'z' {
			t.Errorf("errno %d: message %q starts in lower case", e, msg)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		nr   uintptr
		want string
	}{
		{0, "read"}, {SysWrite, "write"}, {SysNewfstatat, "newfstatat"},
		{SysExitGroup, "exit_group"}, {SysRtSigaction, "rt_sigaction"},
		{SysClone3, "clone3"}, {SysSysctl, "_sysctl"}, {156, "_sysctl"},
		{334, "rseq"}, {335, "uretprobe"}, {400, "syscall_400"},
		{MaxSyscall, "syscall_" + strconv.Itoa(MaxSyscall)}, {1 << 40, "syscall_1099511627776"},
	} {
		if got := Name(tc.nr); got != tc.want {
			t.Errorf("Name(%d) = %q, want %q", tc.nr, got, tc.want)
		}
	}
	// Spot-check numbers against golang.org/x/sys.
	for nr, want := range map[uintptr]uintptr{
		SysRead: unix.SYS_READ, SysOpenat: unix.SYS_OPENAT, SysNewfstatat: unix.SYS_NEWFSTATAT,
		SysClone3: unix.SYS_CLONE3, SysOpenat2: unix.SYS_OPENAT2, SysRseq: unix.SYS_RSEQ,
		SysFutexWaitv: unix.SYS_FUTEX_WAITV, SysMseal: unix.SYS_MSEAL, SysFchmodat2: unix.SYS_FCHMODAT2,
		SysListns: unix.SYS_LISTNS, SysUprobe: unix.SYS_UPROBE, SysSetMempolicyHomeNode: unix.SYS_SET_MEMPOLICY_HOME_NODE,
	} {
		if nr != want {
			t.Errorf("syscall %s is %d here, %d in x/sys", Name(nr), nr, want)
		}
	}
	if len(names) != MaxSyscall || names[MaxSyscall-1] == "" {
		t.Errorf("MaxSyscall %d does not follow the highest syscall", MaxSyscall)
	}
	for nr, n := range names {
		if n != "" && argCounts[nr] > 6 {
			t.Errorf("%s: %d arguments", n, argCounts[nr])
		}
		if n == "" && argCounts[nr] != 0 {
			t.Errorf("gap %d has an argument count", nr)
		}
	}
}

// TestDecodersNeverPanic runs every syscall's decoder, without FormatCall's
// recovery, over random arguments and memory.
func TestDecodersNeverPanic(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	mem := fakeMem{}
	bases := []uint64{0x1000, 0x2000, 0x3000, 0x3ff8, 0x7ffffffff000}
	for _, b := range bases {
		buf := make([]byte, 64+r.Intn(512))
		r.Read(buf)
		mem[b] = buf
	}
	// Plant pointers to memory so decoders follow them.
	ptrs := make([]byte, 512)
	for i := 0; i+8 <= len(ptrs); i += 8 {
		binary.LittleEndian.PutUint64(ptrs[i:], bases[r.Intn(len(bases))]+uint64(r.Intn(64)))
	}
	mem[0x5000] = ptrs
	pick := func() uint64 {
		switch r.Intn(6) {
		case 0:
			return 0
		case 1:
			return bases[r.Intn(len(bases))] + uint64(r.Intn(80))
		case 2:
			return 0x5000 + uint64(8*r.Intn(64))
		case 3:
			return uint64(r.Intn(256))
		case 4:
			return ^uint64(r.Intn(5000))
		}
		return r.Uint64()
	}
	rets := []int64{0, 1, 8, 24, 100, 4096, 1 << 40, -1, -14, -4, -516, -4095, -4096, -(1 << 62)}
	for nr := uintptr(0); nr < MaxSyscall+5; nr++ {
		for i := 0; i < 300; i++ {
			var args [6]uint64
			for j := range args {
				args[j] = pick()
			}
			c := &stCall{nr: nr, m: mem, a: args, ret: rets[r.Intn(len(rets))]}
			c.ok = !stIsErr(c.ret)
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("%s%v ret %d: panic %v", Name(nr), args, c.ret, p)
					}
				}()
				if d := stDecoders[nr]; d != nil {
					d(c)
				} else {
					c.raw(numArgs(nr))
				}
				_ = FormatReturn(nr, c.ret)
			}()
		}
	}
}

func BenchmarkFormatCall(b *testing.B) {
	mem := fakeMem{0x1000: cstr("/etc/passwd")}
	for i := 0; i < b.N; i++ {
		_ = FormatCall(SysOpenat, [6]uint64{atFDCWD, 0x1000, unix.O_RDONLY | unix.O_CLOEXEC}, 3, mem) + FormatReturn(SysOpenat, 3)
	}
}
