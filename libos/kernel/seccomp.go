package kernel

import (
	"encoding/binary"
	"sync/atomic"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/bpf"

	"exokernelul.dev/exo/libos/arch"
)

// seccomp for the workload: the filters a thread attached with seccomp(2)
// or prctl(PR_SET_SECCOMP), run by the library OS on every syscall the
// thread makes, before the syscall is served, with Linux's actions. The
// host never sees them: they restrict what the workload asks of the
// library OS, which is what a program that sandboxes itself (man-db,
// OpenSSH, browsers, runc inside the container) means by them.

// Seccomp modes (SECCOMP_MODE_*), as prctl(PR_GET_SECCOMP) and
// /proc/PID/status report them.
const (
	SeccompModeDisabled = 0
	SeccompModeStrict   = 1
	SeccompModeFilter   = 2
)

// Filter return actions (SECCOMP_RET_*) and their masks.
const (
	SeccompRetKillProcess = 0x80000000
	SeccompRetKillThread  = 0x00000000
	SeccompRetTrap        = 0x00030000
	SeccompRetErrno       = 0x00050000
	SeccompRetUserNotif   = 0x7fc00000
	SeccompRetTrace       = 0x7ff00000
	SeccompRetLog         = 0x7ffc0000
	SeccompRetAllow       = 0x7fff0000

	seccompRetActionFull = 0xffff0000
	seccompRetData       = 0x0000ffff
)

// seccompDataSize is sizeof(struct seccomp_data): nr, arch, the
// instruction pointer and six arguments.
const seccompDataSize = 64

// auditArchX86_64 is AUDIT_ARCH_X86_64, seccomp_data's arch.
const auditArchX86_64 = 0xc000003e

// seccompMaxInsnsPerPath bounds the instructions of a thread's filters,
// each counted with a penalty of 4, as Linux's MAX_INSNS_PER_PATH.
const seccompMaxInsnsPerPath = 32768

// SeccompFilter is one attached filter; a thread's filters form a chain,
// newest first, shared with the threads and children that inherited it.
// Immutable once attached.
type SeccompFilter struct {
	prog  bpf.Program
	insns []bpf.Instruction // the checked program, for constVerdict
	len   int
	prev  *SeccompFilter

	// verdicts caches, per syscall number, what the filter returns when
	// its answer depends on nothing but the number (and the architecture,
	// always x86-64): verdictUnknown until first asked, verdictDynamic if
	// the program looks at arguments or the instruction pointer. Most
	// syscalls of a profile such as docker's then cost a lookup instead
	// of a walk through a thousand instructions.
	verdicts [verdictCacheSize]atomic.Uint64
}

// The verdict cache's states and bounds.
const (
	verdictCacheSize = 512
	verdictUnknown   = 0
	verdictDynamic   = 1
	verdictConst     = 1 << 32 // | the verdict
)

// seccompState is a thread's seccomp mode and filter chain. Read by the
// thread itself on every syscall and written by it or, with TSYNC, by
// another thread of its process, hence atomic.
type seccompState struct {
	mode   atomic.Int32
	filter atomic.Pointer[SeccompFilter]
}

// inherit gives a new thread its creator's mode and filters.
func (s *seccompState) inherit(from *seccompState) {
	s.mode.Store(from.mode.Load())
	s.filter.Store(from.filter.Load())
}

// start gives a new process the runtime's filter, if any.
func (s *seccompState) start(f *SeccompFilter) {
	if f != nil {
		s.filter.Store(f)
		s.mode.Store(SeccompModeFilter)
	}
}

// SeccompMode returns the thread's mode.
func (t *Task) SeccompMode() int { return int(t.seccomp.mode.Load()) }

// CompileSeccompFilter checks a classic BPF program as Linux's
// seccomp_check_filter and bpf_check_classic do and compiles it: only
// 32-bit aligned loads inside struct seccomp_data, no packet loads of
// other sizes, ALU, jumps, scratch memory and returns. EINVAL otherwise.
func CompileSeccompFilter(insns []bpf.Instruction) (*SeccompFilter, error) {
	if len(insns) == 0 || len(insns) > bpf.MaxInstructions {
		return nil, unix.EINVAL
	}
	prog := make([]bpf.Instruction, len(insns))
	for i, in := range insns {
		switch in.OpCode {
		case bpf.Ld | bpf.W | bpf.Abs:
			if in.K >= seccompDataSize || in.K&3 != 0 {
				return nil, unix.EINVAL
			}
		case bpf.Ld | bpf.W | bpf.Len:
			in = bpf.Instruction{OpCode: bpf.Ld | bpf.Imm, K: seccompDataSize}
		case bpf.Ldx | bpf.W | bpf.Len:
			in = bpf.Instruction{OpCode: bpf.Ldx | bpf.Imm, K: seccompDataSize}
		case bpf.Ret | bpf.K, bpf.Ret | bpf.A,
			bpf.Ld | bpf.Imm, bpf.Ldx | bpf.Imm, bpf.Ld | bpf.Mem, bpf.Ldx | bpf.Mem,
			bpf.St, bpf.Stx, bpf.Misc | bpf.Tax, bpf.Misc | bpf.Txa,
			bpf.Alu | bpf.Neg, bpf.Jmp | bpf.Ja:
		default:
			op := in.OpCode &^ (bpf.K | bpf.X)
			switch op {
			case bpf.Alu | bpf.Add, bpf.Alu | bpf.Sub, bpf.Alu | bpf.Mul, bpf.Alu | bpf.Div,
				bpf.Alu | bpf.And, bpf.Alu | bpf.Or, bpf.Alu | bpf.Xor, bpf.Alu | bpf.Lsh, bpf.Alu | bpf.Rsh,
				bpf.Jmp | bpf.Jeq, bpf.Jmp | bpf.Jgt, bpf.Jmp | bpf.Jge, bpf.Jmp | bpf.Jset:
			default:
				return nil, unix.EINVAL
			}
		}
		prog[i] = in
	}
	p, err := bpf.Compile(prog, false)
	if err != nil {
		return nil, unix.EINVAL
	}
	return &SeccompFilter{prog: p, insns: prog, len: len(insns)}, nil
}

// run returns the filter's verdict on data, syscall nr's.
func (f *SeccompFilter) run(nr uintptr, data []byte) uint32 {
	if nr < verdictCacheSize {
		switch v := f.verdicts[nr].Load(); {
		case v >= verdictConst:
			return uint32(v)
		case v == verdictUnknown:
			if r, ok := constVerdict(f.insns, uint32(nr)); ok {
				f.verdicts[nr].Store(verdictConst | uint64(r))
				return r
			}
			f.verdicts[nr].Store(verdictDynamic)
		}
	}
	r, err := bpf.Exec[bpf.LittleEndian](f.prog, bpf.Input(data))
	if err != nil {
		// Checked programs do not fail; if one did, the most
		// restrictive answer.
		return SeccompRetKillProcess
	}
	return r
}

// constVerdict runs prog knowing only seccomp_data's nr and arch: the
// verdict, if every jump on the way to a return was decided by known
// values; ok false as soon as one depends on an argument or the
// instruction pointer. Programs only jump forward, so this ends.
func constVerdict(prog []bpf.Instruction, nr uint32) (uint32, bool) {
	type val struct {
		v     uint32
		known bool
	}
	var a, x val
	var mem [bpf.ScratchMemRegisters]val
	load := func(k uint32) val {
		switch k {
		case 0:
			return val{nr, true}
		case 4:
			return val{auditArchX86_64, true}
		}
		return val{}
	}
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		src := val{in.K, true}
		if in.OpCode&bpf.X != 0 {
			src = x
		}
		switch in.OpCode & 0x07 {
		case bpf.Ld:
			switch in.OpCode & 0xe0 {
			case bpf.Abs:
				a = load(in.K)
			case bpf.Imm:
				a = val{in.K, true}
			case bpf.Mem:
				a = mem[in.K%bpf.ScratchMemRegisters]
			default:
				return 0, false
			}
		case bpf.Ldx:
			switch in.OpCode & 0xe0 {
			case bpf.Imm:
				x = val{in.K, true}
			case bpf.Mem:
				x = mem[in.K%bpf.ScratchMemRegisters]
			default:
				return 0, false
			}
		case bpf.St:
			mem[in.K%bpf.ScratchMemRegisters] = a
		case bpf.Stx:
			mem[in.K%bpf.ScratchMemRegisters] = x
		case bpf.Alu:
			if !a.known || (!src.known && in.OpCode&0xf0 != bpf.Neg) {
				a = val{}
				continue
			}
			switch in.OpCode & 0xf0 {
			case bpf.Add:
				a.v += src.v
			case bpf.Sub:
				a.v -= src.v
			case bpf.Mul:
				a.v *= src.v
			case bpf.Div:
				if src.v == 0 {
					return 0, false
				}
				a.v /= src.v
			case bpf.Or:
				a.v |= src.v
			case bpf.And:
				a.v &= src.v
			case bpf.Xor:
				a.v ^= src.v
			case bpf.Lsh:
				a.v <<= src.v & 31
			case bpf.Rsh:
				a.v >>= src.v & 31
			case bpf.Neg:
				a.v = -a.v
			default:
				return 0, false
			}
		case bpf.Jmp:
			if in.OpCode&0xf0 == bpf.Ja {
				pc += int(in.K)
				continue
			}
			if !a.known || !src.known {
				return 0, false
			}
			var cond bool
			switch in.OpCode & 0xf0 {
			case bpf.Jeq:
				cond = a.v == src.v
			case bpf.Jgt:
				cond = a.v > src.v
			case bpf.Jge:
				cond = a.v >= src.v
			case bpf.Jset:
				cond = a.v&src.v != 0
			default:
				return 0, false
			}
			if cond {
				pc += int(in.JumpIfTrue)
			} else {
				pc += int(in.JumpIfFalse)
			}
		case bpf.Ret:
			switch in.OpCode & 0x18 {
			case bpf.K:
				return in.K, true
			case bpf.A:
				return a.v, a.known
			}
			return 0, false
		case bpf.Misc:
			if in.OpCode == bpf.Misc|bpf.Tax {
				x = a
			} else {
				a = x
			}
		}
	}
	return 0, false
}

// AttachSeccompFilter puts f on top of the caller's filters, and with
// tsync on every thread of its process, whose filters must then all be
// ones the caller's chain descends from: otherwise nothing changes and the
// first other thread's id is returned (or ESRCH with tsyncESRCH), as
// Linux's seccomp_can_sync_threads. Strict mode cannot be left (EINVAL);
// ENOMEM past the instruction budget of a chain.
func (t *Task) AttachSeccompFilter(f *SeccompFilter, tsync, tsyncESRCH bool) (int32, error) {
	t.K.mu.Lock()
	defer t.K.mu.Unlock()
	if t.seccomp.mode.Load() == SeccompModeStrict {
		return 0, unix.EINVAL
	}
	cur := t.seccomp.filter.Load()
	total := f.len
	for p := cur; p != nil; p = p.prev {
		total += p.len + 4
	}
	if total > seccompMaxInsnsPerPath {
		return 0, unix.ENOMEM
	}
	if tsync {
		for _, o := range t.tg.tasks {
			if o == t || o.exiting {
				continue
			}
			if o.seccomp.mode.Load() == SeccompModeDisabled || o.seccomp.mode.Load() == SeccompModeFilter && isAncestor(o.seccomp.filter.Load(), cur) {
				continue
			}
			if tsyncESRCH {
				return 0, unix.ESRCH
			}
			return o.TID, nil
		}
	}
	// f is the caller's own, compiled for this call: linking it is safe.
	f.prev = cur
	t.seccomp.filter.Store(f)
	t.seccomp.mode.Store(SeccompModeFilter)
	if tsync {
		for _, o := range t.tg.tasks {
			if o == t || o.exiting {
				continue
			}
			o.seccomp.filter.Store(f)
			o.seccomp.mode.Store(SeccompModeFilter)
			if t.creds.NoNewPrivs {
				o.creds.NoNewPrivs = true
			}
		}
	}
	return 0, nil
}

// isAncestor reports whether a is c or one of the filters below it (nil
// is below every chain).
func isAncestor(a, c *SeccompFilter) bool {
	if a == nil {
		return true
	}
	for ; c != nil; c = c.prev {
		if c == a {
			return true
		}
	}
	return false
}

// SetSeccompStrict puts the caller in strict mode: read, write, exit and
// rt_sigreturn only. EINVAL once it has filters.
func (t *Task) SetSeccompStrict() error {
	if !t.seccomp.mode.CompareAndSwap(SeccompModeDisabled, SeccompModeStrict) && t.seccomp.mode.Load() != SeccompModeStrict {
		return unix.EINVAL
	}
	return nil
}

// SeccompVerdict is what seccomp decided about one syscall.
type SeccompVerdict struct {
	// Skip says the syscall is not served; Return is then its result
	// (a negative errno).
	Skip   bool
	Return int64
}

// Syscalls strict mode lets through (x86-64).
const (
	nrRead         = 0
	nrWrite        = 1
	nrRtSigreturn  = 15
	nrExit         = 60
	sysSeccompCode = 1 // SYS_SECCOMP, SIGSYS's si_code
)

// CheckSeccomp runs the caller's seccomp policy on syscall nr with args,
// made from instruction pointer ip, and carries out the verdict's side:
// the SIGSYS of SECCOMP_RET_TRAP, the killing of the thread or process.
// The caller serves the syscall unless the verdict says Skip.
func (t *Task) CheckSeccomp(nr uintptr, args [6]uint64, ip uint64) SeccompVerdict {
	switch t.seccomp.mode.Load() {
	case SeccompModeDisabled:
		return SeccompVerdict{}
	case SeccompModeStrict:
		switch nr {
		case nrRead, nrWrite, nrRtSigreturn, nrExit:
			return SeccompVerdict{}
		}
		t.seccompKill(int(unix.SIGKILL), false, false)
		return SeccompVerdict{Skip: true, Return: -int64(unix.ENOSYS)}
	}
	var data [seccompDataSize]byte
	le := binary.LittleEndian
	le.PutUint32(data[0:], uint32(nr))
	le.PutUint32(data[4:], auditArchX86_64)
	le.PutUint64(data[8:], ip)
	for i, a := range args {
		le.PutUint64(data[16+8*i:], a)
	}
	ret := uint32(SeccompRetAllow)
	for f := t.seccomp.filter.Load(); f != nil; f = f.prev {
		r := f.run(nr, data[:])
		// The most restrictive action wins, the newest filter's on a
		// tie; actions compare as signed, so KILL_PROCESS comes first.
		if int32(r&seccompRetActionFull) < int32(ret&seccompRetActionFull) {
			ret = r
		}
	}
	skip := func(e unix.Errno) SeccompVerdict { return SeccompVerdict{Skip: true, Return: -int64(e)} }
	switch ret & seccompRetActionFull {
	case SeccompRetAllow, SeccompRetLog:
		return SeccompVerdict{}
	case SeccompRetErrno:
		return skip(unix.Errno(min(ret&seccompRetData, 4095)))
	case SeccompRetTrace, SeccompRetUserNotif:
		// No tracer, no listener: the syscall fails with ENOSYS.
		return skip(unix.ENOSYS)
	case SeccompRetTrap:
		info := &arch.SignalInfo{Signo: int32(unix.SIGSYS), Errno: int32(ret & seccompRetData), Code: sysSeccompCode}
		le.PutUint64(info.Fields[0:], ip)
		le.PutUint32(info.Fields[8:], uint32(nr))
		le.PutUint32(info.Fields[12:], auditArchX86_64)
		t.ForceSignal(info)
		// Linux rolls the syscall back: the handler, and the code
		// after it, see the syscall number in rax again.
		return SeccompVerdict{Skip: true, Return: int64(nr)}
	case SeccompRetKillThread:
		t.seccompKill(int(unix.SIGSYS), true, true)
	default: // SECCOMP_RET_KILL_PROCESS and unknown actions
		t.seccompKill(int(unix.SIGSYS), true, false)
	}
	return skip(unix.ENOSYS)
}

// seccompKill ends the thread, or its whole process when it is the last
// thread or !threadOnly, as if killed by sig.
func (t *Task) seccompKill(sig int, core, threadOnly bool) {
	k := t.K
	k.mu.Lock()
	defer k.mu.Unlock()
	live := 0
	for _, o := range t.tg.tasks {
		if !o.exiting {
			live++
		}
	}
	if threadOnly && live > 1 {
		t.exiting = true
		return
	}
	k.groupExitLocked(t.tg, ExitStatus{Signal: sig, Core: core})
}
