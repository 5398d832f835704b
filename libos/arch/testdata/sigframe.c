// sigframe.c records the signal frames the host kernel builds, so that the
// Go tests can check arch.SetupSignalFrame and arch.RestoreSignalFrame
// against the real thing rather than against our reading of signal.c.
//
// Signals are raised by a `syscall` (kill) issued with known values in
// every register it does not clobber, so the saved context can be compared
// word for word. A handler entry stub written in assembly records rsp and
// eflags at the handler's first instruction, before any compiled code
// touches them. Everything is printed as "scenario.key=hex" lines after the
// handlers have run (printf is not async-signal-safe).
//
// Build with -mno-red-zone: raise_known pushes below its own frame.
#define _GNU_SOURCE
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define FRAME_SIZE 440 /* sizeof(struct rt_sigframe) on x86-64 */
#define FP_XSTATE_MAGIC1 0x46505853U

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

/* Written by the assembly stubs; global so that asm can name them. */
uint64_t entry_rsp, entry_flags; /* at the handler's first instruction */
uint64_t pre_rsp;                /* rsp at the raising syscall */
uint64_t post_flags;             /* eflags right after sigreturn came back */
extern char after_syscall[], sig_entry[];

struct capture {
	int valid;
	uint64_t entry_rsp, entry_flags, pre_rsp;
	uint64_t info, uc, signo;
	uint64_t mask_before; /* blocked mask when the signal was raised */
	uint64_t fpstate, xsize; /* xsize: the kernel's FP area size */
	unsigned char frame[FRAME_SIZE];
	unsigned char modified[FRAME_SIZE]; /* frame after the handler edited it */
	stack_t ss_in_handler;
};

static struct capture caps[8];
static int cur; /* capture slot of the next signal */
static int mode; /* what the handler does besides capturing */
static uint64_t mask_before;

enum { M_CAPTURE, M_EDIT_FLAGS, M_NEST, M_QUERY_SS };

asm(".text\n"
    ".globl sig_entry\n"
    "sig_entry:\n"
    "	movq %rsp, entry_rsp(%rip)\n"
    "	pushfq\n"
    "	popq entry_flags(%rip)\n"
    "	jmp sig_handler\n");

static uint64_t blocked_mask(void) {
	uint64_t m = 0;
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &m, 8);
	return m;
}

/* The saved registers: rax=62 (kill) comes back as 0, rcx and r11 are
 * clobbered by the syscall instruction, the rest are these. DF is set
 * across the syscall so that the frame has it and the handler must not. */
__attribute__((noinline, noclone)) static void raise_known(int sig) {
	/* No calls once the register variables are set: a call would clobber
	 * them, and GCC only ties them to registers at the asm itself. */
	uint64_t pid = (uint64_t)getpid();
	mask_before = blocked_mask();
	register uint64_t rax asm("rax") = SYS_kill;
	register uint64_t rdi asm("rdi") = pid;
	register uint64_t rsi asm("rsi") = (uint64_t)sig;
	register uint64_t rdx asm("rdx") = 0x0d0d0d0d0d0d0d0dULL;
	register uint64_t r8 asm("r8") = 0x0808080808080808ULL;
	register uint64_t r9 asm("r9") = 0x0909090909090909ULL;
	register uint64_t r10 asm("r10") = 0x1010101010101010ULL;
	register uint64_t r12 asm("r12") = 0x1212121212121212ULL;
	register uint64_t r13 asm("r13") = 0x1313131313131313ULL;
	register uint64_t r14 asm("r14") = 0x1414141414141414ULL;
	register uint64_t r15 asm("r15") = 0x1515151515151515ULL;
	asm volatile("push %%rbx\n"
		     "push %%rbp\n"
		     "movabs $0x0b0b0b0b0b0b0b0b, %%rbx\n"
		     "movabs $0x0e0e0e0e0e0e0e0e, %%rbp\n"
		     "movq %%rsp, pre_rsp(%%rip)\n"
		     "std\n"
		     "syscall\n"
		     ".globl after_syscall\n"
		     "after_syscall:\n"
		     "pushfq\n"
		     "popq post_flags(%%rip)\n"
		     "cld\n"
		     "pop %%rbp\n"
		     "pop %%rbx\n"
		     : "+r"(rax), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(r8), "+r"(r9), "+r"(r10),
		       "+r"(r12), "+r"(r13), "+r"(r14), "+r"(r15)
		     :
		     : "rcx", "r11", "memory", "cc");
}

__attribute__((used)) void sig_handler(int sig, siginfo_t *info, void *ucv) {
	ucontext_t *uc = ucv;
	struct capture *c = &caps[cur++];
	c->valid = 1;
	c->entry_rsp = entry_rsp;
	c->entry_flags = entry_flags;
	c->pre_rsp = pre_rsp;
	c->info = (uint64_t)info;
	c->uc = (uint64_t)uc;
	c->signo = (uint64_t)sig;
	c->mask_before = mask_before;
	memcpy(c->frame, (void *)entry_rsp, FRAME_SIZE);
	c->fpstate = (uint64_t)uc->uc_mcontext.fpregs;
	c->xsize = 512;
	if (c->fpstate) {
		/* struct _fpx_sw_bytes at offset 464: magic1, extended_size. */
		uint32_t *sw = (uint32_t *)(c->fpstate + 464);
		if (sw[0] == FP_XSTATE_MAGIC1)
			c->xsize = sw[1];
	}
	switch (mode) {
	case M_EDIT_FLAGS:
		/* Try to set what sigreturn must refuse (IF off, NT, IOPL 3)
		 * together with arithmetic flags it must accept. */
		uc->uc_mcontext.gregs[REG_EFL] =
		    (uc->uc_mcontext.gregs[REG_EFL] & ~0x200ULL) | 0x4000 | 0x3000 | 0x8d5;
		memcpy(c->modified, (void *)entry_rsp, FRAME_SIZE);
		break;
	case M_NEST:
		mode = M_CAPTURE;
		raise_known(SIGUSR2);
		break;
	case M_QUERY_SS:
		sigaltstack(NULL, &c->ss_in_handler);
		break;
	}
}

static void hex(const char *name, const char *key, const unsigned char *b, size_t n) {
	printf("%s.%s=", name, key);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("\n");
}

static void dump(const char *name, struct capture *c) {
	if (!c->valid) {
		printf("%s.missing=1\n", name);
		return;
	}
	printf("%s.entry_rsp=%lx\n", name, c->entry_rsp);
	printf("%s.entry_flags=%lx\n", name, c->entry_flags);
	printf("%s.pre_rsp=%lx\n", name, c->pre_rsp);
	printf("%s.info=%lx\n", name, c->info);
	printf("%s.uc=%lx\n", name, c->uc);
	printf("%s.signo=%lx\n", name, c->signo);
	printf("%s.mask_before=%lx\n", name, c->mask_before);
	printf("%s.fpstate=%lx\n", name, c->fpstate);
	printf("%s.xsize=%lx\n", name, c->xsize);
	hex(name, "frame", c->frame, FRAME_SIZE);
}

static void install(int sig, int flags) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = (void (*)(int, siginfo_t *, void *))sig_entry;
	sa.sa_flags = SA_SIGINFO | flags;
	if (sigaction(sig, &sa, NULL)) {
		perror("sigaction");
		exit(1);
	}
}

static void set_altstack(void *base, size_t size, int flags) {
	stack_t ss = {.ss_sp = base, .ss_size = size, .ss_flags = flags};
	if (sigaltstack(&ss, NULL)) {
		perror("sigaltstack");
		exit(1);
	}
}

static void disable_altstack(void) {
	stack_t ss = {.ss_flags = SS_DISABLE};
	sigaltstack(&ss, NULL);
}

int main(void) {
	static char alt[1 << 16] __attribute__((aligned(64)));
	stack_t ss;

	/* Static layout as glibc sees it; its ucontext_t starts like the
	 * kernel's struct ucontext, so these are the kernel's offsets too. */
	printf("layout.uc_flags=%zx\n", offsetof(ucontext_t, uc_flags));
	printf("layout.uc_link=%zx\n", offsetof(ucontext_t, uc_link));
	printf("layout.uc_stack=%zx\n", offsetof(ucontext_t, uc_stack));
	printf("layout.uc_mcontext=%zx\n", offsetof(ucontext_t, uc_mcontext));
	printf("layout.uc_sigmask=%zx\n", offsetof(ucontext_t, uc_sigmask));
	printf("layout.fpregs=%zx\n", offsetof(ucontext_t, uc_mcontext.fpregs));
	static const struct {
		const char *name;
		int reg;
	} regs[] = {
	    {"R8", REG_R8},     {"R9", REG_R9},   {"R10", REG_R10},       {"R11", REG_R11},
	    {"R12", REG_R12},   {"R13", REG_R13}, {"R14", REG_R14},       {"R15", REG_R15},
	    {"RDI", REG_RDI},   {"RSI", REG_RSI}, {"RBP", REG_RBP},       {"RBX", REG_RBX},
	    {"RDX", REG_RDX},   {"RAX", REG_RAX}, {"RCX", REG_RCX},       {"RSP", REG_RSP},
	    {"RIP", REG_RIP},   {"EFL", REG_EFL}, {"CSGSFS", REG_CSGSFS}, {"ERR", REG_ERR},
	    {"TRAPNO", REG_TRAPNO}, {"OLDMASK", REG_OLDMASK}, {"CR2", REG_CR2},
	};
	for (size_t i = 0; i < sizeof regs / sizeof regs[0]; i++)
		printf("layout.greg_%s=%zx\n", regs[i].name,
		       offsetof(ucontext_t, uc_mcontext.gregs) + 8 * (size_t)regs[i].reg);
	printf("layout.ss_sp=%zx\n", offsetof(stack_t, ss_sp));
	printf("layout.ss_flags=%zx\n", offsetof(stack_t, ss_flags));
	printf("layout.ss_size=%zx\n", offsetof(stack_t, ss_size));
	printf("layout.sizeof_stack=%zx\n", sizeof(stack_t));
	printf("layout.sizeof_siginfo=%zx\n", sizeof(siginfo_t));
	printf("layout.si_pid=%zx\n", offsetof(siginfo_t, si_pid));
	printf("layout.si_uid=%zx\n", offsetof(siginfo_t, si_uid));
	printf("layout.si_status=%zx\n", offsetof(siginfo_t, si_status));
	printf("layout.si_utime=%zx\n", offsetof(siginfo_t, si_utime));
	printf("layout.si_stime=%zx\n", offsetof(siginfo_t, si_stime));
	printf("layout.si_value=%zx\n", offsetof(siginfo_t, si_value));
	printf("layout.si_timerid=%zx\n", offsetof(siginfo_t, si_timerid));
	printf("layout.si_overrun=%zx\n", offsetof(siginfo_t, si_overrun));
	printf("layout.si_addr=%zx\n", offsetof(siginfo_t, si_addr));
	printf("layout.si_band=%zx\n", offsetof(siginfo_t, si_band));
	printf("layout.si_fd=%zx\n", offsetof(siginfo_t, si_fd));
	printf("layout.si_call_addr=%zx\n", offsetof(siginfo_t, si_call_addr));
	printf("layout.si_syscall=%zx\n", offsetof(siginfo_t, si_syscall));
	printf("layout.si_arch=%zx\n", offsetof(siginfo_t, si_arch));
	printf("env.pid=%x\n", getpid());
	printf("env.uid=%x\n", getuid());
	printf("env.after_syscall=%lx\n", (uint64_t)after_syscall);
	printf("env.sig_entry=%lx\n", (uint64_t)sig_entry);
	printf("env.alt=%lx\n", (uint64_t)alt);
	printf("env.alt_size=%zx\n", sizeof alt);

	/* plain: no alternate stack, the frame goes below the red zone. */
	install(SIGUSR1, 0);
	cur = 0, mode = M_CAPTURE;
	raise_known(SIGUSR1);
	dump("plain", &caps[0]);
	printf("plain.post_flags=%lx\n", post_flags);

	/* edit: the handler forges eflags; see what sigreturn keeps. */
	cur = 1, mode = M_EDIT_FLAGS;
	raise_known(SIGUSR1);
	dump("edit", &caps[1]);
	hex("edit", "modified", caps[1].modified, FRAME_SIZE);
	printf("edit.post_flags=%lx\n", post_flags);

	/* alt: SA_ONSTACK with an armed alternate stack. */
	set_altstack(alt, sizeof alt, 0);
	install(SIGUSR1, SA_ONSTACK);
	cur = 2, mode = M_CAPTURE;
	raise_known(SIGUSR1);
	dump("alt", &caps[2]);

	/* nested: from a handler on the alternate stack, a second SA_ONSTACK
	 * signal stays on it, below the interrupted rsp. */
	install(SIGUSR2, SA_ONSTACK);
	cur = 3, mode = M_NEST;
	raise_known(SIGUSR1);
	dump("outer", &caps[3]);
	dump("nested", &caps[4]);

	/* autodisarm: the frame records the stored flags, the stack is
	 * disarmed while the handler runs and re-armed by sigreturn. */
	set_altstack(alt, sizeof alt, SS_AUTODISARM);
	cur = 5, mode = M_QUERY_SS;
	raise_known(SIGUSR1);
	dump("autodisarm", &caps[5]);
	printf("autodisarm.handler_ss_flags=%x\n", (unsigned)caps[5].ss_in_handler.ss_flags);
	printf("autodisarm.handler_ss_size=%zx\n", caps[5].ss_in_handler.ss_size);
	sigaltstack(NULL, &ss);
	printf("autodisarm.after_ss_flags=%x\n", (unsigned)ss.ss_flags);
	printf("autodisarm.after_ss_size=%zx\n", ss.ss_size);

	/* disarm_noonstack: a handler without SA_ONSTACK also disarms an
	 * SS_AUTODISARM stack (Linux does it for every delivery). */
	install(SIGUSR1, 0);
	cur = 6, mode = M_QUERY_SS;
	raise_known(SIGUSR1);
	dump("noonstack", &caps[6]);
	printf("noonstack.handler_ss_flags=%x\n", (unsigned)caps[6].ss_in_handler.ss_flags);
	printf("noonstack.handler_ss_size=%zx\n", caps[6].ss_in_handler.ss_size);
	disable_altstack();
	return 0;
}
