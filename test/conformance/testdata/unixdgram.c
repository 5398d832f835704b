/*
 * unixdgram: AF_UNIX SOCK_DGRAM and SOCK_SEQPACKET. Message boundaries,
 * MSG_TRUNC both ways, MSG_PEEK, zero-length messages, FIONREAD of the
 * next message; unconnected sendto to a path and an abstract name,
 * recvfrom's address, sendto errors (unbound, no such name, a dead peer's
 * path, a socket connected elsewhere), connect/disconnect (AF_UNSPEC), a
 * connected peer that closes, EMSGSIZE over the send buffer, a full
 * receive queue; sendmmsg/recvmmsg; seqpacket boundaries, EOF and EPIPE
 * without SIGPIPE, a sendto address ignored; SO_PEEK_OFF.
 */
#include "fs.h"
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

static socklen_t mkaddr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strncpy(a->sun_path, path, sizeof a->sun_path - 1);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static volatile sig_atomic_t sigpipes;
static void on_pipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static void boundaries(int type, const char *name)
{
	int sv[2];
	char buf[64];
	CHECK(socketpair(AF_UNIX, type, 0, sv) == 0);
	CHECK(send(sv[0], "one", 3, 0) == 3);
	CHECK(write(sv[0], "", 0) == 0); /* an empty message, even by write */
	CHECK(write(sv[0], "three33", 7) == 7);
	CHECK(send(sv[0], "four", 4, 0) == 4);
	int n = -1;
	/* A datagram socket counts its next message, seqpacket all. */
	CHECK(ioctl(sv[1], FIONREAD, &n) == 0 && n == (type == SOCK_DGRAM ? 3 : 14));
	CHECK(recv(sv[1], buf, sizeof buf, MSG_PEEK) == 3);
	CHECK(recv(sv[1], buf, sizeof buf, 0) == 3 && memcmp(buf, "one", 3) == 0);
	CHECK(recv(sv[1], buf, sizeof buf, 0) == 0); /* the empty message */
	/* A short buffer truncates the message; the rest is gone. */
	struct iovec iov = {buf, 5};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	CHECK(recvmsg(sv[1], &m, 0) == 5 && (m.msg_flags & MSG_TRUNC));
	/* MSG_TRUNC asks for the real length. */
	CHECK(recv(sv[1], buf, 2, MSG_TRUNC) == 4 && memcmp(buf, "fo", 2) == 0);
	EXPECT_ERR(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	CHECK(ioctl(sv[1], FIONREAD, &n) == 0 && n == 0);
	close(sv[0]);
	close(sv[1]);
	printf("%s: boundaries kept, empty message, MSG_TRUNC in and out, FIONREAD of one message\n", name);
}

static void unconnected(void)
{
	struct sockaddr_un a, b, from;
	socklen_t al = mkaddr(&a, P("a")), bl = mkaddr(&b, P("b")), fl;
	int sa = MUST(socket(AF_UNIX, SOCK_DGRAM, 0));
	int sb = MUST(socket(AF_UNIX, SOCK_DGRAM, 0));
	char buf[64];
	EXPECT_ERR(sendto(sa, "x", 1, 0, (struct sockaddr *)&b, bl), ENOENT);
	EXPECT_ERR(send(sa, "x", 1, 0), ENOTCONN);
	CHECK(bind(sa, (struct sockaddr *)&a, al) == 0);
	CHECK(bind(sb, (struct sockaddr *)&b, bl) == 0);
	EXPECT_ERR(listen(sa, 1), EOPNOTSUPP);
	EXPECT_ERR(accept(sa, NULL, NULL), EOPNOTSUPP);
	CHECK(sendto(sa, "hi b", 4, 0, (struct sockaddr *)&b, bl) == 4);
	fl = sizeof from;
	CHECK(recvfrom(sb, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4);
	CHECK(fl == al && strcmp(from.sun_path, a.sun_path) == 0);
	/* An unbound sender has no name to report. */
	int u = MUST(socket(AF_UNIX, SOCK_DGRAM, 0));
	CHECK(sendto(u, "anon", 4, 0, (struct sockaddr *)&b, bl) == 4);
	fl = sizeof from;
	CHECK(recvfrom(sb, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4 && fl == 0);
	/* Connected: send needs no address, and only the peer may send
	 * to it. */
	CHECK(connect(sa, (struct sockaddr *)&b, bl) == 0);
	CHECK(send(sa, "conn", 4, 0) == 4);
	CHECK(connect(sb, (struct sockaddr *)&a, al) == 0);
	EXPECT_ERR(sendto(u, "x", 1, 0, (struct sockaddr *)&a, al), EPERM);
	fl = sizeof from;
	CHECK(getpeername(sa, (struct sockaddr *)&from, &fl) == 0 && fl == bl);
	CHECK(recv(sb, buf, sizeof buf, 0) == 4);
	/* AF_UNSPEC disconnects. */
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	CHECK(connect(sb, &unspec, sizeof unspec) == 0);
	EXPECT_ERR(getpeername(sb, (struct sockaddr *)&from, &fl), ENOTCONN);
	CHECK(sendto(u, "ok", 2, 0, (struct sockaddr *)&b, bl) == 2);
	CHECK(recv(sb, buf, sizeof buf, 0) == 2);
	/* Over the send buffer. */
	int v = 4096;
	CHECK(setsockopt(u, SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0);
	static char big[16384];
	EXPECT_ERR(sendto(u, big, sizeof big, 0, (struct sockaddr *)&b, bl), EMSGSIZE);
	/* A full receive queue: EAGAIN for a nonblocking sender. */
	int sent = 0;
	while (sent < 1000 && sendto(u, "q", 1, MSG_DONTWAIT, (struct sockaddr *)&b, bl) == 1)
		sent++;
	CHECK(sent > 0 && sent < 1000 && errno == EAGAIN);
	struct pollfd p = {.fd = sb, .events = POLLIN};
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLIN);
	for (int i = 0; i < sent; i++)
		CHECK(recv(sb, buf, sizeof buf, 0) == 1);
	/* A dead peer's path refuses. */
	close(sb);
	EXPECT_ERR(sendto(u, "x", 1, 0, (struct sockaddr *)&b, bl), ECONNREFUSED);
	/* sa was connected to sb: the first send learns it died. */
	EXPECT_ERR(send(sa, "x", 1, 0), ECONNREFUSED);
	EXPECT_ERR(send(sa, "x", 1, 0), ENOTCONN);
	int st = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	EXPECT_ERR(sendto(st, "x", 1, 0, (struct sockaddr *)&a, al), EOPNOTSUPP);
	close(st);
	close(sa);
	close(u);
	puts("dgram: sendto a path, recvfrom's name, connect and AF_UNSPEC, EPERM, EMSGSIZE, EAGAIN on a full queue, ENOENT, ECONNREFUSED, ENOTCONN");
}

static void mmsg(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	struct mmsghdr out[3];
	struct iovec oiov[3] = {{"a", 1}, {"bb", 2}, {"ccc", 3}};
	memset(out, 0, sizeof out);
	for (int i = 0; i < 3; i++) {
		out[i].msg_hdr.msg_iov = &oiov[i];
		out[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK(sendmmsg(sv[0], out, 3, 0) == 3);
	CHECK(out[0].msg_len == 1 && out[1].msg_len == 2 && out[2].msg_len == 3);
	struct mmsghdr in[4];
	char bufs[4][8];
	struct iovec iiov[4];
	memset(in, 0, sizeof in);
	for (int i = 0; i < 4; i++) {
		iiov[i].iov_base = bufs[i];
		iiov[i].iov_len = sizeof bufs[i];
		in[i].msg_hdr.msg_iov = &iiov[i];
		in[i].msg_hdr.msg_iovlen = 1;
	}
	CHECK(recvmmsg(sv[1], in, 4, MSG_DONTWAIT, NULL) == 3);
	CHECK(in[0].msg_len == 1 && in[1].msg_len == 2 && in[2].msg_len == 3 && memcmp(bufs[2], "ccc", 3) == 0);
	CHECK(send(sv[0], "w", 1, 0) == 1);
	CHECK(recvmmsg(sv[1], in, 4, MSG_WAITFORONE, NULL) == 1);

	/* The timeout is looked at after each message: a zero one ends the
	 * call after the first, and the time left is written back. */
	CHECK(sendmmsg(sv[0], out, 3, 0) == 3);
	struct timespec ts = {0, 0};
	CHECK(recvmmsg(sv[1], in, 4, MSG_DONTWAIT, &ts) == 1);
	CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0);
	ts.tv_sec = 100;
	CHECK(recvmmsg(sv[1], in, 2, MSG_DONTWAIT, &ts) == 2);
	CHECK(in[0].msg_len == 2 && in[1].msg_len == 3);
	CHECKF(ts.tv_sec >= 90 && ts.tv_sec <= 100 && (ts.tv_sec < 100 || ts.tv_nsec == 0) && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000,
	       "time left %ld.%09ld", (long)ts.tv_sec, (long)ts.tv_nsec);
	/* Nothing received: the timeout is left alone. */
	ts.tv_sec = 7;
	ts.tv_nsec = 5;
	EXPECT_ERR(recvmmsg(sv[1], in, 2, MSG_DONTWAIT, &ts), EAGAIN);
	CHECK(ts.tv_sec == 7 && ts.tv_nsec == 5);
	ts.tv_nsec = 1000000000;
	EXPECT_ERR(recvmmsg(sv[1], in, 2, MSG_DONTWAIT, &ts), EINVAL);
	ts.tv_sec = -1;
	ts.tv_nsec = 0;
	EXPECT_ERR(recvmmsg(sv[1], in, 2, MSG_DONTWAIT, &ts), EINVAL);
	EXPECT_ERR(recvmmsg(sv[1], in, 2, MSG_DONTWAIT, (struct timespec *)8), EFAULT);
	close(sv[0]);
	close(sv[1]);
	puts("sendmmsg/recvmmsg: counts and lengths, MSG_WAITFORONE, the timeout after each message, EINVAL, EFAULT");
}

static void seqpacket(void)
{
	int sv[2];
	char buf[16];
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	CHECK(send(sv[0], "abc", 3, 0) == 3);
	CHECK(send(sv[0], "de", 2, 0) == 2);
	CHECK(read(sv[1], buf, 2) == 2); /* the rest of "abc" is dropped */
	CHECK(read(sv[1], buf, sizeof buf) == 2 && memcmp(buf, "de", 2) == 0);
	/* An address given to a connected seqpacket socket is ignored. */
	struct sockaddr_un nowhere = {.sun_family = AF_UNIX};
	strcpy(nowhere.sun_path + 1, "unixdgram-nowhere");
	CHECK(sendto(sv[0], "to", 2, 0, (struct sockaddr *)&nowhere, sizeof nowhere) == 2);
	CHECK(read(sv[1], buf, sizeof buf) == 2 && memcmp(buf, "to", 2) == 0);
	CHECK(send(sv[1], "last", 4, 0) == 4);
	close(sv[1]);
	CHECK(read(sv[0], buf, sizeof buf) == 4);
	CHECK(read(sv[0], buf, sizeof buf) == 0);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_pipe;
	CHECK(sigaction(SIGPIPE, &sa, &old) == 0);
	sigpipes = 0;
	EXPECT_ERR(send(sv[0], "x", 1, 0), EPIPE);
	EXPECT_ERR(write(sv[0], "x", 1), EPIPE);
	CHECK(sigpipes == 0);
	CHECK(sigaction(SIGPIPE, &old, NULL) == 0);
	close(sv[0]);
	int u = MUST(socket(AF_UNIX, SOCK_SEQPACKET, 0));
	EXPECT_ERR(recv(u, buf, 1, MSG_DONTWAIT), ENOTCONN);
	EXPECT_ERR(send(u, buf, 1, 0), ENOTCONN);
	close(u);
	puts("seqpacket: boundaries with truncation, EOF after the peer closed, EPIPE without SIGPIPE, ENOTCONN");
}

/* SO_PEEK_OFF on datagrams: a peek reads from the offset into the queue,
 * passing whole datagrams; a read takes the first datagram whole and moves
 * the offset back by its length. */
static void peekoff(void)
{
	int sv[2], v = 2;
	socklen_t l = sizeof v;
	char buf[16];
	MUST(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, sizeof v) == 0);
	CHECK(send(sv[0], "abc", 3, 0) == 3 && send(sv[0], "defg", 4, 0) == 4);
	/* 2 into "abc" */
	CHECK(recv(sv[1], buf, sizeof buf, MSG_PEEK) == 1 && buf[0] == 'c');
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == 3);
	/* 3: past "abc", the start of "defg"; a short buffer truncates */
	struct iovec iov = {buf, 2};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	CHECK(recvmsg(sv[1], &m, MSG_PEEK) == 2 && memcmp(buf, "de", 2) == 0 && (m.msg_flags & MSG_TRUNC));
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == 5);
	CHECK(recv(sv[1], buf, sizeof buf, MSG_PEEK | MSG_TRUNC) == 2 && memcmp(buf, "fg", 2) == 0);
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == 7);
	EXPECT_ERR(recv(sv[1], buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT), EAGAIN);
	/* reads: whole datagrams from the start */
	CHECK(recv(sv[1], buf, sizeof buf, 0) == 3 && memcmp(buf, "abc", 3) == 0);
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == 4);
	CHECK(recv(sv[1], buf, sizeof buf, 0) == 4 && memcmp(buf, "defg", 4) == 0);
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == 0);
	close(sv[0]);
	close(sv[1]);
	puts("SO_PEEK_OFF: datagram peeks from the offset, reads move it back");
}

int main(void)
{
	make_tmp("unixdgram");
	boundaries(SOCK_DGRAM, "dgram");
	boundaries(SOCK_SEQPACKET, "seqpacket");
	unconnected();
	mmsg();
	seqpacket();
	peekoff();
	cleanup_tmp();
	return check_done("unixdgram");
}
