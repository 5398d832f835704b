/*
 * escape: run with --rootfs DIR as /escape. argv[1] is the absolute host path
 * of a secret file outside DIR, argv[2] its path relative to DIR (starting
 * with ../). DIR holds this program, inside.txt ("inside\n") and the
 * symlinks abs-link -> argv[1], rel-link -> argv[2], up -> ../../../../..
 * Every way of reaching the secret must fail; inside.txt must be readable.
 */
#include "../../conformance/testdata/check.h"
#include <fcntl.h>
#include <sys/stat.h>

static int escaped;

static void attempt(const char *how, const char *path, int dirfd)
{
	errno = 0;
	int fd = openat(dirfd, path, O_RDONLY);
	int e = errno;
	if (fd >= 0) {
		char buf[256] = {0};
		ssize_t n = read(fd, buf, sizeof buf - 1);
		printf("%s: OPENED (%zd bytes)\n", how, n);
		fprintf(stderr, "ESCAPE: %s (%s) opened a host file outside the rootfs: %.*s\n",
			how, path, (int)(n > 0 ? n : 0), buf);
		escaped++;
		close(fd);
		return;
	}
	printf("%s: %s\n", how, errname(e));
	struct stat st;
	if (fstatat(dirfd, path, &st, 0) == 0) {
		printf("%s: stat SUCCEEDED\n", how);
		fprintf(stderr, "ESCAPE: %s (%s): stat found a host file outside the rootfs\n", how, path);
		escaped++;
	}
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const char *abs = argv[1], *rel = argv[2];
	char path[4096];

	/* The rootfs itself is served: otherwise the failures prove nothing. */
	char buf[16] = {0};
	int fd = open("/inside.txt", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof buf) != 7 || memcmp(buf, "inside\n", 7) != 0) {
		fprintf(stderr, "escape: cannot read /inside.txt in the rootfs (errno %s): nothing to conclude\n",
			errname(errno));
		return 3;
	}
	close(fd);

	attempt("absolute host path", abs, AT_FDCWD);
	snprintf(path, sizeof path, "/../../../../../../..%s", abs);
	attempt("/.. chain", path, AT_FDCWD);
	snprintf(path, sizeof path, "../../../../../../..%s", abs);
	attempt("relative .. chain from cwd", path, AT_FDCWD);
	attempt("relative path from the rootfs", rel, AT_FDCWD);
	snprintf(path, sizeof path, "/%s", rel);
	attempt("rootfs-relative path from /", path, AT_FDCWD);
	int root = open("/", O_RDONLY | O_DIRECTORY);
	CHECK(root >= 0);
	if (root >= 0) {
		snprintf(path, sizeof path, "../../../../../..%s", abs);
		attempt("openat(rootfd, ../ chain)", path, root);
		attempt("openat(rootfd, relative path)", rel, root);
		int up = openat(root, "..", O_RDONLY | O_DIRECTORY);
		if (up >= 0) {
			struct stat a, b;
			CHECK(fstat(up, &a) == 0 && fstat(root, &b) == 0);
			CHECKF(a.st_ino == b.st_ino && a.st_dev == b.st_dev, "/.. is not / inside the sandbox");
			close(up);
		}
	}
	snprintf(path, sizeof path, "/proc/self/root%s", abs);
	attempt("/proc/self/root", path, AT_FDCWD);
	snprintf(path, sizeof path, "/proc/1/root%s", abs);
	attempt("/proc/1/root", path, AT_FDCWD);
	snprintf(path, sizeof path, "/proc/self/cwd/../../../../..%s", abs);
	attempt("/proc/self/cwd/..", path, AT_FDCWD);
	attempt("absolute symlink", "/abs-link", AT_FDCWD);
	attempt("relative symlink", "/rel-link", AT_FDCWD);
	snprintf(path, sizeof path, "/up%s", abs);
	attempt("symlink to ../../..", path, AT_FDCWD);
	/* chdir may be unimplemented; either way no path may lead out. */
	if (chdir("/../../..") == 0) {
		attempt("relative after chdir(/../../..)", abs + 1, AT_FDCWD);
		snprintf(path, sizeof path, "../../../../..%s", abs);
		attempt(".. chain after chdir", path, AT_FDCWD);
	}

	fflush(stdout);
	if (escaped)
		return 1;
	return check_done("escape");
}
