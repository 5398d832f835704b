/*
 * fifo: named pipes made with mknod(S_IFIFO) and mkfifo in a scratch
 * directory under /tmp: opens that wait for the other end (in two
 * processes, both directions), O_NONBLOCK opens (reader succeeds, writer
 * ENXIO), O_RDWR, data and EOF, 64 KiB capacity, ESPIPE, unlink while
 * open, mknod of a regular file, EEXIST; POLLHUP on a read end once the
 * writers are gone, unless it opened O_NONBLOCK with no writer and none
 * has come since (Linux's fifo_open and pipe_poll).
 */
#include "check.h"
#include "fs.h"
#include <poll.h>

#ifndef F_GETPIPE_SZ
#define F_GETPIPE_SZ 1032
#endif

static char big[200000];

static void fill(void)
{
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)(i * 7 + 3);
}

/* writer opens path for writing (waiting for a reader) and sends the
 * greeting and big. */
static void writer(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(write(fd, "hello through the fifo\n", 23) == 23);
	size_t off = 0;
	while (off < sizeof big) {
		ssize_t n = write(fd, big + off, sizeof big - off);
		if (n <= 0) {
			check_fail(__FILE__, __LINE__, "write to fifo", errno);
			break;
		}
		off += n;
	}
	close(fd);
}

/* reader opens path for reading (waiting for a writer) and checks what
 * arrives until EOF. */
static void reader(const char *path)
{
	static char got[sizeof big + 64];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	size_t total = 0;
	for (;;) {
		ssize_t n = read(fd, got + total, sizeof got - total);
		if (n < 0) {
			check_fail(__FILE__, __LINE__, "read from fifo", errno);
			break;
		}
		if (n == 0)
			break;
		total += n;
	}
	CHECK(total == 23 + sizeof big);
	CHECK(memcmp(got, "hello through the fifo\n", 23) == 0);
	CHECK(memcmp(got + 23, big, sizeof big) == 0);
	close(fd);
}

static short revents(int fd)
{
	struct pollfd p = {fd, POLLIN};
	CHECK(poll(&p, 1, 0) >= 0);
	return p.revents;
}

/* hangups checks when a FIFO's read end reports POLLHUP. */
static void hangups(void)
{
	CHECK(mkfifo(P("hup"), 0600) == 0);
	/* A lone O_NONBLOCK reader: no hang-up before it has seen a writer. */
	int r = MUST(open(P("hup"), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	CHECK(revents(r) == 0);
	int w = MUST(open(P("hup"), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
	CHECK(revents(r) == 0);
	close(w);
	CHECK(revents(r) == POLLHUP);
	close(r);

	/* An O_NONBLOCK reader opened while a writer is there sees the hang-up
	 * when that writer goes. */
	int rw = MUST(open(P("hup"), O_RDWR | O_CLOEXEC));
	r = MUST(open(P("hup"), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	CHECK(revents(r) == 0);
	close(rw);
	CHECK(revents(r) == POLLHUP);
	close(r);

	/* A blocking reader whose writer came first (and is gone). */
	pid_t pid = fork_child();
	if (pid == 0) {
		int fd = open(P("hup"), O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "x", 1) != 1)
			_exit(1);
		close(fd);
		child_done();
	}
	usleep(50000);
	r = MUST(open(P("hup"), O_RDONLY | O_CLOEXEC));
	CHECK(wait_status(pid) == 0);
	CHECK(revents(r) == (POLLIN | POLLHUP));
	char c;
	CHECK(read(r, &c, 1) == 1 && c == 'x');
	CHECK(revents(r) == POLLHUP);
	CHECK(read(r, &c, 1) == 0);
	close(r);
	puts("POLLHUP: after a writer came and went, whichever end opened first; not for a lone O_NONBLOCK reader");
}

int main(void)
{
	make_tmp("fifo");
	fill();
	umask(022);
	CHECK(mknod(P("fifo"), S_IFIFO | 0666, 0) == 0);
	CHECK(mkfifo(P("fifo2"), 0600) == 0);
	struct stat st;
	CHECK(stat(P("fifo"), &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0644 && st.st_size == 0);
	CHECK(stat(P("fifo2"), &st) == 0 && S_ISFIFO(st.st_mode) && (st.st_mode & 0777) == 0600);
	EXPECT_ERR(mknod(P("fifo"), S_IFIFO | 0644, 0), EEXIST);
	EXPECT_ERR(mkfifo(P("fifo2"), 0644), EEXIST);
	EXPECT_ERR(mkfifo(P("nodir/f"), 0644), ENOENT);
	CHECK(mknod(P("regular"), S_IFREG | 0644, 0) == 0);
	CHECK(stat(P("regular"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
	CHECK(mknodat(AT_FDCWD, P("fifo3"), S_IFIFO | 0644, 0) == 0);
	puts("mknod S_IFIFO and mkfifo make fifos (mode & ~umask); S_IFREG a regular file; EEXIST, ENOENT");

	/* Without the other end, O_NONBLOCK opens: the reader succeeds, the
	 * writer fails; O_RDWR never waits. */
	int r = MUST(open(P("fifo"), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	char c;
	CHECK(read(r, &c, 1) == 0); /* no writer yet: EOF, not EAGAIN */
	int w = MUST(open(P("fifo"), O_WRONLY | O_NONBLOCK | O_CLOEXEC)); /* a reader exists now */
	EXPECT_ERR(read(r, &c, 1), EAGAIN); /* a writer, no data */
	CHECK(write(w, "x", 1) == 1);
	CHECK(read(r, &c, 1) == 1 && c == 'x');
	CHECK(fcntl(r, F_GETPIPE_SZ) == 65536);
	EXPECT_ERR(lseek(r, 0, SEEK_SET), ESPIPE);
	close(w);
	CHECK(read(r, &c, 1) == 0); /* no writer: EOF */
	close(r);
	EXPECT_ERR(open(P("fifo"), O_WRONLY | O_NONBLOCK), ENXIO);
	int rw = MUST(open(P("fifo"), O_RDWR | O_CLOEXEC));
	CHECK(write(rw, "loop", 4) == 4);
	char buf[8] = {0};
	CHECK(read(rw, buf, sizeof buf) == 4 && strcmp(buf, "loop") == 0);
	close(rw);
	puts("O_NONBLOCK: reader opens alone (EOF while no writer), writer ENXIO; data, then EOF; O_RDWR opens alone; capacity 65536");

	/* Two processes: the child writes, the parent reads; then reversed.
	 * Each open waits until the other side opens. */
	pid_t pid = fork_child();
	if (pid == 0) {
		writer(P("fifo"));
		child_done();
	}
	reader(P("fifo"));
	CHECK(wait_status(pid) == 0);
	pid = fork_child();
	if (pid == 0) {
		reader(P("fifo2"));
		child_done();
	}
	writer(P("fifo2"));
	CHECK(wait_status(pid) == 0);
	printf("two processes, both ways: %zu bytes each way, in order, then EOF\n", 23 + sizeof big);

	/* Unlinking the name does not affect open ends. */
	r = MUST(open(P("fifo3"), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
	w = MUST(open(P("fifo3"), O_WRONLY | O_CLOEXEC));
	CHECK(unlink(P("fifo3")) == 0);
	CHECK(write(w, "still", 5) == 5);
	memset(buf, 0, sizeof buf);
	CHECK(read(r, buf, sizeof buf) == 5 && strcmp(buf, "still") == 0);
	close(r);
	close(w);
	puts("an unlinked fifo keeps working for the open ends");

	hangups();

	cleanup_tmp();
	return check_done("fifo");
}
