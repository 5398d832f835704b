// Package cli checks how `runsc-exo do` treats its command line: bad input
// (no command, a file that is not an ELF executable, a 32-bit or foreign
// ELF, a missing program, a rootfs that does not exist) gets a non-zero exit
// and an error that names the problem, never a panic; and --strace prints
// each system call like strace.
package cli

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"exokernelul.dev/exo/test/internal/harness"
)

var suite *harness.Suite

func TestMain(m *testing.M) {
	flag.Parse()
	harness.LimitParallel()
	s, err := harness.NewSuite("cli")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cli: cannot create a scratch directory:", err)
		os.Exit(1)
	}
	suite = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

// badInput runs the runtime with args and requires a non-zero exit and a
// stderr containing one of keywords (case-insensitive), without a panic.
func badInput(t *testing.T, args []string, keywords ...string) {
	t.Helper()
	t.Logf("command: %s", harness.ShellQuote(args))
	r := harness.Run(harness.Cmd{Args: args})
	if r.TimedOut || r.ExitCode < 0 {
		t.Fatalf("the runtime did not finish properly\n%s", r)
	}
	if r.ExitCode == 0 {
		t.Errorf("want a non-zero exit status for bad input, got 0\n%s", r)
	}
	stderr := strings.ToLower(string(r.Stderr))
	if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("the runtime panicked instead of reporting the error\n%s", r)
	}
	found := false
	for _, k := range keywords {
		found = found || strings.Contains(stderr, strings.ToLower(k))
	}
	if !found {
		t.Errorf("stderr names none of %q\n%s", keywords, r)
	}
}

func writeExecutable(t *testing.T, name string, data []byte) string {
	t.Helper()
	dir, err := os.MkdirTemp(suite.Dir, "prog-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMissingCommand(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	t.Run("nothing", func(t *testing.T) {
		badInput(t, []string{rt.Bin, "do"}, "CMD", "command")
	})
	t.Run("dashdash", func(t *testing.T) {
		badInput(t, rt.DoArgs(harness.DoOpts{}), "CMD", "command")
	})
}

func TestNotELF(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	path := writeExecutable(t, "notelf", []byte("this is plain text, not a program\n"))
	badInput(t, rt.DoArgs(harness.DoOpts{}, path), "ELF", "exec format")
}

func TestTruncatedELF(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	data := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 9)...)
	path := writeExecutable(t, "truncated", data)
	badInput(t, rt.DoArgs(harness.DoOpts{}, path), "ELF", "exec format", "truncated", "short")
}

func TestELF32(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	path := writeExecutable(t, "elf32", elf32())
	badInput(t, rt.DoArgs(harness.DoOpts{}, path), "32-bit", "ELF32", "class", "i386")
}

func TestForeignMachine(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	path := writeExecutable(t, "aarch64", elf64(183 /* EM_AARCH64 */))
	badInput(t, rt.DoArgs(harness.DoOpts{}, path), "machine", "architecture", "aarch64", "arm64", "x86-64", "x86_64", "amd64")
}

func TestMissingProgram(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	path := filepath.Join(suite.Dir, "no-such-program")
	badInput(t, rt.DoArgs(harness.DoOpts{}, path), path, "no such file", "not found")
}

func TestMissingRootfs(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	badInput(t, rt.DoArgs(harness.DoOpts{Rootfs: "/does/not/exist"}, "/bin/true"), "/does/not/exist")
}

func TestRootfsIsAFile(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	file := writeExecutable(t, "plainfile", []byte("x\n"))
	badInput(t, rt.DoArgs(harness.DoOpts{Rootfs: file}, "/bin/true"), file, "not a directory")
}

func TestUnknownFlag(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	badInput(t, rt.DoArgs(harness.DoOpts{Extra: []string{"--bogus-flag"}}, "/bin/true"), "bogus-flag")
}

// TestStrace: --strace prints the workload's write like strace does, on
// stderr, while stdout stays the workload's.
func TestStrace(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	bin := filepath.Join(suite.Dir, "hi")
	if err := harness.Compile(harness.GlibcStatic, bin, []string{filepath.Join("testdata", "hi.c")}); err != nil {
		t.Fatal(err)
	}

	r := rt.Do(t, harness.DoOpts{Strace: true}, bin)
	harness.CheckExit(t, "hi --strace", r, 0)
	if string(r.Stdout) != "hi\n" {
		t.Errorf("stdout is %q, want %q\n%s", r.Stdout, "hi\n", r)
	}
	write := regexp.MustCompile(`(?m)write\(1, "hi\\n", 3\)\s+=\s+3\s*$`)
	if !write.Match(r.Stderr) {
		t.Errorf("stderr has no line like `write(1, \"hi\\n\", 3) = 3`\n%s", r)
	}
	if !bytes.Contains(r.Stderr, []byte("exit_group(0)")) {
		t.Errorf("stderr has no exit_group(0) line\n%s", r)
	}

	plain := rt.Do(t, harness.DoOpts{}, bin)
	harness.CheckExit(t, "hi", plain, 0)
	if write.Match(plain.Stderr) {
		t.Errorf("without --strace, the write is still traced on stderr\n%s", plain)
	}
}

// elf32 is a minimal, valid i386 static executable (it exits 0 through
// int $0x80): an ELF32 header, one PT_LOAD program header and 12 bytes of code.
func elf32() []byte {
	const base = 0x08048000
	const ehsize, phsize = 52, 32
	code := []byte{
		0xb8, 0x01, 0x00, 0x00, 0x00, // mov $1, %eax (exit)
		0xbb, 0x00, 0x00, 0x00, 0x00, // mov $0, %ebx
		0xcd, 0x80, // int $0x80
	}
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 1 /* ELFCLASS32 */, 1 /* LSB */, 1 /* EV_CURRENT */, 0})
	b.Write(make([]byte, 8))
	binary.Write(&b, le, uint16(2))                  // e_type ET_EXEC
	binary.Write(&b, le, uint16(3))                  // e_machine EM_386
	binary.Write(&b, le, uint32(1))                  // e_version
	binary.Write(&b, le, uint32(base+ehsize+phsize)) // e_entry
	binary.Write(&b, le, uint32(ehsize))             // e_phoff
	binary.Write(&b, le, uint32(0))                  // e_shoff
	binary.Write(&b, le, uint32(0))                  // e_flags
	binary.Write(&b, le, uint16(ehsize))             // e_ehsize
	binary.Write(&b, le, uint16(phsize))             // e_phentsize
	binary.Write(&b, le, uint16(1))                  // e_phnum
	binary.Write(&b, le, uint16(0))                  // e_shentsize
	binary.Write(&b, le, uint16(0))                  // e_shnum
	binary.Write(&b, le, uint16(0))                  // e_shstrndx
	total := uint32(ehsize + phsize + len(code))
	binary.Write(&b, le, uint32(1))    // p_type PT_LOAD
	binary.Write(&b, le, uint32(0))    // p_offset
	binary.Write(&b, le, uint32(base)) // p_vaddr
	binary.Write(&b, le, uint32(base)) // p_paddr
	binary.Write(&b, le, total)        // p_filesz
	binary.Write(&b, le, total)        // p_memsz
	binary.Write(&b, le, uint32(5))    // p_flags R+X
	binary.Write(&b, le, uint32(0x1000))
	b.Write(code)
	return b.Bytes()
}

// elf64 is a minimal 64-bit little-endian ET_EXEC for another machine: one
// PT_LOAD of itself and a few bytes that are never run.
func elf64(machine uint16) []byte {
	const base = 0x400000
	const ehsize, phsize = 64, 56
	code := make([]byte, 16)
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2 /* ELFCLASS64 */, 1, 1, 0})
	b.Write(make([]byte, 8))
	binary.Write(&b, le, uint16(2)) // ET_EXEC
	binary.Write(&b, le, machine)
	binary.Write(&b, le, uint32(1))
	binary.Write(&b, le, uint64(base+ehsize+phsize)) // e_entry
	binary.Write(&b, le, uint64(ehsize))             // e_phoff
	binary.Write(&b, le, uint64(0))                  // e_shoff
	binary.Write(&b, le, uint32(0))                  // e_flags
	binary.Write(&b, le, uint16(ehsize))
	binary.Write(&b, le, uint16(phsize))
	binary.Write(&b, le, uint16(1))
	binary.Write(&b, le, uint16(0))
	binary.Write(&b, le, uint16(0))
	binary.Write(&b, le, uint16(0))
	total := uint64(ehsize + phsize + len(code))
	binary.Write(&b, le, uint32(1)) // PT_LOAD
	binary.Write(&b, le, uint32(5)) // R+X
	binary.Write(&b, le, uint64(0)) // p_offset
	binary.Write(&b, le, uint64(base))
	binary.Write(&b, le, uint64(base))
	binary.Write(&b, le, total)
	binary.Write(&b, le, total)
	binary.Write(&b, le, uint64(0x1000))
	b.Write(code)
	return b.Bytes()
}

// TestCraftedELFs checks the hand-made executables themselves (no runtime
// needed): they parse as what the tests above claim they are.
func TestCraftedELFs(t *testing.T) {
	for _, c := range []struct {
		name    string
		data    []byte
		class   elf.Class
		machine elf.Machine
	}{
		{"elf32", elf32(), elf.ELFCLASS32, elf.EM_386},
		{"aarch64", elf64(183), elf.ELFCLASS64, elf.EM_AARCH64},
	} {
		f, err := elf.NewFile(bytes.NewReader(c.data))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if f.Class != c.class || f.Machine != c.machine || f.Type != elf.ET_EXEC || len(f.Progs) != 1 ||
			f.Progs[0].Type != elf.PT_LOAD || f.Progs[0].Filesz != uint64(len(c.data)) ||
			f.Entry < f.Progs[0].Vaddr || f.Entry >= f.Progs[0].Vaddr+f.Progs[0].Filesz {
			t.Errorf("%s: parsed as class %v machine %v type %v with %d program headers", c.name, f.Class, f.Machine, f.Type, len(f.Progs))
		}
	}
}

// TestVersion: --version prints what runc --version prints: the version,
// the commit and the runtime-spec version.
func TestVersion(t *testing.T) {
	t.Parallel()
	rt := suite.Runtime(t)
	r := harness.Run(harness.Cmd{Args: []string{rt.Bin, "--version"}})
	harness.CheckExit(t, "--version", r, 0)
	want := regexp.MustCompile(`^runsc-exo version \S+\ncommit: \S+\nspec: 1\.\d+\.\d+\n$`)
	if !want.Match(r.Stdout) {
		t.Errorf("--version printed %q, want runc's three lines", r.Stdout)
	}
}
