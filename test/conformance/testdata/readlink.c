/* readlink: symlinks of the rootfs (merged-usr /bin -> usr/bin on Debian 12). */
#include "check.h"
#include <fcntl.h>
#include <sys/stat.h>

static void show(const char *path)
{
	struct stat st;
	char buf[4096];
	if (lstat(path, &st) != 0) {
		printf("%s: missing\n", path);
		return;
	}
	if (!S_ISLNK(st.st_mode)) {
		printf("%s: not a symlink\n", path);
		EXPECT_ERR(readlink(path, buf, sizeof buf), EINVAL);
		return;
	}
	ssize_t n = readlink(path, buf, sizeof buf);
	CHECK(n > 0 && n == st.st_size);
	if (n <= 0)
		return;
	printf("%s -> %.*s\n", path, (int)n, buf);
	/* Truncation: no NUL, just the first bytes. */
	char small[2] = {'#', '#'};
	if (n > 2) {
		CHECK(readlink(path, small, 2) == 2);
		CHECK(memcmp(small, buf, 2) == 0);
	}
	/* readlinkat relative to a directory descriptor. */
	const char *slash = strrchr(path, '/');
	char dir[4096];
	snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	int dfd = MUST(open(dir, O_RDONLY | O_DIRECTORY));
	char buf2[4096];
	CHECK(readlinkat(dfd, slash + 1, buf2, sizeof buf2) == n && memcmp(buf, buf2, n) == 0);
	close(dfd);
}

int main(void)
{
	show("/bin");
	show("/sbin");
	show("/lib");
	show("/lib64");
	show("/lib64/ld-linux-x86-64.so.2");
	show("/usr/bin");

	char buf[64];
	EXPECT_ERR(readlink("/etc/passwd", buf, sizeof buf), EINVAL);
	EXPECT_ERR(readlink("/nonexistent-exo-conformance", buf, sizeof buf), ENOENT);
	EXPECT_ERR(readlink("/etc/passwd/x", buf, sizeof buf), ENOTDIR);
	EXPECT_ERR(syscall(SYS_readlinkat, AT_FDCWD, "/bin", buf, 0), EINVAL); /* musl's wrapper hides this */
	EXPECT_ERR(readlinkat(99999, "bin", buf, sizeof buf), EBADF);
	return check_done("readlink");
}
