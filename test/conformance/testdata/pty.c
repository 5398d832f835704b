/*
 * pty: Unix98 pseudo-terminals and the n_tty line discipline.
 * posix_openpt/grantpt/unlockpt/ptsname and the slave lock; the slave's
 * default settings; a canonical line written to the master and read from
 * the slave, its echo on the master; line editing (ERASE, KILL, WERASE,
 * EOF) and its echo; ICRNL, IGNCR, INLCR; ECHO off and ECHONL;
 * non-canonical reads (VMIN=1, VMIN=0/VTIME=0); ONLCR and raw output;
 * window size; ^C from the master delivering SIGINT (and a new window
 * size SIGWINCH) to the foreground group of a session whose controlling
 * terminal the slave is; EIO on the master once the slave has closed;
 * the slave hung up (read 0, write EIO, SIGHUP to the session leader)
 * when the master closes; job control: a background process group
 * reading the terminal stops with SIGTTIN (EIO with SIGTTIN ignored),
 * writing with TOSTOP stops with SIGTTOU (allowed with SIGTTOU ignored or
 * without TOSTOP), and tcsetpgrp from the background with SIGTTOU blocked.
 *
 * Reads of the master wait (poll, generous timeout) for exactly the bytes
 * expected, since Linux hands input to the line discipline
 * asynchronously; the bytes are printed escaped.
 */
#include "check.h"
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER 0x5441
#endif

static void show(const char *what, const char *b, ssize_t n)
{
	printf("%s (%zd): \"", what, n);
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = b[i];
		if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else if (c == '\b')
			printf("\\b");
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

/* readn reads up to want bytes from fd, waiting at most 5s for each. */
static ssize_t readn(int fd, char *buf, size_t want)
{
	size_t got = 0;
	while (got < want) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 5000) <= 0)
			break;
		ssize_t n = read(fd, buf + got, want - got);
		if (n <= 0)
			break;
		got += n;
	}
	return got;
}

static void expect_master(int m, const char *what, size_t want)
{
	char buf[256];
	ssize_t n = readn(m, buf, want);
	show(what, buf, n);
}

/* nothing_ready: poll says fd has nothing to read right now. */
static int nothing_ready(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 0;
}

static void put(int m, const char *s) { CHECK(write(m, s, strlen(s)) == (ssize_t)strlen(s)); }

static void slave_line(int s, const char *what)
{
	char buf[256];
	ssize_t n = read(s, buf, sizeof buf);
	show(what, buf, n);
}

static int open_pair(int *m, char *name, size_t len)
{
	*m = posix_openpt(O_RDWR | O_NOCTTY);
	if (*m < 0 || grantpt(*m) != 0)
		return -1;
	if (ptsname_r(*m, name, len) != 0)
		return -1;
	if (unlockpt(*m) != 0)
		return -1;
	return open(name, O_RDWR | O_NOCTTY);
}

static void basics(void)
{
	int m = MUST(posix_openpt(O_RDWR | O_NOCTTY));
	MUST(grantpt(m));
	char name[64];
	CHECK(ptsname_r(m, name, sizeof name) == 0);
	printf("ptsname under /dev/pts/: %s\n", yesno(strncmp(name, "/dev/pts/", 9) == 0));
	int lock = -1;
	MUST(ioctl(m, TIOCGPTLCK, &lock));
	printf("locked at first: %d\n", lock);
	EXPECT_ERR(open(name, O_RDWR | O_NOCTTY), EIO);
	MUST(unlockpt(m));
	MUST(ioctl(m, TIOCGPTLCK, &lock));
	printf("locked after unlockpt: %d\n", lock);
	int s = MUST(open(name, O_RDWR | O_NOCTTY));
	printf("isatty master %d slave %d\n", isatty(m), isatty(s));
	char *tn = ttyname(s);
	printf("ttyname(slave) is ptsname: %s\n", yesno(tn && strcmp(tn, name) == 0));
	unsigned n1 = 0;
	MUST(ioctl(m, TIOCGPTN, &n1));
	printf("TIOCGPTN matches: %s\n", yesno(atoi(name + 9) == (int)n1));
	EXPECT_ERR(ioctl(s, TIOCGPTN, &n1), ENOTTY);
	struct stat st;
	MUST(fstat(s, &st));
	printf("slave is a char device: %s, owned by us: %s\n", yesno(S_ISCHR(st.st_mode)), yesno(st.st_uid == geteuid()));
	MUST(fstat(m, &st));
	printf("master is a char device: %s\n", yesno(S_ISCHR(st.st_mode)));

	struct termios t;
	MUST(tcgetattr(s, &t));
	printf("slave iflag %#x oflag %#x cflag %#x lflag %#x\n", (unsigned)t.c_iflag, (unsigned)t.c_oflag,
	       (unsigned)t.c_cflag, (unsigned)t.c_lflag);
	printf("cc:");
	for (int i = 0; i < 17; i++)
		printf(" %d", t.c_cc[i]);
	printf("\n");
	struct termios mt;
	MUST(tcgetattr(m, &mt));
	printf("master shows the slave's settings: %s\n", yesno(mt.c_lflag == t.c_lflag));

	/* A canonical line and its echo. */
	put(m, "hello\n");
	slave_line(s, "slave read");
	expect_master(m, "echo", 7);

	/* An incomplete line is not readable. */
	put(m, "ab");
	usleep(20000);
	int avail = -1;
	MUST(ioctl(s, FIONREAD, &avail));
	printf("incomplete line: FIONREAD %d, readable %s\n", avail, yesno(!nothing_ready(s)));
	put(m, "c\n");
	slave_line(s, "completed line");
	expect_master(m, "echo", 5);

	/* Line editing. */
	put(m, "abx\177c\025xyz foo\027bar\n");
	slave_line(s, "edited line");
	expect_master(m, "editing echo", 3 + 3 + 1 + 9 + 7 + 9 + 3 + 2);

	/* EOF: an empty read, then a line ended without a newline. */
	put(m, "\004");
	char buf[64];
	ssize_t n = read(s, buf, sizeof buf);
	printf("read at EOF: %zd\n", n);
	put(m, "ab\004");
	slave_line(s, "line ended by EOF");
	expect_master(m, "echo", 2);

	/* CR is NL on input (ICRNL); IGNCR drops it; INLCR maps NL to CR. */
	put(m, "x\r");
	slave_line(s, "ICRNL");
	expect_master(m, "echo", 3);
	t.c_iflag |= IGNCR;
	MUST(tcsetattr(s, TCSANOW, &t));
	put(m, "y\rz\n");
	slave_line(s, "IGNCR");
	expect_master(m, "echo", 4);
	t.c_iflag &= ~(IGNCR | ICRNL);
	t.c_iflag |= INLCR;
	t.c_lflag &= ~ECHO;
	MUST(tcsetattr(s, TCSANOW, &t));
	t.c_cc[VEOL] = '!';
	MUST(tcsetattr(s, TCSANOW, &t));
	put(m, "q\n\n!");
	slave_line(s, "INLCR, a line ended by VEOL");
	t.c_iflag = ICRNL | IXON;
	t.c_cc[VEOL] = 0;
	MUST(tcsetattr(s, TCSANOW, &t));

	/* ECHO off: nothing comes back; ECHONL: only the newline. */
	put(m, "secret\n");
	slave_line(s, "no echo");
	printf("master has nothing: %s\n", yesno(nothing_ready(m)));
	t.c_lflag |= ECHONL;
	MUST(tcsetattr(s, TCSANOW, &t));
	put(m, "pw\n");
	slave_line(s, "ECHONL");
	expect_master(m, "ECHONL echo", 2);
	t.c_lflag |= ECHO;
	t.c_lflag &= ~ECHONL;

	/* Non-canonical: VMIN=1 returns what has arrived. */
	t.c_lflag &= ~ICANON;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	MUST(tcsetattr(s, TCSANOW, &t));
	put(m, "xy");
	n = readn(s, buf, 2);
	show("raw read", buf, n);
	expect_master(m, "raw echo", 2);
	put(m, "\t\001");
	n = readn(s, buf, 2);
	show("raw control characters", buf, n);
	expect_master(m, "their echo", 3);
	t.c_cc[VMIN] = 0;
	MUST(tcsetattr(s, TCSANOW, &t));
	n = read(s, buf, sizeof buf);
	printf("VMIN=0 VTIME=0 with nothing queued: %zd\n", n);
	t.c_cc[VTIME] = 1;
	MUST(tcsetattr(s, TCSANOW, &t));
	n = read(s, buf, sizeof buf);
	printf("VMIN=0 VTIME=1 with nothing queued: %zd\n", n);

	/* Output: ONLCR, then raw. */
	t.c_lflag |= ICANON;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	MUST(tcsetattr(s, TCSANOW, &t));
	CHECK(write(s, "a\nb\n", 4) == 4);
	expect_master(m, "ONLCR", 6);
	t.c_oflag &= ~OPOST;
	MUST(tcsetattr(s, TCSANOW, &t));
	CHECK(write(s, "a\nb\n", 4) == 4);
	expect_master(m, "no OPOST", 4);
	t.c_oflag |= OPOST;
	MUST(tcsetattr(s, TCSANOW, &t));

	/* Window size, set on the master, seen on the slave. */
	struct winsize ws = {.ws_row = 24, .ws_col = 80}, got = {0};
	MUST(ioctl(s, TIOCGWINSZ, &got));
	printf("initial window %dx%d\n", got.ws_col, got.ws_row);
	MUST(ioctl(m, TIOCSWINSZ, &ws));
	MUST(ioctl(s, TIOCGWINSZ, &got));
	printf("window %dx%d\n", got.ws_col, got.ws_row);

	/* TCFLSH drops queued input. */
	put(m, "gone\n");
	expect_master(m, "echo", 6);
	usleep(20000);
	MUST(tcflush(s, TCIFLUSH));
	MUST(ioctl(s, FIONREAD, &avail));
	printf("after TCIFLUSH: FIONREAD %d\n", avail);

	/* TIOCGPTPEER opens the slave from the master. */
	int peer = MUST(ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY));
	tn = ttyname(peer);
	printf("TIOCGPTPEER gives the slave: %s\n", yesno(tn && strcmp(tn, name) == 0));
	CHECK(write(peer, "p\n", 2) == 2);
	expect_master(m, "written through the peer", 3);
	EXPECT_ERR(ioctl(s, TIOCGPTPEER, O_RDWR), EIO);
	close(peer);

	/* The slave closes: reads of the master fail with EIO. */
	close(s);
	EXPECT_ERR(read(m, buf, sizeof buf), EIO);
	close(m);

	/* A master whose slave was never opened just has nothing to read. */
	m = MUST(posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK));
	EXPECT_ERR(read(m, buf, sizeof buf), EAGAIN);
	close(m);
}

static volatile sig_atomic_t got_int, got_winch, got_hup;
static void on_sig(int sig)
{
	if (sig == SIGINT)
		got_int = 1;
	if (sig == SIGWINCH)
		got_winch = 1;
	if (sig == SIGHUP)
		got_hup = 1;
}

/*
 * A child in its own session takes the slave as controlling terminal;
 * ^C typed on the master interrupts it, a new window size reaches it,
 * and the master's close hangs it up.
 */
static void job_control(void)
{
	int m;
	char name[64];
	int s = open_pair(&m, name, sizeof name);
	CHECK(s >= 0);
	int ready[2], go[2];
	MUST(pipe(ready));
	MUST(pipe(go));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(m);
		close(s);
		close(ready[0]);
		close(go[1]);
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGWINCH);
		sigaddset(&block, SIGHUP);
		sigprocmask(SIG_BLOCK, &block, &old);
		struct sigaction sa = {.sa_handler = on_sig};
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGWINCH, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		if (setsid() < 0)
			_exit(10);
		int cs = open(name, O_RDWR | O_NOCTTY);
		if (cs < 0 || ioctl(cs, TIOCSCTTY, 0) != 0)
			_exit(11);
		if (tcgetpgrp(cs) != getpid())
			_exit(12);
		char c = 'R';
		if (write(ready[1], &c, 1) != 1)
			_exit(13);
		while (!got_int)
			sigsuspend(&old);
		if (write(ready[1], "I", 1) != 1)
			_exit(14);
		while (!got_winch)
			sigsuspend(&old);
		if (write(ready[1], "W", 1) != 1)
			_exit(15);
		while (!got_hup)
			sigsuspend(&old);
		char b[8];
		ssize_t n = read(cs, b, sizeof b);
		errno = 0;
		ssize_t w = write(cs, "x", 1);
		int werr = errno;
		_exit(n == 0 && w == -1 && werr == EIO ? 0 : 20);
	}
	close(ready[1]);
	close(go[0]);
	char c = 0;
	CHECK(read(ready[0], &c, 1) == 1 && c == 'R');
	pid_t pg = -1;
	MUST(ioctl(m, TIOCGPGRP, &pg));
	printf("master's foreground group is the child: %s\n", yesno(pg == pid));
	pid_t sid = -1;
	MUST(ioctl(m, TIOCGSID, &sid));
	printf("master's session is the child's: %s\n", yesno(sid == pid));
	/* Not our controlling terminal: the slave refuses these. */
	EXPECT_ERR(ioctl(s, TIOCGPGRP, &pg), ENOTTY);
	put(m, "\003");
	CHECK(read(ready[0], &c, 1) == 1 && c == 'I');
	printf("child saw SIGINT: %s\n", yesno(c == 'I'));
	expect_master(m, "^C echo", 2);
	struct winsize ws = {.ws_row = 30, .ws_col = 100};
	MUST(ioctl(m, TIOCSWINSZ, &ws));
	CHECK(read(ready[0], &c, 1) == 1 && c == 'W');
	printf("child saw SIGWINCH: %s\n", yesno(c == 'W'));
	close(s);
	close(m);
	int st;
	MUST(waitpid(pid, &st, 0));
	printf("child hung up: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st));
}

/* bg runs fn in a new background process group; returns how it ended. */
static const char *bg(int (*fn)(int), int tty)
{
	static char buf[32];
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		_exit(fn(tty));
	}
	setpgid(pid, pid);
	int st;
	if (waitpid(pid, &st, WUNTRACED) != pid)
		return "waitpid failed";
	if (WIFSTOPPED(st)) {
		snprintf(buf, sizeof buf, "stopped by %s", WSTOPSIG(st) == SIGTTIN ? "SIGTTIN" : WSTOPSIG(st) == SIGTTOU ? "SIGTTOU" : "other");
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return buf;
	}
	if (WIFEXITED(st)) {
		snprintf(buf, sizeof buf, "exit %d", WEXITSTATUS(st));
		return buf;
	}
	snprintf(buf, sizeof buf, "signal %d", WTERMSIG(st));
	return buf;
}

static int bg_read(int tty)
{
	char c;
	return read(tty, &c, 1) < 0 ? 100 + (errno == EIO) : 0;
}

static int bg_read_ignoring(int tty)
{
	signal(SIGTTIN, SIG_IGN);
	char c;
	return read(tty, &c, 1) < 0 && errno == EIO ? 0 : 1;
}

static int bg_write(int tty) { return write(tty, "w", 1) == 1 ? 0 : 1; }

static int bg_write_ignoring(int tty)
{
	signal(SIGTTOU, SIG_IGN);
	return write(tty, "w", 1) == 1 ? 0 : 1;
}

static int bg_tcsetpgrp(int tty)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTTOU);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pid_t fg = tcgetpgrp(tty);
	if (tcsetpgrp(tty, getpgrp()) != 0 || tcgetpgrp(tty) != getpgrp())
		return 1;
	/* A background process without the block is stopped. */
	return tcsetpgrp(tty, fg) == 0 ? 0 : 2;
}

static void background(void)
{
	int m;
	char name[64];
	int s = open_pair(&m, name, sizeof name);
	CHECK(s >= 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(m);
		close(s);
		if (setsid() < 0)
			_exit(10);
		int t = open(name, O_RDWR);
		if (t < 0 || tcgetpgrp(t) != getpid())
			_exit(11);
		printf("background read: %s\n", bg(bg_read, t));
		printf("background read, SIGTTIN ignored: %s\n", bg(bg_read_ignoring, t));
		printf("background write without TOSTOP: %s\n", bg(bg_write, t));
		struct termios tio;
		tcgetattr(t, &tio);
		tio.c_lflag |= TOSTOP;
		tcsetattr(t, TCSANOW, &tio);
		printf("background write with TOSTOP: %s\n", bg(bg_write, t));
		printf("background write with TOSTOP, SIGTTOU ignored: %s\n", bg(bg_write_ignoring, t));
		printf("background tcsetpgrp, SIGTTOU blocked: %s\n", bg(bg_tcsetpgrp, t));
		printf("foreground is the leader again: %s\n", yesno(tcgetpgrp(t) == getpid()));
		fflush(stdout);
		_exit(0);
	}
	int st;
	MUST(waitpid(pid, &st, 0));
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "job control child status %#x", st);
	close(s);
	close(m);
}

int main(void)
{
	/* The output must not depend on whether stdio is a terminal. */
	basics();
	job_control();
	background();
	return check_done("pty");
}
