/*
 * fsops: a static helper the programs tests run natively and sandboxed on
 * a directory, to show where writes land.
 *
 *   fsops mutate DIR    DIR holds the seed layout (programs_test.go):
 *                       append, delete, rename (files and a directory),
 *                       chmod, truncate, create, mkdir, rmdir, remove a
 *                       whole directory and make it again (an opaque
 *                       directory in an overlay), symlink, link, utimensat;
 *                       then print the tree as the workload sees it
 *   fsops tree DIR      print the tree only
 *   fsops readonly DIR  DIR is a read-only mount holding the seed layout:
 *                       every change fails (the error of each is printed),
 *                       reads work
 *   fsops tmpfs DIR     DIR is a fresh tmpfs mount: its magic, then files
 *                       made, read back and listed
 *
 * Output is deterministic: names, types, modes, sizes and content hashes,
 * no times or inode numbers.
 */
#include "../../conformance/testdata/check.h"
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>

#define TMPFS_MAGIC 0x01021994

static const char *dir;

static const char *P(const char *name)
{
	static char bufs[8][PATH_MAX];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, PATH_MAX, "%s/%s", dir, name);
	return b;
}

/* fnv1a64 of a file's contents, for the tree listing. */
static int hash_file(const char *path, uint64_t *h)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	uint64_t v = 1469598103934665603ULL;
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++)
			v = (v ^ (unsigned char)buf[i]) * 1099511628211ULL;
	close(fd);
	*h = v;
	return n < 0 ? -1 : 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* tree prints every entry below path (relative name rel), sorted. */
static void tree(const char *path, const char *rel)
{
	DIR *d = opendir(path);
	if (!d) {
		printf("  %s: opendir %s\n", rel[0] ? rel : ".", errname(errno));
		return;
	}
	char *names[1024];
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) && n < 1024;)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, n, sizeof names[0], cmp);
	for (int i = 0; i < n; i++) {
		char full[PATH_MAX], r[PATH_MAX];
		snprintf(full, sizeof full, "%s/%s", path, names[i]);
		snprintf(r, sizeof r, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
		struct stat st;
		if (lstat(full, &st) != 0) {
			printf("  %s: lstat %s\n", r, errname(errno));
		} else if (S_ISDIR(st.st_mode)) {
			printf("  d %04o %s/\n", (unsigned)(st.st_mode & 07777), r);
			tree(full, r);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX] = {0};
			ssize_t k = readlink(full, target, sizeof target - 1);
			printf("  l %s -> %s\n", r, k >= 0 ? target : errname(errno));
		} else if (S_ISREG(st.st_mode)) {
			uint64_t h = 0;
			int ok = hash_file(full, &h) == 0;
			printf("  f %04o %6lld %016llx nlink %lu %s\n", (unsigned)(st.st_mode & 07777),
			       (long long)st.st_size, ok ? (unsigned long long)h : 0ULL, (unsigned long)st.st_nlink, r);
		} else {
			printf("  ? %06o %s\n", (unsigned)st.st_mode, r);
		}
		free(names[i]);
	}
}

static int write_file(const char *path, const char *data, int flags, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | flags, mode);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, data, strlen(data));
	close(fd);
	return n == (ssize_t)strlen(data) ? 0 : -1;
}

static int file_is(const char *path, const char *want)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	return n == (ssize_t)strlen(want) && memcmp(buf, want, n) == 0;
}

static int mutate(void)
{
	umask(022);
	/* The seed is there: otherwise the changes prove nothing. */
	if (!file_is(P("hello.txt"), "hello from the host\n")) {
		fprintf(stderr, "fsops: %s does not hold the seed\n", P("hello.txt"));
		return 3;
	}
	CHECK(write_file(P("hello.txt"), "appended by the workload\n", O_APPEND, 0) == 0);
	CHECK(file_is(P("hello.txt"), "hello from the host\nappended by the workload\n"));
	CHECK(unlink(P("delete-me.txt")) == 0);
	CHECK(access(P("delete-me.txt"), F_OK) == -1 && errno == ENOENT);
	CHECK(rename(P("rename-me.txt"), P("renamed.txt")) == 0);
	CHECK(file_is(P("renamed.txt"), "rename me\n"));
	CHECK(chmod(P("chmod-me.txt"), 0600) == 0);
	CHECK(truncate(P("truncate-me.txt"), 8) == 0);
	CHECK(file_is(P("truncate-me.txt"), "truncate"));
	CHECK(write_file(P("new.txt"), "made by the workload\n", O_CREAT | O_EXCL, 0644) == 0);
	CHECK(mkdir(P("newdir"), 0750) == 0);
	CHECK(write_file(P("newdir/file"), "in a new directory\n", O_CREAT | O_EXCL, 0640) == 0);
	CHECK(rmdir(P("empty")) == 0);
	/* Remove a whole seeded directory and make one of the same name. */
	CHECK(unlink(P("dir/sub/deep.txt")) == 0);
	CHECK(rmdir(P("dir/sub")) == 0);
	CHECK(unlink(P("dir/inner.txt")) == 0);
	CHECK(rmdir(P("dir")) == 0);
	CHECK(mkdir(P("dir"), 0755) == 0);
	CHECK(write_file(P("dir/fresh.txt"), "fresh\n", O_CREAT | O_EXCL, 0644) == 0);
	DIR *d = opendir(P("dir"));
	int entries = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		entries++;
	if (d)
		closedir(d);
	CHECK(entries == 3); /* ., .., fresh.txt: nothing of the old one shows */
	/* Rename a seeded directory with contents. On an overlay without
	 * redirect_dir (Linux's default, and the sandbox's rootfs), a directory
	 * with contents in the lower layer cannot be renamed: EXDEV, and mv
	 * falls back to copying. Do what mv does, so the resulting trees are
	 * compared either way. */
	if (rename(P("dir2"), P("dir2-renamed")) != 0) {
		CHECK(errno == EXDEV);
		CHECK(mkdir(P("dir2-renamed"), 0755) == 0);
		CHECK(rename(P("dir2/a.txt"), P("dir2-renamed/a.txt")) == 0);
		CHECK(rmdir(P("dir2")) == 0);
	}
	CHECK(file_is(P("dir2-renamed/a.txt"), "a\n"));
	CHECK(symlink("hello.txt", P("link")) == 0);
	CHECK(link(P("new.txt"), P("hard")) == 0);
	struct timespec tv[2] = {{1000000000, 0}, {1234567890, 123456789}};
	CHECK(utimensat(AT_FDCWD, P("renamed.txt"), tv, 0) == 0);
	struct stat st;
	CHECK(stat(P("renamed.txt"), &st) == 0 && st.st_mtim.tv_sec == 1234567890 &&
	      st.st_mtim.tv_nsec == 123456789);
	printf("after the changes:\n");
	tree(dir, "");
	return check_done("fsops mutate");
}

#define TRY(op, expr)                                                   \
	do {                                                            \
		errno = 0;                                              \
		long r_ = (long)(expr);                                 \
		int e_ = errno;                                         \
		printf("  %-32s %s\n", op, r_ == -1 ? errname(e_) : "SUCCEEDED"); \
		if (r_ >= 0 && strncmp(op, "open", 4) == 0)             \
			close((int)r_);                                 \
		if (r_ != -1)                                           \
			succeeded++;                                    \
	} while (0)

static int readonly(void)
{
	int succeeded = 0;
	if (!file_is(P("hello.txt"), "hello from the host\n")) {
		fprintf(stderr, "fsops: %s does not hold the seed\n", P("hello.txt"));
		return 3;
	}
	struct statvfs v;
	CHECK(statvfs(dir, &v) == 0 && (v.f_flag & ST_RDONLY));
	printf("statvfs: ST_RDONLY %s\n", yesno(v.f_flag & ST_RDONLY));
	struct timespec tv[2] = {{1, 0}, {2, 0}};
	puts("changes:");
	TRY("open O_WRONLY", open(P("hello.txt"), O_WRONLY));
	TRY("open O_RDWR", open(P("hello.txt"), O_RDWR));
	TRY("open O_WRONLY|O_APPEND", open(P("hello.txt"), O_WRONLY | O_APPEND));
	TRY("open O_RDONLY|O_TRUNC", open(P("hello.txt"), O_RDONLY | O_TRUNC));
	TRY("open O_CREAT new", open(P("new.txt"), O_WRONLY | O_CREAT, 0644));
	TRY("open O_CREAT|O_EXCL new", open(P("new.txt"), O_RDONLY | O_CREAT | O_EXCL, 0644));
	TRY("unlink", unlink(P("delete-me.txt")));
	TRY("rename", rename(P("rename-me.txt"), P("renamed.txt")));
	TRY("rename dir", rename(P("dir2"), P("dir2-renamed")));
	TRY("chmod", chmod(P("chmod-me.txt"), 0600));
	TRY("chown", chown(P("chmod-me.txt"), 1, 1));
	TRY("truncate", truncate(P("truncate-me.txt"), 0));
	TRY("utimensat", utimensat(AT_FDCWD, P("hello.txt"), tv, 0));
	TRY("mkdir", mkdir(P("newdir"), 0755));
	TRY("rmdir", rmdir(P("empty")));
	TRY("symlink", symlink("hello.txt", P("link")));
	TRY("link", link(P("hello.txt"), P("hard")));
	TRY("mkfifo", mkfifo(P("fifo"), 0644));
	TRY("setxattr", setxattr(P("hello.txt"), "user.x", "1", 1, 0));
	puts("reads:");
	TRY("open O_RDONLY", open(P("hello.txt"), O_RDONLY));
	TRY("open O_RDONLY|O_CREAT existing", open(P("hello.txt"), O_RDONLY | O_CREAT, 0644));
	CHECK(file_is(P("dir/sub/deep.txt"), "deep\n"));
	tree(dir, "");
	fflush(stdout);
	/* Only the two reads may succeed. */
	if (succeeded != 2) {
		fprintf(stderr, "fsops readonly: %d operations succeeded, want only the 2 reads\n", succeeded);
		return 1;
	}
	return check_done("fsops readonly");
}

static int tmpfs(void)
{
	struct statfs s;
	CHECK(statfs(dir, &s) == 0);
	printf("statfs: tmpfs magic %s\n", yesno(s.f_type == TMPFS_MAGIC));
	CHECK(s.f_type == TMPFS_MAGIC);
	DIR *d = opendir(dir);
	int entries = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		entries++;
	if (d)
		closedir(d);
	CHECK(entries == 2);
	printf("empty at the start: %s\n", yesno(entries == 2));
	umask(022);
	CHECK(write_file(P("a.txt"), "on tmpfs\n", O_CREAT | O_EXCL, 0644) == 0);
	CHECK(mkdir(P("sub"), 0700) == 0);
	static char big[1 << 20];
	memset(big, 'b', sizeof big);
	int fd = open(P("sub/big"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0 && write(fd, big, sizeof big) == (ssize_t)sizeof big);
	CHECK(pread(fd, big, 10, sizeof big - 10) == 10);
	close(fd);
	CHECK(symlink("a.txt", P("link")) == 0);
	CHECK(rename(P("a.txt"), P("b.txt")) == 0);
	tree(dir, "");
	return check_done("fsops tmpfs");
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fsops mutate|tree|readonly|tmpfs DIR\n");
		return 2;
	}
	dir = argv[2];
	if (strcmp(argv[1], "mutate") == 0)
		return mutate();
	if (strcmp(argv[1], "tree") == 0) {
		tree(dir, "");
		return 0;
	}
	if (strcmp(argv[1], "readonly") == 0)
		return readonly();
	if (strcmp(argv[1], "tmpfs") == 0)
		return tmpfs();
	fprintf(stderr, "fsops: unknown mode %s\n", argv[1]);
	return 2;
}
