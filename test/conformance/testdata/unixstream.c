/*
 * unixstream: AF_UNIX SOCK_STREAM sockets. socket(2) argument errors;
 * socketpair with partial reads, MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL,
 * FIONREAD/SIOCOUTQ, fstat; shutdown in each direction with what poll and
 * epoll report; EPIPE with and without SIGPIPE; bind/listen/accept/connect
 * on a path in a scratch directory and on an abstract name, autobind,
 * getsockname/getpeername, SO_PEERCRED (a listener's own, none before),
 * nonblocking accept and a full backlog, connect errors, socket options
 * and SO_RCVTIMEO, SO_PEEK_OFF.
 */
#include "fs.h"
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#ifndef SIOCINQ
#define SIOCINQ FIONREAD
#endif
#ifndef SIOCOUTQ
#define SIOCOUTQ TIOCOUTQ
#endif

static volatile sig_atomic_t sigpipes;
static void on_pipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static short revents(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

static socklen_t mkaddr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	strncpy(a->sun_path, path, sizeof a->sun_path - 1);
	return offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1;
}

static socklen_t mkabstract(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path + 1, name, strlen(name));
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
}

static int getint(int fd, int opt)
{
	int v = -1;
	socklen_t l = sizeof v;
	if (getsockopt(fd, SOL_SOCKET, opt, &v, &l) != 0)
		return -100 - errno;
	return v;
}

static void socket_args(void)
{
	EXPECT_ERR(socket(AF_UNIX, SOCK_STREAM | 0x100000, 0), EINVAL);
	EXPECT_ERR(socket(AF_UNIX, 7, 0), ESOCKTNOSUPPORT);
	EXPECT_ERR(socket(AF_UNIX, SOCK_STREAM, 7), EPROTONOSUPPORT);
	EXPECT_ERR(socket(1000, SOCK_STREAM, 0), EAFNOSUPPORT);
	int s = MUST(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
	CHECK(fcntl(s, F_GETFD) == FD_CLOEXEC);
	CHECK((fcntl(s, F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDWR | O_NONBLOCK));
	struct stat st;
	CHECK(fstat(s, &st) == 0 && S_ISSOCK(st.st_mode));
	CHECK(getint(s, SO_TYPE) == SOCK_STREAM);
	CHECK(getint(s, SO_DOMAIN) == AF_UNIX);
	CHECK(getint(s, SO_PROTOCOL) == 0);
	CHECK(getint(s, SO_ACCEPTCONN) == 0);
	CHECK(getint(s, SO_ERROR) == 0);
	char buf[4];
	EXPECT_ERR(read(s, buf, 1), EINVAL);
	EXPECT_ERR(write(s, "x", 1), ENOTCONN);
	EXPECT_ERR(listen(s, 1), EINVAL); /* unbound */
	EXPECT_ERR(getpeername(s, (struct sockaddr *)buf, &(socklen_t){4}), ENOTCONN);
	/* An unconnected stream socket polls as hung up and writable. */
	CHECK(revents(s, POLLIN | POLLOUT) == (POLLOUT | POLLHUP));
	CHECK(shutdown(s, SHUT_RD) == 0);
	CHECK(revents(s, POLLIN | POLLOUT | POLLRDHUP) == (POLLIN | POLLOUT | POLLHUP | POLLRDHUP));
	close(s);
	int raw = MUST(socket(AF_UNIX, SOCK_RAW, 0));
	CHECK(getint(raw, SO_TYPE) == SOCK_DGRAM);
	close(raw);
	EXPECT_ERR(read(0x7fff, buf, 1), EBADF);
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_ERR(listen(p[0], 1), ENOTSOCK);
	EXPECT_ERR(getsockopt(p[0], SOL_SOCKET, SO_TYPE, buf, &(socklen_t){4}), ENOTSOCK);
	close(p[0]);
	close(p[1]);
	puts("socket: flag, type, protocol and family errors; fstat S_IFSOCK; SO_TYPE/DOMAIN/PROTOCOL; unconnected errors");
}

static void pair_io(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	char buf[64];
	CHECK(revents(sv[0], POLLIN | POLLOUT) == POLLOUT);
	CHECK(write(sv[0], "hello, ", 7) == 7);
	CHECK(send(sv[0], "world", 5, 0) == 5);
	int n = -1;
	CHECK(ioctl(sv[1], FIONREAD, &n) == 0 && n == 12);
	CHECK(ioctl(sv[1], SIOCINQ, &n) == 0 && n == 12);
	CHECK(ioctl(sv[0], SIOCOUTQ, &n) == 0 && n >= 12); /* Linux counts its overhead */
	CHECK(revents(sv[1], POLLIN | POLLOUT) == (POLLIN | POLLOUT));
	/* A stream has no boundaries: one read takes both writes. */
	CHECK(recv(sv[1], buf, 3, MSG_PEEK) == 3 && memcmp(buf, "hel", 3) == 0);
	CHECK(recv(sv[1], buf, sizeof buf, MSG_PEEK) == 12);
	CHECK(read(sv[1], buf, 4) == 4 && memcmp(buf, "hell", 4) == 0);
	CHECK(read(sv[1], buf, sizeof buf) == 8 && memcmp(buf, "o, world", 8) == 0);
	CHECK(ioctl(sv[0], SIOCOUTQ, &n) == 0 && n == 0);
	EXPECT_ERR(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
	CHECK(revents(sv[1], POLLIN) == 0);
	/* readv/writev gather and scatter. */
	struct iovec wv[2] = {{"ab", 2}, {"cdef", 4}};
	CHECK(writev(sv[1], wv, 2) == 6);
	char a[3], b[10];
	struct iovec rv[2] = {{a, 3}, {b, sizeof b}};
	CHECK(readv(sv[0], rv, 2) == 6 && memcmp(a, "abc", 3) == 0 && memcmp(b, "def", 3) == 0);
	/* MSG_WAITALL waits for the whole buffer from a writer that sends in
	 * pieces. */
	pid_t pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 4; i++) {
			usleep(10000);
			if (write(sv[1], "0123", 4) != 4)
				_exit(1);
		}
		_exit(0);
	}
	CHECK(recv(sv[0], buf, 16, MSG_WAITALL) == 16 && memcmp(buf + 12, "0123", 4) == 0);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && status == 0);
	/* Credentials of a socketpair are the creator's. */
	struct ucred uc;
	socklen_t ul = sizeof uc;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 && ul == sizeof uc);
	CHECK(uc.pid == getpid() && uc.uid == geteuid() && uc.gid == getegid());
	struct sockaddr_un sa;
	socklen_t sl = sizeof sa;
	CHECK(getsockname(sv[0], (struct sockaddr *)&sa, &sl) == 0 && sl == sizeof(sa_family_t) && sa.sun_family == AF_UNIX);
	sl = sizeof sa;
	CHECK(getpeername(sv[0], (struct sockaddr *)&sa, &sl) == 0 && sl == sizeof(sa_family_t));
	close(sv[0]);
	close(sv[1]);
	puts("socketpair: stream without boundaries, MSG_PEEK, FIONREAD/SIOCINQ/SIOCOUTQ, readv/writev, MSG_WAITALL, SO_PEERCRED, unnamed names");
}

static void shutdowns(void)
{
	int sv[2];
	char buf[16];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int ep = MUST(epoll_create1(0));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == 0);
	struct epoll_event got;
	CHECK(epoll_wait(ep, &got, 1, 0) == 1 && got.events == EPOLLOUT);
	CHECK(write(sv[0], "last", 4) == 4);
	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	EXPECT_ERR(shutdown(sv[0], 7), EINVAL);
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_pipe;
	CHECK(sigaction(SIGPIPE, &sa, &old) == 0);
	sigpipes = 0;
	EXPECT_ERR(write(sv[0], "x", 1), EPIPE);
	CHECK(sigpipes == 1);
	EXPECT_ERR(send(sv[0], "x", 1, MSG_NOSIGNAL), EPIPE);
	CHECK(sigpipes == 1);
	/* The peer sees the data, then end of file, and RDHUP. */
	CHECK(epoll_wait(ep, &got, 1, 0) == 1 && got.events == (EPOLLIN | EPOLLOUT | EPOLLRDHUP));
	CHECK(read(sv[1], buf, sizeof buf) == 4);
	CHECK(read(sv[1], buf, sizeof buf) == 0);
	CHECK(revents(sv[1], POLLIN | POLLOUT | POLLRDHUP) == (POLLIN | POLLOUT | POLLRDHUP));
	/* The other direction still works. */
	CHECK(write(sv[1], "back", 4) == 4);
	CHECK(read(sv[0], buf, sizeof buf) == 4);
	CHECK(shutdown(sv[1], SHUT_WR) == 0);
	CHECK(revents(sv[0], POLLIN | POLLOUT) == (POLLIN | POLLOUT | POLLHUP));
	close(sv[0]);
	close(sv[1]);

	/* Closing the peer: end of file, then EPIPE and SIGPIPE. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(write(sv[1], "bye", 3) == 3);
	close(sv[1]);
	CHECK(revents(sv[0], POLLIN | POLLOUT | POLLRDHUP) == (POLLIN | POLLOUT | POLLRDHUP | POLLHUP));
	CHECK(read(sv[0], buf, sizeof buf) == 3);
	CHECK(read(sv[0], buf, sizeof buf) == 0);
	sigpipes = 0;
	EXPECT_ERR(write(sv[0], "x", 1), EPIPE);
	CHECK(sigpipes == 1);
	close(sv[0]);

	/* SHUT_RD: reads see end of file at once. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(shutdown(sv[0], SHUT_RD) == 0);
	CHECK(read(sv[0], buf, sizeof buf) == 0);
	sigpipes = 0;
	EXPECT_ERR(write(sv[1], "x", 1), EPIPE);
	CHECK(sigpipes == 1);
	close(sv[0]);
	close(sv[1]);
	CHECK(sigaction(SIGPIPE, &old, NULL) == 0);
	close(ep);
	puts("shutdown: SHUT_WR gives the peer EOF and RDHUP, EPIPE with SIGPIPE unless MSG_NOSIGNAL; close; SHUT_RD");
}

static void named(void)
{
	struct sockaddr_un a, got;
	socklen_t al = mkaddr(&a, P("sock"));
	socklen_t gl;
	int l = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK(bind(l, (struct sockaddr *)&a, al) == 0);
	EXPECT_ERR(bind(l, (struct sockaddr *)&a, al), EADDRINUSE);
	struct stat st;
	CHECK(lstat(P("sock"), &st) == 0 && S_ISSOCK(st.st_mode));
	printf("bound path: %s is a socket, mode %o\n", rel(P("sock")), st.st_mode & 0777);
	gl = sizeof got;
	CHECK(getsockname(l, (struct sockaddr *)&got, &gl) == 0 && gl == al && strcmp(got.sun_path, a.sun_path) == 0);
	int l2 = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	EXPECT_ERR(bind(l2, (struct sockaddr *)&a, al), EADDRINUSE);
	close(l2);
	int c = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, al), ECONNREFUSED); /* not listening */
	/* No peer yet: pid 0, ids -1; a listener's is its own caller's. */
	struct ucred lc;
	socklen_t lcl = sizeof lc;
	CHECK(getsockopt(l, SOL_SOCKET, SO_PEERCRED, &lc, &lcl) == 0 && lc.pid == 0 && lc.uid == (uid_t)-1 && lc.gid == (gid_t)-1);
	CHECK(listen(l, 1) == 0);
	lcl = sizeof lc;
	CHECK(getsockopt(l, SOL_SOCKET, SO_PEERCRED, &lc, &lcl) == 0 && lc.pid == getpid() && lc.uid == geteuid() && lc.gid == getegid());
	CHECK(getint(l, SO_ACCEPTCONN) == 1);
	CHECK(revents(l, POLLIN | POLLOUT) == 0);
	char buf[16];
	EXPECT_ERR(read(l, buf, 1), EINVAL);
	int fl = fcntl(l, F_GETFL);
	CHECK(fcntl(l, F_SETFL, fl | O_NONBLOCK) == 0);
	EXPECT_ERR(accept(l, NULL, NULL), EAGAIN);
	CHECK(fcntl(l, F_SETFL, fl) == 0);
	CHECK(connect(c, (struct sockaddr *)&a, al) == 0);
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, al), EISCONN);
	CHECK(revents(l, POLLIN) == POLLIN);
	gl = sizeof got;
	memset(&got, 0x55, sizeof got);
	int s = MUST(accept4(l, (struct sockaddr *)&got, &gl, SOCK_CLOEXEC | SOCK_NONBLOCK));
	CHECK(gl == sizeof(sa_family_t) && got.sun_family == AF_UNIX); /* the client is unnamed */
	CHECK(fcntl(s, F_GETFD) == FD_CLOEXEC && (fcntl(s, F_GETFL) & O_NONBLOCK));
	gl = sizeof got;
	CHECK(getsockname(s, (struct sockaddr *)&got, &gl) == 0 && gl == al && strcmp(got.sun_path, a.sun_path) == 0);
	gl = sizeof got;
	CHECK(getpeername(c, (struct sockaddr *)&got, &gl) == 0 && gl == al && strcmp(got.sun_path, a.sun_path) == 0);
	/* A short buffer gets the name truncated and the full length. */
	gl = 4;
	CHECK(getpeername(c, (struct sockaddr *)&got, &gl) == 0 && gl == al);
	struct ucred uc;
	socklen_t ul = sizeof uc;
	CHECK(getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 && uc.pid == getpid() && uc.uid == geteuid());
	ul = sizeof uc;
	CHECK(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 && uc.pid == getpid() && uc.gid == getegid());
	CHECK(write(c, "ping", 4) == 4);
	CHECK(read(s, buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0);
	CHECK(write(s, "pong", 4) == 4);
	CHECK(read(c, buf, sizeof buf) == 4 && memcmp(buf, "pong", 4) == 0);
	close(s);
	close(c);

	/* A client in another process; the server blocks in accept. */
	pid_t pid = fork();
	if (pid == 0) {
		usleep(20000);
		int cc = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(cc, (struct sockaddr *)&a, al) != 0)
			_exit(1);
		if (write(cc, "from child", 10) != 10)
			_exit(2);
		char r[8];
		if (read(cc, r, sizeof r) != 2)
			_exit(3);
		_exit(0);
	}
	s = MUST(accept(l, NULL, NULL));
	CHECK(read(s, buf, sizeof buf) == 10 && memcmp(buf, "from child", 10) == 0);
	ul = sizeof uc;
	CHECK(getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 && uc.pid == pid);
	CHECK(write(s, "ok", 2) == 2);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(read(s, buf, sizeof buf) == 0);
	close(s);

	/* Backlog full: a nonblocking connect fails with EAGAIN. */
	CHECK(listen(l, 0) == 0);
	int c1 = MUST(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
	int c2 = MUST(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
	int c3 = MUST(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
	CHECK(connect(c1, (struct sockaddr *)&a, al) == 0);
	int r2 = connect(c2, (struct sockaddr *)&a, al);
	int e2 = errno;
	int r3 = connect(c3, (struct sockaddr *)&a, al);
	CHECK(r3 == -1 && errno == EAGAIN);
	printf("backlog 0: second connect %s\n", r2 == 0 ? "ok" : errname(e2));
	/* Closing the listener resets what it never accepted. */
	close(l);
	CHECK(read(c1, buf, 1) == -1 && errno == ECONNRESET);
	close(c1);
	close(c2);
	close(c3);

	/* The name outlives the socket: connecting finds nobody. */
	c = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, al), ECONNREFUSED);
	CHECK(unlink(P("sock")) == 0);
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, al), ENOENT);
	/* A file that is not a socket. */
	int f = MUST(open(P("plain"), O_CREAT | O_WRONLY, 0600));
	close(f);
	al = mkaddr(&a, P("plain"));
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, al), ECONNREFUSED);
	al = mkaddr(&a, P("nodir/sock"));
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, al), ENOENT);
	EXPECT_ERR(bind(c, (struct sockaddr *)&a, al), ENOENT);
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, 1), EINVAL);
	/* Path sockets of another type. */
	int sq = MUST(socket(AF_UNIX, SOCK_SEQPACKET, 0));
	al = mkaddr(&a, P("seq"));
	CHECK(bind(sq, (struct sockaddr *)&a, al) == 0 && listen(sq, 1) == 0);
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, al), EPROTOTYPE);
	close(sq);
	a.sun_family = AF_INET;
	EXPECT_ERR(connect(c, (struct sockaddr *)&a, al), EINVAL);
	close(c);
	puts("path names: bind makes a socket file, EADDRINUSE, listen/connect/accept4, names, SO_PEERCRED, a forked client, backlog, ECONNRESET, ECONNREFUSED, ENOENT");
}

static void abstract(void)
{
	struct sockaddr_un a, got;
	char name[32];
	snprintf(name, sizeof name, "exo-unixstream-%d", (int)getpid());
	socklen_t al = mkabstract(&a, name);
	int l = MUST(socket(AF_UNIX, SOCK_SEQPACKET, 0));
	int x = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	int y = MUST(socket(AF_UNIX, SOCK_SEQPACKET, 0));
	CHECK(bind(l, (struct sockaddr *)&a, al) == 0);
	EXPECT_ERR(bind(y, (struct sockaddr *)&a, al), EADDRINUSE);
	CHECK(listen(l, 5) == 0);
	/* Abstract names are per socket type. */
	EXPECT_ERR(connect(x, (struct sockaddr *)&a, al), ECONNREFUSED);
	CHECK(connect(y, (struct sockaddr *)&a, al) == 0);
	close(y);
	close(l);
	l = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK(bind(l, (struct sockaddr *)&a, al) == 0);
	CHECK(listen(l, 5) == 0);
	int l3 = MUST(socket(AF_UNIX, SOCK_SEQPACKET, 0));
	CHECK(bind(l3, (struct sockaddr *)&a, al) == 0); /* freed by close */
	close(l3);
	CHECK(connect(x, (struct sockaddr *)&a, al) == 0);
	socklen_t gl = sizeof got;
	CHECK(getpeername(x, (struct sockaddr *)&got, &gl) == 0 && gl == al && got.sun_path[0] == 0 &&
	      memcmp(got.sun_path + 1, name, strlen(name)) == 0);
	int s = MUST(accept(l, NULL, NULL));
	CHECK(send(x, "abs", 3, 0) == 3);
	char buf[8];
	CHECK(recv(s, buf, sizeof buf, 0) == 3);
	close(s);
	close(x);
	close(l);
	/* Autobind: an address of the family alone gets a five-hex-digit
	 * abstract name. */
	int ab = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	struct sockaddr_un fam = {.sun_family = AF_UNIX};
	CHECK(bind(ab, (struct sockaddr *)&fam, sizeof(sa_family_t)) == 0);
	gl = sizeof got;
	CHECK(getsockname(ab, (struct sockaddr *)&got, &gl) == 0);
	printf("autobind: length %d, leading NUL %d\n", (int)gl, got.sun_path[0] == 0);
	CHECK(listen(ab, 1) == 0);
	y = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK(connect(y, (struct sockaddr *)&got, gl) == 0);
	close(y);
	close(ab);
	puts("abstract names: EADDRINUSE, EPROTOTYPE across types, freed on close, getpeername, autobind");
}

static void options(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int v = 4096;
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &v, sizeof v) == 0);
	CHECK(getint(sv[0], SO_SNDBUF) == 8192);
	v = 1;
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_REUSEADDR, &v, sizeof v) == 0 && getint(sv[0], SO_REUSEADDR) == 1);
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v) == 0 && getint(sv[0], SO_KEEPALIVE) == 1);
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &v, sizeof v) == 0 && getint(sv[0], SO_PASSCRED) == 1);
	CHECK(getint(sv[0], SO_RCVLOWAT) == 1);
	EXPECT_ERR(setsockopt(sv[0], SOL_SOCKET, SO_KEEPALIVE, &v, 2), EINVAL);
	EXPECT_ERR(setsockopt(sv[0], SOL_SOCKET, 9999, &v, sizeof v), ENOPROTOOPT);
	EXPECT_ERR(getsockopt(sv[0], SOL_SOCKET, 9999, &v, &(socklen_t){4}), ENOPROTOOPT);
	EXPECT_ERR(setsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, sizeof v), ENOPROTOOPT);
	struct linger lg = {1, 5}, lgot;
	socklen_t ll = sizeof lgot;
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_LINGER, &lgot, &ll) == 0 && ll == sizeof lgot && lgot.l_onoff == 1 && lgot.l_linger == 5);
	struct timeval tv = {0, 100000}, tgot;
	socklen_t tl = sizeof tgot;
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tgot, &tl) == 0 && tgot.tv_sec == 0 && tgot.tv_usec == 100000);
	char buf[4];
	/* The receive times out with EAGAIN. */
	EXPECT_ERR(read(sv[0], buf, 1), EAGAIN);
	EXPECT_ERR(recv(sv[0], buf, 1, 0), EAGAIN);
	tv.tv_usec = 2000000;
	EXPECT_ERR(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), EDOM);
	/* A short option buffer gets what fits. */
	socklen_t one = 1;
	unsigned char c = 0xff;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &c, &one) == 0 && one == 1 && c == SOCK_STREAM);
	close(sv[0]);
	close(sv[1]);
	puts("options: SO_SNDBUF doubled, flags, SO_LINGER, SO_RCVTIMEO honoured, ENOPROTOOPT, EINVAL, EDOM");
}

/* SO_PEEK_OFF: off (-1) by default; a peek starts at the offset and moves
 * it on, a read moves it back, not below 0. */
static void peekoff(void)
{
	int sv[2], v = 0;
	socklen_t l = sizeof v;
	char buf[16];
	MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == -1);
	CHECK(send(sv[0], "abc", 3, 0) == 3 && send(sv[0], "def", 3, 0) == 3);
	/* off: every peek sees the start */
	CHECK(recv(sv[1], buf, 2, MSG_PEEK) == 2 && memcmp(buf, "ab", 2) == 0);
	CHECK(recv(sv[1], buf, 2, MSG_PEEK) == 2 && memcmp(buf, "ab", 2) == 0);
	v = 1;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, sizeof v) == 0);
	/* from 1, across the segments */
	CHECK(recv(sv[1], buf, 3, MSG_PEEK) == 3 && memcmp(buf, "bcd", 3) == 0);
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == 4);
	CHECK(recv(sv[1], buf, sizeof buf, MSG_PEEK) == 2 && memcmp(buf, "ef", 2) == 0);
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == 6);
	/* everything peeked: nothing more to peek */
	EXPECT_ERR(recv(sv[1], buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT), EAGAIN);
	/* a read takes from the start and moves the offset back */
	CHECK(recv(sv[1], buf, 2, 0) == 2 && memcmp(buf, "ab", 2) == 0);
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == 4);
	CHECK(recv(sv[1], buf, sizeof buf, 0) == 4 && memcmp(buf, "cdef", 4) == 0);
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == 0);
	/* any negative value turns it off, and reads back as set */
	v = -5;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, sizeof v) == 0);
	CHECK(getsockopt(sv[1], SOL_SOCKET, SO_PEEK_OFF, &v, &l) == 0 && v == -5);
	CHECK(send(sv[0], "gh", 2, 0) == 2);
	CHECK(recv(sv[1], buf, 1, MSG_PEEK) == 1 && buf[0] == 'g');
	CHECK(recv(sv[1], buf, 1, MSG_PEEK) == 1 && buf[0] == 'g');
	close(sv[0]);
	close(sv[1]);
	puts("SO_PEEK_OFF: peeks from the offset and moves it, reads move it back");
}

/* A listener shut for reading refuses connections, accepts what was
 * queued, then says EINVAL: a blocked accept wakes up to it. */
static void shutlistener(void)
{
	/* The name is the pid's: natively the abstract namespace is the
	 * host's, which the other flavours' runs share at the same time. */
	struct sockaddr_un a;
	char name[40];
	snprintf(name, sizeof name, "exo-unixstream-shut-%d", (int)getpid());
	socklen_t al = mkabstract(&a, name);
	int l = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	MUST(bind(l, (struct sockaddr *)&a, al));
	MUST(listen(l, 4));
	int c1 = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	MUST(connect(c1, (struct sockaddr *)&a, al));
	int n = 7;
	MUST(ioctl(c1, SIOCATMARK, &n));
	CHECK(n == 0);
	MUST(shutdown(l, SHUT_RD));
	int c2 = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	EXPECT_ERR(connect(c2, (struct sockaddr *)&a, al), ECONNREFUSED);
	int s1 = accept(l, NULL, NULL);
	CHECK(s1 >= 0);
	/* blocking, nothing queued: EINVAL at once (it would wait forever) */
	EXPECT_ERR(accept(l, NULL, NULL), EINVAL);
	close(s1);
	close(c1);
	close(c2);
	close(l);
	puts("a listener shut for reading: ECONNREFUSED, EINVAL from accept once empty");
}

int main(void)
{
	make_tmp("unixstream");
	socket_args();
	pair_io();
	shutdowns();
	named();
	abstract();
	options();
	peekoff();
	shutlistener();
	cleanup_tmp();
	return check_done("unixstream");
}
