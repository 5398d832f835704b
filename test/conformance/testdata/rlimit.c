/* rlimit: getrlimit/prlimit64 report sane limits; a lowered soft limit reads
 * back; prlimit64 reads and sets another process's limits when the caller
 * owns it or holds CAP_SYS_RESOURCE (Linux's check_prlimit_permission), and
 * an unprivileged caller may not raise a hard limit. */
#include "check.h"
#include <sys/resource.h>
#include <sys/wait.h>

/* has_sys_resource reports whether CAP_SYS_RESOURCE is in our effective
 * set (a container's root may lack it). */
static int has_sys_resource(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long long eff = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> 24) & 1;
}

/* other checks prlimit64 on a child process: from a privileged parent, and
 * from an unprivileged child on its root parent and on itself. */
static void other(void)
{
	int go[2], done[2];
	MUST(pipe(go));
	MUST(pipe(done));
	pid_t c = fork();
	if (c == 0) {
		char b;
		close(go[1]);
		close(done[0]);
		if (read(go[0], &b, 1) != 1)
			_exit(2);
		/* The parent set our soft limit to 40. */
		struct rlimit r;
		if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur != 40)
			_exit(3);
		/* Unprivileged: the root parent is out of reach, we are not. */
		if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
			_exit(4);
		errno = 0;
		if (prlimit(getppid(), RLIMIT_NOFILE, NULL, &r) != -1 || errno != EPERM)
			_exit(5);
		if (prlimit(getpid(), RLIMIT_NOFILE, NULL, &r) != 0 || r.rlim_cur != 40)
			_exit(6);
		struct rlimit up = {r.rlim_max, r.rlim_max};
		if (r.rlim_max != RLIM_INFINITY) {
			up.rlim_max = r.rlim_max + 1;
			errno = 0;
			if (prlimit(0, RLIMIT_NOFILE, &up, NULL) != -1 || errno != EPERM)
				_exit(7);
			up.rlim_max = r.rlim_max;
		}
		/* Raising the soft limit up to the hard one needs nothing. */
		if (setrlimit(RLIMIT_NOFILE, &up) != 0)
			_exit(8);
		if (write(done[1], "x", 1) != 1)
			_exit(9);
		_exit(0);
	}
	MUST(c);
	close(go[0]);
	close(done[1]);
	struct rlimit r, old;
	CHECK(prlimit(c, RLIMIT_NOFILE, NULL, &r) == 0);
	struct rlimit set = {40, r.rlim_max};
	CHECK(prlimit(c, RLIMIT_NOFILE, &set, &old) == 0);
	CHECK(old.rlim_cur == r.rlim_cur && old.rlim_max == r.rlim_max);
	CHECK(prlimit(c, RLIMIT_NOFILE, NULL, &r) == 0 && r.rlim_cur == 40);
	/* A bad new limit is refused before the target is looked up. */
	struct rlimit bad = {2, 1};
	EXPECT_ERR(prlimit(c, RLIMIT_NOFILE, &bad, NULL), EINVAL);
	CHECK(write(go[1], "x", 1) == 1);
	char b;
	CHECK(read(done[0], &b, 1) == 1);
	/* The child, now of other ids, raised its soft limit to its hard one
	 * and exited; its zombie keeps its limits, and only CAP_SYS_RESOURCE
	 * lets us see them. */
	siginfo_t si;
	CHECK(waitid(P_PID, c, &si, WEXITED | WNOWAIT) == 0);
	if (has_sys_resource())
		CHECK(prlimit(c, RLIMIT_NOFILE, NULL, &r) == 0 && r.rlim_cur == r.rlim_max);
	else
		EXPECT_ERR(prlimit(c, RLIMIT_NOFILE, NULL, &r), EPERM);
	int st;
	CHECK(waitpid(c, &st, 0) == c);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	EXPECT_ERR(prlimit(c, RLIMIT_NOFILE, NULL, &r), ESRCH);
	close(go[1]);
	close(done[0]);
	puts("prlimit on another process: ok");
}

int main(void)
{
	struct rlimit r, p;
	CHECK(getrlimit(RLIMIT_NOFILE, &r) == 0);
	CHECK(r.rlim_cur >= 64 && r.rlim_cur <= r.rlim_max);
	CHECK(prlimit(0, RLIMIT_NOFILE, NULL, &p) == 0);
	CHECK(p.rlim_cur == r.rlim_cur && p.rlim_max == r.rlim_max);
	CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &p) == 0);
	CHECK(p.rlim_cur == r.rlim_cur);
	CHECK(getrlimit(RLIMIT_STACK, &r) == 0);
	CHECK(r.rlim_cur >= 64 * 1024 && r.rlim_cur <= r.rlim_max);
	CHECK(getrlimit(RLIMIT_AS, &r) == 0 && r.rlim_cur <= r.rlim_max);

	/* Lower the soft NOFILE limit and read it back. */
	CHECK(getrlimit(RLIMIT_NOFILE, &r) == 0);
	struct rlimit lower = {32, r.rlim_max};
	CHECK(setrlimit(RLIMIT_NOFILE, &lower) == 0);
	CHECK(getrlimit(RLIMIT_NOFILE, &p) == 0 && p.rlim_cur == 32 && p.rlim_max == r.rlim_max);
	/* A soft limit above the hard one is refused. */
	if (r.rlim_max != RLIM_INFINITY) {
		struct rlimit above = {r.rlim_max + 1, r.rlim_max};
		EXPECT_ERR(setrlimit(RLIMIT_NOFILE, &above), EINVAL);
	}
	EXPECT_ERR(syscall(SYS_prlimit64, 0, 9999, NULL, &p), EINVAL);
	EXPECT_ERR(getrlimit(9999, &p), EINVAL);
	puts("rlimits: ok");
	other();
	return check_done("rlimit");
}
