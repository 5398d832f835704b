package syscalls

import (
	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
	"exokernelul.dev/exo/libos/mm"
)

func init() {
	register(SysProcessVmReadv, func(t *kernel.Task, a [6]uint64) (uint64, error) { return processVM(t, a, false) })
	register(SysProcessVmWritev, func(t *kernel.Task, a [6]uint64) (uint64, error) { return processVM(t, a, true) })
}

// processVMChunk bounds the bounce buffer of one copy: the largest pooled
// one (iobuf.go).
const processVMChunk = maxPooledIO

// processVM is process_vm_readv (write false) and process_vm_writev: bytes
// move between the caller's local iovecs and the remote ones in process
// pid, in order. As Linux's process_vm_rw_core, a transfer stops at the
// first address either side cannot read or write and returns the bytes
// moved before it, EFAULT if none; zero bytes asked for is 0 whoever pid
// is.
func processVM(t *kernel.Task, a [6]uint64, write bool) (uint64, error) {
	if a[5] != 0 {
		return 0, unix.EINVAL
	}
	local, err := copyInIovecs(t, a[1], intArg(a[2]))
	if err != nil {
		return 0, err
	}
	remote, err := copyInIovecs(t, a[3], intArg(a[4]))
	if err != nil {
		return 0, err
	}
	var want uint64
	for _, v := range local {
		want += v.len
	}
	if want == 0 {
		return 0, nil
	}
	other, err := t.ProcessVM(int32(a[0]))
	if err != nil {
		return 0, err
	}
	li, loff := 0, uint64(0) // position in the local iovecs
	var done uint64
	for _, rv := range remote {
		for rdone := uint64(0); rdone < rv.len; {
			if li == len(local) {
				return done, nil
			}
			n := min(rv.len-rdone, local[li].len-loff, processVMChunk)
			if n == 0 {
				li, loff = li+1, 0
				continue
			}
			buf, pooled := ioBuf(int(n))
			raddr, laddr := rv.base+rdone, local[li].base+loff
			var src, dst *mm.MemoryManager = other, t.MM
			from, to := raddr, laddr
			if write {
				src, dst, from, to = t.MM, other, laddr, raddr
			}
			got, _ := src.CopyIn(from, buf)
			put, _ := dst.CopyOut(to, buf[:got])
			putIOBuf(pooled)
			if uint64(put) < n {
				return partial(done + uint64(put))
			}
			done += n
			rdone += n
			loff += n
			if loff == local[li].len {
				li, loff = li+1, 0
			}
		}
	}
	return done, nil
}

// partial is the result of a transfer that faulted after done bytes.
func partial(done uint64) (uint64, error) {
	if done == 0 {
		return 0, unix.EFAULT
	}
	return done, nil
}
