/*
 * fileio: open/read/lseek/fstat/close over the read-only rootfs, descriptor
 * numbering, and the error cases of each.
 */
#include "check.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>

static char whole[1 << 20];
static char pieces[1 << 20];

int main(void)
{
	int fd = MUST(open("/etc/passwd", O_RDONLY | O_CLOEXEC));
	if (fd < 0)
		return check_done("fileio");
	CHECK(fd >= 3);

	struct stat st;
	CHECK(fstat(fd, &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK(st.st_size > 0 && st.st_size < (off_t)sizeof whole);
	CHECK(st.st_nlink >= 1);
	CHECK(st.st_blksize > 0);
	printf("/etc/passwd: mode %04o uid %u gid %u size %lld\n", (unsigned)(st.st_mode & 07777),
	       (unsigned)st.st_uid, (unsigned)st.st_gid, (long long)st.st_size);
	struct stat st2;
	CHECK(syscall(SYS_fstat, fd, &st2) == 0);
	CHECK(st2.st_size == st.st_size && st2.st_ino == st.st_ino && st2.st_mode == st.st_mode);

	/* One big read, then EOF. */
	ssize_t n = read(fd, whole, sizeof whole);
	CHECK(n == st.st_size);
	CHECK(read(fd, whole + n, 10) == 0);
	CHECK(strncmp(whole, "root:", 5) == 0);
	int lines = 0;
	for (ssize_t i = 0; i < n; i++)
		lines += whole[i] == '\n';
	printf("/etc/passwd: %d lines, starts with root: %s\n", lines, yesno(strncmp(whole, "root:", 5) == 0));

	/* lseek: position, end, rewind, then small reads give the same bytes. */
	CHECK(lseek(fd, 0, SEEK_CUR) == st.st_size);
	CHECK(lseek(fd, 0, SEEK_END) == st.st_size);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	ssize_t total = 0;
	for (;;) {
		ssize_t m = read(fd, pieces + total, 7);
		CHECK(m >= 0 && m <= 7);
		if (m <= 0)
			break;
		total += m;
	}
	CHECK(total == n && memcmp(whole, pieces, n) == 0);
	CHECK(lseek(fd, 5, SEEK_SET) == 5);
	char four[4];
	CHECK(read(fd, four, 4) == 4 && memcmp(four, whole + 5, 4) == 0);
	CHECK(lseek(fd, -4, SEEK_CUR) == 5);
	CHECK(lseek(fd, -1, SEEK_END) == st.st_size - 1);
	CHECK(read(fd, four, 4) == 1 && four[0] == whole[n - 1]);
	/* Seeking past the end is allowed; reading there gives EOF. */
	CHECK(lseek(fd, st.st_size + 100, SEEK_SET) == st.st_size + 100);
	CHECK(read(fd, four, 4) == 0);
	EXPECT_ERR(lseek(fd, -1, SEEK_SET), EINVAL);
	EXPECT_ERR(lseek(fd, 0, 99), EINVAL);
	/* Writing to a read-only descriptor. */
	EXPECT_ERR(write(fd, "x", 1), EBADF);
	puts("read/lseek: ok");

	/* readv gathers into several buffers. */
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	char a[3], b[5];
	struct iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
	CHECK(readv(fd, iov, 2) == 8);
	CHECK(memcmp(a, whole, 3) == 0 && memcmp(b, whole + 3, 5) == 0);

	/* Descriptors are allocated lowest first. */
	int fd2 = MUST(open("/etc/passwd", O_RDONLY));
	int fd3 = MUST(open("/etc/passwd", O_RDONLY));
	CHECK(fd2 == fd + 1 && fd3 == fd + 2);
	CHECK(close(fd2) == 0);
	int fd4 = MUST(open("/etc/passwd", O_RDONLY));
	CHECK(fd4 == fd2);
	/* A fresh descriptor has its own offset. */
	char c;
	CHECK(read(fd4, &c, 1) == 1 && c == 'r');
	CHECK(close(fd4) == 0 && close(fd3) == 0 && close(fd) == 0);
	EXPECT_ERR(close(fd), EBADF);
	EXPECT_ERR(read(fd, &c, 1), EBADF);
	EXPECT_ERR(fstat(fd, &st), EBADF);
	EXPECT_ERR(lseek(fd, 0, SEEK_SET), EBADF);
	EXPECT_ERR(read(-1, &c, 1), EBADF);
	EXPECT_ERR(close(-1), EBADF);
	EXPECT_ERR(close(100000), EBADF);
	puts("descriptors: ok");

	/* stdout is the harness's pipe: not seekable. */
	if (fstat(1, &st) == 0 && S_ISFIFO(st.st_mode))
		EXPECT_ERR(lseek(1, 0, SEEK_CUR), ESPIPE);

	/* openat relative to a directory descriptor. */
	int dfd = MUST(open("/etc", O_RDONLY | O_DIRECTORY));
	int pfd = MUST(openat(dfd, "passwd", O_RDONLY));
	CHECK(pfd >= 0 && read(pfd, four, 4) == 4 && memcmp(four, "root", 4) == 0);
	close(pfd);
	pfd = MUST(openat(dfd, "/etc/passwd", O_RDONLY)); /* absolute ignores dirfd */
	close(pfd);
	pfd = MUST(openat(dfd, "../etc/./passwd", O_RDONLY));
	close(pfd);
	EXPECT_ERR(read(dfd, four, 4), EISDIR);
	int ffd = MUST(open("/etc/passwd", O_RDONLY));
	EXPECT_ERR(openat(ffd, "x", O_RDONLY), ENOTDIR);
	close(ffd);
	EXPECT_ERR(openat(12345, "passwd", O_RDONLY), EBADF);
	close(dfd);
	puts("openat: ok");

	/* Lookup errors. */
	EXPECT_ERR(openat(AT_FDCWD, "/nonexistent-exo-conformance", O_RDONLY), ENOENT);
	EXPECT_ERR(open("/nonexistent-exo-conformance/x", O_RDONLY), ENOENT);
	EXPECT_ERR(open("/etc/passwd/x", O_RDONLY), ENOTDIR);
	EXPECT_ERR(open("/etc/passwd/", O_RDONLY), ENOTDIR);
	EXPECT_ERR(open("/etc/passwd", O_RDONLY | O_DIRECTORY), ENOTDIR);
	EXPECT_ERR(open("", O_RDONLY), ENOENT);
	char longname[NAME_MAX + 10];
	memset(longname, 'n', sizeof longname - 1);
	longname[0] = '/';
	longname[sizeof longname - 1] = '\0';
	EXPECT_ERR(open(longname, O_RDONLY), ENAMETOOLONG);
	puts("lookup errors: ENOENT/ENOTDIR/ENAMETOOLONG");

	return check_done("fileio");
}
