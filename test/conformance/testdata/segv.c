/* segv: a fault kills the process with SIGSEGV, reported as status 128+11. */
/* expect-exit: 139 */
#include "check.h"
#include <sys/resource.h>

int main(void)
{
	/* No core file natively (a sandbox may refuse to change the limit). */
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);
	static const char msg[] = "about to fault\n";
	CHECK(write(1, msg, sizeof msg - 1) == sizeof msg - 1);
	*(volatile int *)16 = 1;
	CHECK(!"the store to address 16 did not fault");
	return check_done("segv");
}
