/*
 * processvm: process_vm_readv and process_vm_writev between a parent and
 * its child: scattered local and remote iovecs, a transfer that stops at
 * an unmapped remote page after what it moved, EFAULT when nothing moved,
 * 0 for nothing asked whoever the pid, EINVAL for flags, ESRCH for no such
 * process, EPERM for another user's process.
 */
#include "check.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>

static long vm_read(pid_t pid, struct iovec *l, int ln, struct iovec *r, int rn, unsigned long flags)
{
	return syscall(SYS_process_vm_readv, pid, l, ln, r, rn, flags);
}

static long vm_write(pid_t pid, struct iovec *l, int ln, struct iovec *r, int rn, unsigned long flags)
{
	return syscall(SYS_process_vm_writev, pid, l, ln, r, rn, flags);
}

int main(void)
{
	/* The child's copy of these is at the same addresses. */
	static char data[64] = "0123456789abcdefghijklmnopqrstuvwxyz";
	long page = sysconf(_SC_PAGESIZE);
	char *edge = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(edge != MAP_FAILED);
	memset(edge, 'e', page);
	MUST(munmap(edge + page, page));

	int go[2], done[2];
	MUST(pipe(go));
	MUST(pipe(done));
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		/* Changed in the child only: the parent must read these. */
		memcpy(data, "CHILD-", 6);
		MUST(write(done[1], "r", 1));
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		/* The parent wrote "written" at data+10. */
		_exit(memcmp(data + 10, "written", 7) == 0 ? 0 : 1);
	}
	char c;
	MUST(read(done[0], &c, 1));

	/* Read: two remote ranges into three local buffers. */
	char a[4], b[5], d[3];
	struct iovec l[3] = {{a, 4}, {b, 5}, {d, 3}};
	struct iovec r[2] = {{data, 6}, {data + 20, 6}};
	CHECK(vm_read(pid, l, 3, r, 2, 0) == 12);
	CHECK(memcmp(a, "CHIL", 4) == 0 && memcmp(b, "D-klm", 5) == 0 && memcmp(d, "nop", 3) == 0);

	/* Write. */
	char w[] = "written";
	struct iovec lw = {w, 7}, rw = {data + 10, 7};
	CHECK(vm_write(pid, &lw, 1, &rw, 1, 0) == 7);

	/* A remote range running into an unmapped page: what came before it. */
	char big[64];
	struct iovec lb = {big, sizeof big}, rb = {edge + page - 10, 20};
	CHECK(vm_read(pid, &lb, 1, &rb, 1, 0) == 10);
	CHECK(memcmp(big, "eeeeeeeeee", 10) == 0);
	struct iovec rbad = {edge + page, 8};
	EXPECT_ERR(vm_read(pid, &lb, 1, &rbad, 1, 0), EFAULT);
	struct iovec lbad = {(void *)8, 8};
	EXPECT_ERR(vm_read(pid, &lbad, 1, r, 1, 0), EFAULT);

	EXPECT_ERR(vm_read(pid, l, 1, r, 1, 1), EINVAL);
	EXPECT_ERR(vm_read(999999, l, 1, r, 1, 0), ESRCH);
	CHECK(vm_read(999999, l, 0, r, 1, 0) == 0);

	MUST(write(go[1], "g", 1));
	int st;
	waitpid(pid, &st, 0);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child saw the parent's write: status %#x", st);

	/* Another user may not read this process. */
	pid_t me = getpid();
	pid = fork();
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		char x[4];
		struct iovec lx = {x, 4}, rx = {data, 4};
		errno = 0;
		long n = vm_read(me, &lx, 1, &rx, 1, 0);
		_exit(n == -1 && errno == EPERM ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	CHECKF(WIFEXITED(st) && WEXITSTATUS(st) == 0, "unprivileged read of root's process: status %#x", st);

	printf("process_vm_readv/writev: checked\n");
	return check_done("processvm");
}
