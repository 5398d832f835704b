/*
 * The library OS's vDSO: clock_gettime, gettimeofday, time, clock_getres
 * and getcpu answered in the workload's own address space, without a
 * system call, from the data page ("vvar") the sentry maps read-only one
 * page below this image and keeps up to date.
 *
 * Time is a linear function of the TSC: the sentry calibrates the TSC
 * against the host's clocks and publishes, under a sequence counter, a
 * base TSC value, the CLOCK_MONOTONIC and CLOCK_MONOTONIC_RAW readings at
 * that TSC value, each line's slope (nanoseconds per tick in 32.32 fixed
 * point) and the offsets of the other clocks from CLOCK_MONOTONIC.
 *
 * The coarse clocks and time() read the same lines as the fine clocks:
 * more precise than Linux's tick-granular values, and consistent with the
 * library OS's own time(2), which reads the host's fine clock too.
 *
 * Whatever the data page does not vouch for (a page of zeroes, a host TSC
 * the sentry found unusable, a clock id handled nowhere else) goes to the
 * real system call, which the library OS serves; so the functions are
 * always correct and merely slower there.
 *
 * Built by tools/genvdso with gcc; the bytes are checked in as
 * libos/loader/vdso_image.go. It must stay free of relocations, data,
 * thread-local storage and calls into other objects: glibc, musl and the
 * Go runtime use it without relocating it.
 */

#include <stdint.h>

/* The layout is shared with vdso_data.go; both sides check the offsets. */
struct vvar_data {
	uint64_t seq;        /* even when stable, odd while the sentry writes */
	uint64_t flags;      /* VVAR_* */
	uint64_t tsc_base;   /* TSC value at which both lines are anchored */
	uint64_t mono_base;  /* CLOCK_MONOTONIC at tsc_base, ns */
	uint64_t mono_mult;  /* ns per tick << 32 */
	uint64_t raw_base;   /* CLOCK_MONOTONIC_RAW at tsc_base, ns */
	uint64_t raw_mult;   /* ns per tick << 32 */
	int64_t real_off;    /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
	int64_t boot_off;    /* CLOCK_BOOTTIME - CLOCK_MONOTONIC, ns */
	int64_t tai_off;     /* CLOCK_TAI - CLOCK_MONOTONIC, ns */
	uint64_t res_hres;   /* clock_getres of the fine clocks, ns */
	uint64_t res_coarse; /* clock_getres of the coarse clocks, ns */
	uint32_t cpu;        /* what getcpu reports */
	uint32_t node;
};

#define VVAR_TSC    1u /* the TSC lines are valid */
#define VVAR_GETCPU 2u /* cpu and node are valid */

_Static_assert(__builtin_offsetof(struct vvar_data, flags) == 8, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, tsc_base) == 16, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, mono_base) == 24, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, mono_mult) == 32, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, raw_base) == 40, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, raw_mult) == 48, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, real_off) == 56, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, boot_off) == 64, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, tai_off) == 72, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, res_hres) == 80, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, res_coarse) == 88, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, cpu) == 96, "layout");
_Static_assert(__builtin_offsetof(struct vvar_data, node) == 100, "layout");

/*
 * Linux's x86-64 ABI, and the signatures of its vDSO functions: a clock id
 * is an int (the upper half of its register is not defined), getcpu
 * returns a long (musl reads all of it).
 */
struct k_timespec { int64_t tv_sec; int64_t tv_nsec; };
struct k_timeval { int64_t tv_sec; int64_t tv_usec; };
struct k_timezone { int32_t tz_minuteswest; int32_t tz_dsttime; };

enum {
	SYS_gettimeofday = 96,
	SYS_time = 201,
	SYS_clock_gettime = 228,
	SYS_clock_getres = 229,
	SYS_getcpu = 309,
};

enum {
	CLOCK_REALTIME = 0,
	CLOCK_MONOTONIC = 1,
	CLOCK_MONOTONIC_RAW = 4,
	CLOCK_REALTIME_COARSE = 5,
	CLOCK_MONOTONIC_COARSE = 6,
	CLOCK_BOOTTIME = 7,
	CLOCK_TAI = 11,
};

#define NSEC_PER_SEC 1000000000ull

/*
 * The data page, one page below this image's first byte: vdso.lds defines
 * the symbol relative to the image, so the code reaches it PC-relative and
 * needs no relocation.
 */
extern const volatile struct vvar_data vvar_page __attribute__((visibility("hidden")));

static inline const volatile struct vvar_data *vvar(void)
{
	return &vvar_page;
}

static inline long syscall2(long nr, long a, long b)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a), "S"(b)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long syscall3(long nr, long a, long b, long c)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a), "S"(b), "d"(c)
			 : "rcx", "r11", "memory");
	return ret;
}

/*
 * rdtsc_fenced reads the TSC after every earlier load has completed and
 * before any later load starts, so the reading falls between the two loads
 * of the sequence counter that bracket it.
 */
static inline uint64_t rdtsc_fenced(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

/* line evaluates base + (tsc - tsc_base) * mult / 2^32, never before base. */
static inline uint64_t line(uint64_t tsc, uint64_t tsc_base, uint64_t base, uint64_t mult)
{
	uint64_t delta = tsc > tsc_base ? tsc - tsc_base : 0;
	return base + (uint64_t)(((unsigned __int128)delta * mult) >> 32);
}

/* How long a reader spins on an update in progress before it yields its
 * CPU: the sentry may be descheduled half way, and may need this CPU to
 * finish. The reader then tries again rather than asking the library OS
 * for the time: the host's clocks can be a little behind the line (the
 * coarse ones by a tick), and a clock must never go back. */
#define SPIN_LIMIT 1000
#define NR_SCHED_YIELD 24

/*
 * read_ns computes the clock's value in nanoseconds; it returns 0 if the
 * data page cannot answer, and the caller makes the system call.
 */
static inline int read_ns(int clock, uint64_t *ns)
{
	const volatile struct vvar_data *v = vvar();
	uint64_t seq, tsc, tsc_base, base, mult, off;
	int spins = 0;

	for (;;) {
		seq = v->seq;
		if (seq & 1) {
			if (++spins > SPIN_LIMIT) {
				syscall2(NR_SCHED_YIELD, 0, 0);
				spins = 0;
			}
			__builtin_ia32_pause();
			continue;
		}
		if (!(v->flags & VVAR_TSC))
			return 0;
		tsc_base = v->tsc_base;
		if (clock == CLOCK_MONOTONIC_RAW) {
			base = v->raw_base;
			mult = v->raw_mult;
			off = 0;
		} else {
			base = v->mono_base;
			mult = v->mono_mult;
			switch (clock) {
			case CLOCK_REALTIME:
			case CLOCK_REALTIME_COARSE:
				off = (uint64_t)v->real_off;
				break;
			case CLOCK_BOOTTIME:
				off = (uint64_t)v->boot_off;
				break;
			case CLOCK_TAI:
				off = (uint64_t)v->tai_off;
				break;
			default:
				off = 0;
			}
		}
		tsc = rdtsc_fenced();
		if (v->seq == seq)
			break;
	}
	*ns = line(tsc, tsc_base, base, mult) + off;
	return 1;
}

static inline int handled(int clock)
{
	switch (clock) {
	case CLOCK_REALTIME:
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_REALTIME_COARSE:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
	case CLOCK_TAI:
		return 1;
	}
	return 0;
}

int __vdso_clock_gettime(int clock, struct k_timespec *ts)
{
	uint64_t ns;

	if (!handled(clock) || !read_ns(clock, &ns))
		return (int)syscall2(SYS_clock_gettime, clock, (long)ts);
	ts->tv_sec = (int64_t)(ns / NSEC_PER_SEC);
	ts->tv_nsec = (int64_t)(ns % NSEC_PER_SEC);
	return 0;
}

int __vdso_gettimeofday(struct k_timeval *tv, struct k_timezone *tz)
{
	uint64_t ns;

	if (tv) {
		if (!read_ns(CLOCK_REALTIME, &ns))
			return (int)syscall2(SYS_gettimeofday, (long)tv, (long)tz);
		tv->tv_sec = (int64_t)(ns / NSEC_PER_SEC);
		tv->tv_usec = (int64_t)(ns % NSEC_PER_SEC / 1000);
	}
	if (tz) {
		/* The library OS keeps the kernel's time zone at UTC. */
		tz->tz_minuteswest = 0;
		tz->tz_dsttime = 0;
	}
	return 0;
}

long __vdso_time(long *t)
{
	uint64_t ns;
	long sec;

	if (!read_ns(CLOCK_REALTIME, &ns))
		return syscall2(SYS_time, (long)t, 0);
	sec = (long)(ns / NSEC_PER_SEC);
	if (t)
		*t = sec;
	return sec;
}

int __vdso_clock_getres(int clock, struct k_timespec *res)
{
	const volatile struct vvar_data *v = vvar();
	uint64_t ns;

	if (!handled(clock))
		return (int)syscall2(SYS_clock_getres, clock, (long)res);
	if (clock == CLOCK_REALTIME_COARSE || clock == CLOCK_MONOTONIC_COARSE)
		ns = v->res_coarse;
	else
		ns = v->res_hres;
	if (ns == 0)
		return (int)syscall2(SYS_clock_getres, clock, (long)res);
	if (res) {
		res->tv_sec = (int64_t)(ns / NSEC_PER_SEC);
		res->tv_nsec = (int64_t)(ns % NSEC_PER_SEC);
	}
	return 0;
}

long __vdso_getcpu(unsigned *cpu, unsigned *node, void *cache)
{
	const volatile struct vvar_data *v = vvar();

	(void)cache;
	if (!(v->flags & VVAR_GETCPU))
		return syscall3(SYS_getcpu, (long)cpu, (long)node, (long)cache);
	if (cpu)
		*cpu = v->cpu;
	if (node)
		*node = v->node;
	return 0;
}

/* The unprefixed names Linux's vDSO also exports. */
int clock_gettime(int, struct k_timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct k_timeval *, struct k_timezone *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct k_timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
