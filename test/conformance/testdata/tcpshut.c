/*
 * tcpshut: shutdown(2) and poll(2) on TCP and UDP sockets over loopback,
 * as Linux's tcp_poll/datagram_poll report them: a fresh TCP socket is
 * POLLOUT|POLLHUP; shutdown of an unconnected socket fails ENOTCONN yet
 * sticks (a later connect's sends are EPIPE, a UDP socket's too); SHUT_RD
 * keeps the queued and later data readable and then reads end of file,
 * and SHUT_RDWR with unread data sends no reset; a connection closed both
 * ways is POLLIN|POLLOUT|POLLHUP|POLLRDHUP without POLLERR, and its
 * TCP_INFO state is TCP_CLOSE; a second connect of a connected socket is
 * EISCONN; SIOCATMARK is 0; a zero-length receive is EAGAIN until a
 * byte is queued; MSG_TRUNC discards stream bytes without copying them.
 */
#include "check.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define ALL (POLLIN | POLLOUT | POLLRDHUP | POLLPRI)

static int events(int fd)
{
	struct pollfd p = {.fd = fd, .events = ALL};
	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

/* settle waits until fd reports want (all of its bits) or 10 s pass. */
static int settle(int fd, int want)
{
	for (int i = 0; i < 1000; i++) {
		int e = events(fd);
		if ((e & want) == want)
			return e;
		usleep(10000);
	}
	return events(fd);
}

static struct sockaddr_in listener(int *l)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*l = MUST(socket(AF_INET, SOCK_STREAM, 0));
	MUST(bind(*l, (struct sockaddr *)&a, sizeof a));
	MUST(listen(*l, 4));
	socklen_t al = sizeof a;
	MUST(getsockname(*l, (struct sockaddr *)&a, &al));
	return a;
}

static void pair(int *c, int *s)
{
	int l;
	struct sockaddr_in a = listener(&l);
	*c = MUST(socket(AF_INET, SOCK_STREAM, 0));
	MUST(connect(*c, (struct sockaddr *)&a, sizeof a));
	*s = MUST(accept(l, NULL, NULL));
	close(l);
}

static int tcpstate(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof ti;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
		return -1;
	return ti.tcpi_state;
}

int main(void)
{
	char buf[16];
	int c, s, l, n;

	/* A socket never connected: writable and hung up. */
	c = MUST(socket(AF_INET, SOCK_STREAM, 0));
	CHECK(events(c) == (POLLOUT | POLLHUP));
	close(c);

	/* shutdown before connect: ENOTCONN, but the bits stay. */
	struct sockaddr_in la = listener(&l);
	c = MUST(socket(AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(shutdown(c, SHUT_WR), ENOTCONN);
	CHECK(events(c) == (POLLOUT | POLLHUP));
	MUST(connect(c, (struct sockaddr *)&la, sizeof la));
	EXPECT_ERR(send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
	s = MUST(accept(l, NULL, NULL));
	/* No FIN went out: the peer sees an open, empty connection. */
	CHECK(settle(s, POLLOUT) == POLLOUT);
	EXPECT_ERR(recv(s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	close(c);
	close(s);
	c = MUST(socket(AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(shutdown(c, SHUT_RD), ENOTCONN);
	CHECK(events(c) == (POLLIN | POLLOUT | POLLHUP | POLLRDHUP));
	close(c);
	close(l);

	/* A second connect of a connected socket. */
	pair(&c, &s);
	CHECK(tcpstate(c) == TCP_ESTABLISHED);
	CHECK(events(c) == POLLOUT);
	MUST(getsockname(s, (struct sockaddr *)&la, &(socklen_t){sizeof la}));
	EXPECT_ERR(connect(c, (struct sockaddr *)&la, sizeof la), EISCONN);
	n = -1;
	MUST(ioctl(s, SIOCATMARK, &n));
	CHECK(n == 0);
	/* A zero-length receive waits for a byte like any other. */
	EXPECT_ERR(recv(s, buf, 0, MSG_DONTWAIT), EAGAIN);
	/* MSG_TRUNC on a stream counts (with MSG_PEEK) or discards the
	 * bytes without copying them: no buffer needed. */
	CHECK(send(c, "xyz", 3, 0) == 3);
	CHECK(settle(s, POLLIN) == (POLLIN | POLLOUT));
	CHECK(recv(s, buf, 0, MSG_DONTWAIT) == 0);
	CHECK(recv(s, NULL, 2, MSG_PEEK | MSG_TRUNC) == 2);
	CHECK(recv(s, NULL, 2, MSG_TRUNC) == 2);
	struct iovec iov = {NULL, 5};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	CHECK(recvmsg(s, &mh, MSG_TRUNC) == 1);

	/* SHUT_RD: queued data stays readable, later data arrives, then EOF. */
	CHECK(send(c, "abc", 3, 0) == 3);
	CHECK(settle(s, POLLIN) == (POLLIN | POLLOUT));
	MUST(shutdown(s, SHUT_RD));
	CHECK(events(s) == (POLLIN | POLLOUT | POLLRDHUP));
	CHECK(recv(s, buf, sizeof buf, 0) == 3 && memcmp(buf, "abc", 3) == 0);
	CHECK(send(c, "de", 2, 0) == 2);
	/* the peer never learns of SHUT_RD */
	CHECK(events(c) == POLLOUT);
	n = 0;
	for (int i = 0; i < 1000 && n == 0; i++) {
		MUST(ioctl(s, FIONREAD, &n));
		if (n == 0)
			usleep(10000);
	}
	CHECK(recv(s, buf, sizeof buf, 0) == 2 && memcmp(buf, "de", 2) == 0);
	/* empty and shut: end of file, blocking or not */
	CHECK(recv(s, buf, sizeof buf, 0) == 0);
	CHECK(recv(s, buf, sizeof buf, MSG_DONTWAIT) == 0);
	/* and the other way: SHUT_WR sends the FIN */
	MUST(shutdown(s, SHUT_WR));
	CHECK(events(s) == (POLLIN | POLLOUT | POLLHUP | POLLRDHUP));
	CHECK(settle(c, POLLRDHUP) == (POLLIN | POLLOUT | POLLRDHUP));
	CHECK(tcpstate(c) == TCP_CLOSE_WAIT);
	CHECK(recv(c, buf, sizeof buf, 0) == 0);
	MUST(shutdown(c, SHUT_WR));
	/* Closed both ways: hung up, no error. */
	CHECK(settle(s, POLLHUP) == (POLLIN | POLLOUT | POLLHUP | POLLRDHUP));
	CHECK(settle(c, POLLHUP) == (POLLIN | POLLOUT | POLLHUP | POLLRDHUP));
	/* s shut both ways is hung up at once; its state follows c's FIN */
	for (int i = 0; i < 1000 && tcpstate(s) != TCP_CLOSE; i++)
		usleep(10000);
	CHECK(tcpstate(s) == TCP_CLOSE);
	int err = -1;
	MUST(getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &(socklen_t){sizeof err}));
	CHECK(err == 0);
	close(c);
	close(s);

	/* SHUT_RDWR with unread data: a FIN, not a reset. */
	pair(&c, &s);
	CHECK(send(c, "abc", 3, 0) == 3);
	CHECK(settle(s, POLLIN) == (POLLIN | POLLOUT));
	MUST(shutdown(s, SHUT_RDWR));
	CHECK(events(s) == (POLLIN | POLLOUT | POLLHUP | POLLRDHUP));
	CHECK(settle(c, POLLRDHUP) == (POLLIN | POLLOUT | POLLRDHUP));
	CHECK(recv(c, buf, sizeof buf, 0) == 0);
	CHECK(recv(s, buf, sizeof buf, 0) == 3);
	CHECK(recv(s, buf, sizeof buf, 0) == 0);
	CHECK(send(c, "x", 1, MSG_NOSIGNAL) == 1);
	close(c);
	close(s);

	/* UDP: an unconnected socket's shutdown fails yet sticks. */
	struct sockaddr_in ua = {.sin_family = AF_INET};
	ua.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int u = MUST(socket(AF_INET, SOCK_DGRAM, 0));
	MUST(bind(u, (struct sockaddr *)&ua, sizeof ua));
	MUST(getsockname(u, (struct sockaddr *)&ua, &(socklen_t){sizeof ua}));
	CHECK(events(u) == POLLOUT);
	EXPECT_ERR(shutdown(u, SHUT_WR), ENOTCONN);
	CHECK(events(u) == POLLOUT);
	EXPECT_ERR(sendto(u, "x", 1, 0, (struct sockaddr *)&ua, sizeof ua), EPIPE);
	EXPECT_ERR(shutdown(u, SHUT_RD), ENOTCONN);
	CHECK(events(u) == (POLLIN | POLLOUT | POLLHUP | POLLRDHUP));
	EXPECT_ERR(recv(u, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	/* shut for reading and empty: a blocking receive returns 0 */
	CHECK(recv(u, buf, sizeof buf, 0) == 0);
	/* datagrams still arrive and are read */
	int u2 = MUST(socket(AF_INET, SOCK_DGRAM, 0));
	CHECK(sendto(u2, "yz", 2, 0, (struct sockaddr *)&ua, sizeof ua) == 2);
	for (int i = 0; i < 1000; i++) {
		MUST(ioctl(u, FIONREAD, &n));
		if (n)
			break;
		usleep(10000);
	}
	CHECK(recv(u, buf, sizeof buf, 0) == 2);
	close(u);
	close(u2);

	printf("tcpshut: %s\n", check_failures ? "FAIL" : "ok");
	return check_failures != 0;
}
