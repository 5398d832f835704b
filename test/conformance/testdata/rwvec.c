/*
 * rwvec: positioned and vectored I/O and in-kernel copies on files in a
 * scratch directory under /tmp: pread/pwrite (the offset stays), readv/
 * writev, preadv/pwritev, preadv2/pwritev2 (offset -1, RWF_APPEND,
 * RWF_DSYNC/RWF_SYNC, unknown flags), sendfile (file to file and to a
 * pipe, with and without an offset), copy_file_range, splice between files
 * and pipes, tee between pipes, and the errors (EINVAL, ESPIPE, EBADF,
 * EOPNOTSUPP, EAGAIN).
 */
#include "check.h"
#include "fs.h"
#include <sys/sendfile.h>

#ifndef SPLICE_F_NONBLOCK
#define SPLICE_F_NONBLOCK 2
#endif

static char pattern[100000];
static char buf[200000];

static void positioned(void)
{
	int fd = MUST(open(P("f"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	CHECK(pwrite(fd, "hello", 5, 100) == 5);
	CHECK(lseek(fd, 0, SEEK_CUR) == 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size == 105);
	memset(buf, 'X', 200);
	CHECK(pread(fd, buf, 200, 98) == 7);
	CHECK(buf[0] == 0 && buf[1] == 0 && memcmp(buf + 2, "hello", 5) == 0);
	CHECK(pread(fd, buf, 10, 105) == 0);
	CHECK(pread(fd, buf, 10, 1000) == 0);
	CHECK(lseek(fd, 0, SEEK_CUR) == 0);
	EXPECT_ERR(pwrite(fd, "x", 1, -1), EINVAL);
	EXPECT_ERR(pread(fd, buf, 1, -1), EINVAL);
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_ERR(pread(p[0], buf, 1, 0), ESPIPE);
	EXPECT_ERR(pwrite(p[1], "x", 1, 0), ESPIPE);
	close(p[0]);
	close(p[1]);
	close(fd);
	puts("pread/pwrite: at the offset, file position unchanged, zeros before, 0 at EOF; EINVAL, ESPIPE");
}

static void vectored(void)
{
	int fd = MUST(open(P("v"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	struct iovec w[4] = {{"abc", 3}, {NULL, 0}, {"defgh", 5}, {"ij", 2}};
	CHECK(writev(fd, w, 4) == 10);
	CHECK(lseek(fd, 0, SEEK_CUR) == 10);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	char a[4] = {0}, b[16] = {0};
	struct iovec r[2] = {{a, 3}, {b, sizeof b}};
	CHECK(readv(fd, r, 2) == 10);
	CHECK(memcmp(a, "abc", 3) == 0 && memcmp(b, "defghij", 7) == 0);
	CHECK(readv(fd, r, 2) == 0);
	CHECK(writev(fd, w, 0) == 0);
	EXPECT_ERR(syscall(SYS_writev, fd, w, -1), EINVAL);
	EXPECT_ERR(syscall(SYS_writev, fd, w, 1025), EINVAL); /* past IOV_MAX */
	puts("readv/writev: scatter and gather in order, zero-length pieces, 0 at EOF; EINVAL for a bad count");

	struct iovec w2[2] = {{"XY", 2}, {"Z", 1}};
	CHECK(pwritev(fd, w2, 2, 4) == 3);
	CHECK(lseek(fd, 0, SEEK_CUR) == 10);
	memset(b, 0, sizeof b);
	struct iovec r2[1] = {{b, 5}};
	CHECK(preadv(fd, r2, 1, 2) == 5 && memcmp(b, "cdXYZ", 5) == 0);
	CHECK(lseek(fd, 0, SEEK_CUR) == 10);
	puts("preadv/pwritev: at the offset, position unchanged");

	/* preadv2/pwritev2: offset -1 uses and moves the file position. */
	CHECK(lseek(fd, 1, SEEK_SET) == 1);
	memset(b, 0, sizeof b);
	struct iovec r3[1] = {{b, 3}};
	CHECK(sys_preadv2(fd, r3, 1, -1, 0) == 3 && memcmp(b, "bcd", 3) == 0);
	CHECK(lseek(fd, 0, SEEK_CUR) == 4);
	CHECK(sys_preadv2(fd, r3, 1, 0, 0) == 3 && memcmp(b, "abc", 3) == 0);
	CHECK(lseek(fd, 0, SEEK_CUR) == 4);
	struct iovec w3[1] = {{"!!", 2}};
	CHECK(sys_pwritev2(fd, w3, 1, -1, 0) == 2);
	CHECK(lseek(fd, 0, SEEK_CUR) == 6);
	CHECK(sys_pwritev2(fd, w3, 1, 0, RWF_APPEND) == 2); /* at the end, not at 0 */
	struct iovec w4[1] = {{"s", 1}};
	CHECK(sys_pwritev2(fd, w4, 1, 0, RWF_DSYNC) == 1);
	CHECK(sys_pwritev2(fd, w4, 1, 1, RWF_SYNC) == 1);
	memset(b, 0, sizeof b);
	CHECK(pread(fd, b, sizeof b, 0) == 12);
	CHECK(memcmp(b, "sscd!!Zhij!!", 12) == 0);
	printf("preadv2/pwritev2: offset -1 uses the position, RWF_APPEND appends: \"%.12s\"\n", b);
	EXPECT_ERR(sys_pwritev2(fd, w4, 1, 0, 1 << 20), EOPNOTSUPP);
	EXPECT_ERR(sys_preadv2(fd, r3, 1, 0, 1 << 20), EOPNOTSUPP);
	EXPECT_ERR(sys_preadv2(fd, r3, 1, -2, 0), EINVAL);
	close(fd);
	EXPECT_ERR(sys_preadv2(fd, r3, 1, 0, 0), EBADF);
	puts("preadv2/pwritev2 errors: EOPNOTSUPP for unknown flags, EINVAL for offset -2, EBADF");
}

static int matches(const char *got, size_t off, size_t n)
{
	return memcmp(got, pattern + off, n) == 0;
}

static void copies(void)
{
	for (size_t i = 0; i < sizeof pattern; i++)
		pattern[i] = (char)('a' + i % 23);
	int src = MUST(open(P("src"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	CHECK(write(src, pattern, sizeof pattern) == (ssize_t)sizeof pattern);
	int dst = MUST(open(P("dst"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));

	/* sendfile with an offset: the source position stays. */
	CHECK(lseek(src, 7, SEEK_SET) == 7);
	off_t off = 1000;
	long total = 0;
	while (total < 50000) {
		ssize_t n = sendfile(dst, src, &off, 50000 - total);
		if (n <= 0)
			break;
		total += n;
	}
	CHECK(total == 50000 && off == 51000);
	CHECK(lseek(src, 0, SEEK_CUR) == 7);
	CHECK(lseek(dst, 0, SEEK_CUR) == 50000);
	CHECK(pread(dst, buf, sizeof buf, 0) == 50000 && matches(buf, 1000, 50000));
	/* Without an offset: from and past the source position; short at EOF. */
	CHECK(lseek(src, 99990, SEEK_SET) == 99990);
	CHECK(sendfile(dst, src, NULL, 100) == 10);
	CHECK(lseek(src, 0, SEEK_CUR) == 100000);
	CHECK(sendfile(dst, src, NULL, 100) == 0);
	puts("sendfile file to file: offset given (position kept) or not (position moves), short at EOF");

	int p[2];
	CHECK(pipe(p) == 0);
	off = 5;
	CHECK(sendfile(p[1], src, &off, 1000) == 1000 && off == 1005);
	CHECK(read(p[0], buf, sizeof buf) == 1000 && matches(buf, 5, 1000));
	EXPECT_ERR(sendfile(dst, p[0], NULL, 10), EINVAL);
	EXPECT_ERR(sendfile(dst, 999, NULL, 10), EBADF);
	int ro = MUST(open(P("dst"), O_RDONLY | O_CLOEXEC));
	EXPECT_ERR(sendfile(ro, src, NULL, 10), EBADF);
	close(ro);
	puts("sendfile to a pipe; EINVAL from a pipe, EBADF");

	/* copy_file_range */
	int cdst = MUST(open(P("cdst"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	off_t in = 100, out = 10;
	total = 0;
	while (total < 60000) {
		ssize_t n = copy_file_range(src, &in, cdst, &out, 60000 - total, 0);
		if (n <= 0)
			break;
		total += n;
	}
	CHECK(total == 60000 && in == 60100 && out == 60010);
	CHECK(pread(cdst, buf, sizeof buf, 0) == 60010);
	CHECK(buf[0] == 0 && buf[9] == 0 && matches(buf + 10, 100, 60000));
	in = 99999;
	out = 0;
	CHECK(copy_file_range(src, &in, cdst, &out, 100, 0) == 1);
	in = 100000;
	CHECK(copy_file_range(src, &in, cdst, &out, 100, 0) == 0);
	/* Without offsets, the positions move. */
	CHECK(lseek(src, 0, SEEK_SET) == 0 && lseek(cdst, 0, SEEK_SET) == 0);
	CHECK(copy_file_range(src, NULL, cdst, NULL, 10, 0) == 10);
	CHECK(lseek(src, 0, SEEK_CUR) == 10 && lseek(cdst, 0, SEEK_CUR) == 10);
	in = 0;
	out = 5;
	EXPECT_ERR(copy_file_range(src, &in, src, &out, 100, 0), EINVAL); /* overlapping */
	EXPECT_ERR(copy_file_range(src, NULL, cdst, NULL, 10, 1), EINVAL);
	EXPECT_ERR(copy_file_range(p[0], NULL, cdst, NULL, 10, 0), EINVAL);
	int app = MUST(open(P("cdst"), O_WRONLY | O_APPEND | O_CLOEXEC));
	EXPECT_ERR(copy_file_range(src, NULL, app, NULL, 10, 0), EBADF);
	close(app);
	int wo = MUST(open(P("src"), O_WRONLY | O_CLOEXEC));
	EXPECT_ERR(copy_file_range(wo, NULL, cdst, NULL, 10, 0), EBADF);
	close(wo);
	close(cdst);
	puts("copy_file_range: with offsets, short at EOF, positions move without; EINVAL (overlap, flags, pipe), EBADF (O_APPEND, write-only source)");

	/* splice: file -> pipe -> file. */
	off_t fin = 2000;
	CHECK(splice(src, &fin, p[1], NULL, 4096, 0) == 4096);
	CHECK(fin == 6096 && lseek(src, 0, SEEK_CUR) == 10);
	off_t fout = 0;
	int sdst = MUST(open(P("sdst"), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
	CHECK(splice(p[0], NULL, sdst, &fout, 4096, 0) == 4096 && fout == 4096);
	CHECK(pread(sdst, buf, sizeof buf, 0) == 4096 && matches(buf, 2000, 4096));
	CHECK(lseek(src, 0, SEEK_SET) == 0);
	CHECK(splice(src, NULL, p[1], NULL, 100, 0) == 100);
	CHECK(lseek(src, 0, SEEK_CUR) == 100);
	CHECK(splice(p[0], NULL, sdst, NULL, 100, 0) == 100);
	CHECK(lseek(sdst, 0, SEEK_CUR) == 100);
	EXPECT_ERR(splice(src, NULL, sdst, NULL, 10, 0), EINVAL);
	EXPECT_ERR(splice(p[0], &fin, sdst, NULL, 10, 0), ESPIPE);
	EXPECT_ERR(splice(p[0], NULL, sdst, NULL, 10, SPLICE_F_NONBLOCK), EAGAIN);
	close(sdst);
	puts("splice: file to pipe and pipe to file, with and without offsets; EINVAL without a pipe, ESPIPE, EAGAIN");

	/* tee duplicates without consuming. */
	int q[2];
	CHECK(pipe(q) == 0);
	CHECK(write(p[1], "tee data", 8) == 8);
	CHECK(tee(p[0], q[1], 100, 0) == 8);
	memset(buf, 0, 16);
	CHECK(read(q[0], buf, 16) == 8 && memcmp(buf, "tee data", 8) == 0);
	memset(buf, 0, 16);
	CHECK(read(p[0], buf, 16) == 8 && memcmp(buf, "tee data", 8) == 0);
	EXPECT_ERR(tee(p[0], p[1], 10, 0), EINVAL);
	EXPECT_ERR(tee(src, q[1], 10, 0), EINVAL);
	EXPECT_ERR(tee(p[0], q[1], 10, SPLICE_F_NONBLOCK), EAGAIN);
	close(p[1]);
	CHECK(tee(p[0], q[1], 10, 0) == 0); /* no writers, empty: 0 */
	CHECK(splice(p[0], NULL, q[1], NULL, 10, 0) == 0);
	puts("tee: both pipes read the same bytes; EINVAL for the same pipe or a file, EAGAIN; 0 at EOF");
	close(p[0]);
	close(q[0]);
	close(q[1]);
	close(src);
	close(dst);
}

int main(void)
{
	make_tmp("rwvec");
	positioned();
	vectored();
	copies();
	cleanup_tmp();
	return check_done("rwvec");
}
