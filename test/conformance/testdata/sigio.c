/*
 * sigio: O_ASYNC sends the owner a signal when the file becomes readable,
 * as Linux does: plain SIGIO (si_code SI_KERNEL) on a unix socket pair
 * set by F_SETFL, on a pipe's read end and on a TCP connection over
 * loopback set by ioctl FIOASYNC; with F_SETSIG a real-time signal
 * carrying POLL_IN, si_fd and si_band, caught by an SA_SIGINFO handler
 * and sent to the thread F_SETOWN_EX names. Without an owner nothing is
 * sent; clearing O_ASYNC stops the signals.
 */
#include "check.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

static const char *code(int c)
{
	switch (c) {
	case SI_KERNEL: return "SI_KERNEL";
	case POLL_IN: return "POLL_IN";
	case POLL_OUT: return "POLL_OUT";
	case POLL_HUP: return "POLL_HUP";
	}
	return "other";
}

/* waitsig waits up to five seconds for sig (blocked) and returns its
 * info; si_signo is 0 if none came. */
static siginfo_t waitsig(int sig)
{
	sigset_t s;
	siginfo_t si;
	struct timespec ts = {5, 0};
	sigemptyset(&s);
	sigaddset(&s, sig);
	memset(&si, 0, sizeof(si));
	if (sigtimedwait(&s, &si, &ts) < 0)
		si.si_signo = 0;
	return si;
}

/* pending reports whether sig is pending after a short grace. */
static int pending(int sig)
{
	sigset_t s;
	usleep(100 * 1000);
	sigpending(&s);
	return sigismember(&s, sig);
}

static void drain(int sig)
{
	sigset_t s;
	struct timespec ts = {0, 0};
	sigemptyset(&s);
	sigaddset(&s, sig);
	while (sigtimedwait(&s, NULL, &ts) > 0)
		;
}

static volatile sig_atomic_t got_fd = -1, got_code, got_band, got_n;

static void handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (got_n++ == 0) {
		got_fd = si->si_fd;
		got_code = si->si_code;
		got_band = si->si_band;
	}
}

int main(void)
{
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGIO);
	MUST(sigprocmask(SIG_BLOCK, &block, NULL));
	char c = 'x', buf[16];

	/* A unix socket pair, O_ASYNC by F_SETFL. */
	int sv[2];
	MUST(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	MUST(fcntl(sv[0], F_SETFL, O_ASYNC | O_NONBLOCK));
	MUST(write(sv[1], &c, 1));
	printf("no owner: SIGIO pending %s\n", yesno(pending(SIGIO)));
	MUST(read(sv[0], buf, sizeof(buf)));
	MUST(fcntl(sv[0], F_SETOWN, getpid()));
	MUST(write(sv[1], &c, 1));
	siginfo_t si = waitsig(SIGIO);
	printf("socketpair: signal %s, code %s\n", si.si_signo == SIGIO ? "SIGIO" : "none", code(si.si_code));
	CHECK(si.si_signo == SIGIO);
	MUST(read(sv[0], buf, sizeof(buf)));
	drain(SIGIO);
	MUST(fcntl(sv[0], F_SETFL, O_NONBLOCK));
	MUST(write(sv[1], &c, 1));
	printf("O_ASYNC cleared: SIGIO pending %s\n", yesno(pending(SIGIO)));
	MUST(read(sv[0], buf, sizeof(buf)));

	/* A pipe's read end. */
	int p[2];
	MUST(pipe(p));
	MUST(fcntl(p[0], F_SETOWN, getpid()));
	MUST(fcntl(p[0], F_SETFL, O_ASYNC | O_NONBLOCK));
	MUST(write(p[1], &c, 1));
	si = waitsig(SIGIO);
	printf("pipe: signal %s, code %s\n", si.si_signo == SIGIO ? "SIGIO" : "none", code(si.si_code));

	/* TCP over loopback, O_ASYNC by FIOASYNC. */
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	MUST(bind(l, (struct sockaddr *)&a, sizeof(a)));
	MUST(listen(l, 1));
	MUST(getsockname(l, (struct sockaddr *)&a, &al));
	int cl = socket(AF_INET, SOCK_STREAM, 0);
	MUST(connect(cl, (struct sockaddr *)&a, sizeof(a)));
	int s = accept(l, NULL, NULL);
	MUST(s);
	int one = 1;
	MUST(fcntl(s, F_SETOWN, getpid()));
	MUST(ioctl(s, FIOASYNC, &one));
	drain(SIGIO);
	MUST(write(cl, &c, 1));
	si = waitsig(SIGIO);
	printf("tcp: signal %s\n", si.si_signo == SIGIO ? "SIGIO" : "none");
	CHECK(si.si_signo == SIGIO);

	/* F_SETSIG: a real-time signal with details, to this thread. */
	int rt = SIGRTMIN + 1;
	struct sigaction sa = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	MUST(sigaction(rt, &sa, NULL));
	int q[2];
	MUST(socketpair(AF_UNIX, SOCK_DGRAM, 0, q));
	struct f_owner_ex own = {.type = F_OWNER_TID, .pid = gettid()};
	MUST(fcntl(q[0], F_SETOWN_EX, &own));
	MUST(fcntl(q[0], F_SETSIG, rt));
	printf("F_GETSIG is the signal: %s\n", yesno(fcntl(q[0], F_GETSIG) == rt));
	EXPECT_ERR(fcntl(q[0], F_SETSIG, 65), EINVAL);
	MUST(fcntl(q[0], F_SETFL, O_ASYNC));
	MUST(write(q[1], &c, 1));
	for (int i = 0; i < 500 && got_n == 0; i++)
		usleep(10 * 1000);
	printf("F_SETSIG: handled %s, code %s, si_fd is the fd %s, band has POLLIN %s\n", yesno(got_n > 0),
	       code(got_code), yesno(got_fd == q[0]), yesno((got_band & POLLIN) != 0));
	return check_done("sigio");
}
