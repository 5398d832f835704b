/*
 * efault: syscalls given pointers to unmapped memory fail with EFAULT instead
 * of crashing anything.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>

int main(void)
{
	void *bad = (void *)1;
	void *kernel = (void *)0xffff800000000000UL;
	/* Memory that was mapped once and is no longer. */
	void *gone = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(gone != MAP_FAILED);
	CHECK(munmap(gone, 4096) == 0);

	EXPECT_ERR(syscall(SYS_write, 1, bad, 10), EFAULT);
	EXPECT_ERR(syscall(SYS_write, 1, kernel, 10), EFAULT);
	EXPECT_ERR(syscall(SYS_write, 1, gone, 10), EFAULT);

	int fd = MUST(open("/etc/passwd", O_RDONLY));
	EXPECT_ERR(syscall(SYS_read, fd, bad, 10), EFAULT);
	EXPECT_ERR(syscall(SYS_read, fd, gone, 10), EFAULT);
	/* A read-only page is no place to read into either. */
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(ro != MAP_FAILED);
	EXPECT_ERR(syscall(SYS_read, fd, ro, 10), EFAULT);
	struct stat st;
	EXPECT_ERR(syscall(SYS_fstat, fd, bad), EFAULT);
	close(fd);

	EXPECT_ERR(syscall(SYS_openat, AT_FDCWD, bad, O_RDONLY), EFAULT);
	EXPECT_ERR(syscall(SYS_newfstatat, AT_FDCWD, bad, &st, 0), EFAULT);
	EXPECT_ERR(syscall(SYS_newfstatat, AT_FDCWD, "/etc/passwd", bad, 0), EFAULT);
	EXPECT_ERR(syscall(SYS_readlinkat, AT_FDCWD, "/bin", bad, 64), EFAULT);
	EXPECT_ERR(syscall(SYS_uname, bad), EFAULT);
	EXPECT_ERR(syscall(SYS_clock_gettime, 0, bad), EFAULT);
	EXPECT_ERR(syscall(SYS_getrandom, gone, 8, 0), EFAULT);
	EXPECT_ERR(syscall(SYS_writev, 1, bad, 1), EFAULT);
	struct iovec iov = {bad, 10};
	EXPECT_ERR(syscall(SYS_writev, 1, &iov, 1), EFAULT);
	EXPECT_ERR(syscall(SYS_prlimit64, 0, 7 /* RLIMIT_NOFILE */, NULL, bad), EFAULT);
	int dfd = MUST(open("/", O_RDONLY | O_DIRECTORY));
	EXPECT_ERR(syscall(SYS_getdents64, dfd, bad, 4096), EFAULT);
	close(dfd);
	struct timespec *badts = bad;
	EXPECT_ERR(syscall(SYS_nanosleep, badts, NULL), EFAULT);

	/* The process is fine afterwards. */
	CHECK(write(1, "still alive\n", 12) == 12);
	return check_done("efault");
}
