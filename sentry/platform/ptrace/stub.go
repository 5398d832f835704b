package ptrace

import "encoding/binary"

// The stub is a tiny static ELF that the kernel loads at a fixed address
// above everything the library OS gives the workload. It holds only the two
// instructions the sentry needs to make host syscalls inside the stub's
// address space: `syscall; int3`.
const (
	stubBase    = 0x7ff0_0000_0000
	stubCodeOff = 0x80 // past the ELF and program headers
	stubSize    = 0x1000
	// stubSyscall is the address of the syscall instruction; the int3 after
	// it hands control back to the sentry.
	stubSyscall = stubBase + stubCodeOff
	// stubMemFD is the fd number of the memory file inside every stub.
	stubMemFD = 0
)

// stubImage builds the stub ELF: one read+execute PT_LOAD that maps the file
// itself at stubBase, with the entry point on the int3 so a stub resumed by
// mistake traps instead of running anything.
func stubImage() []byte {
	code := []byte{0x0f, 0x05, 0xcc, 0xcc} // syscall; int3; int3
	img := make([]byte, stubCodeOff+len(code))
	le := binary.LittleEndian
	copy(img, []byte{0x7f, 'E', 'L', 'F', 2 /* 64-bit */, 1 /* LE */, 1 /* version */})
	le.PutUint16(img[16:], 2)    // ET_EXEC
	le.PutUint16(img[18:], 0x3e) // EM_X86_64
	le.PutUint32(img[20:], 1)
	le.PutUint64(img[24:], stubSyscall+2) // e_entry: the int3
	le.PutUint64(img[32:], 64)            // e_phoff
	le.PutUint16(img[52:], 64)            // e_ehsize
	le.PutUint16(img[54:], 56)            // e_phentsize
	le.PutUint16(img[56:], 1)             // e_phnum
	le.PutUint16(img[58:], 64)            // e_shentsize
	ph := img[64:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // PF_R|PF_X
	le.PutUint64(ph[8:], 0)
	le.PutUint64(ph[16:], stubBase)
	le.PutUint64(ph[24:], stubBase)
	le.PutUint64(ph[32:], uint64(len(img)))
	le.PutUint64(ph[40:], uint64(len(img)))
	le.PutUint64(ph[48:], 0x1000)
	copy(img[stubCodeOff:], code)
	return img
}
