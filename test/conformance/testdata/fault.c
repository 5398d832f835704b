/*
 * fault: faulting instructions become signals with the siginfo Linux gives:
 * SIGSEGV (SEGV_MAPERR, SEGV_ACCERR for a write to a read-only page, a read
 * of a PROT_NONE page and a jump into a non-executable page, SI_KERNEL for a
 * privileged instruction), SIGBUS (BUS_ADRERR past the end of a mapped
 * file), SIGFPE (FPE_INTDIV), SIGILL (ILL_ILLOPN from ud2), SIGTRAP (int3).
 * Handlers recover with siglongjmp, or by editing the saved registers and
 * returning; a stack overflow is caught on an alternate stack; a fault while
 * SIGSEGV is blocked, or without a handler, kills a child with SIGSEGV.
 */
#include "check.h"
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <ucontext.h>

static sigjmp_buf env;
static volatile int got_sig, got_code;
static void *volatile got_addr;
static volatile uintptr_t got_rip;
static volatile int on_alt;
static char altstack[64 * 1024];

static void handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	int local;
	got_sig = si->si_signo;
	got_code = si->si_code;
	got_addr = si->si_addr;
	got_rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	on_alt = (uintptr_t)&local >= (uintptr_t)altstack && (uintptr_t)&local < (uintptr_t)altstack + sizeof altstack;
	(void)sig;
	siglongjmp(env, 1);
}

static void install(int sig, void (*h)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void reset(void)
{
	got_sig = got_code = 0;
	got_addr = NULL;
	got_rip = 0;
	on_alt = 0;
}

static void segv(void)
{
	install(SIGSEGV, handler, 0);
	char *page = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(page != MAP_FAILED);
	CHECK(munmap(page + 4096, 4096) == 0); /* a hole in the middle */
	char *hole = page + 4096 + 123;

	reset();
	if (sigsetjmp(env, 1) == 0) {
		*(volatile char *)hole = 1;
		CHECK(!"write to an unmapped page did not fault");
	}
	CHECK(got_sig == SIGSEGV && got_code == SEGV_MAPERR && got_addr == hole);
	printf("write to an unmapped page: SIGSEGV SEGV_MAPERR, si_addr exact: %s\n", yesno(got_addr == hole));

	reset();
	if (sigsetjmp(env, 1) == 0) {
		(void)*(volatile char *)hole;
		CHECK(!"read of an unmapped page did not fault");
	}
	CHECK(got_sig == SIGSEGV && got_code == SEGV_MAPERR && got_addr == hole);

	/* The mask was restored by siglongjmp: a second fault is caught too. */
	reset();
	if (sigsetjmp(env, 1) == 0) {
		*(volatile int *)16 = 1;
		CHECK(!"write to address 16 did not fault");
	}
	CHECK(got_sig == SIGSEGV && got_code == SEGV_MAPERR && got_addr == (void *)16);

	char *ro = page + 2 * 4096;
	CHECK(mprotect(ro, 4096, PROT_READ) == 0);
	reset();
	if (sigsetjmp(env, 1) == 0) {
		*(volatile char *)(ro + 8) = 1;
		CHECK(!"write to a read-only page did not fault");
	}
	CHECK(got_sig == SIGSEGV && got_code == SEGV_ACCERR && got_addr == ro + 8);
	CHECK(*(volatile char *)(ro + 8) == 0); /* reading it is fine */
	printf("write to a PROT_READ page: SIGSEGV SEGV_ACCERR: %s\n", yesno(got_code == SEGV_ACCERR));

	CHECK(mprotect(ro, 4096, PROT_NONE) == 0);
	reset();
	if (sigsetjmp(env, 1) == 0) {
		(void)*(volatile char *)(ro + 100);
		CHECK(!"read of a PROT_NONE page did not fault");
	}
	CHECK(got_sig == SIGSEGV && got_code == SEGV_ACCERR && got_addr == ro + 100);

	/* Jumping into a readable, non-executable page. */
	CHECK(mprotect(ro, 4096, PROT_READ | PROT_WRITE) == 0);
	ro[0] = (char)0xc3; /* ret */
	CHECK(mprotect(ro, 4096, PROT_READ) == 0);
	reset();
	if (sigsetjmp(env, 1) == 0) {
		((void (*)(void))ro)();
		CHECK(!"a call into a non-executable page did not fault");
	}
	CHECK(got_sig == SIGSEGV && got_code == SEGV_ACCERR && got_addr == ro && got_rip == (uintptr_t)ro);
	/* The same page made executable runs. */
	CHECK(mprotect(ro, 4096, PROT_READ | PROT_EXEC) == 0);
	((void (*)(void))ro)();
	puts("read of PROT_NONE, jump to non-executable: SEGV_ACCERR; PROT_EXEC runs");

	/* A privileged instruction: SIGSEGV with SI_KERNEL and no address. */
	reset();
	if (sigsetjmp(env, 1) == 0) {
		__asm__ volatile("hlt");
		CHECK(!"hlt did not fault");
	}
	CHECK(got_sig == SIGSEGV && got_code == SI_KERNEL && got_addr == NULL);
	puts("hlt: SIGSEGV SI_KERNEL");
	munmap(page, 3 * 4096);
}

static void bus(const char *self)
{
	install(SIGBUS, handler, 0);
	int fd = open(self, O_RDONLY);
	CHECK(fd >= 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	size_t inside = (st.st_size + 4095) & ~(size_t)4095;
	char *m = mmap(NULL, inside + 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(m != MAP_FAILED);
	close(fd);
	CHECK(memcmp(m + 1, "ELF", 3) == 0);
	if ((size_t)st.st_size < inside)
		CHECK(m[inside - 1] == 0); /* the rest of the last page reads as zeros */
	reset();
	if (sigsetjmp(env, 1) == 0) {
		(void)*(volatile char *)(m + inside + 10);
		CHECK(!"read past the end of the file did not fault");
	}
	CHECK(got_sig == SIGBUS && got_code == BUS_ADRERR && got_addr == m + inside + 10);
	printf("read of a mapped page past EOF: SIGBUS BUS_ADRERR: %s\n", yesno(got_code == BUS_ADRERR));
	munmap(m, inside + 4096);
}

static volatile int zero = 0, minus_one = -1, int_min = -2147483647 - 1;

static void fpe(void)
{
	install(SIGFPE, handler, 0);
	reset();
	if (sigsetjmp(env, 1) == 0) {
		volatile int q = 7 / zero;
		(void)q;
		CHECK(!"division by zero did not fault");
	}
	CHECK(got_sig == SIGFPE && got_code == FPE_INTDIV);
	printf("integer division by zero: SIGFPE FPE_INTDIV: %s\n", yesno(got_code == FPE_INTDIV));
	reset();
	if (sigsetjmp(env, 1) == 0) {
		volatile int q = int_min / minus_one; /* overflow: #DE as well */
		(void)q;
		CHECK(!"INT_MIN / -1 did not fault");
	}
	CHECK(got_sig == SIGFPE && got_code == FPE_INTDIV);
}

/* Labels placed on single instructions, so the handler can check RIP. */
extern char ud2_insn[], int3_insn[], int3_after[];

__attribute__((noinline, noclone)) static long ud2_then_rax(void)
{
	long rax;
	__asm__ volatile(".globl ud2_insn\n"
			 "ud2_insn: ud2\n"
			 : "=a"(rax)
			 : "a"(0L)
			 : "memory");
	return rax;
}

__attribute__((noinline, noclone)) static void trap(void)
{
	__asm__ volatile(".globl int3_insn\n"
			 ".globl int3_after\n"
			 "int3_insn: int3\n"
			 "int3_after: nop\n" ::
				 : "memory");
}

/* Skip the faulting ud2 (2 bytes) and return 1234 in rax through the context. */
static void ill_resume(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig;
	got_sig = si->si_signo;
	got_code = si->si_code;
	got_addr = si->si_addr;
	got_rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	uc->uc_mcontext.gregs[REG_RIP] += 2;
	uc->uc_mcontext.gregs[REG_RAX] = 1234;
}

static void trap_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	(void)sig;
	got_sig = si->si_signo;
	got_code = si->si_code;
	got_rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
}

static void ill_trap(void)
{
	install(SIGILL, handler, 0);
	reset();
	if (sigsetjmp(env, 1) == 0) {
		ud2_then_rax();
		CHECK(!"ud2 did not fault");
	}
	CHECK(got_sig == SIGILL && got_code == ILL_ILLOPN);
	CHECK(got_addr == (void *)ud2_insn && got_rip == (uintptr_t)ud2_insn);
	printf("ud2: SIGILL ILL_ILLOPN at the instruction: %s\n", yesno(got_rip == (uintptr_t)ud2_insn));

	install(SIGILL, ill_resume, 0);
	reset();
	long rax = ud2_then_rax();
	CHECK(got_sig == SIGILL && rax == 1234);
	printf("ud2: handler edited RIP and RAX in the context, execution resumed with rax=%ld\n", rax);

	install(SIGTRAP, trap_handler, 0);
	reset();
	trap();
	CHECK(got_sig == SIGTRAP && got_code == SI_KERNEL);
	CHECK(got_rip == (uintptr_t)int3_after); /* RIP is past the int3 */
	printf("int3: SIGTRAP SI_KERNEL, handled, resumed after the int3: %s\n", yesno(got_rip == (uintptr_t)int3_after));
}

/* A stack overflow is caught by a handler on the alternate stack. */
static volatile int depth;

__attribute__((noinline)) static int recurse(int n)
{
	volatile char buf[1024];
	buf[0] = (char)n;
	depth = n;
	if (n > 100000000)
		return 0; /* never: the stack ends long before */
	return recurse(n + 1) + buf[0];
}

static void overflow(void)
{
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
	CHECK(sigaltstack(&ss, NULL) == 0);
	install(SIGSEGV, handler, SA_ONSTACK);
	struct rlimit old, small;
	CHECK(getrlimit(RLIMIT_STACK, &old) == 0);
	small = old;
	if (small.rlim_cur == RLIM_INFINITY || small.rlim_cur > (1 << 20))
		small.rlim_cur = 1 << 20;
	CHECK(setrlimit(RLIMIT_STACK, &small) == 0);
	reset();
	if (sigsetjmp(env, 1) == 0) {
		recurse(0);
		CHECK(!"infinite recursion returned");
	}
	CHECK(got_sig == SIGSEGV && on_alt);
	CHECK(depth > 100);
	CHECK(setrlimit(RLIMIT_STACK, &old) == 0);
	stack_t off = {.ss_flags = SS_DISABLE};
	CHECK(sigaltstack(&off, NULL) == 0);
	printf("stack overflow: SIGSEGV handled on the alternate stack: %s\n", yesno(on_alt));
}

/* A fault with SIGSEGV blocked, or with no handler, kills the process. */
static void fatal(void)
{
	int st;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		install(SIGSEGV, handler, 0);
		sigset_t b;
		sigemptyset(&b);
		sigaddset(&b, SIGSEGV);
		sigprocmask(SIG_BLOCK, &b, NULL);
		*(volatile int *)16 = 1;
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_IGN); /* ignoring a fault does not help either */
		*(volatile int *)16 = 1;
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGFPE, SIG_DFL);
		volatile int q = 7 / zero;
		(void)q;
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGFPE, "status %#x", st);
	puts("a fault with SIGSEGV blocked or ignored, or SIGFPE by default: the child dies of the signal");
}

int main(int argc, char **argv)
{
	(void)argc;
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);
	segv();
	bus(argv[0]);
	fpe();
	ill_trap();
	overflow();
	fatal();
	return check_done("fault");
}
