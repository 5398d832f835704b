package vfs

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Sockfs is what every socket file has in common: an inode of sockfs, the
// pseudo file system Linux's sockets live on, with no offsets and no
// directory entries. Socket types (unix, inet, host, netlink) embed it,
// made by NewSockfs, so that their inode numbers come from one counter,
// as Linux's do: /proc/PID/fd's socket:[N] and /proc/net's inode column
// then name one socket each.
type Sockfs struct {
	ino      uint64
	uid, gid uint32
}

// sockfsMinor is sockfs's device minor on Linux (st_dev 0:8).
const sockfsMinor = 8

var sockfsIno atomic.Uint64

func init() { sockfsIno.Store(1 << 20) }

// NewSockfs numbers a new socket inode owned by uid and gid (its
// creator's).
func NewSockfs(uid, gid uint32) Sockfs {
	return Sockfs{ino: sockfsIno.Add(1), uid: uid, gid: gid}
}

// Ino is the socket's inode number.
func (s Sockfs) Ino() uint64 { return s.ino }

// Pread implements File: sockets have no offsets.
func (Sockfs) Pread([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Pwrite implements File.
func (Sockfs) Pwrite([]byte, int64) (int, error) { return 0, unix.ESPIPE }

// Seek implements File.
func (Sockfs) Seek(int64, int) (int64, error) { return 0, unix.ESPIPE }

// Getdents implements File.
func (Sockfs) Getdents([]byte) (int, error) { return 0, unix.ENOTDIR }

// Stat implements File: a socket of sockfs, mode 0777.
func (s Sockfs) Stat() (unix.Stat_t, error) {
	return unix.Stat_t{
		Dev:     unix.Mkdev(0, sockfsMinor),
		Ino:     s.ino,
		Nlink:   1,
		Mode:    unix.S_IFSOCK | 0o777,
		Uid:     s.uid,
		Gid:     s.gid,
		Blksize: 4096,
	}, nil
}
