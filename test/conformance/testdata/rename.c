/*
 * rename: rename/renameat/renameat2 in a scratch directory under /tmp:
 * replacing files and empty directories, moving directories (their ".."
 * and the parents' link counts follow), hard links to the same inode,
 * RENAME_NOREPLACE and RENAME_EXCHANGE, and the errors: ENOENT, ENOTDIR,
 * EISDIR, ENOTEMPTY, EEXIST, EINVAL (a directory into its own
 * subdirectory, bad flags), EBUSY ("." and ".."), EXDEV (across mounts:
 * into /proc, which is its own mount natively and in the sandbox), EBADF.
 */
#include "check.h"
#include "fs.h"

static long nlink_of(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 ? (long)st.st_nlink : -1;
}

static int is_dir(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_reg(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void files(void)
{
	CHECK(write_file(P("one"), "one\n", 0644) == 0);
	CHECK(write_file(P("two"), "two\n", 0600) == 0);
	struct stat before, after;
	CHECK(stat(P("one"), &before) == 0);
	CHECK(rename(P("one"), P("three")) == 0);
	CHECK(!exists(P("one")));
	CHECK(file_is(P("three"), "one\n"));
	CHECK(stat(P("three"), &after) == 0 && after.st_ino == before.st_ino);
	puts("rename to a new name: same inode, old name gone");

	CHECK(rename(P("three"), P("two")) == 0);
	CHECK(!exists(P("three")));
	CHECK(file_is(P("two"), "one\n"));
	CHECK(stat(P("two"), &after) == 0 && (after.st_mode & 0777) == 0644);
	puts("rename over an existing file replaces it (mode of the moved file)");

	/* An open descriptor of the replaced file still reads the old data. */
	CHECK(write_file(P("old"), "old data\n", 0644) == 0);
	CHECK(write_file(P("new"), "new data\n", 0644) == 0);
	int fd = MUST(open(P("old"), O_RDONLY | O_CLOEXEC));
	CHECK(rename(P("new"), P("old")) == 0);
	char buf[32] = {0};
	CHECK(read(fd, buf, sizeof buf) == 9 && strcmp(buf, "old data\n") == 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0);
	close(fd);
	CHECK(file_is(P("old"), "new data\n"));
	puts("a descriptor of the replaced file keeps the old contents, nlink 0");

	/* Two names of one inode: rename does nothing and succeeds. */
	CHECK(link(P("two"), P("hard")) == 0);
	CHECK(rename(P("two"), P("hard")) == 0);
	CHECK(exists(P("two")) && exists(P("hard")));
	CHECK(nlink_of(P("two")) == 2);
	CHECK(rename(P("two"), P("two")) == 0);
	puts("rename between hard links of one inode: success, both names stay");

	/* A symlink moves as itself. */
	CHECK(symlink("hard", P("sym")) == 0);
	CHECK(rename(P("sym"), P("sym2")) == 0);
	CHECK(lstat(P("sym2"), &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(is_reg(P("hard")));
	char target[16] = {0};
	CHECK(readlink(P("sym2"), target, sizeof target - 1) == 4 && strcmp(target, "hard") == 0);
	puts("rename of a symlink moves the link, not its target");
}

static void directories(void)
{
	CHECK(mkdir(P("d1"), 0755) == 0);
	CHECK(mkdir(P("d1/sub"), 0755) == 0);
	CHECK(write_file(P("d1/x"), "x\n", 0644) == 0);
	CHECK(mkdir(P("empty"), 0755) == 0);
	CHECK(mkdir(P("full"), 0755) == 0);
	CHECK(write_file(P("full/y"), "y\n", 0644) == 0);
	CHECK(write_file(P("file"), "file\n", 0644) == 0);

	EXPECT_ERR(rename(P("file"), P("empty")), EISDIR);
	EXPECT_ERR(rename(P("empty"), P("file")), ENOTDIR);
	EXPECT_ERR(rename(P("d1"), P("full")), ENOTEMPTY);
	EXPECT_ERR(rename(P("d1"), P("d1/sub/inside")), EINVAL);
	EXPECT_ERR(rename(P("d1"), P("d1/inside")), EINVAL);
	EXPECT_ERR(rename(P("nothing"), P("x")), ENOENT);
	EXPECT_ERR(rename(P("file"), P("nodir/x")), ENOENT);
	EXPECT_ERR(rename(P("file"), P("file/x")), ENOTDIR);
	EXPECT_ERR(rename(P("file/"), P("x")), ENOTDIR);
	EXPECT_ERR(rename(P("d1/."), P("x")), EBUSY);
	EXPECT_ERR(rename(P("d1/.."), P("x")), EBUSY);
	EXPECT_ERR(rename("", P("x")), ENOENT);
	puts("rename errors: EISDIR, ENOTDIR, ENOTEMPTY, EINVAL into its own subdirectory, ENOENT, EBUSY for . and ..");

	/* Over an empty directory, then into another directory. */
	long top = nlink_of(tmp_root);
	CHECK(rename(P("d1"), P("empty")) == 0);
	CHECK(!exists(P("d1")));
	CHECK(file_is(P("empty/x"), "x\n"));
	CHECK(nlink_of(tmp_root) == top - 1);
	CHECK(rename(P("empty/"), P("moved/")) == 0);
	CHECK(is_dir(P("moved/sub")));
	long full = nlink_of(P("full"));
	CHECK(rename(P("moved"), P("full/moved")) == 0);
	CHECK(nlink_of(P("full")) == full + 1);
	CHECK(nlink_of(tmp_root) == top - 2);
	struct stat up, parent;
	CHECK(stat(P("full/moved/.."), &up) == 0 && stat(P("full"), &parent) == 0);
	CHECK(up.st_ino == parent.st_ino);
	CHECK(file_is(P("full/moved/x"), "x\n"));
	puts("rename of directories: over an empty one, into another; \"..\" and link counts follow");
}

static void at_and_flags(void)
{
	CHECK(mkdir(P("src"), 0755) == 0);
	CHECK(mkdir(P("dst"), 0755) == 0);
	int s = MUST(open(P("src"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	int d = MUST(open(P("dst"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(write_file(P("src/a"), "a\n", 0644) == 0);
	CHECK(renameat(s, "a", d, "b") == 0);
	CHECK(file_is(P("dst/b"), "a\n"));
	EXPECT_ERR(renameat(999, "a", d, "b"), EBADF);
	EXPECT_ERR(renameat(s, "a", 999, "b"), EBADF);
	puts("renameat between two directory fds; EBADF for a bad one");

	CHECK(write_file(P("src/c"), "c\n", 0644) == 0);
	EXPECT_ERR(sys_renameat2(s, "c", d, "b", RENAME_NOREPLACE), EEXIST);
	CHECK(file_is(P("dst/b"), "a\n") && file_is(P("src/c"), "c\n"));
	CHECK(sys_renameat2(s, "c", d, "c", RENAME_NOREPLACE) == 0);
	CHECK(!exists(P("src/c")) && file_is(P("dst/c"), "c\n"));
	puts("RENAME_NOREPLACE: EEXIST over an existing name, moves to a free one");

	CHECK(mkdir(P("src/dir"), 0755) == 0);
	CHECK(write_file(P("src/dir/inner"), "inner\n", 0644) == 0);
	CHECK(sys_renameat2(d, "b", s, "dir", RENAME_EXCHANGE) == 0);
	CHECK(is_reg(P("src/dir")) && file_is(P("src/dir"), "a\n"));
	CHECK(is_dir(P("dst/b")) && file_is(P("dst/b/inner"), "inner\n"));
	CHECK(sys_renameat2(AT_FDCWD, P("src/dir"), AT_FDCWD, P("dst/c"), RENAME_EXCHANGE) == 0);
	CHECK(file_is(P("src/dir"), "c\n") && file_is(P("dst/c"), "a\n"));
	EXPECT_ERR(sys_renameat2(s, "dir", d, "nothing", RENAME_EXCHANGE), ENOENT);
	EXPECT_ERR(sys_renameat2(s, "dir", d, "c", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
	EXPECT_ERR(sys_renameat2(s, "dir", d, "c", 1 << 5), EINVAL);
	CHECK(sys_renameat2(s, "dir", d, "z", 0) == 0); /* flags 0 is rename */
	puts("RENAME_EXCHANGE swaps a file and a directory, and two files; ENOENT, EINVAL for bad flags");
	close(s);
	close(d);
}

static void exdev(void)
{
	CHECK(write_file(P("local"), "local\n", 0644) == 0);
	EXPECT_ERR(rename(P("local"), "/proc/exo-rename-test"), EXDEV);
	EXPECT_ERR(sys_renameat2(AT_FDCWD, P("local"), AT_FDCWD, "/proc/exo-rename-test", RENAME_NOREPLACE), EXDEV);
	CHECK(file_is(P("local"), "local\n"));
	puts("rename into another mount (/proc): EXDEV, the file stays");
}

int main(void)
{
	make_tmp("rename");
	files();
	directories();
	at_and_flags();
	exdev();
	cleanup_tmp();
	return check_done("rename");
}
