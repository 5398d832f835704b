#include "textflag.h"

// func rdtscOrdered() uint64
//
// LFENCE first: the TSC is read only once every earlier instruction,
// including the locked sequence update before it in publish, has
// completed.
TEXT ·rdtscOrdered(SB), NOSPLIT|NOFRAME, $0-8
	LFENCE
	RDTSC
	SHLQ	$32, DX
	ORQ	DX, AX
	MOVQ	AX, ret+0(FP)
	RET
