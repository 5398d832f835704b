/*
 * links: hard links (link/linkat, AT_SYMLINK_FOLLOW, link counts) and
 * symbolic links (symlink/symlinkat, readlink/readlinkat, relative targets,
 * dangling links and O_CREAT through them, loops: ELOOP for a two-link
 * cycle, a self link, O_NOFOLLOW, and a chain of 41 links where 40 still
 * resolve), in a scratch directory under /tmp.
 */
#include "check.h"
#include "fs.h"

static long nlink_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (long)st.st_nlink : -1;
}

static ino_t ino_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static void hard_links(void)
{
	CHECK(write_file(P("f"), "data\n", 0644) == 0);
	CHECK(nlink_of(P("f")) == 1);
	CHECK(link(P("f"), P("l1")) == 0);
	CHECK(nlink_of(P("f")) == 2 && nlink_of(P("l1")) == 2);
	CHECK(ino_of(P("f")) == ino_of(P("l1")));
	CHECK(file_is(P("l1"), "data\n"));
	/* A write through one name shows through the other. */
	int fd = MUST(open(P("l1"), O_WRONLY | O_APPEND | O_CLOEXEC));
	CHECK(write(fd, "more\n", 5) == 5);
	close(fd);
	CHECK(file_is(P("f"), "data\nmore\n"));
	printf("link: nlink %ld on both names, one inode, shared contents\n", nlink_of(P("f")));

	EXPECT_ERR(link(P("f"), P("l1")), EEXIST);
	EXPECT_ERR(link(P("nothing"), P("l9")), ENOENT);
	EXPECT_ERR(link(P("f"), P("nodir/l9")), ENOENT);
	EXPECT_ERR(link(P("f/x"), P("l9")), ENOTDIR);
	CHECK(mkdir(P("dir"), 0755) == 0);
	EXPECT_ERR(link(P("dir"), P("dirlink")), EPERM);
	EXPECT_ERR(linkat(999, "f", AT_FDCWD, P("l9"), 0), EBADF);
	EXPECT_ERR(linkat(AT_FDCWD, P("f"), AT_FDCWD, P("l9"), 0x1), EINVAL);
	puts("link errors: EEXIST, ENOENT, ENOTDIR, EPERM for a directory, EBADF, EINVAL for a bad flag");

	/* linkat of a symlink: the link itself unless AT_SYMLINK_FOLLOW. */
	CHECK(symlink("f", P("s")) == 0);
	CHECK(linkat(AT_FDCWD, P("s"), AT_FDCWD, P("l2"), 0) == 0);
	struct stat st;
	CHECK(lstat(P("l2"), &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(nlink_of(P("s")) == 2);
	CHECK(nlink_of(P("f")) == 2);
	CHECK(linkat(AT_FDCWD, P("s"), AT_FDCWD, P("l3"), AT_SYMLINK_FOLLOW) == 0);
	CHECK(lstat(P("l3"), &st) == 0 && S_ISREG(st.st_mode));
	CHECK(ino_of(P("l3")) == ino_of(P("f")));
	CHECK(nlink_of(P("f")) == 3);
	int dfd = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(linkat(dfd, "f", dfd, "l4", 0) == 0);
	CHECK(nlink_of(P("f")) == 4);
	close(dfd);
	printf("linkat: a symlink links itself (nlink %ld), AT_SYMLINK_FOLLOW links its target\n", nlink_of(P("s")));

	CHECK(unlink(P("l1")) == 0);
	CHECK(unlink(P("l3")) == 0);
	CHECK(unlink(P("l4")) == 0);
	CHECK(nlink_of(P("f")) == 1);
	CHECK(file_is(P("f"), "data\nmore\n"));
	puts("unlink of the extra names: nlink back to 1, contents kept");
}

static void sym_links(void)
{
	char buf[256];
	struct stat st;
	CHECK(symlink("target-name", P("sym")) == 0);
	CHECK(lstat(P("sym"), &st) == 0 && S_ISLNK(st.st_mode) && st.st_size == 11);
	memset(buf, 'X', sizeof buf);
	CHECK(readlink(P("sym"), buf, sizeof buf) == 11);
	CHECK(memcmp(buf, "target-name", 11) == 0 && buf[11] == 'X'); /* not NUL terminated */
	CHECK(readlink(P("sym"), buf, 6) == 6 && memcmp(buf, "target", 6) == 0);
	EXPECT_ERR(syscall(SYS_readlink, P("sym"), buf, 0), EINVAL); /* (musl answers size 0 itself) */
	EXPECT_ERR(readlink(P("f"), buf, sizeof buf), EINVAL);
	EXPECT_ERR(readlink(P("nothing"), buf, sizeof buf), ENOENT);
	EXPECT_ERR(symlink("x", P("sym")), EEXIST);
	EXPECT_ERR(symlink("", P("empty")), ENOENT);
	EXPECT_ERR(symlink("x", P("nodir/s")), ENOENT);
	puts("symlink/readlink: size is the target length, no NUL, truncation; EINVAL, ENOENT, EEXIST");

	int dfd = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(symlinkat("f", dfd, "sat") == 0);
	memset(buf, 0, sizeof buf);
	CHECK(readlinkat(dfd, "sat", buf, sizeof buf) == 1 && strcmp(buf, "f") == 0);
	EXPECT_ERR(symlinkat("f", 999, "sat2"), EBADF);
	/* readlinkat with an empty path reads the link an O_PATH fd names. */
	int lfd = MUST(open(P("sat"), O_PATH | O_NOFOLLOW | O_CLOEXEC));
	memset(buf, 0, sizeof buf);
	CHECK(readlinkat(lfd, "", buf, sizeof buf) == 1 && strcmp(buf, "f") == 0);
	close(lfd);
	close(dfd);
	puts("symlinkat/readlinkat relative to a dir fd; readlinkat(O_PATH fd, \"\")");

	/* A relative target is relative to the link's directory. */
	CHECK(mkdir(P("sub"), 0755) == 0);
	CHECK(symlink("../f", P("sub/up")) == 0);
	CHECK(file_is(P("sub/up"), "data\nmore\n"));
	CHECK(symlink("sub", P("dirlink")) == 0);
	CHECK(file_is(P("dirlink/up"), "data\nmore\n"));
	CHECK(stat(P("dirlink/"), &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(lstat(P("dirlink/"), &st) == 0 && S_ISDIR(st.st_mode)); /* a trailing slash follows */
	CHECK(lstat(P("dirlink"), &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(symlink(P("f"), P("absolute")) == 0);
	CHECK(file_is(P("absolute"), "data\nmore\n"));
	puts("relative targets resolve from the link's directory; a trailing slash follows a dir link");

	/* Dangling: stat fails, lstat works, O_CREAT makes the target. */
	CHECK(symlink("made-by-open", P("dangling")) == 0);
	EXPECT_ERR(stat(P("dangling"), &st), ENOENT);
	CHECK(lstat(P("dangling"), &st) == 0);
	EXPECT_ERR(open(P("dangling"), O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	CHECK(!exists(P("made-by-open")));
	int fd = MUST(open(P("dangling"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	CHECK(write(fd, "via link\n", 9) == 9);
	close(fd);
	CHECK(file_is(P("made-by-open"), "via link\n"));
	CHECK(unlink(P("dangling")) == 0);
	CHECK(exists(P("made-by-open")));
	puts("dangling link: stat ENOENT, O_EXCL EEXIST, O_CREAT creates the target; unlink removes only the link");
}

static void loops(void)
{
	struct stat st;
	char buf[64];
	CHECK(symlink("loopB", P("loopA")) == 0);
	CHECK(symlink("loopA", P("loopB")) == 0);
	EXPECT_ERR(open(P("loopA"), O_RDONLY), ELOOP);
	EXPECT_ERR(stat(P("loopA"), &st), ELOOP);
	EXPECT_ERR(open(P("loopA/x"), O_RDONLY), ELOOP);
	EXPECT_ERR(open(P("loopA"), O_WRONLY | O_CREAT, 0644), ELOOP);
	CHECK(lstat(P("loopA"), &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(symlink("self", P("self")) == 0);
	EXPECT_ERR(open(P("self"), O_RDONLY), ELOOP);
	EXPECT_ERR(chdir(P("self")), ELOOP);
	EXPECT_ERR(access(P("self"), F_OK), ELOOP);
	CHECK(symlink("dloop/x", P("dloop")) == 0);
	EXPECT_ERR(open(P("dloop"), O_RDONLY), ELOOP);
	puts("symlink loops: ELOOP from open, stat, chdir, access; lstat still works");

	EXPECT_ERR(open(P("s"), O_RDONLY | O_NOFOLLOW), ELOOP);
	EXPECT_ERR(open(P("dirlink"), O_RDONLY | O_NOFOLLOW | O_DIRECTORY), ENOTDIR); /* Linux checks O_DIRECTORY first */
	/* dirlink/up: the final component is a symlink too. */
	EXPECT_ERR(open(P("dirlink/up"), O_RDONLY | O_NOFOLLOW), ELOOP);
	CHECK(write_file(P("sub/real"), "real\n", 0644) == 0);
	int rfd = MUST(open(P("dirlink/real"), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
	close(rfd);
	int pfd = MUST(open(P("s"), O_PATH | O_NOFOLLOW | O_CLOEXEC));
	CHECK(fstat(pfd, &st) == 0 && S_ISLNK(st.st_mode));
	close(pfd);
	puts("O_NOFOLLOW: ELOOP on a final symlink (ENOTDIR with O_DIRECTORY), symlinks earlier in the path are followed; O_PATH|O_NOFOLLOW opens the link");

	/* c0 -> f, c1 -> c0, ..., c40 -> c39: opening cN follows N+1 links. */
	for (int i = 0; i <= 40; i++) {
		if (i == 0)
			snprintf(buf, sizeof buf, "f");
		else
			snprintf(buf, sizeof buf, "c%d", i - 1);
		CHECK(symlink(buf, P("c%d", i)) == 0);
	}
	int fd = open(P("c39"), O_RDONLY | O_CLOEXEC);
	CHECKF(fd >= 0, "a chain of 40 links must resolve");
	if (fd >= 0)
		close(fd);
	CHECK(stat(P("c39"), &st) == 0 && S_ISREG(st.st_mode));
	EXPECT_ERR(open(P("c40"), O_RDONLY), ELOOP);
	EXPECT_ERR(stat(P("c40"), &st), ELOOP);
	CHECK(lstat(P("c40"), &st) == 0);
	memset(buf, 0, sizeof buf);
	CHECK(readlink(P("c40"), buf, sizeof buf) == 3 && strcmp(buf, "c39") == 0);
	puts("a chain of 40 symlinks resolves, 41 gives ELOOP");
}

int main(void)
{
	make_tmp("links");
	hard_links();
	sym_links();
	loops();
	cleanup_tmp();
	return check_done("links");
}
