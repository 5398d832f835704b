package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Flavour is one way of building a static x86-64 test program.
type Flavour struct {
	// Name is used in test and file names.
	Name string
	// CC is the compiler driver.
	CC string
	// Flags select static linking and the libc.
	Flags []string
	// Optional flavours are skipped, not failed, when CC is missing.
	Optional bool
	// Hint says how to get CC.
	Hint string
}

var (
	// GlibcStatic is `gcc -static -O1`: an ET_EXEC glibc binary.
	GlibcStatic = Flavour{Name: "glibc-static", CC: "gcc", Flags: []string{"-static", "-O1"},
		Hint: "apt-get install -y gcc libc6-dev"}
	// GlibcStaticPIE is `gcc -static-pie`: an ET_DYN glibc binary that
	// relocates itself, loaded at a random base.
	GlibcStaticPIE = Flavour{Name: "glibc-static-pie", CC: "gcc", Flags: []string{"-static-pie", "-fPIE", "-O1"},
		Hint: "apt-get install -y gcc libc6-dev"}
	// MuslStatic is `musl-gcc -static -O1`.
	MuslStatic = Flavour{Name: "musl-static", CC: "musl-gcc", Flags: []string{"-static", "-O1"}, Optional: true,
		Hint: "apt-get install -y musl-tools"}
)

// Flavours lists every flavour the conformance programs are built in.
var Flavours = []Flavour{GlibcStatic, GlibcStaticPIE, MuslStatic}

var lookMu sync.Mutex
var lookCache = map[string]error{}

// Available reports why f cannot be used on this machine, or nil.
func (f Flavour) Available() error {
	lookMu.Lock()
	defer lookMu.Unlock()
	err, ok := lookCache[f.CC]
	if !ok {
		if _, lerr := exec.LookPath(f.CC); lerr != nil {
			err = fmt.Errorf("%s not found (%s)", f.CC, f.Hint)
		}
		lookCache[f.CC] = err
	}
	return err
}

// Compile builds the C sources srcs into the executable out with flavour f.
// Extra arguments (e.g. "-I dir") go before the sources.
func Compile(f Flavour, out string, srcs []string, extra ...string) error {
	if err := f.Available(); err != nil {
		return err
	}
	args := append([]string{}, f.Flags...)
	args = append(args, "-g0", "-Wall", "-o", out)
	args = append(args, extra...)
	args = append(args, srcs...)
	cmd := exec.Command(f.CC, args...)
	if o, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("compiling %s (%s) failed: %v\n%s",
			strings.Join(srcs, " "), ShellQuote(append([]string{f.CC}, args...)), err, o)
	}
	return nil
}

// CompileDir builds every prog.c of srcDir with flavour f into
// outDir/prog.FLAVOUR, headers of srcDir on the include path, at most
// MaxParallel compilers at a time. It returns the executables by program
// name and the failures by program name.
func CompileDir(srcDir, outDir string, f Flavour) (bins map[string]string, errs map[string]error, err error) {
	srcs, err := filepath.Glob(filepath.Join(srcDir, "*.c"))
	if err != nil {
		return nil, nil, err
	}
	if len(srcs) == 0 {
		return nil, nil, fmt.Errorf("no C programs in %s", srcDir)
	}
	bins = map[string]string{}
	errs = map[string]error{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, MaxParallel)
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".c")
		out := filepath.Join(outDir, name+"."+f.Name)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			cerr := Compile(f, out, []string{src}, "-I", srcDir)
			mu.Lock()
			defer mu.Unlock()
			if cerr != nil {
				errs[name] = cerr
			} else {
				bins[name] = out
			}
		}()
	}
	wg.Wait()
	return bins, errs, nil
}

// CopyExecutable copies the file src to dst with mode 0755.
func CopyExecutable(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o755)
}
