package syscalls

import "strconv"

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

// numArgs returns how many arguments syscall nr takes; 6 when unknown.
func numArgs(nr uintptr) int {
	if nr < MaxSyscall && names[nr] != "" {
		return int(argCounts[nr])
	}
	return 6
}
