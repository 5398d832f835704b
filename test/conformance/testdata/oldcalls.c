/*
 * oldcalls: calls older programs still make: the original getdents
 * (struct linux_dirent: the name before the type, which ends the record)
 * listing what getdents64 lists; personality (query, set, kept by a
 * child of fork); readahead (0 on a regular file, EINVAL on a pipe, EBADF
 * on a write-only or bad fd); syslog (open and close always,
 * the rest needing CAP_SYSLOG while kernel.dmesg_restrict is 1, EINVAL for
 * an unknown action).
 */
#include "check.h"
#include "fs.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/personality.h>
#include <sys/wait.h>

struct linux_dirent {
	unsigned long d_ino;
	unsigned long d_off;
	unsigned short d_reclen;
	char d_name[];
};

struct dirent64_ {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* count_entries lists a directory's entries as "name:type," into out with
 * either call and returns how many there are; the two lists are compared as
 * sets, since nothing fixes the order. */
static int count_entries(int fd, int legacy, char *out, size_t outsz)
{
	char buf[4096];
	size_t used = 0;
	int n = 0;
	lseek(fd, 0, SEEK_SET);
	for (;;) {
		long r = syscall(legacy ? SYS_getdents : SYS_getdents64, fd, buf, sizeof buf);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		for (long off = 0; off < r;) {
			const char *name;
			int type;
			unsigned short reclen;
			if (legacy) {
				struct linux_dirent *d = (struct linux_dirent *)(buf + off);
				name = d->d_name;
				reclen = d->d_reclen;
				type = buf[off + reclen - 1];
			} else {
				struct dirent64_ *d = (struct dirent64_ *)(buf + off);
				name = d->d_name;
				reclen = d->d_reclen;
				type = d->d_type;
			}
			used += snprintf(out + used, used < outsz ? outsz - used : 0, "%s:%d,", name, type);
			n++;
			off += reclen;
		}
	}
	return n;
}

static int contains_all(const char *a, const char *b)
{
	/* every "name:type," item of a appears in b */
	char item[300];
	for (const char *p = a; *p;) {
		const char *e = strchr(p, ',');
		if (!e)
			break;
		size_t len = e - p + 1;
		if (len >= sizeof item)
			return 0;
		memcpy(item, p, len);
		item[len] = 0;
		if (!strstr(b, item))
			return 0;
		p = e + 1;
	}
	return 1;
}

int main(void)
{
	const char *dir = make_tmp("oldcalls");
	char path[512];
	const char *names[] = {"a", "bb", "ccc", "dddd", "a-much-longer-file-name-than-the-others"};
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		close(MUST(open(path, O_CREAT | O_WRONLY, 0644)));
	}
	snprintf(path, sizeof path, "%s/sub", dir);
	MUST(mkdir(path, 0755));
	int dfd = MUST(open(dir, O_RDONLY | O_DIRECTORY));
	char l1[4096] = "", l2[4096] = "";
	int n1 = count_entries(dfd, 1, l1, sizeof l1), n2 = count_entries(dfd, 0, l2, sizeof l2);
	CHECKF(n1 == 8 && n2 == 8, "getdents %d entries, getdents64 %d", n1, n2);
	CHECKF(contains_all(l1, l2) && contains_all(l2, l1), "getdents saw %s\ngetdents64 saw %s", l1, l2);
	CHECK(strstr(l1, "sub:4,") != NULL && strstr(l1, "ccc:8,") != NULL);
	lseek(dfd, 0, SEEK_SET);
	EXPECT_ERR(syscall(SYS_getdents, dfd, path, 8), EINVAL);
	close(dfd);
	printf("getdents: %d entries, as getdents64\n", n1);

	/* personality */
	int p0 = personality(0xffffffff);
	CHECK(p0 == PER_LINUX);
	CHECK(personality(ADDR_NO_RANDOMIZE) == p0);
	CHECK(personality(0xffffffff) == ADDR_NO_RANDOMIZE);
	pid_t pid = fork();
	if (pid == 0)
		_exit(personality(0xffffffff) == ADDR_NO_RANDOMIZE ? 0 : 1);
	int st;
	waitpid(pid, &st, 0);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork keeps the personality");
	personality(p0);
	CHECK(personality(0xffffffff) == p0);

	/* readahead */
	snprintf(path, sizeof path, "%s/a", dir);
	int fd = MUST(open(path, O_RDWR));
	MUST(write(fd, "data", 4));
	CHECK(syscall(SYS_readahead, fd, 0L, 4096L) == 0);
	close(fd);
	fd = MUST(open(path, O_WRONLY));
	EXPECT_ERR(syscall(SYS_readahead, fd, 0L, 4096L), EBADF);
	close(fd);
	int pfd[2];
	MUST(pipe(pfd));
	EXPECT_ERR(syscall(SYS_readahead, pfd[0], 0L, 4096L), EINVAL);
	EXPECT_ERR(syscall(SYS_readahead, 999, 0L, 4096L), EBADF);

	/* syslog */
	CHECK(syscall(SYS_syslog, 0, NULL, 0) == 0);
	CHECK(syscall(SYS_syslog, 1, NULL, 0) == 0);
	EXPECT_ERR(syscall(SYS_syslog, 99, NULL, 0), EINVAL);
	CHECK(syscall(SYS_syslog, 10, NULL, 0) > 0); /* root: CAP_SYSLOG */
	int restrict_ = 1;
	FILE *f = fopen("/proc/sys/kernel/dmesg_restrict", "r");
	if (f) {
		if (fscanf(f, "%d", &restrict_) != 1)
			restrict_ = 1;
		fclose(f);
	}
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		long r = syscall(SYS_syslog, 10, NULL, 0);
		_exit(restrict_ ? (r == -1 && errno == EPERM ? 0 : 1) : (r > 0 ? 0 : 2));
	}
	waitpid(pid, &st, 0);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged syslog: status %#x", st);

	cleanup_tmp();
	printf("personality, readahead, syslog: checked\n");
	return check_done("oldcalls");
}
