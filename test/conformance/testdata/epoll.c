/*
 * epoll: epoll on pipes and eventfds. epoll_create1 flags; epoll_ctl ADD,
 * MOD, DEL and their errors; level-triggered EPOLLIN/EPOLLOUT, EPOLLHUP and
 * EPOLLERR; EPOLLET and EPOLLONESHOT; epoll_wait timeouts; epoll_pwait's
 * signal mask; a thread blocked in epoll_wait woken by a write; closing the
 * last descriptor of a file removes it; nested epoll. eventfd2: counter,
 * EFD_SEMAPHORE, EFD_NONBLOCK, overflow and short buffers.
 */
#include "check.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);
	return f != -1 && (f & FD_CLOEXEC);
}

static int add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

static int mod(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = {.events = events, .data.u64 = data};
	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

static void create(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	CHECK(ep >= 0 && cloexec(ep));
	close(ep);
	ep = epoll_create1(0);
	CHECK(ep >= 0 && !cloexec(ep));
	close(ep);
	ep = epoll_create(1);
	CHECK(ep >= 0);
	close(ep);
	EXPECT_ERR(epoll_create1(EPOLL_CLOEXEC << 1), EINVAL);
	/* (The raw syscall: musl's epoll_create is epoll_create1 and ignores the size.) */
	EXPECT_ERR(syscall(SYS_epoll_create, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_epoll_create, -1), EINVAL);
	puts("epoll_create1: EPOLL_CLOEXEC honoured, bad flags or sizes EINVAL");
}

static void level(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[4];
	CHECK(add(ep, p[0], EPOLLIN, 0x1234567890ULL) == 0);
	EXPECT_ERR(add(ep, p[0], EPOLLIN, 0), EEXIST);
	CHECK(epoll_wait(ep, evs, 4, 0) == 0);

	long t0 = now_ms();
	CHECK(epoll_wait(ep, evs, 4, 30) == 0);
	CHECK(now_ms() - t0 >= 29);

	CHECK(write(p[1], "ab", 2) == 2);
	memset(evs, 0, sizeof evs);
	CHECK(epoll_wait(ep, evs, 4, 1000) == 1);
	CHECK(evs[0].events == EPOLLIN && evs[0].data.u64 == 0x1234567890ULL);
	/* Level-triggered: still ready until drained. */
	CHECK(epoll_wait(ep, evs, 4, 0) == 1);
	char buf[8];
	CHECK(read(p[0], buf, sizeof buf) == 2);
	CHECK(epoll_wait(ep, evs, 4, 0) == 0);

	/* The write end: EPOLLOUT while there is room. */
	CHECK(add(ep, p[1], EPOLLOUT, 2) == 0);
	CHECK(epoll_wait(ep, evs, 4, 0) == 1 && evs[0].events == EPOLLOUT && evs[0].data.u64 == 2);
	/* MOD: ask the read end for EPOLLOUT, which a read end never has. */
	CHECK(mod(ep, p[0], EPOLLOUT, 3) == 0);
	CHECK(write(p[1], "c", 1) == 1);
	CHECK(epoll_wait(ep, evs, 4, 0) == 1 && evs[0].data.u64 == 2);
	CHECK(mod(ep, p[0], EPOLLIN, 4) == 0);
	int n = epoll_wait(ep, evs, 4, 0);
	CHECK(n == 2);
	int seen = 0;
	for (int i = 0; i < n; i++)
		seen |= evs[i].data.u64 == 4 ? 1 : evs[i].data.u64 == 2 ? 2 : 4;
	CHECK(seen == 3);
	/* maxevents limits what one call returns. */
	CHECK(epoll_wait(ep, evs, 1, 0) == 1);

	/* DEL, and the errors of ctl. */
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL) == 0);
	EXPECT_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT);
	EXPECT_ERR(mod(ep, p[1], EPOLLIN, 0), ENOENT);
	EXPECT_ERR(add(ep, ep, EPOLLIN, 0), EINVAL); /* itself */
	EXPECT_ERR(add(ep, 999, EPOLLIN, 0), EBADF);
	EXPECT_ERR(add(p[0], p[1], EPOLLIN, 0), EINVAL); /* not an epoll fd */
	struct epoll_event any = {.events = EPOLLIN};
	EXPECT_ERR(epoll_ctl(ep, 99, p[1], &any), EINVAL);
	EXPECT_ERR(epoll_wait(ep, evs, 0, 0), EINVAL);
	EXPECT_ERR(epoll_wait(p[0], evs, 1, 0), EINVAL);
	int null = open("/dev/null", O_RDONLY);
	CHECK(null >= 0);
	int file = open("/etc/passwd", O_RDONLY);
	CHECK(file >= 0);
	EXPECT_ERR(add(ep, file, EPOLLIN, 0), EPERM); /* regular files do not support epoll */
	close(file);
	close(null);
	puts("level-triggered: EPOLLIN with data, EPOLLOUT with room; MOD, DEL; ctl errors");

	/* HUP and ERR arrive without being asked for. */
	CHECK(mod(ep, p[0], 0, 5) == 0);
	CHECK(read(p[0], buf, sizeof buf) == 1);
	close(p[1]);
	CHECK(epoll_wait(ep, evs, 4, 0) == 1 && evs[0].events == EPOLLHUP && evs[0].data.u64 == 5);
	close(p[0]);
	CHECK(epoll_wait(ep, evs, 4, 0) == 0); /* closing the last fd removed it */

	CHECK(pipe(p) == 0);
	CHECK(add(ep, p[1], EPOLLOUT, 6) == 0);
	close(p[0]);
	CHECK(epoll_wait(ep, evs, 4, 0) == 1 && evs[0].events == (EPOLLOUT | EPOLLERR));
	/* A dup keeps the registration alive after the original fd is closed. */
	int d = dup(p[1]);
	close(p[1]);
	CHECK(epoll_wait(ep, evs, 4, 0) == 1 && evs[0].data.u64 == 6);
	close(d);
	CHECK(epoll_wait(ep, evs, 4, 0) == 0);
	close(ep);
	puts("EPOLLHUP without writers, EPOLLERR without readers; closing the last fd unregisters");
}

static void edge_oneshot(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	int ep = epoll_create1(0);
	struct epoll_event evs[4];
	CHECK(add(ep, p[0], EPOLLIN | EPOLLET, 1) == 0);
	CHECK(write(p[1], "a", 1) == 1);
	CHECK(epoll_wait(ep, evs, 4, 0) == 1 && evs[0].events == EPOLLIN);
	CHECK(epoll_wait(ep, evs, 4, 0) == 0); /* no new edge */
	CHECK(write(p[1], "b", 1) == 1);
	CHECK(epoll_wait(ep, evs, 4, 0) == 1);
	CHECK(epoll_wait(ep, evs, 4, 0) == 0);
	char buf[8];
	CHECK(read(p[0], buf, sizeof buf) == 2);

	CHECK(mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 2) == 0);
	CHECK(write(p[1], "c", 1) == 1);
	CHECK(epoll_wait(ep, evs, 4, 0) == 1 && evs[0].data.u64 == 2);
	CHECK(epoll_wait(ep, evs, 4, 0) == 0); /* disabled after one event */
	CHECK(write(p[1], "d", 1) == 1);
	CHECK(epoll_wait(ep, evs, 4, 0) == 0);
	EXPECT_ERR(add(ep, p[0], EPOLLIN, 0), EEXIST); /* still registered */
	CHECK(mod(ep, p[0], EPOLLIN | EPOLLONESHOT, 3) == 0); /* re-armed */
	CHECK(epoll_wait(ep, evs, 4, 0) == 1 && evs[0].data.u64 == 3);
	close(p[0]);
	close(p[1]);
	close(ep);
	puts("EPOLLET: one event per edge; EPOLLONESHOT: disabled until MOD re-arms it");
}

static int wake_fd;
static void *writer(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 30 * 1000000L};
	nanosleep(&ts, NULL);
	uint64_t one = 1;
	if (write(wake_fd, &one, sizeof one) != sizeof one)
		return (void *)1;
	return NULL;
}

static volatile sig_atomic_t hits;
static void on_usr1(int sig)
{
	(void)sig;
	hits++;
}

static void blocking(void)
{
	int ep = epoll_create1(0);
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK(efd >= 0 && cloexec(efd));
	wake_fd = efd;
	CHECK(add(ep, efd, EPOLLIN, 9) == 0);
	pthread_t th;
	CHECK(pthread_create(&th, NULL, writer, NULL) == 0);
	struct epoll_event ev;
	CHECK(epoll_wait(ep, &ev, 1, 10000) == 1 && ev.data.u64 == 9);
	void *ret;
	CHECK(pthread_join(th, &ret) == 0 && ret == NULL);
	puts("epoll_wait: blocked until another thread wrote to the eventfd");

	/* epoll_pwait applies its mask only while waiting. */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	sigset_t block, old, none;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigemptyset(&none);
	CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0);
	uint64_t v;
	CHECK(read(efd, &v, sizeof v) == sizeof v && v == 1);
	hits = 0;
	raise(SIGUSR1);
	EXPECT_ERR(epoll_pwait(ep, &ev, 1, 5000, &none), EINTR);
	CHECK(hits == 1);
	raise(SIGUSR1);
	CHECK(epoll_pwait(ep, &ev, 1, 10, &block) == 0);
	CHECK(hits == 1);
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0); /* delivers the pending one */
	CHECK(hits == 2);
	signal(SIGUSR1, SIG_IGN);
	close(efd);
	close(ep);
	puts("epoll_pwait: EINTR with the signal unblocked by its mask, timeout with it blocked");
}

static void nested(void)
{
	int outer = epoll_create1(0), inner = epoll_create1(0);
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(add(inner, p[0], EPOLLIN, 1) == 0);
	CHECK(add(outer, inner, EPOLLIN, 2) == 0);
	EXPECT_ERR(add(inner, outer, EPOLLIN, 3), ELOOP);
	struct epoll_event ev;
	CHECK(epoll_wait(outer, &ev, 1, 0) == 0);
	CHECK(write(p[1], "x", 1) == 1);
	CHECK(epoll_wait(outer, &ev, 1, 0) == 1 && ev.data.u64 == 2 && ev.events == EPOLLIN);
	CHECK(epoll_wait(inner, &ev, 1, 0) == 1 && ev.data.u64 == 1);
	close(p[0]);
	close(p[1]);
	close(inner);
	close(outer);
	puts("nested epoll: the inner set's readiness shows in the outer one; loops are ELOOP");
}

static void eventfds(void)
{
	int e = eventfd(3, EFD_NONBLOCK);
	CHECK(e >= 0);
	CHECK(fcntl(e, F_GETFL) & O_NONBLOCK);
	uint64_t v = 0;
	CHECK(read(e, &v, sizeof v) == 8 && v == 3);
	EXPECT_ERR(read(e, &v, sizeof v), EAGAIN);
	v = 5;
	CHECK(write(e, &v, sizeof v) == 8);
	v = 7;
	CHECK(write(e, &v, sizeof v) == 8);
	CHECK(read(e, &v, sizeof v) == 8 && v == 12);
	char small[4];
	EXPECT_ERR(read(e, small, sizeof small), EINVAL);
	EXPECT_ERR(write(e, small, sizeof small), EINVAL);
	v = UINT64_MAX;
	EXPECT_ERR(write(e, &v, sizeof v), EINVAL);
	v = UINT64_MAX - 1; /* the largest value it can hold */
	CHECK(write(e, &v, sizeof v) == 8);
	v = 1;
	EXPECT_ERR(write(e, &v, sizeof v), EAGAIN); /* would overflow */

	int ep = epoll_create1(0);
	CHECK(add(ep, e, EPOLLIN | EPOLLOUT, 1) == 0);
	struct epoll_event ev;
	CHECK(epoll_wait(ep, &ev, 1, 0) == 1 && ev.events == EPOLLIN); /* full: not writable */
	CHECK(read(e, &v, sizeof v) == 8 && v == UINT64_MAX - 1);
	CHECK(epoll_wait(ep, &ev, 1, 0) == 1 && ev.events == EPOLLOUT);
	close(ep);
	close(e);

	e = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
	CHECK(e >= 0);
	for (int i = 0; i < 3; i++)
		CHECK(read(e, &v, sizeof v) == 8 && v == 1);
	EXPECT_ERR(read(e, &v, sizeof v), EAGAIN);
	close(e);
	EXPECT_ERR(syscall(SYS_eventfd2, 0, 0x12345), EINVAL);
	puts("eventfd2: counter adds up, EFD_SEMAPHORE counts down by one, overflow EAGAIN, bad sizes EINVAL");
}

int main(void)
{
	create();
	level();
	edge_oneshot();
	blocking();
	nested();
	eventfds();
	return check_done("epoll");
}
