/*
 * schedpolicy: sched_setscheduler/sched_getscheduler/sched_setparam and
 * sched_setattr/sched_getattr for the normal policies. SCHED_BATCH and
 * SCHED_IDLE stick (and show in /proc/PID/stat field 41); raw system calls,
 * as musl stubs the sched_* policy functions with ENOSYS;
 * SCHED_RESET_ON_FORK is reported with the policy and makes a child start
 * with a non-negative nice value and without the flag; a priority must be 0
 * for a normal policy and 1..99 for a real-time one (EINVAL); sched_setattr
 * sets the nice value of a normal policy (not SCHED_IDLE's), changes only
 * reset-on-fork with SCHED_FLAG_KEEP_PARAMS, keeps the policy with
 * SCHED_FLAG_KEEP_POLICY (and reset-on-fork), takes size 0 as the first version and refuses a
 * short or non-zero-extended struct with E2BIG; sched_getattr fills the size
 * it is given, zeros past its own struct. Unprivileged: leaving SCHED_IDLE, clearing
 * reset-on-fork, lowering the nice value, a real-time policy and another
 * user's thread are EPERM. sched_rr_get_interval of a normal thread is
 * below SCHED_RR's 100 ms and checks its pid.
 */
#include "check.h"
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif
#ifndef SCHED_BATCH
#define SCHED_BATCH 3
#endif
#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif
#define SCHED_FLAG_RESET_ON_FORK 0x01
#define SCHED_FLAG_KEEP_POLICY 0x08
#define SCHED_FLAG_KEEP_PARAMS 0x10

struct attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
	uint32_t util_min, util_max;
	char extra[16];
};

static long setattr(pid_t pid, struct attr *a) { return syscall(SYS_sched_setattr, pid, a, 0); }
static long getattr(pid_t pid, struct attr *a, unsigned size) { return syscall(SYS_sched_getattr, pid, a, size, 0); }

static int setsched(pid_t pid, int policy, int prio)
{
	struct sched_param p = {.sched_priority = prio};
	return syscall(SYS_sched_setscheduler, pid, policy, &p);
}

static int getsched(pid_t pid) { return syscall(SYS_sched_getscheduler, pid); }

/* stat_policy reads field 41 of /proc/self/stat. */
static long stat_policy(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	int field = 3;
	long v = -1;
	for (char *tok = strtok(p + 2, " "); tok; tok = strtok(NULL, " "), field++)
		if (field == 41)
			v = strtol(tok, NULL, 10);
	return v;
}

int main(void)
{
	CHECK(getsched(0) == SCHED_OTHER);
	CHECK(getsched(getpid()) == SCHED_OTHER);
	CHECK(stat_policy() == SCHED_OTHER);
	CHECK(setsched(0, SCHED_BATCH, 0) == 0);
	CHECK(getsched(0) == SCHED_BATCH);
	CHECK(stat_policy() == SCHED_BATCH);
	struct sched_param sp = {.sched_priority = 7};
	CHECK(syscall(SYS_sched_getparam, 0, &sp) == 0 && sp.sched_priority == 0);
	sp.sched_priority = 0;
	CHECK(syscall(SYS_sched_setparam, 0, &sp) == 0);
	CHECK(getsched(0) == SCHED_BATCH);
	sp.sched_priority = 5;
	EXPECT_ERR(syscall(SYS_sched_setparam, 0, &sp), EINVAL);
	EXPECT_ERR(setsched(0, SCHED_BATCH, 1), EINVAL);
	EXPECT_ERR(setsched(0, SCHED_FIFO, 0), EINVAL);
	EXPECT_ERR(setsched(0, SCHED_RR, 100), EINVAL);
	EXPECT_ERR(setsched(0, 4, 0), EINVAL);
	EXPECT_ERR(setsched(0, 7, 0), EINVAL);
	EXPECT_ERR(setsched(0, -1, 0), EINVAL);
	EXPECT_ERR(setsched(-1, SCHED_OTHER, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL), EINVAL);
	EXPECT_ERR(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, (void *)8), EFAULT);
	EXPECT_ERR(getsched(-1), EINVAL);
	EXPECT_ERR(getsched(0x3ffffff), ESRCH);
	EXPECT_ERR(setsched(0x3ffffff, SCHED_OTHER, 0), ESRCH);
	CHECK(getsched(0) == SCHED_BATCH);
	/* A normal policy's round-robin interval is its slice in whole ticks
	 * (0 on a 250 Hz kernel with EEVDF's slice), not SCHED_RR's 100 ms. */
	struct timespec ts = {9, 9};
	CHECK(syscall(SYS_sched_rr_get_interval, 0, &ts) == 0 && ts.tv_sec == 0 && ts.tv_nsec < 100000000);
	EXPECT_ERR(syscall(SYS_sched_rr_get_interval, -1, &ts), EINVAL);
	EXPECT_ERR(syscall(SYS_sched_rr_get_interval, 0x3ffffff, &ts), ESRCH);
	EXPECT_ERR(syscall(SYS_sched_rr_get_interval, 0, (void *)8), EFAULT);
	puts("policies and priorities: ok");

	/* Reset on fork: the child keeps the policy, loses a negative nice
	 * value and the flag. */
	CHECK(setpriority(PRIO_PROCESS, 0, -3) == 0);
	CHECK(setsched(0, SCHED_IDLE | SCHED_RESET_ON_FORK, 0) == 0);
	CHECK(getsched(0) == (SCHED_IDLE | SCHED_RESET_ON_FORK));
	pid_t child = fork();
	if (child == 0) {
		errno = 0;
		int nice = getpriority(PRIO_PROCESS, 0);
		_exit(getsched(0) == SCHED_IDLE && nice == 0 && errno == 0 ? 0 : 1);
	}
	int st;
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(getpriority(PRIO_PROCESS, 0) == -3);
	puts("reset on fork: ok");

	/* sched_getattr. */
	struct attr a;
	memset(&a, 0xff, sizeof a);
	CHECK(getattr(0, &a, 48) == 0);
	CHECK(a.size == 48 && a.policy == SCHED_IDLE && a.flags == SCHED_FLAG_RESET_ON_FORK);
	CHECK(a.nice == -3 && a.priority == 0); /* runtime: the slice, since 6.12 */
	CHECK(a.util_min == 0xffffffff); /* beyond the size given: untouched */
	memset(&a, 0xff, sizeof a);
	CHECK(getattr(0, &a, sizeof a) == 0 && a.size == 56);
	CHECK(a.extra[0] == 0 && a.extra[15] == 0); /* zeroed past the kernel's struct */
	EXPECT_ERR(getattr(0, &a, 47), EINVAL);
	EXPECT_ERR(syscall(SYS_sched_getattr, 0, &a, 48, 1), EINVAL);
	EXPECT_ERR(getattr(-1, &a, 48), EINVAL);
	EXPECT_ERR(getattr(0x3ffffff, &a, 48), ESRCH);
	EXPECT_ERR(getattr(0, (void *)8, 48), EFAULT);
	puts("sched_getattr: ok");

	/* sched_setattr. */
	memset(&a, 0, sizeof a);
	a.size = 48;
	a.policy = SCHED_BATCH;
	a.nice = 4;
	CHECK(setattr(0, &a) == 0);
	CHECK(getsched(0) == SCHED_BATCH && getpriority(PRIO_PROCESS, 0) == 4);
	/* KEEP_PARAMS changes nothing but reset-on-fork, not even the policy. */
	a.size = 0;
	a.policy = SCHED_OTHER;
	a.nice = 100;
	a.flags = SCHED_FLAG_KEEP_PARAMS | SCHED_FLAG_RESET_ON_FORK;
	CHECK(setattr(0, &a) == 0);
	CHECK(getsched(0) == (SCHED_BATCH | SCHED_RESET_ON_FORK) && getpriority(PRIO_PROCESS, 0) == 4);
	/* KEEP_POLICY keeps reset-on-fork too. */
	a.flags = SCHED_FLAG_KEEP_POLICY;
	a.policy = SCHED_IDLE;
	CHECK(setattr(0, &a) == 0);
	CHECK(getsched(0) == (SCHED_BATCH | SCHED_RESET_ON_FORK) && getpriority(PRIO_PROCESS, 0) == 19);
	/* SCHED_IDLE takes no nice value. */
	a.flags = 0;
	a.nice = 2;
	CHECK(setattr(0, &a) == 0);
	CHECK(getsched(0) == SCHED_IDLE && getpriority(PRIO_PROCESS, 0) == 19);
	a.flags = 0;
	a.size = 47;
	EXPECT_ERR(setattr(0, &a), E2BIG);
	CHECK(a.size == 56);
	a.size = sizeof a;
	a.extra[3] = 1;
	EXPECT_ERR(setattr(0, &a), E2BIG);
	CHECK(a.size == 56);
	a.extra[3] = 0;
	a.size = sizeof a;
	a.policy = SCHED_OTHER;
	a.nice = 0;
	CHECK(setattr(0, &a) == 0 && getpriority(PRIO_PROCESS, 0) == 0);
	a.flags = 0x80;
	EXPECT_ERR(setattr(0, &a), EINVAL);
	a.flags = 0;
	a.policy = SCHED_OTHER;
	a.priority = 1;
	EXPECT_ERR(setattr(0, &a), EINVAL);
	a.priority = 0;
	EXPECT_ERR(syscall(SYS_sched_setattr, 0, &a, 1), EINVAL);
	EXPECT_ERR(setattr(0, (void *)8), EFAULT);
	puts("sched_setattr: ok");

	/* Unprivileged. */
	int q[2], r[2];
	CHECK(pipe(q) == 0 && pipe(r) == 0);
	child = fork();
	if (child == 0) {
		close(q[0]);
		close(r[1]);
		struct rlimit rl = {0, 0};
		int ok = setrlimit(RLIMIT_NICE, &rl) == 0 && setrlimit(RLIMIT_RTPRIO, &rl) == 0;
		ok = ok && setsched(0, SCHED_BATCH | SCHED_RESET_ON_FORK, 0) == 0;
		ok = ok && setresuid(54321, 54321, 54321) == 0;
		ok = ok && setsched(0, SCHED_OTHER, 0) == -1 && errno == EPERM; /* the flag */
		ok = ok && setsched(0, SCHED_IDLE | SCHED_RESET_ON_FORK, 0) == 0;
		ok = ok && setsched(0, SCHED_OTHER | SCHED_RESET_ON_FORK, 0) == -1 && errno == EPERM;
		ok = ok && getsched(0) == (SCHED_IDLE | SCHED_RESET_ON_FORK);
		ok = ok && setsched(0, SCHED_FIFO | SCHED_RESET_ON_FORK, 1) == -1 && errno == EPERM;
		ok = ok && setsched(getppid(), SCHED_OTHER, 0) == -1 && errno == EPERM;
		ok = ok && getsched(getppid()) == SCHED_OTHER;
		struct attr b;
		memset(&b, 0, sizeof b);
		b.size = 48;
		b.policy = SCHED_BATCH;
		b.flags = SCHED_FLAG_RESET_ON_FORK;
		ok = ok && setattr(0, &b) == -1 && errno == EPERM; /* leaving SCHED_IDLE */
		b.policy = SCHED_IDLE;
		b.nice = -5; /* not taken: no EPERM */
		ok = ok && setattr(0, &b) == 0 && getpriority(PRIO_PROCESS, 0) == 0;
		char c = ok ? 'y' : 'n';
		write(q[1], &c, 1);
		read(r[0], &c, 1);
		_exit(0);
	}
	close(q[1]);
	close(r[0]);
	char c;
	CHECK(read(q[0], &c, 1) == 1 && c == 'y');
	/* Root may take the child out of SCHED_IDLE and clear its flag. */
	CHECK(setsched(child, SCHED_OTHER, 0) == 0);
	CHECK(getsched(child) == SCHED_OTHER);
	CHECK(write(r[1], "x", 1) == 1);
	CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	puts("permissions: ok");
	return check_done("schedpolicy");
}
