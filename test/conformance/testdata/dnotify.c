/*
 * dnotify: fcntl(F_NOTIFY) on a directory in a scratch directory under
 * /tmp. Each event asked for (DN_CREATE, DN_MODIFY, DN_ATTRIB, DN_DELETE,
 * DN_RENAME, DN_ACCESS) sends the F_SETSIG signal with si_code POLL_MSG,
 * si_fd the registering fd and si_band POLLIN|POLLRDNORM|POLLMSG, to the
 * process that registered (F_NOTIFY makes it the owner), also for changes
 * another process makes; without DN_MULTISHOT only the first; masks of
 * repeated F_NOTIFY calls add up; mask 0 or closing an fd of the
 * description ends the registration; without F_SETSIG the signal is SIGIO
 * (SI_KERNEL); a file that is not a directory is ENOTDIR.
 */
#include "check.h"
#include "fs.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#ifndef DN_ACCESS
#define DN_ACCESS 0x00000001
#define DN_MODIFY 0x00000002
#define DN_CREATE 0x00000004
#define DN_DELETE 0x00000008
#define DN_RENAME 0x00000010
#define DN_ATTRIB 0x00000020
#define DN_MULTISHOT 0x80000000
#endif

static sigset_t set;
static int sig;

/* got waits up to wait_ms for the signal s; returns its info in *si. */
static int got(int s, int wait_ms, siginfo_t *si)
{
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, s);
	struct timespec ts = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
	siginfo_t tmp;
	if (!si)
		si = &tmp;
	return sigtimedwait(&one, si, &ts) == s;
}

/* expect_event checks one POLL_MSG signal for fd; none left after it. */
static void expect_event(int fd, const char *what)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	int ok = got(sig, 2000, &si);
	CHECKF(ok, "no signal after %s", what);
	if (ok) {
		CHECKF(si.si_code == POLL_MSG, "%s: si_code %d", what, si.si_code);
		CHECKF(si.si_fd == fd, "%s: si_fd %d, want %d", what, si.si_fd, fd);
		CHECKF(si.si_band == (POLLIN | POLLRDNORM | POLLMSG), "%s: si_band %#lx", what, (long)si.si_band);
	}
	CHECKF(!got(sig, 50, NULL), "a second signal after %s", what);
}

static void expect_none(const char *what)
{
	CHECKF(!got(sig, 100, NULL), "a signal after %s", what);
}

static void touch(const char *path)
{
	int f = MUST(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	close(f);
}

int main(void)
{
	make_tmp("dnotify");
	sig = SIGRTMIN + 1;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigaddset(&set, SIGIO);
	CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	MUST(mkdir(P("d"), 0755));
	touch(P("d/f"));

	int fd = MUST(open(P("d"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(fcntl(fd, F_SETSIG, sig) == 0);
	CHECK(fcntl(fd, F_NOTIFY, DN_CREATE | DN_MULTISHOT) == 0);
	CHECK(fcntl(fd, F_GETOWN) == getpid());
	touch(P("d/a"));
	expect_event(fd, "create");
	MUST(mkdir(P("d/sub"), 0755));
	expect_event(fd, "mkdir");
	touch(P("other"));
	expect_none("a create elsewhere");
	MUST(rename(P("other"), P("d/moved-in")));
	expect_event(fd, "a move in");
	puts("DN_CREATE|DN_MULTISHOT: ok");

	/* Masks add up (the multishot bit too); events from a child count. */
	CHECK(fcntl(fd, F_NOTIFY, DN_MODIFY | DN_ATTRIB) == 0);
	int f = MUST(open(P("d/f"), O_WRONLY | O_CLOEXEC));
	CHECK(write(f, "x", 1) == 1);
	expect_event(fd, "write");
	CHECK(fchmod(f, 0600) == 0);
	expect_event(fd, "chmod");
	close(f);
	pid_t child = fork();
	if (child == 0) {
		touch(P("d/from-child"));
		_exit(0);
	}
	CHECK(waitpid(child, NULL, 0) == child);
	expect_event(fd, "a child's create");
	expect_none("nothing");
	puts("masks add up: ok");

	/* Mask 0 ends the registration. */
	CHECK(fcntl(fd, F_NOTIFY, 0) == 0);
	touch(P("d/b"));
	expect_none("create after F_NOTIFY 0");
	puts("F_NOTIFY 0: ok");

	/* Without DN_MULTISHOT: one signal. */
	CHECK(fcntl(fd, F_NOTIFY, DN_DELETE) == 0);
	MUST(unlink(P("d/a")));
	expect_event(fd, "unlink");
	MUST(unlink(P("d/b")));
	expect_none("a second unlink");
	CHECK(fcntl(fd, F_NOTIFY, DN_RENAME) == 0);
	MUST(rename(P("d/moved-in"), P("d/renamed")));
	expect_event(fd, "rename");
	CHECK(fcntl(fd, F_NOTIFY, DN_ACCESS) == 0);
	f = MUST(open(P("d/f"), O_RDONLY | O_CLOEXEC));
	char c;
	CHECK(read(f, &c, 1) == 1);
	close(f);
	expect_event(fd, "read");
	puts("one-shot DN_DELETE, DN_RENAME, DN_ACCESS: ok");

	/* Closing another fd of the description in this table ends it. */
	CHECK(fcntl(fd, F_NOTIFY, DN_CREATE | DN_MULTISHOT) == 0);
	int dup = MUST(fcntl(fd, F_DUPFD_CLOEXEC, 0));
	close(dup);
	touch(P("d/c"));
	expect_none("create after closing a dup");
	puts("close ends it: ok");

	/* No F_SETSIG: SIGIO, SI_KERNEL. */
	CHECK(fcntl(fd, F_SETSIG, 0) == 0);
	CHECK(fcntl(fd, F_NOTIFY, DN_CREATE) == 0);
	touch(P("d/e"));
	siginfo_t si;
	CHECK(got(SIGIO, 2000, &si) && si.si_code == SI_KERNEL);
	puts("SIGIO: ok");
	close(fd);

	/* Errors. */
	f = MUST(open(P("d/f"), O_RDONLY | O_CLOEXEC));
	EXPECT_ERR(fcntl(f, F_NOTIFY, DN_CREATE), ENOTDIR);
	CHECK(fcntl(f, F_NOTIFY, 0) == 0);
	close(f);
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_ERR(fcntl(p[0], F_NOTIFY, DN_CREATE), ENOTDIR);
	close(p[0]);
	close(p[1]);
	puts("errors: ENOTDIR");

	cleanup_tmp();
	return check_done("dnotify");
}
