/*
 * pgrp: process groups and sessions. setpgid by a child and by its parent
 * (and its errors: ESRCH for a non-child, EPERM across sessions or for a
 * session leader, EACCES after the child's execve, EINVAL), getpgid/getpgrp,
 * setsid in a child (and EPERM for a group leader), getsid, kill and killpg
 * of a whole group, waitpid for a group, tcgetpgrp without a terminal.
 *
 * Only relations are checked: the ids this process starts with differ
 * between a native run (a child of the test harness, in its own group) and
 * the sandbox (pid 1).
 *
 * Modes (argv[1]) used when the program re-executes itself:
 *   --wait-stdin FD   write "R" to FD, block until stdin reaches EOF, exit 0
 */
#include "check.h"
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>

static int wait_code(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

/* A child that waits for a byte (or EOF) on the pipe, then exits with code. */
static pid_t child_waiting(int rfd, int wfd, int code)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(wfd);
		ssize_t n = read(rfd, &c, 1);
		(void)n;
		_exit(code);
	}
	return pid;
}

static void groups(void)
{
	pid_t self = getpid();
	CHECK(getpgrp() == getpgid(0));
	CHECK(getpgid(self) == getpgrp());
	CHECK(getsid(0) == getsid(self));
	CHECK(getsid(0) >= 0);

	int p[2];
	CHECK(pipe(p) == 0);
	/* A child starts in its parent's group and session. */
	pid_t a = child_waiting(p[0], p[1], 0);
	CHECK(getpgid(a) == getpgrp());
	CHECK(getsid(a) == getsid(0));

	/* The parent puts it in a new group named after it. */
	CHECK(setpgid(a, a) == 0);
	CHECK(getpgid(a) == a);
	CHECK(setpgid(a, a) == 0); /* idempotent */
	/* A second child joins that group. */
	pid_t b = child_waiting(p[0], p[1], 0);
	CHECK(setpgid(b, a) == 0);
	CHECK(getpgid(b) == a);
	/* A group must exist in the same session. */
	pid_t c = child_waiting(p[0], p[1], 0);
	EXPECT_ERR(setpgid(c, c + 100000), EPERM);
	EXPECT_ERR(setpgid(c, -1), EINVAL);
	EXPECT_ERR(setpgid(-1, 0), EINVAL);
	EXPECT_ERR(getpgid(-1), ESRCH);
	EXPECT_ERR(getpgid(0x3ffffff0), ESRCH);
	EXPECT_ERR(getsid(0x3ffffff0), ESRCH);
	printf("setpgid: a child moved into a new group, another joined it\n");

	/* kill(-pgid) reaches both members of the group and nobody else. */
	CHECK(kill(-a, SIGTERM) == 0);
	int st;
	CHECK(waitpid(-a, &st, 0) > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	CHECK(waitpid(-a, &st, 0) > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	EXPECT_ERR(waitpid(-a, &st, WNOHANG), ECHILD);
	CHECK(waitpid(c, &st, WNOHANG) == 0); /* c is alive */
	CHECK(setpgid(c, 0) == 0 && getpgid(c) == c);
	CHECK(killpg(c, SIGKILL) == 0);
	CHECK(wait_code(c) == 1000 + SIGKILL);
	EXPECT_ERR(kill(-a, SIGTERM), ESRCH);
	EXPECT_ERR(killpg(0x3ffffff0, SIGTERM), ESRCH);
	close(p[0]);
	close(p[1]);
	puts("kill(-pgid), killpg: every member of the group and no one else; waitpid(-pgid)");
}

static void sessions(const char *self)
{
	int p[2];
	CHECK(pipe(p) == 0);
	int report[2];
	CHECK(pipe(report) == 0);
	fflush(stdout);
	pid_t a = fork();
	if (a == 0) {
		int bad = 0;
		pid_t me = getpid();
		pid_t sid = setsid();
		if (sid != me)
			bad |= 1;
		if (getsid(0) != me || getpgrp() != me)
			bad |= 2;
		/* A session leader cannot change its group or start another session. */
		if (!(setsid() == -1 && errno == EPERM))
			bad |= 4;
		if (!(setpgid(0, 0) == -1 && errno == EPERM))
			bad |= 8;
		/* It has no controlling terminal. */
		if (!(tcgetpgrp(0) == -1 && errno == ENOTTY))
			bad |= 16;
		write(report[1], &bad, sizeof bad);
		char c;
		close(p[1]);
		read(p[0], &c, 1);
		_exit(0);
	}
	int bad = -1;
	CHECK(read(report[0], &bad, sizeof bad) == sizeof bad);
	CHECKF(bad == 0, "the child in its own session: failed checks %#x", bad);
	CHECK(getsid(a) == a);
	CHECK(getpgid(a) == a);
	CHECK(getsid(0) != a);
	/* The parent cannot move a child that is in another session. */
	EXPECT_ERR(setpgid(a, a), EPERM);
	EXPECT_ERR(setpgid(a, getpgrp()), EPERM);

	/* A group leader cannot call setsid. */
	fflush(stdout);
	pid_t b = fork();
	if (b == 0) {
		setpgid(0, 0);
		_exit(setsid() == -1 && errno == EPERM ? 0 : 1);
	}
	CHECK(wait_code(b) == 0);

	/* setpgid of a grandchild (not a child): ESRCH. */
	fflush(stdout);
	pid_t m = fork();
	if (m == 0) {
		pid_t g = fork();
		if (g == 0) {
			char c;
			close(p[1]);
			read(p[0], &c, 1);
			_exit(0);
		}
		write(report[1], &g, sizeof g);
		close(p[1]);
		_exit(wait_code(g));
	}
	pid_t g = 0;
	CHECK(read(report[0], &g, sizeof g) == sizeof g);
	EXPECT_ERR(setpgid(g, g), ESRCH);
	CHECK(getpgid(g) == getpgrp()); /* but its group can be read */

	/* After the child's execve, the parent may no longer change its group. */
	int in[2];
	CHECK(pipe(in) == 0);
	fflush(stdout);
	pid_t e = fork();
	if (e == 0) {
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		close(p[1]);
		char fdarg[16];
		snprintf(fdarg, sizeof fdarg, "%d", report[1]);
		char *argv[] = {(char *)self, "--wait-stdin", fdarg, NULL};
		char *envp[] = {NULL};
		execve(self, argv, envp);
		_exit(127);
	}
	close(in[0]);
	/* Wait until it has exec'd: it writes a byte on the report pipe. */
	char ready = 0;
	CHECK(read(report[0], &ready, 1) == 1 && ready == 'R');
	EXPECT_ERR(setpgid(e, e), EACCES);
	close(in[1]);
	CHECK(wait_code(e) == 0);

	close(p[1]); /* releases a, m's child */
	CHECK(wait_code(a) == 0);
	CHECK(wait_code(m) == 0);
	close(p[0]);
	close(report[0]);
	close(report[1]);
	puts("setsid: new session and group led by the child; EPERM for leaders; ESRCH, EACCES for setpgid");
}

/* The exec'd child: report readiness on fd argv[2], then wait for EOF on stdin. */
static int wait_stdin(int argc, char **argv)
{
	if (argc < 3 || write(atoi(argv[2]), "R", 1) != 1)
		return 2;
	char buf[64];
	ssize_t n;
	while ((n = read(0, buf, sizeof buf)) > 0)
		;
	return n == 0 ? 0 : 3;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--wait-stdin") == 0)
		return wait_stdin(argc, argv);
	groups();
	sessions(argv[0]);
	/* tcgetpgrp on a non-terminal. */
	EXPECT_ERR(tcgetpgrp(0), ENOTTY);
	return check_done("pgrp");
}
