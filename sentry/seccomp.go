package sentry

import (
	"fmt"

	"gvisor.dev/gvisor/pkg/bpf"

	"exokernelul.dev/exo/libos/kernel"
)

// SeccompInsn is one instruction of a classic BPF seccomp program (struct
// sock_filter).
type SeccompInsn struct {
	Code uint16 `json:"code"`
	JT   uint8  `json:"jt"`
	JF   uint8  `json:"jf"`
	K    uint32 `json:"k"`
}

// seccompFilter checks and compiles a container's filter as the kernel
// checks a workload's; nil for none.
func seccompFilter(prog []SeccompInsn) (*kernel.SeccompFilter, error) {
	if len(prog) == 0 {
		return nil, nil
	}
	insns := make([]bpf.Instruction, len(prog))
	for i, in := range prog {
		insns[i] = bpf.Instruction{OpCode: in.Code, JumpIfTrue: in.JT, JumpIfFalse: in.JF, K: in.K}
	}
	f, err := kernel.CompileSeccompFilter(insns)
	if err != nil {
		return nil, fmt.Errorf("seccomp filter of %d instructions: %w", len(prog), err)
	}
	return f, nil
}
