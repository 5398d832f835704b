// Package loader builds a new process image: it loads an x86-64 ELF
// executable (ET_EXEC or ET_DYN, with its PT_INTERP dynamic linker if it
// names one) into a memory manager and lays out the initial stack with argv,
// envp and the auxiliary vector, as Linux's binfmt_elf does.
package loader

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/arch"
	"exokernelul.dev/exo/libos/mm"
)

// ErrNoExec wraps every reason a file cannot be executed; its errno is
// ENOEXEC.
type ErrNoExec struct{ Reason string }

func (e *ErrNoExec) Error() string { return "exec format error: " + e.Reason }

// Unwrap lets errors.Is(err, unix.ENOEXEC) and errno extraction work.
func (e *ErrNoExec) Unwrap() error { return unix.ENOEXEC }

// Opener opens a file by absolute path inside the sandbox, for PT_INTERP;
// the loader calls done when it has read what it needs.
type Opener func(path string) (r io.ReaderAt, done func(), err error)

// Args is what execve supplies beyond the file.
type Args struct {
	Filename string // AT_EXECFN: the path as the caller gave it
	Argv     []string
	Envv     []string
	Creds    [4]uint32 // uid, euid, gid, egid for the auxv
	HostAux  HostAux
	Random   [16]byte // AT_RANDOM bytes
	// VDSO, if set, is mapped into the new image and announced as
	// AT_SYSINFO_EHDR.
	VDSO *VDSO
}

// HostAux carries auxv values that describe the CPU, taken from the host.
type HostAux struct {
	HWCap, HWCap2, MinSigStkSz uint64
}

// Image is the loaded program: where to start it and where its heap
// begins, and where the vDSO image is (0 without one).
type Image struct {
	Entry    uint64
	Stack    uint64
	BrkStart uint64
	VDSO     uint64
}

const (
	// dynBase is where a position-independent executable is placed, as
	// Linux does with ASLR off (2/3 of the address space).
	dynBase = 0x5555_5555_4000
	// stackSize is the initial stack mapping; it does not grow.
	stackSize = 8 << 20
	// maxArgBytes bounds argv+envp strings, like Linux's ARG_MAX of a
	// quarter of an 8 MiB stack rlimit.
	maxArgBytes = stackSize / 4
)

type loaded struct {
	base, entry, phdr uint64
	phnum             int
	end               uint64
	interp            string
}

// Load loads the executable read by f into m, which must be empty, and
// builds the initial stack.
func Load(m *mm.MemoryManager, f io.ReaderAt, open Opener, a Args) (Image, error) {
	exe, err := loadELF(m, f, true)
	if err != nil {
		return Image{}, err
	}
	entry, interpBase := exe.entry, uint64(0)
	if exe.interp != "" {
		ir, done, err := open(exe.interp)
		if err != nil {
			return Image{}, fmt.Errorf("open interpreter %q: %w", exe.interp, err)
		}
		in, err := loadELF(m, ir, false)
		done()
		if err != nil {
			return Image{}, fmt.Errorf("load interpreter %q: %w", exe.interp, err)
		}
		if in.interp != "" {
			return Image{}, &ErrNoExec{Reason: fmt.Sprintf("interpreter %q has an interpreter itself", exe.interp)}
		}
		entry, interpBase = in.entry, in.base
	}
	if _, err := m.Map(mm.MapOpts{Addr: mm.StackTop - stackSize, Length: stackSize, Prot: mm.ProtRead | mm.ProtWrite, Fixed: true}); err != nil {
		return Image{}, fmt.Errorf("map stack: %w", err)
	}
	var vdso uint64
	if a.VDSO != nil {
		if vdso, err = a.VDSO.Map(m); err != nil {
			return Image{}, err
		}
	}
	sp, err := buildStack(m, exe, interpBase, vdso, a)
	if err != nil {
		return Image{}, err
	}
	m.SetBrkStart(exe.end)
	return Image{Entry: entry, Stack: sp, BrkStart: exe.end, VDSO: vdso}, nil
}

func loadELF(m *mm.MemoryManager, r io.ReaderAt, main bool) (loaded, error) {
	var ident [16]byte
	if _, err := r.ReadAt(ident[:], 0); err != nil || !bytes.Equal(ident[:4], []byte(elf.ELFMAG)) {
		return loaded{}, &ErrNoExec{Reason: "not an ELF file"}
	}
	if elf.Class(ident[elf.EI_CLASS]) != elf.ELFCLASS64 {
		return loaded{}, &ErrNoExec{Reason: "32-bit (ELFCLASS32) programs are not supported, only x86-64"}
	}
	ef, err := elf.NewFile(r)
	if err != nil {
		return loaded{}, &ErrNoExec{Reason: "malformed ELF: " + err.Error()}
	}
	if ef.Machine != elf.EM_X86_64 {
		return loaded{}, &ErrNoExec{Reason: fmt.Sprintf("ELF machine %v is not x86-64", ef.Machine)}
	}
	if ef.Type != elf.ET_EXEC && ef.Type != elf.ET_DYN {
		return loaded{}, &ErrNoExec{Reason: fmt.Sprintf("ELF type %v is not executable", ef.Type)}
	}
	var l loaded
	lo, hi := ^uint64(0), uint64(0)
	var loads []*elf.Prog
	for _, p := range ef.Progs {
		switch p.Type {
		case elf.PT_LOAD:
			if p.Memsz == 0 {
				continue
			}
			if p.Filesz > p.Memsz || p.Vaddr+p.Memsz < p.Vaddr {
				return loaded{}, &ErrNoExec{Reason: "PT_LOAD segment with bad sizes"}
			}
			loads = append(loads, p)
			lo = min(lo, arch.PageRoundDown(p.Vaddr))
			hi = max(hi, p.Vaddr+p.Memsz)
		case elf.PT_INTERP:
			if !main {
				continue
			}
			b := make([]byte, p.Filesz)
			if _, err := r.ReadAt(b, int64(p.Off)); err != nil || p.Filesz == 0 || p.Filesz > unix.PathMax {
				return loaded{}, &ErrNoExec{Reason: "unreadable PT_INTERP"}
			}
			l.interp = string(bytes.TrimRight(b, "\x00"))
		}
	}
	if len(loads) == 0 {
		return loaded{}, &ErrNoExec{Reason: "no loadable segments"}
	}
	hiPage, ok := arch.PageRoundUp(hi)
	if !ok {
		return loaded{}, &ErrNoExec{Reason: "segments overflow the address space"}
	}
	span := hiPage - lo
	// A file whose pages can be shared is mapped like mmap does, so every
	// process running it shares the page cache copy-on-write; otherwise
	// its segments are copied into fresh memory.
	file, release := mappableImage(r, loads)
	if release != nil {
		defer release()
	}
	spanProt := mm.ProtRead | mm.ProtWrite
	if file != nil {
		spanProt = 0 // a reservation: the segments are mapped over it
	}
	switch {
	case ef.Type == elf.ET_EXEC:
		l.base = 0
		if _, err := m.Map(mm.MapOpts{Addr: lo, Length: span, Prot: spanProt, Fixed: true}); err != nil {
			return loaded{}, fmt.Errorf("map image at %#x: %w", lo, err)
		}
	default:
		hint := uint64(0)
		if main {
			hint = dynBase
		}
		addr, err := m.Map(mm.MapOpts{Addr: hint, Length: span, Prot: spanProt})
		if err != nil {
			return loaded{}, fmt.Errorf("map position-independent image: %w", err)
		}
		l.base = addr - lo
	}
	for _, p := range loads {
		if file != nil && p.Flags&elf.PF_W == 0 {
			if err := mapSegment(m, file, l.base, p); err != nil {
				return loaded{}, err
			}
			continue
		}
		if file != nil {
			// A writable segment (data, bss) is copied: its pages would
			// each take a copy-on-write fault, and a trap costs far more
			// than the copy. Nobody sees the difference, since a running
			// executable cannot be written (ETXTBSY).
			if err := copySegment(m, r, l.base, p); err != nil {
				return loaded{}, err
			}
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := r.ReadAt(data, int64(p.Off)); err != nil && !errors.Is(err, io.EOF) {
			return loaded{}, fmt.Errorf("read segment at offset %#x: %w", p.Off, err)
		}
		if err := m.WriteImage(l.base+p.Vaddr, data); err != nil {
			return loaded{}, fmt.Errorf("write segment at %#x: %w", l.base+p.Vaddr, err)
		}
	}
	// Give every page the union of the access of the segments on it, and
	// take away the holes between segments.
	prev := lo
	for _, p := range loads {
		start := arch.PageRoundDown(p.Vaddr)
		end, _ := arch.PageRoundUp(p.Vaddr + p.Memsz)
		if start > prev {
			if err := m.Unmap(l.base+prev, start-prev); err != nil {
				return loaded{}, err
			}
		}
		if err := m.Protect(l.base+start, end-start, progProt(p.Flags)); err != nil {
			return loaded{}, fmt.Errorf("protect segment at %#x: %w", l.base+start, err)
		}
		if n, ok := r.(mm.MapNamer); ok {
			// For /proc/PID/maps: the segment's pages come from the file.
			name, dev, ino := n.MapName()
			m.Name(l.base+start, end-start, name, dev, ino, p.Off-(p.Vaddr-start))
		}
		prev = max(prev, end)
	}
	l.entry = l.base + ef.Entry
	l.end = l.base + hi
	l.phnum = len(ef.Progs)
	// AT_PHDR is where the program headers sit in memory: PT_PHDR says so
	// directly; otherwise they are in the segment that maps file offset
	// e_phoff.
	phoff := phoffOf(r)
	for _, p := range ef.Progs {
		if p.Type == elf.PT_PHDR {
			l.phdr = l.base + p.Vaddr
		}
	}
	if l.phdr == 0 {
		for _, p := range loads {
			if phoff >= p.Off && phoff < p.Off+p.Filesz {
				l.phdr = l.base + p.Vaddr + (phoff - p.Off)
			}
		}
	}
	return l, nil
}

// mappableImage returns r's pages for mapping, if r can share them and
// every segment sits at the same offset within a page in the file as in
// memory (as linkers lay them out, and mmap requires).
func mappableImage(r io.ReaderAt, loads []*elf.Prog) (mm.Mappable, func()) {
	mf, ok := r.(mm.MappableFile)
	if !ok {
		return nil, nil
	}
	for _, p := range loads {
		if p.Off%arch.PageSize != p.Vaddr%arch.PageSize {
			return nil, nil
		}
	}
	file, done, err := mf.Mappable()
	if err != nil || file == nil {
		return nil, nil
	}
	return file, done
}

// mapSegment maps segment p of file at base as binfmt_elf does: the
// file's pages privately, the rest of the last file page zeroed when the
// segment has bss, and anonymous memory for the bss beyond it. Access is
// set afterwards for all segments.
func mapSegment(m *mm.MemoryManager, file mm.Mappable, base uint64, p *elf.Prog) error {
	start := arch.PageRoundDown(p.Vaddr)
	fileEnd := p.Vaddr + p.Filesz
	mapEnd := start
	if p.Filesz > 0 {
		mapEnd, _ = arch.PageRoundUp(fileEnd)
		if _, err := m.Map(mm.MapOpts{Addr: base + start, Length: mapEnd - start, Prot: mm.ProtRead | mm.ProtWrite,
			Fixed: true, Mappable: file, Offset: p.Off - (p.Vaddr - start)}); err != nil {
			return fmt.Errorf("map segment at %#x: %w", base+start, err)
		}
		if p.Memsz > p.Filesz && fileEnd < mapEnd {
			if err := m.WriteImage(base+fileEnd, make([]byte, mapEnd-fileEnd)); err != nil {
				return fmt.Errorf("clear bss at %#x: %w", base+fileEnd, err)
			}
		}
	}
	if bssEnd, _ := arch.PageRoundUp(p.Vaddr + p.Memsz); bssEnd > mapEnd {
		if _, err := m.Map(mm.MapOpts{Addr: base + mapEnd, Length: bssEnd - mapEnd, Prot: mm.ProtRead | mm.ProtWrite, Fixed: true}); err != nil {
			return fmt.Errorf("map bss at %#x: %w", base+mapEnd, err)
		}
	}
	return nil
}

// copySegment fills segment p with a copy of its file bytes in fresh
// anonymous memory over the image's reservation.
func copySegment(m *mm.MemoryManager, r io.ReaderAt, base uint64, p *elf.Prog) error {
	start := arch.PageRoundDown(p.Vaddr)
	end, _ := arch.PageRoundUp(p.Vaddr + p.Memsz)
	if _, err := m.Map(mm.MapOpts{Addr: base + start, Length: end - start, Prot: mm.ProtRead | mm.ProtWrite, Fixed: true}); err != nil {
		return fmt.Errorf("map segment at %#x: %w", base+start, err)
	}
	// The page it starts in may hold the end of the previous segment.
	head := make([]byte, p.Vaddr-start)
	if _, err := r.ReadAt(head, int64(p.Off-(p.Vaddr-start))); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read segment at offset %#x: %w", p.Off, err)
	}
	data := make([]byte, p.Filesz)
	if _, err := r.ReadAt(data, int64(p.Off)); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read segment at offset %#x: %w", p.Off, err)
	}
	if err := m.WriteImage(base+start, append(head, data...)); err != nil {
		return fmt.Errorf("write segment at %#x: %w", base+p.Vaddr, err)
	}
	return nil
}

func phoffOf(r io.ReaderAt) uint64 {
	var b [8]byte
	r.ReadAt(b[:], 32)
	return binary.LittleEndian.Uint64(b[:])
}

func progProt(f elf.ProgFlag) mm.Prot {
	var p mm.Prot
	if f&elf.PF_R != 0 {
		p |= mm.ProtRead
	}
	if f&elf.PF_W != 0 {
		p |= mm.ProtWrite
	}
	if f&elf.PF_X != 0 {
		p |= mm.ProtExec
	}
	return p
}
