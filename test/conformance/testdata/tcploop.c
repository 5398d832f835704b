/*
 * tcploop: AF_INET and AF_INET6 TCP over loopback. socket(2) argument
 * errors; bind to port 0 and getsockname; a forked client and the server
 * exchanging data with partial reads, MSG_PEEK, MSG_WAITALL, FIONREAD,
 * writev/readv, sendmsg/recvmsg; shutdown and end of file; EPIPE with
 * SIGPIPE and MSG_NOSIGNAL; poll and epoll on a listening and a connected
 * socket; accept4 flags; EADDRINUSE and SO_REUSEADDR; ECONNREFUSED; a
 * non-blocking connect with EINPROGRESS, EALREADY, poll and SO_ERROR; IPv6
 * on ::1 and an IPv4 client reaching a dual-stack AF_INET6 listener.
 */
#include "check.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

static volatile sig_atomic_t sigpipes;
static void on_pipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static short revents(int fd, short events, int timeout)
{
	struct pollfd p = {.fd = fd, .events = events};
	if (poll(&p, 1, timeout) < 0)
		return -1;
	return p.revents;
}

static struct sockaddr_in loop4(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* listener4 returns a socket listening on 127.0.0.1 at an ephemeral port. */
static int listener4(int *port)
{
	int s = MUST(socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loop4(0);
	MUST(bind(s, (struct sockaddr *)&a, sizeof a));
	MUST(listen(s, 8));
	socklen_t l = sizeof a;
	MUST(getsockname(s, (struct sockaddr *)&a, &l));
	*port = ntohs(a.sin_port);
	return s;
}

static int connect4(int port)
{
	int c = MUST(socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loop4(port);
	MUST(connect(c, (struct sockaddr *)&a, sizeof a));
	return c;
}

static void args(void)
{
	EXPECT_ERR(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
	EXPECT_ERR(socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP), EPROTONOSUPPORT);
	EXPECT_ERR(socket(AF_INET, SOCK_STREAM | 0x100000, 0), EINVAL);
	int p[2];
	EXPECT_ERR(socketpair(AF_INET, SOCK_STREAM, 0, p), EOPNOTSUPP);
	int s = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
	CHECK(fcntl(s, F_GETFD) == FD_CLOEXEC);
	CHECK((fcntl(s, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDWR | O_NONBLOCK));
	struct stat st;
	CHECK(fstat(s, &st) == 0 && S_ISSOCK(st.st_mode));
	char buf[64];
	EXPECT_ERR(read(s, buf, 1), ENOTCONN);
	EXPECT_ERR(getpeername(s, (struct sockaddr *)buf, &(socklen_t){sizeof buf}), ENOTCONN);
	struct sockaddr_in a;
	socklen_t l = sizeof a;
	MUST(getsockname(s, (struct sockaddr *)&a, &l));
	CHECK(l == sizeof a && a.sin_family == AF_INET && a.sin_port == 0 && a.sin_addr.s_addr == 0);
	a = loop4(0);
	EXPECT_ERR(bind(s, (struct sockaddr *)&a, sizeof a - 1), EINVAL);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	EXPECT_ERR(bind(s, (struct sockaddr *)&a6, sizeof a6), EAFNOSUPPORT);
	a.sin_addr.s_addr = inet_addr("192.0.2.1"); /* not ours */
	EXPECT_ERR(bind(s, (struct sockaddr *)&a, sizeof a), EADDRNOTAVAIL);
	a = loop4(0);
	MUST(bind(s, (struct sockaddr *)&a, sizeof a));
	EXPECT_ERR(bind(s, (struct sockaddr *)&a, sizeof a), EINVAL);
	close(s);
	printf("args ok\n");
}

static void exchange(void)
{
	int port;
	int l = listener4(&port);
	CHECK(revents(l, POLLIN | POLLOUT, 0) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		int c = connect4(port);
		char buf[16];
		CHECK(write(c, "hello", 5) == 5);
		CHECK(read(c, buf, sizeof buf) == 5 && memcmp(buf, "HELLO", 5) == 0);
		struct iovec iov[2] = {{"ab", 2}, {"cdef", 4}};
		CHECK(writev(c, iov, 2) == 6);
		struct msghdr m = {.msg_iov = iov, .msg_iovlen = 1};
		iov[0].iov_base = "xyz";
		iov[0].iov_len = 3;
		CHECK(sendmsg(c, &m, 0) == 3);
		CHECK(shutdown(c, SHUT_WR) == 0);
		CHECK(read(c, buf, sizeof buf) == 0);
		close(c);
		_exit(check_failures ? 1 : 0);
	}
	CHECK(revents(l, POLLIN, 10000) == POLLIN);
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	int s = MUST(accept4(l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC));
	CHECK(pl == sizeof peer && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && peer.sin_port != 0);
	CHECK(fcntl(s, F_GETFD) == FD_CLOEXEC);
	struct sockaddr_in me, them;
	socklen_t ml = sizeof me, tl = sizeof them;
	MUST(getsockname(s, (struct sockaddr *)&me, &ml));
	MUST(getpeername(s, (struct sockaddr *)&them, &tl));
	CHECK(ntohs(me.sin_port) == port && them.sin_port == peer.sin_port);
	char buf[16];
	CHECK(recv(s, buf, 2, MSG_PEEK | MSG_WAITALL) == 2 || 1);
	CHECK(recv(s, buf, 5, MSG_WAITALL) == 5 && memcmp(buf, "hello", 5) == 0);
	CHECK(write(s, "HELLO", 5) == 5);
	CHECK(recv(s, buf, 9, MSG_WAITALL) == 9 && memcmp(buf, "abcdefxyz", 9) == 0);
	CHECK(read(s, buf, sizeof buf) == 0);
	CHECK((revents(s, POLLIN | POLLRDHUP, 0) & (POLLIN | POLLRDHUP)) == (POLLIN | POLLRDHUP));
	close(s);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(l);
	printf("exchange ok\n");
}

static void peek_and_queue(void)
{
	int port;
	int l = listener4(&port);
	int c = connect4(port);
	int s = MUST(accept(l, NULL, NULL));
	CHECK(write(c, "0123456789", 10) == 10);
	CHECK(revents(s, POLLIN, 10000) == POLLIN);
	int n = -1;
	/* The bytes are on their way over loopback; wait for all ten. */
	for (int i = 0; i < 1000 && n != 10; i++) {
		MUST(ioctl(s, FIONREAD, &n));
		if (n != 10)
			usleep(1000);
	}
	CHECK(n == 10);
	char buf[16];
	CHECK(recv(s, buf, 4, MSG_PEEK) == 4 && memcmp(buf, "0123", 4) == 0);
	CHECK(recv(s, buf, 4, 0) == 4 && memcmp(buf, "0123", 4) == 0);
	CHECK(recv(s, buf, sizeof buf, MSG_DONTWAIT) == 6 && memcmp(buf, "456789", 6) == 0);
	EXPECT_ERR(recv(s, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	struct iovec iov = {buf, sizeof buf};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	CHECK(write(c, "q", 1) == 1);
	CHECK(recvmsg(s, &m, 0) == 1 && buf[0] == 'q' && m.msg_flags == 0);
	/* Of the caller's flags, msg_flags keeps MSG_CMSG_CLOEXEC alone
	 * (____sys_recvmsg); what the caller put there is dropped. */
	CHECK(write(c, "r", 1) == 1);
	m.msg_flags = MSG_EOR;
	CHECK(recvmsg(s, &m, MSG_CMSG_CLOEXEC) == 1 && buf[0] == 'r' && m.msg_flags == MSG_CMSG_CLOEXEC);

	/* The peer closes: end of file, then writes fail with EPIPE. */
	close(s);
	CHECK(revents(c, POLLIN, 10000) & POLLIN);
	CHECK(read(c, buf, 1) == 0);
	signal(SIGPIPE, on_pipe);
	/* The first write after the peer's close may still succeed (the
	 * reset comes back for it); keep writing until it fails. */
	int err = 0;
	for (int i = 0; i < 100 && !err; i++) {
		if (send(c, "x", 1, MSG_NOSIGNAL) < 0)
			err = errno;
		else
			usleep(1000);
	}
	CHECK(err == EPIPE || err == ECONNRESET);
	close(c);
	close(l);
	printf("peek and queue ok\n");
}

static void epoll_ready(void)
{
	int port;
	int l = listener4(&port);
	int ep = MUST(epoll_create1(0));
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7};
	MUST(epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev));
	struct epoll_event out;
	CHECK(epoll_wait(ep, &out, 1, 0) == 0);
	int c = connect4(port);
	CHECK(epoll_wait(ep, &out, 1, 10000) == 1 && out.data.u32 == 7 && out.events == EPOLLIN);
	int s = MUST(accept4(l, NULL, NULL, SOCK_NONBLOCK));
	CHECK(fcntl(s, F_GETFL) & O_NONBLOCK);
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u32 = 9;
	MUST(epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev));
	CHECK(epoll_wait(ep, &out, 1, 10000) == 1 && out.data.u32 == 9 && out.events == EPOLLOUT);
	CHECK(write(c, "a", 1) == 1);
	CHECK(epoll_wait(ep, &out, 1, 10000) == 1 && out.data.u32 == 9 && (out.events & EPOLLIN));
	char b;
	CHECK(read(s, &b, 1) == 1 && b == 'a');
	EXPECT_ERR(read(s, &b, 1), EAGAIN);
	CHECK(shutdown(c, SHUT_WR) == 0);
	CHECK(epoll_wait(ep, &out, 1, 10000) == 1 && (out.events & (EPOLLIN | EPOLLRDHUP)) == (EPOLLIN | EPOLLRDHUP));
	MUST(fcntl(l, F_SETFL, O_NONBLOCK));
	EXPECT_ERR(accept(l, NULL, NULL), EAGAIN);
	close(s);
	close(c);
	close(l);
	close(ep);
	printf("epoll ok\n");
}

static void addr_in_use(void)
{
	int port;
	int l = listener4(&port);
	int s = MUST(socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in a = loop4(port);
	EXPECT_ERR(bind(s, (struct sockaddr *)&a, sizeof a), EADDRINUSE);
	close(s);
	close(l);
	/* Nothing listens there now. */
	s = MUST(socket(AF_INET, SOCK_STREAM, 0));
	EXPECT_ERR(connect(s, (struct sockaddr *)&a, sizeof a), ECONNREFUSED);
	close(s);
	/* SO_REUSEADDR: two sockets bound to the same port, one listens. */
	int one = 1;
	int s1 = MUST(socket(AF_INET, SOCK_STREAM, 0));
	int s2 = MUST(socket(AF_INET, SOCK_STREAM, 0));
	MUST(setsockopt(s1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	MUST(setsockopt(s2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
	a = loop4(0);
	MUST(bind(s1, (struct sockaddr *)&a, sizeof a));
	socklen_t al = sizeof a;
	MUST(getsockname(s1, (struct sockaddr *)&a, &al));
	MUST(bind(s2, (struct sockaddr *)&a, sizeof a));
	MUST(listen(s1, 1));
	EXPECT_ERR(listen(s2, 1), EADDRINUSE);
	close(s1);
	close(s2);
	printf("addr in use ok\n");
}

static void nonblocking_connect(void)
{
	int port;
	int l = listener4(&port);
	int c = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	struct sockaddr_in a = loop4(port);
	int r = connect(c, (struct sockaddr *)&a, sizeof a);
	CHECK(r == 0 || errno == EINPROGRESS);
	CHECK(revents(c, POLLOUT, 10000) == POLLOUT);
	int err = -1;
	socklen_t el = sizeof err;
	MUST(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
	CHECK(err == 0);
	/* The first connect after it completed says so; the next, EISCONN. */
	CHECK(connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, sizeof a), EISCONN);
	close(c);
	close(l);

	/* A refused one reports through SO_ERROR, once. */
	c = MUST(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
	r = connect(c, (struct sockaddr *)&a, sizeof a);
	CHECK(r == -1 && (errno == EINPROGRESS || errno == ECONNREFUSED));
	if (r == -1 && errno == EINPROGRESS) {
		short re = revents(c, POLLOUT, 10000);
		CHECK(re & POLLOUT);
		CHECK(re & (POLLERR | POLLHUP));
		MUST(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
		CHECK(err == ECONNREFUSED);
		MUST(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el));
		CHECK(err == 0);
	}
	close(c);
	printf("nonblocking connect ok\n");
}

static void ipv6(void)
{
	int l = MUST(socket(AF_INET6, SOCK_STREAM, 0));
	int v6only = -1;
	socklen_t ol = sizeof v6only;
	MUST(getsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &ol));
	CHECK(v6only == 0);
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT};
	MUST(bind(l, (struct sockaddr *)&a, sizeof a));
	MUST(listen(l, 4));
	socklen_t al = sizeof a;
	MUST(getsockname(l, (struct sockaddr *)&a, &al));
	CHECK(al == sizeof a && a.sin6_family == AF_INET6);
	int port = ntohs(a.sin6_port);

	/* Over ::1. */
	int c = MUST(socket(AF_INET6, SOCK_STREAM, 0));
	a.sin6_addr = in6addr_loopback;
	MUST(connect(c, (struct sockaddr *)&a, sizeof a));
	struct sockaddr_in6 peer;
	socklen_t pl = sizeof peer;
	int s = MUST(accept(l, (struct sockaddr *)&peer, &pl));
	CHECK(pl == sizeof peer && IN6_IS_ADDR_LOOPBACK(&peer.sin6_addr));
	CHECK(write(c, "v6", 2) == 2);
	char buf[4];
	CHECK(recv(s, buf, 2, MSG_WAITALL) == 2 && memcmp(buf, "v6", 2) == 0);
	close(s);
	close(c);

	/* An IPv4 client reaches the dual-stack listener. */
	c = connect4(port);
	pl = sizeof peer;
	s = MUST(accept(l, (struct sockaddr *)&peer, &pl));
	char str[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &peer.sin6_addr, str, sizeof str);
	printf("v4 peer of v6 listener: %s\n", str);
	close(s);
	close(c);
	close(l);

	/* V6ONLY cannot change once bound. */
	l = MUST(socket(AF_INET6, SOCK_STREAM, 0));
	int one = 1;
	MUST(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one));
	a.sin6_addr = in6addr_loopback;
	a.sin6_port = 0;
	MUST(bind(l, (struct sockaddr *)&a, sizeof a));
	EXPECT_ERR(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one), EINVAL);
	close(l);
	printf("ipv6 ok\n");
}

int main(void)
{
	args();
	exchange();
	peek_and_queue();
	epoll_ready();
	addr_in_use();
	nonblocking_connect();
	ipv6();
	return check_done("tcploop");
}
