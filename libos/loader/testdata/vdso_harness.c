/*
 * vdso_harness runs the library OS's vDSO image outside the sandbox: it
 * maps a data page file (MAP_SHARED, read-only, so a writer elsewhere is
 * seen) and right above it the image, and calls the functions at the
 * offsets it is given. Used by vdso_test.go.
 *
 *   vdso_harness IMAGE DATA CLOCK_GETTIME GETTIMEOFDAY TIME GETRES GETCPU MODE [ARGS]
 *
 * Offsets are hexadecimal. Modes:
 *   values            one line per call, for exact checks against a page
 *                     of known parameters
 *   compare MS THR    THR threads call the vDSO for MS milliseconds, each
 *                     call bracketed by the real system call: how far
 *                     the vDSO strays from the host, and whether any
 *                     clock went back, within a thread or across them
 *   bench N           nanoseconds per vDSO clock_gettime(CLOCK_MONOTONIC)
 *   efault            getcpu's return value, all 64 bits, for a bad
 *                     pointer (only with a page that sends it to the
 *                     system call: otherwise the vDSO faults, as Linux's)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef int (*clock_gettime_fn)(int, struct timespec *);
typedef int (*gettimeofday_fn)(void *, void *);
typedef long (*time_fn)(long *);
typedef long (*getcpu_fn)(unsigned *, unsigned *, void *);

static clock_gettime_fn v_clock_gettime, v_clock_getres;
static gettimeofday_fn v_gettimeofday;
static time_fn v_time;
static getcpu_fn v_getcpu;

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

static int64_t ns(struct timespec ts)
{
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t sys_now(int clock)
{
	struct timespec ts;
	if (syscall(SYS_clock_gettime, clock, &ts) != 0)
		die("clock_gettime");
	return ns(ts);
}

static void load(const char *image, const char *data, char **offs)
{
	int fd = open(image, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		die(image);
	size_t len = (st.st_size + 4095) & ~4095ul;
	char *base = mmap(NULL, 4096 + len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		die("mmap");
	if (mmap(base + 4096, len, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED)
		die("mmap image");
	close(fd);
	fd = open(data, O_RDONLY);
	if (fd < 0)
		die(data);
	if (mmap(base, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
		die("mmap data");
	close(fd);
	char *text = base + 4096;
	v_clock_gettime = (clock_gettime_fn)(text + strtoul(offs[0], NULL, 16));
	v_gettimeofday = (gettimeofday_fn)(text + strtoul(offs[1], NULL, 16));
	v_time = (time_fn)(text + strtoul(offs[2], NULL, 16));
	v_clock_getres = (clock_gettime_fn)(text + strtoul(offs[3], NULL, 16));
	v_getcpu = (getcpu_fn)(text + strtoul(offs[4], NULL, 16));
}

static const int clocks[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 100, -2, -6};

static void values(void)
{
	for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
		struct timespec ts = {-1, -1};
		int r = v_clock_gettime(clocks[i], &ts);
		printf("clock_gettime %d %d %lld %lld\n", clocks[i], r, (long long)ts.tv_sec, (long long)ts.tv_nsec);
		ts.tv_sec = ts.tv_nsec = -1;
		r = v_clock_getres(clocks[i], &ts);
		printf("clock_getres %d %d %lld %lld\n", clocks[i], r, (long long)ts.tv_sec, (long long)ts.tv_nsec);
		r = v_clock_getres(clocks[i], NULL);
		printf("clock_getres_null %d %d\n", clocks[i], r);
	}
	struct { int64_t sec, usec; } tv = {-1, -1};
	struct { int32_t west, dst; } tz = {-1, -1};
	int r = v_gettimeofday(&tv, &tz);
	printf("gettimeofday %d %lld %lld %d %d\n", r, (long long)tv.sec, (long long)tv.usec, tz.west, tz.dst);
	r = v_gettimeofday(NULL, NULL);
	printf("gettimeofday_null %d\n", r);
	long t = -1;
	long rt = v_time(&t);
	printf("time %ld %ld\n", rt, t);
	printf("time_null %ld\n", v_time(NULL));
	unsigned cpu = 99, node = 99;
	long rc = v_getcpu(&cpu, &node, NULL);
	printf("getcpu %ld %u %u\n", rc, cpu, node);
	rc = v_getcpu(NULL, NULL, NULL);
	printf("getcpu_null %ld\n", rc);
	struct timespec ts;
	uint64_t before = rdtsc();
	r = v_clock_gettime(1, &ts);
	uint64_t after = rdtsc();
	printf("tsc %llu %d %lld %lld %llu\n", (unsigned long long)before, r, (long long)ts.tv_sec,
	       (long long)ts.tv_nsec, (unsigned long long)after);
}

/* The clocks compared with the host, and whether each must not go back. */
static const int cmp_clocks[] = {0, 1, 4, 5, 6, 7, 11};
static const int cmp_mono[] = {0, 1, 1, 0, 1, 1, 0};
#define NCMP (sizeof cmp_clocks / sizeof cmp_clocks[0])

static int duration_ms;
static _Atomic int64_t shared_last; /* latest CLOCK_MONOTONIC any thread saw */
static _Atomic long across_back, within_back, calls;

struct stats {
	int64_t behind[NCMP], ahead[NCMP];
};

static void *compare_thread(void *arg)
{
	struct stats *s = arg;
	int64_t last[NCMP];
	memset(last, 0, sizeof last);
	int64_t end = sys_now(1) + (int64_t)duration_ms * 1000000;
	long n = 0;
	for (unsigned i = 0;; i++) {
		unsigned c = i % NCMP;
		int clock = cmp_clocks[c];
		int64_t seen = atomic_load(&shared_last);
		int64_t a = sys_now(clock);
		struct timespec ts;
		if (v_clock_gettime(clock, &ts) != 0) {
			fprintf(stderr, "vdso clock_gettime(%d) failed\n", clock);
			exit(1);
		}
		int64_t v = ns(ts);
		int64_t b = sys_now(clock);
		if (v < a && a - v > s->behind[c])
			s->behind[c] = a - v;
		if (v > b && v - b > s->ahead[c])
			s->ahead[c] = v - b;
		if (cmp_mono[c] && v < last[c])
			atomic_fetch_add(&within_back, 1);
		last[c] = v;
		if (clock == 1) {
			if (v < seen)
				atomic_fetch_add(&across_back, 1);
			int64_t cur = atomic_load(&shared_last);
			while (cur < v && !atomic_compare_exchange_weak(&shared_last, &cur, v))
				;
			/* Back to back, without a system call between. */
			for (int j = 0; j < 16; j++) {
				int64_t before = atomic_load(&shared_last);
				v_clock_gettime(1, &ts);
				int64_t w = ns(ts);
				if (w < before)
					atomic_fetch_add(&across_back, 1);
				cur = atomic_load(&shared_last);
				while (cur < w && !atomic_compare_exchange_weak(&shared_last, &cur, w))
					;
			}
			if (b > end)
				break;
		}
		n++;
	}
	atomic_fetch_add(&calls, n);
	return NULL;
}

static void compare(int ms, int nthreads)
{
	duration_ms = ms;
	pthread_t th[64];
	struct stats st[64];
	memset(st, 0, sizeof st);
	if (nthreads > 64)
		nthreads = 64;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, compare_thread, &st[i]) != 0)
			die("pthread_create");
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	for (unsigned c = 0; c < NCMP; c++) {
		int64_t behind = 0, ahead = 0;
		for (int i = 0; i < nthreads; i++) {
			if (st[i].behind[c] > behind)
				behind = st[i].behind[c];
			if (st[i].ahead[c] > ahead)
				ahead = st[i].ahead[c];
		}
		printf("clock %d behind %lld ahead %lld\n", cmp_clocks[c], (long long)behind, (long long)ahead);
	}
	printf("calls %ld within_back %ld across_back %ld\n", atomic_load(&calls), atomic_load(&within_back),
	       atomic_load(&across_back));
}

static void bench(long n)
{
	struct timespec ts, t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++)
		v_clock_gettime(1, &ts);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("bench %.1f\n", (double)(ns(t1) - ns(t0)) / n);
}

int main(int argc, char **argv)
{
	if (argc < 9) {
		fprintf(stderr, "usage: %s IMAGE DATA CLOCK_GETTIME GETTIMEOFDAY TIME GETRES GETCPU MODE [ARGS]\n", argv[0]);
		return 2;
	}
	load(argv[1], argv[2], argv + 3);
	const char *mode = argv[8];
	if (strcmp(mode, "values") == 0)
		values();
	else if (strcmp(mode, "compare") == 0 && argc == 11)
		compare(atoi(argv[9]), atoi(argv[10]));
	else if (strcmp(mode, "efault") == 0)
		printf("getcpu_efault %ld\n", v_getcpu((unsigned *)8, NULL, NULL));
	else if (strcmp(mode, "bench") == 0 && argc == 10)
		bench(atol(argv[9]));
	else {
		fprintf(stderr, "bad mode\n");
		return 2;
	}
	return 0;
}
