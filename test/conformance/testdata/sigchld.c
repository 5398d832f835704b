/*
 * sigchld: signals between a parent and its children. SIGCHLD's siginfo for
 * an exit, a death by signal, a stop and a continue; SIG_IGN and
 * SA_NOCLDWAIT reaping children automatically; SA_NOCLDSTOP; SIGSTOP and
 * SIGCONT of a child seen through waitpid WUNTRACED/WCONTINUED and waitid;
 * default actions in children (terminate, SIGPIPE); kill of a zombie; the
 * signal mask and dispositions across fork and execve.
 *
 * Modes (argv[1]) used when the program re-executes itself:
 *   --after-exec   report the signal state an execve left
 */
#include "check.h"
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void block(int sig, int how)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	CHECK(sigprocmask(how, &s, NULL) == 0);
}

/* next_sigchld waits (up to 10 s) for a SIGCHLD and returns its siginfo. */
static int next_sigchld(siginfo_t *si)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	struct timespec ten = {10, 0};
	memset(si, 0, sizeof *si);
	return sigtimedwait(&s, si, &ten) == SIGCHLD;
}

/* no_sigchld reports whether no SIGCHLD is pending. */
static int no_sigchld(void)
{
	sigset_t p;
	sigpending(&p);
	return !sigismember(&p, SIGCHLD);
}

/* drain_sigchld discards a pending SIGCHLD. */
static void drain_sigchld(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	siginfo_t si;
	struct timespec z = {0, 0};
	while (sigtimedwait(&s, &si, &z) == SIGCHLD)
		;
}

static pid_t child_sleeping(void)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	CHECK(pid > 0);
	return pid;
}

static void sigchld_info(void)
{
	block(SIGCHLD, SIG_BLOCK);
	siginfo_t si;

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	CHECK(next_sigchld(&si));
	CHECK(si.si_signo == SIGCHLD && si.si_code == CLD_EXITED && si.si_status == 7 && si.si_pid == pid);
	CHECK(si.si_uid == getuid());
	/* The SIGCHLD did not reap it: it is a zombie until waited for. */
	CHECK(kill(pid, 0) == 0);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 7);
	EXPECT_ERR(kill(pid, 0), ESRCH);
	printf("SIGCHLD: CLD_EXITED status %d\n", si.si_status);

	pid = child_sleeping();
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(next_sigchld(&si));
	CHECK(si.si_code == CLD_KILLED && si.si_status == SIGKILL && si.si_pid == pid);
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	printf("SIGCHLD: CLD_KILLED status %d\n", si.si_status);

	/* Stop and continue, seen by SIGCHLD, waitpid and waitid. */
	pid = child_sleeping();
	CHECK(kill(pid, SIGSTOP) == 0);
	CHECK(next_sigchld(&si));
	CHECK(si.si_code == CLD_STOPPED && si.si_status == SIGSTOP && si.si_pid == pid);
	CHECK(waitpid(pid, &st, WUNTRACED) == pid);
	CHECK(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
	CHECK(waitpid(pid, &st, WUNTRACED | WNOHANG) == 0); /* reported once */
	CHECK(kill(pid, SIGCONT) == 0);
	CHECK(next_sigchld(&si));
	CHECK(si.si_code == CLD_CONTINUED && si.si_status == SIGCONT && si.si_pid == pid);
	CHECK(waitpid(pid, &st, WCONTINUED) == pid);
	CHECK(WIFCONTINUED(st));
	CHECK(waitpid(pid, &st, WCONTINUED | WNOHANG) == 0);
	/* The same through waitid. */
	CHECK(kill(pid, SIGSTOP) == 0);
	CHECK(next_sigchld(&si));
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, pid, &si, WSTOPPED) == 0);
	CHECK(si.si_code == CLD_STOPPED && si.si_status == SIGSTOP && si.si_pid == pid);
	CHECK(kill(pid, SIGCONT) == 0);
	CHECK(next_sigchld(&si));
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, pid, &si, WCONTINUED) == 0);
	CHECK(si.si_code == CLD_CONTINUED && si.si_status == SIGCONT);
	/* A stopped child is not woken by a signal it ignores or handles... */
	CHECK(kill(pid, SIGSTOP) == 0);
	CHECK(next_sigchld(&si) && si.si_code == CLD_STOPPED);
	CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));
	CHECK(kill(pid, SIGWINCH) == 0);
	sleep_ms(20);
	CHECK(waitpid(pid, &st, WNOHANG | WCONTINUED) == 0);
	/* A fatal signal takes effect only once it is continued (SIGKILL would not wait). */
	CHECK(kill(pid, SIGTERM) == 0);
	sleep_ms(20);
	CHECK(waitpid(pid, &st, WNOHANG | WCONTINUED) == 0);
	CHECK(kill(pid, SIGCONT) == 0);
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	drain_sigchld();
	puts("SIGSTOP/SIGCONT: CLD_STOPPED, CLD_CONTINUED; WUNTRACED, WCONTINUED and waitid agree");

	/* SA_NOCLDSTOP: no SIGCHLD for stops, still one for the exit. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDSTOP;
	CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
	pid = child_sleeping();
	CHECK(kill(pid, SIGSTOP) == 0);
	CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));
	CHECK(no_sigchld());
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(next_sigchld(&si) && si.si_code == CLD_KILLED);
	CHECK(waitpid(pid, &st, 0) == pid);
	sa.sa_flags = 0;
	CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
	puts("SA_NOCLDSTOP: no SIGCHLD for the stop");
	block(SIGCHLD, SIG_UNBLOCK);
}

/* Children of a parent that ignores SIGCHLD are reaped automatically. */
static void autoreap(void)
{
	int st;
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	CHECK(sigaction(SIGCHLD, &sa, &old) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(3);
	/* wait blocks until the child is gone, then finds nothing. */
	EXPECT_ERR(waitpid(pid, &st, 0), ECHILD);
	EXPECT_ERR(wait(&st), ECHILD);

	/* SA_NOCLDWAIT with a handler: reaped, yet SIGCHLD is still sent. */
	block(SIGCHLD, SIG_BLOCK);
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;
	CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(4);
	siginfo_t si;
	CHECK(next_sigchld(&si) && si.si_pid == pid && si.si_status == 4);
	EXPECT_ERR(waitpid(pid, &st, 0), ECHILD);
	CHECK(sigaction(SIGCHLD, &old, NULL) == 0);
	block(SIGCHLD, SIG_UNBLOCK);
	puts("SIGCHLD ignored or SA_NOCLDWAIT: children reaped automatically, wait gives ECHILD");
}

/* Default actions in a child. */
static void default_actions(void)
{
	int st;
	int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGALRM, SIGPIPE};
	for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		pid_t pid = child_sleeping();
		CHECK(kill(pid, sigs[i]) == 0);
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == sigs[i], "signal %d: status %#x", sigs[i], st);
	}
	/* Ignored by default: the child lives on. */
	pid_t pid = child_sleeping();
	CHECK(kill(pid, SIGWINCH) == 0 && kill(pid, SIGURG) == 0 && kill(pid, SIGCHLD) == 0);
	sleep_ms(20);
	CHECK(waitpid(pid, &st, WNOHANG) == 0);
	CHECK(kill(pid, SIGKILL) == 0);
	CHECK(waitpid(pid, &st, 0) == pid && WTERMSIG(st) == SIGKILL);

	/* SIGPIPE from writing to a pipe without readers. */
	int p[2];
	CHECK(pipe(p) == 0);
	close(p[0]);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		write(p[1], "x", 1);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
	close(p[1]);
	puts("default actions in a child: terminate for TERM INT HUP USR1 ALRM PIPE, ignore for WINCH URG CHLD");
}

static int on_usr2_count;
static void on_usr2(int sig)
{
	(void)sig;
	on_usr2_count++;
}

/* What fork and execve keep of the signal state. */
static void inherit(const char *self)
{
	sigset_t b;
	sigemptyset(&b);
	sigaddset(&b, SIGUSR1);
	sigaddset(&b, SIGRTMIN);
	CHECK(sigprocmask(SIG_BLOCK, &b, NULL) == 0);
	signal(SIGUSR2, on_usr2);
	signal(SIGINT, SIG_IGN);
	static char alt[64 * 1024];
	stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
	CHECK(sigaltstack(&ss, NULL) == 0);

	/* A pending signal of the parent that the fork child must not get. */
	raise(SIGUSR1);
	int st;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t cur, pend;
		struct sigaction sa;
		stack_t os;
		int bad = 0;
		sigprocmask(SIG_BLOCK, NULL, &cur);
		if (!sigismember(&cur, SIGUSR1) || !sigismember(&cur, SIGRTMIN) || sigismember(&cur, SIGUSR2))
			bad |= 1;
		sigaction(SIGUSR2, NULL, &sa);
		if (sa.sa_handler != on_usr2)
			bad |= 2;
		sigaction(SIGINT, NULL, &sa);
		if (sa.sa_handler != SIG_IGN)
			bad |= 4;
		sigaltstack(NULL, &os);
		if (os.ss_sp != alt || os.ss_flags != 0)
			bad |= 8;
		/* Pending signals are not inherited by a fork child. */
		sigpending(&pend);
		if (sigismember(&pend, SIGUSR1))
			bad |= 16;
		_exit(bad);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECKF(WEXITSTATUS(st) == 0, "fork child: state bits %#x wrong", WEXITSTATUS(st));
	puts("fork: mask, handlers, ignored signals and the alternate stack inherited");

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* Pending blocked signals survive execve. */
		raise(SIGUSR1);
		char *argv[] = {(char *)self, "--after-exec", NULL};
		char *envp[] = {NULL};
		execve(self, argv, envp);
		_exit(127);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECKF(WEXITSTATUS(st) == 0, "exec'd child: state bits %#x wrong", WEXITSTATUS(st));
	puts("execve: mask and pending kept, handlers reset to SIG_DFL, SIG_IGN kept, no alternate stack");

	/* Consume the parent's pending SIGUSR1 before unblocking it. */
	sigset_t u;
	sigemptyset(&u);
	sigaddset(&u, SIGUSR1);
	siginfo_t si;
	struct timespec z = {0, 0};
	CHECK(sigtimedwait(&u, &si, &z) == SIGUSR1);
	stack_t off = {.ss_flags = SS_DISABLE};
	sigaltstack(&off, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	CHECK(sigprocmask(SIG_UNBLOCK, &b, NULL) == 0);
}

static int after_exec(void)
{
	sigset_t cur, pend;
	struct sigaction sa;
	stack_t os;
	int bad = 0;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	if (!sigismember(&cur, SIGUSR1) || !sigismember(&cur, SIGRTMIN) || sigismember(&cur, SIGUSR2))
		bad |= 1;
	sigaction(SIGUSR2, NULL, &sa);
	if (sa.sa_handler != SIG_DFL)
		bad |= 2;
	sigaction(SIGINT, NULL, &sa);
	if (sa.sa_handler != SIG_IGN)
		bad |= 4;
	sigaltstack(NULL, &os);
	if (os.ss_flags != SS_DISABLE)
		bad |= 8;
	sigpending(&pend);
	if (!sigismember(&pend, SIGUSR1))
		bad |= 16;
	return bad;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--after-exec") == 0)
		return after_exec();
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);
	sigchld_info();
	autoreap();
	default_actions();
	inherit(argv[0]);
	return check_done("sigchld");
}
