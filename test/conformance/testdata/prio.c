/*
 * prio: getpriority/setpriority. The nice value is per thread
 * (PRIO_PROCESS takes a tid), clamped to -20..19, inherited by fork and
 * by new threads, shown in /proc/PID/stat (field 19, priority 20+nice in
 * field 18); the raw system call returns 20 - nice. PRIO_PGRP and
 * PRIO_USER reach every matching process and read back the lowest nice
 * value. Unprivileged: raising is allowed, lowering below 20 - RLIMIT_NICE
 * (with the limit at 0: any lowering) is EACCES, another user's process is
 * EPERM. Unknown which is EINVAL, no
 * match ESRCH.
 */
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

static int getnice(int which, int who)
{
	errno = 0;
	int v = getpriority(which, who);
	if (v == -1 && errno != 0)
		return 100;
	return v;
}

/* stat_nice reads the priority and nice fields of a /proc stat file. */
static int stat_nice(const char *path, long *prio)
{
	char buf[1024];
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 100;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 100;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return 100;
	/* Fields from 3 (state) on; priority is 18, nice 19. */
	long f[20];
	int i = 3;
	for (char *tok = strtok(p + 2, " "); tok && i <= 19; tok = strtok(NULL, " "), i++)
		f[i] = strtol(tok, NULL, 10);
	*prio = f[18];
	return (int)f[19];
}

static int thread_nice = 100, thread_tid;
static volatile int thread_go, thread_done;

static void *thread_main(void *arg)
{
	(void)arg;
	thread_tid = syscall(SYS_gettid);
	thread_nice = getnice(PRIO_PROCESS, 0); /* inherited from the creator */
	CHECK(setpriority(PRIO_PROCESS, 0, thread_nice + 2) == 0);
	thread_go = 1;
	while (!thread_done)
		usleep(1000);
	return NULL;
}

int main(void)
{
	int base = getnice(PRIO_PROCESS, 0);
	CHECK(base >= -20 && base <= 17);
	CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0) == 20 - base);
	CHECK(setpriority(PRIO_PROCESS, 0, base + 1) == 0);
	CHECK(getnice(PRIO_PROCESS, 0) == base + 1);
	CHECK(getnice(PRIO_PROCESS, getpid()) == base + 1);
	long prio;
	CHECK(stat_nice("/proc/self/stat", &prio) == base + 1 && prio == 20 + base + 1);
	CHECK(setpriority(PRIO_PROCESS, 0, 1000) == 0);
	CHECK(getnice(PRIO_PROCESS, 0) == 19);
	CHECK(setpriority(PRIO_PROCESS, 0, -1000) == 0); /* as root */
	CHECK(getnice(PRIO_PROCESS, 0) == -20);
	CHECK(setpriority(PRIO_PROCESS, 0, 0) == 0);
	puts("own nice value: ok");

	/* Per thread: a new thread inherits, its change is its own. */
	CHECK(setpriority(PRIO_PROCESS, 0, 3) == 0);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, thread_main, NULL) == 0);
	while (!thread_go)
		usleep(1000);
	CHECK(thread_nice == 3);
	CHECK(getnice(PRIO_PROCESS, 0) == 3);
	CHECK(getnice(PRIO_PROCESS, thread_tid) == 5);
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", thread_tid);
	CHECK(stat_nice(path, &prio) == 5 && prio == 25);
	CHECK(stat_nice("/proc/self/stat", &prio) == 3);
	CHECK(setpriority(PRIO_PROCESS, thread_tid, 7) == 0);
	CHECK(getnice(PRIO_PROCESS, thread_tid) == 7);
	CHECK(getnice(PRIO_PROCESS, 0) == 3);
	thread_done = 1;
	CHECK(pthread_join(th, NULL) == 0);
	puts("per thread: ok");

	/* fork inherits; PRIO_PGRP reaches the child's group. */
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t child = fork();
	if (child == 0) {
		close(p[0]);
		setpgid(0, 0);
		char c = (char)getnice(PRIO_PROCESS, 0);
		write(p[1], &c, 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char c;
	CHECK(read(p[0], &c, 1) == 1 && c == 3);
	setpgid(child, child);
	CHECK(getnice(PRIO_PROCESS, child) == 3);
	CHECK(setpriority(PRIO_PGRP, child, 9) == 0);
	CHECK(getnice(PRIO_PROCESS, child) == 9);
	CHECK(getnice(PRIO_PGRP, child) == 9);
	CHECK(getnice(PRIO_PROCESS, 0) == 3);
	kill(child, SIGKILL);
	CHECK(waitpid(child, NULL, 0) == child);
	EXPECT_ERR(getpriority(PRIO_PROCESS, child), ESRCH);
	EXPECT_ERR(setpriority(PRIO_PROCESS, child, 1), ESRCH);
	EXPECT_ERR(getpriority(PRIO_PGRP, child), ESRCH);
	EXPECT_ERR(getpriority(3, 0), EINVAL);
	EXPECT_ERR(setpriority(-1, 0, 0), EINVAL);
	puts("fork and groups: ok");

	/* Unprivileged: raise yes, lower only to 20 - RLIMIT_NICE, others'
	 * processes no; PRIO_USER from root reaches the user's process. */
	CHECK(setpriority(PRIO_PROCESS, 0, 0) == 0);
	int q[2], r[2];
	CHECK(pipe(q) == 0 && pipe(r) == 0);
	child = fork();
	if (child == 0) {
		close(q[0]);
		close(r[1]);
		/* RLIMIT_NICE 0 (the default; raising its hard limit needs
		 * CAP_SYS_RESOURCE): no lowering at all. */
		struct rlimit rl = {0, 0};
		int ok = setrlimit(RLIMIT_NICE, &rl) == 0 && setresuid(54321, 54321, 54321) == 0;
		ok = ok && setpriority(PRIO_PROCESS, 0, 4) == 0 && getnice(PRIO_PROCESS, 0) == 4;
		ok = ok && setpriority(PRIO_PROCESS, 0, 3) == -1 && errno == EACCES;
		ok = ok && getnice(PRIO_PROCESS, 0) == 4;
		ok = ok && setpriority(PRIO_PROCESS, 0, 4) == 0 && setpriority(PRIO_PROCESS, 0, 5) == 0;
		ok = ok && setpriority(PRIO_PROCESS, getppid(), 1) == -1 && errno == EPERM;
		ok = ok && getnice(PRIO_PROCESS, getppid()) == 0; /* reading is allowed */
		char c = ok ? 'y' : 'n';
		write(q[1], &c, 1);
		read(r[0], &c, 1);
		_exit(getnice(PRIO_PROCESS, 0) == 12 ? 0 : 1);
	}
	close(q[1]);
	close(r[0]);
	CHECK(read(q[0], &c, 1) == 1 && c == 'y');
	CHECK(getnice(PRIO_PROCESS, child) == 5);
	CHECK(getnice(PRIO_USER, 54321) == 5);
	CHECK(setpriority(PRIO_USER, 54321, 12) == 0);
	CHECK(getnice(PRIO_USER, 54321) == 12);
	CHECK(getnice(PRIO_PROCESS, 0) == 0);
	CHECK(write(r[1], "x", 1) == 1);
	int st;
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_ERR(getpriority(PRIO_USER, 54320), ESRCH);
	puts("permissions: ok");
	return check_done("prio");
}
