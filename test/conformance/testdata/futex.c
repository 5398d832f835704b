/*
 * futex: the raw futex(2) operations between threads and between processes:
 * WAIT/WAKE, a value mismatch (EAGAIN), relative and absolute timeouts
 * (ETIMEDOUT), CMP_REQUEUE, WAKE_OP, WAIT_BITSET/WAKE_BITSET, private and
 * shared futexes, and the uncontended PI operations.
 *
 * To know that a waiter is asleep in the kernel without waking it, the test
 * requeues the sleepers of a word onto a spare word and back (CMP_REQUEUE
 * with nr_wake 0 returns how many it moved): that makes every count below
 * deterministic.
 */
#include "check.h"
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

/* From <linux/futex.h>, which musl-gcc does not see. */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_LOCK_PI 6
#define FUTEX_UNLOCK_PI 7
#define FUTEX_TRYLOCK_PI 8
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_REQUEUE_PRIVATE (FUTEX_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_OP_PRIVATE (FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG)
#define FUTEX_LOCK_PI_PRIVATE (FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG)
#define FUTEX_UNLOCK_PI_PRIVATE (FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG)
#define FUTEX_TRYLOCK_PI_PRIVATE (FUTEX_TRYLOCK_PI | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_BITSET_PRIVATE (FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY 0xffffffff
#define FUTEX_TID_MASK 0x3fffffff
#define FUTEX_OP_SET 0
#define FUTEX_OP_ADD 1
#define FUTEX_OP_OR 2
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP_CMP_NE 1
#define FUTEX_OP_CMP_GT 4
#define FUTEX_OP(op, oparg, cmp, cmparg) \
	((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

static long futex(int *uaddr, int op, int val, const struct timespec *ts, int *uaddr2, int val3)
{
	return syscall(SYS_futex, uaddr, op, val, ts, uaddr2, val3);
}

/* The timeout argument of REQUEUE, CMP_REQUEUE and WAKE_OP is val2. */
static long futex2(int *uaddr, int op, int val, long val2, int *uaddr2, int val3)
{
	return syscall(SYS_futex, uaddr, op, val, val2, uaddr2, val3);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * sleepers returns how many waiters sleep on *w (op is FUTEX_PRIVATE_FLAG or
 * 0), leaving them asleep there.
 */
static int park_private;

static int sleepers(int *w, int priv, int *park)
{
	int v = __atomic_load_n(w, __ATOMIC_SEQ_CST);
	long n = futex2(w, FUTEX_CMP_REQUEUE | priv, 0, INT_MAX, park, v);
	if (n <= 0)
		return (int)n;
	long back = futex2(park, FUTEX_CMP_REQUEUE | priv, 0, INT_MAX, w, *park);
	return back == n ? (int)n : -100;
}

/* await_sleepers waits (up to 10 s) until n waiters sleep on *w. */
static int await_sleepers(int *w, int n)
{
	for (int i = 0; i < 10000; i++) {
		int got = sleepers(w, FUTEX_PRIVATE_FLAG, &park_private);
		if (got == n)
			return 1;
		if (got < 0 || got > n)
			return 0;
		sleep_ms(1);
	}
	return 0;
}

struct waiter {
	int *word;
	int val;
	int op;
	int bitset;
	long result;
	int err;
	pthread_t th;
};

static int woken_count;

static void *wait_once(void *arg)
{
	struct waiter *w = arg;
	errno = 0;
	if (w->op == FUTEX_WAIT_BITSET_PRIVATE)
		w->result = futex(w->word, w->op, w->val, NULL, NULL, w->bitset);
	else
		w->result = futex(w->word, w->op, w->val, NULL, NULL, 0);
	w->err = errno;
	__atomic_add_fetch(&woken_count, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void start(struct waiter *w, int *word, int val, int op, int bitset)
{
	w->word = word;
	w->val = val;
	w->op = op;
	w->bitset = bitset;
	w->result = -2;
	CHECK(pthread_create(&w->th, NULL, wait_once, w) == 0);
}

static int finished(struct waiter *w)
{
	CHECK(pthread_join(w->th, NULL) == 0);
	return w->result == 0;
}

static int await_woken(int n)
{
	for (int i = 0; i < 10000; i++) {
		if (__atomic_load_n(&woken_count, __ATOMIC_SEQ_CST) >= n)
			return __atomic_load_n(&woken_count, __ATOMIC_SEQ_CST) == n;
		sleep_ms(1);
	}
	return 0;
}

static void basic(void)
{
	int w = 1;
	EXPECT_ERR(futex(&w, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0), EAGAIN);
	EXPECT_ERR(futex(&w, FUTEX_WAIT, 2, NULL, NULL, 0), EAGAIN);
	CHECK(futex(&w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) == 0); /* nobody waits */
	CHECK(futex(&w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0) == 0);

	struct timespec t0, rel = {0, 30 * 1000000L};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_ERR(futex(&w, FUTEX_WAIT_PRIVATE, 1, &rel, NULL, 0), ETIMEDOUT);
	CHECK(ms_since(&t0) >= 29);

	struct timespec bad = {0, 1000000000L};
	EXPECT_ERR(futex(&w, FUTEX_WAIT_PRIVATE, 1, &bad, NULL, 0), EINVAL);
	EXPECT_ERR(futex((int *)((char *)&w + 1), FUTEX_WAIT_PRIVATE, 1, NULL, NULL, 0), EINVAL); /* unaligned */
	EXPECT_ERR(futex(NULL, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0), EFAULT);
	EXPECT_ERR(futex(&w, 99, 0, NULL, NULL, 0), ENOSYS);
	EXPECT_ERR(futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 1, NULL, NULL, 0), EINVAL); /* empty bitset */
	puts("WAIT: mismatch EAGAIN, timeout ETIMEDOUT, bad arguments EINVAL/EFAULT/ENOSYS");
}

static void wait_wake(void)
{
	int w = 0;
	struct waiter a;
	woken_count = 0;
	start(&a, &w, 0, FUTEX_WAIT_PRIVATE, 0);
	CHECK(await_sleepers(&w, 1));
	__atomic_store_n(&w, 1, __ATOMIC_SEQ_CST);
	long n = futex(&w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	CHECK(n == 1);
	CHECK(finished(&a));
	printf("WAKE between threads: woke %ld\n", n);
}

static void cmp_requeue(void)
{
	int a = 0, b = 0;
	struct waiter ws[3];
	woken_count = 0;
	for (int i = 0; i < 3; i++)
		start(&ws[i], &a, 0, FUTEX_WAIT_PRIVATE, 0);
	CHECK(await_sleepers(&a, 3));
	EXPECT_ERR(futex2(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, 2, &b, 5), EAGAIN); /* *a != 5 */
	long n = futex2(&a, FUTEX_CMP_REQUEUE_PRIVATE, 1, 2, &b, 0);
	CHECK(n == 3); /* one woken and two requeued */
	CHECK(await_woken(1));
	CHECK(sleepers(&a, FUTEX_PRIVATE_FLAG, &park_private) == 0);
	CHECK(sleepers(&b, FUTEX_PRIVATE_FLAG, &park_private) == 2);
	long m = futex(&b, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	CHECK(m == 2);
	for (int i = 0; i < 3; i++)
		CHECK(finished(&ws[i]));
	/* Plain REQUEUE does not compare. */
	CHECK(futex2(&a, FUTEX_REQUEUE_PRIVATE, 1, 1, &b, 0) == 0);
	printf("CMP_REQUEUE: moved %ld (1 woken, 2 requeued), then woke %ld on the target\n", n, m);
}

static void wake_op(void)
{
	int a = 0, b = 0;
	/* No waiters: the operation still applies. */
	int op = FUTEX_OP(FUTEX_OP_SET, 5, FUTEX_OP_CMP_EQ, 0);
	CHECK(futex2(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, &b, op) == 0);
	CHECK(b == 5);
	op = FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 0);
	CHECK(futex2(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, &b, op) == 0);
	CHECK(b == 8);
	op = FUTEX_OP(FUTEX_OP_OR, 0x30, FUTEX_OP_CMP_GT, 0);
	CHECK(futex2(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, &b, op) == 0);
	CHECK(b == 0x38);

	/* One waiter on b: woken when the comparison with the old value holds. */
	struct waiter w;
	woken_count = 0;
	b = 0;
	start(&w, &b, 0, FUTEX_WAIT_PRIVATE, 0);
	CHECK(await_sleepers(&b, 1));
	op = FUTEX_OP(FUTEX_OP_SET, 9, FUTEX_OP_CMP_NE, 0); /* old 0: false */
	CHECK(futex2(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, &b, op) == 0);
	CHECK(b == 9);
	CHECK(sleepers(&b, FUTEX_PRIVATE_FLAG, &park_private) == 1);
	op = FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 9); /* old 9: true */
	long n = futex2(&a, FUTEX_WAKE_OP_PRIVATE, 1, 1, &b, op);
	CHECK(n == 1);
	CHECK(b == 1);
	CHECK(finished(&w));
	printf("WAKE_OP: SET/ADD/OR applied, woke %ld when the comparison held\n", n);
}

static void bitset(void)
{
	int w = 0;
	struct waiter a;
	woken_count = 0;
	start(&a, &w, 0, FUTEX_WAIT_BITSET_PRIVATE, 0x1);
	CHECK(await_sleepers(&w, 1));
	CHECK(futex(&w, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x2) == 0);
	CHECK(sleepers(&w, FUTEX_PRIVATE_FLAG, &park_private) == 1);
	CHECK(futex(&w, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x3) == 1);
	CHECK(finished(&a));

	/* WAIT_BITSET takes an absolute timeout, CLOCK_MONOTONIC by default. */
	struct timespec t0, deadline;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	deadline = t0;
	deadline.tv_nsec += 30 * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	EXPECT_ERR(futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, &deadline, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(t1.tv_sec > deadline.tv_sec || (t1.tv_sec == deadline.tv_sec && t1.tv_nsec >= deadline.tv_nsec));
	/* A deadline in the past times out at once. */
	EXPECT_ERR(futex(&w, FUTEX_WAIT_BITSET_PRIVATE, 0, &t0, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
	/* FUTEX_CLOCK_REALTIME selects the realtime clock for the deadline. */
	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	rt.tv_nsec += 20 * 1000000L;
	if (rt.tv_nsec >= 1000000000L) {
		rt.tv_sec++;
		rt.tv_nsec -= 1000000000L;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_ERR(futex(&w, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 0, &rt, NULL, FUTEX_BITSET_MATCH_ANY),
		   ETIMEDOUT);
	CHECK(ms_since(&t0) >= 15);
	/* FUTEX_CLOCK_REALTIME is refused with the operations that never sleep. */
	EXPECT_ERR(futex(&w, FUTEX_WAKE_PRIVATE | FUTEX_CLOCK_REALTIME, 1, NULL, NULL, 0), ENOSYS);
	puts("WAIT_BITSET: wake by matching bitset only, absolute MONOTONIC and REALTIME deadlines");
}

/* A shared futex in MAP_SHARED memory, between a parent and a child. */
static void shared(void)
{
	int *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(w != MAP_FAILED);
	if (w == MAP_FAILED)
		return;
	w[0] = 0;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		long r = futex(&w[0], FUTEX_WAIT, 0, NULL, NULL, 0);
		_exit(r == 0 && w[0] == 1 ? 0 : 1);
	}
	CHECK(pid > 0);
	int n = -1;
	for (int i = 0; i < 10000; i++) {
		n = sleepers(&w[0], 0, &w[1]);
		if (n != 0)
			break;
		sleep_ms(1);
	}
	CHECK(n == 1);
	__atomic_store_n(&w[0], 1, __ATOMIC_SEQ_CST);
	/* A private wake does not reach a waiter in another process. */
	CHECK(futex(&w[0], FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0) == 0);
	long woke = futex(&w[0], FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	CHECK(woke == 1);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	munmap(w, 4096);
	printf("shared futex across fork: woke %ld, the child saw the new value\n", woke);
}

/* Uncontended PI operations store the owner's tid in the word. */
static void pi(void)
{
	int w = 0;
	pid_t tid = (pid_t)syscall(SYS_gettid);
	CHECK(futex(&w, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0);
	CHECK((w & FUTEX_TID_MASK) == tid);
	EXPECT_ERR(futex(&w, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK);
	EXPECT_ERR(futex(&w, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EDEADLK);
	CHECK(futex(&w, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0);
	CHECK(w == 0);
	EXPECT_ERR(futex(&w, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0), EPERM); /* not the owner */
	CHECK(futex(&w, FUTEX_TRYLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0);
	CHECK((w & FUTEX_TID_MASK) == tid);
	CHECK(futex(&w, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0) == 0);
	CHECK(w == 0);
	puts("PI: LOCK_PI/TRYLOCK_PI store the tid, UNLOCK_PI clears it");
}

int main(void)
{
	basic();
	wait_wake();
	cmp_requeue();
	wake_op();
	bitset();
	shared();
	pi();
	return check_done("futex");
}
