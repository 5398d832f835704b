/*
 * cpuclock: the CPU-time clocks of processes and threads that
 * clock_getcpuclockid and pthread_getcpuclockid name (negative clock ids:
 * ~pid << 3, bit 2 for a thread, the low bits PROF/VIRT/SCHED). A thread's
 * clock advances while it spins; a child's process clock is readable by its
 * parent, still as a zombie, and EINVAL once reaped; another process's
 * thread clock and an id naming nobody are EINVAL; clock_getres gives 1 ns
 * for SCHED clocks and a tick for PROF and VIRT.
 */
#include "check.h"
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#define PROF 0
#define VIRT 1
#define SCHED 2
#define THREAD 4
#define MAKE(pid, flags) ((clockid_t)((~(unsigned)(pid) << 3) | (flags)))

static int64_t ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

static int64_t read_clock(clockid_t c)
{
	struct timespec t;
	if (syscall(SYS_clock_gettime, c, &t) != 0)
		return -1;
	return ns(&t);
}

static volatile int stop;

static void *spin(void *arg)
{
	(void)arg;
	while (!stop)
		;
	return NULL;
}

static void burn(int64_t cpu_ns)
{
	int64_t start = read_clock(CLOCK_THREAD_CPUTIME_ID);
	while (read_clock(CLOCK_THREAD_CPUTIME_ID) - start < cpu_ns)
		for (volatile int i = 0; i < 100000; i++)
			;
}

int main(void)
{
	/* The caller's own clocks, by the encoded ids of pid 0 and getpid(). */
	burn(20 * 1000 * 1000);
	int64_t self = read_clock(CLOCK_PROCESS_CPUTIME_ID);
	CHECK(self > 0);
	clockid_t pc;
	CHECK(clock_getcpuclockid(getpid(), &pc) == 0);
	CHECK(pc == MAKE(getpid(), SCHED));
	int64_t byid = read_clock(pc);
	CHECKF(byid >= self, "process clock by id %lld < %lld", (long long)byid, (long long)self);
	CHECK(read_clock(MAKE(0, SCHED)) >= self);
	CHECK(read_clock(MAKE(0, PROF)) >= 0);
	CHECK(read_clock(MAKE(0, VIRT)) >= 0);
	CHECK(read_clock(MAKE(0, SCHED | THREAD)) >= 20 * 1000 * 1000);
	CHECK(read_clock(MAKE(syscall(SYS_gettid), SCHED | THREAD)) >= 20 * 1000 * 1000);
	puts("own clocks: ok");

	/* Resolution: 1 ns for SCHED, a tick (1..10 ms) for PROF and VIRT. */
	struct timespec res;
	CHECK(clock_getres(pc, &res) == 0 && res.tv_sec == 0 && res.tv_nsec == 1);
	CHECK(clock_getres(MAKE(0, PROF), &res) == 0 && res.tv_sec == 0);
	CHECKF(res.tv_nsec >= 1000000 && res.tv_nsec <= 10000000, "PROF res %ld", res.tv_nsec);
	CHECK(clock_getres(MAKE(0, VIRT), &res) == 0 && res.tv_nsec >= 1000000);
	CHECK(syscall(SYS_clock_getres, pc, NULL) == 0);
	puts("resolution: ok");

	/* Another thread's clock advances while it spins. */
	pthread_t th;
	CHECK(pthread_create(&th, NULL, spin, NULL) == 0);
	clockid_t tc;
	CHECK(pthread_getcpuclockid(th, &tc) == 0);
	CHECK(tc != CLOCK_THREAD_CPUTIME_ID && tc < 0 && (tc & THREAD));
	int64_t t0 = read_clock(tc);
	CHECK(t0 >= 0);
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
	int64_t t1 = read_clock(tc);
	CHECKF(t1 > t0, "thread clock %lld -> %lld", (long long)t0, (long long)t1);
	stop = 1;
	CHECK(pthread_join(th, NULL) == 0);
	puts("thread clock: ok");

	/* A child: its process clock is readable, as a zombie too; its
	 * thread clock is not ours to read; once reaped the id names nobody. */
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t child = fork();
	if (child == 0) {
		close(p[0]);
		burn(20 * 1000 * 1000);
		write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	char c;
	CHECK(read(p[0], &c, 1) == 1);
	clockid_t cc;
	CHECK(clock_getcpuclockid(child, &cc) == 0);
	int64_t alive = read_clock(cc);
	CHECKF(alive > 0, "child clock %lld", (long long)alive);
	EXPECT_ERR(syscall(SYS_clock_gettime, MAKE(child, SCHED | THREAD), &ts), EINVAL);
	CHECK(kill(child, SIGKILL) == 0);
	siginfo_t si;
	CHECK(waitid(P_PID, child, &si, WEXITED | WNOWAIT) == 0);
	int64_t zombie = read_clock(cc);
	CHECKF(zombie >= alive, "zombie clock %lld < %lld", (long long)zombie, (long long)alive);
	CHECK(waitpid(child, NULL, 0) == child);
	EXPECT_ERR(syscall(SYS_clock_gettime, cc, &ts), EINVAL);
	EXPECT_ERR(syscall(SYS_clock_getres, cc, &res), EINVAL);
	puts("child clock: ok");

	/* Ids naming nobody. */
	EXPECT_ERR(syscall(SYS_clock_gettime, MAKE(0x3ffffff, SCHED), &ts), EINVAL);
	EXPECT_ERR(syscall(SYS_clock_gettime, MAKE(0x3ffffff, SCHED | THREAD), &ts), EINVAL);
	EXPECT_ERR(syscall(SYS_clock_gettime, pc, (void *)1), EFAULT);
	puts("bad ids: ok");
	return check_done("cpuclock");
}
