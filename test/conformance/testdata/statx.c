/*
 * statx: statx against fstat/lstat for a file, a directory and a symlink in
 * a scratch directory under /tmp (basic fields, nanosecond times, device
 * numbers, AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW, sync flags), its errors; and
 * statfs/fstatfs/statvfs: the same answer by path and by descriptor, a
 * writable file system with 255-byte names, ST_VALID in f_flags, the magic
 * numbers of /proc, /sys, pipes, sockets and anonymous files, and errors.
 */
#include "check.h"
#include "fs.h"
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>

#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572
#define PIPEFS_MAGIC 0x50495045
#define SOCKFS_MAGIC 0x534F434B
#define ANON_INODE_FS_MAGIC 0x09041934
#ifndef ST_VALID
#define ST_VALID 0x0020
#endif

static int same(const struct exo_statx *x, const struct stat *st)
{
	return x->stx_ino == st->st_ino && x->stx_mode == st->st_mode && x->stx_nlink == st->st_nlink &&
	       x->stx_uid == st->st_uid && x->stx_gid == st->st_gid && x->stx_size == (uint64_t)st->st_size &&
	       x->stx_blocks == (uint64_t)st->st_blocks && x->stx_blksize == (uint32_t)st->st_blksize &&
	       makedev(x->stx_dev_major, x->stx_dev_minor) == st->st_dev &&
	       makedev(x->stx_rdev_major, x->stx_rdev_minor) == st->st_rdev &&
	       x->stx_mtime.tv_sec == st->st_mtim.tv_sec && x->stx_mtime.tv_nsec == (uint32_t)st->st_mtim.tv_nsec &&
	       x->stx_atime.tv_sec == st->st_atim.tv_sec && x->stx_atime.tv_nsec == (uint32_t)st->st_atim.tv_nsec &&
	       x->stx_ctime.tv_sec == st->st_ctim.tv_sec && x->stx_ctime.tv_nsec == (uint32_t)st->st_ctim.tv_nsec;
}

static void statx_checks(void)
{
	static char data[1234];
	memset(data, 'q', sizeof data);
	data[sizeof data - 1] = '\0';
	umask(022);
	CHECK(write_file(P("f"), data, 0640) == 0);
	struct timespec tv[2] = {{1111111111, 222222222}, {1333333333, 444444444}};
	CHECK(utimensat(AT_FDCWD, P("f"), tv, 0) == 0);
	CHECK(mkdir(P("d"), 0751) == 0);
	CHECK(symlink("f", P("s")) == 0);

	struct exo_statx x;
	struct stat st;
	memset(&x, 0xff, sizeof x);
	CHECK(sys_statx(AT_FDCWD, P("f"), 0, EXO_STATX_BASIC_STATS, &x) == 0);
	CHECK((x.stx_mask & EXO_STATX_BASIC_STATS) == EXO_STATX_BASIC_STATS);
	CHECK(stat(P("f"), &st) == 0);
	CHECK(same(&x, &st));
	CHECK(S_ISREG(x.stx_mode) && (x.stx_mode & 07777) == 0640 && x.stx_size == 1233 && x.stx_nlink == 1);
	CHECK(x.stx_mtime.tv_sec == 1333333333 && x.stx_mtime.tv_nsec == 444444444);
	CHECK(x.stx_atime.tv_sec == 1111111111 && x.stx_atime.tv_nsec == 222222222);
	CHECK(x.stx_blksize > 0);
	printf("statx file: mode %06o size %llu nlink %u mtime %lld.%09u, matches stat: %s\n", x.stx_mode,
	       (unsigned long long)x.stx_size, x.stx_nlink, (long long)x.stx_mtime.tv_sec, x.stx_mtime.tv_nsec,
	       yesno(same(&x, &st)));

	CHECK(sys_statx(AT_FDCWD, P("d"), 0, EXO_STATX_BASIC_STATS, &x) == 0);
	CHECK(stat(P("d"), &st) == 0 && same(&x, &st));
	CHECK(S_ISDIR(x.stx_mode) && (x.stx_mode & 07777) == 0751 && x.stx_nlink == 2);
	printf("statx dir: mode %06o nlink %u\n", x.stx_mode, x.stx_nlink);

	CHECK(sys_statx(AT_FDCWD, P("s"), AT_SYMLINK_NOFOLLOW, EXO_STATX_BASIC_STATS, &x) == 0);
	CHECK(lstat(P("s"), &st) == 0 && same(&x, &st));
	CHECK(S_ISLNK(x.stx_mode) && x.stx_size == 1);
	CHECK(sys_statx(AT_FDCWD, P("s"), 0, EXO_STATX_BASIC_STATS, &x) == 0);
	CHECK(S_ISREG(x.stx_mode) && x.stx_size == 1233);
	printf("statx symlink: AT_SYMLINK_NOFOLLOW mode %06o size %llu; followed: the file\n", S_IFLNK | 0777, 1ULL);

	int fd = MUST(open(P("f"), O_RDONLY | O_CLOEXEC));
	CHECK(sys_statx(fd, "", AT_EMPTY_PATH, EXO_STATX_BASIC_STATS, &x) == 0);
	CHECK(fstat(fd, &st) == 0 && same(&x, &st));
	int dfd = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(sys_statx(dfd, "f", EXO_AT_STATX_DONT_SYNC, EXO_STATX_SIZE, &x) == 0 && x.stx_size == 1233);
	CHECK(sys_statx(dfd, "f", EXO_AT_STATX_FORCE_SYNC, EXO_STATX_SIZE | EXO_STATX_MODE, &x) == 0);
	CHECK((x.stx_mask & (EXO_STATX_SIZE | EXO_STATX_MODE)) == (EXO_STATX_SIZE | EXO_STATX_MODE));
	puts("statx: AT_EMPTY_PATH on an fd, relative to a dir fd, DONT_SYNC and FORCE_SYNC");

	EXPECT_ERR(sys_statx(AT_FDCWD, P("nothing"), 0, EXO_STATX_BASIC_STATS, &x), ENOENT);
	EXPECT_ERR(sys_statx(AT_FDCWD, P("f/x"), 0, EXO_STATX_BASIC_STATS, &x), ENOTDIR);
	EXPECT_ERR(sys_statx(fd, "", 0, EXO_STATX_BASIC_STATS, &x), ENOENT);
	EXPECT_ERR(sys_statx(999, "f", 0, EXO_STATX_BASIC_STATS, &x), EBADF);
	EXPECT_ERR(sys_statx(AT_FDCWD, P("f"), 0x1, EXO_STATX_BASIC_STATS, &x), EINVAL);
	EXPECT_ERR(sys_statx(AT_FDCWD, P("f"), EXO_AT_STATX_FORCE_SYNC | EXO_AT_STATX_DONT_SYNC,
			     EXO_STATX_BASIC_STATS, &x), EINVAL);
	EXPECT_ERR(sys_statx(AT_FDCWD, P("f"), 0, EXO_STATX__RESERVED, &x), EINVAL);
	EXPECT_ERR(sys_statx(AT_FDCWD, P("f"), 0, EXO_STATX_BASIC_STATS, (void *)8), EFAULT);
	puts("statx errors: ENOENT, ENOTDIR, ENOENT for \"\" without AT_EMPTY_PATH, EBADF, EINVAL, EFAULT");
	close(fd);
	close(dfd);
}

static void statfs_checks(void)
{
	struct statfs a, b;
	CHECK(statfs(tmp_root, &a) == 0);
	int fd = MUST(open(P("f"), O_RDONLY | O_CLOEXEC));
	CHECK(fstatfs(fd, &b) == 0);
	close(fd);
	CHECK(a.f_type == b.f_type && a.f_bsize == b.f_bsize && a.f_namelen == b.f_namelen &&
	      a.f_blocks == b.f_blocks && memcmp(&a.f_fsid, &b.f_fsid, sizeof a.f_fsid) == 0);
	CHECK(a.f_namelen == 255);
	CHECK(a.f_bsize > 0 && a.f_blocks > 0 && a.f_bfree <= a.f_blocks && a.f_bavail <= a.f_bfree);
	CHECK((a.f_flags & ST_RDONLY) == 0);
	printf("statfs(scratch) = fstatfs(file): namelen %ld, writable\n", (long)a.f_namelen);

	struct statvfs v;
	CHECK(statvfs(tmp_root, &v) == 0);
	CHECK(v.f_namemax == 255 && (v.f_flag & ST_RDONLY) == 0 && v.f_blocks == (fsblkcnt_t)a.f_blocks);
	puts("statvfs agrees");

	struct statfs p;
	CHECK(statfs("/proc", &p) == 0 && p.f_type == PROC_SUPER_MAGIC);
	CHECK(statfs("/proc/self", &p) == 0 && p.f_type == PROC_SUPER_MAGIC);
	printf("statfs(/proc): f_type 0x%lx\n", (unsigned long)p.f_type);
	CHECK(statfs("/sys", &p) == 0 && p.f_type == SYSFS_MAGIC);

	/* f_flags always carry ST_VALID (glibc's statvfs reads /proc/mounts
	 * without it); the pseudo file systems of pipes, sockets and anonymous
	 * files have their own magic numbers. */
	CHECK((a.f_flags & ST_VALID) != 0 && (b.f_flags & ST_VALID) != 0);
	CHECK(statfs("/proc", &p) == 0 && (p.f_flags & ST_VALID) != 0);
	int pp[2];
	CHECK(pipe(pp) == 0);
	CHECK(fstatfs(pp[0], &p) == 0 && p.f_type == PIPEFS_MAGIC && p.f_flags == ST_VALID);
	close(pp[0]);
	close(pp[1]);
	int s = MUST(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	CHECK(fstatfs(s, &p) == 0 && p.f_type == SOCKFS_MAGIC && p.f_flags == ST_VALID);
	close(s);
	s = MUST(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	CHECK(fstatfs(s, &p) == 0 && p.f_type == SOCKFS_MAGIC);
	close(s);
	int e = MUST(eventfd(0, EFD_CLOEXEC));
	CHECK(fstatfs(e, &p) == 0 && p.f_type == ANON_INODE_FS_MAGIC && p.f_flags == ST_VALID);
	close(e);
	puts("statfs: ST_VALID; sysfs, pipefs, sockfs and anon_inodefs magic numbers");

	EXPECT_ERR(statfs(P("nothing"), &p), ENOENT);
	EXPECT_ERR(statfs(P("f/x"), &p), ENOTDIR);
	EXPECT_ERR(fstatfs(999, &p), EBADF);
	EXPECT_ERR(syscall(SYS_statfs, tmp_root, (void *)8), EFAULT); /* (musl copies through its own buffer) */
	puts("statfs errors: ENOENT, ENOTDIR, EBADF, EFAULT");
}

int main(void)
{
	make_tmp("statx");
	statx_checks();
	statfs_checks();
	cleanup_tmp();
	return check_done("statx");
}
