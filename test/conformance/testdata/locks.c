/*
 * locks: flock and fcntl record locks (F_SETLK/F_SETLKW/F_GETLK and the
 * open-file-description F_OFD_* locks) between a parent and a child that
 * take turns, in lock step over two pipes, on a file in a scratch directory
 * under /tmp: conflicts (EWOULDBLOCK/EAGAIN), shared locks, up- and
 * downgrades, waits that end when the holder releases, F_GETLK reporting
 * the holder's range and pid (-1 for OFD locks), splitting a range, the
 * POSIX rule that closing any descriptor drops a process's locks, OFD locks
 * surviving that and being shared with a forked child, and the errors.
 */
#include "check.h"
#include "fs.h"
#include <sys/file.h>
#include <time.h>

#ifndef F_OFD_GETLK
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#endif

static int up[2], down[2]; /* child -> parent, parent -> child */
static int in_child;

static void tell(char c)
{
	if (write(in_child ? up[1] : down[1], &c, 1) != 1)
		check_fail(__FILE__, __LINE__, "tell", errno);
}

static void hear(char want)
{
	char c = 0;
	if (read(in_child ? down[0] : up[0], &c, 1) != 1 || c != want) {
		fprintf(stderr, "FAIL %s: expected step %c, got %c\n", in_child ? "child" : "parent", want, c);
		check_failures++;
		if (in_child)
			child_done();
		exit(1);
	}
}

static void nap(void)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	nanosleep(&ts, NULL);
}

static int lk(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	return fcntl(fd, cmd, &fl);
}

/* probe asks F_GETLK (or F_OFD_GETLK) about a write lock on [start,
 * start+len) and returns the answer. */
static struct flock probe(int fd, int cmd, off_t start, off_t len)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = start;
	fl.l_len = len;
	if (fcntl(fd, cmd, &fl) != 0)
		check_fail(__FILE__, __LINE__, "F_GETLK", errno);
	return fl;
}

static const char *tname(short t)
{
	return t == F_UNLCK ? "F_UNLCK" : t == F_RDLCK ? "F_RDLCK" : t == F_WRLCK ? "F_WRLCK" : "?";
}

static void child(pid_t parent)
{
	in_child = 1;
	close(up[0]);
	close(down[1]);
	int fd = open(P("file"), O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0);

	/* flock */
	hear('1');
	EXPECT_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	EXPECT_ERR(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	tell('a');
	hear('2');
	CHECK(flock(fd, LOCK_SH | LOCK_NB) == 0);
	CHECK(flock(fd, LOCK_UN) == 0);
	EXPECT_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK);
	tell('b');
	hear('3');
	CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0);
	tell('c');
	hear('4');
	nap(); /* the parent is waiting for the lock by now, or soon */
	CHECK(write_file(P("released"), "flock\n", 0644) == 0);
	CHECK(flock(fd, LOCK_UN) == 0);
	hear('5');
	EXPECT_ERR(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK); /* held through a dup */
	tell('d');
	hear('6');
	CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0); /* the last descriptor closed */
	CHECK(flock(fd, LOCK_UN) == 0);
	tell('e');

	/* fcntl record locks: the parent holds a write lock on [0,100). */
	hear('7');
	struct flock fl = probe(fd, F_GETLK, 50, 10);
	CHECK(fl.l_type == F_WRLCK && fl.l_whence == SEEK_SET && fl.l_start == 0 && fl.l_len == 100);
	CHECK(fl.l_pid == parent);
	EXPECT_ERR(lk(fd, F_SETLK, F_WRLCK, 50, 10), EAGAIN);
	EXPECT_ERR(lk(fd, F_SETLK, F_RDLCK, 0, 1), EAGAIN);
	CHECK(lk(fd, F_SETLK, F_WRLCK, 100, 100) == 0);
	tell('f');
	hear('8');
	/* The parent unlocked [20,30): its lock is now [0,20) and [30,100). */
	fl = probe(fd, F_GETLK, 20, 10);
	CHECK(fl.l_type == F_UNLCK);
	fl = probe(fd, F_GETLK, 10, 15);
	CHECK(fl.l_type == F_WRLCK && fl.l_start == 0 && fl.l_len == 20);
	fl = probe(fd, F_GETLK, 25, 10);
	CHECK(fl.l_type == F_WRLCK && fl.l_start == 30 && fl.l_len == 70);
	CHECK(lk(fd, F_SETLK, F_WRLCK, 20, 10) == 0);
	CHECK(lk(fd, F_SETLK, F_UNLCK, 20, 10) == 0);
	/* The parent holds a read lock on [300,400): share it, not write. */
	CHECK(lk(fd, F_SETLK, F_RDLCK, 300, 100) == 0);
	EXPECT_ERR(lk(fd, F_SETLK, F_WRLCK, 350, 1), EAGAIN);
	CHECK(lk(fd, F_SETLK, F_UNLCK, 300, 100) == 0);
	tell('g');
	/* Wait for [0,10) with F_SETLKW: the parent releases it later. */
	CHECK(lk(fd, F_SETLKW, F_WRLCK, 0, 10) == 0);
	CHECK(exists(P("released-posix")));
	CHECK(lk(fd, F_SETLK, F_UNLCK, 0, 10) == 0);
	tell('h');
	hear('9');
	/* The parent closed another descriptor of the file: all its locks went. */
	fl = probe(fd, F_GETLK, 0, 1000);
	CHECK(fl.l_type == F_UNLCK);
	CHECK(lk(fd, F_SETLK, F_UNLCK, 0, 0) == 0);
	tell('i');

	/* OFD locks: the parent holds [0,10) through one description. */
	hear('A');
	fl = probe(fd, F_OFD_GETLK, 0, 10);
	CHECK(fl.l_type == F_WRLCK && fl.l_pid == -1);
	fl = probe(fd, F_GETLK, 0, 10);
	CHECK(fl.l_type == F_WRLCK && fl.l_pid == -1);
	EXPECT_ERR(lk(fd, F_OFD_SETLK, F_RDLCK, 5, 1), EAGAIN);
	EXPECT_ERR(lk(fd, F_SETLK, F_RDLCK, 5, 1), EAGAIN);
	tell('j');
	close(fd);
	child_done();
}

int main(void)
{
	make_tmp("locks");
	CHECK(write_file(P("file"), "0123456789", 0644) == 0);
	CHECK(pipe(up) == 0 && pipe(down) == 0);
	pid_t me = getpid();
	pid_t pid = fork_child();
	if (pid == 0)
		child(me);
	close(up[1]); /* so that a child that died is an EOF, not a hang */
	close(down[0]);

	int fd = MUST(open(P("file"), O_RDWR | O_CLOEXEC));
	/* flock */
	CHECK(flock(fd, LOCK_EX) == 0);
	CHECK(flock(fd, LOCK_EX) == 0); /* again: no change */
	tell('1');
	hear('a');
	puts("flock: LOCK_EX held; the child gets EWOULDBLOCK for LOCK_EX|LOCK_NB and LOCK_SH|LOCK_NB");
	CHECK(flock(fd, LOCK_SH) == 0); /* downgrade */
	tell('2');
	hear('b');
	puts("flock: downgraded to LOCK_SH; the child can share it but not take it exclusively");
	CHECK(flock(fd, LOCK_UN) == 0);
	tell('3');
	hear('c');
	EXPECT_ERR(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK);
	tell('4');
	CHECK(flock(fd, LOCK_EX) == 0); /* waits for the child */
	CHECK(exists(P("released")));
	puts("flock: LOCK_EX waits until the child unlocks");
	int d = MUST(dup(fd));
	close(fd);
	tell('5');
	hear('d');
	close(d);
	tell('6');
	hear('e');
	puts("flock: the lock belongs to the open file description: held through a dup, gone with the last close");
	EXPECT_ERR(flock(999, LOCK_EX), EBADF);
	fd = MUST(open(P("file"), O_RDWR | O_CLOEXEC));
	EXPECT_ERR(flock(fd, 0), EINVAL);

	/* fcntl record locks */
	CHECK(lk(fd, F_SETLK, F_WRLCK, 0, 100) == 0);
	tell('7');
	hear('f');
	puts("child: F_GETLK [50,60) shows the parent's F_WRLCK [0,+100) and pid; F_SETLK there: EAGAIN");
	struct flock fl = probe(fd, F_GETLK, 0, 10);
	CHECK(fl.l_type == F_UNLCK); /* one's own locks never conflict */
	fl = probe(fd, F_GETLK, 150, 10);
	CHECK(fl.l_type == F_WRLCK && fl.l_start == 100 && fl.l_len == 100 && fl.l_pid == pid);
	printf("parent F_GETLK [150,160): %s [%lld,+%lld) held by the child: %s\n", tname(fl.l_type),
	       (long long)fl.l_start, (long long)fl.l_len, yesno(fl.l_pid == pid));
	EXPECT_ERR(lk(fd, F_SETLK, F_WRLCK, 199, 1), EAGAIN);
	CHECK(lk(fd, F_SETLK, F_UNLCK, 20, 10) == 0);
	CHECK(lk(fd, F_SETLK, F_RDLCK, 300, 100) == 0);
	tell('8');
	hear('g');
	nap();
	CHECK(write_file(P("released-posix"), "posix\n", 0644) == 0);
	CHECK(lk(fd, F_SETLK, F_UNLCK, 0, 20) == 0);
	hear('h');
	puts("child: unlocking [20,30) split the parent's range; read locks shared, no write lock over them");
	puts("F_SETLKW: the child waits until the parent unlocks");
	CHECK(lk(fd, F_SETLK, F_WRLCK, 500, 10) == 0);
	int other = MUST(open(P("file"), O_RDONLY | O_CLOEXEC));
	close(other);
	tell('9');
	hear('i');
	puts("closing another descriptor of the file dropped all of the parent's POSIX locks");
	int rd = MUST(open(P("file"), O_RDONLY | O_CLOEXEC));
	EXPECT_ERR(lk(rd, F_SETLK, F_WRLCK, 0, 1), EBADF);
	close(rd);
	EXPECT_ERR(lk(fd, F_SETLK, 42, 0, 1), EINVAL);
	EXPECT_ERR(lk(999, F_SETLK, F_WRLCK, 0, 1), EBADF);
	puts("fcntl lock errors: EBADF for a write lock on a read-only fd, EINVAL for a bad type");

	/* OFD locks */
	int a = MUST(open(P("file"), O_RDWR | O_CLOEXEC));
	int b = MUST(open(P("file"), O_RDWR | O_CLOEXEC));
	CHECK(lk(a, F_OFD_SETLK, F_WRLCK, 0, 10) == 0);
	EXPECT_ERR(lk(b, F_OFD_SETLK, F_WRLCK, 5, 1), EAGAIN);
	EXPECT_ERR(lk(b, F_SETLK, F_WRLCK, 5, 1), EAGAIN);
	fl = probe(b, F_OFD_GETLK, 0, 10);
	CHECK(fl.l_type == F_WRLCK && fl.l_pid == -1 && fl.l_start == 0 && fl.l_len == 10);
	struct flock bad;
	memset(&bad, 0, sizeof bad);
	bad.l_type = F_RDLCK;
	bad.l_pid = 1;
	EXPECT_ERR(fcntl(b, F_OFD_SETLK, &bad), EINVAL);
	close(b); /* does not drop a's OFD lock */
	puts("OFD locks: a second description of the same file conflicts, even in one process; l_pid -1");
	tell('A');
	hear('j');
	puts("child: the parent's OFD lock shows with l_pid -1 and conflicts with its OFD and POSIX locks");
	CHECK(wait_status(pid) == 0);

	/* A forked child shares the description, so the lock is its own. */
	pid_t k = fork_child();
	if (k == 0) {
		CHECK(lk(a, F_OFD_SETLK, F_WRLCK, 0, 10) == 0);
		int own = open(P("file"), O_RDWR | O_CLOEXEC);
		EXPECT_ERR(lk(own, F_OFD_SETLK, F_WRLCK, 0, 1), EAGAIN);
		child_done();
	}
	CHECK(wait_status(k) == 0);
	puts("OFD locks: a forked child that inherited the description holds the same lock");
	CHECK(lk(a, F_OFD_SETLK, F_UNLCK, 0, 10) == 0);
	close(a);
	close(fd);

	cleanup_tmp();
	return check_done("locks");
}
