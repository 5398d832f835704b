/*
 * creds: user and group ids (getresuid/getresgid, setresuid/setresgid,
 * setgroups/getgroups; a child that drops root can no longer regain it, nor
 * signal root's processes), resource limits (getrlimit, setrlimit,
 * prlimit64, RLIMIT_NOFILE enforced, inherited by children), umask, getcwd
 * and chdir, times and getrusage (own and children's CPU time), sysinfo,
 * sched_getaffinity/sched_setaffinity, sched_yield and the scheduler
 * getters.
 *
 * Run as root (the sandboxed comparison always is) it also checks what only
 * root may do; as another user it checks the refusals only.
 */
#include "check.h"
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int wait_code(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

/* A bit per failed expectation, for children that report by exit status. */
#define EXPECTBIT(cond, bit) \
	do {                 \
		if (!(cond)) \
			bad |= (bit); \
	} while (0)

static int drop_privileges(pid_t root_pid)
{
	int bad = 0;
	gid_t groups[] = {1, 2, 3};
	EXPECTBIT(setgroups(3, groups) == 0, 1 << 0);
	gid_t got[16];
	int n = getgroups(16, got);
	EXPECTBIT(n == 3 && got[0] == 1 && got[1] == 2 && got[2] == 3, 1 << 1);
	EXPECTBIT(getgroups(1, got) == -1 && errno == EINVAL, 1 << 2);
	EXPECTBIT(getgroups(0, got) == 3, 1 << 2);
	EXPECTBIT(setresgid(100, 101, 102) == 0, 1 << 3);
	gid_t rg, eg, sg;
	EXPECTBIT(getresgid(&rg, &eg, &sg) == 0 && rg == 100 && eg == 101 && sg == 102, 1 << 4);
	EXPECTBIT(getgid() == 100 && getegid() == 101, 1 << 4);
	EXPECTBIT(setresuid(1000, 1001, 1002) == 0, 1 << 5);
	uid_t ru, eu, su;
	EXPECTBIT(getresuid(&ru, &eu, &su) == 0 && ru == 1000 && eu == 1001 && su == 1002, 1 << 6);
	EXPECTBIT(getuid() == 1000 && geteuid() == 1001, 1 << 6);
	/* No way back. */
	EXPECTBIT(setuid(0) == -1 && errno == EPERM, 1 << 7);
	EXPECTBIT(setresuid(0, 0, 0) == -1 && errno == EPERM, 1 << 7);
	EXPECTBIT(seteuid(0) == -1 && errno == EPERM, 1 << 7);
	EXPECTBIT(setgid(0) == -1 && errno == EPERM, 1 << 8);
	EXPECTBIT(setgroups(0, NULL) == -1 && errno == EPERM, 1 << 8);
	/* An unprivileged process may switch among its real, effective and saved ids. */
	EXPECTBIT(seteuid(1002) == 0 && geteuid() == 1002, 1 << 9);
	EXPECTBIT(seteuid(1000) == 0 && geteuid() == 1000, 1 << 9);
	EXPECTBIT(setresuid(-1, 1001, -1) == 0 && geteuid() == 1001, 1 << 9);
	EXPECTBIT(setuid(1000) == 0 && getuid() == 1000 && geteuid() == 1000, 1 << 9);
	/* Nor raise a hard limit, nor signal root's processes. */
	struct rlimit r;
	getrlimit(RLIMIT_NOFILE, &r);
	struct rlimit lower = {r.rlim_cur > 64 ? 64 : r.rlim_cur, r.rlim_cur > 64 ? 64 : r.rlim_cur};
	EXPECTBIT(setrlimit(RLIMIT_NOFILE, &lower) == 0, 1 << 10);
	struct rlimit higher = {lower.rlim_cur, lower.rlim_max + 1};
	EXPECTBIT(setrlimit(RLIMIT_NOFILE, &higher) == -1 && errno == EPERM, 1 << 10);
	EXPECTBIT(kill(root_pid, 0) == -1 && errno == EPERM, 1 << 11);
	EXPECTBIT(kill(root_pid, SIGUSR1) == -1 && errno == EPERM, 1 << 11);
	return bad;
}

static void ids(void)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	CHECK(getresuid(&ru, &eu, &su) == 0 && ru == getuid() && eu == geteuid());
	CHECK(getresgid(&rg, &eg, &sg) == 0 && rg == getgid() && eg == getegid());
	int n = getgroups(0, NULL);
	CHECK(n >= 0);
	EXPECT_ERR(syscall(SYS_getresuid, (uid_t *)8, &eu, &su), EFAULT);
	int root = geteuid() == 0;
	printf("euid 0: %s\n", yesno(root));
	if (root) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0)
			_exit(drop_privileges(getppid()));
		int code = wait_code(pid);
		CHECKF(code == 0, "the child that dropped root: failed checks %#x", code);
		/* The parent kept its ids. */
		CHECK(getuid() == 0 && geteuid() == 0);
		puts("root child: setgroups, setresgid, setresuid; then setuid(0) EPERM, kill of root EPERM");
	} else {
		EXPECT_ERR(setuid(0), EPERM);
		gid_t g = 0;
		EXPECT_ERR(setgroups(1, &g), EPERM);
	}
}

static void limits(void)
{
	struct rlimit r, p;
	CHECK(getrlimit(RLIMIT_NOFILE, &r) == 0);
	CHECK(syscall(SYS_prlimit64, getpid(), RLIMIT_NOFILE, NULL, &p) == 0);
	CHECK(p.rlim_cur == r.rlim_cur && p.rlim_max == r.rlim_max);
	/* prlimit64 sets and returns the old value at once. */
	struct rlimit twenty = {20, r.rlim_max}, old;
	CHECK(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &twenty, &old) == 0);
	CHECK(old.rlim_cur == r.rlim_cur);
	/* Descriptors at or above the soft limit cannot be created. */
	int last = -1, fd;
	while ((fd = dup(0)) >= 0)
		last = fd;
	CHECK(errno == EMFILE);
	CHECK(last == 19);
	EXPECT_ERR(fcntl(0, F_DUPFD, 20), EINVAL);
	EXPECT_ERR(dup2(0, 20), EBADF);
	for (fd = 3; fd <= last; fd++)
		close(fd);
	/* Inherited by a child. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit c;
		getrlimit(RLIMIT_NOFILE, &c);
		_exit(c.rlim_cur == 20 ? 0 : 1);
	}
	CHECK(wait_code(pid) == 0);
	CHECK(prlimit(pid, RLIMIT_NOFILE, NULL, &p) == -1 && errno == ESRCH);
	CHECK(setrlimit(RLIMIT_NOFILE, &r) == 0);
	struct rlimit bad = {10, 5};
	EXPECT_ERR(setrlimit(RLIMIT_NOFILE, &bad), EINVAL);
	EXPECT_ERR(syscall(SYS_prlimit64, 0, RLIM_NLIMITS, NULL, &p), EINVAL);
	CHECK(getrlimit(RLIMIT_CPU, &p) == 0 && p.rlim_cur <= p.rlim_max);
	CHECK(getrlimit(RLIMIT_NPROC, &p) == 0 && p.rlim_cur > 0);
	CHECK(getrlimit(RLIMIT_CORE, &p) == 0 && p.rlim_cur <= p.rlim_max);
	puts("RLIMIT_NOFILE 20: fds 3..19 then EMFILE; inherited by a child; prlimit64 old+new");
}

static void mask_and_cwd(void)
{
	mode_t first = umask(022);
	CHECK(umask(077) == 022);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0)
		_exit(umask(0) == 077 ? 0 : 1);
	CHECK(wait_code(pid) == 0);
	CHECK(umask(01777) == 077);
	CHECK(umask(first) == 0777); /* only the permission bits are kept */
	puts("umask: returns the previous mask, inherited, masked to 0777");

	char buf[4096];
	char *saved = getcwd(buf, sizeof buf);
	CHECK(saved != NULL && buf[0] == '/');
	int here = open(".", O_RDONLY | O_DIRECTORY);
	CHECK(here >= 0);
	CHECK(chdir("/usr/lib") == 0);
	CHECK(getcwd(buf, sizeof buf) && strcmp(buf, "/usr/lib") == 0);
	CHECK(chdir("..") == 0);
	CHECK(getcwd(buf, sizeof buf) && strcmp(buf, "/usr") == 0);
	CHECK(chdir("../../../..") == 0);
	CHECK(getcwd(buf, sizeof buf) && strcmp(buf, "/") == 0);
	CHECK(chdir("etc") == 0);
	CHECK(access("passwd", R_OK) == 0); /* relative paths follow */
	CHECK(getcwd(buf, sizeof buf) && strcmp(buf, "/etc") == 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		char b[64];
		_exit(getcwd(b, sizeof b) && strcmp(b, "/etc") == 0 ? 0 : 1);
	}
	CHECK(wait_code(pid) == 0);
	EXPECT_ERR(syscall(SYS_getcwd, buf, 2), ERANGE);
	EXPECT_ERR(syscall(SYS_getcwd, buf, 0), ERANGE);
	CHECK(syscall(SYS_getcwd, buf, 5) == 5 && strcmp(buf, "/etc") == 0); /* returns the length with the NUL */
	EXPECT_ERR(chdir("/nonexistent"), ENOENT);
	EXPECT_ERR(chdir("/etc/passwd"), ENOTDIR);
	EXPECT_ERR(chdir(""), ENOENT);
	int etc = open("/usr/lib", O_RDONLY | O_DIRECTORY);
	CHECK(fchdir(etc) == 0);
	CHECK(getcwd(buf, sizeof buf) && strcmp(buf, "/usr/lib") == 0);
	close(etc);
	int file = open("/etc/passwd", O_RDONLY);
	EXPECT_ERR(fchdir(file), ENOTDIR);
	close(file);
	EXPECT_ERR(fchdir(999), EBADF);
	CHECK(fchdir(here) == 0);
	close(here);
	puts("getcwd/chdir/fchdir: /usr/lib, /usr, /, /etc; ERANGE, ENOENT, ENOTDIR, EBADF");
}

/* spin burns at least ms of CPU time. */
static void spin(int ms)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	long deadline = now_ms() + 10000;
	do {
		for (volatile int i = 0; i < 100000; i++)
			;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms && now_ms() < deadline);
}

static void usage(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	CHECK(hz == 100);
	struct tms t0, t1;
	times(&t0);
	spin(50);
	errno = 0;
	clock_t r = times(&t1);
	CHECK(r != (clock_t)-1 || errno == 0);
	CHECK(t1.tms_utime + t1.tms_stime >= t0.tms_utime + t0.tms_stime + 2);
	/* Spinning is not children's time. (Children waited for earlier may
	 * have been charged a tick or two: in the sandbox a process's CPU time
	 * includes what its traps cost the host.) */
	CHECK(t1.tms_cutime == t0.tms_cutime && t1.tms_cstime == t0.tms_cstime);

	struct rusage ru;
	CHECK(getrusage(RUSAGE_SELF, &ru) == 0);
	long self_ms = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 +
		       ru.ru_stime.tv_usec / 1000;
	CHECK(self_ms >= 40);
	CHECK(ru.ru_maxrss > 0);
	CHECK(getrusage(RUSAGE_THREAD, &ru) == 0);
	CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0);
	EXPECT_ERR(getrusage(99, &ru), EINVAL);

	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		spin(60);
		_exit(0);
	}
	struct rusage wru;
	int st;
	CHECK(wait4(pid, &st, 0, &wru) == pid);
	long child_ms = wru.ru_utime.tv_sec * 1000 + wru.ru_utime.tv_usec / 1000 + wru.ru_stime.tv_sec * 1000 +
			wru.ru_stime.tv_usec / 1000;
	CHECK(child_ms >= 50);
	CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0);
	long children_ms = ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + ru.ru_stime.tv_sec * 1000 +
			   ru.ru_stime.tv_usec / 1000;
	CHECK(children_ms >= 50);
	CHECK(times(&t1) != (clock_t)-1 || errno == 0);
	CHECK(t1.tms_cutime + t1.tms_cstime >= 4);
	puts("times, getrusage: own CPU time after spinning; a child's once waited for");

	struct sysinfo si;
	CHECK(sysinfo(&si) == 0);
	CHECK(si.uptime >= 0); /* (a sandbox may count from its own start) */
	CHECK(si.totalram > 0 && si.mem_unit >= 1 && si.freeram <= si.totalram);
	CHECK(si.procs >= 1);
	CHECK(si.totalswap >= si.freeswap);
	EXPECT_ERR(sysinfo((struct sysinfo *)8), EFAULT);
	puts("sysinfo: uptime, memory and process count are sane");
}

static void sched(void)
{
	cpu_set_t set, one, got;
	CPU_ZERO(&set);
	CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
	int n = CPU_COUNT(&set);
	CHECK(n >= 1);
	CHECK(sysconf(_SC_NPROCESSORS_ONLN) >= 1);
	long bytes = syscall(SYS_sched_getaffinity, 0, sizeof set, &got);
	CHECK(bytes >= 8 && bytes <= (long)sizeof set && bytes % 8 == 0);
	EXPECT_ERR(syscall(SYS_sched_getaffinity, 0, 4, &got), EINVAL); /* smaller than the kernel's mask */
	int first = -1;
	for (int i = 0; i < CPU_SETSIZE && first < 0; i++)
		if (CPU_ISSET(i, &set))
			first = i;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
	CPU_ZERO(&got);
	CHECK(sched_getaffinity(0, sizeof got, &got) == 0 && CPU_COUNT(&got) == 1 && CPU_ISSET(first, &got));
	CHECK(sched_getcpu() == first || sched_getcpu() == -1);
	/* A child inherits it. */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		cpu_set_t c;
		CPU_ZERO(&c);
		sched_getaffinity(0, sizeof c, &c);
		_exit(CPU_COUNT(&c) == 1 && CPU_ISSET(first, &c) ? 0 : 1);
	}
	CHECK(wait_code(pid) == 0);
	CPU_ZERO(&one);
	EXPECT_ERR(sched_setaffinity(0, sizeof one, &one), EINVAL);
	CHECK(sched_setaffinity(0, sizeof set, &set) == 0);
	CHECK(sched_getaffinity(0, sizeof got, &got) == 0 && CPU_EQUAL(&got, &set));
	EXPECT_ERR(sched_getaffinity(0x3ffffff0, sizeof got, &got), ESRCH);

	CHECK(sched_yield() == 0);
	/* (Raw syscalls: musl's wrappers return ENOSYS by design.) */
	CHECK(syscall(SYS_sched_getscheduler, 0) == SCHED_OTHER);
	struct sched_param sp = {.sched_priority = 7};
	CHECK(syscall(SYS_sched_getparam, 0, &sp) == 0 && sp.sched_priority == 0);
	CHECK(sched_get_priority_max(SCHED_OTHER) == 0 && sched_get_priority_min(SCHED_OTHER) == 0);
	CHECK(sched_get_priority_max(SCHED_FIFO) == 99 && sched_get_priority_min(SCHED_FIFO) == 1);
	puts("sched_{get,set}affinity: pinned to one CPU, inherited, restored; sched_yield; SCHED_OTHER");
}

int main(void)
{
	ids();
	limits();
	mask_and_cwd();
	usage();
	sched();
	return check_done("creds");
}
