/*
 * timerfd: one-shot and periodic timers on CLOCK_MONOTONIC and
 * CLOCK_REALTIME, relative and absolute (one already past fires at once),
 * read's expiration count, poll/epoll readiness, a blocking read,
 * timerfd_gettime and the old value settime returns, disarming, and the
 * EINVAL/EBADF cases.
 */
#include "check.h"
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>

static int readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static struct itimerspec spec(long value_ns, long interval_ns)
{
	struct itimerspec s = {
		.it_value = {value_ns / 1000000000, value_ns % 1000000000},
		.it_interval = {interval_ns / 1000000000, interval_ns % 1000000000},
	};
	return s;
}

int main(void)
{
	int fd = MUST(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	uint64_t n = 0;
	EXPECT_ERR(read(fd, &n, sizeof n), EAGAIN);
	struct itimerspec cur;
	CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);

	struct itimerspec s = spec(50 * 1000000L, 0), old;
	CHECK(timerfd_settime(fd, 0, &s, &old) == 0 && old.it_value.tv_sec == 0 && old.it_value.tv_nsec == 0);
	CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 &&
	      cur.it_value.tv_nsec <= 50 * 1000000L);
	CHECK(readable(fd, 5000));
	CHECK(read(fd, &n, sizeof n) == 8 && n == 1);
	EXPECT_ERR(read(fd, &n, sizeof n), EAGAIN);
	CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0 &&
	      cur.it_interval.tv_nsec == 0);
	puts("one-shot: fires once, read counts 1, then disarmed");

	s = spec(10 * 1000000L, 10 * 1000000L);
	CHECK(timerfd_settime(fd, 0, &s, NULL) == 0);
	usleep(100 * 1000);
	CHECK(read(fd, &n, sizeof n) == 8 && n >= 2);
	CHECK(timerfd_gettime(fd, &cur) == 0 && cur.it_interval.tv_nsec == 10 * 1000000L &&
	      cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 10 * 1000000L);
	s = spec(0, 0);
	CHECK(timerfd_settime(fd, 0, &s, &old) == 0 && old.it_interval.tv_nsec == 10 * 1000000L);
	n = 0;
	read(fd, &n, sizeof n);
	usleep(30 * 1000);
	EXPECT_ERR(read(fd, &n, sizeof n), EAGAIN);
	puts("periodic: expirations add up between reads; disarming stops it and returns the old setting");

	struct timespec now;
	CHECK(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
	s = spec(0, 0);
	s.it_value = now;
	s.it_value.tv_nsec += 30 * 1000000L;
	if (s.it_value.tv_nsec >= 1000000000) {
		s.it_value.tv_sec++;
		s.it_value.tv_nsec -= 1000000000;
	}
	CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL) == 0);
	CHECK(readable(fd, 5000) && read(fd, &n, sizeof n) == 8 && n == 1);
	s.it_value.tv_sec -= 10; /* in the past: at once */
	CHECK(timerfd_settime(fd, TFD_TIMER_ABSTIME, &s, NULL) == 0);
	CHECK(readable(fd, 5000) && read(fd, &n, sizeof n) == 8 && n == 1);
	puts("absolute: a time ahead fires then, one past fires at once");

	int rt = MUST(timerfd_create(CLOCK_REALTIME, 0));
	CHECK(clock_gettime(CLOCK_REALTIME, &now) == 0);
	s = spec(0, 0);
	s.it_value.tv_sec = now.tv_sec + 1;
	s.it_value.tv_nsec = now.tv_nsec;
	CHECK(timerfd_settime(rt, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &s, NULL) == 0);
	int ep = MUST(epoll_create1(0));
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = rt};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, rt, &ev) == 0);
	CHECK(epoll_wait(ep, &ev, 1, 0) == 0);
	/* A blocking read waits for the expiry. */
	CHECK(read(rt, &n, sizeof n) == 8 && n == 1);
	s = spec(20 * 1000000L, 0);
	CHECK(timerfd_settime(rt, 0, &s, NULL) == 0);
	CHECK(epoll_wait(ep, &ev, 1, 5000) == 1 && ev.data.fd == rt);
	puts("CLOCK_REALTIME: a blocking read, epoll");

	EXPECT_ERR(read(fd, &n, 4), EINVAL);
	EXPECT_ERR(timerfd_create(CLOCK_PROCESS_CPUTIME_ID, 0), EINVAL);
	EXPECT_ERR(timerfd_create(CLOCK_MONOTONIC, 0x1234), EINVAL);
	EXPECT_ERR(timerfd_settime(fd, 0x40, &s, NULL), EINVAL);
	s = spec(0, 0);
	s.it_value.tv_nsec = 1000000000;
	EXPECT_ERR(timerfd_settime(fd, 0, &s, NULL), EINVAL);
	EXPECT_ERR(timerfd_settime(ep, 0, &s, NULL), EINVAL);
	EXPECT_ERR(timerfd_gettime(12345, &cur), EBADF);
	EXPECT_ERR(timerfd_settime(fd, 0, (void *)8, NULL), EFAULT);
	puts("EINVAL, EBADF, EFAULT");
	return check_done("timerfd");
}
