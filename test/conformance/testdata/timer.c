/*
 * timer: alarm, setitimer/getitimer (ITIMER_REAL periodic, ITIMER_PROF),
 * POSIX timers (timer_create with SIGEV_SIGNAL and SIGEV_THREAD_ID,
 * timer_settime/gettime/getoverrun/delete), and sleeps interrupted by a
 * handled signal (EINTR with the time remaining, even with SA_RESTART).
 * Only facts are printed: counts are checked against bounds, not shown.
 */
#include "check.h"
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static volatile sig_atomic_t alrm, prof, rt_hits;
static volatile int rt_code, rt_value;
static volatile pid_t rt_tid;

static void on_alrm(int sig)
{
	(void)sig;
	alrm++;
}

static void on_prof(int sig)
{
	(void)sig;
	prof++;
}

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	rt_hits++;
	rt_code = si->si_code;
	rt_value = si->si_value.sival_int;
	rt_tid = (pid_t)syscall(SYS_gettid);
}

static void install(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(sig, &sa, NULL) == 0);
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/*
 * wait_for sleeps until *counter reaches n or ms pass: ppoll unblocks sig
 * atomically, as sigsuspend would, and bounds the wait.
 */
static int wait_for(volatile sig_atomic_t *counter, int n, int ms, int sig)
{
	sigset_t block, old, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, sig);
	sigprocmask(SIG_BLOCK, &block, &old);
	wait_mask = old;
	sigdelset(&wait_mask, sig);
	long deadline = now_ms() + ms;
	while (*counter < n && now_ms() < deadline) {
		struct timespec slice = {0, 100 * 1000000L};
		ppoll(NULL, 0, &slice, &wait_mask);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return *counter >= n;
}

static void alarm_test(void)
{
	install(SIGALRM, on_alrm, 0);
	CHECK(alarm(0) == 0);
	CHECK(alarm(5) == 0);
	unsigned left = alarm(0);
	CHECK(left == 5 || left == 4);
	alrm = 0;
	long t0 = now_ms();
	CHECK(alarm(1) == 0);
	CHECK(wait_for(&alrm, 1, 5000, SIGALRM));
	long took = now_ms() - t0;
	CHECK(took >= 900);
	CHECK(alarm(0) == 0); /* expired */
	puts("alarm: SIGALRM after a second; alarm(0) returns the seconds left");
}

static void itimer_test(void)
{
	struct itimerval it, got;
	memset(&it, 0, sizeof it);
	CHECK(getitimer(ITIMER_REAL, &got) == 0);
	CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0);
	it.it_interval.tv_usec = 20000;
	it.it_value.tv_usec = 20000;
	alrm = 0;
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	CHECK(getitimer(ITIMER_REAL, &got) == 0);
	CHECK(got.it_interval.tv_sec == 0 && got.it_interval.tv_usec == 20000);
	CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_usec > 0 && got.it_value.tv_usec <= 20000);
	long t0 = now_ms();
	CHECK(wait_for(&alrm, 3, 5000, SIGALRM));
	CHECK(now_ms() - t0 >= 40);
	struct itimerval off, old;
	memset(&off, 0, sizeof off);
	CHECK(setitimer(ITIMER_REAL, &off, &old) == 0);
	CHECK(old.it_interval.tv_usec == 20000);
	CHECK(getitimer(ITIMER_REAL, &got) == 0);
	CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0 && got.it_interval.tv_usec == 0);
	EXPECT_ERR(getitimer(99, &got), EINVAL);
	it.it_value.tv_usec = 1000000; /* out of range */
	EXPECT_ERR(setitimer(ITIMER_REAL, &it, NULL), EINVAL);
	puts("setitimer ITIMER_REAL 20 ms periodic: >= 3 SIGALRMs; getitimer agrees; disarmed");

	/* ITIMER_PROF counts the process's CPU time. */
	install(SIGPROF, on_prof, SA_RESTART);
	prof = 0;
	memset(&it, 0, sizeof it);
	it.it_value.tv_usec = 10000;
	it.it_interval.tv_usec = 10000;
	CHECK(setitimer(ITIMER_PROF, &it, NULL) == 0);
	long deadline = now_ms() + 10000;
	volatile unsigned long spin = 0;
	while (prof < 2 && now_ms() < deadline)
		spin++;
	CHECK(prof >= 2);
	memset(&it, 0, sizeof it);
	CHECK(setitimer(ITIMER_PROF, &it, NULL) == 0);
	puts("setitimer ITIMER_PROF: SIGPROF while spinning");
}

/* The kernel's view of struct sigevent, for SIGEV_THREAD_ID with either libc. */
struct ksigevent {
	union sigval value;
	int signo;
	int notify;
	int tid;
	int pad[11];
};
#ifndef SIGEV_THREAD_ID
#define SIGEV_THREAD_ID 4
#endif

static void posix_timer(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(SIGRTMIN, &sa, NULL) == 0);

	struct sigevent sev;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	sev.sigev_value.sival_int = 77;
	timer_t t;
	CHECK(timer_create(CLOCK_MONOTONIC, &sev, &t) == 0);
	struct itimerspec its, got;
	memset(&its, 0, sizeof its);
	CHECK(timer_gettime(t, &got) == 0);
	CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_nsec == 0);
	its.it_value.tv_nsec = 10 * 1000000L;
	its.it_interval.tv_nsec = 10 * 1000000L;
	rt_hits = 0;
	CHECK(timer_settime(t, 0, &its, NULL) == 0);
	CHECK(timer_gettime(t, &got) == 0);
	CHECK(got.it_interval.tv_sec == 0 && got.it_interval.tv_nsec == 10 * 1000000L);
	CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_nsec <= 10 * 1000000L);
	CHECK(wait_for(&rt_hits, 3, 5000, SIGRTMIN));
	CHECK(rt_code == SI_TIMER && rt_value == 77);
	CHECK(timer_getoverrun(t) >= 0);
	/* Disarm, then an absolute one-shot deadline. */
	struct itimerspec old;
	memset(&its, 0, sizeof its);
	CHECK(timer_settime(t, 0, &its, &old) == 0);
	CHECK(old.it_interval.tv_nsec == 10 * 1000000L);
	CHECK(clock_gettime(CLOCK_MONOTONIC, &its.it_value) == 0);
	its.it_value.tv_nsec += 20 * 1000000L;
	if (its.it_value.tv_nsec >= 1000000000L) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000L;
	}
	int before = rt_hits;
	CHECK(timer_settime(t, TIMER_ABSTIME, &its, NULL) == 0);
	CHECK(wait_for(&rt_hits, before + 1, 5000, SIGRTMIN));
	CHECK(timer_gettime(t, &got) == 0);
	CHECK(got.it_value.tv_sec == 0 && got.it_value.tv_nsec == 0); /* one-shot: expired */
	CHECK(timer_delete(t) == 0);
	EXPECT_ERR(syscall(SYS_timer_gettime, 0x7fff, &got), EINVAL);
	its.it_value.tv_nsec = 2000000000L;
	memset(&sev, 0, sizeof sev);
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGRTMIN;
	CHECK(timer_create(CLOCK_REALTIME, &sev, &t) == 0);
	EXPECT_ERR(timer_settime(t, 0, &its, NULL), EINVAL);
	CHECK(timer_delete(t) == 0);
	EXPECT_ERR(timer_create(12345, &sev, &t), EINVAL);
	puts("timer_create SIGEV_SIGNAL: SI_TIMER with si_value 77, periodic and absolute one-shot; deleted");
}

/* SIGEV_THREAD_ID: the timer's signal goes to the thread named. */
static volatile int target_ready;
static volatile pid_t target_tid;

static void *target(void *arg)
{
	(void)arg;
	target_tid = (pid_t)syscall(SYS_gettid);
	__atomic_store_n(&target_ready, 1, __ATOMIC_SEQ_CST);
	long deadline = now_ms() + 5000;
	while (rt_hits == 0 && now_ms() < deadline) {
		struct timespec ms = {0, 1000000L};
		nanosleep(&ms, NULL);
	}
	return NULL;
}

static void thread_id_timer(void)
{
	pthread_t th;
	rt_hits = 0;
	rt_tid = 0;
	CHECK(pthread_create(&th, NULL, target, NULL) == 0);
	while (!__atomic_load_n(&target_ready, __ATOMIC_SEQ_CST))
		sched_yield();
	struct ksigevent kev;
	memset(&kev, 0, sizeof kev);
	kev.notify = SIGEV_THREAD_ID;
	kev.signo = SIGRTMIN;
	kev.value.sival_int = 88;
	kev.tid = target_tid;
	int kt = -1;
	CHECK(syscall(SYS_timer_create, CLOCK_MONOTONIC, &kev, &kt) == 0);
	struct itimerspec its;
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 10 * 1000000L;
	CHECK(syscall(SYS_timer_settime, kt, 0, &its, NULL) == 0);
	/* The main thread keeps the signal unblocked and sleeps too. */
	long deadline = now_ms() + 5000;
	while (rt_hits == 0 && now_ms() < deadline) {
		struct timespec ms = {0, 1000000L};
		nanosleep(&ms, NULL);
	}
	CHECK(pthread_join(th, NULL) == 0);
	CHECK(rt_hits == 1);
	CHECK(rt_code == SI_TIMER && rt_value == 88);
	CHECK(rt_tid == target_tid && rt_tid != getpid());
	CHECK(syscall(SYS_timer_delete, kt) == 0);
	/* A thread id outside the process is refused. */
	kev.tid = 0x3ffffff0;
	EXPECT_ERR(syscall(SYS_timer_create, CLOCK_MONOTONIC, &kev, &kt), EINVAL);
	printf("timer_create SIGEV_THREAD_ID: delivered to the named thread: %s\n", yesno(rt_tid == target_tid));
}

/* Sleeps interrupted by a handled signal. */
static void interrupted_sleep(void)
{
	/* 200 ms leave time enough to be asleep when it fires, even when slow. */
	struct itimerval it;
	memset(&it, 0, sizeof it);
	it.it_value.tv_usec = 200000;

	install(SIGALRM, on_alrm, 0);
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	struct timespec req = {3, 0}, rem = {-1, -1};
	int r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
	CHECKF(r == EINTR, "clock_nanosleep returned %s", errname(r));
	CHECK(rem.tv_sec >= 1 && rem.tv_sec <= 2 && rem.tv_nsec >= 0 && rem.tv_nsec < 1000000000L);
	printf("clock_nanosleep 3 s interrupted after 200 ms: %s, remaining between 2 and 3 s: %s\n", errname(r),
	       yesno(rem.tv_sec == 2));

	/* Even with SA_RESTART: sleeps are not restarted with the full time. */
	install(SIGALRM, on_alrm, SA_RESTART);
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	rem.tv_sec = -1;
	errno = 0;
	int n = nanosleep(&req, &rem);
	CHECK(n == -1 && errno == EINTR);
	CHECK(rem.tv_sec == 2);

	/* An absolute sleep reports EINTR and leaves rem alone. */
	install(SIGALRM, on_alrm, 0);
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_sec += 3;
	rem.tv_sec = 99;
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, &rem);
	CHECK(r == EINTR && rem.tv_sec == 99);

	struct timespec bad = {0, 1000000000L};
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL) == EINVAL);
	CHECK(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL) == EINVAL);
	puts("nanosleep with SA_RESTART: EINTR too; absolute clock_nanosleep: EINTR, rem untouched");
}

int main(void)
{
	alarm_test();
	itimer_test();
	posix_timer();
	thread_id_timer();
	interrupted_sleep();
	return check_done("timer");
}
