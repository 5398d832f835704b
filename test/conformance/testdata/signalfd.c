/*
 * signalfd: blocked signals read as signalfd_siginfo records (kill, tgkill,
 * sigqueue's value, a child's exit), poll and epoll readiness, a blocking
 * read woken by a signal another process sends, the mask changed through
 * the fd, EAGAIN, EINVAL and EBADF.
 */
#include "check.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

static int readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

int main(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGRTMIN);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);

	int fd = MUST(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
	struct signalfd_siginfo si;
	EXPECT_ERR(read(fd, &si, sizeof si), EAGAIN);
	CHECK(!readable(fd, 0));
	EXPECT_ERR(read(fd, &si, sizeof si - 1), EINVAL);

	CHECK(raise(SIGUSR1) == 0);
	CHECK(readable(fd, 1000));
	CHECK(read(fd, &si, sizeof si) == sizeof si);
	CHECK(si.ssi_signo == SIGUSR1 && si.ssi_code == SI_TKILL && si.ssi_pid == (uint32_t)getpid() && si.ssi_uid == getuid());
	CHECK(!readable(fd, 0));
	puts("raise: one record, the sender's pid and uid, SI_TKILL");

	union sigval v = {.sival_int = 4242};
	CHECK(sigqueue(getpid(), SIGRTMIN, v) == 0);
	CHECK(kill(getpid(), SIGUSR2) == 0);
	struct signalfd_siginfo two[2];
	CHECK(read(fd, two, sizeof two) == sizeof two);
	/* Lower numbers first: SIGUSR2 (12) before SIGRTMIN. */
	CHECK(two[0].ssi_signo == SIGUSR2 && two[0].ssi_code == SI_USER);
	CHECK(two[1].ssi_signo == (uint32_t)SIGRTMIN && two[1].ssi_code == SI_QUEUE && two[1].ssi_int == 4242);
	puts("sigqueue and kill: two records in one read, the queued value");

	pid_t pid = MUST(fork());
	if (pid == 0)
		_exit(3);
	CHECK(readable(fd, 5000));
	CHECK(read(fd, &si, sizeof si) == sizeof si);
	CHECK(si.ssi_signo == SIGCHLD && si.ssi_code == CLD_EXITED && si.ssi_pid == (uint32_t)pid && si.ssi_status == 3);
	CHECK(waitpid(pid, NULL, 0) == pid);
	puts("a child's exit: SIGCHLD with CLD_EXITED, its pid and status");

	int ep = MUST(epoll_create1(0));
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	CHECK(epoll_wait(ep, &ev, 1, 0) == 0);
	pid = MUST(fork());
	if (pid == 0) {
		usleep(100 * 1000);
		kill(getppid(), SIGUSR2);
		_exit(0);
	}
	CHECK(epoll_wait(ep, &ev, 1, 5000) == 1 && ev.data.fd == fd);
	CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2);
	CHECK(readable(fd, 5000) && read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGCHLD);
	CHECK(waitpid(pid, NULL, 0) == pid);
	puts("epoll: woken by a signal another process sends");

	/* A blocking descriptor: the read waits for the signal. */
	int bfd = MUST(signalfd(-1, &set, 0));
	pid = MUST(fork());
	if (pid == 0) {
		usleep(100 * 1000);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	CHECK(read(bfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR1);
	CHECK(waitpid(pid, NULL, 0) == pid);
	/* Drain the child's SIGCHLD. */
	while (read(fd, &si, sizeof si) == sizeof si)
		;
	puts("a blocking read waits for the signal");

	/* The mask changes through the fd: SIGUSR1 is no longer taken. */
	sigset_t only2;
	sigemptyset(&only2);
	sigaddset(&only2, SIGUSR2);
	CHECK(signalfd(fd, &only2, 0) == fd);
	CHECK(raise(SIGUSR1) == 0);
	EXPECT_ERR(read(fd, &si, sizeof si), EAGAIN);
	sigset_t pending;
	CHECK(sigpending(&pending) == 0 && sigismember(&pending, SIGUSR1));
	CHECK(raise(SIGUSR2) == 0);
	CHECK(read(fd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGUSR2);
	puts("the mask changed through the fd");

	int efd = MUST(dup(1));
	EXPECT_ERR(signalfd(efd, &set, 0), EINVAL);
	EXPECT_ERR(signalfd(12345, &set, 0), EBADF);
	EXPECT_ERR(syscall(SYS_signalfd4, -1, &set, 4, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_signalfd4, -1, &set, 8, 1), EINVAL);
	EXPECT_ERR(syscall(SYS_signalfd4, -1, (void *)8, 8, 0), EFAULT);
	puts("EINVAL, EBADF, EFAULT");
	return check_done("signalfd");
}
