package kernel

import "exokernelul.dev/exo/libos/vfs"

// Unwrap implements vfs.Unwrapper, so the sandbox's stdio files can be
// polled (vfs.Waitable looks through borrowed to the host file).
func (b borrowed) Unwrap() vfs.File { return b.File }
