package syscalls

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

// Older or rarer calls that programs still make: the original getdents,
// readahead and syslog (personality is in sys_proc.go).

func init() {
	register(SysGetdents, sysGetdents)
	register(SysReadahead, sysReadahead)
	register(SysSyslog, sysSyslog)
}

// sysGetdents is getdents(2), struct linux_dirent: the same records as
// getdents64's but for the name, which starts a byte earlier, and the type,
// which ends the record. Both layouts give a name the same record size, so
// each record is rewritten in place.
func sysGetdents(t *kernel.Task, a [6]uint64) (uint64, error) {
	return getdents(t, a, toLinuxDirents)
}

// toLinuxDirents rewrites getdents64 records as struct linux_dirent ones.
func toLinuxDirents(buf []byte) {
	for off := 0; off+19 < len(buf); {
		rec := buf[off:]
		reclen := int(binary.LittleEndian.Uint16(rec[16:]))
		if reclen < 20 || off+reclen > len(buf) {
			break
		}
		typ := rec[18]
		name := rec[19:reclen]
		if i := indexZero(name); i >= 0 {
			name = name[:i]
		}
		nl := len(name)
		copy(rec[18:], name)
		clear(rec[18+nl : reclen-1])
		rec[reclen-1] = typ
		off += reclen
	}
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// sysReadahead is readahead(2): the library OS's file systems read on
// demand, so there is nothing to start; what is checked is what Linux
// checks: a descriptor open for reading (EBADF), of a regular file
// (EINVAL).
func sysReadahead(t *kernel.Task, a [6]uint64) (uint64, error) {
	d, err := t.FDs.Get(fdArg(a[0]))
	if err != nil {
		return 0, err
	}
	defer d.DecRef()
	if d.Flags()&unix.O_ACCMODE == unix.O_WRONLY || d.Flags()&unix.O_PATH != 0 {
		return 0, unix.EBADF
	}
	st, err := d.File.Stat()
	if err != nil {
		return 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, unix.EINVAL
	}
	return 0, nil
}

// syslog(2) actions (SYSLOG_ACTION_*).
const (
	syslogClose       = 0
	syslogOpen        = 1
	syslogRead        = 2
	syslogReadAll     = 3
	syslogReadClear   = 4
	syslogClear       = 5
	syslogConsoleOff  = 6
	syslogConsoleOn   = 7
	syslogConsoleLvl  = 8
	syslogSizeUnread  = 9
	syslogSizeBuffer  = 10
	syslogBufferBytes = 1 << 17
)

// sysSyslog is syslog(2) on a kernel log the sandbox keeps empty: the
// container's kernel messages are the host's, which it does not see. As
// with kernel.dmesg_restrict set (/proc/sys shows 1), every action but
// open and close needs CAP_SYSLOG (EPERM); reads return nothing.
func sysSyslog(t *kernel.Task, a [6]uint64) (uint64, error) {
	typ, buf, n := intArg(a[0]), a[1], int32(a[2])
	switch typ {
	case syslogClose, syslogOpen:
		return 0, nil
	case syslogRead, syslogReadAll, syslogReadClear, syslogClear, syslogConsoleOff, syslogConsoleOn,
		syslogConsoleLvl, syslogSizeUnread, syslogSizeBuffer:
	default:
		return 0, unix.EINVAL
	}
	if c := t.Creds(); !c.HasCap(kernel.CapSyslog) && !c.HasCap(kernel.CapSysAdmin) {
		return 0, unix.EPERM
	}
	switch typ {
	case syslogRead, syslogReadAll, syslogReadClear:
		if buf == 0 || n < 0 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case syslogConsoleLvl:
		if n < 1 || n > 8 {
			return 0, unix.EINVAL
		}
		return 0, nil
	case syslogSizeBuffer:
		return syslogBufferBytes, nil
	}
	return 0, nil
}
