/* getdents: raw getdents64 and readdir over rootfs directories. */
#include "check.h"
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

enum { MAXN = 4096 };
static char *names[MAXN];
static unsigned char types[MAXN];
static int count;

/* list reads every entry of fd with buffers of bufsize bytes. */
static int list(int fd, size_t bufsize)
{
	static char buf[1 << 16] __attribute__((aligned(8)));
	count = 0;
	for (;;) {
		long n = syscall(SYS_getdents64, fd, buf, bufsize);
		CHECKF(n >= 0, "getdents64(bufsize %zu)", bufsize);
		if (n <= 0)
			return n;
		for (long off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
			CHECK(d->d_reclen > 0 && d->d_reclen % 8 == 0 && off + d->d_reclen <= n);
			if (d->d_reclen == 0)
				return -1;
			size_t namemax = d->d_reclen - offsetof(struct linux_dirent64, d_name);
			CHECK(strnlen(d->d_name, namemax) < namemax);
			CHECK(d->d_ino != 0);
			if (count < MAXN) {
				names[count] = strdup(d->d_name);
				types[count] = d->d_type;
				count++;
			}
			off += d->d_reclen;
		}
	}
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int find(const char *name)
{
	for (int i = 0; i < count; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

static char tchar(unsigned char t)
{
	switch (t) {
	case DT_DIR: return 'd';
	case DT_REG: return 'f';
	case DT_LNK: return 'l';
	case DT_CHR: return 'c';
	case DT_UNKNOWN: return '?';
	default: return 'o';
	}
}

int main(void)
{
	int fd = MUST(open("/", O_RDONLY | O_DIRECTORY));

	/* Big buffer: everything at once. */
	list(fd, 1 << 16);
	int big = count;
	CHECK(find(".") >= 0 && find("..") >= 0);
	CHECK(find("etc") >= 0 && find("usr") >= 0);
	int e = find("etc");
	if (e >= 0)
		CHECK(types[e] == DT_DIR || types[e] == DT_UNKNOWN);
	/* The same entries again after rewinding, with a tiny buffer. */
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	list(fd, 64);
	CHECK(count == big);
	qsort(names, count, sizeof *names, cmp);
	printf("/:");
	for (int i = 0; i < count; i++)
		printf(" %s", names[i]);
	printf("\n");
	const char *typed[] = {".", "..", "etc", "usr", "bin", "tmp"};
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	list(fd, 4096);
	for (size_t i = 0; i < sizeof typed / sizeof *typed; i++) {
		int k = find(typed[i]);
		printf("%s:%c ", typed[i], k < 0 ? '-' : tchar(types[k]));
	}
	printf("\n");
	/* At the end, getdents64 keeps returning 0. */
	static char buf[256] __attribute__((aligned(8)));
	CHECK(syscall(SYS_getdents64, fd, buf, sizeof buf) == 0);
	/* A buffer too small for one entry. */
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	EXPECT_ERR(syscall(SYS_getdents64, fd, buf, 8), EINVAL);
	close(fd);
	EXPECT_ERR(syscall(SYS_getdents64, fd, buf, sizeof buf), EBADF);
	int ffd = MUST(open("/etc/passwd", O_RDONLY));
	EXPECT_ERR(syscall(SYS_getdents64, ffd, buf, sizeof buf), ENOTDIR);
	close(ffd);
	puts("getdents64: ok");

	/* libc readdir agrees with the raw call on /etc. */
	int dfd = MUST(open("/etc", O_RDONLY | O_DIRECTORY));
	list(dfd, 1024);
	int raw = count;
	close(dfd);
	DIR *d = opendir("/etc");
	CHECK(d != NULL);
	int viadir = 0, passwd = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		viadir++;
		passwd |= strcmp(de->d_name, "passwd") == 0;
	}
	if (d)
		closedir(d);
	CHECK(viadir == raw && passwd);
	printf("/etc: %d entries, passwd listed: %s\n", raw, yesno(passwd));
	return check_done("getdents");
}
