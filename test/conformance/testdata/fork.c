/*
 * fork: a process tree three levels deep and how its members end: wait4,
 * waitpid and waitid statuses (exit codes, death by signal), WNOHANG while a
 * child runs, ECHILD with none left, getppid, reparenting of an orphan,
 * vfork, and execve of this program itself, of a #! script, and of files
 * that cannot be executed.
 *
 * Modes (argv[1]), used when the program re-executes itself:
 *   --exec-child ARGS...   print the arguments and exit 42
 *   --shebang SCRIPT ARGS  run as the interpreter of the #! script the
 *                          harness writes next to the binary (see below)
 *
 * Orphans are reparented to the nearest child subreaper, else to the pid
 * namespace's init. This program makes itself a subreaper, so that the
 * assertion holds both natively and as the sandbox's pid 1 (which gets the
 * orphans anyway, whether or not the sandbox implements the prctl).
 */
/* shebang: --shebang */
#include "check.h"
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* wait_exit reaps pid and returns its exit code, or -1000-signal, or -1. */
static int wait_exit(pid_t pid)
{
	int st;
	pid_t r = waitpid(pid, &st, 0);
	if (r != pid)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return -1000 - WTERMSIG(st);
	return -1;
}

/* Level 3: a leaf that exits with code. */
static void leaf(int code)
{
	_exit(code);
}

/*
 * Level 2: forks two leaves (exit 5 and 6), checks their statuses and its
 * own parent, and exits with 11 if all held.
 */
static void middle(pid_t want_parent)
{
	int bad = 0;
	if (getppid() != want_parent)
		bad |= 1;
	pid_t self = getpid();
	pid_t a = fork();
	if (a == 0) {
		if (getppid() != self)
			_exit(99);
		leaf(5);
	}
	pid_t b = fork();
	if (b == 0)
		leaf(6);
	if (a < 0 || b < 0)
		_exit(98);
	/* Reap in the reverse order of creation, by pid. */
	int st;
	struct rusage ru;
	if (wait4(b, &st, 0, &ru) != b || !WIFEXITED(st) || WEXITSTATUS(st) != 6)
		bad |= 2;
	if (wait_exit(a) != 5)
		bad |= 4;
	errno = 0;
	if (wait(&st) != -1 || errno != ECHILD)
		bad |= 8;
	_exit(bad ? 100 + bad : 11);
}

static void tree(void)
{
	pid_t self = getpid();
	fflush(stdout);
	pid_t exit3 = fork();
	if (exit3 == 0)
		leaf(3);
	pid_t term = fork();
	if (term == 0) {
		/* Not pid 1 in any namespace: the default action applies. */
		signal(SIGTERM, SIG_DFL);
		kill(getpid(), SIGTERM);
		_exit(97); /* not reached */
	}
	pid_t killed = fork();
	if (killed == 0) {
		for (;;)
			pause();
	}
	pid_t mid = fork();
	if (mid == 0)
		middle(self);
	CHECK(exit3 > 0 && term > 0 && killed > 0 && mid > 0);
	CHECK(exit3 != self && term != exit3 && killed != term && mid != killed);

	int st;
	CHECK(waitpid(exit3, &st, 0) == exit3);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3 && !WIFSIGNALED(st));
	printf("child 1: exited %d\n", WEXITSTATUS(st));

	CHECK(waitpid(term, &st, 0) == term);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM && !WIFEXITED(st));
	printf("child 2: killed by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);

	CHECK(kill(killed, SIGKILL) == 0);
	struct rusage ru;
	memset(&ru, 0xff, sizeof ru);
	CHECK(wait4(killed, &st, 0, &ru) == killed);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	CHECK(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
	printf("child 3: killed by signal %d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0);

	/* waitid with WNOWAIT leaves the child waitable. */
	siginfo_t si;
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, mid, &si, WEXITED | WNOWAIT) == 0);
	CHECK(si.si_pid == mid && si.si_signo == SIGCHLD && si.si_code == CLD_EXITED);
	CHECK(si.si_status == 11);
	CHECK(si.si_uid == getuid());
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_ALL, 0, &si, WEXITED) == 0);
	CHECK(si.si_pid == mid && si.si_code == CLD_EXITED);
	printf("child 4: its two children exited 5 and 6, it exited %d\n", si.si_status);

	errno = 0;
	CHECK(waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD);
	EXPECT_ERR(wait(&st), ECHILD);
	EXPECT_ERR(waitid(P_ALL, 0, &si, WEXITED | WNOHANG), ECHILD);
	EXPECT_ERR(waitpid(mid, &st, 0), ECHILD); /* already reaped */
	EXPECT_ERR(waitid(P_ALL, 0, &si, 0), EINVAL); /* no state to wait for */
	EXPECT_ERR(waitpid(-1, &st, 0x00100000), EINVAL);
	puts("no children left: ECHILD");
}

/* A child that is still running: WNOHANG returns 0, then it is reaped. */
static void running_child(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		ssize_t n = read(p[0], &c, 1); /* EOF when the parent closes */
		_exit(n == 0 ? 0 : 1);
	}
	close(p[0]);
	int st = 12345;
	CHECK(waitpid(pid, &st, WNOHANG) == 0);
	CHECK(waitpid(-1, &st, WNOHANG) == 0);
	CHECK(wait4(-1, &st, WNOHANG, NULL) == 0);
	siginfo_t si;
	memset(&si, 0x55, sizeof si);
	CHECK(waitid(P_PID, pid, &si, WEXITED | WNOHANG) == 0);
	CHECK(si.si_pid == 0); /* Linux zeroes it when nothing was waitable */
	memset(&si, 0x55, sizeof si);
	CHECK(waitid(P_ALL, 0, &si, WEXITED | WNOHANG) == 0);
	CHECK(si.si_pid == 0);
	/* Waiting for a process group with no member among the children. */
	EXPECT_ERR(waitpid(-999999, &st, WNOHANG), ECHILD);
	close(p[1]);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PID, pid, &si, WEXITED) == 0);
	CHECK(si.si_signo == SIGCHLD && si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 0);
	puts("running child: WNOHANG gave 0, then it exited 0");
}

/* getppid in a child is the parent's pid; the child's pid is its own. */
static void parent_ids(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t self = getpid();
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		pid_t ids[3] = {getpid(), getppid(), (pid_t)syscall(SYS_gettid)};
		write(p[1], ids, sizeof ids);
		_exit(0);
	}
	pid_t ids[3] = {0};
	CHECK(read(p[0], ids, sizeof ids) == sizeof ids);
	CHECK(ids[0] == pid);
	CHECK(ids[1] == self);
	CHECK(ids[2] == pid);
	CHECK(wait_exit(pid) == 0);
	close(p[0]);
	close(p[1]);
	puts("child: getpid == fork's return, getppid == parent's getpid");
}

/*
 * Orphans: a child forks a grandchild and exits; the grandchild is then
 * reparented to this process (the subreaper, or the sandbox's init) and
 * can be waited for here.
 */
static void orphan(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t self = getpid();
	fflush(stdout);
	pid_t mid = fork();
	if (mid == 0) {
		pid_t me = getpid();
		pid_t gc = fork();
		if (gc == 0) {
			/* Wait (up to 10 s) until the parent is gone. */
			int i;
			for (i = 0; i < 10000 && getppid() == me; i++)
				sleep_ms(1);
			pid_t now = getppid();
			write(p[1], &now, sizeof now);
			_exit(23);
		}
		write(p[1], &gc, sizeof gc);
		_exit(0);
	}
	pid_t gc = 0, newparent = 0;
	CHECK(read(p[0], &gc, sizeof gc) == sizeof gc);
	CHECK(wait_exit(mid) == 0);
	CHECK(read(p[0], &newparent, sizeof newparent) == sizeof newparent);
	CHECK(newparent != mid);
	CHECKF(newparent == self, "the orphan's new parent is not the subreaper/init running this test");
	CHECK(wait_exit(gc) == 23);
	close(p[0]);
	close(p[1]);
	puts("orphan: reparented to this process and reaped here with status 23");
}

/*
 * vfork: the parent is suspended until the child exits or execs, memory is
 * shared meanwhile. (Last, so that a sandbox failing it still shows the rest.)
 */
static void do_vfork(const char *self)
{
	static volatile int shared;
	shared = 1;
	fflush(stdout);
	pid_t pid = vfork();
	if (pid == 0) {
		shared = 2;
		_exit(4);
	}
	CHECK(pid > 0);
	CHECK(shared == 2);
	CHECK(wait_exit(pid) == 4);
	puts("vfork: child wrote shared memory before the parent resumed, exited 4");

	/* vfork + execve, as posix_spawn and shells do. */
	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		char *argv[] = {(char *)self, "--exec-child", "from vfork", NULL};
		char *envp[] = {"EXO_EXEC=vfork", NULL};
		execve(self, argv, envp);
		_exit(127);
	}
	CHECK(wait_exit(pid) == 42);
}

static void do_exec(const char *self)
{
	/* execve of this program in a forked child. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = {(char *)self, "--exec-child", "alpha", "beta gamma", NULL};
		char *envp[] = {"EXO_EXEC=yes", NULL};
		execve(self, argv, envp);
		_exit(120 + (errno & 7));
	}
	CHECK(wait_exit(pid) == 42);

	/* A #! script whose interpreter is this program (written by the harness). */
	char script[4096];
	snprintf(script, sizeof script, "%s.sh", self);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char *argv[] = {"script-argv0", "s1", "s 2", NULL};
		char *envp[] = {"EXO_EXEC=script", NULL};
		execve(script, argv, envp);
		_exit(errno == ENOENT ? 126 : 127);
	}
	int code = wait_exit(pid);
	CHECKF(code == 43, "the #! script exited %d (126: no %s: the harness writes it)", code, script);

	/* Failures return to the caller with the old image intact. */
	char *argv[] = {"x", NULL};
	char *envp[] = {NULL};
	EXPECT_ERR(execve("/nonexistent/program", argv, envp), ENOENT);
	EXPECT_ERR(execve("/", argv, envp), EACCES);           /* a directory */
	EXPECT_ERR(execve("/etc/passwd", argv, envp), EACCES); /* not executable */
	EXPECT_ERR(execve("/etc/passwd/x", argv, envp), ENOTDIR);
	EXPECT_ERR(execve("", argv, envp), ENOENT);
	EXPECT_ERR(syscall(SYS_execve, self, (char **)8, envp), EFAULT);
	puts("execve: missing file ENOENT, directory EACCES, not executable EACCES");
}

static int exec_child(int argc, char **argv)
{
	printf("exec child: argc=%d", argc);
	for (int i = 2; i < argc; i++)
		printf(" [%s]", argv[i]);
	const char *e = getenv("EXO_EXEC");
	printf(" EXO_EXEC=%s", e ? e : "(unset)");
	CHECK(getenv("EXO_CONFORMANCE") == NULL); /* the new environment only */
	printf("\n");
	fflush(stdout);
	return check_failures ? 1 : 42;
}

/*
 * The kernel runs "INTERPRETER ARG SCRIPT-PATH ARGS-AFTER-ARGV0": argv[0]
 * of the execve is dropped and replaced by the script's path.
 */
static int shebang(int argc, char **argv)
{
	CHECK(argc == 5);
	if (argc == 5) {
		CHECK(strcmp(argv[1], "--shebang") == 0);
		CHECK(ends_with(argv[2], ".sh"));
		CHECK(strncmp(argv[2], argv[0], strlen(argv[0])) == 0);
		CHECK(strcmp(argv[3], "s1") == 0);
		CHECK(strcmp(argv[4], "s 2") == 0);
	}
	const char *e = getenv("EXO_EXEC");
	CHECK(e && strcmp(e, "script") == 0);
	printf("#! script: interpreter got [--shebang] [SCRIPT.sh] [%s] [%s]\n",
	       argc > 3 ? argv[3] : "", argc > 4 ? argv[4] : "");
	fflush(stdout);
	return check_failures ? 1 : 43;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--exec-child") == 0)
		return exec_child(argc, argv);
	if (argc > 1 && strcmp(argv[1], "--shebang") == 0)
		return shebang(argc, argv);

	/* Orphans come here (see the top comment); no core files natively. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);

	tree();
	running_child();
	parent_ids();
	orphan();
	do_exec(argv[0]);
	do_vfork(argv[0]);
	return check_done("fork");
}
