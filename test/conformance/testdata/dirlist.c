/*
 * dirlist: getdents64 over a directory of the scratch area under /tmp
 * holding 200 files, 5 directories and 3 symlinks: every name exactly once
 * (with small and large buffers), the right d_type, lseek(0) to rewind,
 * lseek to a returned d_off to resume, the listing after removing half,
 * an empty directory, a removed directory (ENOENT), readdir, and the
 * errors (ENOTDIR, EBADF, EINVAL for a buffer too small for one entry).
 */
#include "check.h"
#include "fs.h"

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

enum { MAXN = 512 };

struct listing {
	int n;
	char name[MAXN][32];
	unsigned char type[MAXN];
	int64_t off[MAXN];
};

static struct listing a, b;

/* list reads entries of fd from its current position into l, with
 * getdents64 buffers of bufsize bytes, up to max entries (0: all). */
static void list(int fd, size_t bufsize, struct listing *l, int max)
{
	static char buf[65536] __attribute__((aligned(8)));
	l->n = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, bufsize);
		CHECKF(n >= 0, "getdents64(bufsize %zu)", bufsize);
		if (n <= 0)
			return;
		for (long pos = 0; pos < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + pos);
			CHECK(d->d_reclen > 0 && d->d_reclen % 8 == 0);
			if (l->n < MAXN) {
				snprintf(l->name[l->n], sizeof l->name[0], "%s", d->d_name);
				l->type[l->n] = d->d_type;
				l->off[l->n] = d->d_off;
				l->n++;
			}
			pos += d->d_reclen;
		}
		if (max && l->n >= max)
			return;
	}
}

static int find(struct listing *l, const char *name)
{
	int found = -1;
	for (int i = 0; i < l->n; i++) {
		if (strcmp(l->name[i], name) == 0) {
			if (found >= 0)
				return -2; /* twice */
			found = i;
		}
	}
	return found;
}

/* check_complete verifies that l holds exactly the expected entries, each
 * once, with the right types; files below 'from' were removed. */
static void check_complete(struct listing *l, int from, const char *what)
{
	int bad = 0;
	char name[32];
	int want = 2 + (200 - from) + 5 + 3;
	if (l->n != want) {
		fprintf(stderr, "FAIL %s: %d entries, want %d\n", what, l->n, want);
		bad++;
	}
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "f%03d", i);
		int k = find(l, name);
		if (i < from ? k != -1 : k < 0 || l->type[k] != DT_REG) {
			fprintf(stderr, "FAIL %s: %s at %d\n", what, name, k);
			bad++;
		}
	}
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof name, "d%d", i);
		int k = find(l, name);
		if (k < 0 || l->type[k] != DT_DIR) {
			fprintf(stderr, "FAIL %s: %s at %d\n", what, name, k);
			bad++;
		}
	}
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "s%d", i);
		int k = find(l, name);
		if (k < 0 || l->type[k] != DT_LNK) {
			fprintf(stderr, "FAIL %s: %s at %d\n", what, name, k);
			bad++;
		}
	}
	int dot = find(l, "."), dotdot = find(l, "..");
	if (dot < 0 || dotdot < 0 || l->type[dot] != DT_DIR || l->type[dotdot] != DT_DIR) {
		fprintf(stderr, "FAIL %s: . at %d, .. at %d\n", what, dot, dotdot);
		bad++;
	}
	check_failures += bad;
	printf("%s: %d entries, each once, types right: %s\n", what, l->n, yesno(!bad));
}

int main(void)
{
	make_tmp("dirlist");
	CHECK(mkdir(P("big"), 0755) == 0);
	for (int i = 0; i < 200; i++)
		CHECK(write_file(P("big/f%03d", i), "x", 0644) == 0);
	for (int i = 0; i < 5; i++)
		CHECK(mkdir(P("big/d%d", i), 0755) == 0);
	for (int i = 0; i < 3; i++)
		CHECK(symlink("f000", P("big/s%d", i)) == 0);

	int fd = MUST(open(P("big"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	list(fd, 65536, &a, 0);
	check_complete(&a, 0, "getdents64, 64 KiB buffer");
	CHECK(syscall(SYS_getdents64, fd, (char[4096]){0}, 4096) == 0); /* at the end: 0 */
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	list(fd, 200, &b, 0);
	check_complete(&b, 0, "after lseek(0), 200-byte buffer");
	/* The same order both times. */
	int same = a.n == b.n;
	for (int i = 0; same && i < a.n; i++)
		same = strcmp(a.name[i], b.name[i]) == 0;
	CHECK(same);
	puts("the order is the same on every pass");

	/* Resume from the d_off of the 50th entry. */
	CHECK(lseek(fd, a.off[49], SEEK_SET) == a.off[49]);
	list(fd, 4096, &b, 0);
	CHECK(b.n == a.n - 50);
	same = b.n == a.n - 50;
	for (int i = 0; same && i < b.n; i++)
		same = strcmp(a.name[50 + i], b.name[i]) == 0;
	CHECK(same);
	printf("lseek to the d_off of entry 50 resumes with entry 51: %s\n", yesno(same));

	/* Remove half and list again through a fresh rewind. */
	for (int i = 0; i < 100; i++)
		CHECK(unlink(P("big/f%03d", i)) == 0);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	list(fd, 1024, &b, 0);
	check_complete(&b, 100, "after removing f000..f099");
	close(fd);

	/* readdir(3) sees the same. */
	DIR *d = opendir(P("big"));
	CHECK(d != NULL);
	int count = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		count++;
	if (d)
		closedir(d);
	CHECK(count == b.n);
	printf("readdir: %d entries\n", count);

	/* An empty directory, then removed while open. */
	CHECK(mkdir(P("empty"), 0755) == 0);
	fd = MUST(open(P("empty"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	list(fd, 4096, &b, 0);
	CHECK(b.n == 2 && find(&b, ".") >= 0 && find(&b, "..") >= 0);
	CHECK(rmdir(P("empty")) == 0);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	static char buf[4096] __attribute__((aligned(8)));
	EXPECT_ERR(syscall(SYS_getdents64, fd, buf, sizeof buf), ENOENT);
	close(fd);
	puts("empty directory: . and .. only; removed while open: ENOENT");

	int ffd = MUST(open(P("big/f150"), O_RDONLY | O_CLOEXEC));
	EXPECT_ERR(syscall(SYS_getdents64, ffd, buf, sizeof buf), ENOTDIR);
	close(ffd);
	EXPECT_ERR(syscall(SYS_getdents64, 999, buf, sizeof buf), EBADF);
	fd = MUST(open(P("big"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	EXPECT_ERR(syscall(SYS_getdents64, fd, buf, (size_t)10), EINVAL);
	EXPECT_ERR(syscall(SYS_getdents64, fd, (void *)8, sizeof buf), EFAULT);
	close(fd);
	puts("getdents64 errors: ENOTDIR, EBADF, EINVAL for a tiny buffer, EFAULT");

	cleanup_tmp();
	return check_done("dirlist");
}
