/*
 * cwd: chdir/fchdir/getcwd in a scratch directory under /tmp, across
 * symlinks (getcwd names the physical directory, ".." leaves it
 * physically), relative lookups from the new directory, cwd inherited by a
 * child, chroot in a child ("/" and "/.." are the new root), and the errors
 * (ENOENT, ENOTDIR, ERANGE, EBADF); threads share the cwd, umask and fd
 * table until one unshares them (unshare CLONE_FS, CLONE_FILES). Paths are
 * printed relative to the scratch directory.
 */
#include "check.h"
#include "fs.h"
#include <pthread.h>
#include <sched.h>

static char cwd[PATH_MAX];

static const char *where(void)
{
	if (!getcwd(cwd, sizeof cwd))
		return errname(errno);
	return rel(cwd);
}

static char sub_path[PATH_MAX];
static int thread_fd;

static void *chdir_thread(void *arg)
{
	(void)arg;
	return (void *)(long)chdir(sub_path);
}

static void *unshare_thread(void *arg)
{
	(void)arg;
	if (unshare(CLONE_FS) != 0)
		return (void *)1;
	if (chdir(sub_path) != 0)
		return (void *)2;
	umask(077);
	if (unshare(CLONE_FILES) != 0)
		return (void *)3;
	if (close(thread_fd) != 0)
		return (void *)4;
	if (fcntl(thread_fd, F_GETFD) != -1)
		return (void *)5;
	return NULL;
}

/* threads: a thread's chdir moves the whole process, until the thread
 * unshares CLONE_FS; after CLONE_FILES its close is its own. */
static void threads(void)
{
	void *ret;
	pthread_t th;
	snprintf(sub_path, sizeof sub_path, "%s", P("real/sub"));
	CHECK(chdir(P("real")) == 0);
	CHECK(pthread_create(&th, NULL, chdir_thread, NULL) == 0);
	CHECK(pthread_join(th, &ret) == 0 && ret == NULL);
	printf("thread's chdir: main in %s\n", where());
	CHECK(chdir(P("real")) == 0);
	mode_t old = umask(022);
	thread_fd = MUST(open(P("real/marker"), O_RDONLY | O_CLOEXEC));
	CHECK(pthread_create(&th, NULL, unshare_thread, NULL) == 0);
	CHECK(pthread_join(th, &ret) == 0);
	CHECKF(ret == NULL, "unshare thread step %ld", (long)ret);
	printf("after unshare(CLONE_FS) and chdir in a thread: main in %s\n", where());
	CHECK(umask(old) == 022);
	CHECK(fcntl(thread_fd, F_GETFD) == FD_CLOEXEC);
	close(thread_fd);
	puts("unshare(CLONE_FILES): the thread's close left the main thread's fd open");
}

int main(void)
{
	make_tmp("cwd");
	CHECK(mkdir(P("real"), 0755) == 0);
	CHECK(mkdir(P("real/sub"), 0755) == 0);
	CHECK(mkdir(P("real/sub/deeper"), 0755) == 0);
	CHECK(write_file(P("real/sub/file"), "in sub\n", 0644) == 0);
	CHECK(write_file(P("real/marker"), "in real\n", 0644) == 0);
	CHECK(symlink("real/sub", P("link")) == 0);
	CHECK(symlink("../../../link", P("real/sub/deeper/back")) == 0);

	CHECK(chdir(tmp_root) == 0);
	printf("chdir(scratch): getcwd %s\n", where());
	CHECK(chdir("link") == 0);
	CHECK(strcmp(where(), "real/sub") == 0);
	printf("chdir(link -> real/sub): getcwd %s\n", where());
	CHECK(file_is("file", "in sub\n"));
	CHECK(chdir("..") == 0);
	CHECK(strcmp(where(), "real") == 0);
	printf("chdir(..): getcwd %s (the physical parent)\n", where());
	CHECK(file_is("marker", "in real\n"));
	CHECK(chdir("sub/deeper/back") == 0);
	CHECK(strcmp(where(), "real/sub") == 0);
	printf("chdir(sub/deeper/back -> ../../../link): getcwd %s\n", where());
	CHECK(chdir("./deeper/../../sub/./deeper") == 0);
	CHECK(strcmp(where(), "real/sub/deeper") == 0);
	printf("chdir(./deeper/../../sub/./deeper): getcwd %s\n", where());

	/* The raw syscall returns the length including the NUL. */
	char buf[PATH_MAX];
	long n = syscall(SYS_getcwd, buf, sizeof buf);
	CHECK(n == (long)strlen(buf) + 1);
	CHECK(strcmp(buf, cwd) == 0);
	EXPECT_ERR(syscall(SYS_getcwd, buf, (size_t)1), ERANGE);
	EXPECT_ERR(syscall(SYS_getcwd, buf, (size_t)(n - 1)), ERANGE);
	CHECK(syscall(SYS_getcwd, buf, (size_t)n) == n);
	puts("getcwd: length with the NUL; ERANGE when it does not fit");

	/* fchdir, also through an O_PATH descriptor. */
	int top = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	int sub = MUST(open(P("link"), O_PATH | O_DIRECTORY | O_CLOEXEC));
	int file = MUST(open(P("real/marker"), O_RDONLY | O_CLOEXEC));
	CHECK(fchdir(top) == 0);
	CHECK(strcmp(where(), "$TMP") == 0);
	CHECK(fchdir(sub) == 0);
	CHECK(strcmp(where(), "real/sub") == 0);
	EXPECT_ERR(fchdir(file), ENOTDIR);
	EXPECT_ERR(fchdir(999), EBADF);
	CHECK(strcmp(where(), "real/sub") == 0);
	puts("fchdir: a directory fd, an O_PATH fd; ENOTDIR for a file, EBADF");

	EXPECT_ERR(chdir(P("nothing")), ENOENT);
	EXPECT_ERR(chdir(P("real/marker")), ENOTDIR);
	EXPECT_ERR(chdir(P("real/marker/x")), ENOTDIR);
	EXPECT_ERR(chdir(""), ENOENT);
	CHECK(strcmp(where(), "real/sub") == 0);
	puts("chdir errors: ENOENT, ENOTDIR, ENOENT for \"\"; cwd unchanged");

	/* A child inherits the cwd; its chdir does not move the parent. */
	pid_t pid = fork_child();
	if (pid == 0) {
		CHECK(strcmp(where(), "real/sub") == 0);
		CHECK(chdir("..") == 0);
		child_done();
	}
	CHECK(wait_status(pid) == 0);
	CHECK(strcmp(where(), "real/sub") == 0);
	puts("fork: the child starts in the parent's cwd; its chdir is its own");

	/* chroot in a child: the new root is "/", ".." stops there. */
	pid = fork_child();
	if (pid == 0) {
		CHECK(chdir(P("real")) == 0);
		CHECK(chroot(".") == 0);
		CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0);
		CHECK(file_is("/marker", "in real\n"));
		CHECK(file_is("/sub/file", "in sub\n"));
		CHECK(file_is("/../../../marker", "in real\n"));
		struct stat root, up;
		CHECK(stat("/", &root) == 0 && stat("/..", &up) == 0 && root.st_ino == up.st_ino);
		CHECK(chdir("/sub/../..") == 0);
		CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0);
		CHECK(access("/real", F_OK) == -1 && errno == ENOENT);
		printf("chroot(real): getcwd %s, /.. is /, /marker readable\n", cwd);
		child_done();
	}
	CHECK(wait_status(pid) == 0);
	EXPECT_ERR(chroot(P("nothing")), ENOENT);
	EXPECT_ERR(chroot(P("real/marker")), ENOTDIR);

	threads();

	close(top);
	close(sub);
	close(file);
	cleanup_tmp();
	return check_done("cwd");
}
