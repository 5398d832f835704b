/*
 * udploop: AF_INET and AF_INET6 UDP over loopback. sendto/recvfrom with
 * the sender's address, connect and the peer filter, AF_UNSPEC
 * disconnect, EDESTADDRREQ, truncation with MSG_TRUNC, MSG_PEEK, FIONREAD
 * on the next datagram, sendmmsg/recvmmsg, an empty datagram, poll, and
 * a forked peer.
 */
#include "check.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

static struct sockaddr_in bound4(int s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	MUST(bind(s, (struct sockaddr *)&a, sizeof a));
	socklen_t l = sizeof a;
	MUST(getsockname(s, (struct sockaddr *)&a, &l));
	CHECK(a.sin_port != 0);
	return a;
}

static short revents(int fd, short events, int timeout)
{
	struct pollfd p = {.fd = fd, .events = events};
	if (poll(&p, 1, timeout) < 0)
		return -1;
	return p.revents;
}

int main(void)
{
	int a = MUST(socket(AF_INET, SOCK_DGRAM, 0));
	int b = MUST(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, IPPROTO_UDP));
	struct sockaddr_in aa = bound4(a), ba = bound4(b);
	char buf[64];
	EXPECT_ERR(send(a, "x", 1, 0), EDESTADDRREQ);
	EXPECT_ERR(recv(b, buf, sizeof buf, 0), EAGAIN);
	CHECK(revents(b, POLLIN | POLLOUT, 0) == POLLOUT);

	CHECK(sendto(a, "hello", 5, 0, (struct sockaddr *)&ba, sizeof ba) == 5);
	CHECK(revents(b, POLLIN, 10000) == POLLIN);
	int n = 0;
	MUST(ioctl(b, FIONREAD, &n));
	CHECK(n == 5);
	CHECK(recv(b, buf, 2, MSG_PEEK) == 2 && memcmp(buf, "he", 2) == 0);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	/* Truncated: the rest of the datagram is gone; MSG_TRUNC gives its length. */
	CHECK(recvfrom(b, buf, 3, MSG_TRUNC, (struct sockaddr *)&from, &fl) == 5 && memcmp(buf, "hel", 3) == 0);
	CHECK(fl == sizeof from && from.sin_port == aa.sin_port && from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	EXPECT_ERR(recv(b, buf, sizeof buf, 0), EAGAIN);

	/* recvmsg reports the truncation in msg_flags. */
	CHECK(sendto(a, "0123456789", 10, 0, (struct sockaddr *)&ba, sizeof ba) == 10);
	struct iovec iov = {buf, 4};
	struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1};
	CHECK(revents(b, POLLIN, 10000) == POLLIN);
	CHECK(recvmsg(b, &m, 0) == 4 && (m.msg_flags & MSG_TRUNC) && m.msg_namelen == sizeof from);

	/* An empty datagram. */
	CHECK(sendto(a, "", 0, 0, (struct sockaddr *)&ba, sizeof ba) == 0);
	CHECK(revents(b, POLLIN, 10000) == POLLIN);
	CHECK(recv(b, buf, sizeof buf, 0) == 0);

	/* Connected: only the peer's datagrams arrive. */
	int c = MUST(socket(AF_INET, SOCK_DGRAM, 0));
	bound4(c);
	MUST(connect(b, (struct sockaddr *)&aa, sizeof aa));
	struct sockaddr_in pa;
	socklen_t pl = sizeof pa;
	MUST(getpeername(b, (struct sockaddr *)&pa, &pl));
	CHECK(pa.sin_port == aa.sin_port);
	CHECK(sendto(c, "stranger", 8, 0, (struct sockaddr *)&ba, sizeof ba) == 8);
	CHECK(sendto(a, "friend", 6, 0, (struct sockaddr *)&ba, sizeof ba) == 6);
	CHECK(revents(b, POLLIN, 10000) == POLLIN);
	CHECK(recv(b, buf, sizeof buf, 0) == 6 && memcmp(buf, "friend", 6) == 0);
	CHECK(send(b, "back", 4, 0) == 4);
	CHECK(recv(a, buf, sizeof buf, 0) == 4 && memcmp(buf, "back", 4) == 0);
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	MUST(connect(b, &unspec, sizeof unspec));
	EXPECT_ERR(getpeername(b, (struct sockaddr *)&pa, &pl), ENOTCONN);
	EXPECT_ERR(send(b, "x", 1, 0), EDESTADDRREQ);
	close(c);
	close(b);

	/* sendmmsg / recvmmsg. (A fresh socket: Linux takes an autobound
	 * port away from a UDP socket connected to AF_UNSPEC.) */
	b = MUST(socket(AF_INET, SOCK_DGRAM, 0));
	ba = bound4(b);
	struct mmsghdr mm[3];
	struct iovec iovs[3] = {{"one", 3}, {"two", 3}, {"three", 5}};
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 3; i++) {
		mm[i].msg_hdr.msg_iov = &iovs[i];
		mm[i].msg_hdr.msg_iovlen = 1;
		mm[i].msg_hdr.msg_name = &ba;
		mm[i].msg_hdr.msg_namelen = sizeof ba;
	}
	CHECK(sendmmsg(a, mm, 3, 0) == 3 && mm[2].msg_len == 5);
	char rb[3][16];
	struct iovec riov[3];
	memset(mm, 0, sizeof mm);
	for (int i = 0; i < 3; i++) {
		riov[i].iov_base = rb[i];
		riov[i].iov_len = sizeof rb[i];
		mm[i].msg_hdr.msg_iov = &riov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK(revents(b, POLLIN, 10000) == POLLIN);
	int got = 0;
	for (int tries = 0; got < 3 && tries < 1000; tries++) {
		int r = recvmmsg(b, mm + got, 3 - got, MSG_DONTWAIT, NULL);
		if (r > 0)
			got += r;
		else
			usleep(1000);
	}
	CHECK(got == 3 && mm[0].msg_len == 3 && mm[2].msg_len == 5 && memcmp(rb[2], "three", 5) == 0);

	/* A forked peer over IPv6. */
	int s6 = MUST(socket(AF_INET6, SOCK_DGRAM, 0));
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	MUST(bind(s6, (struct sockaddr *)&a6, sizeof a6));
	socklen_t l6 = sizeof a6;
	MUST(getsockname(s6, (struct sockaddr *)&a6, &l6));
	pid_t pid = fork();
	if (pid == 0) {
		int c6 = MUST(socket(AF_INET6, SOCK_DGRAM, 0));
		CHECK(sendto(c6, "ping", 4, 0, (struct sockaddr *)&a6, sizeof a6) == 4);
		char r[8];
		CHECK(recv(c6, r, sizeof r, 0) == 4 && memcmp(r, "pong", 4) == 0);
		_exit(check_failures ? 1 : 0);
	}
	struct sockaddr_in6 f6;
	socklen_t f6l = sizeof f6;
	CHECK(recvfrom(s6, buf, sizeof buf, 0, (struct sockaddr *)&f6, &f6l) == 4 && memcmp(buf, "ping", 4) == 0);
	CHECK(f6l == sizeof f6 && IN6_IS_ADDR_LOOPBACK(&f6.sin6_addr));
	CHECK(sendto(s6, "pong", 4, 0, (struct sockaddr *)&f6, f6l) == 4);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(s6);
	close(a);
	close(b);
	printf("udp ok\n");
	return check_done("udploop");
}
