/*
 * poll: readiness of pipe ends through poll, ppoll, select and pselect6:
 * POLLIN with data, POLLOUT with room, POLLHUP without writers, POLLERR
 * without readers, POLLNVAL for a closed descriptor; timeouts (0 when none
 * is ready, select's timeval updated); a blocked waiter woken by another
 * process; the signal mask of ppoll and pselect (EINTR, even under
 * SA_RESTART).
 */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static volatile sig_atomic_t hits;
static void on_usr1(int sig)
{
	(void)sig;
	hits++;
}

static void poll_pipe(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	struct pollfd fds[2] = {{.fd = p[0], .events = POLLIN}, {.fd = p[1], .events = POLLOUT}};
	CHECK(poll(fds, 2, 0) == 1);
	CHECK(fds[0].revents == 0 && fds[1].revents == POLLOUT);

	long t0 = now_ms();
	CHECK(poll(fds, 1, 30) == 0);
	CHECK(now_ms() - t0 >= 29);
	CHECK(fds[0].revents == 0);

	CHECK(write(p[1], "x", 1) == 1);
	CHECK(poll(fds, 2, -1) == 2);
	CHECK(fds[0].revents == POLLIN && fds[1].revents == POLLOUT);

	/* Writer gone: POLLHUP (with POLLIN while data remains), even if not asked for. */
	close(p[1]);
	fds[0].events = 0;
	CHECK(poll(fds, 1, 0) == 1 && fds[0].revents == POLLHUP);
	fds[0].events = POLLIN;
	CHECK(poll(fds, 1, 0) == 1 && fds[0].revents == (POLLIN | POLLHUP));
	char c;
	CHECK(read(p[0], &c, 1) == 1);
	CHECK(poll(fds, 1, 0) == 1 && fds[0].revents == POLLHUP);
	close(p[0]);

	/* Reader gone: POLLERR on the write end. */
	CHECK(pipe(p) == 0);
	close(p[0]);
	struct pollfd w = {.fd = p[1], .events = POLLOUT};
	CHECK(poll(&w, 1, 0) == 1 && (w.revents & POLLERR) && (w.revents & POLLOUT));
	close(p[1]);

	/* A closed descriptor: POLLNVAL; a negative one is skipped. */
	struct pollfd odd[2] = {{.fd = p[1], .events = POLLIN}, {.fd = -1, .events = POLLIN, .revents = 7}};
	CHECK(poll(odd, 2, 0) == 1 && odd[0].revents == POLLNVAL && odd[1].revents == 0);
	EXPECT_ERR(syscall(SYS_poll, (struct pollfd *)8, 1, 0), EFAULT);
	EXPECT_ERR(syscall(SYS_poll, odd, 1 << 30, 0), EINVAL);
	CHECK(poll(NULL, 0, 10) == 0); /* a plain sleep */
	puts("poll: POLLIN, POLLOUT, POLLHUP, POLLERR, POLLNVAL; timeout returns 0");
}

/* A child writes after 30 ms; the parent blocks in poll until then. */
static void poll_wakeup(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct timespec ts = {0, 30 * 1000000L};
		nanosleep(&ts, NULL);
		_exit(write(p[1], "w", 1) == 1 ? 0 : 1);
	}
	struct pollfd fd = {.fd = p[0], .events = POLLIN};
	long t0 = now_ms();
	CHECK(poll(&fd, 1, 10000) == 1 && fd.revents == POLLIN);
	CHECK(now_ms() - t0 < 9000); /* (no lower bound: the child may have started its sleep first) */
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);
	close(p[1]);
	puts("poll: woken by another process's write");
}

static void select_pipe(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	fd_set rd, wr;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_SET(p[0], &rd);
	FD_SET(p[1], &wr);
	int nfds = p[1] + 1;
	struct timeval tv = {0, 0};
	CHECK(select(nfds, &rd, &wr, NULL, &tv) == 1);
	CHECK(!FD_ISSET(p[0], &rd) && FD_ISSET(p[1], &wr));

	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv.tv_sec = 0;
	tv.tv_usec = 30000;
	long t0 = now_ms();
	/* The raw syscall: musl passes the kernel a copy of the timeval. */
	CHECK(syscall(SYS_select, nfds, &rd, NULL, NULL, &tv) == 0);
	CHECK(now_ms() - t0 >= 29);
	CHECK(tv.tv_sec == 0 && tv.tv_usec == 0); /* Linux writes back the time left */
	CHECK(!FD_ISSET(p[0], &rd));

	CHECK(write(p[1], "ab", 2) == 2);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	tv.tv_sec = 5;
	tv.tv_usec = 0;
	CHECK(syscall(SYS_select, nfds, &rd, NULL, NULL, &tv) == 1 && FD_ISSET(p[0], &rd));
	CHECK(tv.tv_sec <= 5 && tv.tv_sec >= 3);

	/* pselect6 with a timespec. */
	struct timespec ts = {0, 0};
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	CHECK(pselect(nfds, &rd, NULL, NULL, &ts, NULL) == 1 && FD_ISSET(p[0], &rd));

	/* Readable at EOF. */
	close(p[1]);
	char buf[4];
	CHECK(read(p[0], buf, sizeof buf) == 2);
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	CHECK(select(p[0] + 1, &rd, NULL, NULL, NULL) == 1 && FD_ISSET(p[0], &rd));

	/* A closed descriptor in a set: EBADF. */
	FD_ZERO(&rd);
	FD_SET(p[1], &rd);
	tv.tv_sec = tv.tv_usec = 0;
	EXPECT_ERR(select(p[1] + 1, &rd, NULL, NULL, &tv), EBADF);
	EXPECT_ERR(select(-1, NULL, NULL, NULL, &tv), EINVAL);
	tv.tv_usec = -1;
	EXPECT_ERR(select(0, NULL, NULL, NULL, &tv), EINVAL);
	close(p[0]);
	puts("select/pselect: readiness, timeout with the timeval written back, EBADF, EINVAL");
}

/* ppoll and pselect unblock signals only while they wait. */
static void masked_wait(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART; /* poll and select are never restarted */
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	sigset_t block, old, none;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0);
	sigemptyset(&none);
	int p[2];
	CHECK(pipe(p) == 0);
	struct pollfd fd = {.fd = p[0], .events = POLLIN};
	struct timespec ts = {5, 0};

	hits = 0;
	raise(SIGUSR1);
	CHECK(hits == 0);
	EXPECT_ERR(ppoll(&fd, 1, &ts, &none), EINTR);
	CHECK(hits == 1);
	sigset_t cur;
	CHECK(sigprocmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGUSR1)); /* mask restored */

	/* With the signal left blocked, it stays pending and the timeout runs out. */
	raise(SIGUSR1);
	struct timespec short_ts = {0, 20 * 1000000L};
	CHECK(ppoll(&fd, 1, &short_ts, &block) == 0);
	CHECK(hits == 1);

	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(p[0], &rd);
	EXPECT_ERR(pselect(p[0] + 1, &rd, NULL, NULL, &ts, &none), EINTR);
	CHECK(hits == 2);

	/* poll interrupted by a handler is not restarted, SA_RESTART or not. */
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	fflush(stdout);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 1000; i++) {
			struct timespec t = {0, 10 * 1000000L};
			nanosleep(&t, NULL);
			if (kill(parent, SIGUSR1) != 0)
				_exit(1);
			struct pollfd stop = {.fd = p[0], .events = POLLIN};
			if (poll(&stop, 1, 0) == 1)
				_exit(0);
		}
		_exit(2);
	}
	EXPECT_ERR(poll(&fd, 1, 10000), EINTR);
	CHECK(write(p[1], "s", 1) == 1);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);
	close(p[1]);
	signal(SIGUSR1, SIG_IGN);
	puts("ppoll/pselect: the given mask applies only while waiting; EINTR even with SA_RESTART");
}

int main(void)
{
	poll_pipe();
	poll_wakeup();
	select_pipe();
	masked_wait();
	return check_done("poll");
}
