/* rawexit: the exit syscall (not exit_group) of the only thread ends the process with its status. */
/* expect-exit: 7 */
#include "check.h"

int main(void)
{
	static const char msg[] = "calling exit(7) directly\n";
	CHECK(write(1, msg, sizeof msg - 1) == sizeof msg - 1);
	syscall(SYS_exit, 7);
	CHECK(!"exit returned");
	return check_done("rawexit");
}
