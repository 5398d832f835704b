/*
 * pid1: the sandbox's first process is its pid 1, a namespace init (ppid 0),
 * and, as the init of a pid namespace, processes of the container can send
 * it only the signals it has a handler for: SIGTERM and even SIGKILL from a
 * child are dropped while a handled SIGUSR1 arrives.
 */
#include "../../conformance/testdata/check.h"
#include <signal.h>
#include <sys/wait.h>

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig) { (void)sig; got_usr1 = 1; }

int main(void)
{
	printf("getpid=%d gettid=%ld getppid=%d\n", getpid(), (long)syscall(SYS_gettid), getppid());
	CHECK(getpid() == 1);
	CHECK(syscall(SYS_gettid) == 1);
	CHECK(getppid() == 0);

	struct sigaction sa = {0};
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* kill succeeds; the kernel drops what init cannot handle. */
		int ok = kill(1, SIGTERM) == 0 && kill(1, SIGKILL) == 0 && kill(1, SIGINT) == 0 &&
			 kill(1, SIGUSR1) == 0;
		_exit(ok ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < 1000 && !got_usr1; i++)
		usleep(1000);
	CHECK(got_usr1);
	printf("init survived SIGTERM, SIGKILL and SIGINT from a child; its SIGUSR1 handler ran: %s\n",
	       got_usr1 ? "yes" : "no");
	/* Its own unhandled signals are dropped too. */
	CHECK(raise(SIGTERM) == 0);
	puts("init survived raise(SIGTERM)");
	return check_done("pid1");
}
