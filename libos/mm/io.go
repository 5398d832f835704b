package mm

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
)

// zeroPage is what an untouched page reads as; nothing writes it.
var zeroPage [arch.PageSize]byte

// copyRange walks [addr, addr+n) page by page through the mappings,
// calling fn with the sentry's view of each piece. need is the access every
// piece must allow (0 for the loader, which writes read-only text). A write
// (write set) first gives a page shared copy-on-write a frame of its own,
// because the sentry writes the frame itself. It stops at the first hole or
// disallowed page and returns how many bytes were visited.
func (mm *MemoryManager) copyRange(addr uint64, n int, need Prot, write bool, fn func(done int, b []byte)) (int, error) {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	done := 0
	var m *mapping
	for done < n {
		cur := addr + uint64(done)
		if cur < addr { // wrapped around the address space
			return done, unix.EFAULT
		}
		if m == nil || cur < m.start || cur >= m.end {
			m = mm.findLocked(cur)
		}
		if m == nil || m.frames == nil || m.prot&need != need || (need != 0 && m.prot == 0) {
			return done, unix.EFAULT
		}
		i := int((cur - m.start) / arch.PageSize)
		off := cur % arch.PageSize
		chunk := min(uint64(n-done), arch.PageSize-off)
		if m.frames[i] == noFrame {
			switch {
			case !m.lazy(i):
				return done, unix.EFAULT
			case !write:
				// An untouched page reads as zeroes and stays untouched.
				fn(done, zeroPage[off:off+chunk])
				done += int(chunk)
				continue
			}
			if err := mm.touchLocked(m, i); err != nil {
				return done, unix.EFAULT
			}
		}
		if write && !m.shared && mm.mf.Shared(m.frames[i]) {
			if err := mm.breakCOWLocked(m, i); err != nil {
				return done, unix.EFAULT
			}
			page := m.start + uint64(i)*arch.PageSize
			if err := mm.hostMapLocked(m, page, page+arch.PageSize); err != nil {
				return done, unix.EFAULT
			}
		}
		fn(done, mm.mf.page(m.frames[i])[off:off+chunk])
		done += int(chunk)
	}
	return done, nil
}

// CopyIn reads workload memory at addr into dst as the workload could read
// it; it returns the bytes copied and EFAULT if it stopped short.
func (mm *MemoryManager) CopyIn(addr uint64, dst []byte) (int, error) {
	return mm.copyRange(addr, len(dst), ProtRead, false, func(done int, b []byte) { copy(dst[done:], b) })
}

// CopyOut writes src to workload memory at addr, which must be writable by
// the workload, as the kernel's copy_to_user requires.
func (mm *MemoryManager) CopyOut(addr uint64, src []byte) (int, error) {
	return mm.copyRange(addr, len(src), ProtWrite, true, func(done int, b []byte) { copy(b, src[done:]) })
}

// WriteImage writes src regardless of the mapping's access; the loader uses
// it to fill text segments that the workload itself cannot write.
func (mm *MemoryManager) WriteImage(addr uint64, src []byte) error {
	_, err := mm.copyRange(addr, len(src), 0, true, func(done int, b []byte) { copy(b, src[done:]) })
	return err
}

// Accessible returns how many bytes from addr, up to n, the workload could
// access with prot; syscalls check a buffer with it before consuming input
// they could not hand back.
func (mm *MemoryManager) Accessible(addr uint64, n int, prot Prot) int {
	done, _ := mm.copyRange(addr, n, prot, false, func(int, []byte) {})
	return done
}

// CopyInString reads a NUL-terminated string of at most max bytes
// (excluding the NUL). It returns ENAMETOOLONG when no NUL is found within
// max bytes, like the kernel's strncpy_from_user callers do for paths.
func (mm *MemoryManager) CopyInString(addr uint64, max int) (string, error) {
	var buf []byte
	const chunk = 256
	for len(buf) <= max {
		// Never read across a page boundary in one step, so a string that
		// ends right before an unmapped page is still read.
		cur := addr + uint64(len(buf))
		n := min(chunk, int(arch.PageSize-cur%arch.PageSize))
		tmp := make([]byte, n)
		got, err := mm.CopyIn(cur, tmp)
		for i := 0; i < got; i++ {
			if tmp[i] == 0 {
				buf = append(buf, tmp[:i]...)
				if len(buf) > max {
					return "", unix.ENAMETOOLONG
				}
				return string(buf), nil
			}
		}
		if err != nil {
			return "", err
		}
		buf = append(buf, tmp...)
	}
	return "", unix.ENAMETOOLONG
}

// word returns a pointer to the aligned 32-bit word at addr in the
// sentry's view, for atomic operations shared with the workload's own
// (the memfd page is the same memory on both sides). Writable words get a
// frame of their own first if they share one copy-on-write.
func (mm *MemoryManager) word(addr uint64, write bool) (*uint32, error) {
	if addr%4 != 0 {
		return nil, unix.EINVAL
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	m := mm.findLocked(addr)
	need := ProtRead
	if write {
		need = ProtWrite
	}
	if m == nil || m.frames == nil || m.prot&need == 0 {
		return nil, unix.EFAULT
	}
	i := int((addr - m.start) / arch.PageSize)
	if m.frames[i] == noFrame {
		if !m.lazy(i) {
			return nil, unix.EFAULT
		}
		if err := mm.touchLocked(m, i); err != nil {
			return nil, unix.EFAULT
		}
	}
	if write && !m.shared && mm.mf.Shared(m.frames[i]) {
		if err := mm.breakCOWLocked(m, i); err != nil {
			return nil, unix.EFAULT
		}
		page := m.start + uint64(i)*arch.PageSize
		if err := mm.hostMapLocked(m, page, page+arch.PageSize); err != nil {
			return nil, unix.EFAULT
		}
	}
	b := mm.mf.page(m.frames[i])
	return (*uint32)(unsafe.Pointer(&b[addr%arch.PageSize])), nil
}

// LoadUint32 atomically reads the word at addr.
func (mm *MemoryManager) LoadUint32(addr uint64) (uint32, error) {
	p, err := mm.word(addr, false)
	if err != nil {
		return 0, err
	}
	return atomic.LoadUint32(p), nil
}

// CompareAndSwapUint32 atomically replaces the word at addr with new if it
// holds old, and returns the value it held.
func (mm *MemoryManager) CompareAndSwapUint32(addr uint64, old, new uint32) (uint32, error) {
	p, err := mm.word(addr, true)
	if err != nil {
		return 0, err
	}
	for {
		cur := atomic.LoadUint32(p)
		if cur != old {
			return cur, nil
		}
		if atomic.CompareAndSwapUint32(p, old, new) {
			return old, nil
		}
	}
}
