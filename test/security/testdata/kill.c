/* kill: signalling a host process (pid given as argument) fails. */
#include "../../conformance/testdata/check.h"
#include <signal.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	pid_t pid = atoi(argv[1]);
	int escaped = 0;
	struct {
		const char *what;
		pid_t target;
		int sig;
	} tries[] = {
		{"kill(pid, 0)", pid, 0},
		{"kill(pid, SIGKILL)", pid, SIGKILL},
		{"kill(-pid, SIGKILL)", -pid, SIGKILL},
	};
	for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
		errno = 0;
		long r = syscall(SYS_kill, tries[i].target, tries[i].sig);
		int e = errno;
		printf("%s: %s\n", tries[i].what, r == 0 ? "SUCCEEDED" : errname(e));
		if (r == 0) {
			fprintf(stderr, "ESCAPE: %s reached a process\n", tries[i].what);
			escaped++;
		}
	}
	errno = 0;
	long r = syscall(SYS_tgkill, pid, pid, SIGKILL);
	int e = errno;
	printf("tgkill(pid, pid, SIGKILL): %s\n", r == 0 ? "SUCCEEDED" : errname(e));
	if (r == 0) {
		fprintf(stderr, "ESCAPE: tgkill reached a process\n");
		escaped++;
	}
	return escaped ? 1 : 0;
}
