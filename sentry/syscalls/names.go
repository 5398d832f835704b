package syscalls

import (
	"strconv"
	"sync"
)

// Name returns the name of syscall nr ("openat", "exit_group"), or
// "syscall_<nr>" (decimal) when nr is not a known x86-64 syscall.
func Name(nr uintptr) string {
	if nr < MaxSyscall {
		if n := names[nr]; n != "" {
			return n
		}
	}
	return "syscall_" + strconv.FormatUint(uint64(nr), 10)
}

// Number returns the number of the x86-64 syscall called name
// ("openat"); ok is false for a name this table does not know.
func Number(name string) (nr uintptr, ok bool) {
	numbersOnce.Do(func() {
		numbers = make(map[string]uintptr, len(names))
		for i, n := range names {
			if n != "" {
				numbers[n] = uintptr(i)
			}
		}
	})
	nr, ok = numbers[name]
	return nr, ok
}

var (
	numbersOnce sync.Once
	numbers     map[string]uintptr
)

// numArgs returns how many arguments syscall nr takes; 6 when unknown.
func numArgs(nr uintptr) int {
	if nr < MaxSyscall && names[nr] != "" {
		return int(argCounts[nr])
	}
	return 6
}
