/*
 * sched: scheduling attributes a process can see and set: nice values
 * (getpriority/setpriority for a thread, a process group and a user, kept
 * per thread, inherited by fork, shown in /proc/PID/stat), the SCHED_OTHER,
 * SCHED_BATCH and SCHED_IDLE policies with SCHED_RESET_ON_FORK,
 * sched_getattr/sched_setattr, and I/O priorities (ioprio_get/ioprio_set),
 * with the errors Linux gives: EINVAL, ESRCH, and for an unprivileged
 * user EACCES (a lower nice past RLIMIT_NICE) and EPERM (another user's
 * process, the real-time I/O class).
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO_PRIO_VALUE(c, d) (((c) << IOPRIO_CLASS_SHIFT) | (d))
#define IOPRIO_CLASS_NONE 0
#define IOPRIO_CLASS_RT 1
#define IOPRIO_CLASS_BE 2
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_WHO_PGRP 2
#define IOPRIO_WHO_USER 3

struct sched_attr_v1 {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime, sched_deadline, sched_period;
	uint32_t sched_util_min, sched_util_max;
};

static int nice_of(int who)
{
	errno = 0;
	int p = getpriority(PRIO_PROCESS, who);
	CHECK(errno == 0);
	return p;
}

/* Raw calls: musl's wrappers for these are ENOSYS by design. */
static long getsched(pid_t pid) { return syscall(SYS_sched_getscheduler, pid); }
static long setsched(pid_t pid, int policy, const struct sched_param *p)
{
	return syscall(SYS_sched_setscheduler, pid, policy, p);
}

static long ioprio_get(int which, int who) { return syscall(SYS_ioprio_get, which, who); }
static long ioprio_set(int which, int who, int prio) { return syscall(SYS_ioprio_set, which, who, prio); }

/* stat_nice reads fields 18 (priority) and 19 (nice) of /proc/self/task/TID/stat. */
static void stat_nice(pid_t tid, long *prio, long *nice)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	FILE *f = fopen(path, "r");
	*prio = *nice = -100;
	if (f == NULL) {
		CHECK(f != NULL);
		return;
	}
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %ld %ld", prio, nice) != 2)
		CHECK(!"parse stat");
}

static int thread_nice_seen = -100;

static void *thread_main(void *arg)
{
	(void)arg;
	/* A thread's nice is its own. */
	MUST(setpriority(PRIO_PROCESS, 0, 9));
	thread_nice_seen = nice_of(0);
	return NULL;
}

static int wait_ok(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int main(void)
{
	int base = nice_of(0);
	CHECKF(base >= 0 && base <= 10, "run at nice %d: want 0..10", base);

	/* Nice: the thread's own, inherited, in stat. */
	MUST(setpriority(PRIO_PROCESS, 0, base + 2));
	CHECK(nice_of(0) == base + 2);
	CHECK(nice_of(getpid()) == base + 2);
	long prio, nice;
	stat_nice(syscall(SYS_gettid), &prio, &nice);
	CHECKF(nice == base + 2 && prio == 20 + base + 2, "stat priority %ld nice %ld", prio, nice);
	/* Out of range values are clamped. */
	MUST(setpriority(PRIO_PROCESS, 0, 100));
	CHECK(nice_of(0) == 19);
	MUST(setpriority(PRIO_PROCESS, 0, base + 2));
	/* The raw syscall returns 20 - nice. */
	CHECK(syscall(SYS_getpriority, PRIO_PROCESS, 0) == 20 - (base + 2));

	pthread_t th;
	MUST(pthread_create(&th, NULL, thread_main, NULL) == 0 ? 0 : -1);
	pthread_join(th, NULL);
	CHECK(thread_nice_seen == 9);
	CHECK(nice_of(0) == base + 2);

	pid_t pid = fork();
	if (pid == 0) {
		_exit(nice_of(0) == base + 2 ? 0 : 1);
	}
	CHECKF(wait_ok(pid), "fork inherits the nice value");

	EXPECT_ERR(getpriority(PRIO_PROCESS, 999999), ESRCH);
	EXPECT_ERR(setpriority(PRIO_PROCESS, 999999, 1), ESRCH);
	EXPECT_ERR(getpriority(7, 0), EINVAL);
	EXPECT_ERR(setpriority(-1, 0, 1), EINVAL);

	/* A process group: set for all, read the best of them. */
	int sync[2];
	MUST(pipe(sync));
	pid = fork();
	if (pid == 0) {
		char c;
		close(sync[1]);
		if (read(sync[0], &c, 1) != 1)
			_exit(2);
		_exit(nice_of(0) == base + 4 ? 0 : 1);
	}
	close(sync[0]);
	MUST(setpgid(pid, pid));
	MUST(setpriority(PRIO_PGRP, pid, base + 4));
	errno = 0;
	CHECK(getpriority(PRIO_PGRP, pid) == base + 4 && errno == 0);
	MUST(write(sync[1], "g", 1));
	close(sync[1]);
	CHECKF(wait_ok(pid), "PRIO_PGRP reached the group's process");
	errno = 0;
	CHECK(getpriority(PRIO_USER, getuid()) <= base + 2 && errno == 0);

	/* Policies. */
	struct sched_param sp = {0};
	CHECK(getsched(0) == SCHED_OTHER);
	MUST(setsched(0, SCHED_BATCH, &sp));
	CHECK(getsched(0) == SCHED_BATCH);
	MUST(setsched(0, SCHED_IDLE | SCHED_RESET_ON_FORK, &sp));
	CHECK(getsched(0) == (SCHED_IDLE | SCHED_RESET_ON_FORK));
	pid = fork();
	if (pid == 0)
		/* Reset on fork keeps a non-real-time policy, and drops the flag. */
		_exit(getsched(0) == SCHED_IDLE ? 0 : 1);
	CHECKF(wait_ok(pid), "SCHED_RESET_ON_FORK child's policy");
	sp.sched_priority = 1;
	EXPECT_ERR(setsched(0, SCHED_OTHER, &sp), EINVAL);
	sp.sched_priority = 0;
	EXPECT_ERR(setsched(0, 77, &sp), EINVAL);
	MUST(setsched(0, SCHED_OTHER, &sp));
	CHECK(getsched(0) == SCHED_OTHER);
	EXPECT_ERR(getsched(999999), ESRCH);

	/* sched_getattr / sched_setattr. */
	struct sched_attr_v1 attr;
	memset(&attr, 0xff, sizeof attr);
	MUST(syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0));
	CHECKF(attr.size == sizeof attr && attr.sched_policy == SCHED_OTHER && attr.sched_nice == base + 2 &&
		       attr.sched_priority == 0 && attr.sched_flags == 0,
	       "sched_getattr size %u policy %u nice %d", attr.size, attr.sched_policy, attr.sched_nice);
	EXPECT_ERR(syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 1), EINVAL);
	EXPECT_ERR(syscall(SYS_sched_getattr, 0, &attr, 40, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_sched_getattr, 999999, &attr, sizeof attr, 0), ESRCH);
	memset(&attr, 0, sizeof attr);
	attr.size = 48;
	attr.sched_policy = SCHED_BATCH;
	attr.sched_nice = base + 3;
	MUST(syscall(SYS_sched_setattr, 0, &attr, 0));
	CHECK(getsched(0) == SCHED_BATCH && nice_of(0) == base + 3);
	attr.sched_policy = 77;
	EXPECT_ERR(syscall(SYS_sched_setattr, 0, &attr, 0), EINVAL);
	attr.sched_policy = SCHED_OTHER;
	attr.sched_nice = base + 2;
	EXPECT_ERR(syscall(SYS_sched_setattr, 0, &attr, 1), EINVAL);
	MUST(syscall(SYS_sched_setattr, 0, &attr, 0));

	/* I/O priorities. */
	long io = ioprio_get(IOPRIO_WHO_PROCESS, 0);
	CHECKF(io >= 0, "ioprio_get: %ld", io);
	MUST(ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 3)));
	CHECK(ioprio_get(IOPRIO_WHO_PROCESS, 0) == IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 3));
	pid = fork();
	if (pid == 0)
		_exit(ioprio_get(IOPRIO_WHO_PROCESS, 0) == IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 3) ? 0 : 1);
	CHECKF(wait_ok(pid), "fork inherits the I/O priority");
	MUST(ioprio_set(IOPRIO_WHO_PROCESS, getpid(), IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)));
	CHECK(ioprio_get(IOPRIO_WHO_PROCESS, getpid()) == IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0));
	EXPECT_ERR(ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(5, 0)), EINVAL);
	EXPECT_ERR(ioprio_set(9, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 0)), EINVAL);
	EXPECT_ERR(ioprio_get(9, 0), EINVAL);
	EXPECT_ERR(ioprio_get(IOPRIO_WHO_PROCESS, 999999), ESRCH);
	MUST(ioprio_set(IOPRIO_WHO_PGRP, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 5)));
	CHECK(ioprio_get(IOPRIO_WHO_PROCESS, 0) == IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 5));
	MUST(ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_NONE, 0)));

	/* An unprivileged user. */
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		MUST(setpriority(PRIO_PROCESS, 0, base + 5));
		/* RLIMIT_NICE is 0: no way back down. */
		EXPECT_ERR(setpriority(PRIO_PROCESS, 0, base + 4), EACCES);
		/* Another user's process. */
		EXPECT_ERR(setpriority(PRIO_PROCESS, getppid(), base + 6), EPERM);
		sp.sched_priority = 0;
		EXPECT_ERR(setsched(0, SCHED_OTHER, &sp) == 0 ? setpriority(PRIO_PROCESS, 0, base) : -1, EACCES);
		EXPECT_ERR(ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_RT, 0)), EPERM);
		MUST(ioprio_set(IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7)));
		EXPECT_ERR(ioprio_set(IOPRIO_WHO_PROCESS, getppid(), IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7)), EPERM);
		_exit(check_failures ? 1 : 0);
	}
	CHECKF(wait_ok(pid), "unprivileged checks");

	MUST(setpriority(PRIO_PROCESS, 0, base));
	printf("nice and policies: checked\n");
	return check_done("sched");
}
