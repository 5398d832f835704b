/*
 * signal: signals a process sends itself and their handlers: SA_SIGINFO
 * (si_signo, si_code for kill, raise/tgkill and sigqueue, si_value), the
 * mask while a handler runs (sa_mask, SA_NODEFER, SA_RESETHAND), handlers on
 * an alternate stack, sigprocmask + sigpending + sigsuspend, rt_sigtimedwait
 * (order, coalescing, queued realtime signals, timeout), pause, SA_RESTART
 * against EINTR for a blocking pipe read, and signals whose default action
 * is to ignore them.
 *
 * In the sandbox this program is pid 1, which Linux protects from signals
 * whose action is the default: every signal it sends itself has a handler,
 * is blocked, or is ignored by default anyway.
 */
#include "check.h"
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static volatile sig_atomic_t hits;
static volatile int last_signo, last_code, last_value, last_pid, last_uid;
static volatile int mask_had_self, mask_had_usr2;

static void on_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	hits++;
	last_signo = si->si_signo;
	last_code = si->si_code;
	last_value = si->si_value.sival_int;
	last_pid = si->si_pid;
	last_uid = si->si_uid;
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	mask_had_self = sigismember(&cur, sig);
	mask_had_usr2 = sigismember(&cur, SIGUSR2);
	(void)sig;
}

static void on_plain(int sig)
{
	(void)sig;
	hits++;
}

static void install(int sig, void (*h)(int, siginfo_t *, void *), int flags, int also_block)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	if (also_block)
		sigaddset(&sa.sa_mask, also_block);
	CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void install_plain(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(sig, &sa, NULL) == 0);
}

static void siginfo(void)
{
	install(SIGUSR1, on_info, 0, SIGUSR2);

	hits = 0;
	CHECK(kill(getpid(), SIGUSR1) == 0);
	CHECK(hits == 1); /* delivered before kill returns */
	CHECK(last_signo == SIGUSR1 && last_code == SI_USER);
	CHECK(last_pid == getpid() && last_uid == (int)getuid());
	CHECK(mask_had_self && mask_had_usr2);
	printf("kill: si_signo %d si_code SI_USER, signal and sa_mask blocked in the handler\n", last_signo);

	hits = 0;
	CHECK(raise(SIGUSR1) == 0);
	CHECK(hits == 1 && last_code == SI_TKILL);
	CHECK(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR1) == 0);
	CHECK(hits == 2 && last_code == SI_TKILL && last_pid == getpid());
	CHECK(syscall(SYS_tkill, syscall(SYS_gettid), SIGUSR1) == 0);
	CHECK(hits == 3 && last_code == SI_TKILL);
	puts("raise, tgkill, tkill: si_code SI_TKILL");

	hits = 0;
	union sigval v = {.sival_int = 4242};
	CHECK(sigqueue(getpid(), SIGUSR1, v) == 0);
	CHECK(hits == 1 && last_code == SI_QUEUE && last_value == 4242);
	printf("sigqueue: si_code SI_QUEUE si_value %d\n", last_value);

	/* The mask is back after the handler returned. */
	sigset_t cur;
	CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0);
	CHECK(!sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGUSR2));

	/* SA_NODEFER leaves the signal unblocked in its handler. */
	install(SIGUSR1, on_info, SA_NODEFER, 0);
	hits = 0;
	raise(SIGUSR1);
	CHECK(hits == 1 && !mask_had_self && !mask_had_usr2);

	/* SA_RESETHAND restores the default action after one delivery. */
	install(SIGUSR1, on_info, SA_RESETHAND, 0);
	hits = 0;
	raise(SIGUSR1);
	CHECK(hits == 1);
	struct sigaction old;
	CHECK(sigaction(SIGUSR1, NULL, &old) == 0);
	CHECK(old.sa_handler == SIG_DFL);
	puts("SA_NODEFER, SA_RESETHAND: as documented");

	/* Invalid requests. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_plain;
	EXPECT_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL);
	EXPECT_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL);
	EXPECT_ERR(sigaction(0, &sa, NULL), EINVAL);
	EXPECT_ERR(sigaction(65, &sa, NULL), EINVAL);
	EXPECT_ERR(kill(getpid(), 65), EINVAL);
	EXPECT_ERR(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4), EINVAL); /* sigsetsize */
	CHECK(kill(getpid(), 0) == 0);
	/* SIGKILL and SIGSTOP cannot be blocked: the mask silently drops them. */
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGKILL);
	sigaddset(&s, SIGSTOP);
	CHECK(sigprocmask(SIG_BLOCK, &s, NULL) == 0);
	CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0);
	CHECK(!sigismember(&cur, SIGKILL) && !sigismember(&cur, SIGSTOP));
	EXPECT_ERR(sigprocmask(99, &s, NULL), EINVAL);
	puts("sigaction of SIGKILL/SIGSTOP: EINVAL; they cannot be blocked");
}

/* sigaltstack: the handler runs on the alternate stack. */
static char altstack[64 * 1024];
static volatile uintptr_t handler_local;
static volatile int handler_onstack_flag, handler_eperm;

static void on_alt(int sig)
{
	int local;
	(void)sig;
	handler_local = (uintptr_t)&local;
	stack_t cur;
	if (sigaltstack(NULL, &cur) == 0)
		handler_onstack_flag = (cur.ss_flags & SS_ONSTACK) != 0;
	/* The stack in use cannot be changed. */
	stack_t other = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
	handler_eperm = sigaltstack(&other, NULL) == -1 && errno == EPERM;
	hits++;
}

static void alt_stack(void)
{
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0}, old;
	CHECK(sigaltstack(NULL, &old) == 0);
	CHECK(old.ss_flags == SS_DISABLE);
	CHECK(sigaltstack(&ss, NULL) == 0);
	CHECK(sigaltstack(NULL, &old) == 0);
	CHECK(old.ss_sp == altstack && old.ss_size == sizeof altstack && old.ss_flags == 0);
	install_plain(SIGUSR2, on_alt, SA_ONSTACK);
	hits = 0;
	raise(SIGUSR2);
	CHECK(hits == 1);
	CHECK(handler_local >= (uintptr_t)altstack && handler_local < (uintptr_t)altstack + sizeof altstack);
	CHECK(handler_onstack_flag);
	CHECK(handler_eperm);
	int here;
	CHECK((uintptr_t)&here < (uintptr_t)altstack || (uintptr_t)&here >= (uintptr_t)altstack + sizeof altstack);

	/* Without SA_ONSTACK the handler stays on the normal stack. */
	install_plain(SIGUSR2, on_alt, 0);
	raise(SIGUSR2);
	CHECK(hits == 2);
	CHECK(handler_local < (uintptr_t)altstack || handler_local >= (uintptr_t)altstack + sizeof altstack);
	CHECK(!handler_onstack_flag);

	stack_t small = {.ss_sp = altstack, .ss_size = 512, .ss_flags = 0};
	EXPECT_ERR(sigaltstack(&small, NULL), ENOMEM);
	stack_t badflags = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0x1234};
	EXPECT_ERR(sigaltstack(&badflags, NULL), EINVAL);
	stack_t off = {.ss_flags = SS_DISABLE};
	CHECK(sigaltstack(&off, NULL) == 0);
	CHECK(sigaltstack(NULL, &old) == 0 && old.ss_flags == SS_DISABLE);
	puts("sigaltstack: SA_ONSTACK handler ran on the alternate stack (SS_ONSTACK, EPERM to change it)");
}

/* sigprocmask, sigpending and sigsuspend. */
static void mask_pending_suspend(void)
{
	install_plain(SIGUSR2, on_plain, 0);
	sigset_t block, old, pend;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0);
	CHECK(!sigismember(&old, SIGUSR2));
	hits = 0;
	raise(SIGUSR2);
	raise(SIGUSR2); /* standard signals do not queue */
	CHECK(hits == 0);
	CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR2) && !sigismember(&pend, SIGUSR1));
	sigset_t wait_mask;
	CHECK(sigprocmask(SIG_BLOCK, NULL, &wait_mask) == 0);
	sigdelset(&wait_mask, SIGUSR2);
	EXPECT_ERR(sigsuspend(&wait_mask), EINTR);
	CHECK(hits == 1);
	sigset_t now;
	CHECK(sigprocmask(SIG_BLOCK, NULL, &now) == 0);
	CHECK(sigismember(&now, SIGUSR2)); /* the old mask is back */
	CHECK(sigpending(&pend) == 0 && !sigismember(&pend, SIGUSR2));
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	puts("blocked SIGUSR2: pending once, delivered once by sigsuspend, mask restored");
}

/*
 * rt_sigtimedwait: order, queueing of realtime signals, timeout. (The raw
 * syscall: glibc's sigtimedwait rewrites SI_TKILL as SI_USER.)
 */
static int timedwait_raw(const sigset_t *set, siginfo_t *si, const struct timespec *ts)
{
	return (int)syscall(SYS_rt_sigtimedwait, set, si, ts, 8);
}

static void timedwait(void)
{
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN);
	sigaddset(&set, SIGRTMIN + 1);
	CHECK(sigprocmask(SIG_BLOCK, &set, &old) == 0);
	union sigval v;
	for (int i = 1; i <= 3; i++) {
		v.sival_int = i;
		CHECK(sigqueue(getpid(), SIGRTMIN, v) == 0);
	}
	CHECK(kill(getpid(), SIGUSR2) == 0);
	CHECK(kill(getpid(), SIGUSR2) == 0); /* coalesced */
	CHECK(kill(getpid(), SIGUSR1) == 0);
	CHECK(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGRTMIN + 1) == 0);
	siginfo_t si;
	struct timespec zero = {0, 0};
	int order[6];
	int values[6] = {0};
	for (int i = 0; i < 6; i++) {
		memset(&si, 0, sizeof si);
		order[i] = timedwait_raw(&set, &si, &zero);
		values[i] = si.si_code == SI_QUEUE ? si.si_value.sival_int : -si.si_code;
		CHECK(order[i] == -1 || si.si_signo == order[i]);
	}
	/* The thread's own pending signals come first, then the process's, lowest number first. */
	CHECK(order[0] == SIGRTMIN + 1 && values[0] == -SI_TKILL);
	CHECK(order[1] == SIGUSR1 && values[1] == -SI_USER);
	CHECK(order[2] == SIGUSR2 && values[2] == -SI_USER);
	CHECK(order[3] == SIGRTMIN && values[3] == 1);
	CHECK(order[4] == SIGRTMIN && values[4] == 2);
	CHECK(order[5] == SIGRTMIN && values[5] == 3);
	EXPECT_ERR(timedwait_raw(&set, &si, &zero), EAGAIN);
	struct timespec t0, t1, ten = {0, 10 * 1000000L};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_ERR(sigtimedwait(&set, &si, &ten), EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >= 9 * 1000000L);
	struct timespec bad = {0, -1};
	EXPECT_ERR(timedwait_raw(&set, &si, &bad), EINVAL);
	/* sigwaitinfo with the signal already pending returns at once. */
	raise(SIGUSR2);
	CHECK(sigwaitinfo(&set, &si) == SIGUSR2);
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	puts("sigtimedwait: thread-directed first, then SIGUSR1, SIGUSR2 (once), SIGRTMIN x3 in queue order; EAGAIN on timeout");
}

/*
 * A child that sends `sig` to the parent every 10 ms until the parent
 * writes to (or closes) the stop pipe, or `count` times then writes a byte
 * to `data`.
 */
static pid_t pester(int sig, int stopfd, int count, int datafd)
{
	pid_t parent = getpid();
	fflush(stdout);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	for (int i = 0; count == 0 || i < count; i++) {
		sleep_ms(10);
		if (stopfd >= 0) {
			struct timespec z = {0, 0};
			fd_set rd;
			FD_ZERO(&rd);
			FD_SET(stopfd, &rd);
			if (pselect(stopfd + 1, &rd, NULL, NULL, &z, NULL) > 0)
				_exit(0);
		}
		if (kill(parent, sig) != 0)
			_exit(1);
	}
	if (datafd >= 0 && write(datafd, "x", 1) != 1)
		_exit(2);
	_exit(0);
}

static int reap(pid_t pid)
{
	int st;
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void restart(void)
{
	int data[2], stop[2];
	char c;
	CHECK(pipe(data) == 0 && pipe(stop) == 0);

	/* Without SA_RESTART a read interrupted by a handled signal fails with EINTR. */
	install_plain(SIGUSR1, on_plain, 0);
	hits = 0;
	pid_t pid = pester(SIGUSR1, stop[0], 0, -1);
	errno = 0;
	ssize_t n = read(data[0], &c, 1);
	int e = errno;
	CHECK(write(stop[1], "s", 1) == 1);
	CHECK(reap(pid) == 0);
	CHECK(n == -1 && e == EINTR);
	CHECK(hits >= 1);
	printf("read without SA_RESTART: %s\n", n == -1 ? errname(e) : "returned");

	/* pause returns EINTR after a handler ran. */
	char drain[16];
	read(stop[0], drain, sizeof drain);
	pid = pester(SIGUSR1, stop[0], 0, -1);
	errno = 0;
	int r = pause();
	e = errno;
	CHECK(write(stop[1], "s", 1) == 1);
	CHECK(reap(pid) == 0);
	CHECK(r == -1 && e == EINTR);
	read(stop[0], drain, sizeof drain);

	/* With SA_RESTART the read resumes and gets the byte sent afterwards. */
	install_plain(SIGUSR1, on_plain, SA_RESTART);
	hits = 0;
	pid = pester(SIGUSR1, -1, 3, data[1]);
	errno = 0;
	n = read(data[0], &c, 1);
	e = errno;
	CHECK(reap(pid) == 0);
	CHECKF(n == 1 && c == 'x', "read returned %ld (%s)", (long)n, errname(e));
	CHECK(hits >= 1);
	printf("read with SA_RESTART: %s\n", n == 1 ? "restarted, got the byte" : errname(e));
	close(data[0]);
	close(data[1]);
	close(stop[0]);
	close(stop[1]);
	signal(SIGUSR1, SIG_IGN);
}

/* Signals ignored by default do nothing, and are discarded unless blocked. */
static void default_ignored(void)
{
	int sigs[] = {SIGWINCH, SIGURG, SIGCHLD, SIGCONT};
	sigset_t pend;
	for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		signal(sigs[i], SIG_DFL);
		CHECK(raise(sigs[i]) == 0);
		CHECK(kill(getpid(), sigs[i]) == 0);
		CHECK(sigpending(&pend) == 0 && !sigismember(&pend, sigs[i]));
	}
	/* Blocked, an ignored-by-default signal stays pending... */
	sigset_t b, old;
	sigemptyset(&b);
	sigaddset(&b, SIGWINCH);
	CHECK(sigprocmask(SIG_BLOCK, &b, &old) == 0);
	raise(SIGWINCH);
	CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGWINCH));
	/* ...until it is unblocked, when it is discarded. */
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	CHECK(sigpending(&pend) == 0 && !sigismember(&pend, SIGWINCH));
	/* Blocked signals are never ignored on arrival, even with SIG_IGN... */
	signal(SIGUSR2, SIG_IGN);
	sigemptyset(&b);
	sigaddset(&b, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &b, &old) == 0);
	raise(SIGUSR2);
	CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR2));
	/* ...but setting SIG_IGN discards a pending one. */
	signal(SIGUSR2, SIG_DFL);
	CHECK(sigpending(&pend) == 0 && sigismember(&pend, SIGUSR2));
	signal(SIGUSR2, SIG_IGN);
	CHECK(sigpending(&pend) == 0 && !sigismember(&pend, SIGUSR2));
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	puts("SIGWINCH, SIGURG, SIGCHLD, SIGCONT: ignored by default; pending only while blocked");
}

int main(void)
{
	siginfo();
	alt_stack();
	mask_pending_suspend();
	timedwait();
	restart();
	default_ignored();
	return check_done("signal");
}
