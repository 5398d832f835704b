/*
 * fs.h: helpers for the file-system conformance programs, after check.h.
 *
 * Every program works in a fresh directory it makes under /tmp with
 * make_tmp() (the sandbox's /tmp is its own overlay or tmpfs, natively the
 * host's), names its files there with P(), never writes anywhere else, and
 * removes the directory with cleanup_tmp() before check_done(). Paths and
 * inode numbers are never printed: only facts that hold on every file system
 * that supports the call (ext4, tmpfs, the sandbox's overlay).
 *
 * Raw syscall wrappers and constants stand in for what musl 1.2.3 or older
 * glibc headers lack (statx, renameat2, openat2, faccessat2, preadv2).
 */
#ifndef EXO_FS_H
#define EXO_FS_H

#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#ifndef SYS_renameat2
#define SYS_renameat2 316
#endif
#ifndef SYS_statx
#define SYS_statx 332
#endif
#ifndef SYS_preadv2
#define SYS_preadv2 327
#define SYS_pwritev2 328
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef SYS_mlock2
#define SYS_mlock2 325
#endif

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
#ifndef O_PATH
#define O_PATH 010000000
#endif
#ifndef O_TMPFILE
#define O_TMPFILE (020000000 | O_DIRECTORY)
#endif
#ifndef RWF_HIPRI
#define RWF_HIPRI 0x1
#define RWF_DSYNC 0x2
#define RWF_SYNC 0x4
#define RWF_NOWAIT 0x8
#endif
#ifndef RWF_APPEND
#define RWF_APPEND 0x10
#endif

/* openat2 (linux/openat2.h). */
struct exo_open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#define EXO_RESOLVE_NO_XDEV 0x01
#define EXO_RESOLVE_NO_MAGICLINKS 0x02
#define EXO_RESOLVE_NO_SYMLINKS 0x04
#define EXO_RESOLVE_BENEATH 0x08
#define EXO_RESOLVE_IN_ROOT 0x10

static inline long sys_openat2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve)
{
	struct exo_open_how how = {flags, mode, resolve};
	return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/* statx (linux/stat.h), named so as not to clash with glibc's. */
struct exo_statx_timestamp {
	int64_t tv_sec;
	uint32_t tv_nsec;
	int32_t reserved;
};
struct exo_statx {
	uint32_t stx_mask;
	uint32_t stx_blksize;
	uint64_t stx_attributes;
	uint32_t stx_nlink;
	uint32_t stx_uid;
	uint32_t stx_gid;
	uint16_t stx_mode;
	uint16_t spare0;
	uint64_t stx_ino;
	uint64_t stx_size;
	uint64_t stx_blocks;
	uint64_t stx_attributes_mask;
	struct exo_statx_timestamp stx_atime, stx_btime, stx_ctime, stx_mtime;
	uint32_t stx_rdev_major, stx_rdev_minor;
	uint32_t stx_dev_major, stx_dev_minor;
	uint64_t stx_mnt_id;
	uint32_t stx_dio_mem_align, stx_dio_offset_align;
	uint64_t spare3[12];
};
#define EXO_STATX_TYPE 0x1U
#define EXO_STATX_MODE 0x2U
#define EXO_STATX_NLINK 0x4U
#define EXO_STATX_UID 0x8U
#define EXO_STATX_GID 0x10U
#define EXO_STATX_ATIME 0x20U
#define EXO_STATX_MTIME 0x40U
#define EXO_STATX_CTIME 0x80U
#define EXO_STATX_INO 0x100U
#define EXO_STATX_SIZE 0x200U
#define EXO_STATX_BLOCKS 0x400U
#define EXO_STATX_BASIC_STATS 0x7ffU
#define EXO_STATX__RESERVED 0x80000000U
#define EXO_AT_STATX_FORCE_SYNC 0x2000
#define EXO_AT_STATX_DONT_SYNC 0x4000

static inline long sys_statx(int dirfd, const char *path, int flags, unsigned mask, struct exo_statx *stx)
{
	return syscall(SYS_statx, dirfd, path, flags, mask, stx);
}

static inline long sys_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned flags)
{
	return syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

static inline long sys_faccessat2(int dirfd, const char *path, int mode, int flags)
{
	return syscall(SYS_faccessat2, dirfd, path, mode, flags);
}

/* preadv2/pwritev2: on x86-64 the whole offset goes in pos_l, pos_h is 0. */
static inline long sys_preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return syscall(SYS_preadv2, fd, iov, cnt, (long)off, 0L, flags);
}

static inline long sys_pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	return syscall(SYS_pwritev2, fd, iov, cnt, (long)off, 0L, flags);
}

/* The program's scratch directory: /tmp/exo-NAME-XXXXXX, mode 0755. */
static char tmp_root[256];

static inline const char *make_tmp(const char *name)
{
	snprintf(tmp_root, sizeof tmp_root, "/tmp/exo-%s-XXXXXX", name);
	if (!mkdtemp(tmp_root)) {
		fprintf(stderr, "FAIL: mkdtemp(%s): %s\n", tmp_root, errname(errno));
		exit(2);
	}
	/* Non-root children (perms.c) must be able to traverse it. */
	if (chmod(tmp_root, 0755) != 0) {
		fprintf(stderr, "FAIL: chmod(%s): %s\n", tmp_root, errname(errno));
		exit(2);
	}
	return tmp_root;
}

/* P formats a path below the scratch directory: P("a/%d", 3) is
 * "/tmp/exo-NAME-XXXXXX/a/3". Sixteen rotating buffers. */
static inline const char *P(const char *fmt, ...)
{
	static char bufs[16][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 16];
	int n = snprintf(b, PATH_MAX, "%s/", tmp_root);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b + n, PATH_MAX - n, fmt, ap);
	va_end(ap);
	return b;
}

/* rel strips the scratch directory from path, for printing. */
static inline const char *rel(const char *path)
{
	size_t n = strlen(tmp_root);
	if (strncmp(path, tmp_root, n) == 0) {
		if (path[n] == '\0')
			return "$TMP";
		if (path[n] == '/')
			return path + n + 1;
	}
	return path;
}

/* rm_rf removes path and everything below it; returns 0 or -1. */
static inline int rm_rf_at(int dirfd, const char *name)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	/* Removing while reading may skip entries: repeat until empty. */
	for (int removed = 1; removed;) {
		removed = 0;
		rewinddir(d);
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			if (rm_rf_at(fd, e->d_name) != 0)
				rc = -1;
			else
				removed = 1;
		}
		if (rc)
			break;
	}
	closedir(d);
	if (rc)
		return rc;
	return unlinkat(dirfd, name, AT_REMOVEDIR);
}

static inline int rm_rf(const char *path)
{
	return rm_rf_at(AT_FDCWD, path);
}

/* cleanup_tmp removes the scratch directory (after leaving it). */
static inline void cleanup_tmp(void)
{
	if (chdir("/") != 0)
		check_fail(__FILE__, __LINE__, "chdir(\"/\")", errno);
	if (tmp_root[0] && rm_rf(tmp_root) != 0)
		check_fail(__FILE__, __LINE__, "removing the scratch directory", errno);
	struct stat st;
	if (tmp_root[0] && lstat(tmp_root, &st) == 0)
		check_fail(__FILE__, __LINE__, "the scratch directory is still there", 0);
}

/* write_file creates (or truncates) path with the given contents. */
static inline int write_file(const char *path, const char *data, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	size_t len = strlen(data);
	ssize_t n = write(fd, data, len);
	int e = errno;
	close(fd);
	errno = e;
	return n == (ssize_t)len ? 0 : -1;
}

/* read_file reads up to size-1 bytes of path into buf, NUL terminated;
 * returns the length or -1. */
static inline ssize_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t total = 0;
	for (;;) {
		ssize_t n = read(fd, buf + total, size - 1 - total);
		if (n < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
		if (n == 0 || total + n == size - 1) {
			total += n;
			break;
		}
		total += n;
	}
	close(fd);
	buf[total] = '\0';
	return total;
}

/* file_is reports whether path holds exactly want. */
static inline int file_is(const char *path, const char *want)
{
	static char buf[65536];
	ssize_t n = read_file(path, buf, sizeof buf);
	return n == (ssize_t)strlen(want) && memcmp(buf, want, n) == 0;
}

/* exists reports whether path names something (without following a
 * final symlink). */
static inline int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* wait_status waits for pid and returns its exit status, 128+N after
 * signal N, or -1. */
static inline int wait_status(pid_t pid)
{
	int st;
	pid_t r;
	do
		r = waitpid(pid, &st, 0);
	while (r == -1 && errno == EINTR);
	if (r != pid)
		return -1;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* fork_child forks with stdio flushed; the child starts with no failures
 * of its own (the parent reports its own). */
static inline pid_t fork_child(void)
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0)
		check_failures = 0;
	if (pid < 0)
		check_fail(__FILE__, __LINE__, "fork", errno);
	return pid;
}

/* child_done ends a forked child: exit status 0 if its checks held. */
static inline void child_done(void)
{
	fflush(stdout);
	fflush(stderr);
	_exit(check_failures ? 1 : 0);
}

#endif
