package oci

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// linux.seccomp: the profile is compiled here to a classic BPF program,
// as runc has libseccomp compile it, and the sandbox's library OS runs
// that program on every syscall of the container's processes, with the
// same checks and actions as a filter a workload attaches itself.
//
// The program is a straight list, in the profile's order: for each name of
// each rule, "is it this syscall, and do its argument conditions hold?",
// then the rule's action; the first rule that matches decides, and the
// default action ends the list. A syscall of another architecture than
// x86-64 (the only one the sandbox runs) gets the default action too, as
// do the x32 numbers (bit 30 set).

// SyscallNumber resolves an x86-64 syscall name. The runtime sets it to the
// library OS's table (oci may not import the sentry); names it does not
// know are skipped, as runc skips the names libseccomp does not know.
var SyscallNumber func(name string) (nr uintptr, ok bool)

// SockFilter is one classic BPF instruction (struct sock_filter).
type SockFilter struct {
	Code   uint16
	JT, JF uint8
	K      uint32
}

// Classic BPF opcodes the compiler emits, and struct seccomp_data's
// layout (linux/filter.h, linux/seccomp.h).
const (
	bpfLdW   = 0x00 | 0x00 | 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfAndK  = 0x04 | 0x50        // BPF_ALU | BPF_AND | BPF_K
	bpfJeqK  = 0x05 | 0x10        // BPF_JMP | BPF_JEQ | BPF_K
	bpfJgtK  = 0x05 | 0x20        // BPF_JMP | BPF_JGT | BPF_K
	bpfJgeK  = 0x05 | 0x30        // BPF_JMP | BPF_JGE | BPF_K
	bpfRetK  = 0x06               // BPF_RET | BPF_K
	offNr    = 0
	offArch  = 4
	offArg0  = 16
	archX64  = 0xc000003e // AUDIT_ARCH_X86_64
	x32Bit   = 0x40000000 // __X32_SYSCALL_BIT
	maxInsns = 4096       // BPF_MAXINSNS

	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	eperm          = 1
)

// seccompAction is the filter return value of an SCMP_ACT_* action;
// errnoRet is the errno of ERRNO and TRACE (nil: EPERM), which no other
// action takes.
func seccompAction(field string, a specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	if errnoRet != nil && a != specs.ActErrno && a != specs.ActTrace {
		return 0, fieldError(field, "%s takes no errno", a)
	}
	errno := func() uint32 {
		if errnoRet != nil {
			return uint32(*errnoRet)
		}
		return eperm
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActErrno:
		e := errno()
		if e > 0xffff {
			return 0, fieldError(field, "errno %d does not fit a seccomp return value", e)
		}
		return retErrno | e, nil
	case specs.ActTrace:
		e := errno()
		if e > 0xffff {
			return 0, fieldError(field, "trace value %d does not fit a seccomp return value", e)
		}
		return retTrace | e, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActNotify:
		return 0, fieldError(field, "%s needs a seccomp agent (listenerPath), which runsc-exo does not support", a)
	}
	return 0, fieldError(field, "unknown action %q", a)
}

// compileSeccomp turns the profile into a BPF program; every error names
// the field.
func compileSeccomp(s *specs.LinuxSeccomp) ([]SockFilter, error) {
	if s.DefaultAction == "" {
		return nil, fieldError("linux.seccomp.defaultAction", "must be set")
	}
	if s.ListenerPath != "" {
		return nil, fieldError("linux.seccomp.listenerPath", "seccomp agents are not supported")
	}
	for i, f := range s.Flags {
		switch f {
		case specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow, "SECCOMP_FILTER_FLAG_TSYNC":
		default:
			return nil, fieldError(fmt.Sprintf("linux.seccomp.flags[%d]", i), "unknown flag %q", f)
		}
	}
	for i, a := range s.Architectures {
		switch a {
		case specs.ArchX86_64, specs.ArchX86, specs.ArchX32, specs.ArchAARCH64, specs.ArchARM,
			specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64,
			specs.ArchMIPSEL64N32, specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390,
			specs.ArchS390X, specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64:
		default:
			return nil, fieldError(fmt.Sprintf("linux.seccomp.architectures[%d]", i), "unknown architecture %q", a)
		}
	}
	def, err := seccompAction("linux.seccomp.defaultAction", s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	if SyscallNumber == nil {
		return nil, fieldError("linux.seccomp", "no syscall table to resolve names with")
	}
	// Not x86-64, or an x32 number: the default action.
	prog := []SockFilter{
		{Code: bpfLdW, K: offArch},
		{Code: bpfJeqK, JT: 1, K: archX64},
		{Code: bpfRetK, K: def},
		{Code: bpfLdW, K: offNr},
		{Code: bpfJgeK, JT: 0, JF: 1, K: x32Bit},
		{Code: bpfRetK, K: def},
	}
	for i, sc := range s.Syscalls {
		field := fmt.Sprintf("linux.seccomp.syscalls[%d]", i)
		if len(sc.Names) == 0 {
			return nil, fieldError(field+".names", "must not be empty")
		}
		act, err := seccompAction(field+".action", sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, err
		}
		conds, err := argConditions(field, sc.Args)
		if err != nil {
			return nil, err
		}
		for _, name := range sc.Names {
			nr, ok := SyscallNumber(name)
			if !ok {
				continue
			}
			block := ruleBlock(uint32(nr), conds, act)
			if len(block) > 255 {
				return nil, fieldError(field+".args", "too many conditions")
			}
			prog = append(prog, block...)
		}
	}
	prog = append(prog, SockFilter{Code: bpfRetK, K: def})
	if len(prog) > maxInsns {
		return nil, fieldError("linux.seccomp.syscalls", "compiles to %d BPF instructions, more than the kernel's %d", len(prog), maxInsns)
	}
	return prog, nil
}

// argCond is one argument condition, its 64-bit operands split in words.
type argCond struct {
	index uint
	op    specs.LinuxSeccompOperator
	value uint64
	two   uint64
}

func argConditions(field string, args []specs.LinuxSeccompArg) ([]argCond, error) {
	var out []argCond
	for j, a := range args {
		f := fmt.Sprintf("%s.args[%d]", field, j)
		if a.Index > 5 {
			return nil, fieldError(f+".index", "%d: a syscall has 6 arguments", a.Index)
		}
		switch a.Op {
		case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
			specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
		default:
			return nil, fieldError(f+".op", "unknown operator %q", a.Op)
		}
		out = append(out, argCond{index: a.Index, op: a.Op, value: a.Value, two: a.ValueTwo})
	}
	return out, nil
}

// ruleBlock is "if nr is this syscall and every condition holds, return
// act", falling through to the next block otherwise. The accumulator is
// reloaded with nr first, since conditions load arguments into it. Each
// 64-bit comparison looks at the argument's high word, then its low word.
func ruleBlock(nr uint32, conds []argCond, act uint32) []SockFilter {
	// Jump targets are symbolic while the block is built: "" the next
	// instruction, "fail" the block's end, "pN" the end of condition N.
	type insn struct {
		f      SockFilter
		jt, jf string
	}
	var b []insn
	labels := map[string]int{}
	ld := func(off uint32) { b = append(b, insn{f: SockFilter{Code: bpfLdW, K: off}}) }
	jmp := func(code uint16, k uint32, jt, jf string) { b = append(b, insn{SockFilter{Code: code, K: k}, jt, jf}) }
	ld(offNr)
	jmp(bpfJeqK, nr, "", "fail")
	for n, c := range conds {
		pass := fmt.Sprintf("p%d", n)
		hi, lo := uint32(offArg0+8*c.index+4), uint32(offArg0+8*c.index)
		vhi, vlo := uint32(c.value>>32), uint32(c.value)
		switch c.op {
		case specs.OpEqualTo:
			ld(hi)
			jmp(bpfJeqK, vhi, "", "fail")
			ld(lo)
			jmp(bpfJeqK, vlo, "", "fail")
		case specs.OpNotEqual:
			ld(hi)
			jmp(bpfJeqK, vhi, "", pass)
			ld(lo)
			jmp(bpfJeqK, vlo, "fail", "")
		case specs.OpMaskedEqual:
			// value is the mask, valueTwo what the masked argument must be.
			ld(hi)
			b = append(b, insn{f: SockFilter{Code: bpfAndK, K: vhi}})
			jmp(bpfJeqK, uint32(c.two>>32), "", "fail")
			ld(lo)
			b = append(b, insn{f: SockFilter{Code: bpfAndK, K: vlo}})
			jmp(bpfJeqK, uint32(c.two), "", "fail")
		case specs.OpGreaterThan, specs.OpGreaterEqual:
			ld(hi)
			jmp(bpfJgtK, vhi, pass, "")
			jmp(bpfJeqK, vhi, "", "fail")
			ld(lo)
			if c.op == specs.OpGreaterThan {
				jmp(bpfJgtK, vlo, "", "fail")
			} else {
				jmp(bpfJgeK, vlo, "", "fail")
			}
		case specs.OpLessThan, specs.OpLessEqual:
			ld(hi)
			jmp(bpfJgeK, vhi, "", pass)
			jmp(bpfJeqK, vhi, "", "fail")
			ld(lo)
			if c.op == specs.OpLessThan {
				jmp(bpfJgeK, vlo, "fail", "")
			} else {
				jmp(bpfJgtK, vlo, "fail", "")
			}
		}
		labels[pass] = len(b)
	}
	b = append(b, insn{f: SockFilter{Code: bpfRetK, K: act}})
	labels["fail"] = len(b)
	out := make([]SockFilter, len(b))
	for i, in := range b {
		off := func(l string) uint8 {
			if l == "" {
				return 0
			}
			return uint8(labels[l] - i - 1)
		}
		out[i] = in.f
		if in.jt != "" || in.jf != "" {
			out[i].JT, out[i].JF = off(in.jt), off(in.jf)
		}
	}
	return out
}
