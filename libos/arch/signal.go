package arch

import (
	"encoding/binary"
	"errors"
)

// This file lays out what Linux x86-64 puts on a thread's stack to run a
// signal handler (struct rt_sigframe) and reads it back for rt_sigreturn.
// Workload code (libc's sigreturn trampoline, setjmp/longjmp, debuggers,
// garbage collectors walking ucontext_t) depends on the exact byte layout,
// so every offset here is the kernel's uapi one; the package only computes
// bytes and registers, and callers copy them to and from workload memory.

var le = binary.LittleEndian

// SignalInfoSize is sizeof(siginfo_t): the kernel always copies all 128
// bytes to user space, whatever union member is in use.
const SignalInfoSize = 128

// SignalInfo is siginfo_t as the kernel lays it out (128 bytes). The union
// starts at byte 16 because it holds pointers and so is 8-byte aligned
// after the three ints.
type SignalInfo struct {
	Signo  int32
	Errno  int32
	Code   int32
	_      int32
	Fields [112]byte // the union
}

// si_code values (asm-generic/siginfo.h). Codes <= 0 mean the signal came
// from user space, which is what lets a handler trust si_pid and si_uid.
const (
	SIUser     = 0
	SIKernel   = 0x80
	SIQueue    = -1
	SITimer    = -2
	SIMesgq    = -3
	SIAsyncIO  = -4
	SISigIO    = -5
	SITkill    = -6
	SIDethread = -7
	SIAsyncNL  = -60
)

// si_code values of SIGILL.
const (
	ILLIllOpc = 1
	ILLIllOpn = 2
	ILLIllAdr = 3
	ILLIllTrp = 4
	ILLPrvOpc = 5
	ILLPrvReg = 6
	ILLCoproc = 7
	ILLBadStk = 8
)

// si_code values of SIGFPE.
const (
	FPEIntDiv = 1
	FPEIntOvf = 2
	FPEFltDiv = 3
	FPEFltOvf = 4
	FPEFltUnd = 5
	FPEFltRes = 6
	FPEFltInv = 7
	FPEFltSub = 8
)

// si_code values of SIGSEGV.
const (
	SEGVMapErr = 1
	SEGVAccErr = 2
	SEGVBndErr = 3
	SEGVPkuErr = 4
)

// si_code values of SIGBUS.
const (
	BUSAdrAln   = 1
	BUSAdrErr   = 2
	BUSObjErr   = 3
	BUSMCEErrAR = 4
	BUSMCEErrAO = 5
)

// si_code values of SIGTRAP.
const (
	TRAPBrkpt  = 1
	TRAPTrace  = 2
	TRAPBranch = 3
	TRAPHWBkpt = 4
)

// si_code values of SIGCHLD; CLD_EXITED carries the exit code in si_status,
// the others the signal number.
const (
	CLDExited    = 1
	CLDKilled    = 2
	CLDDumped    = 3
	CLDTrapped   = 4
	CLDStopped   = 5
	CLDContinued = 6
)

// si_code values of SIGPOLL/SIGIO.
const (
	POLLIn  = 1
	POLLOut = 2
	POLLMsg = 3
	POLLErr = 4
	POLLPri = 5
	POLLHup = 6
)

// SYSSeccomp is the si_code of a SIGSYS raised by SECCOMP_RET_TRAP, and
// AuditArchX86_64 the si_arch it reports for 64-bit syscalls.
const (
	SYSSeccomp      = 1
	AuditArchX86_64 = 0xc000003e
)

// Offsets of union members, relative to Fields (add 16 for the offset in
// siginfo_t). Different members overlap, which is why each setter writes
// only its own slots.
const (
	siPID      = 0  // _kill, _rt, _sigchld: si_pid
	siUID      = 4  // si_uid
	siTimerID  = 0  // _timer: si_tid
	siOverrun  = 4  // si_overrun
	siValue    = 8  // _rt and _timer: si_value (sigval_t, 8 bytes)
	siStatus   = 8  // _sigchld: si_status
	siUtime    = 16 // si_utime (clock_t is 8-aligned, so 4 bytes of padding precede it)
	siStime    = 24 // si_stime
	siAddr     = 0  // _sigfault: si_addr
	siBand     = 0  // _sigpoll: si_band (long)
	siFD       = 8  // si_fd
	siCallAddr = 0  // _sigsys: si_call_addr
	siSyscall  = 8  // si_syscall
	siArch     = 12 // si_arch
)

// SetPIDUID fills si_pid and si_uid, as kill, tkill and tgkill report the
// sender.
func (s *SignalInfo) SetPIDUID(pid int32, uid uint32) {
	le.PutUint32(s.Fields[siPID:], uint32(pid))
	le.PutUint32(s.Fields[siUID:], uid)
}

// SetValue fills si_value, which sits at the same place for SI_QUEUE
// (after si_pid/si_uid) and for timers (after si_tid/si_overrun).
func (s *SignalInfo) SetValue(v uint64) { le.PutUint64(s.Fields[siValue:], v) }

// SetTimer fills the _timer member of a POSIX timer expiry.
func (s *SignalInfo) SetTimer(id int32, overrun int32, value uint64) {
	le.PutUint32(s.Fields[siTimerID:], uint32(id))
	le.PutUint32(s.Fields[siOverrun:], uint32(overrun))
	s.SetValue(value)
}

// SetChild fills the _sigchld member: the child, its exit code or signal
// (per Code), and its CPU times in clock ticks.
func (s *SignalInfo) SetChild(pid int32, uid uint32, status int32, utime, stime int64) {
	s.SetPIDUID(pid, uid)
	le.PutUint32(s.Fields[siStatus:], uint32(status))
	le.PutUint64(s.Fields[siUtime:], uint64(utime))
	le.PutUint64(s.Fields[siStime:], uint64(stime))
}

// SetAddr fills si_addr, the faulting address of SIGSEGV/SIGBUS or the
// faulting instruction of SIGILL/SIGFPE/SIGTRAP.
func (s *SignalInfo) SetAddr(addr uint64) { le.PutUint64(s.Fields[siAddr:], addr) }

// SetPoll fills the _sigpoll member (F_SETSIG/O_ASYNC notifications).
func (s *SignalInfo) SetPoll(band int64, fd int32) {
	le.PutUint64(s.Fields[siBand:], uint64(band))
	le.PutUint32(s.Fields[siFD:], uint32(fd))
}

// SetSys fills the _sigsys member of a seccomp SECCOMP_RET_TRAP signal.
func (s *SignalInfo) SetSys(callAddr uint64, nr int32, arch uint32) {
	le.PutUint64(s.Fields[siCallAddr:], callAddr)
	le.PutUint32(s.Fields[siSyscall:], uint32(nr))
	le.PutUint32(s.Fields[siArch:], arch)
}

// Addr returns si_addr.
func (s *SignalInfo) Addr() uint64 { return le.Uint64(s.Fields[siAddr:]) }

// Poll returns the _sigpoll member: si_band and si_fd.
func (s *SignalInfo) Poll() (band int64, fd int32) {
	return int64(le.Uint64(s.Fields[siBand:])), int32(le.Uint32(s.Fields[siFD:]))
}

// ChildTimes returns the _sigchld member's si_utime and si_stime.
func (s *SignalInfo) ChildTimes() (utime, stime int64) {
	return int64(le.Uint64(s.Fields[siUtime:])), int64(le.Uint64(s.Fields[siStime:]))
}

// PID returns si_pid.
func (s *SignalInfo) PID() int32 { return int32(le.Uint32(s.Fields[siPID:])) }

// UID returns si_uid.
func (s *SignalInfo) UID() uint32 { return le.Uint32(s.Fields[siUID:]) }

// Status returns si_status of a SIGCHLD.
func (s *SignalInfo) Status() int32 { return int32(le.Uint32(s.Fields[siStatus:])) }

// Value returns si_value.
func (s *SignalInfo) Value() uint64 { return le.Uint64(s.Fields[siValue:]) }

// TimerID returns si_tid (the kernel's timer id, not the thread).
func (s *SignalInfo) TimerID() int32 { return int32(le.Uint32(s.Fields[siTimerID:])) }

// Overrun returns si_overrun.
func (s *SignalInfo) Overrun() int32 { return int32(le.Uint32(s.Fields[siOverrun:])) }

// Marshal returns the 128 bytes the workload sees (rt_sigqueueinfo,
// signalfd, waitid and the frame all use this layout).
func (s *SignalInfo) Marshal() []byte {
	b := make([]byte, SignalInfoSize)
	s.marshalTo(b)
	return b
}

func (s *SignalInfo) marshalTo(b []byte) {
	le.PutUint32(b[0:], uint32(s.Signo))
	le.PutUint32(b[4:], uint32(s.Errno))
	le.PutUint32(b[8:], uint32(s.Code))
	le.PutUint32(b[12:], 0)
	copy(b[16:SignalInfoSize], s.Fields[:])
}

// Unmarshal reads a siginfo_t from workload memory (rt_sigqueueinfo).
func (s *SignalInfo) Unmarshal(b []byte) error {
	if len(b) < SignalInfoSize {
		return ErrShortBuffer
	}
	s.Signo = int32(le.Uint32(b[0:]))
	s.Errno = int32(le.Uint32(b[4:]))
	s.Code = int32(le.Uint32(b[8:]))
	copy(s.Fields[:], b[16:SignalInfoSize])
	return nil
}

// SignalStackSize is sizeof(stack_t): ss_flags is an int followed by 4
// bytes of padding so that ss_size is 8-aligned.
const SignalStackSize = 24

// SignalStack is stack_t, the sigaltstack of a thread.
type SignalStack struct {
	Sp    uint64
	Flags int32
	Size  uint64
}

// ss_flags bits. SS_AUTODISARM is bit 31 of an int, so it is typed as the
// negative int32 with that bit pattern: Flags&SSAutoDisarm works as in C.
const (
	SSOnStack          = 1
	SSDisable          = 2
	SSAutoDisarm int32 = -1 << 31
)

// Contains reports whether sp lies on the stack as Linux's __on_sig_stack
// sees it: the top address counts (nothing pushed yet) and the base does
// not (a push there would land below the stack).
func (s SignalStack) Contains(sp uint64) bool {
	return sp > s.Sp && sp-s.Sp <= s.Size
}

// Enabled reports whether the stack can be switched to. Linux keys this on
// a nonzero size; SS_DISABLE is checked too in case a caller keeps the old
// geometry around when disabling.
func (s SignalStack) Enabled() bool {
	return s.Size != 0 && s.Flags&SSDisable == 0
}

// OnStack is Linux's on_sig_stack: whether a thread whose rsp is sp is
// running on its signal stack. An SS_AUTODISARM stack never counts, since
// it is disarmed while in use; that keeps a corrupted sp near the stack's
// top from making signals undeliverable. sigaltstack uses this for the
// SS_ONSTACK it reports and for refusing changes with EPERM.
func (s SignalStack) OnStack(sp uint64) bool {
	return s.Enabled() && s.Flags&SSAutoDisarm == 0 && s.Contains(sp)
}

// Marshal returns the stack_t bytes.
func (s SignalStack) Marshal() []byte {
	b := make([]byte, SignalStackSize)
	s.marshalTo(b)
	return b
}

func (s SignalStack) marshalTo(b []byte) {
	le.PutUint64(b[0:], s.Sp)
	le.PutUint32(b[8:], uint32(s.Flags))
	le.PutUint32(b[12:], 0)
	le.PutUint64(b[16:], s.Size)
}

// Unmarshal reads a stack_t.
func (s *SignalStack) Unmarshal(b []byte) error {
	if len(b) < SignalStackSize {
		return ErrShortBuffer
	}
	s.Sp = le.Uint64(b[0:])
	s.Flags = int32(le.Uint32(b[8:]))
	s.Size = le.Uint64(b[16:])
	return nil
}

// SignalActionSize is the size of the kernel's struct sigaction that
// rt_sigaction copies (not glibc's, which has a 128-byte sa_mask).
const SignalActionSize = 32

// SignalAction is struct sigaction as the rt_sigaction syscall passes it:
// handler, flags, restorer, mask.
type SignalAction struct {
	Handler, Flags, Restorer, Mask uint64
}

// sa_flags bits (asm-generic/signal-defs.h; SA_RESTORER from asm/signal.h).
const (
	SANoCldStop     = 0x00000001
	SANoCldWait     = 0x00000002
	SASiginfo       = 0x00000004
	SAUnsupported   = 0x00000400
	SAExposeTagbits = 0x00000800
	SARestorer      = 0x04000000
	SAOnStack       = 0x08000000
	SARestart       = 0x10000000
	SANodefer       = 0x40000000
	SAResetHand     = 0x80000000
)

// Marshal returns the 32 bytes rt_sigaction writes to oldact.
func (a SignalAction) Marshal() []byte {
	b := make([]byte, SignalActionSize)
	le.PutUint64(b[0:], a.Handler)
	le.PutUint64(b[8:], a.Flags)
	le.PutUint64(b[16:], a.Restorer)
	le.PutUint64(b[24:], a.Mask)
	return b
}

// Unmarshal reads the act argument of rt_sigaction.
func (a *SignalAction) Unmarshal(b []byte) error {
	if len(b) < SignalActionSize {
		return ErrShortBuffer
	}
	a.Handler = le.Uint64(b[0:])
	a.Flags = le.Uint64(b[8:])
	a.Restorer = le.Uint64(b[16:])
	a.Mask = le.Uint64(b[24:])
	return nil
}

// UnblockableMask is SIGKILL and SIGSTOP in a sigset: no mask, including
// one restored by rt_sigreturn, may contain them.
const UnblockableMask = 1<<(9-1) | 1<<(19-1)

// FPStateSize is the size of the legacy fxsave area the platform hands us
// (PTRACE_GETFPREGS format, 512 bytes).
const FPStateSize = 512

// Offsets inside the fxsave image.
const (
	fxFCW        = 0
	fxMXCSR      = 24
	fxMXCSRMask  = 28
	fxSWReserved = 464 // 48 bytes the CPU ignores; Linux puts _fpx_sw_bytes here
)

// The xsave layout a signal frame uses (standard format): the software
// words Linux writes at fxSWReserved (struct _fpx_sw_bytes), the header
// after the legacy area, the extended components after it, and the magic
// that closes the image.
const (
	fpXstateMagic1 = 0x46505853 // "FPXS" in _fpx_sw_bytes.magic1
	fpXstateMagic2 = 0x46505845 // "FPXE" after the xsave image
	xsaveHeader    = 512        // xstate_bv, xcomp_bv, 48 reserved bytes
	xsaveMinSize   = xsaveHeader + 64
	xsaveMaxSize   = 64 << 10
	swExtSize      = fxSWReserved + 4
	swXfeatures    = fxSWReserved + 8
	swXstateSize   = fxSWReserved + 16
	ucFPXstate     = 0x1 // UC_FP_XSTATE: the frame's FP area is xsave
)

// XstateSize returns the size of the xsave image fp starts with, as its
// software-reserved words give it (magic1, a size between the header's end
// and 64 KiB, room for magic2), or 0 for a plain fxsave image.
func XstateSize(fp []byte) int {
	if len(fp) < FPStateSize || le.Uint32(fp[fxSWReserved:]) != fpXstateMagic1 {
		return 0
	}
	n := le.Uint32(fp[swXstateSize:])
	if n < xsaveMinSize || n > xsaveMaxSize || le.Uint32(fp[swExtSize:]) < n+4 {
		return 0
	}
	return int(n)
}

// HasXstateMagic2 reports whether b starts with FP_XSTATE_MAGIC2, which
// closes an xsave image in a signal frame.
func HasXstateMagic2(b []byte) bool {
	return len(b) >= 4 && le.Uint32(b) == fpXstateMagic2
}

// MergeFPState writes the FP state src (an fxsave or xsave image, from a
// signal frame or a new thread's initial state) into dst, the image a
// platform will load: the legacy area but the software-reserved words
// (dst's kernel wrote those), MXCSR cut to the bits dst's CPU takes (its
// MXCSR_MASK; rt_sigreturn and PTRACE_SET* refuse the others), then the
// extended state as MergeXstate does when dst is an xsave image.
func MergeFPState(dst, src []byte) {
	if len(dst) < FPStateSize || len(src) < FPStateSize {
		return
	}
	mask := le.Uint32(dst[fxMXCSRMask:])
	if mask == 0 {
		mask = 0xffbf
	}
	copy(dst[:fxSWReserved], src)
	le.PutUint32(dst[fxMXCSR:], le.Uint32(src[fxMXCSR:])&mask)
	le.PutUint32(dst[fxMXCSRMask:], mask)
	if len(dst) >= xsaveMinSize {
		MergeXstate(dst, src)
	}
}

// MergeXstate writes src's extended state into dst, an xsave image the
// host kernel wrote and will load (its software words and size stay
// dst's). The header is made loadable as the kernel checks it on
// sigreturn: only features dst's kernel enabled, the standard format, no
// reserved bits. A plain fxsave src (512 bytes) has no extended state:
// the components past SSE are then loaded in their initial state, as
// Linux does for a legacy frame.
func MergeXstate(dst, src []byte) {
	if len(dst) < xsaveMinSize {
		return
	}
	features := le.Uint64(dst[swXfeatures:])
	bv := uint64(3) // x87 and SSE come from the legacy area
	if len(src) >= xsaveMinSize {
		n := min(len(src), len(dst))
		copy(dst[xsaveHeader:n], src[xsaveHeader:n])
		bv |= le.Uint64(src[xsaveHeader:]) & features
	}
	le.PutUint64(dst[xsaveHeader:], bv)
	clear(dst[xsaveHeader+8 : xsaveMinSize])
}

// InitialFPState returns the fxsave image of a freshly reset FPU, as Linux
// gives a new thread: all x87 exceptions masked, round to nearest,
// extended precision, and MXCSR at its power-on default.
func InitialFPState() []byte {
	b := make([]byte, FPStateSize)
	le.PutUint16(b[fxFCW:], 0x037f)
	le.PutUint32(b[fxMXCSR:], 0x1f80)
	return b
}

// SanitizeFPState makes an fxsave image read back from a signal frame safe
// to load: reserved MXCSR bits would make fxrstor fault (and
// PTRACE_SETFPREGS refuses them), so they are cleared with the host's
// mxcsrMask (0 means the architectural default 0xffbf), as the kernel does
// on sigreturn. The software-reserved bytes are cleared as well so that no
// FP_XSTATE_MAGIC1 the workload planted there is ever taken for an xsave
// header.
func SanitizeFPState(fp []byte, mxcsrMask uint32) {
	if len(fp) < FPStateSize {
		return
	}
	if mxcsrMask == 0 {
		mxcsrMask = 0xffbf
	}
	le.PutUint32(fp[fxMXCSR:], le.Uint32(fp[fxMXCSR:])&mxcsrMask)
	clear(fp[fxSWReserved:FPStateSize])
}

// Layout of struct rt_sigframe { char *pretcode; struct ucontext uc;
// struct siginfo info; } and of the structures inside it.
const (
	redZoneSize  = 128 // the SysV ABI lets leaf code use 128 bytes below rsp
	ucontextSize = 304 // uapi struct ucontext, not glibc's larger ucontext_t

	// SignalFrameSize is sizeof(struct rt_sigframe), without the fpstate
	// that the kernel puts above it.
	SignalFrameSize = 8 + ucontextSize + SignalInfoSize

	frameUC   = 8                // &frame->uc, the handler's third argument
	frameInfo = 8 + ucontextSize // &frame->info, its second argument
	ucFlags   = 0                // uc_flags
	ucLink    = 8                // uc_link
	ucStack   = 16               // uc_stack (stack_t)
	ucMcontxt = 40               // uc_mcontext (struct sigcontext, 256 bytes)
	ucSigmask = ucMcontxt + 256  // uc_sigmask (the kernel's 8-byte sigset)
	scEflags  = 17 * 8           // sigcontext.flags (glibc REG_EFL)
	scCS      = 18 * 8           // cs, gs, fs, ss: four u16 in one greg (REG_CSGSFS)
	scGS      = scCS + 2
	scFS      = scCS + 4
	scSS      = scCS + 6 // the old __pad0, used for ss since 4.6
	scErr     = 19 * 8   // REG_ERR: the fault's error code
	scTrapno  = 20 * 8   // REG_TRAPNO: the exception vector
	scOldmask = 21 * 8   // REG_OLDMASK: first word of the mask
	scCR2     = 22 * 8   // REG_CR2: the page-fault address
	scFPState = 23 * 8   // pointer to the fxsave/xsave area
	fpAlign   = 64       // xsave needs 64; the kernel uses it for fxsave too
	stackAlgn = 16       // the ABI's stack alignment at a call
)

// uc_flags bits (asm/ucontext.h).
const (
	ucFPXState        = 0x1 // fpstate is an xsave area with _fpx_sw_bytes; we never set it
	ucSigcontextSS    = 0x2 // the ss slot is meaningful
	ucStrictRestoreSS = 0x4 // sigreturn must restore ss as saved (64-bit code)
)

// eflags bits.
const (
	flagCF = 1 << 0
	flagPF = 1 << 2
	flagAF = 1 << 4
	flagZF = 1 << 6
	flagSF = 1 << 7
	flagTF = 1 << 8
	flagDF = 1 << 10
	flagOF = 1 << 11
	flagRF = 1 << 16
	flagAC = 1 << 18

	// fixEflags are the bits sigreturn takes from the frame; the rest
	// (IF, IOPL, NT, VM, ID...) user code must not be able to set by
	// forging a frame, so they keep their current values.
	fixEflags = flagAC | flagOF | flagDF | flagTF | flagSF | flagZF | flagAF | flagPF | flagCF | flagRF
)

// Errors of frame setup and restore.
var (
	// ErrNoRestorer: x86-64 handlers must come with SA_RESTORER (there is
	// no kernel-provided trampoline), Linux fails delivery without it.
	ErrNoRestorer = errors.New("arch: signal action has no SA_RESTORER")
	// ErrSignalStackOverflow: the frame does not fit on the alternate
	// stack; Linux delivers SIGSEGV instead of corrupting memory below it.
	ErrSignalStackOverflow = errors.New("arch: signal frame overflows the alternate stack")
	// ErrShortBuffer: fewer bytes than the structure needs.
	ErrShortBuffer = errors.New("arch: buffer too short")
	// ErrBadFPState: an fp image smaller than the fxsave area.
	ErrBadFPState = errors.New("arch: fp state shorter than the fxsave area")
	// ErrNoSignalInfo: SetupSignalFrame needs the siginfo to deliver.
	ErrNoSignalInfo = errors.New("arch: no signal info")
)

// FaultState is what the kernel keeps per thread about the last exception
// and writes into every frame's err, trapno and cr2 slots. Handlers of
// SIGSEGV read them (e.g. bit 1 of err tells a write fault), so a platform
// that knows them should pass them through SetupSignalFrameWithFault.
type FaultState struct {
	TrapNo    uint64 // exception vector, 14 for a page fault
	ErrorCode uint64 // the exception's error code
	CR2       uint64 // faulting address of a page fault
}

// sigcontextRegs lists the registers in the order of the first 17 words of
// struct sigcontext (glibc's REG_R8 .. REG_RIP); eflags follows them but
// is handled apart because sigreturn filters it.
func sigcontextRegs(r *Registers) [17]*uint64 {
	return [17]*uint64{
		&r.R8, &r.R9, &r.R10, &r.R11, &r.R12, &r.R13, &r.R14, &r.R15,
		&r.Rdi, &r.Rsi, &r.Rbp, &r.Rbx, &r.Rdx, &r.Rax, &r.Rcx, &r.Rsp, &r.Rip,
	}
}

// signalFrameLayout places a frame as Linux's get_sigframe does for a
// thread whose rsp is rsp, with fpSize bytes of FP state (512 for the
// legacy format; the kernel's xsave size when checking against the real
// kernel). It returns the frame's address (the handler's rsp) and the FP
// area's.
func signalFrameLayout(rsp, fpSize, saFlags uint64, alt SignalStack) (frameAddr, fpAddr uint64, err error) {
	// Whether we are already on the alternate stack is judged on the
	// interrupted rsp, whether to switch to it on rsp minus the red zone:
	// the kernel does both, and the difference is visible at the edges.
	nested := alt.OnStack(rsp)
	sp := rsp - redZoneSize
	entering := false
	if saFlags&SAOnStack != 0 && alt.Enabled() && !alt.OnStack(sp) {
		// The alternate stack is fresh: no red zone to skip.
		sp = alt.Sp + alt.Size
		entering = true
	}
	fpAddr = (sp - fpSize) &^ (fpAlign - 1)
	// Aligning the frame to 16 and then subtracting 8 makes the handler
	// start as if called: (rsp+8)%16 == 0 with the return address, here
	// pretcode, at rsp.
	frameAddr = ((fpAddr - SignalFrameSize) &^ (stackAlgn - 1)) - 8
	if (nested || entering) && !alt.Contains(frameAddr) {
		return 0, 0, ErrSignalStackOverflow
	}
	return frameAddr, fpAddr, nil
}

// SetupSignalFrame computes the rt_sigframe the kernel would build for
// delivering info to the handler act, with the FP state fp (an fxsave
// image; nil means the initial FP state; a longer xsave image contributes
// its first 512 bytes), the mask that rt_sigreturn must restore, and the
// thread's alternate stack alt. It is SetupSignalFrameWithFault with no
// fault state, which is what a signal that is not an exception carries.
//
// frame is to be written at frameAddr and covers the rt_sigframe, the
// alignment gap above it and the fxsave area (all of it below the
// interrupted rsp's red zone or on the alternate stack). handlerRegs starts
// the handler.
func SetupSignalFrame(regs *Registers, fp []byte, info *SignalInfo, mask uint64, act SignalAction, alt SignalStack) (frame []byte, frameAddr uint64, handlerRegs Registers, err error) {
	return SetupSignalFrameWithFault(regs, fp, info, mask, act, alt, FaultState{})
}

// SetupSignalFrameWithFault is SetupSignalFrame for a signal raised by a
// CPU exception, whose details go into the frame's err, trapno and cr2.
func SetupSignalFrameWithFault(regs *Registers, fp []byte, info *SignalInfo, mask uint64, act SignalAction, alt SignalStack, fault FaultState) (frame []byte, frameAddr uint64, handlerRegs Registers, err error) {
	if info == nil {
		return nil, 0, Registers{}, ErrNoSignalInfo
	}
	if act.Flags&SARestorer == 0 {
		return nil, 0, Registers{}, ErrNoRestorer
	}
	switch {
	case len(fp) == 0:
		fp = InitialFPState()
	case len(fp) < FPStateSize:
		return nil, 0, Registers{}, ErrBadFPState
	}
	// An xsave image goes in whole, closed by magic2, as Linux writes
	// it: the handler and sigreturn see every register, AVX's included.
	xs := XstateSize(fp)
	if xs > len(fp) {
		xs = 0
	}
	fpSize := uint64(FPStateSize)
	if xs > 0 {
		fpSize = uint64(xs) + 4
	}
	frameAddr, fpAddr, err := signalFrameLayout(regs.Rsp, fpSize, act.Flags, alt)
	if err != nil {
		return nil, 0, Registers{}, err
	}

	b := make([]byte, fpAddr-frameAddr+fpSize)
	le.PutUint64(b[0:], act.Restorer) // pretcode: the handler's `ret` goes there

	uc := b[frameUC:frameInfo]
	// UC_FP_XSTATE if the FP area is an xsave one; the rest says "64-bit
	// context whose ss slot is valid and must be restored as is".
	flags := uint64(ucSigcontextSS | ucStrictRestoreSS)
	if xs > 0 {
		flags |= ucFPXstate
	}
	le.PutUint64(uc[ucFlags:], flags)
	le.PutUint64(uc[ucLink:], 0)
	// Linux records the stored sigaltstack settings verbatim (including
	// SS_AUTODISARM, so that sigreturn re-arms an auto-disarmed stack), not
	// whether the interrupted code was on it.
	alt.marshalTo(uc[ucStack:])

	sc := uc[ucMcontxt:ucSigmask]
	for i, p := range sigcontextRegs(regs) {
		le.PutUint64(sc[i*8:], *p)
	}
	le.PutUint64(sc[scEflags:], regs.Eflags)
	le.PutUint16(sc[scCS:], uint16(regs.Cs))
	// 64-bit frames carry no fs/gs: their selectors are not restored and
	// the bases live in MSRs that sigreturn does not touch. Linux writes 0.
	le.PutUint16(sc[scGS:], 0)
	le.PutUint16(sc[scFS:], 0)
	le.PutUint16(sc[scSS:], uint16(regs.Ss))
	le.PutUint64(sc[scErr:], fault.ErrorCode)
	le.PutUint64(sc[scTrapno:], fault.TrapNo)
	le.PutUint64(sc[scOldmask:], mask)
	le.PutUint64(sc[scCR2:], fault.CR2)
	le.PutUint64(sc[scFPState:], fpAddr)
	le.PutUint64(uc[ucSigmask:], mask)

	// Linux copies siginfo only for SA_SIGINFO handlers and leaves the
	// stack's old contents otherwise; writing it always is harmless and
	// keeps the frame deterministic.
	info.marshalTo(b[frameInfo:SignalFrameSize])

	fx := b[fpAddr-frameAddr:]
	if xs > 0 {
		copy(fx, fp[:xs])
		clear(fx[fxSWReserved:FPStateSize])
		le.PutUint32(fx[fxSWReserved:], fpXstateMagic1)
		le.PutUint32(fx[swExtSize:], uint32(xs)+4)
		le.PutUint64(fx[swXfeatures:], le.Uint64(fp[swXfeatures:]))
		le.PutUint32(fx[swXstateSize:], uint32(xs))
		le.PutUint32(fx[xs:], fpXstateMagic2)
	} else {
		copy(fx, fp[:FPStateSize])
		// Whatever the platform left in the software-reserved bytes,
		// the handler must not find an FP_XSTATE_MAGIC1 there and take
		// this legacy area for an xsave one.
		clear(fx[fxSWReserved:FPStateSize])
	}

	h := *regs
	h.Rip = act.Handler
	h.Rsp = frameAddr
	h.Rdi = uint64(info.Signo)
	// rsi and rdx are set for every handler: a plain sa_handler just
	// ignores them, and some old code relies on finding them anyway.
	h.Rsi = frameAddr + frameInfo
	h.Rdx = frameAddr + frameUC
	h.Rax = 0 // for handlers declared without a prototype (varargs convention)
	// The ABI wants DF clear at function entry; TF and RF would make the
	// handler single-step or skip a breakpoint it did not ask for.
	h.Eflags &^= flagDF | flagRF | flagTF
	// Handlers always run as 64-bit code, even if the platform ever let
	// something else run.
	h.Cs = UserCS
	h.Ss = UserSS
	// The handler is not returning from a syscall: nothing may restart.
	h.Orig_rax = ^uint64(0)
	return b, frameAddr, h, nil
}

// RestoreSignalFrame implements rt_sigreturn: frame holds SignalFrameSize
// bytes read at rsp-8 when the workload called rt_sigreturn (the handler's
// `ret` has popped pretcode), and cur is the thread's registers at that
// syscall. It returns the registers to resume with, the address of the FP
// area the frame names (0: none, the FP state should be reset), the signal
// mask to install and the saved sigaltstack settings.
//
// cur supplies what a 64-bit sigcontext does not hold and Linux therefore
// keeps: fs_base, gs_base, the ds/es/fs/gs selectors and the eflags bits
// outside FIX_EFLAGS. A nil cur means a thread in its initial state.
//
// Like the kernel, the result is sanitized: cs and ss are the user
// segments (we only run 64-bit code), eflags takes only the bits user code
// can change anyway, orig_rax is -1 so that the frame's rax is not taken
// for an interrupted syscall to restart, and the mask drops SIGKILL and
// SIGSTOP.
func RestoreSignalFrame(cur *Registers, frame []byte) (regs Registers, fpAddr uint64, mask uint64, stack SignalStack, err error) {
	if len(frame) < SignalFrameSize {
		return Registers{}, 0, 0, SignalStack{}, ErrShortBuffer
	}
	if cur != nil {
		regs = *cur
	} else {
		regs.Eflags = InitialFlags
	}
	uc := frame[frameUC:frameInfo]
	sc := uc[ucMcontxt:ucSigmask]
	for i, p := range sigcontextRegs(&regs) {
		*p = le.Uint64(sc[i*8:])
	}
	regs.Eflags = regs.Eflags&^fixEflags | le.Uint64(sc[scEflags:])&fixEflags
	regs.Cs = UserCS
	regs.Ss = UserSS
	regs.Orig_rax = ^uint64(0)
	fpAddr = le.Uint64(sc[scFPState:])
	mask = le.Uint64(uc[ucSigmask:]) &^ UnblockableMask
	_ = stack.Unmarshal(uc[ucStack : ucStack+SignalStackSize])
	return regs, fpAddr, mask, stack, nil
}
