package loader

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"

	"exokernelul.dev/exo/libos/mm"
)

// Auxiliary vector tags (include/uapi/linux/auxvec.h).
const (
	atNull        = 0
	atPhdr        = 3
	atPhent       = 4
	atPhnum       = 5
	atPagesz      = 6
	atBase        = 7
	atFlags       = 8
	atEntry       = 9
	atUID         = 11
	atEUID        = 12
	atGID         = 13
	atEGID        = 14
	atPlatform    = 15
	atHWCap       = 16
	atClkTck      = 17
	atSecure      = 23
	atRandom      = 25
	atHWCap2      = 26
	atExecFn      = 31
	atSysinfoEhdr = 33
	atMinSigStkSz = 51
)

// buildStack writes strings, the random bytes, auxv, envp, argv and argc
// below mm.StackTop, and returns the initial stack pointer (at argc,
// 16-byte aligned as the ABI requires at process entry). vdso is the vDSO
// image's address, 0 if there is none.
func buildStack(m *mm.MemoryManager, exe loaded, interpBase, vdso uint64, a Args) (uint64, error) {
	total := len(a.Filename) + 1 + len("x86_64") + 1 + 16
	for _, s := range a.Argv {
		total += len(s) + 1
	}
	for _, s := range a.Envv {
		total += len(s) + 1
	}
	if total > maxArgBytes {
		return 0, unix.E2BIG
	}
	sp := uint64(mm.StackTop)
	push := func(b []byte) (uint64, error) {
		sp -= uint64(len(b))
		if _, err := m.CopyOut(sp, b); err != nil {
			return 0, fmt.Errorf("write initial stack: %w", err)
		}
		return sp, nil
	}
	pushString := func(s string) (uint64, error) { return push(append([]byte(s), 0)) }

	execfn, err := pushString(a.Filename)
	if err != nil {
		return 0, err
	}
	envp := make([]uint64, len(a.Envv))
	for i := len(a.Envv) - 1; i >= 0; i-- {
		if envp[i], err = pushString(a.Envv[i]); err != nil {
			return 0, err
		}
	}
	argv := make([]uint64, len(a.Argv))
	for i := len(a.Argv) - 1; i >= 0; i-- {
		if argv[i], err = pushString(a.Argv[i]); err != nil {
			return 0, err
		}
	}
	platform, err := pushString("x86_64")
	if err != nil {
		return 0, err
	}
	random, err := push(a.Random[:])
	if err != nil {
		return 0, err
	}

	var auxv []uint64
	if vdso != 0 {
		// First, where Linux puts it (ARCH_DLINFO).
		auxv = append(auxv, atSysinfoEhdr, vdso)
	}
	auxv = append(auxv,
		atPhdr, exe.phdr,
		atPhent, 56,
		atPhnum, uint64(exe.phnum),
		atPagesz, 4096,
		atBase, interpBase,
		atFlags, 0,
		atEntry, exe.entry,
		atUID, uint64(a.Creds[0]),
		atEUID, uint64(a.Creds[1]),
		atGID, uint64(a.Creds[2]),
		atEGID, uint64(a.Creds[3]),
		atSecure, 0,
		atRandom, random,
		atHWCap, a.HostAux.HWCap,
		atHWCap2, a.HostAux.HWCap2,
		atClkTck, 100,
		atPlatform, platform,
		atExecFn, execfn,
	)
	if a.HostAux.MinSigStkSz != 0 {
		auxv = append(auxv, atMinSigStkSz, a.HostAux.MinSigStkSz)
	}
	auxv = append(auxv, atNull, 0)

	words := make([]uint64, 0, 1+len(argv)+1+len(envp)+1+len(auxv))
	words = append(words, uint64(len(argv)))
	words = append(words, argv...)
	words = append(words, 0)
	words = append(words, envp...)
	words = append(words, 0)
	words = append(words, auxv...)

	sp &^= 15
	sp -= uint64(len(words)) * 8
	sp &^= 15
	buf := make([]byte, len(words)*8)
	for i, w := range words {
		binary.LittleEndian.PutUint64(buf[i*8:], w)
	}
	if _, err := m.CopyOut(sp, buf); err != nil {
		return 0, fmt.Errorf("write initial stack: %w", err)
	}
	return sp, nil
}
