// The systrap stub: freestanding, position-independent code that runs in
// every stub process. genstub compiles it into stub_amd64.go; nothing here
// may need relocations, writable globals or libc.
//
// Threads of a stub process:
//   - the first thread, after setup, is the address-space worker: a loop
//     in assembly that keeps all its state in registers (nothing another
//     thread could overwrite) and runs the batches of mmap, munmap,
//     mprotect and clone the sentry writes into the read-only config page;
//   - every other thread runs one workload thread. It sits in handler()
//     whenever the sentry owns its registers.

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;

// Layout shared with systrap.go (checked by a test through stub_layout).
#define STUB_BASE 0x7ff000000000UL
#define CTL_BASE 0x7ff010000000UL
#define PAGE 0x1000UL
#define SLOT_SIZE 0x10000UL
#define NSLOTS 1024UL
#define CTL_SIZE (SLOT_SIZE * (NSLOTS + 1))
#define TASK_SIZE 0x7ffffffff000UL
#define REQ_MAX 32
// Read-only in the stub: the config page and the table of each slot's
// stack_t; then the results page, writable.
#define ALTSTACKS_OFF 0x1000UL
#define RESULTS_OFF 0x7000UL
#define MEM_FD 0
#define CTL_FD 1
#define DONE_FD 2

#define STATE_DEAD 0
#define STATE_TRAPPED 1
#define STATE_RUN 2
#define STATE_EXIT 3

#define NR_write 1
#define NR_mmap 9
#define NR_munmap 11
#define NR_rt_sigaction 13
#define NR_rt_sigprocmask 14
#define NR_rt_sigreturn 15
#define NR_getpid 39
#define NR_clone 56
#define NR_exit 60
#define NR_exit_group 231
#define NR_sigaltstack 131
#define NR_prctl 157
#define NR_arch_prctl 158
#define NR_futex 202
#define NR_seccomp 317

struct sock_fprog {
	u16 len;
	u64 filter;
};

struct request {
	u64 nr;
	u64 args[6];
};

// Page 0 of the control file: written by the sentry, read-only here.
struct config {
	u32 unused;
	u32 fsgsbase;  // rd/wrfsbase usable
	struct sock_fprog process_prog;
	struct sock_fprog thread_prog;
	u32 req_seq;   // bumped by the sentry for each batch
	u32 req_count;
	struct request reqs[REQ_MAX];
};

// The head of each thread slot.
struct msg {
	u32 state;          // futex word; CLONE_CHILD_CLEARTID clears it
	u32 stub_waiting;
	u32 sentry_waiting;
	int signo;
	int code;
	int nr;
	u64 addr;
	u64 uc;
	u64 fsbase;
	u64 gsbase;
	u64 fsbase_cur;
	u32 spin;           // pause iterations before sleeping, set by the sentry
};

_Static_assert(__builtin_offsetof(struct config, req_seq) == 40, "config layout");
_Static_assert(__builtin_offsetof(struct config, reqs) == 48, "config layout");
_Static_assert(__builtin_offsetof(struct msg, addr) == 24, "msg layout");
_Static_assert(__builtin_offsetof(struct msg, fsbase_cur) == 56, "msg layout");

#define CFG ((volatile struct config *)CTL_BASE)

static inline long sc6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sc3(n, a, b, c) sc6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)

__attribute__((noreturn)) static void die(int code)
{
	for (;;)
		sc6(NR_exit_group, code, 0, 0, 0, 0, 0);
}

static inline u64 current_sp(void)
{
	u64 sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return sp;
}

static inline void futex_wait(volatile u32 *w, u32 val)
{
	sc6(NR_futex, (long)w, 0 /* FUTEX_WAIT */, val, 0, 0, 0);
}

static inline void futex_wake(volatile u32 *w)
{
	sc6(NR_futex, (long)w, 1 /* FUTEX_WAKE */, 1, 0, 0, 0);
}

struct kernel_sigaction {
	u64 handler;
	u64 flags;
	u64 restorer;
	u64 mask;
};

// Symbols defined in the assembly below.
__attribute__((visibility("hidden"))) void stub_restorer(void);
__attribute__((visibility("hidden"))) void stub_worker(void);

// handler runs, on the thread's alternate stack inside its slot, for every
// signal a workload thread gets: SIGSYS for a syscall, the fault signals,
// and the interrupt signal. It hands the ucontext to the sentry and waits
// until the sentry has replaced what it wants; returning makes the
// restorer's rt_sigreturn load that state.
__attribute__((used)) void stub_handler(int sig, void *info, void *uc)
{
	volatile struct msg *m = (volatile struct msg *)(current_sp() & ~(SLOT_SIZE - 1));
	const volatile struct config *cfg = CFG;
	m->signo = sig;
	m->code = *(int *)((char *)info + 8);
	m->addr = *(u64 *)((char *)info + 16);
	m->nr = *(int *)((char *)info + 24); // si_syscall for SIGSYS
	m->uc = (u64)uc;
	if (cfg->fsgsbase) {
		u64 fs, gs;
		__asm__ volatile("rdfsbase %0" : "=r"(fs));
		__asm__ volatile("rdgsbase %0" : "=r"(gs));
		m->fsbase = fs;
		m->gsbase = gs;
	}
	__atomic_store_n(&m->state, STATE_TRAPPED, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->sentry_waiting, __ATOMIC_SEQ_CST))
		futex_wake(&m->state);
	u32 s, spin = m->spin;
	for (;;) {
		s = __atomic_load_n(&m->state, __ATOMIC_SEQ_CST);
		if (s != STATE_TRAPPED)
			break;
		if (spin) {
			spin--;
			__asm__ volatile("pause");
			continue;
		}
		__atomic_store_n(&m->stub_waiting, 1, __ATOMIC_SEQ_CST);
		futex_wait(&m->state, STATE_TRAPPED);
		__atomic_store_n(&m->stub_waiting, 0, __ATOMIC_SEQ_CST);
	}
	if (s != STATE_RUN)
		for (;;)
			sc6(NR_exit, 0, 0, 0, 0, 0, 0);
	if (cfg->fsgsbase) {
		u64 fs = m->fsbase, gs = m->gsbase;
		__asm__ volatile("wrfsbase %0" ::"r"(fs));
		__asm__ volatile("wrgsbase %0" ::"r"(gs));
	} else if (m->fsbase != m->fsbase_cur) {
		sc6(NR_arch_prctl, 0x1002 /* ARCH_SET_FS */, m->fsbase, 0, 0, 0, 0);
		m->fsbase_cur = m->fsbase;
	}
}

// stub_thread continues a thread the worker cloned, on the small stack at
// the top of its slot's first page, once the assembly has given it its
// signal stack, unblocked signals and installed the thread filter, all
// before any use of memory another thread could write.
__attribute__((used, noreturn)) void stub_thread(void)
{
	// The first trap tells the sentry the thread is ready; the sentry
	// answers it with the workload's registers, so this never returns.
	for (;;)
		sc6(NR_getpid, 0, 0, 0, 0, 0, 0);
}

// stub_main sets up the process on the kernel's initial stack (sp: argc,
// then argv), then becomes the worker, which unmaps that stack.
__attribute__((used, noreturn)) void stub_main(u64 *sp)
{
	if (sc6(NR_prctl, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0, 0) != 0)
		die(10);
	// argv[1] names the workload process, so that host tools (ps,
	// docker top) show its name rather than every stub as exo-stub.
	if (sp[0] > 1)
		sc6(NR_prctl, 15 /* PR_SET_NAME */, (long)sp[2], 0, 0, 0, 0);
	if (sc6(NR_mmap, CTL_BASE, RESULTS_OFF, 1 /* PROT_READ */, 0x11 /* MAP_SHARED|MAP_FIXED */, CTL_FD, 0) != (long)CTL_BASE)
		die(11);
	if (sc6(NR_mmap, CTL_BASE + RESULTS_OFF, CTL_SIZE - RESULTS_OFF, 3 /* PROT_READ|PROT_WRITE */, 0x11, CTL_FD,
		RESULTS_OFF) != (long)(CTL_BASE + RESULTS_OFF))
		die(12);
	static const int sigs[] = {31 /* SIGSYS */, 11 /* SIGSEGV */, 7 /* SIGBUS */, 8 /* SIGFPE */,
				   4 /* SIGILL */, 5 /* SIGTRAP */, 17 /* SIGCHLD: interrupt */};
	// Filled field by field: an initializer with addresses would put a
	// relocated template in .data.
	struct kernel_sigaction sa;
	__asm__("lea stub_handler(%%rip), %0" : "=r"(sa.handler));
	__asm__("lea stub_restorer(%%rip), %0" : "=r"(sa.restorer));
	sa.flags = 0x4 | 0x08000000 | 0x04000000; // SA_SIGINFO|SA_ONSTACK|SA_RESTORER
	// Everything blocked while the sentry owns the thread: an interrupt
	// then waits for the next return to the workload.
	sa.mask = ~0UL;
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sc6(NR_rt_sigaction, sigs[i], (long)&sa, 0, 8, 0, 0) != 0)
			die(13);
	// The worker takes no signals: a signal for the process goes to a
	// workload thread, and cloned threads start with all blocked.
	u64 all = ~0UL;
	sc6(NR_rt_sigprocmask, 2 /* SIG_SETMASK */, (long)&all, 0, 8, 0, 0);
	if (sc6(NR_seccomp, 1 /* SECCOMP_SET_MODE_FILTER */, 0, (long)&CFG->process_prog, 0, 0, 0) != 0)
		die(14);
	stub_worker();
	die(15);
}

// done_values are what the worker writes to the done eventfd: 1 when a
// batch succeeded, 2+i when request i failed. They live in the read-only
// image so no other thread can change what the sentry reads.
__attribute__((used)) const u64 stub_done_values[REQ_MAX + 1] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
	18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
};

// stub_layout lets a test compare these constants with the Go side's.
__attribute__((used)) const u64 stub_layout[] = {
	STUB_BASE, CTL_BASE, SLOT_SIZE, NSLOTS, REQ_MAX, sizeof(struct config), sizeof(struct msg),
	ALTSTACKS_OFF, RESULTS_OFF,
};

// stub_zero is the empty signal mask a new thread sets.
__attribute__((used)) const u64 stub_zero = 0;

__asm__(
	".text\n"
	".globl _start\n"
	"_start:\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call stub_main\n"
	"	ud2\n"

	".globl stub_restorer\n"
	"stub_restorer:\n"
	"	mov $15, %eax\n" // rt_sigreturn
	"	syscall\n"
	"	ud2\n"

	// The worker. r12: last batch seen; rbx: config; rbp: results.
	".globl stub_worker\n"
	"stub_worker:\n"
	"	mov $11, %eax\n" // munmap everything below the stub
	"	xor %edi, %edi\n"
	"	movabs $0x7ff000000000, %rsi\n"
	"	syscall\n"
	"	mov $11, %eax\n" // and above the control file: stack, vDSO
	"	movabs $0x7ff014010000, %rdi\n" // CTL_BASE + CTL_SIZE
	"	movabs $0x7ffffffff000, %rsi\n"
	"	sub %rdi, %rsi\n"
	"	syscall\n"
	"	xor %esp, %esp\n" // no stack from here on
	"	movabs $0x7ff010000000, %rbx\n"
	"	movabs $0x7ff010007000, %rbp\n" // CTL_BASE + RESULTS_OFF
	"	xor %r12d, %r12d\n"
	"1:	mov 40(%rbx), %eax\n" // req_seq
	"	cmp %eax, %r12d\n"
	"	jne 2f\n"
	"	lea 40(%rbx), %rdi\n"
	"	xor %esi, %esi\n" // FUTEX_WAIT
	"	mov %r12d, %edx\n"
	"	xor %r10d, %r10d\n"
	"	mov $202, %eax\n"
	"	syscall\n"
	"	jmp 1b\n"
	"2:	mov %eax, %r12d\n"
	"	mov 44(%rbx), %r13d\n" // req_count
	"	cmp $32, %r13d\n"
	"	jbe 3f\n"
	"	mov $32, %r13d\n"
	"3:	xor %r14d, %r14d\n"
	"	lea 48(%rbx), %r15\n"
	"4:	cmp %r13d, %r14d\n"
	"	jae 7f\n"
	"	mov (%r15), %rax\n"
	"	mov 8(%r15), %rdi\n"
	"	mov 16(%r15), %rsi\n"
	"	mov 24(%r15), %rdx\n"
	"	mov 32(%r15), %r10\n"
	"	mov 40(%r15), %r8\n"
	"	mov 48(%r15), %r9\n"
	"	cmp $56, %rax\n"
	"	je 6f\n"
	"	syscall\n"
	"5:	mov %rax, (%rbp,%r14,8)\n"
	"	cmp $-4095, %rax\n"
	"	jae 8f\n" // failed: report index r14
	"	inc %r14d\n"
	"	add $56, %r15\n"
	"	jmp 4b\n"
	"6:	syscall\n" // clone: the child continues at stub_child
	"	test %rax, %rax\n"
	"	jz stub_child\n"
	"	jmp 5b\n"
	"7:	lea stub_done_values(%rip), %rsi\n"
	"	jmp 9f\n"
	"8:	lea stub_done_values+8(%rip), %rsi\n"
	"	lea (%rsi,%r14,8), %rsi\n"
	"9:	mov $1, %eax\n" // write(DONE_FD, value, 8)
	"	mov $2, %edi\n"
	"	mov $8, %edx\n"
	"	syscall\n"
	"	jmp 1b\n"

	// A cloned thread, from registers only: its signal stack (the slot's
	// entry in the read-only table), no blocked signals, the thread
	// filter; only then C, on the stack the clone gave it.
	"stub_child:\n"
	"	mov %rsp, %rdi\n"
	"	movabs $0x7ff010000000, %rax\n"
	"	sub %rax, %rdi\n"
	"	shr $16, %rdi\n" // slot index + 1
	"	dec %rdi\n"
	"	imul $24, %rdi, %rdi\n"
	"	movabs $0x7ff010001000, %rax\n" // CTL_BASE + ALTSTACKS_OFF
	"	add %rax, %rdi\n"
	"	xor %esi, %esi\n"
	"	mov $131, %eax\n" // sigaltstack
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	mov $14, %eax\n" // rt_sigprocmask(SIG_SETMASK, &stub_zero, 0, 8)
	"	mov $2, %edi\n"
	"	lea stub_zero(%rip), %rsi\n"
	"	xor %edx, %edx\n"
	"	mov $8, %r10d\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	mov $317, %eax\n" // seccomp(SET_MODE_FILTER, 0, &thread_prog)
	"	mov $1, %edi\n"
	"	xor %esi, %esi\n"
	"	movabs $0x7ff010000018, %rdx\n"
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	call stub_thread\n"
	"1:	mov $60, %eax\n"
	"	mov $2, %edi\n"
	"	syscall\n"
	"	ud2\n"
	".globl stub_end\n"
	"stub_end:\n");
