// loop.c: the workload tools/bench times. It measures inside the program,
// so process start-up is not part of the per-call figure.
//   loop getpid N      N getpid() calls
//   loop read N FILE   N pread()s of 4 KiB at offset 0 of FILE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: loop getpid|read N [FILE]\n");
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
	} else {
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 2;
	}
	printf("%.1f\n", (end - start) / n);
	return 0;
}
