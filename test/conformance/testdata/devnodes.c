/*
 * devnodes: the device nodes of /dev and /dev/pts (types, device numbers,
 * the modes Linux gives the terminal nodes), and /dev/tty: ENXIO for a
 * process without a controlling terminal (a fresh session), the terminal
 * itself once the session leader has opened a pty slave, and the
 * controlling terminal's number in /proc/self/stat's tty_nr.
 */
#include "check.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

static void node(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		printf("%s: %s\n", path, errname(errno));
		return;
	}
	const char *type = S_ISCHR(st.st_mode) ? "chr" : S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "lnk" : "other";
	if (S_ISCHR(st.st_mode))
		printf("%s: %s %u:%u mode %o\n", path, type, major(st.st_rdev), minor(st.st_rdev), (unsigned)(st.st_mode & 07777));
	else
		printf("%s: %s\n", path, type);
}

/* tty_nr is field 7 of /proc/self/stat. */
static long tty_nr(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	int ppid, pgrp, sid, tty;
	char state;
	if (sscanf(p + 2, "%c %d %d %d %d", &state, &ppid, &pgrp, &sid, &tty) != 5)
		return -1;
	return tty;
}

/* In a new session: no controlling terminal until a slave is opened. */
static int child(void)
{
	if (setsid() < 0)
		return 10;
	errno = 0;
	int fd = open("/dev/tty", O_RDWR);
	printf("open /dev/tty without a controlling terminal: %s\n", fd < 0 ? errname(errno) : "opened");
	printf("tty_nr without a terminal: %ld\n", tty_nr());
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) || unlockpt(m))
		return 11;
	const char *name = ptsname(m);
	if (!name)
		return 12;
	/* A master never becomes the controlling terminal. */
	errno = 0;
	fd = open("/dev/tty", O_RDWR);
	printf("after opening a master: %s\n", fd < 0 ? errname(errno) : "opened");
	int s = open(name, O_RDWR);
	if (s < 0)
		return 13;
	struct stat sst;
	fstat(s, &sst);
	fd = open("/dev/tty", O_RDWR);
	printf("after opening the slave: %s\n", fd < 0 ? errname(errno) : "opened");
	if (fd >= 0) {
		struct stat st;
		fstat(fd, &st);
		printf("/dev/tty fd: rdev %u:%u, isatty %s\n", major(st.st_rdev), minor(st.st_rdev), yesno(isatty(fd)));
		/* Writing through /dev/tty reaches the master. */
		CHECK(write(fd, "via-tty", 7) == 7);
		char buf[32];
		ssize_t n = read(m, buf, sizeof buf);
		printf("master read %zd: %.*s\n", n, (int)(n > 0 ? n : 0), buf);
	}
	unsigned enc = (minor(sst.st_rdev) & 0xff) | (major(sst.st_rdev) << 8) | ((minor(sst.st_rdev) & ~0xffu) << 12);
	printf("tty_nr is the slave: %s\n", yesno(tty_nr() == (long)enc));
	printf("tcgetsid is us: %s\n", yesno(tcgetsid(s) == getpid()));
	/* TIOCNOTTY by the session leader gives the terminal up. */
	signal(SIGHUP, SIG_IGN);
	CHECK(ioctl(s, TIOCNOTTY) == 0);
	errno = 0;
	fd = open("/dev/tty", O_RDWR);
	printf("after TIOCNOTTY: %s\n", fd < 0 ? errname(errno) : "opened");
	/* TIOCSCTTY takes it back. */
	CHECK(ioctl(s, TIOCSCTTY, 0) == 0);
	fd = open("/dev/tty", O_RDWR);
	printf("after TIOCSCTTY: %s\n", fd < 0 ? errname(errno) : "opened");
	fflush(stdout);
	return check_failures ? 1 : 0;
}

int main(void)
{
	node("/dev/null");
	node("/dev/zero");
	node("/dev/full");
	node("/dev/random");
	node("/dev/urandom");
	node("/dev/tty");
	node("/dev/ptmx");
	node("/dev/pts");
	node("/dev/pts/ptmx");
	node("/dev/shm");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(child());
	int ws;
	MUST(waitpid(pid, &ws, 0));
	CHECKF(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "child status %#x", ws);
	return check_done("devnodes");
}
