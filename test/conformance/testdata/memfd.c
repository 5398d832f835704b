/*
 * memfd: memfd_create (MFD_CLOEXEC, MFD_ALLOW_SEALING), ftruncate, two
 * MAP_SHARED mappings and read/write seeing the same bytes, sharing with a
 * forked child, and the seals: F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE
 * (EBUSY while a writable shared mapping exists), F_SEAL_SEAL, and a memfd
 * made without MFD_ALLOW_SEALING; the errors of each.
 */
#include "check.h"
#include "fs.h"
#include <sys/mman.h>

#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif

#define PG 4096

static long sys_memfd(const char *name, unsigned flags)
{
	return syscall(SYS_memfd_create, name, flags);
}

int main(void)
{
	int fd = (int)MUST(sys_memfd("exo-memfd", MFD_CLOEXEC | MFD_ALLOW_SEALING));
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 && st.st_nlink == 0);
	CHECK(ftruncate(fd, 3 * PG) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 3 * PG);
	printf("memfd_create: a regular file, nlink 0, read-write, close-on-exec; ftruncate to %d\n", 3 * PG);

	char *a = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *b = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(a != MAP_FAILED && b != MAP_FAILED && a != b);
	if (a == MAP_FAILED || b == MAP_FAILED)
		return check_done("memfd");
	CHECK(a[0] == 0 && a[3 * PG - 1] == 0);
	memcpy(a + PG, "through a", 9);
	CHECK(memcmp(b + PG, "through a", 9) == 0);
	char buf[32] = {0};
	CHECK(pread(fd, buf, 9, PG) == 9 && memcmp(buf, "through a", 9) == 0);
	CHECK(pwrite(fd, "by pwrite", 9, 2 * PG + 5) == 9);
	CHECK(memcmp(a + 2 * PG + 5, "by pwrite", 9) == 0 && memcmp(b + 2 * PG + 5, "by pwrite", 9) == 0);
	puts("two MAP_SHARED mappings, read and write all see the same bytes");

	pid_t pid = fork_child();
	if (pid == 0) {
		memcpy(b, "from the child", 14);
		child_done();
	}
	CHECK(wait_status(pid) == 0);
	CHECK(memcmp(a, "from the child", 14) == 0);
	puts("a forked child's write through the mapping is seen by the parent");

	CHECK(fcntl(fd, F_GET_SEALS) == 0);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
	CHECK(fcntl(fd, F_GET_SEALS) == F_SEAL_SHRINK);
	EXPECT_ERR(ftruncate(fd, PG), EPERM);
	CHECK(ftruncate(fd, 4 * PG) == 0);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0);
	EXPECT_ERR(ftruncate(fd, 5 * PG), EPERM);
	EXPECT_ERR(pwrite(fd, "x", 1, 4 * PG), EPERM);
	CHECK(pwrite(fd, "y", 1, 4 * PG - 1) == 1);
	CHECK(ftruncate(fd, 4 * PG) == 0); /* the same size is fine */
	puts("F_SEAL_SHRINK: no smaller; F_SEAL_GROW: no larger, writes past the end EPERM, inside fine");

	EXPECT_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EBUSY);
	munmap(a, 3 * PG);
	munmap(b, 3 * PG);
	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0);
	EXPECT_ERR(write(fd, "z", 1), EPERM);
	EXPECT_ERR(pwrite(fd, "z", 1, 0), EPERM);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EPERM);
	char *ro = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(ro != MAP_FAILED && ro && memcmp(ro, "from the child", 14) == 0);
	char *priv = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(priv != MAP_FAILED);
	if (priv != MAP_FAILED) {
		priv[0] = 'F'; /* private copy only */
		CHECK(pread(fd, buf, 4, 0) == 4 && memcmp(buf, "from", 4) == 0);
		munmap(priv, PG);
	}
	if (ro != MAP_FAILED)
		munmap(ro, PG);
	puts("F_SEAL_WRITE: EBUSY while shared writable mappings exist; then writes and shared writable maps EPERM");

	CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0);
	CHECK(fcntl(fd, F_GET_SEALS) == (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));
	EXPECT_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), EPERM);
	printf("F_SEAL_SEAL: seals now 0x%x, no more can be added\n", fcntl(fd, F_GET_SEALS));
	close(fd);

	fd = (int)MUST(sys_memfd("no-sealing", 0));
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) == 0);
	CHECK(fcntl(fd, F_GET_SEALS) == F_SEAL_SEAL);
	EXPECT_ERR(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
	CHECK(write(fd, "grows", 5) == 5);
	CHECK(fstat(fd, &st) == 0 && st.st_size == 5);
	close(fd);
	puts("without MFD_ALLOW_SEALING: sealed against sealing (F_SEAL_SEAL), writes grow it");

	char longname[300];
	memset(longname, 'n', 260);
	longname[260] = '\0';
	EXPECT_ERR(sys_memfd(longname, 0), EINVAL);
	EXPECT_ERR(sys_memfd("bad-flags", 0x100), EINVAL);
	EXPECT_ERR(sys_memfd((const char *)8, 0), EFAULT);
	int p[2];
	CHECK(pipe(p) == 0);
	EXPECT_ERR(fcntl(p[1], F_ADD_SEALS, F_SEAL_WRITE), EINVAL);
	EXPECT_ERR(fcntl(p[0], F_GET_SEALS), EINVAL);
	close(p[0]);
	close(p[1]);
	puts("errors: EINVAL for a name past 249 bytes, bad flags, seals on a pipe; EFAULT");
	return check_done("memfd");
}
