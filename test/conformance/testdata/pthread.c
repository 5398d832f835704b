/*
 * pthread: 20 threads sharing a mutex-protected counter and meeting at a
 * barrier built from a condition variable; join return values; __thread
 * variables distinct per thread; gettid per thread; pthread_kill to one
 * thread with a handler; a detached thread; a robust mutex whose owner died;
 * a priority-inheritance mutex under contention; exit() ending threads that
 * spin in user code, started from several threads at once while others map
 * memory; and the main thread leaving with pthread_exit while another
 * thread finishes the process.
 */
#include "check.h"
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define NTHREADS 20
#define ITERS 2000

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long counter;
static int arrived, generation;

static __thread int tls = 7;
static __thread char tls_buf[64];

static pid_t tids[NTHREADS];
static int *tls_addr[NTHREADS];
static int bad[NTHREADS];

/* barrier waits until all NTHREADS threads have called it. */
static void barrier(void)
{
	pthread_mutex_lock(&mu);
	int gen = generation;
	if (++arrived == NTHREADS) {
		arrived = 0;
		generation++;
		pthread_cond_broadcast(&cv);
	} else {
		while (gen == generation)
			pthread_cond_wait(&cv, &mu);
	}
	pthread_mutex_unlock(&mu);
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	if (tls != 7)
		bad[id] |= 1; /* every thread starts from the initializer */
	tls = 1000 + id;
	snprintf(tls_buf, sizeof tls_buf, "thread %d", id);
	tls_addr[id] = &tls;
	tids[id] = (pid_t)syscall(SYS_gettid);
	if (tids[id] == getpid())
		bad[id] |= 2;
	for (int i = 0; i < ITERS; i++) {
		pthread_mutex_lock(&mu);
		counter++;
		pthread_mutex_unlock(&mu);
		if (i % 500 == 0)
			sched_yield();
	}
	barrier();
	/* Every thread has finished counting. */
	pthread_mutex_lock(&mu);
	if (counter != (long)NTHREADS * ITERS)
		bad[id] |= 4;
	pthread_mutex_unlock(&mu);
	barrier();
	char want[64];
	snprintf(want, sizeof want, "thread %d", id);
	if (tls != 1000 + id || strcmp(tls_buf, want) != 0)
		bad[id] |= 8;
	return (void *)(intptr_t)(id * id + 1);
}

static void threads(void)
{
	pthread_t th[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) == 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *ret = NULL;
		CHECK(pthread_join(th[i], &ret) == 0);
		CHECKF((intptr_t)ret == i * i + 1, "thread %d returned %ld", i, (long)(intptr_t)ret);
		CHECKF(bad[i] == 0, "thread %d: failures %#x", i, bad[i]);
	}
	CHECK(counter == (long)NTHREADS * ITERS);
	for (int i = 0; i < NTHREADS; i++)
		for (int j = i + 1; j < NTHREADS; j++) {
			CHECKF(tids[i] != tids[j], "threads %d and %d have the same tid", i, j);
			CHECKF(tls_addr[i] != tls_addr[j], "threads %d and %d share a __thread variable", i, j);
		}
	CHECK(tls == 7); /* the main thread's copy was never touched */
	CHECK(syscall(SYS_gettid) == getpid());
	printf("%d threads: counter %ld, join values, __thread and tids distinct\n", NTHREADS, counter);
}

/* pthread_kill: the handler runs in the thread it was sent to. */
static volatile sig_atomic_t handled;
static volatile pid_t handler_tid;

static void on_usr1(int sig)
{
	(void)sig;
	handler_tid = (pid_t)syscall(SYS_gettid);
	handled = 1;
}

static sem_t ready;
static volatile pid_t target_tid;

static void *kill_target(void *arg)
{
	(void)arg;
	target_tid = (pid_t)syscall(SYS_gettid);
	sem_post(&ready);
	for (int i = 0; i < 10000 && !handled; i++)
		sleep_ms(1);
	return NULL;
}

static void thread_kill(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	CHECK(sem_init(&ready, 0, 0) == 0);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, kill_target, NULL) == 0);
	while (sem_wait(&ready) == -1 && errno == EINTR)
		;
	CHECK(pthread_kill(th, SIGUSR1) == 0);
	CHECK(pthread_join(th, NULL) == 0);
	CHECK(handled);
	CHECK(handler_tid == target_tid);
	CHECK(handler_tid != getpid());
	/* tgkill with the wrong thread group fails. */
	EXPECT_ERR(syscall(SYS_tgkill, getpid(), 0, SIGUSR1), EINVAL);
	EXPECT_ERR(syscall(SYS_tgkill, getpid(), -1, SIGUSR1), EINVAL);
	puts("pthread_kill: the handler ran in the target thread");
}

/* A detached thread runs to completion and cannot be joined. */
static sem_t detached_done;
static int detached_ran;

static void *detached(void *arg)
{
	detached_ran = (int)(intptr_t)arg;
	sem_post(&detached_done);
	return NULL;
}

static void detached_thread(void)
{
	CHECK(sem_init(&detached_done, 0, 0) == 0);
	pthread_attr_t attr;
	CHECK(pthread_attr_init(&attr) == 0);
	CHECK(pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0);
	int st = -1;
	CHECK(pthread_attr_getdetachstate(&attr, &st) == 0 && st == PTHREAD_CREATE_DETACHED);
	pthread_t th;
	CHECK(pthread_create(&th, &attr, detached, (void *)77) == 0);
	pthread_attr_destroy(&attr);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	int r;
	while ((r = sem_timedwait(&detached_done, &deadline)) == -1 && errno == EINTR)
		;
	CHECK(r == 0);
	CHECK(detached_ran == 77);
	puts("detached thread: ran");
}

/* A robust mutex whose owner exits while holding it. */
static pthread_mutex_t robust;

static void *die_holding(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&robust);
	return NULL; /* exits holding the lock */
}

static void robust_mutex(void)
{
	pthread_mutexattr_t ma;
	CHECK(pthread_mutexattr_init(&ma) == 0);
	CHECK(pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) == 0);
	CHECK(pthread_mutex_init(&robust, &ma) == 0);
	pthread_mutexattr_destroy(&ma);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, die_holding, NULL) == 0);
	CHECK(pthread_join(th, NULL) == 0);
	int r = pthread_mutex_lock(&robust);
	CHECKF(r == EOWNERDEAD, "pthread_mutex_lock returned %s", errname(r));
	if (r == EOWNERDEAD) {
		CHECK(pthread_mutex_consistent(&robust) == 0);
		CHECK(pthread_mutex_unlock(&robust) == 0);
		CHECK(pthread_mutex_lock(&robust) == 0);
	}
	CHECK(pthread_mutex_unlock(&robust) == 0);
	/* The kernel keeps the list head glibc/musl registered for the thread. */
	void *head = NULL;
	size_t len = 0;
	CHECK(syscall(SYS_get_robust_list, 0, &head, &len) == 0);
	CHECK(len == 3 * sizeof(void *));
	puts("robust mutex: EOWNERDEAD after its owner died, then consistent");
}

/* A priority-inheritance mutex: contention goes through FUTEX_LOCK_PI. */
static pthread_mutex_t pi;
static long pi_counter;

static void *pi_worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 500; i++) {
		if (pthread_mutex_lock(&pi) != 0)
			return (void *)1;
		long v = pi_counter;
		if (i % 50 == 0)
			sched_yield(); /* hold it while others try */
		pi_counter = v + 1;
		pthread_mutex_unlock(&pi);
	}
	return NULL;
}

static void pi_mutex(void)
{
	pthread_mutexattr_t ma;
	CHECK(pthread_mutexattr_init(&ma) == 0);
	CHECK(pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT) == 0);
	CHECK(pthread_mutex_init(&pi, &ma) == 0);
	pthread_mutexattr_destroy(&ma);
	pthread_t th[4];
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&th[i], NULL, pi_worker, NULL) == 0);
	for (int i = 0; i < 4; i++) {
		void *ret = (void *)1;
		CHECK(pthread_join(th[i], &ret) == 0 && ret == NULL);
	}
	CHECK(pi_counter == 2000);
	puts("PI mutex: 4 threads, counter 2000");
}

/* pthread_once and a read-write lock. */
static int once_count;
static void once_fn(void) { once_count++; }
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static volatile int readers_in;

static void *once_worker(void *arg)
{
	(void)arg;
	pthread_once(&once, once_fn);
	pthread_rwlock_rdlock(&rw);
	__atomic_add_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
	pthread_rwlock_unlock(&rw);
	return NULL;
}

static void once_rwlock(void)
{
	pthread_t th[4];
	CHECK(pthread_rwlock_wrlock(&rw) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&th[i], NULL, once_worker, NULL) == 0);
	sleep_ms(10);
	CHECK(readers_in == 0);
	CHECK(pthread_rwlock_unlock(&rw) == 0);
	for (int i = 0; i < 4; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	CHECK(once_count == 1);
	CHECK(readers_in == 4);
	puts("pthread_once ran once; rwlock readers waited for the writer");
}

static atomic_int spinning, mapping_stop;

static void *spinner(void *arg)
{
	(void)arg;
	atomic_fetch_add(&spinning, 1);
	for (;;)
		;
	return NULL;
}

static void *spawner(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, spinner, NULL) != 0)
			_exit(3);
	}
	return NULL;
}

static void *mapper(void *arg)
{
	(void)arg;
	while (!atomic_load(&mapping_stop)) {
		void *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			munmap(p, 1 << 16);
	}
	return NULL;
}

/* spinners_exit: a child starts 16 threads that spin in user code, from 4
 * threads at once while 2 others map and unmap memory, then exits; every
 * thread must end with it. */
static void spinners_exit(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t m[2], sp[4];
		for (int i = 0; i < 2; i++)
			if (pthread_create(&m[i], NULL, mapper, NULL) != 0)
				_exit(2);
		for (int i = 0; i < 4; i++)
			if (pthread_create(&sp[i], NULL, spawner, NULL) != 0)
				_exit(2);
		for (int i = 0; i < 4; i++)
			pthread_join(sp[i], NULL);
		while (atomic_load(&spinning) < 16)
			sched_yield();
		atomic_store(&mapping_stop, 1);
		exit(0);
	}
	CHECK(pid > 0);
	int st = -1;
	pid_t r = 0;
	for (int i = 0; i < 3000 && (r = waitpid(pid, &st, WNOHANG)) == 0; i++)
		sleep_ms(10);
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	CHECKF(r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "spinners' process: waitpid %d status %#x", (int)r, st);
	puts("exit: ended 16 threads spinning in user code");
}

/*
 * The main thread leaves with pthread_exit: the process lives on until its
 * last thread ends, which exits with the program's status.
 */
static volatile int main_leaving;

static void *last_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000 && !main_leaving; i++)
		sleep_ms(1);
	sleep_ms(20); /* let the main thread finish exiting */
	CHECK(main_leaving);
	puts("last thread: still running after the main thread's pthread_exit");
	exit(check_done("pthread"));
}

int main(void)
{
	threads();
	thread_kill();
	detached_thread();
	robust_mutex();
	pi_mutex();
	once_rwlock();
	spinners_exit();

	pthread_t th;
	CHECK(pthread_create(&th, NULL, last_thread, NULL) == 0);
	fflush(stdout);
	main_leaving = 1;
	pthread_exit(NULL);
}
