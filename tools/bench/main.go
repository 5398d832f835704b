// Command bench measures runsc-exo against native execution (and runc, when
// it is installed) in one run and prints the figures as ratios: the cost of
// a getpid round trip, of a 4 KiB file read, of starting a sandbox, of a
// fork+exit+wait, of a 1-byte pipe round trip between two processes, of
// delivering a signal to a handler; of stat, open+close and 4 KiB and 1 MiB
// sequential reads and writes on tmpfs and on dirfs; of starting python3;
// of getpid from 8 threads at once and of fork+exec+wait. Each runsc-exo
// platform (-platforms) is a column of its own. The last row is the floor
// of a seccomp-trap platform: a getpid that a filter turns into SIGSYS and
// a handler answers, measured natively. -quick runs only the syscall rows.
// A last small table times a bare handoff between two processes pinned to
// one CPU (tools/bench/c/handoff.c), the floor of a trapped syscall when
// no CPU is free to poll on.
//
// With runc installed, a last table drives runc and runsc-exo as containerd's
// shim does (create --pid-file, start, reap the pid-file process, delete) to
// time the lifecycle of a container running a static no-op, and sums the
// PSS of an idle container's host processes; -oci runs only that table.
//
// The file-system rows run in two directories: "tmpfs" is a tmpfs (natively
// a directory in /dev/shm; in runsc-exo `--mount type=tmpfs,dst=/tmpfs`; in
// runc a tmpfs mount) and "dirfs" is a host directory in the bench's work
// directory (natively itself; in runsc-exo `--mount type=bind,...,dst=/dirfs`,
// the library OS's dirfs; in runc a bind mount). python3 startup runs the
// host's python3 (in runsc-exo with the default rootfs, in runc with /usr
// and /etc bind-mounted read-only into a bundle of its own).
//
// Run it as root from the repository root: go run ./tools/bench
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

type runner struct {
	name string
	// wrap turns a command of the bench rootfs into one that runs in this
	// environment.
	wrap func(argv []string) []string
	// fs is wrap with the /tmpfs and /dirfs mounts of the file-system
	// rows.
	fs func(argv []string) []string
	// host runs a command of the host's rootfs (python3); nil if this
	// environment cannot.
	host func(argv []string) []string
}

func main() {
	iters := flag.Int("n", 20000, "iterations per syscall loop")
	reps := flag.Int("reps", 5, "repetitions of each measurement; the median is reported")
	platforms := flag.String("platforms", "systrap,ptrace", "runsc-exo platforms to measure, comma-separated")
	quick := flag.Bool("quick", false, "only the syscall rows (getpid, read, threads, fork+exec, SIGSYS floor)")
	ociOnly := flag.Bool("oci", false, "only the OCI rows (create+start+wait+delete and idle memory, against runc)")
	flag.Parse()
	if err := run(*iters, *reps, strings.Split(*platforms, ","), *quick, *ociOnly); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(iters, reps int, platforms []string, quick, ociOnly bool) error {
	work, err := os.MkdirTemp("", "exo-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	exo := filepath.Join(work, "runsc-exo")
	if out, err := command("go", "build", "-o", exo, "./runsc-exo").CombinedOutput(); err != nil {
		return fmt.Errorf("build runsc-exo: %v\n%s", err, out)
	}
	// The workload lives in a directory that doubles as the rootfs, so the
	// same files serve native, runsc-exo and runc.
	rootfs := filepath.Join(work, "rootfs")
	os.MkdirAll(rootfs, 0o755)
	loop := filepath.Join(rootfs, "loop")
	if out, err := command("gcc", "-static", "-O2", "-pthread", "-o", loop, "tools/bench/c/loop.c").CombinedOutput(); err != nil {
		return fmt.Errorf("build loop.c: %v\n%s", err, out)
	}
	// /bin/true is dynamic; a static no-op is what all three can start.
	trueSrc := filepath.Join(work, "true.c")
	os.WriteFile(trueSrc, []byte("int main(void){return 0;}\n"), 0o644)
	if out, err := command("gcc", "-static", "-O2", "-o", filepath.Join(rootfs, "true"), trueSrc).CombinedOutput(); err != nil {
		return fmt.Errorf("build true: %v\n%s", err, out)
	}
	// An idle container's process: a static program that only waits.
	pauseSrc := filepath.Join(work, "pause.c")
	os.WriteFile(pauseSrc, []byte("#include <unistd.h>\nint main(void){for(;;)pause();}\n"), 0o644)
	if out, err := command("gcc", "-static", "-O2", "-o", filepath.Join(rootfs, "pause"), pauseSrc).CombinedOutput(); err != nil {
		return fmt.Errorf("build pause: %v\n%s", err, out)
	}
	if ociOnly {
		return runOCI(exo, rootfs, work, platforms, reps)
	}
	data := filepath.Join(rootfs, "data")
	if err := os.WriteFile(data, bytes.Repeat([]byte("x"), 8192), 0o644); err != nil {
		return err
	}

	// The file-system rows' directories: mount points in the rootfs, and
	// their native stand-ins.
	for _, d := range []string{"tmpfs", "dirfs"} {
		if err := os.Mkdir(filepath.Join(rootfs, d), 0o755); err != nil {
			return err
		}
	}
	dirfs := filepath.Join(work, "dirfs")
	if err := os.Mkdir(dirfs, 0o755); err != nil {
		return err
	}
	shm, err := os.MkdirTemp("/dev/shm", "exo-bench-")
	if err != nil {
		return fmt.Errorf("a tmpfs directory for the native runs: %w", err)
	}
	defer os.RemoveAll(shm)

	nativeWrap := func(a []string) []string {
		a = append([]string(nil), a...)
		a[0] = filepath.Join(rootfs, a[0])
		for i := range a {
			switch a[i] {
			case "/data":
				a[i] = data
			case "/true":
				a[i] = filepath.Join(rootfs, "true")
			case "/tmpfs":
				a[i] = shm
			case "/dirfs":
				a[i] = dirfs
			}
		}
		return a
	}
	runners := []runner{{name: "native", wrap: nativeWrap, fs: nativeWrap,
		host: func(a []string) []string { return a }}}
	for _, platform := range platforms {
		exoDo := []string{exo, "do", "--rootfs", rootfs, "--platform", platform}
		runners = append(runners, runner{name: "runsc-exo/" + platform,
			wrap: func(a []string) []string {
				return append(append(append([]string(nil), exoDo...), "--"), a...)
			},
			fs: func(a []string) []string {
				return append(append(append([]string(nil), exoDo...),
					"--mount", "type=tmpfs,dst=/tmpfs", "--mount", "type=bind,src="+dirfs+",dst=/dirfs", "--"), a...)
			},
			host: func(a []string) []string {
				return append([]string{exo, "do", "--platform", platform, "--"}, a...)
			}})
	}
	if runc, err := exec.LookPath("runc"); err == nil && !quick {
		bundle, err := makeBundle(work, "bundle", rootfs, []map[string]any{
			{"destination": "/tmpfs", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "nodev", "mode=1777"}},
			{"destination": "/dirfs", "type": "bind", "source": dirfs, "options": []string{"rbind", "rw"}},
		})
		if err != nil {
			return err
		}
		pyBundle, err := makeHostBundle(work)
		if err != nil {
			return err
		}
		id := 0
		runIn := func(bundle string, a []string) []string {
			id++
			setArgs(filepath.Join(bundle, "config.json"), a)
			return []string{runc, "--root", filepath.Join(work, "runc-state"), "run", "--bundle", bundle, fmt.Sprintf("bench-%d-%d", os.Getpid(), id)}
		}
		wrap := func(a []string) []string { return runIn(bundle, a) }
		runners = append(runners, runner{name: "runc", wrap: wrap, fs: wrap,
			host: func(a []string) []string { return runIn(pyBundle, a) }})
	}

	type row struct {
		name string
		unit string
		vals []float64
	}
	rows := []row{
		{name: "getpid", unit: "ns/call"},
		{name: "read 4 KiB", unit: "ns/call"},
		{name: "start+exit (static true)", unit: "ms"},
		{name: "fork+exit+wait", unit: "µs/op"},
		{name: "pipe round trip (1 byte, 2 processes)", unit: "µs/op"},
		{name: "signal delivery (raise+handler)", unit: "µs/op"},
	}
	// The file-system rows: loop.c modes, in /tmpfs and /dirfs.
	type fsRow struct {
		mode  string
		bytes int
		unit  string
		name  string
	}
	var fsRows []fsRow
	for _, m := range []struct {
		mode  string
		bytes int
		unit  string
		what  string
	}{
		{"stat", 0, "ns/call", "stat"},
		{"open", 0, "ns/call", "open+close"},
		{"seqread", 4096, "ns/call", "sequential read 4 KiB"},
		{"seqread", 1 << 20, "µs/call", "sequential read 1 MiB"},
		{"seqwrite", 4096, "ns/call", "sequential write 4 KiB"},
		{"seqwrite", 1 << 20, "µs/call", "sequential write 1 MiB"},
	} {
		for _, fs := range []string{"tmpfs", "dirfs"} {
			fsRows = append(fsRows, fsRow{mode: m.mode, bytes: m.bytes, unit: m.unit, name: m.what + " (" + fs + ")"})
			rows = append(rows, row{name: m.what + " (" + fs + ")", unit: m.unit})
		}
	}
	rows = append(rows, row{name: "python3 startup (python3 -c pass)", unit: "ms"})
	extra := len(rows)
	rows = append(rows,
		row{name: "getpid, 8 threads at once", unit: "ns/call"},
		row{name: "fork+exec+wait (static true)", unit: "µs/op"},
		row{name: "SIGSYS trap+handler (seccomp floor, native only)", unit: "ns/call"})
	// Process operations cost far more than a syscall: fewer iterations
	// (-n/100 forks, -n/10 round trips and signals).
	forkIters := max(iters/100, 20)
	pipeIters := max(iters/10, 100)
	sigIters := max(iters/10, 100)
	for _, r := range runners {
		g, err := median(reps, func() (float64, error) { return loopNs(r.wrap([]string{"/loop", "getpid", strconv.Itoa(iters)})) })
		if err != nil {
			return fmt.Errorf("%s getpid: %w", r.name, err)
		}
		rd, err := median(reps, func() (float64, error) {
			return loopNs(r.wrap([]string{"/loop", "read", strconv.Itoa(iters), "/data"}))
		})
		if err != nil {
			return fmt.Errorf("%s read: %w", r.name, err)
		}
		st, err := math.NaN(), error(nil)
		if !quick {
			st, err = median(reps, func() (float64, error) {
				start := time.Now()
				if out, err := command(r.wrap([]string{"/true"})...).CombinedOutput(); err != nil {
					return 0, fmt.Errorf("%v: %s", err, out)
				}
				return float64(time.Since(start).Microseconds()) / 1000, nil
			})
		}
		if err != nil {
			return fmt.Errorf("%s start: %w", r.name, err)
		}
		rows[0].vals = append(rows[0].vals, g)
		rows[1].vals = append(rows[1].vals, rd)
		rows[2].vals = append(rows[2].vals, st)
		for i, m := range []struct {
			mode  string
			iters int
		}{{"fork", forkIters}, {"pipe", pipeIters}, {"signal", sigIters}} {
			v, err := math.NaN(), error(nil)
			if !quick {
				v, err = median(reps, func() (float64, error) {
					return loopNs(r.wrap([]string{"/loop", m.mode, strconv.Itoa(m.iters)}))
				})
			}
			if err != nil {
				// A runtime that cannot do this yet leaves the cell empty.
				fmt.Fprintf(os.Stderr, "bench: %s %s: %v\n", r.name, m.mode, err)
				v = math.NaN()
			}
			rows[3+i].vals = append(rows[3+i].vals, v/1000)
		}
		for i, fr := range fsRows {
			dir := "/tmpfs"
			if strings.HasSuffix(fr.name, "(dirfs)") {
				dir = "/dirfs"
			}
			n := iters
			if fr.bytes >= 1<<20 {
				n = max(iters/100, 20)
			}
			argv := []string{"/loop", fr.mode, strconv.Itoa(n), dir}
			if fr.bytes > 0 {
				argv = append(argv, strconv.Itoa(fr.bytes))
			}
			v, err := math.NaN(), error(nil)
			if !quick {
				v, err = median(reps, func() (float64, error) { return loopNs(r.fs(argv)) })
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s %s: %v\n", r.name, fr.name, err)
				v = math.NaN()
			}
			if fr.unit == "µs/call" {
				v /= 1000
			}
			rows[6+i].vals = append(rows[6+i].vals, v)
		}
		py := math.NaN()
		if r.host != nil && !quick {
			v, err := median(reps, func() (float64, error) {
				start := time.Now()
				if out, err := command(r.host([]string{"python3", "-c", "pass"})...).CombinedOutput(); err != nil {
					return 0, fmt.Errorf("%v: %s", err, out)
				}
				return float64(time.Since(start).Microseconds()) / 1000, nil
			})
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: %s python3 startup: %v\n", r.name, err)
			} else {
				py = v
			}
		}
		rows[extra-1].vals = append(rows[extra-1].vals, py)
		th, err := median(reps, func() (float64, error) {
			return loopNs(r.wrap([]string{"/loop", "threads", strconv.Itoa(max(iters/8, 100))}))
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s threads: %v\n", r.name, err)
			th = math.NaN()
		}
		fe, err := median(reps, func() (float64, error) {
			return loopNs(r.wrap([]string{"/loop", "forkexec", strconv.Itoa(forkIters), "/true"}))
		})
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s fork+exec: %v\n", r.name, err)
			fe = math.NaN()
		}
		floor := math.NaN()
		if r.name == "native" {
			if floor, err = median(reps, func() (float64, error) {
				return loopNs(r.wrap([]string{"/loop", "sigsys", strconv.Itoa(iters)}))
			}); err != nil {
				return fmt.Errorf("native sigsys: %w", err)
			}
		}
		rows[extra].vals = append(rows[extra].vals, th)
		rows[extra+1].vals = append(rows[extra+1].vals, fe/1000)
		rows[extra+2].vals = append(rows[extra+2].vals, floor)
	}

	host, _ := os.Hostname()
	fmt.Printf("runsc-exo bench: %d iterations, median of %d, %s, %d CPUs, %s\n\n", iters, reps, kernelRelease(), numCPU(), host)
	header := []string{"measure", "unit"}
	for _, r := range runners {
		header = append(header, r.name)
		if r.name != "native" {
			header = append(header, r.name+" ÷ native")
		}
	}
	fmt.Println("| " + strings.Join(header, " | ") + " |")
	fmt.Println("|" + strings.Repeat(" --- |", len(header)))
	for _, rw := range rows {
		if !slices.ContainsFunc(rw.vals, func(v float64) bool { return !math.IsNaN(v) }) {
			continue // not measured (-quick)
		}
		cells := []string{rw.name, rw.unit}
		for i, v := range rw.vals {
			if math.IsNaN(v) {
				cells = append(cells, "—")
			} else {
				cells = append(cells, fmt.Sprintf("%.1f", v))
			}
			if i > 0 {
				if math.IsNaN(v) || math.IsNaN(rw.vals[0]) {
					cells = append(cells, "—")
				} else {
					cells = append(cells, fmt.Sprintf("%.1f×", v/rw.vals[0]))
				}
			}
		}
		fmt.Println("| " + strings.Join(cells, " | ") + " |")
	}
	// The getpid round trip of each platform against the signal floor.
	floor := rows[len(rows)-1].vals[0]
	fmt.Println()
	for i, r := range runners[1:] {
		if !strings.HasPrefix(r.name, "runsc-exo/") {
			continue
		}
		fmt.Printf("%s getpid: %.1f× the SIGSYS floor (%.0f ns)\n", r.name, rows[0].vals[i+1]/floor, floor)
	}
	if err := handoffTable(work, iters, reps); err != nil {
		return err
	}
	if quick {
		return nil
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil
	}
	return runOCI(exo, rootfs, work, platforms, reps)
}

// handoffTable prints what a round trip between two processes costs when
// neither side may poll, both pinned to one CPU as on a busy machine: the
// floor under every trapped syscall once the CPUs are taken (futex: how the
// systrap stub and sentry sleep; notif and notif-sync: a seccomp user
// notification, without and with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP).
func handoffTable(work string, iters, reps int) error {
	bin := filepath.Join(work, "handoff")
	if out, err := command("gcc", "-O2", "-o", bin, "tools/bench/c/handoff.c").CombinedOutput(); err != nil {
		return fmt.Errorf("build handoff.c: %v\n%s", err, out)
	}
	fmt.Println("\n| handoff between two processes, one CPU (native) | ns/round trip |")
	fmt.Println("| --- | --- |")
	for _, mode := range []string{"futex", "notif", "notif-sync"} {
		v, err := median(reps, func() (float64, error) {
			return loopNs([]string{"taskset", "-c", "0", bin, mode, strconv.Itoa(iters)})
		})
		if err != nil {
			// notif-sync needs Linux 6.6: say so in the table.
			fmt.Fprintf(os.Stderr, "bench: handoff %s: %v\n", mode, err)
			v = math.NaN()
		}
		fmt.Printf("| %s | %.1f |\n", mode, v)
	}
	return nil
}

func command(argv ...string) *exec.Cmd {
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin = nil
	return c
}

func loopNs(argv []string) (float64, error) {
	out, err := command(argv...).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		return 0, fmt.Errorf("%v: %v %s", argv, err, msg)
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return 0, fmt.Errorf("%v printed nothing", argv)
	}
	return strconv.ParseFloat(lines[len(lines)-1], 64)
}

func median(n int, f func() (float64, error)) (float64, error) {
	vals := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		v, err := f()
		if err != nil {
			return 0, err
		}
		vals = append(vals, v)
	}
	sort.Float64s(vals)
	return vals[len(vals)/2], nil
}

// makeHostBundle writes a bundle for runc whose rootfs shows the host's
// /usr and /etc (read-only bind mounts) and the merged-/usr symlinks, so
// that the host's python3 runs in it.
func makeHostBundle(work string) (string, error) {
	rootfs := filepath.Join(work, "hostroot")
	var mounts []map[string]any
	for _, d := range []string{"usr", "etc", "proc", "dev", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			return "", err
		}
	}
	for _, d := range []string{"/usr", "/etc"} {
		mounts = append(mounts, map[string]any{"destination": d, "type": "bind", "source": d, "options": []string{"rbind", "ro"}})
	}
	for _, d := range []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		fi, err := os.Lstat("/" + d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink("/" + d)
			if err != nil {
				return "", err
			}
			if err := os.Symlink(target, filepath.Join(rootfs, d)); err != nil {
				return "", err
			}
		case fi.IsDir():
			if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
				return "", err
			}
			mounts = append(mounts, map[string]any{"destination": "/" + d, "type": "bind", "source": "/" + d, "options": []string{"rbind", "ro"}})
		}
	}
	return makeBundle(work, "hostbundle", rootfs, mounts)
}

// makeBundle writes a minimal OCI bundle work/name around rootfs for runc,
// with extra mounts after the default ones.
func makeBundle(work, name, rootfs string, mounts []map[string]any) (string, error) {
	bundle := filepath.Join(work, name)
	if err := os.MkdirAll(bundle, 0o755); err != nil {
		return "", err
	}
	out, err := exec.Command("runc", "spec", "--bundle", bundle).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("runc spec: %v: %s", err, out)
	}
	spec := filepath.Join(bundle, "config.json")
	var cfg map[string]any
	b, _ := os.ReadFile(spec)
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", err
	}
	cfg["root"] = map[string]any{"path": rootfs, "readonly": true}
	if len(mounts) > 0 {
		all, _ := cfg["mounts"].([]any)
		for _, m := range mounts {
			all = append(all, m)
		}
		cfg["mounts"] = all
	}
	proc := cfg["process"].(map[string]any)
	proc["terminal"] = false
	b, _ = json.MarshalIndent(cfg, "", "  ")
	return bundle, os.WriteFile(spec, b, 0o644)
}

func setArgs(spec string, args []string) {
	var cfg map[string]any
	b, _ := os.ReadFile(spec)
	json.Unmarshal(b, &cfg)
	cfg["process"].(map[string]any)["args"] = args
	b, _ = json.MarshalIndent(cfg, "", "  ")
	os.WriteFile(spec, b, 0o644)
}

func kernelRelease() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return "Linux " + strings.TrimSpace(string(b))
}

func numCPU() int {
	out, _ := exec.Command("nproc").Output()
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}
