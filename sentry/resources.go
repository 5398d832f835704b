package sentry

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// Resources are the limits exo can change in a running sandbox (OCI
// update); a nil field stays as it is.
type Resources struct {
	// MemoryLimit is the memory quota in bytes (-1: the whole grant).
	MemoryLimit *int64 `json:"memoryLimit,omitempty"`
	// PidsLimit caps the tasks (0 or less: no limit).
	PidsLimit *int64 `json:"pidsLimit,omitempty"`
}

// Stats is the library OS's own accounting of its resources, what a
// cgroup would report for the container.
type Stats struct {
	MemoryUsage    uint64 `json:"memoryUsage"`
	MemoryMaxUsage uint64 `json:"memoryMaxUsage"`
	MemoryLimit    uint64 `json:"memoryLimit"`
	MemoryFailcnt  uint64 `json:"memoryFailcnt"`
	Pids           uint64 `json:"pids"`
	PidsLimit      uint64 `json:"pidsLimit"`
}

// ErrMemoryInUse is the error of lowering the memory limit below what the
// workload holds.
var ErrMemoryInUse = errors.New("memory limit below current usage")

// Update applies new limits live. The memory limit goes first: when it
// cannot be lowered (the workload holds more), nothing changes.
func (s *Sandbox) Update(r Resources) error {
	if r.MemoryLimit != nil {
		limit := *r.MemoryLimit
		if limit < 0 {
			limit = int64(s.mem.MaxSize())
		}
		if err := s.mem.SetLimit(uint64(limit)); err != nil {
			if errors.Is(err, unix.EBUSY) {
				st := s.mem.Stats()
				return fmt.Errorf("%w: cannot set the memory limit to %d bytes: %d in use (peak %d)", ErrMemoryInUse, limit, st.Usage, st.MaxUsage)
			}
			return fmt.Errorf("memory limit %d: %w", limit, err)
		}
	}
	if r.PidsLimit != nil {
		n := *r.PidsLimit
		if n < 0 {
			n = 0
		}
		s.kernel.SetPidsLimit(int(n))
	}
	return nil
}

// Stats reports the sandbox's use of its resources.
func (s *Sandbox) Stats() Stats {
	m := s.mem.Stats()
	cur, limit := s.kernel.Pids()
	return Stats{
		MemoryUsage: m.Usage, MemoryMaxUsage: m.MaxUsage, MemoryLimit: m.Limit, MemoryFailcnt: m.Failcnt,
		Pids: uint64(cur), PidsLimit: uint64(limit),
	}
}

// SetStrace sends the strace lines of a sandbox booted with Config.Strace
// to w instead of the sentry's stderr (the runtime's --log file, so the
// trace does not mix with the workload's output). Each line is one Write.
func (s *Sandbox) SetStrace(w io.Writer) {
	if s.strace != nil {
		s.strace = w
	}
}
