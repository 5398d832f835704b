/*
 * ptrace: attaching to host processes (pids given as arguments) fails. If an
 * attach ever succeeds, the tracee is detached again at once.
 */
#include "../../conformance/testdata/check.h"
#include <sys/ptrace.h>
#include <sys/wait.h>

int main(int argc, char **argv)
{
	int escaped = 0;
	for (int i = 1; i < argc; i++) {
		pid_t pid = atoi(argv[i]);
		errno = 0;
		long r = ptrace(PTRACE_ATTACH, pid, 0, 0);
		int e = errno;
		if (r == 0) {
			waitpid(pid, NULL, __WALL);
			ptrace(PTRACE_DETACH, pid, 0, 0);
			fprintf(stderr, "ESCAPE: PTRACE_ATTACH to host pid %d succeeded\n", pid);
			escaped++;
		}
		printf("PTRACE_ATTACH arg%d: %s\n", i, r == 0 ? "SUCCEEDED" : errname(e));
		errno = 0;
		r = ptrace(PTRACE_SEIZE, pid, 0, 0);
		e = errno;
		if (r == 0) {
			ptrace(PTRACE_DETACH, pid, 0, 0);
			fprintf(stderr, "ESCAPE: PTRACE_SEIZE of host pid %d succeeded\n", pid);
			escaped++;
		}
		printf("PTRACE_SEIZE arg%d: %s\n", i, r == 0 ? "SUCCEEDED" : errname(e));
	}
	return escaped ? 1 : 0;
}
