/*
 * kcmp: whether two threads share a kernel object: an open file
 * description (dup shares it, a second open does not), the address space,
 * the fd table, the fs context and the signal handlers (a thread shares
 * them, a forked child does not); the answer's ordering is antisymmetric;
 * EBADF, ESRCH, EINVAL, and EPERM for another user's process.
 */
#include "check.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>

#define KCMP_FILE 0
#define KCMP_VM 1
#define KCMP_FILES 2
#define KCMP_FS 3
#define KCMP_SIGHAND 4

static long kcmp(pid_t a, pid_t b, int type, unsigned long i1, unsigned long i2)
{
	return syscall(SYS_kcmp, a, b, type, i1, i2);
}

static pid_t thread_tid;
static int thread_go = 0;

static void *thread_main(void *arg)
{
	(void)arg;
	__atomic_store_n(&thread_tid, (pid_t)syscall(SYS_gettid), __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&thread_go, __ATOMIC_SEQ_CST))
		usleep(1000);
	return NULL;
}

int main(void)
{
	pid_t me = getpid();
	int fd = MUST(open("/proc/self/status", O_RDONLY));
	int dupd = MUST(dup(fd));
	int other = MUST(open("/proc/self/status", O_RDONLY));
	CHECK(kcmp(me, me, KCMP_FILE, fd, dupd) == 0);
	long r1 = kcmp(me, me, KCMP_FILE, fd, other), r2 = kcmp(me, me, KCMP_FILE, other, fd);
	CHECKF((r1 == 1 && r2 == 2) || (r1 == 2 && r2 == 1), "two opens: %ld and %ld", r1, r2);
	EXPECT_ERR(kcmp(me, me, KCMP_FILE, fd, 999), EBADF);
	EXPECT_ERR(kcmp(me, 999999, KCMP_VM, 0, 0), ESRCH);
	EXPECT_ERR(kcmp(me, me, 99, 0, 0), EINVAL);

	pthread_t th;
	CHECK(pthread_create(&th, NULL, thread_main, NULL) == 0);
	while (!__atomic_load_n(&thread_tid, __ATOMIC_SEQ_CST))
		usleep(1000);
	pid_t tid = thread_tid;
	for (int type = KCMP_VM; type <= KCMP_SIGHAND; type++)
		CHECKF(kcmp(me, tid, type, 0, 0) == 0, "a thread shares type %d", type);
	__atomic_store_n(&thread_go, 1, __ATOMIC_SEQ_CST);
	pthread_join(th, NULL);

	int go[2];
	MUST(pipe(go));
	pid_t child = fork();
	if (child == 0) {
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	for (int type = KCMP_VM; type <= KCMP_SIGHAND; type++) {
		long a = kcmp(me, child, type, 0, 0), b = kcmp(child, me, type, 0, 0);
		CHECKF((a == 1 && b == 2) || (a == 2 && b == 1), "a forked child shares nothing of type %d: %ld %ld", type, a, b);
	}
	/* The child's copy of fd is the same description. */
	CHECK(kcmp(me, child, KCMP_FILE, fd, fd) == 0);
	MUST(write(go[1], "g", 1));
	int st;
	waitpid(child, &st, 0);

	child = fork();
	if (child == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		errno = 0;
		long r = kcmp(getpid(), me, KCMP_VM, 0, 0);
		_exit(r == -1 && errno == EPERM ? 0 : 1);
	}
	waitpid(child, &st, 0);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged kcmp with root's process: status %#x", st);

	printf("kcmp: checked\n");
	return check_done("kcmp");
}
