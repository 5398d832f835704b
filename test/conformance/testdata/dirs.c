/*
 * dirs: mkdir/mkdirat/rmdir and unlink/unlinkat(AT_REMOVEDIR) in a scratch
 * directory under /tmp: modes under umask, directory link counts, removing
 * an open file and the current directory, and the errors of each (EEXIST,
 * ENOENT, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL, EBADF, ENAMETOOLONG).
 */
#include "check.h"
#include "fs.h"

static unsigned mode_of(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0xffffffff;
	return st.st_mode & 07777;
}

static long nlink_of(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return -1;
	return (long)st.st_nlink;
}

static void make_and_modes(void)
{
	umask(022);
	CHECK(mkdir(P("a"), 0777) == 0);
	struct stat st;
	CHECK(stat(P("a"), &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(mode_of(P("a")) == 0755);
	CHECK(nlink_of(P("a")) == 2);
	printf("mkdir 0777 under umask 022: mode %04o, nlink %ld\n", mode_of(P("a")), nlink_of(P("a")));

	CHECK(mkdir(P("sticky"), 01777) == 0);
	CHECK(mode_of(P("sticky")) == 01755);
	CHECK(mkdir(P("private"), 0700) == 0);
	CHECK(mode_of(P("private")) == 0700);
	umask(0);
	CHECK(mkdir(P("open"), 0777) == 0);
	CHECK(mode_of(P("open")) == 0777);
	umask(022);
	printf("mkdir 01777: %04o; 0700: %04o; 0777 under umask 0: %04o\n", mode_of(P("sticky")),
	       mode_of(P("private")), mode_of(P("open")));

	/* A trailing slash names the directory being made. */
	CHECK(mkdir(P("slash/"), 0755) == 0);
	CHECK(stat(P("slash"), &st) == 0 && S_ISDIR(st.st_mode));

	/* Each subdirectory's ".." is a link to the parent. */
	CHECK(mkdir(P("a/b"), 0755) == 0);
	CHECK(mkdir(P("a/c"), 0755) == 0);
	CHECK(write_file(P("a/file"), "x", 0644) == 0);
	CHECK(nlink_of(P("a")) == 4);
	printf("a with subdirectories b, c and one file: nlink %ld\n", nlink_of(P("a")));
	struct stat up, a;
	CHECK(stat(P("a/b/.."), &up) == 0 && stat(P("a"), &a) == 0);
	CHECK(up.st_ino == a.st_ino && up.st_dev == a.st_dev);
}

static void mkdir_errors(void)
{
	CHECK(write_file(P("f"), "file\n", 0644) == 0);
	EXPECT_ERR(mkdir(P("a"), 0755), EEXIST);
	EXPECT_ERR(mkdir(P("f"), 0755), EEXIST);
	EXPECT_ERR(mkdir(P("missing/b"), 0755), ENOENT);
	EXPECT_ERR(mkdir(P("f/b"), 0755), ENOTDIR);
	EXPECT_ERR(mkdir("", 0755), ENOENT);
	char longname[300];
	memset(longname, 'n', 256);
	longname[256] = '\0';
	EXPECT_ERR(mkdir(P("%s", longname), 0755), ENAMETOOLONG);
	longname[255] = '\0';
	CHECK(mkdir(P("%s", longname), 0755) == 0); /* 255 bytes is the limit */
	CHECK(rmdir(P("%s", longname)) == 0);
	puts("mkdir: EEXIST, ENOENT, ENOTDIR, ENOENT for \"\", ENAMETOOLONG past 255 bytes");

	int dfd = MUST(open(P("a"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	int ffd = MUST(open(P("f"), O_RDONLY | O_CLOEXEC));
	CHECK(mkdirat(dfd, "d", 0700) == 0);
	CHECK(mode_of(P("a/d")) == 0700);
	EXPECT_ERR(mkdirat(dfd, "d", 0700), EEXIST);
	EXPECT_ERR(mkdirat(ffd, "d", 0700), ENOTDIR);
	EXPECT_ERR(mkdirat(999, "d", 0700), EBADF);
	/* An absolute path ignores the directory descriptor, even a bad one. */
	CHECK(mkdirat(999, P("abs"), 0755) == 0);
	CHECK(rmdir(P("abs")) == 0);
	puts("mkdirat: relative to a directory fd; ENOTDIR for a file fd, EBADF for a bad one; absolute paths ignore it");

	/* unlinkat with and without AT_REMOVEDIR. */
	EXPECT_ERR(unlinkat(dfd, "d", 0), EISDIR);
	CHECK(unlinkat(dfd, "d", AT_REMOVEDIR) == 0);
	CHECK(!exists(P("a/d")));
	EXPECT_ERR(unlinkat(dfd, "file", AT_REMOVEDIR), ENOTDIR);
	EXPECT_ERR(unlinkat(dfd, "file", 0x1), EINVAL); /* an unknown flag */
	EXPECT_ERR(unlinkat(dfd, "nothing", 0), ENOENT);
	EXPECT_ERR(unlinkat(999, "file", 0), EBADF);
	EXPECT_ERR(unlinkat(ffd, "file", 0), ENOTDIR);
	CHECK(unlinkat(dfd, "file", 0) == 0);
	CHECK(!exists(P("a/file")));
	puts("unlinkat: EISDIR without AT_REMOVEDIR, ENOTDIR with it on a file, EINVAL for an unknown flag");
	close(dfd);
	close(ffd);
}

static void remove_errors(void)
{
	EXPECT_ERR(rmdir(P("a")), ENOTEMPTY);
	EXPECT_ERR(rmdir(P("f")), ENOTDIR);
	EXPECT_ERR(rmdir(P("nothing")), ENOENT);
	EXPECT_ERR(rmdir(P("f/x")), ENOTDIR);
	EXPECT_ERR(rmdir(P("a/.")), EINVAL);
	EXPECT_ERR(rmdir(P("a/b/..")), ENOTEMPTY);
	EXPECT_ERR(unlink(P("a")), EISDIR);
	EXPECT_ERR(unlink(P("nothing")), ENOENT);
	EXPECT_ERR(unlink(P("f/x")), ENOTDIR);
	EXPECT_ERR(unlink(""), ENOENT);
	puts("rmdir: ENOTEMPTY, ENOTDIR, ENOENT, EINVAL for \".\", ENOTEMPTY for \"..\"; unlink of a dir: EISDIR");

	long before = nlink_of(P("a"));
	CHECK(rmdir(P("a/b")) == 0);
	CHECK(nlink_of(P("a")) == before - 1);
	CHECK(rmdir(P("a/c/")) == 0); /* a trailing slash is fine for rmdir */
	CHECK(nlink_of(P("a")) == 2);
	CHECK(rmdir(P("a")) == 0);
	CHECK(!exists(P("a")));
	printf("rmdir of the subdirectories: parent nlink back to 2\n");
}

static void unlink_open_file(void)
{
	CHECK(write_file(P("victim"), "still here\n", 0644) == 0);
	int fd = MUST(open(P("victim"), O_RDWR | O_CLOEXEC));
	CHECK(unlink(P("victim")) == 0);
	CHECK(!exists(P("victim")));
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0 && st.st_size == 11);
	char buf[32] = {0};
	CHECK(pread(fd, buf, sizeof buf, 0) == 11 && strcmp(buf, "still here\n") == 0);
	CHECK(pwrite(fd, "more", 4, 11) == 4);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 15);
	close(fd);
	/* The name is free again. */
	CHECK(write_file(P("victim"), "new\n", 0644) == 0);
	CHECK(file_is(P("victim"), "new\n"));
	printf("unlinked open file: nlink %d, still readable and writable\n", 0);
}

static void remove_cwd(void)
{
	CHECK(mkdir(P("cwd"), 0755) == 0);
	CHECK(chdir(P("cwd")) == 0);
	CHECK(rmdir(P("cwd")) == 0);
	char buf[PATH_MAX];
	EXPECT_ERR(syscall(SYS_getcwd, buf, sizeof buf), ENOENT);
	EXPECT_ERR(open("new", O_WRONLY | O_CREAT, 0644), ENOENT);
	EXPECT_ERR(mkdir("sub", 0755), ENOENT);
	struct stat st;
	CHECK(stat(".", &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 0);
	CHECK(chdir(tmp_root) == 0);
	puts("removed cwd: getcwd ENOENT, creating in it ENOENT, stat(\".\") nlink 0");
}

int main(void)
{
	make_tmp("dirs");
	make_and_modes();
	mkdir_errors();
	remove_errors();
	unlink_open_file();
	remove_cwd();
	cleanup_tmp();
	return check_done("dirs");
}
