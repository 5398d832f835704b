/* devmem: the memory character devices of /dev behave as on Linux. */
#include "check.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static void node(const char *path, unsigned minor)
{
	struct stat st;
	MUST(stat(path, &st));
	CHECKF(S_ISCHR(st.st_mode), "%s is not a character device", path);
	CHECKF(major(st.st_rdev) == 1 && minor(st.st_rdev) == minor, "%s is %u:%u", path,
	       major(st.st_rdev), minor(st.st_rdev));
}

int main(void)
{
	char buf[64];
	node("/dev/null", 3);
	node("/dev/zero", 5);
	node("/dev/full", 7);
	node("/dev/random", 8);
	node("/dev/urandom", 9);

	int fd = MUST(open("/dev/null", O_RDWR));
	CHECK(write(fd, "discarded", 9) == 9);
	CHECK(read(fd, buf, sizeof buf) == 0);
	close(fd);

	fd = MUST(open("/dev/zero", O_RDONLY));
	memset(buf, 'x', sizeof buf);
	CHECK(read(fd, buf, sizeof buf) == sizeof buf);
	int zero = 1;
	for (size_t i = 0; i < sizeof buf; i++)
		zero &= buf[i] == 0;
	CHECK(zero);
	close(fd);

	fd = MUST(open("/dev/full", O_WRONLY));
	EXPECT_ERR(write(fd, "x", 1), ENOSPC);
	close(fd);

	fd = MUST(open("/dev/urandom", O_RDONLY));
	char a[16], b[16];
	CHECK(read(fd, a, sizeof a) == sizeof a && read(fd, b, sizeof b) == sizeof b);
	CHECK(memcmp(a, b, sizeof a) != 0);
	close(fd);

	EXPECT_ERR(open("/dev/null/x", O_RDONLY), ENOTDIR);
	printf("devmem: ok\n");
	return check_done("devmem");
}
