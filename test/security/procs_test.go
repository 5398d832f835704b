package security

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A host process as /proc shows it.
type procInfo struct {
	pid, ppid int
	state     byte
	start     uint64 // start time in clock ticks since boot: tells a reused pid apart
	comm      string // the name of the executable (or as set by prctl)
	cmdline   []string
}

// key identifies a process across a pid's reuse.
func (p procInfo) key() string { return fmt.Sprintf("%d@%d", p.pid, p.start) }

func (p procInfo) String() string {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.pid))
	if err != nil {
		exe = "?"
	}
	return fmt.Sprintf("pid %d (ppid %d, state %c): comm %q, cmdline %q, exe %s", p.pid, p.ppid, p.state, p.comm, p.cmdline, exe)
}

// isStub reports whether p is a workload stub: its executable is named
// exo-stub. (Its cmdline may read empty: the stub's memory, where the
// kernel reads it from, belongs to the workload; and a systrap stub's
// comm is its workload process's name.)
func (p procInfo) isStub() bool {
	if p.comm == "exo-stub" || len(p.cmdline) > 0 && filepath.Base(p.cmdline[0]) == "exo-stub" {
		return true
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.pid))
	return err == nil && filepath.Base(strings.TrimSuffix(exe, " (deleted)")) == "exo-stub"
}

// readProc reads /proc/PID/stat and cmdline; ok is false once it is gone.
func readProc(pid int) (procInfo, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, false
	}
	// The command name is in parentheses and may contain anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procInfo{}, false
	}
	p := procInfo{pid: pid, state: f[0][0]}
	if j := bytes.IndexByte(b, '('); j >= 0 && j < i {
		p.comm = string(b[j+1 : i])
	}
	p.ppid, _ = strconv.Atoi(f[1])
	p.start, _ = strconv.ParseUint(f[19], 10, 64)
	if c, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil {
		p.cmdline = strings.Split(strings.TrimRight(string(c), "\x00"), "\x00")
	}
	return p, true
}

// allProcs lists every process of the host.
func allProcs() map[int]procInfo {
	ents, _ := os.ReadDir("/proc")
	m := make(map[int]procInfo, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok {
			m[pid] = p
		}
	}
	return m
}

// descendants lists the processes below root, by pid.
func descendants(all map[int]procInfo, root int) []procInfo {
	children := map[int][]int{}
	for _, p := range all {
		children[p.ppid] = append(children[p.ppid], p.pid)
	}
	var out []procInfo
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			if c == root {
				continue
			}
			out = append(out, all[c])
			queue = append(queue, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

func describe(ps []procInfo) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %v\n", p)
	}
	return b.String()
}

// becomeSubreaper makes the test process a child subreaper until the test
// ends: every process the runtime leaves behind, however it was orphaned,
// is re-parented below the test process instead of the host's init, where
// the test can see it. The test must not run in parallel with others that
// start processes, since their orphans would be counted too. At the end,
// whatever is left below the test process is killed and reaped.
func becomeSubreaper(t *testing.T) {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("prctl(PR_SET_CHILD_SUBREAPER): %v", err)
	}
	t.Cleanup(func() {
		if left := killDescendants(5 * time.Second); len(left) > 0 {
			t.Errorf("could not kill these processes left by the test:\n%s", describe(left))
		}
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0); err != nil {
			t.Errorf("prctl(PR_SET_CHILD_SUBREAPER, 0): %v", err)
		}
	})
}

// reapOrphans reaps the zombies among the test process's children: orphans
// that were re-parented to it and have died. The children that os/exec
// started and waits for itself are given in skip.
func reapOrphans(skip ...int) {
	self := os.Getpid()
	for _, p := range allProcs() {
		if p.ppid == self && p.state == 'Z' && !slices.Contains(skip, p.pid) {
			var ws syscall.WaitStatus
			syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
		}
	}
}

// live are the processes of ps that are not zombies.
func live(ps []procInfo) []procInfo {
	var out []procInfo
	for _, p := range ps {
		if p.state != 'Z' && p.state != 'X' {
			out = append(out, p)
		}
	}
	return out
}

// awaitNoDescendants waits up to d for every process below the test
// process to be gone (zombies count as gone, and orphaned ones are reaped;
// skip are children that os/exec will reap), and returns those still alive.
func awaitNoDescendants(d time.Duration, skip ...int) []procInfo {
	deadline := time.Now().Add(d)
	for {
		reapOrphans(skip...)
		left := live(descendants(allProcs(), os.Getpid()))
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killDescendants SIGKILLs everything below the test process until nothing
// is left or d passes, and returns what is left (skip: as for reapOrphans).
func killDescendants(d time.Duration, skip ...int) []procInfo {
	deadline := time.Now().Add(d)
	for {
		reapOrphans(skip...)
		left := live(descendants(allProcs(), os.Getpid()))
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		for _, p := range left {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runtimeLeftovers lists processes running the runtime binary bin that
// are not in before: with a binary built for this test package, no other
// test uses that file, so any such process is one this test started.
func runtimeLeftovers(bin string, before map[int]procInfo) []procInfo {
	want, err := os.Stat(bin)
	if err != nil {
		return nil
	}
	var out []procInfo
	for pid, p := range allProcs() {
		if b, ok := before[pid]; ok && b.start == p.start {
			continue
		}
		if p.state == 'Z' {
			continue
		}
		if st, err := os.Stat(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && os.SameFile(st, want) {
			out = append(out, p)
		}
	}
	return out
}
