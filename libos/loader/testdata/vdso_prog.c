/*
 * vdso_prog checks the library OS's vDSO from inside the sandbox, through
 * the C library's own lookup (glibc static, glibc dynamic via ld.so, musl):
 * between two getppid() markers it reads every clock the vDSO serves in a
 * loop, which must not go back, and compares them with the system call. The
 * test counts the clock system calls the strace shows between the markers:
 * only the four explicit ones.
 *
 * It prints "sysinfo_ehdr no" and stops when the loader gave it no vDSO.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static long long ns(struct timespec ts)
{
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int fails;

static void check(int ok, const char *what)
{
	if (!ok) {
		printf("FAIL: %s\n", what);
		fails++;
	}
}

/* bracket checks the vDSO's clock against the system call around it. */
static void bracket(clockid_t clock, const char *name)
{
	struct timespec a, v, b;
	syscall(SYS_clock_gettime, clock, &a);
	clock_gettime(clock, &v);
	syscall(SYS_clock_gettime, clock, &b);
	/* 1 ms of slack: the time keeper steers the vDSO onto the host. */
	if (ns(v) < ns(a) - 1000000 || ns(v) > ns(b) + 1000000) {
		printf("FAIL: %s: vDSO %lld outside [%lld, %lld]\n", name, ns(v), ns(a), ns(b));
		fails++;
	}
}

int main(void)
{
	unsigned long ehdr = getauxval(AT_SYSINFO_EHDR);
	printf("sysinfo_ehdr %s\n", ehdr ? "yes" : "no");
	if (!ehdr)
		return 0;
	/* The time keeper needs a few tens of milliseconds after boot to
	 * measure the TSC; until then the vDSO makes the system call. */
	struct timespec nap = {0, 300 * 1000000};
	nanosleep(&nap, NULL);

	syscall(SYS_getppid);
	struct timespec prev = {0, 0}, ts;
	long long prev_boot = 0, prev_raw = 0;
	for (int i = 0; i < 2000; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		check(ns(ts) >= ns(prev), "CLOCK_MONOTONIC went back");
		prev = ts;
		clock_gettime(CLOCK_BOOTTIME, &ts);
		check(ns(ts) >= prev_boot, "CLOCK_BOOTTIME went back");
		prev_boot = ns(ts);
		clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
		check(ns(ts) >= prev_raw, "CLOCK_MONOTONIC_RAW went back");
		prev_raw = ns(ts);
		clock_gettime(CLOCK_REALTIME, &ts);
		clock_gettime(CLOCK_REALTIME_COARSE, &ts);
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		struct timeval tv;
		gettimeofday(&tv, NULL);
		check(tv.tv_sec > 1600000000, "gettimeofday");
		check(time(NULL) > 1600000000, "time");
	}
	struct timespec res;
	check(clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0 && res.tv_nsec > 0, "clock_getres");
	check(sched_getcpu() >= 0, "sched_getcpu");
	bracket(CLOCK_MONOTONIC, "CLOCK_MONOTONIC");
	bracket(CLOCK_REALTIME, "CLOCK_REALTIME");
	syscall(SYS_getppid);

	if (fails)
		return 1;
	printf("vdso: ok\n");
	return 0;
}
