/*
 * avxsig: a signal handler does not change the interrupted code's AVX
 * registers: the signal frame holds the whole xsave state (UC_FP_XSTATE,
 * FP_XSTATE_MAGIC1 in the software-reserved words, the upper halves of the
 * ymm registers in the AVX component), rt_sigreturn loads it back,
 * including what the handler wrote into the frame, and a legacy frame
 * (magic1 cleared) restores only what fxsave covers. On a CPU without AVX
 * there is nothing to check; the output is the same either way.
 */
#include "check.h"

#include <cpuid.h>
#include <signal.h>
#include <stdint.h>
#include <ucontext.h>

#ifndef FP_XSTATE_MAGIC1
#define FP_XSTATE_MAGIC1 0x46505853u
#endif
#define UC_FP_XSTATE 0x1
#define AVX_OFFSET 576 /* the AVX component (ymm upper halves) in standard format */

static int have_avx(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_AVX) || !(c & bit_OSXSAVE))
		return 0;
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

static unsigned char seen_upper[16];
static int seen_magic, seen_flags, mode;

static void handler(int sig, siginfo_t *si, void *ucv)
{
	(void)sig;
	(void)si;
	ucontext_t *uc = ucv;
	unsigned char *fp = (unsigned char *)uc->uc_mcontext.fpregs;
	seen_flags = (uc->uc_flags & UC_FP_XSTATE) != 0;
	seen_magic = *(uint32_t *)(fp + 464) == FP_XSTATE_MAGIC1;
	if (seen_magic) {
		memcpy(seen_upper, fp + AVX_OFFSET + 15 * 16, 16);
		if (mode == 1) /* what the handler writes into the frame is loaded */
			memset(fp + AVX_OFFSET + 15 * 16, 0x77, 16);
		if (mode == 2) /* a frame without magic1 is a legacy one */
			*(uint32_t *)(fp + 464) = 0;
	}
	/* Clobber ymm15 whole, as any AVX code in a handler may. */
	__asm__ volatile("vpcmpeqd %%ymm15, %%ymm15, %%ymm15" ::: "xmm15");
}

/* round loads ymm15 with in, sends itself SIGUSR1 with a raw tgkill (the
 * handler runs on the way out of it) and stores ymm15 into out, all in one
 * asm block so that nothing else touches the register. */
static void round_trip(const unsigned char *in, unsigned char *out)
{
	long pid = getpid(), tid = syscall(SYS_gettid);
	__asm__ volatile("vmovdqu (%[in]), %%ymm15\n\t"
			 "syscall\n\t"
			 "vmovdqu %%ymm15, (%[out])\n\t"
			 "vzeroupper"
			 :
			 : [in] "r"(in), [out] "r"(out), "a"((long)SYS_tgkill), "D"(pid), "S"(tid), "d"((long)SIGUSR1)
			 : "rcx", "r11", "memory", "xmm15");
}

int main(void)
{
	if (have_avx()) {
		struct sigaction sa = {0};
		sa.sa_sigaction = handler;
		sa.sa_flags = SA_SIGINFO;
		MUST(sigaction(SIGUSR1, &sa, NULL));
		unsigned char in[32], out[32];
		for (int i = 0; i < 32; i++)
			in[i] = (unsigned char)(i + 1);

		mode = 0;
		round_trip(in, out);
		CHECK(seen_flags && seen_magic);
		CHECKF(memcmp(seen_upper, in + 16, 16) == 0, "the frame holds ymm15's upper half");
		CHECKF(memcmp(in, out, 32) == 0, "ymm15 after the handler: byte 16 is %d, want %d", out[16], in[16]);

		mode = 1;
		round_trip(in, out);
		unsigned char want[16];
		memset(want, 0x77, sizeof want);
		CHECKF(memcmp(out, in, 16) == 0 && memcmp(out + 16, want, 16) == 0, "the frame's upper half was loaded");

		mode = 2;
		round_trip(in, out);
		unsigned char zero[16] = {0};
		CHECKF(memcmp(out, in, 16) == 0 && memcmp(out + 16, zero, 16) == 0,
		       "a legacy frame leaves the upper half in its initial state: byte 16 is %d", out[16]);
	}
	printf("avx state across a signal handler: checked\n");
	return check_done("avxsig");
}
