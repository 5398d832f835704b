/*
 * inotify: a watch on a directory in a scratch directory under /tmp sees
 * IN_CREATE, IN_MODIFY, IN_CLOSE_WRITE, IN_ATTRIB, IN_MOVED_FROM/IN_MOVED_TO
 * (one cookie), IN_DELETE and IN_ISDIR for subdirectories, in order; a
 * watch on a file sees IN_MODIFY without a name; IN_IGNORED after
 * inotify_rm_watch; EAGAIN when empty with IN_NONBLOCK; FIONREAD; and the
 * errors (ENOENT, ENOTDIR for IN_ONLYDIR, EINVAL, EBADF).
 */
#include "check.h"
#include "fs.h"
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>

static const char *mask_name(uint32_t m)
{
	static char out[128];
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"},
		{IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
		{IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"},
		{IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
		{IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"}, {IN_Q_OVERFLOW, "Q_OVERFLOW"},
	};
	out[0] = '\0';
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (m & names[i].bit) {
			if (out[0])
				strcat(out, "|");
			strcat(out, names[i].name);
		}
	}
	return out;
}

static char evbuf[65536] __attribute__((aligned(8)));
static uint32_t moved_cookie[2];

static char lines[64][320];

static int cmp_lines(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* drain reads every queued event and prints them, in order or sorted (the
 * order between two watches that see one change is not defined); returns
 * the count. */
static int drain(int fd, int dir_wd, int file_wd, int sorted)
{
	int count = 0;
	struct pollfd pfd = {fd, POLLIN, 0};
	while (poll(&pfd, 1, 0) == 1) {
		ssize_t n = read(fd, evbuf, sizeof evbuf);
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			struct inotify_event *e = (struct inotify_event *)(evbuf + off);
			const char *wd = e->wd == dir_wd ? "dir" : e->wd == file_wd ? "file" : "?";
			if (count < 64)
				snprintf(lines[count], sizeof lines[0], "  %-4s %-16s %s", wd, mask_name(e->mask),
					 e->len ? e->name : "(no name)");
			if (e->mask & IN_MOVED_FROM)
				moved_cookie[0] = e->cookie;
			if (e->mask & IN_MOVED_TO)
				moved_cookie[1] = e->cookie;
			off += sizeof *e + e->len;
			count++;
		}
	}
	int shown = count < 64 ? count : 64;
	if (sorted)
		qsort(lines, shown, sizeof lines[0], cmp_lines);
	for (int i = 0; i < shown; i++)
		puts(lines[i]);
	return count;
}

int main(void)
{
	make_tmp("inotify");
	CHECK(mkdir(P("w"), 0755) == 0);
	CHECK(write_file(P("w/existing"), "old\n", 0644) == 0);
	int fd = MUST(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	char c;
	EXPECT_ERR(read(fd, &c, 1), EAGAIN);
	uint32_t mask = IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB;
	int wd = MUST(inotify_add_watch(fd, P("w"), mask));
	CHECK(wd >= 1);
	CHECK(inotify_add_watch(fd, P("w"), mask) == wd); /* the same watch */
	EXPECT_ERR(read(fd, &c, 1), EAGAIN);

	int f = MUST(open(P("w/a"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	CHECK(write(f, "x", 1) == 1);
	close(f);
	CHECK(mkdir(P("w/sub"), 0755) == 0);
	CHECK(rename(P("w/a"), P("w/b")) == 0);
	CHECK(chmod(P("w/b"), 0600) == 0);
	CHECK(unlink(P("w/b")) == 0);
	CHECK(rmdir(P("w/sub")) == 0);
	int queued = 0;
	CHECK(ioctl(fd, FIONREAD, &queued) == 0 && queued > 0);
	puts("create, write, close, mkdir, rename, chmod, unlink, rmdir in the watched directory:");
	int n = drain(fd, wd, -1, 0);
	CHECK(n == 9);
	CHECK(moved_cookie[0] != 0 && moved_cookie[0] == moved_cookie[1]);
	printf("%d events; MOVED_FROM and MOVED_TO share a nonzero cookie: %s\n", n,
	       yesno(moved_cookie[0] != 0 && moved_cookie[0] == moved_cookie[1]));

	/* A watch on a file: events carry no name. */
	int fwd = MUST(inotify_add_watch(fd, P("w/existing"), IN_MODIFY | IN_ATTRIB));
	CHECK(fwd != wd);
	f = MUST(open(P("w/existing"), O_WRONLY | O_APPEND | O_CLOEXEC));
	CHECK(write(f, "new\n", 4) == 4);
	close(f);
	puts("append to a file watched itself and through its directory (sorted):");
	n = drain(fd, wd, fwd, 1);
	CHECK(n == 3);

	CHECK(inotify_rm_watch(fd, fwd) == 0);
	puts("inotify_rm_watch on the file watch:");
	n = drain(fd, wd, fwd, 0);
	CHECK(n == 1);
	EXPECT_ERR(inotify_rm_watch(fd, fwd), EINVAL);

	EXPECT_ERR(inotify_add_watch(fd, P("nothing"), IN_MODIFY), ENOENT);
	EXPECT_ERR(inotify_add_watch(fd, P("w/existing"), IN_MODIFY | IN_ONLYDIR), ENOTDIR);
	EXPECT_ERR(inotify_add_watch(fd, P("w"), 0), EINVAL);
	EXPECT_ERR(inotify_add_watch(999, P("w"), IN_MODIFY), EBADF);
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_ERR(inotify_add_watch(p[0], P("w"), IN_MODIFY), EINVAL);
	close(p[0]);
	close(p[1]);
	EXPECT_ERR(inotify_init1(0x1), EINVAL);
	/* A read buffer too small for the next event. */
	f = MUST(open(P("w/late"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	close(f);
	char small[8];
	EXPECT_ERR(read(fd, small, sizeof small), EINVAL);
	puts("errors: ENOENT, ENOTDIR for IN_ONLYDIR, EINVAL (mask 0, not inotify, bad flags, small buffer), EBADF");
	close(fd);

	cleanup_tmp();
	return check_done("inotify");
}
