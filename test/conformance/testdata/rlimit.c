/* rlimit: getrlimit/prlimit64 report sane limits; a lowered soft limit reads back. */
#include "check.h"
#include <sys/resource.h>

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
	return check_done("rlimit");
}
