// Package anon is the anonymous inode that files without a file system of
// their own share, as Linux's anon_inodefs gives eventfd, epoll, signalfd
// and timerfd one inode: mode 0600 with no file type bits.
package anon

import (
	"time"

	"golang.org/x/sys/unix"
)

// Ino is the anonymous inode's number; Dev is anon_inodefs's device.
const Ino = 1

// Dev is the st_dev anonymous files report.
var Dev = unix.Mkdev(0, 14)

var created = unix.NsecToTimespec(time.Now().UnixNano())

// Stat is the stat of every anonymous file.
func Stat() unix.Stat_t {
	return unix.Stat_t{
		Dev:     Dev,
		Ino:     Ino,
		Nlink:   1,
		Mode:    0o600,
		Blksize: 4096,
		Atim:    created,
		Mtim:    created,
		Ctim:    created,
	}
}
