/* uname: the fields are filled (the release is the library OS's, so not printed). */
#include "check.h"
#include <sys/utsname.h>

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
	return check_done("uname");
}
