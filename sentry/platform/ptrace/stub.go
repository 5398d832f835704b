package ptrace

import "exokernelul.dev/exo/sentry/platform/internal/hoststub"

// The stub is a tiny static ELF that the kernel loads at a fixed address
// above everything the library OS gives the workload. Its code is what the
// sentry needs to act inside the stub's address space:
//
//	inject:  syscall; int3                  any host syscall, then back to the sentry
//	clone:   syscall; test %rax,%rax; jz park; int3
//	park:    mov $SYS_pause,%eax; syscall; jmp park
//
// A thread cloned at `clone` parks in pause() until a task thread of the
// sentry seizes it.
const (
	stubBase    = 0x7ff0_0000_0000
	stubCodeOff = 0x80 // past the ELF and program headers
	stubSize    = 0x1000
	stubInject  = stubBase + stubCodeOff
	stubClone   = stubInject + 3
	stubPark    = stubClone + 8
	// stubMemFD is the fd number of the memory file inside every stub.
	stubMemFD = 0
)

var stubCode = []byte{
	0x0f, 0x05, // inject: syscall
	0xcc,       // int3
	0x0f, 0x05, // clone: syscall
	0x48, 0x85, 0xc0, // test %rax,%rax
	0x74, 0x01, // jz park
	0xcc,                         // int3
	0xb8, 0x22, 0x00, 0x00, 0x00, // park: mov $34 (pause),%eax
	0x0f, 0x05, // syscall
	0xeb, 0xf7, // jmp park
	0xcc, // entry: never reached by design
}

// stubEntry is the ELF entry point: an int3, so a stub resumed by mistake
// traps instead of running anything.
const stubEntry = stubInject + 20

// stubImage builds the stub ELF: one read+execute PT_LOAD that maps the file
// itself at stubBase.
func stubImage() []byte { return hoststub.Image(stubBase, stubEntry, stubCodeOff, stubCode) }
