package kernel

import (
	"encoding/binary"
	"math/rand"
	"testing"

	"gvisor.dev/gvisor/pkg/bpf"
)

// TestSeccompVerdictCache: a filter's cached answers for syscalls whose
// verdict depends on the number alone are what running it gives, and a
// syscall whose verdict depends on an argument is always run.
func TestSeccompVerdictCache(t *testing.T) {
	const (
		ldW  = bpf.Ld | bpf.W | bpf.Abs
		jeqK = bpf.Jmp | bpf.Jeq | bpf.K
		retK = bpf.Ret | bpf.K
	)
	prog := []bpf.Instruction{
		{OpCode: ldW, K: 4},
		{OpCode: jeqK, JumpIfTrue: 1, K: auditArchX86_64},
		{OpCode: retK, K: SeccompRetKillProcess},
		{OpCode: ldW, K: 0},
		{OpCode: jeqK, JumpIfFalse: 1, K: 39}, // getpid: errno 1
		{OpCode: retK, K: SeccompRetErrno | 1},
		{OpCode: jeqK, JumpIfFalse: 4, K: 1}, // write: fd 2 only
		{OpCode: ldW, K: 16},
		{OpCode: jeqK, JumpIfFalse: 1, K: 2},
		{OpCode: retK, K: SeccompRetAllow},
		{OpCode: retK, K: SeccompRetErrno | 9},
		{OpCode: bpf.St, K: 3}, // nr through scratch memory and X
		{OpCode: bpf.Ldx | bpf.Mem, K: 3},
		{OpCode: bpf.Misc | bpf.Txa},
		{OpCode: bpf.Alu | bpf.And | bpf.K, K: 0xff},
		{OpCode: jeqK, JumpIfFalse: 1, K: 60}, // exit
		{OpCode: retK, K: SeccompRetTrap},
		{OpCode: retK, K: SeccompRetAllow},
	}
	f, err := CompileSeccompFilter(prog)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		nr    uint32
		konst bool
		want  uint32
	}{{39, true, SeccompRetErrno | 1}, {1, false, 0}, {60, true, SeccompRetTrap}, {0, true, SeccompRetAllow}} {
		v, ok := constVerdict(f.insns, c.nr)
		if ok != c.konst || (ok && v != c.want) {
			t.Errorf("nr %d: constVerdict %#x, %v; want %#x, %v", c.nr, v, ok, c.want, c.konst)
		}
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		var data [seccompDataSize]byte
		nr := uint32(rng.Intn(70))
		binary.LittleEndian.PutUint32(data[0:], nr)
		binary.LittleEndian.PutUint32(data[4:], auditArchX86_64)
		binary.LittleEndian.PutUint64(data[16:], uint64(rng.Intn(4)))
		want, err := bpf.Exec[bpf.LittleEndian](f.prog, bpf.Input(data[:]))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.run(uintptr(nr), data[:]); got != want {
			t.Fatalf("nr %d arg %d: run %#x, Exec %#x", nr, data[16], got, want)
		}
	}
	if f.verdicts[1].Load() != verdictDynamic || f.verdicts[39].Load() != verdictConst|(SeccompRetErrno|1) {
		t.Errorf("cache: write %#x, getpid %#x", f.verdicts[1].Load(), f.verdicts[39].Load())
	}
}
