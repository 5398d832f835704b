/*
 * fileattrs: as root, in a scratch directory under /tmp: chmod/fchmod/
 * fchmodat, chown/fchown/lchown/fchownat (and the set-id bits chown
 * clears), utimensat/futimens (nanoseconds, UTIME_NOW, UTIME_OMIT,
 * AT_SYMLINK_NOFOLLOW), truncate/ftruncate, fallocate (plain, KEEP_SIZE,
 * PUNCH_HOLE), fsync/fdatasync/syncfs, access/faccessat/faccessat2 and
 * umask, with the errors of each.
 */
#include "check.h"
#include "fs.h"
#include <sys/time.h>
#include <time.h>

static unsigned mode_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? st.st_mode & 07777 : 0xffffffff;
}

static void modes(void)
{
	umask(0);
	CHECK(write_file(P("f"), "hello\n", 0644) == 0);
	CHECK(mode_of(P("f")) == 0644);
	CHECK(chmod(P("f"), 04755) == 0);
	CHECK(mode_of(P("f")) == 04755);
	int fd = MUST(open(P("f"), O_RDONLY | O_CLOEXEC));
	CHECK(fchmod(fd, 0600) == 0);
	CHECK(mode_of(P("f")) == 0600);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && (st.st_mode & 07777) == 0600 && S_ISREG(st.st_mode));
	int dfd = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(fchmodat(dfd, "f", 0640, 0) == 0);
	CHECK(mode_of(P("f")) == 0640);
	CHECK(chmod(P("f"), 0177777) == 0); /* only the low 12 bits count */
	CHECK(mode_of(P("f")) == 07777);
	/* Through a symlink: the target changes, the link keeps 0777. */
	CHECK(symlink("f", P("s")) == 0);
	CHECK(chmod(P("s"), 0444) == 0);
	CHECK(mode_of(P("f")) == 0444 && mode_of(P("s")) == 0777);
	CHECK(chmod(P("f"), 0644) == 0);
	EXPECT_ERR(chmod(P("nothing"), 0644), ENOENT);
	EXPECT_ERR(chmod(P("f/x"), 0644), ENOTDIR);
	EXPECT_ERR(fchmod(999, 0644), EBADF);
	EXPECT_ERR(fchmodat(999, "f", 0644, 0), EBADF);
	close(fd);
	close(dfd);
	puts("chmod/fchmod/fchmodat: modes set exactly (set-id and sticky too), symlinks followed; ENOENT, ENOTDIR, EBADF");

	CHECK(umask(027) == 0);
	CHECK(write_file(P("masked"), "m\n", 0666) == 0);
	CHECK(mode_of(P("masked")) == 0640);
	CHECK(mkdir(P("maskdir"), 0777) == 0);
	CHECK(mode_of(P("maskdir")) == 0750);
	CHECK(umask(022) == 027);
	/* fchmod is not subject to umask. */
	CHECK(chmod(P("masked"), 0666) == 0 && mode_of(P("masked")) == 0666);
	puts("umask 027: files 0640, directories 0750; chmod ignores it");
}

static void owners(void)
{
	struct stat st;
	CHECK(write_file(P("owned"), "o\n", 0644) == 0);
	CHECK(chown(P("owned"), 1234, 5678) == 0);
	CHECK(stat(P("owned"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 5678);
	CHECK(chown(P("owned"), -1, 42) == 0);
	CHECK(stat(P("owned"), &st) == 0 && st.st_uid == 1234 && st.st_gid == 42);
	CHECK(chown(P("owned"), 7, -1) == 0);
	CHECK(stat(P("owned"), &st) == 0 && st.st_uid == 7 && st.st_gid == 42);
	int fd = MUST(open(P("owned"), O_RDONLY | O_CLOEXEC));
	CHECK(fchown(fd, 0, 0) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_uid == 0 && st.st_gid == 0);
	close(fd);
	puts("chown as root: any owner and group, -1 keeps one; fchown");

	CHECK(symlink("owned", P("olink")) == 0);
	CHECK(lchown(P("olink"), 11, 12) == 0);
	CHECK(lstat(P("olink"), &st) == 0 && st.st_uid == 11 && st.st_gid == 12);
	CHECK(stat(P("olink"), &st) == 0 && st.st_uid == 0 && st.st_gid == 0);
	int dfd = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(fchownat(dfd, "olink", 13, 14, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(lstat(P("olink"), &st) == 0 && st.st_uid == 13 && st.st_gid == 14);
	CHECK(fchownat(dfd, "olink", 15, 16, 0) == 0);
	CHECK(stat(P("owned"), &st) == 0 && st.st_uid == 15 && st.st_gid == 16);
	EXPECT_ERR(fchownat(dfd, "olink", 1, 1, 0x1), EINVAL);
	close(dfd);
	puts("lchown and fchownat(AT_SYMLINK_NOFOLLOW) change the link; without it, the target");

	/* chown clears set-user-ID, and set-group-ID with group execute. */
	CHECK(chmod(P("owned"), 06755) == 0);
	CHECK(chown(P("owned"), 1, 1) == 0);
	CHECK(mode_of(P("owned")) == 0755);
	CHECK(chmod(P("owned"), 02745) == 0); /* setgid without group execute: mandatory-locking mark, kept */
	CHECK(chown(P("owned"), 2, 2) == 0);
	CHECK(mode_of(P("owned")) == 02745);
	EXPECT_ERR(chown(P("nothing"), 0, 0), ENOENT);
	EXPECT_ERR(fchown(999, 0, 0), EBADF);
	printf("chown of 06755 leaves %04o; of 02745 leaves %04o\n", 0755, mode_of(P("owned")));
}

static int ts_eq(struct timespec a, long sec, long nsec)
{
	return a.tv_sec == sec && a.tv_nsec == nsec;
}

static double now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double secs(struct timespec ts)
{
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void timestamps(void)
{
	struct stat st;
	CHECK(write_file(P("t"), "t\n", 0644) == 0);
	struct timespec tv[2] = {{1000000000, 123456789}, {1500000000, 987654321}};
	CHECK(utimensat(AT_FDCWD, P("t"), tv, 0) == 0);
	CHECK(stat(P("t"), &st) == 0);
	CHECK(ts_eq(st.st_atim, 1000000000, 123456789));
	CHECK(ts_eq(st.st_mtim, 1500000000, 987654321));
	printf("utimensat: atime %lld.%09ld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
	       (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);

	struct timespec omit_a[2] = {{0, UTIME_OMIT}, {1600000000, 5}};
	CHECK(utimensat(AT_FDCWD, P("t"), omit_a, 0) == 0);
	CHECK(stat(P("t"), &st) == 0);
	CHECK(ts_eq(st.st_atim, 1000000000, 123456789) && ts_eq(st.st_mtim, 1600000000, 5));
	struct timespec both_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
	CHECK(utimensat(AT_FDCWD, P("t"), both_omit, 0) == 0);
	CHECK(stat(P("t"), &st) == 0 && ts_eq(st.st_mtim, 1600000000, 5));
	puts("UTIME_OMIT keeps a time");

	double before = now_real();
	struct timespec now_m[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
	CHECK(utimensat(AT_FDCWD, P("t"), now_m, 0) == 0);
	double after = now_real();
	CHECK(stat(P("t"), &st) == 0);
	CHECK(ts_eq(st.st_atim, 1000000000, 123456789));
	CHECKF(secs(st.st_mtim) >= before - 1 && secs(st.st_mtim) <= after + 1, "mtime %f not in [%f, %f]",
	       secs(st.st_mtim), before, after);
	CHECK(utimensat(AT_FDCWD, P("t"), NULL, 0) == 0);
	CHECK(stat(P("t"), &st) == 0);
	CHECK(secs(st.st_atim) >= before - 1 && secs(st.st_atim) <= now_real() + 1);
	puts("UTIME_NOW and NULL set the current time");

	int fd = MUST(open(P("t"), O_RDONLY | O_CLOEXEC));
	struct timespec f[2] = {{2000000000, 1}, {2000000001, 2}};
	CHECK(futimens(fd, f) == 0);
	CHECK(fstat(fd, &st) == 0 && ts_eq(st.st_atim, 2000000000, 1) && ts_eq(st.st_mtim, 2000000001, 2));
	close(fd);
	struct timeval old[2] = {{300000000, 250000}, {400000000, 500000}};
	CHECK(utimes(P("t"), old) == 0);
	CHECK(stat(P("t"), &st) == 0 && ts_eq(st.st_atim, 300000000, 250000000) &&
	      ts_eq(st.st_mtim, 400000000, 500000000));
	puts("futimens, utimes (microseconds)");

	/* AT_SYMLINK_NOFOLLOW sets the link's own times. */
	CHECK(symlink("t", P("tl")) == 0);
	struct timespec l[2] = {{100, 0}, {200, 0}};
	CHECK(utimensat(AT_FDCWD, P("tl"), l, AT_SYMLINK_NOFOLLOW) == 0);
	CHECK(lstat(P("tl"), &st) == 0 && st.st_mtim.tv_sec == 200);
	CHECK(stat(P("tl"), &st) == 0 && ts_eq(st.st_mtim, 400000000, 500000000));

	struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
	EXPECT_ERR(utimensat(AT_FDCWD, P("t"), bad, 0), EINVAL);
	EXPECT_ERR(utimensat(AT_FDCWD, P("nothing"), NULL, 0), ENOENT);
	EXPECT_ERR(utimensat(AT_FDCWD, P("t"), NULL, 0x1), EINVAL);
	EXPECT_ERR(futimens(999, NULL), EBADF);
	puts("utimensat AT_SYMLINK_NOFOLLOW on a link; EINVAL for nanoseconds >= 1e9 and bad flags, ENOENT, EBADF");

	/* Writing updates mtime and ctime. */
	struct timespec past[2] = {{1000, 0}, {1000, 0}};
	CHECK(utimensat(AT_FDCWD, P("t"), past, 0) == 0);
	fd = MUST(open(P("t"), O_WRONLY | O_APPEND | O_CLOEXEC));
	CHECK(write(fd, "x", 1) == 1);
	CHECK(fstat(fd, &st) == 0 && st.st_mtim.tv_sec > 1000);
	close(fd);
	puts("write updates mtime");
}

static int all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static void truncation(void)
{
	static char buf[16384];
	struct stat st;
	CHECK(write_file(P("tr"), "hello world", 0644) == 0);
	CHECK(truncate(P("tr"), 5) == 0);
	CHECK(file_is(P("tr"), "hello"));
	CHECK(truncate(P("tr"), 8192) == 0);
	CHECK(stat(P("tr"), &st) == 0 && st.st_size == 8192);
	CHECK(read_file(P("tr"), buf, sizeof buf) == 8192);
	CHECK(memcmp(buf, "hello", 5) == 0 && all_zero(buf + 5, 8192 - 5));
	int fd = MUST(open(P("tr"), O_RDWR | O_CLOEXEC));
	CHECK(ftruncate(fd, 3) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 3);
	/* The offset stays past the end: a write there leaves a zero hole. */
	CHECK(lseek(fd, 10, SEEK_SET) == 10);
	CHECK(write(fd, "Z", 1) == 1);
	CHECK(pread(fd, buf, sizeof buf, 0) == 11);
	CHECK(memcmp(buf, "hel", 3) == 0 && all_zero(buf + 3, 7) && buf[10] == 'Z');
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 0);
	close(fd);
	puts("truncate/ftruncate: shrink, grow with zeros; a write past the end leaves a hole of zeros");

	CHECK(mkdir(P("tdir"), 0755) == 0);
	EXPECT_ERR(truncate(P("tdir"), 0), EISDIR);
	EXPECT_ERR(truncate(P("nothing"), 0), ENOENT);
	EXPECT_ERR(truncate(P("tr"), -1), EINVAL);
	fd = MUST(open(P("tr"), O_RDONLY | O_CLOEXEC));
	EXPECT_ERR(ftruncate(fd, 0), EINVAL);
	close(fd);
	EXPECT_ERR(ftruncate(999, 0), EBADF);
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_ERR(ftruncate(p[1], 0), EINVAL);
	close(p[0]);
	close(p[1]);
	puts("truncate errors: EISDIR, ENOENT, EINVAL (negative, read-only fd, pipe), EBADF");
}

static void allocation(void)
{
	static char buf[65536];
	struct stat st;
	int fd = MUST(open(P("fa"), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	CHECK(fallocate(fd, 0, 0, 65536) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 65536);
	CHECKF(st.st_blocks >= 128, "st_blocks %lld after allocating 64 KiB", (long long)st.st_blocks);
	CHECK(pread(fd, buf, sizeof buf, 0) == 65536 && all_zero(buf, 65536));
	CHECK(fallocate(fd, FALLOC_FL_KEEP_SIZE, 65536, 65536) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 65536);
	CHECK(fallocate(fd, 0, 100000, 10) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 100010);
	puts("fallocate: allocates and extends (zeros); KEEP_SIZE keeps the size");

	memset(buf, 'a', sizeof buf);
	CHECK(pwrite(fd, buf, 65536, 0) == 65536);
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 100010);
	CHECK(pread(fd, buf, 65536, 0) == 65536);
	CHECK(buf[4095] == 'a' && all_zero(buf + 4096, 8192) && buf[4096 + 8192] == 'a');
	EXPECT_ERR(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP);
	EXPECT_ERR(fallocate(fd, 0, 0, 0), EINVAL);
	EXPECT_ERR(fallocate(fd, 0, -1, 10), EINVAL);
	close(fd);
	fd = MUST(open(P("fa"), O_RDONLY | O_CLOEXEC));
	EXPECT_ERR(fallocate(fd, 0, 0, 4096), EBADF);
	close(fd);
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_ERR(fallocate(p[1], 0, 0, 4096), ESPIPE);
	close(p[0]);
	close(p[1]);
	puts("fallocate PUNCH_HOLE|KEEP_SIZE zeroes the range; EOPNOTSUPP without KEEP_SIZE, EINVAL, EBADF, ESPIPE");
}

static void syncing(void)
{
	int fd = MUST(open(P("sync"), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
	CHECK(write(fd, "durable\n", 8) == 8);
	CHECK(fsync(fd) == 0);
	CHECK(fdatasync(fd) == 0);
	CHECK(syncfs(fd) == 0);
	close(fd);
	fd = MUST(open(P("sync"), O_RDONLY | O_CLOEXEC));
	CHECK(fsync(fd) == 0); /* read-only descriptors too */
	close(fd);
	int dfd = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(fsync(dfd) == 0);
	CHECK(fdatasync(dfd) == 0);
	close(dfd);
	sync();
	EXPECT_ERR(fsync(999), EBADF);
	EXPECT_ERR(fdatasync(999), EBADF);
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_ERR(fsync(p[0]), EINVAL);
	EXPECT_ERR(fdatasync(p[1]), EINVAL);
	close(p[0]);
	close(p[1]);
	puts("fsync/fdatasync/syncfs on files (read-only too) and directories; EBADF, EINVAL on a pipe");
}

static void accesses(void)
{
	CHECK(write_file(P("none"), "n\n", 0000) == 0);
	CHECK(chmod(P("none"), 0000) == 0);
	/* Root reads and writes anything, executes only with some x bit. */
	CHECK(access(P("none"), R_OK | W_OK) == 0);
	EXPECT_ERR(access(P("none"), X_OK), EACCES);
	CHECK(chmod(P("none"), 0001) == 0);
	CHECK(access(P("none"), X_OK) == 0);
	CHECK(access(tmp_root, X_OK) == 0);
	EXPECT_ERR(access(P("nothing"), F_OK), ENOENT);
	EXPECT_ERR(access(P("none/x"), F_OK), ENOTDIR);
	EXPECT_ERR(access(P("none"), 0x10), EINVAL);
	puts("access as root: R_OK|W_OK always, X_OK only with an x bit; ENOENT, ENOTDIR, EINVAL");

	int dfd = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(symlink("nowhere", P("dangle")) == 0);
	CHECK(faccessat(dfd, "none", R_OK, 0) == 0);
	CHECK(sys_faccessat2(dfd, "none", X_OK, AT_EACCESS) == 0);
	CHECK(sys_faccessat2(dfd, "dangle", F_OK, AT_SYMLINK_NOFOLLOW) == 0);
	EXPECT_ERR(sys_faccessat2(dfd, "dangle", F_OK, 0), ENOENT);
	EXPECT_ERR(sys_faccessat2(dfd, "none", F_OK, 0x1), EINVAL);
	EXPECT_ERR(sys_faccessat2(999, "none", F_OK, 0), EBADF);
	int ffd = MUST(open(P("none"), O_PATH | O_CLOEXEC));
	CHECK(sys_faccessat2(ffd, "", R_OK, AT_EMPTY_PATH) == 0);
	close(ffd);
	close(dfd);
	puts("faccessat/faccessat2: AT_EACCESS, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH; ENOENT, EINVAL, EBADF");
}

int main(void)
{
	make_tmp("fileattrs");
	modes();
	owners();
	timestamps();
	truncation();
	allocation();
	syncing();
	accesses();
	cleanup_tmp();
	return check_done("fileattrs");
}
