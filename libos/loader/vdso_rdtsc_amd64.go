package loader

// tscSupported says this architecture has a TSC the vDSO can use.
const tscSupported = true

// rdtscOrdered reads the time-stamp counter after every earlier
// instruction has completed (LFENCE; RDTSC). It is assembly, so the Go
// scheduler never preempts it.
func rdtscOrdered() uint64
