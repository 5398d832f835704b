// loop.c: the workload tools/bench times. It measures inside the program,
// so process start-up is not part of the per-call figure.
//   loop getpid N      N getpid() calls
//   loop read N FILE   N pread()s of 4 KiB at offset 0 of FILE
//   loop fork N        N times fork, _exit(0) in the child, waitpid
//   loop pipe N        N round trips of 1 byte between two processes
//                      over a pair of pipes
//   loop signal N      N raise(SIGUSR1)s, each running a handler
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile sig_atomic_t handled;

static void on_usr1(int sig) {
	(void)sig;
	handled++;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: loop getpid|read|fork|pipe|signal N [FILE]\n");
		return 2;
	}
	long n = atol(argv[2]);
	double start, end;
	if (strcmp(argv[1], "getpid") == 0) {
		start = now_ns();
		for (long i = 0; i < n; i++)
			syscall(SYS_getpid); /* not cached by libc */
		end = now_ns();
	} else if (strcmp(argv[1], "read") == 0 && argc == 4) {
		static char buf[4096];
		int fd = open(argv[3], O_RDONLY);
		if (fd < 0) {
			perror("open");
			return 1;
		}
		start = now_ns();
		for (long i = 0; i < n; i++) {
			if (pread(fd, buf, sizeof buf, 0) != sizeof buf) {
				perror("pread");
				return 1;
			}
		}
		end = now_ns();
	} else if (strcmp(argv[1], "fork") == 0) {
		start = now_ns();
		for (long i = 0; i < n; i++) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(0);
			int st;
			if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
				perror("fork/waitpid");
				return 1;
			}
		}
		end = now_ns();
	} else if (strcmp(argv[1], "pipe") == 0) {
		int ping[2], pong[2];
		if (pipe(ping) != 0 || pipe(pong) != 0) {
			perror("pipe");
			return 1;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			char c;
			close(ping[1]);
			close(pong[0]);
			while (read(ping[0], &c, 1) == 1)
				if (write(pong[1], &c, 1) != 1)
					_exit(1);
			_exit(0);
		}
		close(ping[0]);
		close(pong[1]);
		char c = 'x';
		start = now_ns();
		for (long i = 0; i < n; i++) {
			if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1) {
				perror("ping-pong");
				return 1;
			}
		}
		end = now_ns();
		close(ping[1]);
		waitpid(pid, NULL, 0);
	} else if (strcmp(argv[1], "signal") == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_usr1;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGUSR1, &sa, NULL) != 0) {
			perror("sigaction");
			return 1;
		}
		start = now_ns();
		for (long i = 0; i < n; i++)
			raise(SIGUSR1);
		end = now_ns();
		if (handled != n) {
			fprintf(stderr, "%d of %ld signals handled\n", (int)handled, n);
			return 1;
		}
	} else {
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 2;
	}
	printf("%.1f\n", (end - start) / n);
	return 0;
}
