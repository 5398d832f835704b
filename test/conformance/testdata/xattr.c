/*
 * xattr: user.* extended attributes on a file and a directory in a scratch
 * directory under /tmp (ext4 and tmpfs both keep them): set/get/list/remove
 * through paths, descriptors and l* calls, XATTR_CREATE/XATTR_REPLACE,
 * size queries, empty values, and the errors (EEXIST, ENODATA, ERANGE,
 * EPERM for user.* on a symlink or a fifo, EOPNOTSUPP for an unknown
 * namespace, ENOENT, EBADF).
 */
#include "check.h"
#include "fs.h"
#include <sys/xattr.h>

/* names lists the user.* names of path (sorted, comma separated). */
static const char *names(const char *path, int fd)
{
	static char out[1024];
	char buf[1024];
	ssize_t n = fd >= 0 ? flistxattr(fd, buf, sizeof buf) : listxattr(path, buf, sizeof buf);
	if (n < 0)
		return errname(errno);
	const char *v[64];
	int c = 0;
	for (ssize_t i = 0; i < n && c < 64; i += strlen(buf + i) + 1)
		if (strncmp(buf + i, "user.", 5) == 0)
			v[c++] = buf + i;
	for (int i = 1; i < c; i++)
		for (int j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			const char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	out[0] = '\0';
	for (int i = 0; i < c; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, v[i]);
	}
	return c ? out : "(none)";
}

int main(void)
{
	make_tmp("xattr");
	const char *f = P("f");
	CHECK(write_file(f, "file\n", 0644) == 0);
	char buf[256];

	CHECK(setxattr(f, "user.a", "1", 1, 0) == 0);
	CHECK(getxattr(f, "user.a", NULL, 0) == 1);
	memset(buf, 0, sizeof buf);
	CHECK(getxattr(f, "user.a", buf, sizeof buf) == 1 && strcmp(buf, "1") == 0);
	CHECK(setxattr(f, "user.b", "hello", 5, XATTR_CREATE) == 0);
	CHECK(setxattr(f, "user.empty", "", 0, 0) == 0);
	CHECK(getxattr(f, "user.empty", buf, sizeof buf) == 0);
	static const char binary[] = {0, 1, 2, (char)255, 0, 'x'};
	CHECK(setxattr(f, "user.binary", binary, sizeof binary, 0) == 0);
	CHECK(getxattr(f, "user.binary", buf, sizeof buf) == (ssize_t)sizeof binary);
	CHECK(memcmp(buf, binary, sizeof binary) == 0);
	printf("set and get: user.a=1, user.b=hello, user.empty (0 bytes), user.binary (6 bytes with NULs)\n");
	printf("list: %s\n", names(f, -1));
	CHECK(strcmp(names(f, -1), "user.a,user.b,user.binary,user.empty") == 0);

	ssize_t total = listxattr(f, NULL, 0);
	CHECK(total >= (ssize_t)strlen("user.a user.b user.binary user.empty "));
	EXPECT_ERR(listxattr(f, buf, 3), ERANGE);
	EXPECT_ERR(getxattr(f, "user.b", buf, 2), ERANGE);
	puts("size queries with a NULL buffer; ERANGE when the buffer is too small");

	EXPECT_ERR(setxattr(f, "user.a", "2", 1, XATTR_CREATE), EEXIST);
	EXPECT_ERR(setxattr(f, "user.missing", "2", 1, XATTR_REPLACE), ENODATA);
	CHECK(setxattr(f, "user.a", "22", 2, XATTR_REPLACE) == 0);
	memset(buf, 0, sizeof buf);
	CHECK(getxattr(f, "user.a", buf, sizeof buf) == 2 && strcmp(buf, "22") == 0);
	EXPECT_ERR(getxattr(f, "user.missing", buf, sizeof buf), ENODATA);
	puts("XATTR_CREATE: EEXIST when present; XATTR_REPLACE: ENODATA when absent, replaces when present");

	CHECK(removexattr(f, "user.a") == 0);
	EXPECT_ERR(removexattr(f, "user.a"), ENODATA);
	EXPECT_ERR(getxattr(f, "user.a", buf, sizeof buf), ENODATA);
	printf("after removing user.a: %s\n", names(f, -1));

	/* Through a descriptor. */
	int fd = MUST(open(f, O_RDONLY | O_CLOEXEC));
	CHECK(fsetxattr(fd, "user.fd", "via fd", 6, 0) == 0);
	memset(buf, 0, sizeof buf);
	CHECK(fgetxattr(fd, "user.fd", buf, sizeof buf) == 6 && strcmp(buf, "via fd") == 0);
	printf("flistxattr: %s\n", names(NULL, fd));
	CHECK(fremovexattr(fd, "user.fd") == 0);
	EXPECT_ERR(fgetxattr(fd, "user.fd", buf, sizeof buf), ENODATA);
	close(fd);
	EXPECT_ERR(fgetxattr(999, "user.b", buf, sizeof buf), EBADF);
	EXPECT_ERR(fsetxattr(999, "user.b", "x", 1, 0), EBADF);

	/* Symlinks: the plain calls follow, the l* calls act on the link,
	 * where user.* is not allowed. */
	CHECK(symlink("f", P("s")) == 0);
	CHECK(setxattr(P("s"), "user.through", "t", 1, 0) == 0);
	CHECK(getxattr(f, "user.through", buf, sizeof buf) == 1);
	EXPECT_ERR(lsetxattr(P("s"), "user.on-link", "x", 1, 0), EPERM);
	EXPECT_ERR(lgetxattr(P("s"), "user.through", buf, sizeof buf), ENODATA);
	puts("setxattr through a symlink sets the target; lsetxattr user.* on the link: EPERM");

	/* Directories keep user.* too; fifos do not. */
	CHECK(mkdir(P("d"), 0755) == 0);
	CHECK(setxattr(P("d"), "user.dir", "d", 1, 0) == 0);
	printf("directory: %s\n", names(P("d"), -1));
	CHECK(mkfifo(P("fifo"), 0644) == 0);
	EXPECT_ERR(setxattr(P("fifo"), "user.x", "x", 1, 0), EPERM);
	EXPECT_ERR(getxattr(P("fifo"), "user.x", buf, sizeof buf), ENODATA);

	EXPECT_ERR(setxattr(f, "bogus.name", "x", 1, 0), EOPNOTSUPP);
	EXPECT_ERR(getxattr(f, "bogus.name", buf, sizeof buf), EOPNOTSUPP);
	EXPECT_ERR(setxattr(f, "", "x", 1, 0), ERANGE);
	char longname[300];
	snprintf(longname, sizeof longname, "user.%0251d", 0); /* 256 bytes: one past XATTR_NAME_MAX */
	EXPECT_ERR(setxattr(f, longname, "x", 1, 0), ERANGE);
	EXPECT_ERR(setxattr(f, "user.x", "x", 1, XATTR_CREATE | XATTR_REPLACE | 0x10), EINVAL);
	EXPECT_ERR(setxattr(P("nothing"), "user.x", "x", 1, 0), ENOENT);
	EXPECT_ERR(getxattr(P("nothing"), "user.x", buf, sizeof buf), ENOENT);
	EXPECT_ERR(listxattr(P("f/x"), buf, sizeof buf), ENOTDIR);
	puts("errors: EPERM/ENODATA on a fifo, EOPNOTSUPP for an unknown namespace, ERANGE for bad names, EINVAL, ENOENT, ENOTDIR");

	/* A copy made by rename keeps them; a new file has none. */
	CHECK(rename(f, P("g")) == 0);
	printf("after rename: %s\n", names(P("g"), -1));
	CHECK(write_file(P("fresh"), "", 0644) == 0);
	printf("new file: %s\n", names(P("fresh"), -1));

	cleanup_tmp();
	return check_done("xattr");
}
