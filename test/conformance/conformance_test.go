// Package conformance runs the C programs of testdata/, each built as a
// static glibc binary, a static-pie glibc binary and a static musl binary,
// natively and under `runsc-exo do`, and requires the same stdout and the
// same exit status from both. Every program asserts Linux behaviour itself
// and prints only deterministic facts, so TestNative checks the programs
// against the host kernel and TestSandbox checks the sandbox against both.
//
// (The programs live in testdata/ because the go tool refuses C files in
// a package directory that does not use cgo.)
//
// Programs in testdata/sandboxonly/ assert behaviour that differs from the native run
// on purpose (a directory is read-only only in the sandbox) and are checked by
// their own tests here.
package conformance

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/test/internal/harness"
)

// progArgs are given to every conformance program (args.c checks them).
var progArgs = []string{"one", "two three", ""}

type program struct {
	name     string
	src      string
	wantExit int
	// shebang, from a `/* shebang: ARG */` line, asks for a #! script
	// BINARY.sh next to each built binary, interpreted by that binary:
	// "#!BINARY ARG". (A #! script needs a file the program cannot write
	// itself: the sandbox's rootfs is read-only.)
	shebang string
	bins    map[string]string // by flavour name
	errs    map[string]error  // compile failures by flavour name
}

var (
	suite    *harness.Suite
	programs []*program
	// flavourErr says why a flavour cannot be built here, by flavour name.
	flavourErr = map[string]error{}
	setupErr   error
	// sandboxOnly are the programs of sandboxonly/, built with glibc-static.
	sandboxOnly = map[string]string{}
	sandboxErr  = map[string]error{}
)

func TestMain(m *testing.M) {
	flag.Parse()
	harness.LimitParallel()
	s, err := harness.NewSuite("conformance")
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: cannot create a scratch directory:", err)
		os.Exit(1)
	}
	suite = s
	setupErr = setup()
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// srcDir holds the C programs and check.h.
const srcDir = "testdata"

var (
	expectExit = regexp.MustCompile(`(?m)^/\* expect-exit: (\d+) \*/$`)
	shebangArg = regexp.MustCompile(`(?m)^/\* shebang: (\S+) \*/$`)
)

func setup() error {
	srcs, err := filepath.Glob(filepath.Join(srcDir, "*.c"))
	if err != nil || len(srcs) == 0 {
		return fmt.Errorf("no C programs found in %s (%v)", srcDir, err)
	}
	sort.Strings(srcs)
	for _, src := range srcs {
		text, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		p := &program{name: strings.TrimSuffix(filepath.Base(src), ".c"), src: src,
			bins: map[string]string{}, errs: map[string]error{}}
		if m := expectExit.FindSubmatch(text); m != nil {
			p.wantExit, _ = strconv.Atoi(string(m[1]))
		}
		if m := shebangArg.FindSubmatch(text); m != nil {
			p.shebang = string(m[1])
		}
		programs = append(programs, p)
	}
	byName := map[string]*program{}
	for _, p := range programs {
		byName[p.name] = p
	}
	for _, f := range harness.Flavours {
		if err := f.Available(); err != nil {
			flavourErr[f.Name] = err
			continue
		}
		bins, errs, err := harness.CompileDir(srcDir, suite.Dir, f)
		if err != nil {
			return err
		}
		for name, bin := range bins {
			p := byName[name]
			if p.shebang != "" {
				script := fmt.Sprintf("#!%s %s\n", bin, p.shebang)
				if len(script) > 255 { // Linux reads at most 255 bytes of a #! line
					return fmt.Errorf("the #! line for %s is too long (%d bytes): use a shorter TMPDIR", bin, len(script))
				}
				if err := os.WriteFile(bin+".sh", []byte(script), 0o755); err != nil {
					return err
				}
			}
			p.bins[f.Name] = bin
		}
		for name, e := range errs {
			byName[name].errs[f.Name] = e
		}
	}
	if err := harness.GlibcStatic.Available(); err == nil {
		bins, errs, err := harness.CompileDir(filepath.Join(srcDir, "sandboxonly"), suite.Dir, harness.GlibcStatic)
		if err != nil {
			return err
		}
		for k, v := range bins {
			sandboxOnly[k] = v
		}
		for k, v := range errs {
			sandboxErr[k] = v
		}
	}
	return nil
}

// binary returns the executable of p in flavour f, skipping or failing the
// test when there is none.
func binary(t *testing.T, p *program, f harness.Flavour) string {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup failed: %v", setupErr)
	}
	if err := flavourErr[f.Name]; err != nil {
		if f.Optional {
			t.Skipf("flavour %s unavailable: %v", f.Name, err)
		}
		t.Fatalf("flavour %s unavailable: %v", f.Name, err)
	}
	if err := p.errs[f.Name]; err != nil {
		t.Fatalf("%v", err)
	}
	return p.bins[f.Name]
}

// checkOwnExpectations fails unless r is what program p promises on a
// correct kernel: its expected status and, for status 0, its "ok" line.
func checkOwnExpectations(p *program, r *harness.Result) error {
	if r.ExitCode != p.wantExit || r.TimedOut {
		return fmt.Errorf("want exit status %d, got %s", p.wantExit, r.Status())
	}
	if p.wantExit == 0 && !bytes.HasSuffix(r.Stdout, []byte(p.name+": ok\n")) {
		return fmt.Errorf("stdout does not end with %q", p.name+": ok\n")
	}
	return nil
}

// TestNative runs each program on the host kernel: it checks the programs
// themselves (and needs neither root nor the runtime).
func TestNative(t *testing.T) {
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			for _, f := range harness.Flavours {
				t.Run(f.Name, func(t *testing.T) {
					t.Parallel()
					bin := binary(t, p, f)
					r := harness.Native(t, append([]string{bin}, progArgs...)...)
					if err := checkOwnExpectations(p, r); err != nil {
						t.Errorf("native run of %s: %v\n%s", p.name, err, r)
					}
				})
			}
		})
	}
}

// TestSandbox runs each program natively and under `runsc-exo do` on each
// platform (harness.Platforms; see harness.PlatformFlavour for which
// flavours each runs) and requires the same stdout and exit status:
// TestSandbox/PROGRAM/FLAVOUR/PLATFORM.
func TestSandbox(t *testing.T) {
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			for _, f := range harness.Flavours {
				t.Run(f.Name, func(t *testing.T) {
					t.Parallel()
					bin := binary(t, p, f)
					rt := suite.Runtime(t)
					argv := append([]string{bin}, progArgs...)
					native := harness.Run(harness.Cmd{Args: argv})
					if err := checkOwnExpectations(p, native); err != nil {
						t.Fatalf("the native run fails the program's own expectations, so the test program "+
							"or this host is at fault, not the sandbox: %v\n%s", err, native)
					}
					for _, plat := range harness.Platforms() {
						if !harness.PlatformFlavour(plat, f) {
							continue
						}
						t.Run(plat, func(t *testing.T) {
							sandboxed := rt.On(plat).Do(t, harness.DoOpts{}, argv...)
							compare(t, native, sandboxed)
						})
					}
				})
			}
		})
	}
}

// compare fails the test unless the sandboxed run matches the native one.
func compare(t *testing.T, native, sandboxed *harness.Result) {
	t.Helper()
	var problems []string
	if sandboxed.TimedOut || sandboxed.ExitCode != native.ExitCode {
		problems = append(problems, fmt.Sprintf("exit: native %s, sandboxed %s", native.Status(), sandboxed.Status()))
	}
	if d := harness.FirstDifference("native", native.Stdout, "sandbox", sandboxed.Stdout); d != "" {
		problems = append(problems, "stdout differs; "+d)
	}
	if len(problems) == 0 {
		return
	}
	t.Errorf("sandboxed run differs from the native run:\n  %s\n=== native\n%s=== sandboxed\n%s",
		strings.Join(problems, "\n  "), nativeSummary(native), sandboxed)
}

func nativeSummary(r *harness.Result) string {
	return fmt.Sprintf("result:  %s\n%s", r.Status(), harness.Section("stdout", r.Stdout))
}

// sandboxOnlyBinary returns a program of testdata/sandboxonly/.
func sandboxOnlyBinary(t *testing.T, name string) string {
	t.Helper()
	if setupErr != nil {
		t.Fatalf("setup failed: %v", setupErr)
	}
	if err := harness.GlibcStatic.Available(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := sandboxErr[name]; err != nil {
		t.Fatalf("%v", err)
	}
	bin, ok := sandboxOnly[name]
	if !ok {
		t.Fatalf("testdata/sandboxonly/%s.c was not built", name)
	}
	return bin
}

// TestReadOnlyBind: a host directory bind-mounted read-only into the
// sandbox (`--mount type=bind,src=DIR,dst=DIR,ro`, the same path inside):
// every attempt to create, change or remove a file there fails, opens for
// writing with EROFS, and the host files stay as they were. (The default
// rootfs itself is an overlay whose writes stay in the sandbox:
// test/programs checks that.)
func TestReadOnlyBind(t *testing.T) {
	t.Parallel()
	bin := sandboxOnlyBinary(t, "rofs")
	rt := suite.Runtime(t)
	dir, err := os.MkdirTemp(suite.Dir, "rofs-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	canary := filepath.Join(dir, "canary")
	if err := os.WriteFile(canary, []byte("canary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before, err := snapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}

	r := rt.Do(t, harness.DoOpts{Extra: []string{"--mount", "type=bind,src=" + dir + ",dst=" + dir + ",ro"}}, bin, dir, canary)

	after, err := snapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("the sandboxed program changed the host directory %s:\nbefore:\n%s\nafter:\n%s", dir, before, after)
	}
	if p2, _ := os.ReadFile("/etc/passwd"); !bytes.Equal(passwd, p2) {
		t.Errorf("/etc/passwd changed on the host")
	}
	harness.CheckExit(t, "rofs", r, 0)
	var ops, results []string
	for _, line := range strings.Split(strings.TrimSpace(string(r.Stdout)), "\n") {
		if op, res, ok := strings.Cut(line, ": "); ok {
			ops, results = append(ops, op), append(results, res)
		}
	}
	if len(results) < 15 {
		t.Fatalf("expected one result line per attempted operation, got %d\n%s", len(results), r)
	}
	for i, op := range ops {
		switch res := results[i]; {
		case res == "SUCCEEDED":
			t.Errorf("%s succeeded on the read-only rootfs", op)
		case strings.HasPrefix(op, "open") || strings.HasPrefix(op, "creat"):
			// Linux answers EROFS for an open for writing on a read-only mount.
			if res != "EROFS" {
				t.Errorf("%s: want EROFS, got %s", op, res)
			}
		case res != "EROFS":
			t.Logf("%s: %s (Linux gives EROFS on a read-only mount)", op, res)
		}
	}
}

// snapshot describes the files of dir: names, modes, sizes and contents.
func snapshot(dir string) (string, error) {
	var b strings.Builder
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d", strings.TrimPrefix(path, dir), info.Mode(), info.Size())
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " %q", data)
		}
		b.WriteString("\n")
		return nil
	})
	return b.String(), err
}

// hostTmpPrograms are the programs that work in a scratch directory under
// /tmp and are run again with /tmp a read-write bind mount of a host
// directory, so they test dirfs (and its page cache, for filemap) instead
// of the sandbox's tmpfs. (dirs is not among them: dirfs names a file by
// its path, so a removed working directory cannot be stat'ed.)
var hostTmpPrograms = []string{"cwd", "dirlist", "fileattrs", "filemap", "links", "locks", "openat2", "openflags", "rename", "statx"}

// TestSandboxHostTmp runs hostTmpPrograms (glibc static) with a host
// directory bound at /tmp and compares them with the native run.
func TestSandboxHostTmp(t *testing.T) {
	for _, name := range hostTmpPrograms {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var p *program
			for _, q := range programs {
				if q.name == name {
					p = q
				}
			}
			if p == nil {
				t.Fatalf("no program %s in testdata", name)
			}
			bin := binary(t, p, harness.GlibcStatic)
			dir, err := os.MkdirTemp(suite.Dir, "hosttmp-")
			if err != nil {
				t.Fatal(err)
			}
			// The bind mount hides the host's /tmp, so the program is run
			// from a copy inside the bound directory.
			data, err := os.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o1777); err != nil {
				t.Fatal(err)
			}
			native := harness.Run(harness.Cmd{Args: append([]string{bin}, progArgs...)})
			rt := suite.Runtime(t)
			sandboxed := rt.Do(t, harness.DoOpts{Extra: []string{"--mount", "type=bind,src=" + dir + ",dst=/tmp"}},
				append([]string{"/tmp/" + name}, progArgs...)...)
			compare(t, native, sandboxed)
		})
	}
}

// TestNoexecMount runs noexec (glibc static) with a directory on a tmpfs
// mounted noexec,nosuid,nodev: natively a host mount, sandboxed the
// sandbox's own (`do --mount type=tmpfs,...,noexec,nosuid,nodev`), at the
// same path, and compares the two runs.
func TestNoexecMount(t *testing.T) {
	t.Parallel()
	harness.RequireRoot(t)
	var p *program
	for _, q := range programs {
		if q.name == "noexec" {
			p = q
		}
	}
	if p == nil {
		t.Fatal("no program noexec in testdata")
	}
	bin := binary(t, p, harness.GlibcStatic)
	dir, err := os.MkdirTemp(suite.Dir, "noexec-")
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
		t.Skipf("mount a noexec tmpfs: %v", err)
	}
	native := harness.Run(harness.Cmd{Args: []string{bin, dir}})
	if err := unix.Unmount(dir, 0); err != nil {
		t.Errorf("unmount %s: %v", dir, err)
	}
	rt := suite.Runtime(t)
	sandboxed := rt.Do(t, harness.DoOpts{Extra: []string{"--mount", "type=tmpfs,dst=" + dir + ",noexec,nosuid,nodev"}}, bin, dir)
	if !strings.Contains(string(native.Stdout), "noexec: execve EACCES") {
		t.Errorf("the native run did not see the noexec mount:\n%s", native)
	}
	compare(t, native, sandboxed)
}
