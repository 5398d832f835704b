// Package syscalls is the sentry's syscall layer: the table that names every
// x86-64 syscall, the handlers that decode a trapped syscall's arguments and
// serve it from the library OS, and strace-style rendering for --strace.
// Syscalls without a handler answer ENOSYS and are logged once by name.
package syscalls
