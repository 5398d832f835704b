package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ociRuntime is an OCI runtime command line driven the way containerd's
// runc shim drives one: create with a pid file, start, reap the pid-file
// process, delete.
type ociRuntime struct {
	name string
	argv []string // the binary and its global flags (--root ...)
}

// ociResult is what the OCI section measures for one runtime.
type ociResult struct {
	lifecycleMs float64 // create+start+wait+delete of /true, median
	idlePSSKiB  float64 // PSS of an idle container's host processes
	idleProcs   int     // how many host processes that PSS was summed over
}

// becomeSubreaper makes this process the one that orphaned container
// processes are reparented to, as containerd's shim is: runc's container init
// and runsc-exo's exo process outlive the create command that started them,
// and the lifecycle measure reaps them.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// measureOCI times create+start+wait+delete of the bundle's /true and the
// memory of an idle container (the bundle's /pause) for rt.
func measureOCI(rt ociRuntime, bundle, work string, reps int) (ociResult, error) {
	res := ociResult{lifecycleMs: math.NaN(), idlePSSKiB: math.NaN()}
	spec := filepath.Join(bundle, "config.json")
	setArgs(spec, []string{"/true"})
	seq := 0
	nextID := func() string {
		seq++
		return fmt.Sprintf("bench-%s-%d-%d", strings.ReplaceAll(rt.name, "/", "-"), os.Getpid(), seq)
	}
	ms, err := median(reps, func() (float64, error) {
		id := nextID()
		start := time.Now()
		if err := ociLifecycle(rt, bundle, work, id); err != nil {
			return 0, err
		}
		return float64(time.Since(start).Microseconds()) / 1000, nil
	})
	if err != nil {
		return res, fmt.Errorf("%s lifecycle: %w", rt.name, err)
	}
	res.lifecycleMs = ms

	setArgs(spec, []string{"/pause"})
	id := nextID()
	pidFile := filepath.Join(work, id+".pid")
	if err := ociRun(rt, "create", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		return res, err
	}
	defer func() {
		ociRun(rt, "delete", "--force", id)
		reapAll()
	}()
	if err := ociRun(rt, "start", id); err != nil {
		return res, err
	}
	// Let the sandbox settle (lazy page faults of the first instructions,
	// the sentry's goroutines parking) before reading its memory.
	time.Sleep(time.Second)
	pss, n, err := descendantsPSS(os.Getpid())
	if err != nil {
		return res, fmt.Errorf("%s idle memory: %w", rt.name, err)
	}
	res.idlePSSKiB, res.idleProcs = pss, n
	return res, nil
}

// ociLifecycle is one create, start, wait for the container's exit, delete.
func ociLifecycle(rt ociRuntime, bundle, work, id string) error {
	pidFile := filepath.Join(work, id+".pid")
	defer os.Remove(pidFile)
	if err := ociRun(rt, "create", "--bundle", bundle, "--pid-file", pidFile, id); err != nil {
		return err
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("pid file %s: %w", pidFile, err)
	}
	if err := ociRun(rt, "start", id); err != nil {
		return err
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		return fmt.Errorf("wait for %s's container pid %d: %w", rt.name, pid, err)
	}
	if ws.ExitStatus() != 0 {
		return fmt.Errorf("%s: container /true exited with %v", rt.name, ws)
	}
	if err := ociRun(rt, "delete", id); err != nil {
		return err
	}
	// Other processes a runtime leaves to the subreaper (runsc-exo's exo
	// process) are reaped too, so none is counted in the next round.
	reapAll()
	return nil
}

func ociRun(rt ociRuntime, args ...string) error {
	argv := append(append([]string(nil), rt.argv...), args...)
	// Not a pipe: the container inherits create's stdout and stderr, and a
	// pipe would stay open (and the read of it blocked) until it exits.
	out, err := os.CreateTemp("", "exo-bench-oci-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	c := command(argv...)
	c.Stdout, c.Stderr = out, out
	if err := c.Run(); err != nil {
		msg, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, bytes.TrimSpace(msg))
	}
	return nil
}

// reapAll collects every exited child without blocking.
func reapAll() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// descendantsPSS sums the proportional set size of every process below
// root (not root itself), as /proc/PID/smaps_rollup reports it.
func descendantsPSS(root int) (kib float64, n int, err error) {
	children := map[int][]int{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name may hold spaces: fields start after its ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	queue := append([]int(nil), children[root]...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		queue = append(queue, children[pid]...)
		p, err := pssOf(pid)
		if err != nil {
			continue // exited meanwhile
		}
		kib += p
		n++
	}
	if n == 0 {
		return 0, 0, fmt.Errorf("no processes below pid %d", root)
	}
	return kib, n, nil
}

func pssOf(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			fs := strings.Fields(rest)
			if len(fs) > 0 {
				return strconv.ParseFloat(fs[0], 64)
			}
		}
	}
	return 0, fmt.Errorf("pid %d: no Pss in smaps_rollup", pid)
}

// printOCI prints the OCI section: each runtime's figures and its ratio to
// runc's (the first result).
func printOCI(rts []ociRuntime, res []ociResult) {
	fmt.Println()
	fmt.Println("| OCI lifecycle | unit | " + strings.Join(names(rts), " | ") + " | " + ratioHeads(rts) + " |")
	fmt.Println("|" + strings.Repeat(" --- |", 2+2*len(rts)-1))
	row := func(name, unit string, get func(ociResult) float64) {
		cells := []string{name, unit}
		for _, r := range res {
			cells = append(cells, cell(get(r), "%.1f"))
		}
		for _, r := range res[1:] {
			cells = append(cells, cell(get(r)/get(res[0]), "%.2f×"))
		}
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	row("create+start+wait+delete (static true)", "ms", func(r ociResult) float64 { return r.lifecycleMs })
	row("idle container, PSS of its host processes", "MiB", func(r ociResult) float64 { return r.idlePSSKiB / 1024 })
	for i, r := range res {
		fmt.Printf("%s: idle PSS summed over %d host processes\n", rts[i].name, r.idleProcs)
	}
}

func names(rts []ociRuntime) []string {
	var s []string
	for _, r := range rts {
		s = append(s, r.name)
	}
	return s
}

func ratioHeads(rts []ociRuntime) string {
	var s []string
	for _, r := range rts[1:] {
		s = append(s, r.name+" ÷ "+rts[0].name)
	}
	return strings.Join(s, " | ")
}

func cell(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

// runOCI measures the OCI section: runc (required: the ratios are to it)
// and runsc-exo on each platform, on a bundle around rootfs.
func runOCI(exo, rootfs, work string, platforms []string, reps int) error {
	runc, err := exec.LookPath("runc")
	if err != nil {
		return fmt.Errorf("the OCI rows compare with runc, which is not installed: %w", err)
	}
	if err := becomeSubreaper(); err != nil {
		return fmt.Errorf("become a child subreaper: %w", err)
	}
	bundle, err := makeBundle(work, "ocibundle", rootfs, nil)
	if err != nil {
		return err
	}
	rts := []ociRuntime{{name: "runc", argv: []string{runc, "--root", filepath.Join(work, "oci-runc")}}}
	for _, p := range platforms {
		rts = append(rts, ociRuntime{name: "runsc-exo/" + p,
			argv: []string{exo, "--root", filepath.Join(work, "oci-exo"), "--platform", p}})
	}
	var res []ociResult
	for _, rt := range rts {
		r, err := measureOCI(rt, bundle, work, reps)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		}
		res = append(res, r)
	}
	printOCI(rts, res)
	return nil
}
