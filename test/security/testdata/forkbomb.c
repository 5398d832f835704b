/*
 * forkbomb: forks until fork fails, meant to run only in a sandbox with
 * --pids-limit. Never more than CAP processes, whatever the sandbox does,
 * so that a sandbox without a limit cannot take the host down.
 *
 *   forkbomb line   one parent forks children that wait, until fork fails;
 *                   prints "line: EAGAIN after K children"; kills and reaps
 *                   them; then forks once more, which must work again
 *   forkbomb tree   every process forks (a real bomb), in a process group
 *                   of its own; prints "tree: EAGAIN" once a fork failed;
 *                   the group is then killed and every process reaped
 *
 * Exit status 0 when fork failed with EAGAIN, 3 when CAP was reached
 * without a failure (no limit), 4 for another error.
 */
#include "../../conformance/testdata/check.h"
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#define CAP 256

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int line(void)
{
	static pid_t kids[CAP];
	int n = 0, err = 0;
	fflush(stdout);
	while (n < CAP) {
		pid_t pid = fork();
		if (pid == 0) {
			for (;;)
				pause();
		}
		if (pid < 0) {
			err = errno;
			break;
		}
		kids[n++] = pid;
	}
	if (err == EAGAIN)
		printf("line: EAGAIN after %d children\n", n);
	else if (err)
		printf("line: fork failed with %s after %d children\n", errname(err), n);
	else
		printf("line: no failure after %d children (the cap)\n", n);
	fflush(stdout);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid(kids[i], NULL, 0);
	/* The limit counts live processes: forking works again. */
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	int st = -1;
	if (pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st))
		puts("line: fork works again after reaping");
	else
		printf("line: fork after reaping failed: %s\n", errname(errno));
	return err == EAGAIN ? 0 : err ? 4 : 3;
}

struct shared {
	int count;  /* processes created */
	int eagain; /* a fork failed with EAGAIN */
	int other;  /* a fork failed otherwise */
};

static void bomb(struct shared *sh)
{
	for (;;) {
		if (__atomic_add_fetch(&sh->count, 1, __ATOMIC_SEQ_CST) > CAP) {
			__atomic_sub_fetch(&sh->count, 1, __ATOMIC_SEQ_CST);
			break;
		}
		pid_t pid = fork();
		if (pid == 0)
			continue; /* the child bombs too */
		if (pid < 0) {
			__atomic_sub_fetch(&sh->count, 1, __ATOMIC_SEQ_CST);
			if (errno == EAGAIN)
				__atomic_store_n(&sh->eagain, 1, __ATOMIC_SEQ_CST);
			else
				__atomic_store_n(&sh->other, errno, __ATOMIC_SEQ_CST);
			sleep_ms(5);
			if (__atomic_load_n(&sh->eagain, __ATOMIC_SEQ_CST))
				break;
		}
	}
	for (;;)
		pause();
}

static int tree(void)
{
	struct shared *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 4;
	}
	fflush(stdout);
	pid_t leader = fork();
	if (leader == 0) {
		setpgid(0, 0);
		bomb(sh);
	}
	if (leader < 0) {
		printf("tree: the first fork failed: %s\n", errname(errno));
		return 4;
	}
	setpgid(leader, leader);
	int i;
	for (i = 0; i < 20000; i++) {
		if (__atomic_load_n(&sh->eagain, __ATOMIC_SEQ_CST) || __atomic_load_n(&sh->other, __ATOMIC_SEQ_CST) ||
		    __atomic_load_n(&sh->count, __ATOMIC_SEQ_CST) >= CAP)
			break;
		sleep_ms(1);
	}
	sleep_ms(50);
	int eagain = sh->eagain, other = sh->other, count = sh->count;
	if (eagain)
		puts("tree: EAGAIN");
	else if (other)
		printf("tree: fork failed with %s\n", errname(other));
	else
		printf("tree: no failure with %d processes\n", count);
	fflush(stdout);
	/*
	 * Kill the group until it is empty. The members' orphans come back
	 * here (pid 1) to be reaped; a group of zombies still answers kill.
	 */
	for (i = 0; i < 2000; i++) {
		int alive = kill(-leader, SIGKILL) == 0;
		while (waitpid(-1, NULL, WNOHANG | __WALL) > 0)
			;
		if (!alive)
			break;
		sleep_ms(5);
	}
	while (waitpid(-1, NULL, __WALL) > 0)
		;
	printf("tree: group killed, %s\n", errno == ECHILD ? "every process reaped" : errname(errno));
	return eagain ? 0 : other ? 4 : 3;
}

int main(int argc, char **argv)
{
	struct rlimit none = {0, 0};
	setrlimit(RLIMIT_CORE, &none);
	if (argc > 1 && strcmp(argv[1], "line") == 0)
		return line();
	if (argc > 1 && strcmp(argv[1], "tree") == 0)
		return tree();
	fprintf(stderr, "usage: forkbomb line|tree\n");
	return 2;
}
