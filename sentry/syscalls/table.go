package syscalls

import (
	"errors"
	"runtime/debug"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/kernel"
)

// Handler serves one syscall for task t. A returned error must be (or
// wrap) a unix.Errno to reach the workload as that errno; anything else is
// a library OS failure, logged and reported as EIO.
type Handler func(t *kernel.Task, a [6]uint64) (uint64, error)

// table is indexed by syscall number; nil entries are unimplemented.
var table [MaxSyscall]Handler

func register(nr int, h Handler) { table[nr] = h }

// Dispatch runs syscall nr for t and returns the value for rax: the result,
// or a negative errno.
func Dispatch(t *kernel.Task, nr uintptr, a [6]uint64) int64 {
	if nr >= MaxSyscall || table[nr] == nil {
		name := Name(nr)
		t.K.WarnOnce("syscall:"+name, "unimplemented syscall: returning ENOSYS", "syscall", name, "nr", nr)
		return -int64(unix.ENOSYS)
	}
	v, err := call(t, nr, a)
	if err == nil {
		return int64(v)
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return -int64(errno)
	}
	t.K.Log.Error("syscall failed inside the library OS", "syscall", Name(nr), "err", err)
	return -int64(unix.EIO)
}

// call runs the handler. A panic here is a library OS bug reached by
// workload input: it is logged with its stack and the syscall fails with
// EIO, rather than taking the whole sandbox down.
func call(t *kernel.Task, nr uintptr, a [6]uint64) (v uint64, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.K.Log.Error("library OS panic in syscall handler", "syscall", Name(nr), "panic", r, "stack", string(debug.Stack()))
			v, err = 0, unix.EIO
		}
	}()
	return table[nr](t, a)
}

// Implemented reports whether nr has a handler.
func Implemented(nr uintptr) bool { return nr < MaxSyscall && table[nr] != nil }

// Argument helpers: the ABI passes ints in 64-bit registers; the kernel
// reads only the low 32 bits of an int argument.
func fdArg(v uint64) int     { return int(int32(v)) }
func intArg(v uint64) int    { return int(int32(v)) }
func u32Arg(v uint64) uint32 { return uint32(v) }
