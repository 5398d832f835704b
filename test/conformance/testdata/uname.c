/* uname: the fields are filled (the release is the library OS's, so not
 * printed); personality(2) queries and sets the persona, a child inherits
 * it, and PER_LINUX32 makes uname's machine i686. */
#include "check.h"
#include <sys/personality.h>
#include <sys/utsname.h>
#include <sys/wait.h>

int main(void)
{
	struct utsname u, v;
	memset(&u, 0x7f, sizeof u);
	CHECK(uname(&u) == 0);
	CHECK(u.sysname[0] && u.nodename[0] && u.release[0] && u.version[0] && u.machine[0]);
	CHECK(memchr(u.sysname, 0, sizeof u.sysname) && memchr(u.release, 0, sizeof u.release) &&
	      memchr(u.version, 0, sizeof u.version) && memchr(u.machine, 0, sizeof u.machine) &&
	      memchr(u.nodename, 0, sizeof u.nodename) && memchr(u.domainname, 0, sizeof u.domainname));
	CHECK(syscall(SYS_uname, &v) == 0);
	CHECK(memcmp(&u, &v, sizeof u) == 0);
	printf("sysname=%s machine=%s\n", u.sysname, u.machine);
	CHECK(strcmp(u.sysname, "Linux") == 0);
	CHECK(strcmp(u.machine, "x86_64") == 0);

	CHECK(personality(0xffffffff) == PER_LINUX);
	CHECK(personality(PER_LINUX | ADDR_NO_RANDOMIZE) == PER_LINUX);
	CHECK(personality(0xffffffff) == (PER_LINUX | ADDR_NO_RANDOMIZE));
	pid_t pid = fork();
	if (pid == 0)
		_exit(personality(0xffffffff) == (PER_LINUX | ADDR_NO_RANDOMIZE) ? 0 : 1);
	int st;
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(personality(PER_LINUX32) == (PER_LINUX | ADDR_NO_RANDOMIZE));
	CHECK(uname(&v) == 0);
	printf("PER_LINUX32: machine=%s\n", v.machine);
	CHECK(personality(PER_LINUX) == PER_LINUX32);
	CHECK(uname(&v) == 0 && strcmp(v.machine, "x86_64") == 0);
	puts("personality: queried, set, inherited by a child");
	return check_done("uname");
}
