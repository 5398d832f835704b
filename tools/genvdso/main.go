// Command genvdso builds the library OS's vDSO from libos/loader/vdso
// (vdso.c and its linker script vdso.lds) with gcc, checks that the result
// is an image loaders can use as it lies (see checkImage), and writes it as
// a Go string constant to libos/loader/vdso_image.go, so the runtime itself
// builds without cgo or a C compiler.
//
// Run it from libos/loader through `go generate`, or directly from the
// repository root:
//
//	go run ./tools/genvdso -src libos/loader/vdso -out libos/loader/vdso_image.go
//
// The compiler and linker versions are recorded in the output: another
// version of either produces other bytes, which is why the test that
// rebuilds the image only compares bytes when they match.
package main

import (
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// cflags are the compiler and linker options. The image must be position
// independent, free of relocations and of anything writable, use no vector
// registers (callers such as the Go runtime do not expect them clobbered)
// and carry CET markings so shadow-stack processes may call it.
var cflags = []string{
	"-std=gnu11", "-O2", "-fPIC", "-shared", "-nostdlib", "-ffreestanding",
	"-fno-stack-protector", "-fno-common", "-mgeneral-regs-only",
	"-fcf-protection=full", "-fasynchronous-unwind-tables",
	"-Wall", "-Wextra", "-Werror",
	"-Wl,-Bsymbolic", "-Wl,--hash-style=both", "-Wl,--eh-frame-hdr",
	"-Wl,-soname=linux-vdso.so.1", "-Wl,--build-id=sha1",
	"-Wl,--no-undefined", "-Wl,-z,noexecstack", "-Wl,--strip-all",
}

// exported are the symbols the image must define, each at version
// LINUX_2.6 as Linux's x86-64 vDSO does.
var exported = []string{
	"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_clock_getres", "__vdso_getcpu",
	"clock_gettime", "gettimeofday", "time", "clock_getres", "getcpu",
}

// dtRELR is DT_RELR, packed relative relocations, which debug/elf does not
// name.
const dtRELR elf.DynTag = 36

// maxImage bounds the image: the loader maps it right above one data page.
const maxImage = 4 * 4096

func main() {
	src := flag.String("src", "vdso", "directory holding vdso.c and vdso.lds")
	out := flag.String("out", "vdso_image.go", "Go file to write")
	cc := flag.String("cc", "gcc", "C compiler")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("genvdso: ")
	img, err := build(*cc, *src)
	if err != nil {
		log.Fatal(err)
	}
	if err := checkImage(img); err != nil {
		log.Fatalf("the built image is not usable as a vDSO: %v", err)
	}
	ccVer, ldVer, err := versions(*cc)
	if err != nil {
		log.Fatal(err)
	}
	code, err := render(img, ccVer, ldVer)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, code, 0o644); err != nil {
		log.Fatal(err)
	}
}

// build compiles and links the image in a temporary directory.
func build(cc, src string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "genvdso")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	so := filepath.Join(dir, "vdso.so")
	args := slices.Concat(cflags, []string{
		"-Wl,-T," + filepath.Join(src, "vdso.lds"),
		"-o", so, filepath.Join(src, "vdso.c"),
	})
	cmd := exec.Command(cc, args...)
	// A fixed environment: the locale must not change diagnostics and no
	// GCC_* variable may change the build.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "SOURCE_DATE_EPOCH=0"}
	if o, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, o)
	}
	return os.ReadFile(so)
}

// versions reports the first line of the compiler's and the linker's
// --version output.
func versions(cc string) (string, string, error) {
	first := func(name string, args ...string) (string, error) {
		o, err := exec.Command(name, args...).Output()
		if err != nil {
			return "", fmt.Errorf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		line, _, _ := strings.Cut(string(o), "\n")
		return strings.TrimSpace(line), nil
	}
	ccVer, err := first(cc, "--version")
	if err != nil {
		return "", "", err
	}
	ld, err := first(cc, "-print-prog-name=ld")
	if err != nil {
		return "", "", err
	}
	ldVer, err := first(ld, "--version")
	if err != nil {
		return "", "", err
	}
	return ccVer, ldVer, nil
}

// checkImage verifies what glibc's, musl's and the Go runtime's vDSO
// readers assume: an x86-64 ET_DYN whose only PT_LOAD starts at offset 0
// and address 0 (so file offsets are addresses) and is not writable, a
// read-only PT_DYNAMIC (glibc adjusts a writable one in place), both hash
// tables, symbol versions, no relocations, dependencies or TLS, and every
// exported symbol defined at version LINUX_2.6.
func checkImage(img []byte) error {
	if len(img) > maxImage {
		return fmt.Errorf("image is %d bytes, more than %d", len(img), maxImage)
	}
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		return err
	}
	if f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64 || f.Type != elf.ET_DYN {
		return fmt.Errorf("not an x86-64 ET_DYN: %v %v %v", f.Class, f.Machine, f.Type)
	}
	var loads, dyns int
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			loads++
			if p.Off != 0 || p.Vaddr != 0 || p.Filesz != p.Memsz || p.Flags&elf.PF_W != 0 {
				return fmt.Errorf("PT_LOAD at offset %#x address %#x sizes %#x/%#x flags %v: want one read-only segment from 0", p.Off, p.Vaddr, p.Filesz, p.Memsz, p.Flags)
			}
		case elf.PT_DYNAMIC:
			dyns++
			if p.Flags&elf.PF_W != 0 {
				return errors.New("PT_DYNAMIC is writable")
			}
		case elf.PT_TLS, elf.PT_INTERP:
			return fmt.Errorf("unexpected %v", p.Type)
		}
	}
	if loads != 1 || dyns != 1 {
		return fmt.Errorf("%d PT_LOAD and %d PT_DYNAMIC, want one each", loads, dyns)
	}
	for _, tag := range []elf.DynTag{elf.DT_HASH, elf.DT_GNU_HASH, elf.DT_SYMTAB, elf.DT_STRTAB, elf.DT_VERSYM, elf.DT_VERDEF, elf.DT_SONAME} {
		if v, err := f.DynValue(tag); err != nil || len(v) == 0 {
			return fmt.Errorf("no %v", tag)
		}
	}
	for _, tag := range []elf.DynTag{elf.DT_NEEDED, elf.DT_RELA, elf.DT_REL, elf.DT_JMPREL, elf.DT_TEXTREL, dtRELR, elf.DT_INIT, elf.DT_FINI, elf.DT_INIT_ARRAY, elf.DT_FINI_ARRAY} {
		if v, _ := f.DynValue(tag); len(v) != 0 {
			return fmt.Errorf("has %v", tag)
		}
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		return err
	}
	for _, name := range exported {
		i := slices.IndexFunc(syms, func(s elf.Symbol) bool { return s.Name == name })
		if i < 0 {
			return fmt.Errorf("%s is not exported", name)
		}
		s := syms[i]
		if s.Section == elf.SHN_UNDEF || elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Version != "LINUX_2.6" {
			return fmt.Errorf("%s: section %v type %v version %q, want a function at LINUX_2.6", name, s.Section, elf.ST_TYPE(s.Info), s.Version)
		}
	}
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF {
			return fmt.Errorf("undefined symbol %s", s.Name)
		}
	}
	return nil
}

// render writes the Go file holding the image.
func render(img []byte, ccVer, ldVer string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by tools/genvdso from vdso/vdso.c and vdso/vdso.lds; DO NOT EDIT.\n\n")
	b.WriteString("package loader\n\n")
	fmt.Fprintf(&b, "// vdsoCompiler and vdsoLinker built vdsoImage; another version of either\n// produces other bytes.\nconst (\n\tvdsoCompiler = %q\n\tvdsoLinker = %q\n)\n\n", ccVer, ldVer)
	fmt.Fprintf(&b, "// vdsoFlags are the options vdsoImage was built with.\nconst vdsoFlags = %q\n\n", strings.Join(cflags, " "))
	fmt.Fprintf(&b, "// vdsoImage is the vDSO's ELF image, %d bytes, SHA-256 %x.\nconst vdsoImage = \"\" +\n", len(img), sha256.Sum256(img))
	for i := 0; i < len(img); i += 32 {
		chunk := img[i:min(i+32, len(img))]
		b.WriteString("\t\"")
		for _, c := range chunk {
			fmt.Fprintf(&b, "\\x%02x", c)
		}
		b.WriteString("\"")
		if i+32 < len(img) {
			b.WriteString(" +")
		}
		b.WriteString("\n")
	}
	return format.Source(b.Bytes())
}
