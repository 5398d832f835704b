package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/tmpfs"
	"exokernelul.dev/exo/libos/vfs"
)

// memfdDev is the st_dev of memfd_create's files: the device of Linux's
// internal shm mount, which is 0:1 on a typical boot.
var memfdDev = unix.Mkdev(0, 1)

// memfds is the internal tmpfs memfd_create's files live on (Linux's
// shm_mnt): mounted nowhere, made at the first memfd_create, its size
// bounded only by the memory quota.
type memfds struct {
	once  sync.Once
	fs    *tmpfs.FS
	mount *vfs.Mount
}

// largeFile is O_LARGEFILE as x86-64 Linux shows it in F_GETFL
// (x/sys/unix defines O_LARGEFILE as 0 on amd64); memfd_create sets it.
const largeFile = 0o100000

// NewMemfd makes a memfd_create file named name, owned by c, with mode
// and the initial seals, and returns a description of it open for
// reading and writing. The name shows in /proc as "/memfd:NAME (deleted)".
func (k *Kernel) NewMemfd(name string, mode uint32, c vfs.Cred, seals uint32) (*vfs.FileDescription, error) {
	m := &k.memfds
	m.once.Do(func() {
		m.fs = tmpfs.New(k.Memory, tmpfs.Options{Dev: memfdDev})
		m.mount = vfs.NewDetachedMount(m.fs, vfs.MountOptions{Source: "tmpfs"})
	})
	ino, f, err := m.fs.NewMemfd(mode, c, seals)
	if err != nil {
		return nil, err
	}
	dent := m.mount.Unlinked("memfd:"+name, ino)
	// The mount is in no tree, so the path is the same from any root.
	p, _ := dent.PathFrom(m.mount.Root())
	d := vfs.NewDescription(f, p, unix.O_RDWR|largeFile)
	d.Dentry = dent
	return d, nil
}
