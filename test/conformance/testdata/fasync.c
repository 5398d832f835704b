/*
 * fasync: what nginx does to the socket pair it talks to its workers over:
 * ioctl FIOASYNC and FIONBIO set and clear O_ASYNC and O_NONBLOCK as
 * F_GETFL shows them, F_SETOWN's owner is what F_GETOWN reports (the
 * process, or a negative process group); a pipe takes the same.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

static void on(int fd, const char *what)
{
	int one = 1, zero = 0;
	CHECK(ioctl(fd, FIOASYNC, &one) == 0);
	CHECK((fcntl(fd, F_GETFL) & O_ASYNC) != 0);
	CHECK(ioctl(fd, FIONBIO, &one) == 0);
	CHECK((fcntl(fd, F_GETFL) & (O_ASYNC | O_NONBLOCK)) == (O_ASYNC | O_NONBLOCK));
	CHECK(ioctl(fd, FIOASYNC, &zero) == 0);
	CHECK((fcntl(fd, F_GETFL) & (O_ASYNC | O_NONBLOCK)) == O_NONBLOCK);
	CHECK(fcntl(fd, F_GETOWN) == 0);
	CHECK(fcntl(fd, F_SETOWN, getpid()) == 0);
	CHECK(fcntl(fd, F_GETOWN) == getpid());
	CHECK(fcntl(fd, F_SETOWN, -getpgrp()) == 0);
	CHECK(fcntl(fd, F_GETOWN) == -getpgrp());
	printf("%s: FIOASYNC, FIONBIO, F_SETOWN/F_GETOWN\n", what);
}

int main(void)
{
	int sv[2], p[2];
	MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	on(sv[0], "unix socket pair");
	MUST(pipe(p));
	on(p[0], "pipe");
	return check_done("fasync");
}
