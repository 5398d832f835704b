/* ids: getpid/getppid/gettid and the credential getters (values not printed). */
#include "check.h"

int main(void)
{
	pid_t pid = getpid();
	CHECK(pid > 0);
	CHECK(getpid() == pid);
	CHECK(syscall(SYS_getpid) == pid);
	CHECK(gettid() == pid); /* single-threaded: the thread is the group leader */
	CHECK(syscall(SYS_gettid) == pid);
	CHECK(getppid() >= 0); /* 0 for a namespace's init */
	CHECK(getuid() == geteuid());
	CHECK(getgid() == getegid());
	CHECK((long)getuid() >= 0 && (long)getgid() >= 0);
	puts("pid == tid, ids consistent");
	return check_done("ids");
}
