/*
 * unixfd: ancillary data on AF_UNIX sockets. SCM_RIGHTS passes open file
 * descriptions (a pipe end and a file) to a forked process, which reads
 * and writes through them and shares the file offset; MSG_CMSG_CLOEXEC;
 * MSG_CTRUNC when the control buffer is short; EBADF and EINVAL for bad
 * control data; a stream read stops at the message carrying descriptions;
 * SCM_CREDENTIALS with SO_PASSCRED, given and defaulted (ESRCH for a pid no
 * process has).
 */
#include "fs.h"
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

static int send_fds(int s, const char *data, const int *fds, int n)
{
	char ctl[CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = {(void *)data, strlen(data)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
	if (n > 0) {
		memset(ctl, 0, sizeof ctl);
		m.msg_control = ctl;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	return sendmsg(s, &m, 0);
}

/* recv_fds receives one message and up to max fds; returns the byte
 * count, the fds in fds, their number in *nfds and msg_flags in *flags. */
static int recv_fds(int s, char *buf, int len, int *fds, int max, int *nfds, int *flags, int rflags, size_t ctlspace)
{
	char ctl[512];
	struct iovec iov = {buf, len};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl,
			   .msg_controllen = ctlspace ? ctlspace : CMSG_SPACE(sizeof(int) * max)};
	int r = recvmsg(s, &m, rflags);
	*nfds = 0;
	*flags = m.msg_flags;
	if (r < 0)
		return r;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			memcpy(fds + *nfds, CMSG_DATA(c), sizeof(int) * n);
			*nfds += n;
		}
	}
	return r;
}

static void pass_between_processes(void)
{
	int sv[2], p[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(pipe(p) == 0);
	int f = MUST(open(P("file"), O_CREAT | O_RDWR, 0600));
	CHECK(write(f, "0123456789", 10) == 10);
	CHECK(lseek(f, 2, SEEK_SET) == 2);
	pid_t pid = fork();
	if (pid == 0) {
		close(sv[0]);
		char buf[16];
		int fds[8], n, fl;
		int r = recv_fds(sv[1], buf, sizeof buf, fds, 8, &n, &fl, MSG_CMSG_CLOEXEC, 0);
		if (r != 4 || n != 2 || memcmp(buf, "fds!", 4) != 0)
			_exit(10);
		/* msg_flags keeps MSG_CMSG_CLOEXEC (____sys_recvmsg). */
		if (fl != MSG_CMSG_CLOEXEC)
			_exit(14);
		if (!(fcntl(fds[0], F_GETFD) & FD_CLOEXEC) || !(fcntl(fds[1], F_GETFD) & FD_CLOEXEC))
			_exit(11);
		/* fds[0] is the pipe's write end, fds[1] the file at offset 2. */
		if (write(fds[0], "via pipe", 8) != 8)
			_exit(12);
		if (read(fds[1], buf, 3) != 3 || memcmp(buf, "234", 3) != 0)
			_exit(13);
		_exit(0);
	}
	close(sv[1]);
	int fds[2] = {p[1], f};
	CHECK(send_fds(sv[0], "fds!", fds, 2) == 4);
	close(p[1]);
	char buf[16];
	CHECK(read(p[0], buf, sizeof buf) == 8 && memcmp(buf, "via pipe", 8) == 0);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	printf("child status %d\n", WEXITSTATUS(status));
	/* The child moved the shared offset. */
	CHECK(lseek(f, 0, SEEK_CUR) == 5);
	/* Every writer is gone now, the child's copy too. */
	CHECK(read(p[0], buf, sizeof buf) == 0);
	close(p[0]);
	close(f);
	close(sv[0]);
	puts("SCM_RIGHTS: a pipe end and a file reach a child, MSG_CMSG_CLOEXEC, shared offset, closed with the child");
}

static void control_errors(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	int bad = 999;
	EXPECT_ERR(send_fds(sv[0], "x", &bad, 1), EBADF);
	/* A bad cmsg_len. */
	char ctl[CMSG_SPACE(sizeof(int))];
	memset(ctl, 0, sizeof ctl);
	struct iovec iov = {"x", 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = sizeof ctl + 64;
	EXPECT_ERR(sendmsg(sv[0], &m, 0), EINVAL);
	c->cmsg_len = CMSG_LEN(sizeof(int));
	c->cmsg_type = 77;
	EXPECT_ERR(sendmsg(sv[0], &m, 0), EINVAL);
	/* Other levels are ignored. */
	c->cmsg_level = 9999;
	CHECK(sendmsg(sv[0], &m, 0) == 1);
	char buf[8];
	CHECK(recv(sv[1], buf, sizeof buf, 0) == 1);

	/* Three fds into room for one: the rest are closed, MSG_CTRUNC. */
	int fds[3] = {0, 1, 2}, got[8], n, fl;
	CHECK(send_fds(sv[0], "y", fds, 3) == 1);
	CHECK(recv_fds(sv[1], buf, sizeof buf, got, 8, &n, &fl, 0, CMSG_LEN(sizeof(int))) == 1);
	CHECK(n == 1 && (fl & MSG_CTRUNC));
	CHECK(!(fcntl(got[0], F_GETFD) & FD_CLOEXEC));
	close(got[0]);
	/* No room at all. */
	CHECK(send_fds(sv[0], "z", fds, 1) == 1);
	CHECK(recv_fds(sv[1], buf, sizeof buf, got, 8, &n, &fl, 0, 4) == 1 && n == 0 && (fl & MSG_CTRUNC));
	/* A plain read drops the descriptions. */
	CHECK(send_fds(sv[0], "w", fds, 1) == 1);
	CHECK(read(sv[1], buf, sizeof buf) == 1);
	/* MSG_PEEK leaves them queued; each peek installs new fds. */
	CHECK(send_fds(sv[0], "v", fds, 1) == 1);
	CHECK(recv_fds(sv[1], buf, sizeof buf, got, 8, &n, &fl, MSG_PEEK, 0) == 1 && n == 1);
	close(got[0]);
	CHECK(recv_fds(sv[1], buf, sizeof buf, got, 8, &n, &fl, 0, 0) == 1 && n == 1);
	close(got[0]);
	close(sv[0]);
	close(sv[1]);
	puts("control data: EBADF, EINVAL, other levels ignored, MSG_CTRUNC, read drops fds, MSG_PEEK");
}

static void stream_boundary(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int fd = 0, got[8], n, fl;
	CHECK(write(sv[0], "plain", 5) == 5);
	CHECK(send_fds(sv[0], "withfd", &fd, 1) == 6);
	CHECK(write(sv[0], "after", 5) == 5);
	char buf[64];
	/* The read stops after the message that carries a descriptor. */
	CHECK(recv_fds(sv[1], buf, sizeof buf, got, 8, &n, &fl, 0, 0) == 11 && n == 1);
	close(got[0]);
	CHECK(recv_fds(sv[1], buf, sizeof buf, got, 8, &n, &fl, 0, 0) == 5 && n == 0);
	close(sv[0]);
	close(sv[1]);
	puts("stream: a read stops after a message carrying descriptors");
}

static void credentials(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	int on = 1;
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* Defaulted credentials. */
		if (send(sv[0], "a", 1, 0) != 1)
			_exit(1);
		/* Given ones. */
		char ctl[CMSG_SPACE(sizeof(struct ucred))];
		memset(ctl, 0, sizeof ctl);
		struct iovec iov = {"b", 1};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_CREDENTIALS;
		c->cmsg_len = CMSG_LEN(sizeof(struct ucred));
		/* A pid no process has: ESRCH (for root, who may name
		 * another process's; EPERM for anyone else). */
		struct ucred none = {0x3ffffff0, getuid(), getgid()};
		memcpy(CMSG_DATA(c), &none, sizeof none);
		errno = 0;
		if (sendmsg(sv[0], &m, 0) != -1 || errno != (geteuid() == 0 ? ESRCH : EPERM))
			_exit(3);
		struct ucred uc = {getpid(), getuid(), getgid()};
		memcpy(CMSG_DATA(c), &uc, sizeof uc);
		if (sendmsg(sv[0], &m, 0) != 1)
			_exit(2);
		_exit(0);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < 2; i++) {
		char buf[4], ctl[256];
		struct iovec iov = {buf, sizeof buf};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
		CHECK(recvmsg(sv[1], &m, 0) == 1);
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		CHECK(c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len == CMSG_LEN(sizeof(struct ucred)));
		if (c) {
			struct ucred uc;
			memcpy(&uc, CMSG_DATA(c), sizeof uc);
			CHECK(uc.pid == pid && uc.uid == getuid() && uc.gid == getgid());
		}
	}
	close(sv[0]);
	close(sv[1]);
	/* SO_PASSCRED on an unnamed socket: connect autobinds it. */
	int l = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	struct sockaddr_un fam = {.sun_family = AF_UNIX}, got;
	socklen_t gl = sizeof got;
	CHECK(bind(l, (struct sockaddr *)&fam, sizeof(sa_family_t)) == 0 && listen(l, 1) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&got, &gl) == 0);
	int c = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK(setsockopt(c, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == 0);
	CHECK(connect(c, (struct sockaddr *)&got, gl) == 0);
	gl = sizeof got;
	CHECK(getsockname(c, (struct sockaddr *)&got, &gl) == 0 && gl == 8 && got.sun_path[0] == 0);
	close(c);
	close(l);
	puts("SCM_CREDENTIALS: defaulted and given, received with SO_PASSCRED; SO_PASSCRED autobinds on connect");
}

int main(void)
{
	make_tmp("unixfd");
	pass_between_processes();
	control_errors();
	stream_boundary();
	credentials();
	cleanup_tmp();
	return check_done("unixfd");
}
