/*
 * reboot: the raw reboot syscall asking to power off. Only ever run inside the
 * sandbox, and there only inside a pid namespace of the test's (where even an
 * untrapped call only ends that namespace): it refuses to act without
 * --sandboxed so that running it by hand does nothing.
 */
#include "../../conformance/testdata/check.h"
#include <linux/reboot.h>

int main(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--sandboxed") != 0) {
		fprintf(stderr, "reboot: refusing to run without --sandboxed\n");
		return 2;
	}
	errno = 0;
	long r = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
			 LINUX_REBOOT_CMD_POWER_OFF, NULL);
	int e = errno;
	printf("reboot returned %ld errno %s\n", r, errname(r == -1 ? e : 0));
	if (r == -1 && (e == EPERM || e == ENOSYS))
		return 0;
	fprintf(stderr, "reboot: want -1 with EPERM or ENOSYS, got %ld/%s\n", r, errname(e));
	return 1;
}
