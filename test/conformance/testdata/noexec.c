/*
 * noexec: a file on a noexec mount cannot be executed. argv[1] is a
 * directory on a tmpfs mounted noexec,nosuid,nodev (the test mounts one
 * on the host for the native run and asks the sandbox for the same with
 * `--mount type=tmpfs,...,noexec,nosuid,nodev`); without it (or with the
 * suite's usual arguments, which are not absolute paths) the program checks
 * only that execve of a regular executable file still works.
 * A copy of this program is made there with mode 0755: execve gives
 * EACCES, access(X_OK) EACCES, mmap with PROT_EXEC EPERM, reading and
 * mapping it readable work, and statvfs reports the mount's flags.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

static int copy_self(const char *dst)
{
	int in = open("/proc/self/exe", O_RDONLY);
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (in < 0 || out < 0)
		return -1;
	char buf[65536];
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	close(out);
	return n < 0 ? -1 : 0;
}

/* run execs path with the argument "child" in a child and says how it
 * went: the exit status, or the errno of a failed execve. */
static void run(const char *what, const char *path)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		exit(2);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = {(char *)path, "child", NULL};
		execv(path, argv);
		int e = errno;
		write(p[1], &e, sizeof e);
		_exit(127);
	}
	close(p[1]);
	int e = 0;
	ssize_t n = read(p[0], &e, sizeof e);
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	if (n == sizeof e)
		printf("%s: execve %s\n", what, errname(e));
	else
		printf("%s: ran, exit %d\n", what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return 7;
	/* fexecve-like: /proc/self/exe leads to the program's own file, on a
	 * mount that allows exec. */
	run("self", "/proc/self/exe");
	if (argc < 2 || argv[1][0] != '/') {
		printf("no noexec directory given\n");
		return check_done("noexec");
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/prog", argv[1]);
	CHECK(copy_self(path) == 0);
	run("noexec", path);
	printf("access X_OK: %s\n", access(path, X_OK) == 0 ? "ok" : errname(errno));
	printf("access R_OK: %s\n", access(path, R_OK) == 0 ? "ok" : errname(errno));
	int fd = open(path, O_RDONLY);
	char c;
	printf("read: %s\n", fd >= 0 && read(fd, &c, 1) == 1 ? "ok" : errname(errno));
	void *m = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	printf("mmap PROT_EXEC: %s\n", m == MAP_FAILED ? errname(errno) : "mapped");
	m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	printf("mmap PROT_READ: %s\n", m == MAP_FAILED ? errname(errno) : "mapped");
	struct statvfs sv;
	if (statvfs(argv[1], &sv) == 0)
		printf("statvfs: noexec=%d nosuid=%d nodev=%d rdonly=%d\n", !!(sv.f_flag & ST_NOEXEC),
		       !!(sv.f_flag & ST_NOSUID), !!(sv.f_flag & ST_NODEV), !!(sv.f_flag & ST_RDONLY));
	unlink(path);
	return check_done("noexec");
}
