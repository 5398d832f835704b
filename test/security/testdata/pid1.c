/* pid1: the sandbox's first process is its pid 1, a namespace init (ppid 0). */
#include "../../conformance/testdata/check.h"

int main(void)
{
	printf("getpid=%d gettid=%ld getppid=%d\n", getpid(), (long)syscall(SYS_gettid), getppid());
	CHECK(getpid() == 1);
	CHECK(syscall(SYS_gettid) == 1);
	CHECK(getppid() == 0);
	return check_done("pid1");
}
