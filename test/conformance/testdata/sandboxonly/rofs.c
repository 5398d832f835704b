/*
 * rofs: every way of changing a read-only mount fails: argv[1] is a host
 * directory the sandbox sees through `--mount type=bind,...,ro` (the
 * default rootfs is writable: an overlay whose writes stay in the sandbox).
 * Run only sandboxed. argv[2] is a canary file in argv[1] holding
 * "canary\n".
 * Prints one "operation: result" line per attempt; exits 1 if any succeeded.
 */
#include "../check.h"
#include <fcntl.h>
#include <sys/stat.h>

static int succeeded;

static void report(const char *op, long r, int err)
{
	if (r == -1) {
		printf("%s: %s\n", op, errname(err));
	} else {
		printf("%s: SUCCEEDED\n", op);
		succeeded++;
	}
}

#define TRY(op, expr)                         \
	do {                                  \
		errno = 0;                    \
		long r_ = (long)(expr);       \
		report(op, r_, errno);        \
		if (r_ >= 0 && strncmp(op, "open", 4) == 0) \
			close((int)r_);       \
	} while (0)

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: rofs DIR CANARY\n");
		return 2;
	}
	char path[4096];
	const char *dir = argv[1], *canary = argv[2];

	/* The canary is visible: failures below are not just missing paths. */
	char buf[16] = {0};
	int fd = open(canary, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(read(fd, buf, sizeof buf) == 7 && memcmp(buf, "canary\n", 7) == 0);
	close(fd);

	snprintf(path, sizeof path, "%s/created", dir);
	TRY("open O_WRONLY|O_CREAT new", open(path, O_WRONLY | O_CREAT, 0644));
	TRY("open O_RDWR|O_CREAT|O_EXCL new", open(path, O_RDWR | O_CREAT | O_EXCL, 0644));
	TRY("open O_WRONLY canary", open(canary, O_WRONLY));
	TRY("open O_RDWR canary", open(canary, O_RDWR));
	TRY("open O_WRONLY|O_TRUNC canary", open(canary, O_WRONLY | O_TRUNC));
	TRY("open O_WRONLY|O_APPEND canary", open(canary, O_WRONLY | O_APPEND));
	TRY("creat new", creat(path, 0644));
	snprintf(path, sizeof path, "%s/newdir", dir);
	TRY("mkdir", mkdir(path, 0755));
	TRY("unlink canary", unlink(canary));
	snprintf(path, sizeof path, "%s/renamed", dir);
	TRY("rename canary", rename(canary, path));
	snprintf(path, sizeof path, "%s/symlink", dir);
	TRY("symlink", symlink("canary", path));
	snprintf(path, sizeof path, "%s/hardlink", dir);
	TRY("link canary", link(canary, path));
	TRY("chmod canary", chmod(canary, 0777));
	TRY("truncate canary", truncate(canary, 0));
	TRY("rmdir dir", rmdir(dir));

	fflush(stdout);
	if (succeeded)
		fprintf(stderr, "rofs: %d modification(s) of the read-only rootfs succeeded\n", succeeded);
	return succeeded || check_failures ? 1 : 0;
}
