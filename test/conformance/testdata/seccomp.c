/*
 * seccomp: a program's own seccomp filters (seccomp(2), prctl
 * PR_SET_SECCOMP): who may attach one (no_new_privs or CAP_SYS_ADMIN),
 * which programs are refused (EINVAL), every action (ALLOW, LOG, ERRNO
 * with its data, TRAP's SIGSYS and its siginfo, TRACE and USER_NOTIF
 * without a tracer or listener, KILL_THREAD, KILL_PROCESS), the most
 * restrictive of stacked filters winning, inheritance by fork, TSYNC and
 * its refusal, strict mode, SECCOMP_GET_ACTION_AVAIL/GET_NOTIF_SIZES and
 * the Seccomp line of /proc/self/status.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* From linux/filter.h, linux/seccomp.h and linux/audit.h, which musl's
 * toolchain does not ship. */
struct sock_filter {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};
struct sock_fprog {
	unsigned short len;
	struct sock_filter *filter;
};
struct seccomp_data {
	int nr;
	uint32_t arch;
	uint64_t instruction_pointer;
	uint64_t args[6];
};
struct seccomp_notif_sizes {
	uint16_t seccomp_notif, seccomp_notif_resp, seccomp_data;
};
#define BPF_LD 0x00
#define BPF_JMP 0x05
#define BPF_RET 0x06
#define BPF_W 0x00
#define BPF_H 0x08
#define BPF_ABS 0x20
#define BPF_IND 0x40
#define BPF_JEQ 0x10
#define BPF_K 0x00
#define BPF_STMT(code, k) {(uint16_t)(code), 0, 0, (k)}
#define BPF_JUMP(code, k, jt, jf) {(uint16_t)(code), (jt), (jf), (k)}
#define SECCOMP_MODE_STRICT 1
#define SECCOMP_SET_MODE_STRICT 0
#define SECCOMP_SET_MODE_FILTER 1
#define SECCOMP_GET_ACTION_AVAIL 2
#define SECCOMP_GET_NOTIF_SIZES 3
#define SECCOMP_FILTER_FLAG_TSYNC 1u
#define SECCOMP_FILTER_FLAG_TSYNC_ESRCH 16u
#define SECCOMP_RET_KILL_PROCESS 0x80000000u
#define SECCOMP_RET_KILL_THREAD 0x00000000u
#define SECCOMP_RET_TRAP 0x00030000u
#define SECCOMP_RET_ERRNO 0x00050000u
#define SECCOMP_RET_USER_NOTIF 0x7fc00000u
#define SECCOMP_RET_TRACE 0x7ff00000u
#define SECCOMP_RET_LOG 0x7ffc0000u
#define SECCOMP_RET_ALLOW 0x7fff0000u
#define AUDIT_ARCH_X86_64 0xc000003eu
#ifndef PR_GET_SECCOMP
#define PR_GET_SECCOMP 21
#define PR_SET_SECCOMP 22
#endif
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif

#define LD_NR BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define ON(nr, action) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, (action))
#define ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static long sys_seccomp(unsigned op, unsigned flags, void *args) { return syscall(SYS_seccomp, op, flags, args); }

static long install(struct sock_filter *f, unsigned short n, unsigned flags)
{
	struct sock_fprog p = {n, f};
	return sys_seccomp(SECCOMP_SET_MODE_FILTER, flags, &p);
}

#define INSTALL(arr, flags) install((arr), sizeof(arr) / sizeof((arr)[0]), (flags))

/* status_of forks fn and returns its wait status. */
static int status_of(void (*fn)(void))
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn();
		_exit(check_failures ? 1 : 0);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	return st;
}

static int exited_ok(int st) { return WIFEXITED(st) && WEXITSTATUS(st) == 0; }

static volatile int trap_code, trap_errno, trap_nr, trap_count;
static volatile unsigned trap_arch;

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	trap_code = si->si_code;
	trap_errno = si->si_errno;
	trap_nr = si->si_syscall;
	trap_arch = si->si_arch;
	trap_count++;
}

static int status_seccomp_line(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int mode = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "Seccomp: %d", &mode) == 1)
			break;
	fclose(f);
	return mode;
}

static void actions(void)
{
	MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	struct sock_filter f[] = {
		LD_NR,
		ON(SYS_getppid, SECCOMP_RET_ERRNO | 42),
		ON(SYS_uname, SECCOMP_RET_TRAP | 7),
		ON(SYS_getuid, SECCOMP_RET_TRACE),
		ON(SYS_getgid, SECCOMP_RET_USER_NOTIF),
		ON(SYS_geteuid, SECCOMP_RET_LOG),
		ON(SYS_getegid, SECCOMP_RET_ERRNO | 5000),
		ALLOW,
	};
	MUST(INSTALL(f, 0));
	CHECK(prctl(PR_GET_SECCOMP) == 2);
	CHECK(status_seccomp_line() == 2);
	EXPECT_ERR(syscall(SYS_getppid), 42);
	EXPECT_ERR(syscall(SYS_getuid), ENOSYS);
	EXPECT_ERR(syscall(SYS_getgid), ENOSYS);
	EXPECT_ERR(syscall(SYS_getegid), 4095);
	errno = 0;
	CHECK(syscall(SYS_geteuid) >= 0);

	struct sigaction sa = {0};
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	MUST(sigaction(SIGSYS, &sa, NULL));
	struct utsname { char b[6 * 65]; } u;
	/* The syscall is rolled back: rax holds its number again. */
	CHECK(syscall(SYS_uname, &u) == SYS_uname);
	CHECKF(trap_count == 1 && trap_code == SYS_SECCOMP && trap_errno == 7 && trap_nr == SYS_uname &&
		       trap_arch == AUDIT_ARCH_X86_64,
	       "SIGSYS count %d code %d errno %d nr %d arch %#x", trap_count, trap_code, trap_errno, trap_nr, trap_arch);

	/* Inherited by a child. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(syscall(SYS_getppid) == -1 && errno == 42 && prctl(PR_GET_SECCOMP) == 2 ? 0 : 1);
	int st;
	waitpid(pid, &st, 0);
	CHECKF(exited_ok(st), "fork inherits the filter");

	/* Stacked: the most restrictive action, the newest on a tie. */
	struct sock_filter g[] = {LD_NR, ON(SYS_getppid, SECCOMP_RET_ERRNO | 5), ALLOW};
	MUST(INSTALL(g, 0));
	EXPECT_ERR(syscall(SYS_getppid), 5);
	struct sock_filter all[] = {ALLOW};
	MUST(INSTALL(all, 0));
	EXPECT_ERR(syscall(SYS_getppid), 5);
	struct sock_filter kill[] = {LD_NR, ON(SYS_getppid, SECCOMP_RET_KILL_PROCESS), ALLOW};
	MUST(INSTALL(kill, 0));
	syscall(SYS_getppid);
	CHECK(!"survived SECCOMP_RET_KILL_PROCESS");
}

static void kill_process(void)
{
	MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	struct sock_filter f[] = {LD_NR, ON(SYS_getpgrp, SECCOMP_RET_KILL_PROCESS), ALLOW};
	MUST(INSTALL(f, 0));
	syscall(SYS_getpgrp);
	CHECK(!"survived");
}

static void *thread_getpgrp(void *arg)
{
	(void)arg;
	syscall(SYS_getpgrp);
	return (void *)1; /* not reached */
}

static void kill_thread(void)
{
	MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	struct sock_filter f[] = {LD_NR, ON(SYS_getpgrp, SECCOMP_RET_KILL_THREAD), ALLOW};
	MUST(INSTALL(f, 0));
	/* Another thread is killed alone... */
	pthread_t th;
	if (pthread_create(&th, NULL, thread_getpgrp, NULL) != 0)
		_exit(3);
	/* (a killed thread is never joined: wait for it to vanish) */
	for (int i = 0; i < 200; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/self/status");
		FILE *s = fopen(path, "r");
		char line[128];
		int threads = 0;
		while (s && fgets(line, sizeof line, s))
			if (sscanf(line, "Threads: %d", &threads) == 1)
				break;
		if (s)
			fclose(s);
		if (threads == 1)
			break;
		usleep(10000);
	}
	/* ...the last one takes its process with it. */
	syscall(SYS_getpgrp);
	CHECK(!"survived");
}

static void strict(void)
{
	MUST(prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT));
	const char msg[] = "";
	if (syscall(SYS_write, 1, msg, 0) != 0)
		syscall(SYS_exit, 4);
	syscall(SYS_getppid);
	syscall(SYS_exit, 5);
}

static volatile int sync_stage;

static void *tsync_thread(void *arg)
{
	long *out = arg;
	while (__atomic_load_n(&sync_stage, __ATOMIC_SEQ_CST) == 0)
		usleep(1000);
	errno = 0;
	out[0] = syscall(SYS_getppid);
	out[1] = errno;
	return NULL;
}

static void tsync(void)
{
	MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	long res[2];
	pthread_t th;
	if (pthread_create(&th, NULL, tsync_thread, res) != 0)
		_exit(3);
	struct sock_filter f[] = {LD_NR, ON(SYS_getppid, SECCOMP_RET_ERRNO | 9), ALLOW};
	CHECK(INSTALL(f, SECCOMP_FILTER_FLAG_TSYNC) == 0);
	__atomic_store_n(&sync_stage, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
	CHECKF(res[0] == -1 && res[1] == 9, "TSYNC reached the other thread: %ld/%ld", res[0], res[1]);
}

static void *own_filter_thread(void *arg)
{
	struct sock_filter f[] = {ALLOW};
	*(long *)arg = INSTALL(f, 0);
	while (__atomic_load_n(&sync_stage, __ATOMIC_SEQ_CST) != 2)
		usleep(1000);
	return NULL;
}

static void tsync_refused(void)
{
	MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	long r = -2;
	pthread_t th;
	if (pthread_create(&th, NULL, own_filter_thread, &r) != 0)
		_exit(3);
	while (r == -2)
		usleep(1000);
	CHECK(r == 0);
	struct sock_filter f[] = {ALLOW};
	/* A thread whose filters do not lead to ours: its tid, or ESRCH. */
	CHECK(INSTALL(f, SECCOMP_FILTER_FLAG_TSYNC) > 0);
	EXPECT_ERR(INSTALL(f, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_TSYNC_ESRCH), ESRCH);
	__atomic_store_n(&sync_stage, 2, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);
}

static void unprivileged(void)
{
	if (setgid(65534) != 0 || setuid(65534) != 0)
		_exit(3);
	struct sock_filter f[] = {ALLOW};
	EXPECT_ERR(INSTALL(f, 0), EACCES);
}

int main(void)
{
	CHECK(prctl(PR_GET_SECCOMP) == 0);
	CHECK(status_seccomp_line() == 0);

	unsigned acts[] = {SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_TRAP, SECCOMP_RET_ERRNO,
			   SECCOMP_RET_USER_NOTIF, SECCOMP_RET_TRACE, SECCOMP_RET_LOG, SECCOMP_RET_ALLOW};
	for (unsigned i = 0; i < sizeof acts / sizeof acts[0]; i++)
		CHECKF(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &acts[i]) == 0, "action %#x", acts[i]);
	unsigned bogus = 0x12340000;
	EXPECT_ERR(sys_seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &bogus), EOPNOTSUPP);
	struct seccomp_notif_sizes sz;
	MUST(sys_seccomp(SECCOMP_GET_NOTIF_SIZES, 0, &sz));
	CHECK(sz.seccomp_notif == 80 && sz.seccomp_notif_resp == 24 && sz.seccomp_data == 64);
	EXPECT_ERR(sys_seccomp(99, 0, NULL), EINVAL);
	EXPECT_ERR(sys_seccomp(SECCOMP_SET_MODE_STRICT, 1, NULL), EINVAL);

	CHECKF(exited_ok(status_of(unprivileged)), "unprivileged");

	/* Programs Linux refuses, checked before anything is attached. */
	MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	struct sock_filter half[] = {BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 0), ALLOW};
	EXPECT_ERR(INSTALL(half, 0), EINVAL);
	struct sock_filter past[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 64), ALLOW};
	EXPECT_ERR(INSTALL(past, 0), EINVAL);
	struct sock_filter odd[] = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 2), ALLOW};
	EXPECT_ERR(INSTALL(odd, 0), EINVAL);
	struct sock_filter noret[] = {LD_NR};
	EXPECT_ERR(INSTALL(noret, 0), EINVAL);
	struct sock_filter far[] = {BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 5, 0), ALLOW};
	EXPECT_ERR(INSTALL(far, 0), EINVAL);
	struct sock_filter ind[] = {BPF_STMT(BPF_LD | BPF_W | BPF_IND, 0), ALLOW};
	EXPECT_ERR(INSTALL(ind, 0), EINVAL);
	struct sock_filter ok[] = {ALLOW};
	EXPECT_ERR(install(ok, 0, 0), EINVAL);
	EXPECT_ERR(INSTALL(ok, 1u << 20), EINVAL);
	CHECK(prctl(PR_GET_SECCOMP) == 0);

	int st = status_of(actions);
	CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "actions: status %#x", st);
	st = status_of(kill_process);
	CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "KILL_PROCESS: status %#x", st);
	st = status_of(kill_thread);
	CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "KILL_THREAD: status %#x", st);
	st = status_of(strict);
	CHECKF(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "strict mode: status %#x", st);
	CHECKF(exited_ok(status_of(tsync)), "TSYNC");
	CHECKF(exited_ok(status_of(tsync_refused)), "TSYNC refused");

	printf("filters and actions: checked\n");
	return check_done("seccomp");
}
