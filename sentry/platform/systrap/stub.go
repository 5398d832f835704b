package systrap

import (
	"fmt"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/sentry/platform/internal/hoststub"
)

//go:generate go run ./genstub

// Address-space layout of a stub process, above everything the library OS
// gives the workload (mm.MaxUserAddress). stub/stub.c hard-codes the same
// values; TestStubLayout compares them.
const (
	stubBase = 0x7ff0_0000_0000
	// stubCodeOff is where the generated code starts in the image: the
	// first page holds the ELF headers.
	stubCodeOff  = 0x1000
	stubCodeBase = stubBase + stubCodeOff
	// The control file: page 0 (config), the table of each slot's
	// stack_t (both read-only in the stub), the batch results, then one
	// slot per stub thread.
	ctlBase      = 0x7ff0_1000_0000
	altStacksOff = 0x1000
	resultsOff   = 0x7000
	pageSize     = 0x1000
	slotSize     = 0x1_0000
	nSlots       = 1024
	ctlSize      = slotSize * (nSlots + 1)
	reqMax       = 32
	// Offsets in page 0 where the sentry writes the two BPF programs.
	processFilterOff = 0x800
	threadFilterOff  = 0xc00
	maxFilterLen     = 0x400 / 8
	// File descriptors inside every stub.
	stubMemFD  = 0
	stubCtlFD  = 1
	stubDoneFD = 2
)

// Thread states in a slot's message (stub.c's STATE_*).
const (
	stateDead     = 0
	stateTrapped  = 1
	stateRun      = 2
	stateExit     = 3
	stateStarting = 4
)

func stubEnd() uint64 { return stubCodeBase + uint64(len(stubCode)) }

// stubImage builds the stub ELF: one read+execute PT_LOAD that maps the
// file at stubBase, headers in the first page and the code after it.
func stubImage() []byte {
	return hoststub.Image(stubBase, stubCodeBase+symStart, stubCodeOff, stubCode)
}

// Classic BPF and seccomp constants (linux/filter.h, linux/seccomp.h).
const (
	bpfLdAbsW = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	bpfJeqK   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	bpfJgeK   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	bpfRetK   = unix.BPF_RET | unix.BPF_K

	retKillProcess = 0x8000_0000
	retTrap        = 0x0003_0000
	retAllow       = 0x7fff_0000

	auditArchX86_64 = 0xc000_003e

	offNr     = 0
	offArch   = 4
	offIPLow  = 8
	offIPHigh = 12
	offArg0   = 16
)

// bpfProg assembles a seccomp program with forward jumps to labels.
type bpfProg struct {
	insns  []unix.SockFilter
	fixups []bpfFixup
	labels map[string]int
}

type bpfFixup struct {
	at     int
	jt, jf string
}

func newBPF() *bpfProg { return &bpfProg{labels: map[string]int{}} }

func (p *bpfProg) ld(off uint32)  { p.insns = append(p.insns, unix.SockFilter{Code: bpfLdAbsW, K: off}) }
func (p *bpfProg) ret(v uint32)   { p.insns = append(p.insns, unix.SockFilter{Code: bpfRetK, K: v}) }
func (p *bpfProg) label(l string) { p.labels[l] = len(p.insns) }

// jmp adds a conditional jump; an empty label means the next instruction.
func (p *bpfProg) jmp(code uint16, k uint32, jt, jf string) {
	p.fixups = append(p.fixups, bpfFixup{at: len(p.insns), jt: jt, jf: jf})
	p.insns = append(p.insns, unix.SockFilter{Code: code, K: k})
}

func (p *bpfProg) assemble() ([]unix.SockFilter, error) {
	for _, f := range p.fixups {
		for _, j := range []struct {
			label string
			dst   *uint8
		}{{f.jt, &p.insns[f.at].Jt}, {f.jf, &p.insns[f.at].Jf}} {
			if j.label == "" {
				continue
			}
			to, ok := p.labels[j.label]
			if !ok || to <= f.at || to-f.at-1 > 255 {
				return nil, fmt.Errorf("bpf: bad jump to %q from %d", j.label, f.at)
			}
			*j.dst = uint8(to - f.at - 1)
		}
	}
	if len(p.insns) > maxFilterLen {
		return nil, fmt.Errorf("bpf: %d instructions, room for %d", len(p.insns), maxFilterLen)
	}
	return p.insns, nil
}

// stubIPCheck jumps to notStub unless the syscall instruction lies in the
// stub's code. The workload cannot map anything at those addresses: they
// are above the library OS's user range.
func (p *bpfProg) stubIPCheck(notStub string) {
	p.ld(offIPHigh)
	p.jmp(bpfJeqK, uint32(stubCodeBase>>32), "", notStub)
	p.ld(offIPLow)
	p.jmp(bpfJgeK, uint32(stubCodeBase&0xffff_ffff), "", notStub)
	p.jmp(bpfJgeK, uint32(stubEnd()), notStub, "")
}

// processFilter is the first filter, which every thread of the stub
// inherits. Stub code may make only the calls the stub needs; anything
// else from stub code kills the stub, and syscalls from anywhere else
// trap (the thread filter decides for workload threads).
func processFilter() ([]unix.SockFilter, error) {
	p := newBPF()
	p.ld(offArch)
	p.jmp(bpfJeqK, auditArchX86_64, "", "kill")
	p.stubIPCheck("trap")
	p.ld(offNr)
	for _, nr := range []uint32{
		unix.SYS_MMAP, unix.SYS_MUNMAP, unix.SYS_MPROTECT, unix.SYS_CLONE,
		unix.SYS_FUTEX, unix.SYS_EXIT, unix.SYS_EXIT_GROUP, unix.SYS_RT_SIGRETURN,
		unix.SYS_SECCOMP, unix.SYS_SIGALTSTACK, unix.SYS_RT_SIGPROCMASK,
		unix.SYS_ARCH_PRCTL, unix.SYS_GETPID,
	} {
		p.jmp(bpfJeqK, nr, "allow", "")
	}
	p.jmp(bpfJeqK, unix.SYS_WRITE, "", "kill")
	p.ld(offArg0)
	p.jmp(bpfJeqK, stubDoneFD, "allow", "kill")
	p.label("trap")
	p.ret(retTrap)
	p.label("allow")
	p.ret(retAllow)
	p.label("kill")
	p.ret(retKillProcess)
	return p.assemble()
}

// threadFilter is stacked by every workload thread: all its syscalls trap
// into the SIGSYS handler, except the handler's own few, and only when made
// from the stub's code. None of those lets a workload thread that jumps
// into the stub's code change what the sentry relies on: its signal stack
// and signal mask are set before the filter, from read-only memory.
func threadFilter() ([]unix.SockFilter, error) {
	p := newBPF()
	p.ld(offArch)
	p.jmp(bpfJeqK, auditArchX86_64, "", "kill")
	p.stubIPCheck("trap")
	p.ld(offNr)
	for _, nr := range []uint32{unix.SYS_RT_SIGRETURN, unix.SYS_FUTEX, unix.SYS_EXIT} {
		p.jmp(bpfJeqK, nr, "allow", "")
	}
	p.jmp(bpfJeqK, unix.SYS_ARCH_PRCTL, "", "trap")
	// Only ARCH_SET_FS, for CPUs without wrfsbase.
	p.ld(offArg0)
	p.jmp(bpfJeqK, 0x1002, "", "trap")
	p.ld(offArg0 + 4)
	p.jmp(bpfJeqK, 0, "allow", "trap")
	p.label("trap")
	p.ret(retTrap)
	p.label("allow")
	p.ret(retAllow)
	p.label("kill")
	p.ret(retKillProcess)
	return p.assemble()
}
