package arch

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestStructSizes(t *testing.T) {
	if SignalFrameSize != 440 {
		t.Errorf("SignalFrameSize = %d, want 440 (8 + 304 + 128)", SignalFrameSize)
	}
	if ucSigmask != ucontextSize-8 {
		t.Errorf("uc_sigmask at %d, want the last 8 bytes of a %d-byte ucontext", ucSigmask, ucontextSize)
	}
	if got := len((&SignalInfo{}).Marshal()); got != 128 {
		t.Errorf("siginfo is %d bytes", got)
	}
	if got := len(SignalStack{}.Marshal()); got != 24 {
		t.Errorf("stack_t is %d bytes", got)
	}
	if got := len(SignalAction{}.Marshal()); got != 32 {
		t.Errorf("sigaction is %d bytes", got)
	}
}

func u32(b []byte, off int) uint32 { return le.Uint32(b[off:]) }
func u64(b []byte, off int) uint64 { return le.Uint64(b[off:]) }

func TestSignalInfoOffsets(t *testing.T) {
	var kill SignalInfo
	kill.Signo, kill.Errno, kill.Code = 10, 3, SITkill
	kill.SetPIDUID(1234, 5678)
	b := kill.Marshal()
	if u32(b, 0) != 10 || u32(b, 4) != 3 || int32(u32(b, 8)) != SITkill {
		t.Errorf("header = % x", b[:16])
	}
	if u32(b, 16) != 1234 || u32(b, 20) != 5678 {
		t.Errorf("si_pid/si_uid not at 16/20: % x", b[16:24])
	}
	if kill.PID() != 1234 || kill.UID() != 5678 {
		t.Errorf("PID/UID = %d/%d", kill.PID(), kill.UID())
	}

	var q SignalInfo
	q.Code = SIQueue
	q.SetPIDUID(7, 8)
	q.SetValue(0x1122334455667788)
	b = q.Marshal()
	if u32(b, 16) != 7 || u32(b, 20) != 8 || u64(b, 24) != 0x1122334455667788 {
		t.Errorf("SI_QUEUE fields: % x", b[16:32])
	}
	if q.Value() != 0x1122334455667788 {
		t.Errorf("Value = %#x", q.Value())
	}

	var tm SignalInfo
	tm.Code = SITimer
	tm.SetTimer(3, 9, 0xabcdef)
	b = tm.Marshal()
	if u32(b, 16) != 3 || u32(b, 20) != 9 || u64(b, 24) != 0xabcdef {
		t.Errorf("timer fields: % x", b[16:32])
	}
	if tm.TimerID() != 3 || tm.Overrun() != 9 || tm.Value() != 0xabcdef {
		t.Errorf("timer accessors: %d %d %#x", tm.TimerID(), tm.Overrun(), tm.Value())
	}

	var ch SignalInfo
	ch.Code = CLDExited
	ch.SetChild(42, 1000, 7, 11, -12)
	b = ch.Marshal()
	if u32(b, 16) != 42 || u32(b, 20) != 1000 || u32(b, 24) != 7 ||
		u64(b, 32) != 11 || int64(u64(b, 40)) != -12 {
		t.Errorf("sigchld fields: % x", b[16:48])
	}
	if ch.Status() != 7 || ch.PID() != 42 {
		t.Errorf("Status/PID = %d/%d", ch.Status(), ch.PID())
	}

	var f SignalInfo
	f.Code = SEGVMapErr
	f.SetAddr(0xdeadbeef000)
	b = f.Marshal()
	if u64(b, 16) != 0xdeadbeef000 || f.Addr() != 0xdeadbeef000 {
		t.Errorf("si_addr: % x", b[16:24])
	}

	var p SignalInfo
	p.SetPoll(-1, 5)
	b = p.Marshal()
	if int64(u64(b, 16)) != -1 || u32(b, 24) != 5 {
		t.Errorf("sigpoll: % x", b[16:28])
	}

	var s SignalInfo
	s.SetSys(0x400000, 59, AuditArchX86_64)
	b = s.Marshal()
	if u64(b, 16) != 0x400000 || u32(b, 24) != 59 || u32(b, 28) != AuditArchX86_64 {
		t.Errorf("sigsys: % x", b[16:32])
	}

	var back SignalInfo
	if err := back.Unmarshal(ch.Marshal()); err != nil || back != ch {
		t.Errorf("Unmarshal round trip: %v %+v", err, back)
	}
	if err := back.Unmarshal(make([]byte, 127)); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("short siginfo: %v", err)
	}
}

func TestActionAndStackMarshal(t *testing.T) {
	a := SignalAction{Handler: 0x401000, Flags: SASiginfo | SARestorer | SAOnStack, Restorer: 0x402000, Mask: 1 << 9}
	b := a.Marshal()
	if u64(b, 0) != a.Handler || u64(b, 8) != a.Flags || u64(b, 16) != a.Restorer || u64(b, 24) != a.Mask {
		t.Errorf("sigaction bytes % x", b)
	}
	var a2 SignalAction
	if err := a2.Unmarshal(b); err != nil || a2 != a {
		t.Errorf("sigaction round trip: %v %+v", err, a2)
	}
	if err := a2.Unmarshal(b[:31]); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("short sigaction: %v", err)
	}

	s := SignalStack{Sp: 0x7000, Flags: SSAutoDisarm, Size: 0x2000}
	b = s.Marshal()
	if u64(b, 0) != 0x7000 || u32(b, 8) != 0x80000000 || u64(b, 16) != 0x2000 {
		t.Errorf("stack_t bytes % x", b)
	}
	var s2 SignalStack
	if err := s2.Unmarshal(b); err != nil || s2 != s {
		t.Errorf("stack_t round trip: %v %+v", err, s2)
	}
}

func TestSignalStackContains(t *testing.T) {
	s := SignalStack{Sp: 0x10000, Size: 0x1000}
	for _, c := range []struct {
		sp   uint64
		want bool
	}{
		{0x10000, false}, // the base: pushing there would write below the stack
		{0x10001, true},
		{0x10800, true},
		{0x11000, true}, // the top: an empty stack
		{0x11001, false},
		{0, false},
	} {
		if got := s.Contains(c.sp); got != c.want {
			t.Errorf("Contains(%#x) = %v", c.sp, got)
		}
	}
	if !s.OnStack(0x10800) {
		t.Error("OnStack on an armed stack")
	}
	if (SignalStack{Sp: 0x10000, Size: 0x1000, Flags: SSAutoDisarm}).OnStack(0x10800) {
		t.Error("an SS_AUTODISARM stack must never count as in use")
	}
	if (SignalStack{Sp: 0x10000, Size: 0x1000, Flags: SSDisable}).OnStack(0x10800) {
		t.Error("a disabled stack is not in use")
	}
}

// randomRegs fills every register with a distinct value, and the segment
// and eflags fields with what user code has.
func randomRegs(r *rand.Rand) Registers {
	var regs Registers
	for _, p := range sigcontextRegs(&regs) {
		*p = r.Uint64()
	}
	regs.Rsp = 0x7fff00000000 + uint64(r.Intn(1<<20))
	regs.Orig_rax = r.Uint64()
	regs.Eflags = InitialFlags | flagCF | flagZF | flagDF | flagTF | flagRF | flagAC
	regs.Cs, regs.Ss = UserCS, UserSS
	regs.Fs_base, regs.Gs_base = r.Uint64(), r.Uint64()
	return regs
}

func TestSetupRestoreRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		regs := randomRegs(r)
		fp := make([]byte, FPStateSize)
		r.Read(fp)
		info := SignalInfo{Signo: 11, Code: SEGVAccErr}
		info.SetAddr(r.Uint64())
		mask := r.Uint64()
		act := SignalAction{Handler: 0x401000, Flags: SASiginfo | SARestorer, Restorer: 0x402000}
		alt := SignalStack{Flags: SSDisable}
		fault := FaultState{TrapNo: 14, ErrorCode: 6, CR2: info.Addr()}

		orig := regs
		frame, addr, h, err := SetupSignalFrameWithFault(&regs, fp, &info, mask, act, alt, fault)
		if err != nil {
			t.Fatal(err)
		}
		if regs != orig {
			t.Fatal("SetupSignalFrame changed its input registers")
		}
		// The frame as a handler sees it.
		if u64(frame, 0) != act.Restorer {
			t.Errorf("pretcode = %#x", u64(frame, 0))
		}
		if h.Rip != act.Handler || h.Rsp != addr || h.Rdi != 11 || h.Rsi != addr+312 || h.Rdx != addr+8 || h.Rax != 0 {
			t.Errorf("handler regs: rip %#x rsp %#x rdi %d rsi %#x rdx %#x rax %#x (frame %#x)", h.Rip, h.Rsp, h.Rdi, h.Rsi, h.Rdx, h.Rax, addr)
		}
		if h.Eflags&(flagDF|flagTF|flagRF) != 0 || h.Eflags&(flagCF|flagZF|flagAC) != orig.Eflags&(flagCF|flagZF|flagAC) {
			t.Errorf("handler eflags %#x from %#x", h.Eflags, orig.Eflags)
		}
		if h.Fs_base != orig.Fs_base || h.Gs_base != orig.Gs_base || h.R12 != orig.R12 {
			t.Error("handler lost state the kernel leaves alone")
		}
		var gotInfo SignalInfo
		if err := gotInfo.Unmarshal(frame[h.Rsi-addr:]); err != nil || gotInfo != info {
			t.Errorf("siginfo in frame: %+v", gotInfo)
		}
		sc := frame[frameUC+ucMcontxt:]
		if u64(sc, scErr) != 6 || u64(sc, scTrapno) != 14 || u64(sc, scCR2) != info.Addr() || u64(sc, scOldmask) != mask {
			t.Errorf("err/trapno/cr2/oldmask = %#x %#x %#x %#x", u64(sc, scErr), u64(sc, scTrapno), u64(sc, scCR2), u64(sc, scOldmask))
		}

		// rt_sigreturn: the handler's ret popped pretcode, so rsp is addr+8
		// and the frame is read at rsp-8.
		cur := h
		cur.Rsp = addr + 8
		cur.Eflags = InitialFlags
		cur.Rax = 15 // rt_sigreturn
		got, fpAddr, gotMask, stack, err := RestoreSignalFrame(&cur, frame[:SignalFrameSize])
		if err != nil {
			t.Fatal(err)
		}
		want := orig
		want.Orig_rax = ^uint64(0)
		want.Eflags = InitialFlags | flagCF | flagZF | flagDF | flagTF | flagRF | flagAC
		if got != want {
			t.Errorf("restored\n%+v\nwant\n%+v", got, want)
		}
		if gotMask != mask&^UnblockableMask {
			t.Errorf("mask %#x, want %#x", gotMask, mask&^UnblockableMask)
		}
		if stack != alt {
			t.Errorf("uc_stack %+v, want %+v", stack, alt)
		}
		if fpAddr%64 != 0 || fpAddr < addr+SignalFrameSize || fpAddr+FPStateSize != addr+uint64(len(frame)) {
			t.Fatalf("fpstate at %#x, frame [%#x, %#x)", fpAddr, addr, addr+uint64(len(frame)))
		}
		gotFP := frame[fpAddr-addr:]
		if !bytes.Equal(gotFP[:fxSWReserved], fp[:fxSWReserved]) {
			t.Error("fxsave area not copied")
		}
		if !bytes.Equal(gotFP[fxSWReserved:], make([]byte, FPStateSize-fxSWReserved)) {
			t.Error("software-reserved fxsave bytes not cleared")
		}
	}
}

func TestFrameAlignmentAndRedZone(t *testing.T) {
	act := SignalAction{Handler: 1, Flags: SARestorer, Restorer: 2}
	for rsp := uint64(0x7ffff0001000); rsp < 0x7ffff0001000+256; rsp++ {
		regs := Registers{Rsp: rsp, Cs: UserCS, Ss: UserSS}
		info := SignalInfo{Signo: 10}
		frame, addr, h, err := SetupSignalFrame(&regs, nil, &info, 0, act, SignalStack{})
		if err != nil {
			t.Fatal(err)
		}
		if (addr+8)%16 != 0 || h.Rsp != addr {
			t.Errorf("rsp %#x: frame at %#x, (rsp+8)%%16 = %d", rsp, addr, (addr+8)%16)
		}
		fpAddr := u64(frame, frameUC+ucMcontxt+scFPState)
		if fpAddr%64 != 0 {
			t.Errorf("rsp %#x: fpstate at %#x", rsp, fpAddr)
		}
		if addr+SignalFrameSize > fpAddr {
			t.Errorf("rsp %#x: frame [%#x,+%d) overlaps fpstate %#x", rsp, addr, SignalFrameSize, fpAddr)
		}
		if end := addr + uint64(len(frame)); end > rsp-128 || end != fpAddr+FPStateSize {
			t.Errorf("rsp %#x: frame ends at %#x, into the red zone", rsp, end)
		}
		// With no FP state given, the handler's frame carries the initial one.
		fx := frame[fpAddr-addr:]
		if le.Uint16(fx[fxFCW:]) != 0x37f || le.Uint32(fx[fxMXCSR:]) != 0x1f80 {
			t.Errorf("initial FP state: fcw %#x mxcsr %#x", le.Uint16(fx[fxFCW:]), le.Uint32(fx[fxMXCSR:]))
		}
	}
}

func TestAltStackSelection(t *testing.T) {
	const base, size = 0x50000, 0x4000
	const top = base + size
	const normalRSP = 0x7ffff0000000
	onStack := SignalAction{Handler: 1, Flags: SARestorer | SAOnStack, Restorer: 2}
	plain := SignalAction{Handler: 1, Flags: SARestorer, Restorer: 2}
	armed := SignalStack{Sp: base, Size: size}
	auto := SignalStack{Sp: base, Size: size, Flags: SSAutoDisarm}

	for _, c := range []struct {
		name    string
		rsp     uint64
		act     SignalAction
		alt     SignalStack
		onAlt   bool   // frame must be on the alternate stack
		below   uint64 // and at or below this address (0: top of the alt stack)
		errWant error
	}{
		{name: "no SA_ONSTACK", rsp: normalRSP, act: plain, alt: armed},
		{name: "switch", rsp: normalRSP, act: onStack, alt: armed, onAlt: true},
		{name: "disabled", rsp: normalRSP, act: onStack, alt: SignalStack{Flags: SSDisable}},
		{name: "SS_DISABLE keeps geometry", rsp: normalRSP, act: onStack, alt: SignalStack{Sp: base, Size: size, Flags: SSDisable}},
		{name: "zero size", rsp: normalRSP, act: onStack, alt: SignalStack{Sp: base}},
		{name: "already on it", rsp: base + 0x3000, act: onStack, alt: armed, onAlt: true, below: base + 0x3000 - 128},
		{name: "on it, handler without SA_ONSTACK", rsp: base + 0x3000, act: plain, alt: armed, onAlt: true, below: base + 0x3000 - 128},
		// SS_AUTODISARM: being on the stack does not count, so the frame
		// starts over at its top, as Linux does.
		{name: "autodisarm switch", rsp: normalRSP, act: onStack, alt: auto, onAlt: true},
		{name: "autodisarm on it", rsp: base + 0x3000, act: onStack, alt: auto, onAlt: true},
		{name: "overflow on entry", rsp: normalRSP, act: onStack, alt: SignalStack{Sp: base, Size: 900}, errWant: ErrSignalStackOverflow},
		{name: "overflow nested", rsp: base + 0x400, act: onStack, alt: armed, errWant: ErrSignalStackOverflow},
	} {
		t.Run(c.name, func(t *testing.T) {
			regs := Registers{Rsp: c.rsp, Cs: UserCS, Ss: UserSS}
			info := SignalInfo{Signo: 10}
			frame, addr, _, err := SetupSignalFrame(&regs, nil, &info, 0, c.act, c.alt)
			if c.errWant != nil {
				if !errors.Is(err, c.errWant) {
					t.Fatalf("err = %v, want %v", err, c.errWant)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			end := addr + uint64(len(frame))
			if c.onAlt {
				if addr <= base || end > top {
					t.Errorf("frame [%#x,%#x) not on the alt stack [%#x,%#x)", addr, end, base, top)
				}
				limit := uint64(top)
				if c.below != 0 {
					limit = c.below
				}
				if end > limit {
					t.Errorf("frame ends at %#x, above %#x", end, limit)
				}
				if c.below == 0 && top-end >= 64 {
					t.Errorf("frame ends at %#x, not at the top %#x of the alt stack", end, top)
				}
			} else if end > c.rsp-128 || addr < c.rsp-4096 {
				t.Errorf("frame [%#x,%#x) not just below the red zone of %#x", addr, end, c.rsp)
			}
			// uc_stack is the stored setting, verbatim.
			var got SignalStack
			_ = got.Unmarshal(frame[frameUC+ucStack:])
			if got != c.alt {
				t.Errorf("uc_stack %+v, want %+v", got, c.alt)
			}
		})
	}
}

func TestSetupErrors(t *testing.T) {
	regs := Registers{Rsp: 0x7ffff0000000}
	info := SignalInfo{Signo: 10}
	if _, _, _, err := SetupSignalFrame(&regs, nil, &info, 0, SignalAction{Handler: 1}, SignalStack{}); !errors.Is(err, ErrNoRestorer) {
		t.Errorf("no SA_RESTORER: %v", err)
	}
	act := SignalAction{Handler: 1, Flags: SARestorer, Restorer: 2}
	if _, _, _, err := SetupSignalFrame(&regs, make([]byte, 100), &info, 0, act, SignalStack{}); !errors.Is(err, ErrBadFPState) {
		t.Errorf("short fp: %v", err)
	}
	if _, _, _, err := SetupSignalFrame(&regs, nil, nil, 0, act, SignalStack{}); !errors.Is(err, ErrNoSignalInfo) {
		t.Errorf("nil info: %v", err)
	}
	// An xsave image contributes its legacy part.
	xs := make([]byte, 1024)
	xs[0], xs[600] = 0x7f, 0xaa
	frame, addr, _, err := SetupSignalFrame(&regs, xs, &info, 0, act, SignalStack{})
	if err != nil {
		t.Fatal(err)
	}
	if fx := frame[u64(frame, frameUC+ucMcontxt+scFPState)-addr:]; len(fx) != FPStateSize || fx[0] != 0x7f {
		t.Errorf("xsave image: %d bytes, first %#x", len(fx), fx[0])
	}
	if _, _, _, _, err := RestoreSignalFrame(nil, frame[:SignalFrameSize-1]); !errors.Is(err, ErrShortBuffer) {
		t.Errorf("short frame: %v", err)
	}
}

func TestRestoreSanitizes(t *testing.T) {
	regs := Registers{Rsp: 0x7ffff0000000, Rip: 0x401000, Eflags: InitialFlags, Cs: UserCS, Ss: UserSS}
	info := SignalInfo{Signo: 10}
	act := SignalAction{Handler: 1, Flags: SARestorer, Restorer: 2}
	frame, _, h, err := SetupSignalFrame(&regs, nil, &info, 0, act, SignalStack{})
	if err != nil {
		t.Fatal(err)
	}
	sc := frame[frameUC+ucMcontxt:]
	// A forged frame: kernel segments, IF clear, IOPL 3, NT, ID, VM, and a
	// mask blocking SIGKILL and SIGSTOP.
	le.PutUint64(sc[scEflags:], 0xffffffff&^0x200)
	le.PutUint16(sc[scCS:], 0x10)
	le.PutUint16(sc[scSS:], 0x18)
	le.PutUint64(frame[frameUC+ucSigmask:], ^uint64(0))

	cur := h
	cur.Eflags = InitialFlags
	cur.Fs, cur.Gs, cur.Fs_base = 0x63, 0x6b, 0x1234
	got, _, mask, _, err := RestoreSignalFrame(&cur, frame[:SignalFrameSize])
	if err != nil {
		t.Fatal(err)
	}
	if got.Cs != UserCS || got.Ss != UserSS {
		t.Errorf("cs/ss = %#x/%#x", got.Cs, got.Ss)
	}
	if got.Eflags != InitialFlags|fixEflags {
		t.Errorf("eflags = %#x, want %#x", got.Eflags, InitialFlags|fixEflags)
	}
	if mask&UnblockableMask != 0 || mask != ^uint64(UnblockableMask) {
		t.Errorf("mask = %#x", mask)
	}
	if got.Orig_rax != ^uint64(0) {
		t.Errorf("orig_rax = %#x", got.Orig_rax)
	}
	if got.Fs != 0x63 || got.Gs != 0x6b || got.Fs_base != 0x1234 {
		t.Error("state outside the sigcontext must come from the current registers")
	}
	if got, _, _, _, _ := RestoreSignalFrame(nil, frame[:SignalFrameSize]); got.Eflags != InitialFlags|fixEflags {
		t.Errorf("nil cur: eflags %#x", got.Eflags)
	}
}

func TestSanitizeFPState(t *testing.T) {
	fp := InitialFPState()
	le.PutUint32(fp[fxMXCSR:], 0xffffffff)
	le.PutUint32(fp[fxSWReserved:], 0x46505853) // FP_XSTATE_MAGIC1
	SanitizeFPState(fp, 0)
	if got := le.Uint32(fp[fxMXCSR:]); got != 0xffbf {
		t.Errorf("mxcsr = %#x", got)
	}
	if le.Uint32(fp[fxSWReserved:]) != 0 {
		t.Error("sw_reserved kept")
	}
	le.PutUint32(fp[fxMXCSR:], 0xffffffff)
	SanitizeFPState(fp, 0xffff)
	if got := le.Uint32(fp[fxMXCSR:]); got != 0xffff {
		t.Errorf("mxcsr = %#x", got)
	}
	SanitizeFPState(fp[:10], 0) // must not panic
}

// ---- Cross-check against the host kernel ----

var (
	kernelOnce sync.Once
	kernelOut  map[string]string
	kernelErr  error
	kernelSkip string
)

// kernelFrames builds and runs testdata/sigframe.c once per test binary.
func kernelFrames(t *testing.T) map[string]string {
	t.Helper()
	kernelOnce.Do(func() {
		if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
			kernelSkip = "needs linux/amd64"
			return
		}
		gcc, err := exec.LookPath("gcc")
		if err != nil {
			kernelSkip = "gcc not found"
			return
		}
		// Built and run once for all tests, then removed: only the
		// output is needed.
		dir, err := os.MkdirTemp("", "sigframe")
		if err != nil {
			kernelErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "sigframe")
		// -mno-red-zone: the raising code pushes below its frame.
		out, err := exec.Command(gcc, "-O1", "-mno-red-zone", "-Wall", "-o", bin, "testdata/sigframe.c").CombinedOutput()
		if err != nil {
			kernelErr = errors.New("gcc: " + err.Error() + "\n" + string(out))
			return
		}
		out, err = exec.Command(bin).Output()
		if err != nil {
			kernelErr = errors.New("sigframe: " + err.Error())
			return
		}
		kernelOut = map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if ok {
				kernelOut[k] = v
			}
		}
	})
	if kernelSkip != "" {
		t.Skip(kernelSkip)
	}
	if kernelErr != nil {
		t.Fatal(kernelErr)
	}
	return kernelOut
}

func num(t *testing.T, m map[string]string, key string) uint64 {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Fatalf("sigframe did not report %s", key)
	}
	n, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", key, v, err)
	}
	return n
}

func blob(t *testing.T, m map[string]string, key string) []byte {
	t.Helper()
	b, err := hex.DecodeString(m[key])
	if err != nil || len(b) != SignalFrameSize {
		t.Fatalf("%s: %d bytes, %v", key, len(b), err)
	}
	return b
}

// TestKernelStaticLayout checks our offsets against glibc's view of the
// structures, whose ucontext_t prefix is the kernel's struct ucontext.
func TestKernelStaticLayout(t *testing.T) {
	m := kernelFrames(t)
	for key, want := range map[string]uint64{
		"layout.uc_flags": ucFlags, "layout.uc_link": ucLink, "layout.uc_stack": ucStack,
		"layout.uc_mcontext": ucMcontxt, "layout.uc_sigmask": ucSigmask,
		"layout.fpregs": ucMcontxt + scFPState,
		"layout.ss_sp":  0, "layout.ss_flags": 8, "layout.ss_size": 16,
		"layout.sizeof_stack": SignalStackSize, "layout.sizeof_siginfo": SignalInfoSize,
		"layout.si_pid": 16 + siPID, "layout.si_uid": 16 + siUID, "layout.si_status": 16 + siStatus,
		"layout.si_utime": 16 + siUtime, "layout.si_stime": 16 + siStime, "layout.si_value": 16 + siValue,
		"layout.si_timerid": 16 + siTimerID, "layout.si_overrun": 16 + siOverrun, "layout.si_addr": 16 + siAddr,
		"layout.si_band": 16 + siBand, "layout.si_fd": 16 + siFD, "layout.si_call_addr": 16 + siCallAddr,
		"layout.si_syscall": 16 + siSyscall, "layout.si_arch": 16 + siArch,
	} {
		if got := num(t, m, key); got != want {
			t.Errorf("%s: C says %d, Go has %d", key, got, want)
		}
	}

	// Where SetupSignalFrame puts each register must be where glibc's
	// REG_* index says: fill every register with its own value and look.
	r := rand.New(rand.NewSource(2))
	regs := randomRegs(r)
	regs.Cs, regs.Ss = UserCS, UserSS
	fault := FaultState{TrapNo: 14, ErrorCode: 7, CR2: 0xc2c2c2c2}
	const mask = 0x5a5a5a5a
	info := SignalInfo{Signo: 11}
	act := SignalAction{Handler: 1, Flags: SARestorer, Restorer: 2}
	frame, _, _, err := SetupSignalFrameWithFault(&regs, nil, &info, mask, act, SignalStack{}, fault)
	if err != nil {
		t.Fatal(err)
	}
	uc := frame[frameUC:]
	for name, want := range map[string]uint64{
		"R8": regs.R8, "R9": regs.R9, "R10": regs.R10, "R11": regs.R11, "R12": regs.R12,
		"R13": regs.R13, "R14": regs.R14, "R15": regs.R15, "RDI": regs.Rdi, "RSI": regs.Rsi,
		"RBP": regs.Rbp, "RBX": regs.Rbx, "RDX": regs.Rdx, "RAX": regs.Rax, "RCX": regs.Rcx,
		"RSP": regs.Rsp, "RIP": regs.Rip, "EFL": regs.Eflags,
		"CSGSFS": UserCS | UserSS<<48, "ERR": 7, "TRAPNO": 14, "OLDMASK": mask, "CR2": 0xc2c2c2c2,
	} {
		off := num(t, m, "layout.greg_"+name)
		if got := u64(uc, int(off)); got != want {
			t.Errorf("gregs[REG_%s] at uc+%d = %#x, want %#x", name, off, got, want)
		}
	}
}

// kernelScenario is one signal the C program took, with the inputs that
// SetupSignalFrame needs to build the same frame.
type kernelScenario struct {
	name  string
	flags uint64
	alt   SignalStack
}

func TestKernelFrames(t *testing.T) {
	m := kernelFrames(t)
	altBase, altSize := num(t, m, "env.alt"), num(t, m, "env.alt_size")
	armed := SignalStack{Sp: altBase, Size: altSize}
	auto := SignalStack{Sp: altBase, Size: altSize, Flags: SSAutoDisarm}
	for _, sc := range []kernelScenario{
		// A thread that never called sigaltstack has all-zero settings.
		{"plain", 0, SignalStack{}},
		{"alt", SAOnStack, armed},
		{"outer", SAOnStack, armed},
		{"nested", SAOnStack, armed},
		{"autodisarm", SAOnStack, auto},
		{"noonstack", 0, auto},
	} {
		t.Run(sc.name, func(t *testing.T) { checkKernelFrame(t, m, sc) })
	}
}

func checkKernelFrame(t *testing.T, m map[string]string, sc kernelScenario) {
	key := func(k string) string { return sc.name + "." + k }
	kf := blob(t, m, key("frame"))
	entryRSP := num(t, m, key("entry_rsp"))
	preRSP := num(t, m, key("pre_rsp"))
	signo := num(t, m, key("signo"))
	kfp := num(t, m, key("fpstate"))
	xsize := num(t, m, key("xsize"))
	kcx := u64(kf, frameUC+ucMcontxt+14*8)
	kr11 := u64(kf, frameUC+ucMcontxt+3*8)
	keflags := u64(kf, frameUC+ucMcontxt+scEflags)

	// What the C program put in the registers before its kill syscall;
	// rcx and r11 are whatever the syscall instruction left there.
	regs := Registers{
		R8: 0x0808080808080808, R9: 0x0909090909090909, R10: 0x1010101010101010, R11: kr11,
		R12: 0x1212121212121212, R13: 0x1313131313131313, R14: 0x1414141414141414, R15: 0x1515151515151515,
		Rdi: num(t, m, "env.pid"), Rsi: signo, Rbp: 0x0e0e0e0e0e0e0e0e, Rbx: 0x0b0b0b0b0b0b0b0b,
		Rdx: 0x0d0d0d0d0d0d0d0d, Rax: 0, Rcx: kcx, Rsp: preRSP, Rip: num(t, m, "env.after_syscall"),
		Eflags: keflags, Cs: UserCS, Ss: UserSS, Orig_rax: 62, Fs_base: 0x1234,
	}
	if keflags&flagDF == 0 {
		t.Errorf("kernel saved eflags %#x without the DF the program set", keflags)
	}
	info := SignalInfo{Signo: int32(signo), Code: SIUser}
	info.SetPIDUID(int32(num(t, m, "env.pid")), uint32(num(t, m, "env.uid")))
	act := SignalAction{
		Handler:  num(t, m, "env.sig_entry"),
		Flags:    SASiginfo | SARestorer | sc.flags,
		Restorer: u64(kf, 0), // glibc's __restore_rt
	}
	mask := num(t, m, key("mask_before"))

	// Placement: with the kernel's FP area size, our algorithm must land
	// on the kernel's addresses exactly.
	addr, fpAddr, err := signalFrameLayout(preRSP, xsize, act.Flags, sc.alt)
	if err != nil {
		t.Fatal(err)
	}
	if addr != entryRSP || fpAddr != kfp {
		t.Errorf("layout with %d-byte fp state: frame %#x fp %#x; kernel: frame %#x fp %#x", xsize, addr, fpAddr, entryRSP, kfp)
	}
	if u64(kf, frameUC+ucMcontxt+scFPState) != kfp {
		t.Errorf("kernel frame's fpstate %#x != uc_mcontext.fpregs %#x", u64(kf, frameUC+ucMcontxt+scFPState), kfp)
	}
	if uc, in := num(t, m, key("uc")), num(t, m, key("info")); uc != entryRSP+frameUC || in != entryRSP+frameInfo {
		t.Errorf("kernel uc %#x info %#x for frame %#x", uc, in, entryRSP)
	}

	frame, ourAddr, h, err := SetupSignalFrame(&regs, nil, &info, mask, act, sc.alt)
	if err != nil {
		t.Fatal(err)
	}
	// Byte by byte, except what legitimately differs: the kernel sets
	// UC_FP_XSTATE and points at its bigger xsave area; the padding after
	// ss_flags and sigcontext's reserved words are never written by the
	// kernel and hold stale stack bytes. For a kill()ed process the kernel
	// also writes its thread's last trap (err, trapno, cr2), which fork and
	// execve pass on: under `bazel test`, the page faults Bazel's JVM takes
	// on purpose show up there as err 4, trapno 14.
	mc := frameUC + ucMcontxt
	skip := func(off int) bool {
		switch {
		case off >= mc+scErr && off < mc+scTrapno+8, off >= mc+scCR2 && off < mc+scCR2+8:
			return true
		case off >= frameUC+ucFlags && off < frameUC+ucFlags+8:
			return true
		case off >= frameUC+ucStack+12 && off < frameUC+ucStack+16:
			return true
		case off >= frameUC+ucMcontxt+scFPState && off < frameUC+ucSigmask:
			return true
		}
		return false
	}
	for off := 0; off < SignalFrameSize; off++ {
		if !skip(off) && frame[off] != kf[off] {
			t.Errorf("frame byte %d: ours %#x, kernel %#x", off, frame[off], kf[off])
		}
	}
	if kflags := u64(kf, frameUC+ucFlags); kflags&^ucFPXState != u64(frame, frameUC+ucFlags) {
		t.Errorf("uc_flags: ours %#x, kernel %#x", u64(frame, frameUC+ucFlags), kflags)
	}

	// Handler entry, as recorded by the C entry stub.
	if h.Rsi-h.Rsp != num(t, m, key("info"))-entryRSP || h.Rdx-h.Rsp != num(t, m, key("uc"))-entryRSP {
		t.Errorf("rsi/rdx relative to rsp: %d/%d", h.Rsi-h.Rsp, h.Rdx-h.Rsp)
	}
	if (h.Rsp+8)%16 != 0 || (entryRSP+8)%16 != 0 || h.Rsp != ourAddr {
		t.Errorf("handler rsp %#x (kernel %#x) misaligned", h.Rsp, entryRSP)
	}
	if ef := num(t, m, key("entry_flags")); h.Eflags != ef {
		t.Errorf("handler eflags %#x, kernel %#x", h.Eflags, ef)
	}
	if h.Rip != act.Handler || h.Rdi != signo || h.Fs_base != 0x1234 {
		t.Errorf("handler rip %#x rdi %d fs_base %#x", h.Rip, h.Rdi, h.Fs_base)
	}

	// rt_sigreturn of the kernel's own frame gives back the registers.
	cur := h
	cur.Eflags = InitialFlags
	got, gotFP, gotMask, stack, err := RestoreSignalFrame(&cur, kf)
	if err != nil {
		t.Fatal(err)
	}
	want := regs
	want.Orig_rax = ^uint64(0)
	if got != want {
		t.Errorf("restore of the kernel frame:\n%+v\nwant\n%+v", got, want)
	}
	if gotFP != kfp || gotMask != mask || stack != sc.alt {
		t.Errorf("restore: fp %#x mask %#x stack %+v", gotFP, gotMask, stack)
	}
}

// TestKernelSigreturnEflags: a handler set IF off, IOPL 3, NT and the
// arithmetic flags in its frame; the eflags the program then ran with
// must be what RestoreSignalFrame computes.
func TestKernelSigreturnEflags(t *testing.T) {
	m := kernelFrames(t)
	mod := blob(t, m, "edit.modified")
	cur := Registers{Eflags: InitialFlags, Cs: UserCS, Ss: UserSS}
	got, _, _, _, err := RestoreSignalFrame(&cur, mod)
	if err != nil {
		t.Fatal(err)
	}
	if want := num(t, m, "edit.post_flags"); got.Eflags != want {
		t.Errorf("eflags after sigreturn: ours %#x, kernel %#x (frame had %#x)", got.Eflags, want, u64(mod, frameUC+ucMcontxt+scEflags))
	}
	if got := num(t, m, "plain.post_flags"); got != u64(blob(t, m, "plain.frame"), frameUC+ucMcontxt+scEflags) {
		t.Errorf("unedited frame: eflags after sigreturn %#x", got)
	}
}

// TestMergeFPState: a frame's FP state goes into the platform's image as
// the kernel will load it: dst's software words and MXCSR_MASK kept,
// MXCSR cut to the mask, extended features only those dst's kernel
// enabled, the header's reserved bytes cleared; a legacy source leaves
// only x87 and SSE present.
func TestMergeFPState(t *testing.T) {
	dst := make([]byte, 1024)
	le.PutUint32(dst[fxMXCSRMask:], 0xffbf)
	le.PutUint32(dst[fxSWReserved:], fpXstateMagic1)
	le.PutUint64(dst[swXfeatures:], 0x7) // x87, SSE, AVX
	src := make([]byte, 1024)
	le.PutUint32(src[fxMXCSR:], 0xffff)
	le.PutUint32(src[fxSWReserved:], 0xdeadbeef)
	le.PutUint64(src[xsaveHeader:], 0xff) // asks for features dst lacks
	le.PutUint64(src[xsaveHeader+8:], 1)  // xcomp_bv
	src[600] = 0x42                       // in the AVX component
	MergeFPState(dst, src)
	if got := le.Uint32(dst[fxMXCSR:]); got != 0xffbf {
		t.Errorf("MXCSR %#x, want %#x", got, 0xffbf)
	}
	if le.Uint32(dst[fxSWReserved:]) != fpXstateMagic1 || le.Uint32(dst[fxMXCSRMask:]) != 0xffbf {
		t.Error("dst's software words or MXCSR_MASK were overwritten")
	}
	if bv := le.Uint64(dst[xsaveHeader:]); bv != 0x7 {
		t.Errorf("xstate_bv %#x, want 0x7", bv)
	}
	if le.Uint64(dst[xsaveHeader+8:]) != 0 || dst[600] != 0x42 {
		t.Error("xcomp_bv kept, or the AVX state not copied")
	}
	MergeFPState(dst, src[:FPStateSize])
	if bv := le.Uint64(dst[xsaveHeader:]); bv != 0x3 {
		t.Errorf("after a legacy source, xstate_bv %#x, want 0x3", bv)
	}
}
