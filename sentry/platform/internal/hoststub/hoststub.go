// Package hoststub holds what the trap platforms (ptrace, systrap) do
// alike with their stub processes on the host: write the stub as a tiny
// static ELF executable, and read a stub's CPU clock.
package hoststub

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"
)

// Image builds a static x86-64 ELF executable with one read+execute
// PT_LOAD that maps the file itself at base: the ELF and program headers,
// then code at codeOff. entry is the entry point's address.
func Image(base, entry uint64, codeOff int, code []byte) []byte {
	img := make([]byte, codeOff+len(code))
	le := binary.LittleEndian
	copy(img, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */})
	le.PutUint16(img[16:], 2)    // ET_EXEC
	le.PutUint16(img[18:], 0x3e) // EM_X86_64
	le.PutUint32(img[20:], 1)
	le.PutUint64(img[24:], entry)
	le.PutUint64(img[32:], 64) // e_phoff
	le.PutUint16(img[52:], 64) // e_ehsize
	le.PutUint16(img[54:], 56) // e_phentsize
	le.PutUint16(img[56:], 1)  // e_phnum
	le.PutUint16(img[58:], 64) // e_shentsize
	ph := img[64:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // PF_R|PF_X
	le.PutUint64(ph[8:], 0)
	le.PutUint64(ph[16:], base)
	le.PutUint64(ph[24:], base)
	le.PutUint64(ph[32:], uint64(len(img)))
	le.PutUint64(ph[40:], uint64(len(img)))
	le.PutUint64(ph[48:], 0x1000)
	copy(img[codeOff:], code)
	return img
}

// CPUTime reads the CPU clock of process pid, a thread-group leader
// (MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED), which any process may
// read).
func CPUTime(pid int) (time.Duration, error) {
	clock := int32(^uint32(pid)<<3 | 2)
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}
