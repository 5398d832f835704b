/* clock: clock_gettime/gettimeofday/time agree and advance; nanosleep sleeps. */
#include "check.h"
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

static int64_t ns(const struct timespec *t) { return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec; }

static int64_t mono(void)
{
	struct timespec t;
	CHECK(clock_gettime(CLOCK_MONOTONIC, &t) == 0);
	return ns(&t);
}

int main(void)
{
	/* Monotonic never goes back. */
	int64_t prev = mono(), back = 0;
	for (int i = 0; i < 1000; i++) {
		int64_t now = mono();
		back += now < prev;
		prev = now;
	}
	CHECK(back == 0);
	struct timespec t;
	CHECK(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t) == 0);
	CHECK(t.tv_nsec >= 0 && t.tv_nsec < 1000000000);
	CHECK(ns(&t) >= prev);

	/* Realtime is after 2023-11 and matches time() and gettimeofday(). */
	struct timespec rt;
	CHECK(clock_gettime(CLOCK_REALTIME, &rt) == 0);
	CHECK(rt.tv_sec > 1700000000);
	/* time() may read the coarse clock, up to a tick behind. */
	time_t tt = time(NULL);
	CHECK(tt >= rt.tv_sec - 1 && tt - rt.tv_sec < 5);
	struct timeval tv;
	CHECK(gettimeofday(&tv, NULL) == 0);
	CHECK(tv.tv_sec >= rt.tv_sec && tv.tv_sec - rt.tv_sec < 5);
	CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	CHECK(clock_gettime(CLOCK_BOOTTIME, &t) == 0);
	CHECK(clock_gettime(CLOCK_MONOTONIC_COARSE, &t) == 0);
	CHECK(clock_gettime(CLOCK_REALTIME_COARSE, &t) == 0);
	struct timespec res;
	CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec > 0);
	puts("clocks: ok");

	/* nanosleep 10 ms sleeps at least that long (libc and raw syscall). */
	struct timespec req = {0, 10 * 1000 * 1000};
	int64_t t0 = mono();
	CHECK(nanosleep(&req, NULL) == 0);
	int64_t slept = mono() - t0;
	CHECKF(slept >= 10 * 1000 * 1000 && slept < 5LL * 1000 * 1000 * 1000, "slept %lld ns", (long long)slept);
	t0 = mono();
	CHECK(syscall(SYS_nanosleep, &req, NULL) == 0);
	slept = mono() - t0;
	CHECKF(slept >= 10 * 1000 * 1000 && slept < 5LL * 1000 * 1000 * 1000, "slept %lld ns", (long long)slept);
	t0 = mono();
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL) == 0);
	slept = mono() - t0;
	CHECKF(slept >= 10 * 1000 * 1000 && slept < 5LL * 1000 * 1000 * 1000, "slept %lld ns", (long long)slept);
	struct timespec zero = {0, 0};
	CHECK(nanosleep(&zero, NULL) == 0);
	puts("nanosleep: ok");

	/* Bad arguments. */
	struct timespec bad = {0, 1000000000};
	EXPECT_ERR(syscall(SYS_nanosleep, &bad, NULL), EINVAL);
	struct timespec neg = {-1, 0};
	EXPECT_ERR(syscall(SYS_nanosleep, &neg, NULL), EINVAL);
	EXPECT_ERR(syscall(SYS_clock_gettime, 12345, &t), EINVAL);
	EXPECT_ERR(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)1), EFAULT);
	puts("bad arguments: ok");
	return check_done("clock");
}
