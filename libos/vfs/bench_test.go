package vfs_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/dirfs"
	"exokernelul.dev/exo/libos/vfs"
)

// BenchmarkLookupDirfs walks a four-component path of the host's root
// through a read-only dirfs, as stat(2) does.
func BenchmarkLookupDirfs(b *testing.B) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { unix.Close(fd) })
	mt := vfs.NewMountTable(dirfs.New(fd, false), vfs.MountOptions{ReadOnly: true})
	ctx := &vfs.Context{}
	const p = "/usr/lib/x86_64-linux-gnu/libc.so.6"
	if _, _, err := mt.LookupStat(ctx, p, vfs.LookupFollow); err != nil {
		b.Skip(p, ": ", err)
	}
	for b.Loop() {
		if _, _, err := mt.LookupStat(ctx, p, vfs.LookupFollow); err != nil {
			b.Fatal(err)
		}
	}
}
