//go:build !amd64

package loader

// tscSupported says this architecture has a TSC the vDSO can use.
const tscSupported = false

// rdtscOrdered stands in for the x86 TSC, which other architectures lack;
// the vDSO's clocks then always make the system call.
//
//go:nosplit
func rdtscOrdered() uint64 { return 0 }
