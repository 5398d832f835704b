/*
 * symlinks: run with --rootfs DIR as /symlinks SECRET SECRETDIR, where
 * SECRET is the absolute host path of a secret file outside DIR and
 * SECRETDIR the name of its directory, a sibling of DIR. DIR holds
 * (symlinks_test.go):
 *   escape -> /                    link -> ../../../../etc (many ups)
 *   up -> ../SECRETDIR             abs -> the secret's host directory
 *   loopa -> loopb, loopb -> loopa self -> .
 *   deep/a/b -> ../../..           etc/marker: "inside-etc\n"
 *   SECRETDIR/secret.txt: "decoy-sibling\n"
 *   DIR + the secret's host path: "decoy-abs\n"
 * Each symlink and ".." chain must resolve inside the rootfs: to the decoys
 * where they exist, ENOENT where the rootfs has nothing (e.g. passwd). The
 * program never prints what it read, only whether it was the expected
 * decoy; exit 0 if everything stayed inside, 1 if anything else was read,
 * 3 if the rootfs itself is not readable.
 */
#include "../../conformance/testdata/check.h"
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

static int escaped;

/* expect opens path and reports whether it holds want (NULL: must fail
 * with err). */
static void expect(const char *how, const char *path, const char *want, int err)
{
	char buf[256] = {0};
	errno = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int e = errno;
	if (fd < 0) {
		printf("%-40s %s\n", how, errname(e));
		if (want || e != err) {
			fprintf(stderr, "FAIL %s (%s): %s, want %s\n", how, path, errname(e), want ? want : errname(err));
			check_failures++;
		}
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (want && n == (ssize_t)strlen(want) && memcmp(buf, want, n) == 0) {
		printf("%-40s inside\n", how);
		return;
	}
	/* Whatever it is, it is not what the rootfs holds there. */
	printf("%-40s OPENED SOMETHING ELSE (%zd bytes)\n", how, n);
	fprintf(stderr, "ESCAPE: %s (%s) opened a file that is not the rootfs's\n", how, path);
	escaped++;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const char *secret = argv[1], *secretdir = argv[2];
	char path[PATH_MAX];

	char buf[32] = {0};
	int fd = open("/etc/marker", O_RDONLY);
	if (fd < 0 || read(fd, buf, sizeof buf) != 11 || memcmp(buf, "inside-etc\n", 11) != 0) {
		fprintf(stderr, "symlinks: cannot read /etc/marker in the rootfs (%s)\n", errname(errno));
		return 3;
	}
	close(fd);

	char target[PATH_MAX] = {0};
	CHECK(readlink("/escape", target, sizeof target - 1) == 1 && strcmp(target, "/") == 0);

	snprintf(path, sizeof path, "/escape%s", secret);
	expect("/escape -> /, then the secret's path", path, "decoy-abs\n", 0);
	expect("/escape/etc/marker", "/escape/etc/marker", "inside-etc\n", 0);
	expect("/escape/../../etc/marker", "/escape/../../etc/marker", "inside-etc\n", 0);
	expect("/link -> ../../../../etc: marker", "/link/marker", "inside-etc\n", 0);
	expect("/link -> ../../../../etc: passwd", "/link/passwd", NULL, ENOENT);
	expect("/link/../../../etc/hostname", "/link/../../../etc/hostname", NULL, ENOENT);
	expect("/up -> ../SECRETDIR", "/up/secret.txt", "decoy-sibling\n", 0);
	snprintf(path, sizeof path, "/../../../%s/secret.txt", secretdir);
	expect("/../../../SECRETDIR/secret.txt", path, "decoy-sibling\n", 0);
	expect("/abs -> the secret's host directory", "/abs/secret.txt", "decoy-abs\n", 0);
	expect("/self/self/self/etc/marker", "/self/self/self/etc/marker", "inside-etc\n", 0);
	expect("/deep/a/b -> ../../..: etc/marker", "/deep/a/b/etc/marker", "inside-etc\n", 0);
	snprintf(path, sizeof path, "/deep/a/b/../../../../%s/secret.txt", secretdir);
	expect("/deep/a/b/../../../../SECRETDIR", path, "decoy-sibling\n", 0);
	expect("/loopa (a directory symlink loop)", "/loopa/x", NULL, ELOOP);

	/* The same through a working directory reached by a symlink. */
	CHECK(chdir("/escape") == 0);
	char cwd[PATH_MAX];
	CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0);
	snprintf(path, sizeof path, "../../../../..%s", secret);
	expect("chdir /escape, then ../../../..SECRET", path, "decoy-abs\n", 0);
	CHECK(chdir("/link") == 0);
	CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/etc") == 0);
	expect("chdir /link, then ../../../etc/marker", "../../../etc/marker", "inside-etc\n", 0);
	printf("getcwd after chdir(/link): %s\n", cwd);

	/* openat relative to a directory reached through the symlinks. */
	int dfd = open("/up", O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	snprintf(path, sizeof path, "../../%s/secret.txt", secretdir);
	if (dfd >= 0) {
		errno = 0;
		int f = openat(dfd, path, O_RDONLY);
		char b[32] = {0};
		ssize_t n = f >= 0 ? read(f, b, sizeof b - 1) : -1;
		int ok = n == 14 && memcmp(b, "decoy-sibling\n", 14) == 0;
		printf("%-40s %s\n", "openat(/up, ../../SECRETDIR/secret.txt)", f < 0 ? errname(errno) : ok ? "inside" : "OPENED SOMETHING ELSE");
		if (f >= 0 && !ok)
			escaped++;
		if (f >= 0)
			close(f);
		close(dfd);
	}

	fflush(stdout);
	if (escaped) {
		fprintf(stderr, "symlinks: %d path(s) left the rootfs\n", escaped);
		return 1;
	}
	return check_done("symlinks");
}
