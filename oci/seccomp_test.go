package oci

import (
	"encoding/binary"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"gvisor.dev/gvisor/pkg/bpf"
)

// testSyscalls stands in for the library OS's table.
var testSyscalls = map[string]uintptr{"read": 0, "write": 1, "getpid": 39, "clone": 56, "personality": 135, "lseek": 8}

// The package's other tests translate real configurations (docker's
// default profile among them): every name gets a number of its own.
func init() {
	var mu sync.Mutex
	seen := map[string]uintptr{}
	SyscallNumber = func(n string) (uintptr, bool) {
		mu.Lock()
		defer mu.Unlock()
		nr, ok := seen[n]
		if !ok {
			nr = uintptr(len(seen))
			seen[n] = nr
		}
		return nr, true
	}
}

func useTestSyscalls(t *testing.T) {
	old := SyscallNumber
	SyscallNumber = func(n string) (uintptr, bool) { nr, ok := testSyscalls[n]; return nr, ok }
	t.Cleanup(func() { SyscallNumber = old })
}

// run evaluates prog on a syscall as the kernel would.
func run(t *testing.T, prog []SockFilter, arch uint32, nr uint32, args ...uint64) uint32 {
	t.Helper()
	insns := make([]bpf.Instruction, len(prog))
	for i, in := range prog {
		insns[i] = bpf.Instruction{OpCode: in.Code, JumpIfTrue: in.JT, JumpIfFalse: in.JF, K: in.K}
	}
	p, err := bpf.Compile(insns, false)
	if err != nil {
		t.Fatalf("the program does not compile: %v", err)
	}
	var data [64]byte
	binary.LittleEndian.PutUint32(data[0:], nr)
	binary.LittleEndian.PutUint32(data[4:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[16+8*i:], a)
	}
	r, err := bpf.Exec[bpf.LittleEndian](p, bpf.Input(data[:]))
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	return r
}

func uptr(v uint) *uint { return &v }

func TestCompileSeccomp(t *testing.T) {
	useTestSyscalls(t)
	const big = 0x1_0000_0005 // straddles the words
	prof := &specs.LinuxSeccomp{
		DefaultAction:   specs.ActErrno,
		DefaultErrnoRet: uptr(38),
		Architectures:   []specs.Arch{specs.ArchX86_64, specs.ArchX86},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"getpid", "no_such_syscall"}, Action: specs.ActAllow},
			{Names: []string{"write"}, Action: specs.ActErrno, ErrnoRet: uptr(5)},
			{Names: []string{"clone"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0x7e020000, ValueTwo: 0, Op: specs.OpMaskedEqual}}},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpEqualTo}}},
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Value: big, Op: specs.OpEqualTo}}},
			{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 2, Value: big, Op: specs.OpLessEqual}, {Index: 0, Value: 3, Op: specs.OpNotEqual}}},
			{Names: []string{"read"}, Action: specs.ActTrap},
			{Names: []string{"lseek"}, Action: specs.ActKillProcess, Args: []specs.LinuxSeccompArg{{Index: 1, Value: big, Op: specs.OpGreaterThan}}},
			{Names: []string{"lseek"}, Action: specs.ActLog, Args: []specs.LinuxSeccompArg{{Index: 1, Value: big, Op: specs.OpGreaterEqual}}},
			{Names: []string{"lseek"}, Action: specs.ActTrace, Args: []specs.LinuxSeccompArg{{Index: 1, Value: big, Op: specs.OpLessThan}}},
		},
	}
	prog, err := compileSeccomp(prof)
	if err != nil {
		t.Fatal(err)
	}
	const x64 = archX64
	for _, c := range []struct {
		what string
		arch uint32
		nr   uint32
		args []uint64
		want uint32
	}{
		{"allowed", x64, 39, nil, retAllow},
		{"not in the profile: default errno", x64, 100, nil, retErrno | 38},
		{"errnoRet", x64, 1, nil, retErrno | 5},
		{"another architecture", 0x40000003, 39, nil, retErrno | 38},
		{"an x32 number", x64, 39 | x32Bit, nil, retErrno | 38},
		{"masked: no namespace flags", x64, 56, []uint64{0x11}, retAllow},
		{"masked: CLONE_NEWNS", x64, 56, []uint64{0x20000}, retErrno | 38},
		{"masked: high word ignored by the mask", x64, 56, []uint64{1 << 40}, retAllow},
		{"eq", x64, 135, []uint64{8}, retAllow},
		{"eq, 64-bit", x64, 135, []uint64{big}, retAllow},
		{"eq: low word alone is not enough", x64, 135, []uint64{5}, retErrno | 38},
		{"le and ne hold", x64, 0, []uint64{0, 0, big}, retAllow},
		{"le holds below in the high word", x64, 0, []uint64{0, 0, 0xffffffff}, retAllow},
		{"le fails: next rule", x64, 0, []uint64{0, 0, big + 1}, retTrap},
		{"ne fails: next rule", x64, 0, []uint64{3, 0, 1}, retTrap},
		{"ne holds on the high word", x64, 0, []uint64{3 | 1<<32, 0, 1}, retAllow},
		{"gt", x64, 8, []uint64{0, big + 1}, retKillProcess},
		{"gt by the high word", x64, 8, []uint64{0, 2 << 32}, retKillProcess},
		{"ge, equal", x64, 8, []uint64{0, big}, retLog},
		{"lt", x64, 8, []uint64{0, big - 1}, retTrace | 1},
		{"lt by the high word", x64, 8, []uint64{0, 0xffffffff}, retTrace | 1},
	} {
		if got := run(t, prog, c.arch, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.what, got, c.want)
		}
	}
}

func TestCompileSeccompErrors(t *testing.T) {
	useTestSyscalls(t)
	for _, c := range []struct {
		prof  specs.LinuxSeccomp
		field string
	}{
		{specs.LinuxSeccomp{}, "linux.seccomp.defaultAction"},
		{specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_NOPE"}, "linux.seccomp.defaultAction"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/agent"}, "linux.seccomp.listenerPath"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{"NOPE"}}, "linux.seccomp.flags[0]"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_VAX"}}, "linux.seccomp.architectures[0]"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Action: specs.ActAllow}}}, "linux.seccomp.syscalls[0].names"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActNotify}}}, "linux.seccomp.syscalls[0].action"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 6, Op: specs.OpEqualTo}}}}}, "linux.seccomp.syscalls[0].args[0].index"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Op: "SCMP_CMP_NOPE"}}}}}, "linux.seccomp.syscalls[0].args[0].op"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: uptr(70000)}, "linux.seccomp.defaultAction"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, DefaultErrnoRet: uptr(1)}, "linux.seccomp.defaultAction"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActKill, ErrnoRet: uptr(1)}}}, "linux.seccomp.syscalls[0].action"},
	} {
		_, err := compileSeccomp(&c.prof)
		if err == nil || !strings.Contains(err.Error(), "config.json: "+c.field+":") {
			t.Errorf("%+v: error %v, want one naming %s", c.prof, err, c.field)
		}
	}
}
