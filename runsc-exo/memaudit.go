package main

import (
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"exokernelul.dev/exo/caps"
)

// The memory quota of an OCI container is a limit below the size of its
// memfd (so that update can move it), which the library OS keeps to. exo
// does not take its word for it: it reads how much of the memfd the host
// really holds (caps.Resident) and kills a sandbox that holds more than
// its limit, as the host's OOM killer would, so the quota holds even
// without a host memory cgroup. A library OS that keeps its quota never
// gets there: pages are charged to the quota before they are touched and
// punched out before they are uncharged.

// memLimit is the audited limit in bytes (0: none).
var memLimit atomic.Int64

// auditMemory watches memfd f until the sentry ends (gone closes), and
// kills the sandbox (kill) if the memfd holds more than memLimit.
func auditMemory(f *os.File, gone <-chan struct{}, kill func()) {
	defer f.Close()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-gone:
			return
		case <-t.C:
		}
		limit := memLimit.Load()
		if limit <= 0 {
			continue
		}
		n, err := caps.Resident(f)
		if err != nil {
			slog.Warn("memory audit stopped", "err", err)
			return
		}
		if n > limit {
			slog.Warn("the sandbox holds more memory than its limit: killed", "resident", n, "limit", limit)
			kill()
			return
		}
	}
}

// setAuditedLimit records the memory limit exo checks (n <= 0: none).
func setAuditedLimit(n int64) {
	if n < 0 {
		n = 0
	}
	memLimit.Store(n)
}
