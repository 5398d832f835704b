/*
 * mount: raw mount calls. Whatever they return, the host's mount table must
 * not change (the test compares it); the results are printed for the log.
 */
#include "../../conformance/testdata/check.h"
#include <sys/mount.h>

static void try(const char *what, long r, int e)
{
	printf("%s: %s\n", what, r == 0 ? "0 (must be confined to the sandbox)" : errname(e));
}

int main(void)
{
	errno = 0;
	long r = syscall(SYS_mount, "tmpfs", "/mnt", "tmpfs", 0, NULL);
	try("mount tmpfs /mnt", r, errno);
	errno = 0;
	r = syscall(SYS_mount, "/", "/mnt", NULL, MS_BIND, NULL);
	try("bind mount / on /mnt", r, errno);
	errno = 0;
	r = syscall(SYS_mount, "proc", "/tmp", "proc", 0, NULL);
	try("mount proc /tmp", r, errno);
	return 0;
}
