package kernel

import (
	"sync"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/fs/pipe"
	"exokernelul.dev/exo/libos/vfs"
	"exokernelul.dev/exo/libos/waiter"
)

// Named pipes of the library OS's own file systems (tmpfs, the overlay's
// upper layer): the file system only stores the FIFO inode; the pipe
// behind it lives here while any end is open, found by the inode's
// device and number so every open of the same FIFO meets the same pipe.

type fifoKey struct{ dev, ino uint64 }

type fifoTable struct {
	mu    sync.Mutex
	pipes map[fifoKey]*pipe.Pipe
}

// openFIFO is the kernel's vfs.FIFOOpener. As Linux's fifo_open: a
// reader waits for a writer and a writer for a reader, unless O_NONBLOCK
// (then a lone reader opens, a lone writer fails with ENXIO); O_RDWR
// never waits. A signal ends the wait with ERestartSys.
func (k *Kernel) openFIFO(ctx *vfs.Context, d *vfs.Dentry, flags int) (vfs.File, error) {
	st, err := d.Stat()
	if err != nil {
		return nil, err
	}
	key := fifoKey{st.Dev, st.Ino}
	acc := flags & unix.O_ACCMODE
	read, write := acc != unix.O_WRONLY, acc != unix.O_RDONLY
	nonblock := flags&unix.O_NONBLOCK != 0

	k.fifos.mu.Lock()
	if k.fifos.pipes == nil {
		k.fifos.pipes = make(map[fifoKey]*pipe.Pipe)
	}
	p := k.fifos.pipes[key]
	if p == nil {
		p = pipe.New(st.Uid, st.Gid)
		k.fifos.pipes[key] = p
	}
	if write && !read && nonblock && p.Readers() == 0 {
		k.fifos.mu.Unlock()
		k.releaseFIFO(key, p)
		return nil, unix.ENXIO
	}
	end := p.Open(read, write)
	k.fifos.mu.Unlock()
	f := &fifoEnd{End: end, k: k, key: key, d: d}

	t, _ := ctx.Caller.(*Task)
	if nonblock || (read && write) || t == nil {
		return f, nil
	}
	// Wait for the other end. A reader is done once a writer has opened
	// (its end then reports data or a hang-up); a writer once a reader
	// is there.
	var mask uint32 = waiter.EventIn | waiter.EventHUp
	ready := func() bool { return p.Writers() > 0 || end.Readiness(mask) != 0 }
	if write {
		mask = waiter.EventOut | waiter.EventErr
		ready = func() bool { return p.Readers() > 0 }
	}
	e := waiter.NewEntry(mask)
	end.EventRegister(e)
	defer end.EventUnregister(e)
	for !ready() {
		if err := t.Block(e.Ch, NoDeadline()); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// releaseFIFO forgets p once no end of it is open.
func (k *Kernel) releaseFIFO(key fifoKey, p *pipe.Pipe) {
	k.fifos.mu.Lock()
	defer k.fifos.mu.Unlock()
	if k.fifos.pipes[key] == p && p.Readers() == 0 && p.Writers() == 0 {
		delete(k.fifos.pipes, key)
	}
}

// fifoEnd is an open end of a named pipe: the pipe's end, but it stats as
// the FIFO's inode, and its close lets the table forget the pipe.
type fifoEnd struct {
	*pipe.End
	k   *Kernel
	key fifoKey
	d   *vfs.Dentry
}

// Stat implements vfs.File with the FIFO inode's attributes.
func (f *fifoEnd) Stat() (unix.Stat_t, error) { return f.d.Stat() }

// Close implements vfs.File.
func (f *fifoEnd) Close() error {
	err := f.End.Close()
	f.k.releaseFIFO(f.key, f.End.Pipe())
	return err
}

// Unwrap implements vfs.Unwrapper, so F_GETPIPE_SZ finds the pipe end.
func (f *fifoEnd) Unwrap() vfs.File { return f.End }

// reopen is the kernel's vfs.Reopener: a pipe reached through
// /proc/PID/fd/N gets a new end of the same pipe, as Linux opens it.
func (k *Kernel) reopen(f vfs.File, flags int) (vfs.File, error) {
	if e, ok := vfs.Underlying(f).(*pipe.End); ok {
		acc := flags & unix.O_ACCMODE
		return e.Pipe().Open(acc != unix.O_WRONLY, acc != unix.O_RDONLY), nil
	}
	return nil, unix.ENXIO
}
