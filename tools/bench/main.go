// Command bench measures runsc-exo against native execution (and runc, when
// it is installed) in one run and prints the figures as ratios: the cost of
// a getpid round trip, of a 4 KiB file read, of starting a sandbox, of a
// fork+exit+wait, of a 1-byte pipe round trip between two processes and of
// delivering a signal to a handler.
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
	"sort"
	"strconv"
	"strings"
	"time"
)

type runner struct {
	name string
	// argv prefixes a command so it runs in this environment; nil for
	// native execution.
	wrap func(argv []string) []string
}

func main() {
	iters := flag.Int("n", 20000, "iterations per syscall loop")
	reps := flag.Int("reps", 5, "repetitions of each measurement; the median is reported")
	platform := flag.String("platform", "ptrace", "runsc-exo platform to measure")
	flag.Parse()
	if err := run(*iters, *reps, *platform); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(iters, reps int, platform string) error {
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
	if out, err := command("gcc", "-static", "-O2", "-o", loop, "tools/bench/c/loop.c").CombinedOutput(); err != nil {
		return fmt.Errorf("build loop.c: %v\n%s", err, out)
	}
	// /bin/true is dynamic; a static no-op is what all three can start.
	trueSrc := filepath.Join(work, "true.c")
	os.WriteFile(trueSrc, []byte("int main(void){return 0;}\n"), 0o644)
	if out, err := command("gcc", "-static", "-O2", "-o", filepath.Join(rootfs, "true"), trueSrc).CombinedOutput(); err != nil {
		return fmt.Errorf("build true: %v\n%s", err, out)
	}
	data := filepath.Join(rootfs, "data")
	if err := os.WriteFile(data, bytes.Repeat([]byte("x"), 8192), 0o644); err != nil {
		return err
	}

	runners := []runner{
		{name: "native", wrap: func(a []string) []string {
			a = append([]string(nil), a...)
			a[0] = filepath.Join(rootfs, a[0])
			for i := range a {
				if a[i] == "/data" {
					a[i] = data
				}
			}
			return a
		}},
		{name: "runsc-exo/" + platform, wrap: func(a []string) []string {
			return append([]string{exo, "do", "--rootfs", rootfs, "--platform", platform, "--"}, a...)
		}},
	}
	if runc, err := exec.LookPath("runc"); err == nil {
		bundle, err := makeBundle(work, rootfs)
		if err != nil {
			return err
		}
		id := 0
		runners = append(runners, runner{name: "runc", wrap: func(a []string) []string {
			id++
			spec := filepath.Join(bundle, "config.json")
			setArgs(spec, a)
			return []string{runc, "--root", filepath.Join(work, "runc-state"), "run", "--bundle", bundle, fmt.Sprintf("bench-%d-%d", os.Getpid(), id)}
		}})
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
		st, err := median(reps, func() (float64, error) {
			start := time.Now()
			if out, err := command(r.wrap([]string{"/true"})...).CombinedOutput(); err != nil {
				return 0, fmt.Errorf("%v: %s", err, out)
			}
			return float64(time.Since(start).Microseconds()) / 1000, nil
		})
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
			v, err := median(reps, func() (float64, error) {
				return loopNs(r.wrap([]string{"/loop", m.mode, strconv.Itoa(m.iters)}))
			})
			if err != nil {
				// A runtime that cannot do this yet leaves the cell empty.
				fmt.Fprintf(os.Stderr, "bench: %s %s: %v\n", r.name, m.mode, err)
				v = math.NaN()
			}
			rows[3+i].vals = append(rows[3+i].vals, v/1000)
		}
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

// makeBundle writes a minimal OCI bundle around rootfs for runc.
func makeBundle(work, rootfs string) (string, error) {
	bundle := filepath.Join(work, "bundle")
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
