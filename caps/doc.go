// Package caps is runsc-exo's exokernel: the small trusted layer that turns
// host resources into handles (file descriptors) carrying rights and quotas,
// and hands them to the untrusted sentry process.
//
// Enforcement is delegated to the host kernel wherever it can be: a memory
// handle is a memfd sealed at its quota, a read-only directory handle is an
// O_PATH fd on a detached read-only mount clone, a narrowed file handle is a
// descriptor reopened with fewer access bits. The handle table records what
// was granted, lets holders of RightGrant derive weaker handles, revokes whole
// derivation subtrees, and writes an audit trail through log/slog.
//
// The package is split into the trusted side (Table, Exo and the resource
// managers NewMemory and OpenDir) and the sentry side (Client), which talk over
// a SOCK_SEQPACKET unix socket: JSON messages, fds as SCM_RIGHTS.
//
// Locking: Table.mu guards the handle table and Client.mu serialises one
// request/response exchange on a client connection. No code path holds both,
// and neither is held while calling out of the package, so there is no lock
// order to respect. Exo has no lock of its own: its state is the Table.
//
// caps imports only the standard library and golang.org/x/sys.
package caps
