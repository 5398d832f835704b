/*
 * pipe: pipe2 flags, EAGAIN on an empty non-blocking pipe, EOF once the
 * writers are gone, EPIPE with and without SIGPIPE, the 64 KiB default
 * capacity and F_SETPIPE_SZ, atomic writes up to PIPE_BUF (also between
 * processes), the dup family and fcntl (F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD,
 * F_SETFD, F_GETFL, F_SETFL), close_range, and close-on-exec across execve.
 *
 * Modes (argv[1]) used when the program re-executes itself:
 *   --fds-after-exec   report which of fds 50..53 survived execve
 */
#include "check.h"
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#ifndef F_GETPIPE_SZ
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static int is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static int cloexec(int fd)
{
	int f = fcntl(fd, F_GETFD);
	return f != -1 && (f & FD_CLOEXEC);
}

static volatile sig_atomic_t sigpipes;
static void on_pipe(int sig)
{
	(void)sig;
	sigpipes++;
}

static void basics(void)
{
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
	CHECK(p[0] >= 3 && p[1] == p[0] + 1); /* lowest free descriptors */
	CHECK(cloexec(p[0]) && cloexec(p[1]));
	CHECK((fcntl(p[0], F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_RDONLY | O_NONBLOCK));
	CHECK((fcntl(p[1], F_GETFL) & (O_ACCMODE | O_NONBLOCK)) == (O_WRONLY | O_NONBLOCK));
	char buf[128];
	EXPECT_ERR(read(p[0], buf, sizeof buf), EAGAIN);
	EXPECT_ERR(write(p[0], "x", 1), EBADF);
	EXPECT_ERR(read(p[1], buf, 1), EBADF);
	EXPECT_ERR(lseek(p[0], 0, SEEK_SET), ESPIPE);
	EXPECT_ERR(pread(p[0], buf, 1, 0), ESPIPE);
	CHECK(write(p[1], "hello, pipe", 11) == 11);
	CHECK(read(p[0], buf, 5) == 5 && memcmp(buf, "hello", 5) == 0);
	CHECK(read(p[0], buf, sizeof buf) == 6 && memcmp(buf, ", pipe", 6) == 0);
	CHECK(write(p[1], "tail", 4) == 4);
	close(p[1]);
	CHECK(read(p[0], buf, sizeof buf) == 4); /* data first, then EOF */
	CHECK(read(p[0], buf, sizeof buf) == 0);
	CHECK(read(p[0], buf, sizeof buf) == 0);
	close(p[0]);
	EXPECT_ERR(pipe2(p, O_APPEND), EINVAL);
	EXPECT_ERR(syscall(SYS_pipe2, (int *)8, 0), EFAULT);
	puts("pipe2: O_CLOEXEC and O_NONBLOCK set; EAGAIN when empty; data, then EOF after the writer closed");
}

static void epipe(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	close(p[0]);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_pipe;
	CHECK(sigaction(SIGPIPE, &sa, NULL) == 0);
	sigpipes = 0;
	EXPECT_ERR(write(p[1], "x", 1), EPIPE);
	CHECK(sigpipes == 1);
	signal(SIGPIPE, SIG_IGN);
	EXPECT_ERR(write(p[1], "x", 1), EPIPE);
	CHECK(sigpipes == 1);
	close(p[1]);
	puts("write without readers: EPIPE and one SIGPIPE; EPIPE alone when SIGPIPE is ignored");
}

static void capacity(void)
{
	int p[2];
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	int size = fcntl(p[0], F_GETPIPE_SZ);
	CHECK(size == 65536);
	CHECK(fcntl(p[1], F_GETPIPE_SZ) == size);
	static char buf[70000];
	memset(buf, 'a', sizeof buf);
	long total = 0;
	ssize_t n;
	while ((n = write(p[1], buf, 4096)) > 0)
		total += n;
	CHECK(n == -1 && errno == EAGAIN);
	CHECK(total == 65536);
	printf("default capacity: %d bytes, filled with %ld\n", size, total);

	/* Atomicity: with 100 bytes free, a write of PIPE_BUF bytes is all or nothing. */
	while (read(p[0], buf, sizeof buf) > 0)
		;
	total = 0;
	while (total < 65536 - 100) {
		size_t chunk = 65536 - 100 - total < 4096 ? 65536 - 100 - total : 4096;
		n = write(p[1], buf, chunk);
		CHECK(n == (ssize_t)chunk);
		if (n <= 0)
			break;
		total += n;
	}
	EXPECT_ERR(write(p[1], buf, PIPE_BUF), EAGAIN);
	CHECK(write(p[1], buf, 50) == 50); /* small writes still fit */
	CHECK(write(p[1], buf, 50) == 50);
	EXPECT_ERR(write(p[1], buf, 1), EAGAIN);
	printf("PIPE_BUF %d: a write of PIPE_BUF bytes into a pipe with 100 bytes free fails whole\n", PIPE_BUF);

	/* F_SETPIPE_SZ rounds up to a power of two number of pages; never below the contents. */
	while (read(p[0], buf, sizeof buf) > 0)
		;
	CHECK(fcntl(p[0], F_SETPIPE_SZ, 10000) == 16384);
	CHECK(fcntl(p[1], F_GETPIPE_SZ) == 16384);
	CHECK(fcntl(p[0], F_SETPIPE_SZ, 1) == 4096);
	CHECK(write(p[1], buf, 4096) == 4096);
	EXPECT_ERR(write(p[1], buf, 1), EAGAIN);
	CHECK(fcntl(p[0], F_SETPIPE_SZ, 1 << 20) == 1 << 20);
	close(p[0]);
	close(p[1]);
	int null = open("/dev/null", O_RDONLY);
	EXPECT_ERR(fcntl(null, F_GETPIPE_SZ), EBADF); /* not a pipe */
	close(null);
	puts("F_SETPIPE_SZ: 10000 -> 16384, 1 -> 4096");
}

/* Four processes write 4096-byte records into one pipe: none is torn. */
static void atomic_writers(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	pid_t pids[4];
	fflush(stdout);
	for (int w = 0; w < 4; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			char rec[PIPE_BUF];
			memset(rec, 'A' + w, sizeof rec);
			close(p[0]);
			for (int i = 0; i < 64; i++)
				if (write(p[1], rec, sizeof rec) != sizeof rec)
					_exit(1);
			_exit(0);
		}
	}
	close(p[1]);
	char rec[PIPE_BUF];
	int counts[4] = {0}, torn = 0, records = 0;
	for (;;) {
		size_t got = 0;
		while (got < sizeof rec) {
			ssize_t n = read(p[0], rec + got, sizeof rec - got);
			if (n <= 0)
				break;
			got += n;
		}
		if (got == 0)
			break;
		if (got != sizeof rec) {
			torn++;
			break;
		}
		records++;
		int c = rec[0] - 'A';
		for (size_t i = 1; i < sizeof rec; i++)
			if (rec[i] != rec[0])
				torn++;
		if (c >= 0 && c < 4)
			counts[c]++;
	}
	close(p[0]);
	for (int w = 0; w < 4; w++) {
		int st;
		CHECK(waitpid(pids[w], &st, 0) == pids[w] && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		CHECK(counts[w] == 64);
	}
	CHECK(torn == 0);
	printf("4 writers x 64 records of %d bytes: %d records, torn: %d\n", PIPE_BUF, records, torn);
}

static void dups(void)
{
	int p[2];
	CHECK(pipe(p) == 0);
	int d = dup(p[0]);
	CHECK(d == p[1] + 1);
	CHECK(!cloexec(d));
	/* dup shares the open file description: status flags, not fd flags. */
	CHECK(fcntl(p[0], F_SETFD, FD_CLOEXEC) == 0);
	CHECK(cloexec(p[0]) && !cloexec(d));
	CHECK(fcntl(d, F_SETFL, O_NONBLOCK) == 0);
	CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	char c;
	EXPECT_ERR(read(p[0], &c, 1), EAGAIN);
	CHECK(fcntl(d, F_SETFL, 0) == 0);
	CHECK(!(fcntl(p[0], F_GETFL) & O_NONBLOCK));
	/* F_SETFL cannot change the access mode. */
	CHECK(fcntl(p[1], F_SETFL, O_RDONLY) == 0);
	CHECK((fcntl(p[1], F_GETFL) & O_ACCMODE) == O_WRONLY);

	CHECK(dup2(p[0], 50) == 50);
	CHECK(!cloexec(50));
	CHECK(dup2(50, 50) == 50); /* same fd: nothing to do */
	EXPECT_ERR(dup2(77, 78), EBADF);
	EXPECT_ERR(dup2(p[0], -1), EBADF);
	EXPECT_ERR(dup2(p[0], 1 << 30), EBADF);
	CHECK(dup3(p[0], 51, O_CLOEXEC) == 51 && cloexec(51));
	EXPECT_ERR(dup3(51, 51, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_dup3, p[0], 52, O_NONBLOCK), EINVAL); /* (musl's dup3 ignores flags but O_CLOEXEC) */
	CHECK(fcntl(p[0], F_DUPFD, 50) == 52); /* lowest free >= 50 */
	CHECK(!cloexec(52));
	CHECK(fcntl(p[0], F_DUPFD_CLOEXEC, 50) == 53 && cloexec(53));
	EXPECT_ERR(fcntl(p[0], F_DUPFD, -1), EINVAL);
	EXPECT_ERR(fcntl(99, F_GETFD), EBADF);
	EXPECT_ERR(fcntl(p[0], 9999), EINVAL);
	/* dup2 over an open fd closes it first. */
	CHECK(dup2(p[1], 52) == 52);
	CHECK((fcntl(52, F_GETFL) & O_ACCMODE) == O_WRONLY);
	CHECK(write(52, "z", 1) == 1 && read(50, &c, 1) == 1 && c == 'z');
	puts("dup, dup2, dup3, F_DUPFD, F_DUPFD_CLOEXEC: lowest free fds, shared status flags, own fd flags");

	/* close_range with CLOSE_RANGE_CLOEXEC marks, without it closes. */
	CHECK(syscall(SYS_close_range, 50, 52, CLOSE_RANGE_CLOEXEC) == 0);
	CHECK(cloexec(50) && cloexec(51) && cloexec(52) && cloexec(53));
	CHECK(syscall(SYS_close_range, 50, 51, 0) == 0);
	CHECK(!is_open(50) && !is_open(51) && is_open(52) && is_open(53));
	CHECK(syscall(SYS_close_range, 52, ~0U, 0) == 0);
	CHECK(!is_open(52) && !is_open(53));
	CHECK(is_open(p[0]) && is_open(p[1]) && is_open(d));
	EXPECT_ERR(syscall(SYS_close_range, 10, 5, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_close_range, 5, 10, 0x80), EINVAL);
	close(d);
	close(p[0]);
	close(p[1]);
	puts("close_range: CLOSE_RANGE_CLOEXEC sets FD_CLOEXEC, plain closes, to ~0 closes the rest");
}

/* Close-on-exec: descriptors 50 and 52 survive execve, 51 and 53 do not. */
static void exec_fds(const char *self)
{
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(dup2(p[0], 50) == 50);
	CHECK(dup3(p[0], 51, O_CLOEXEC) == 51);
	CHECK(fcntl(p[1], F_DUPFD, 52) == 52);
	CHECK(fcntl(p[1], F_DUPFD_CLOEXEC, 53) == 53);
	CHECK(write(p[1], "from parent", 11) == 11);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = {(char *)self, "--fds-after-exec", NULL};
		char *envp[] = {NULL};
		execve(self, argv, envp);
		_exit(127);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st));
	CHECKF(WEXITSTATUS(st) == 0, "after execve: %#x", WEXITSTATUS(st));
	char buf[32] = {0};
	CHECK(read(p[0], buf, sizeof buf) == 9 && memcmp(buf, "from exec", 9) == 0);
	for (int fd = 50; fd <= 53; fd++)
		close(fd);
	close(p[0]);
	close(p[1]);
	puts("execve: FD_CLOEXEC descriptors closed, others inherited with their open file");
}

static int fds_after_exec(void)
{
	int bad = 0;
	if (!is_open(50) || is_open(51) || !is_open(52) || is_open(53))
		bad |= 1;
	char buf[32] = {0};
	if (read(50, buf, sizeof buf) != 11 || memcmp(buf, "from parent", 11) != 0)
		bad |= 2;
	if (write(52, "from exec", 9) != 9)
		bad |= 4;
	return bad;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--fds-after-exec") == 0)
		return fds_after_exec();
	basics();
	epipe();
	capacity();
	atomic_writers();
	dups();
	exec_fds(argv[0]);
	return check_done("pipe");
}
