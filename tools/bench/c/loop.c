// loop.c: the workload tools/bench times. It measures inside the program,
// so process start-up is not part of the per-call figure.
//   loop getpid N      N getpid() calls
//   loop read N FILE   N pread()s of 4 KiB at offset 0 of FILE
//   loop fork N        N times fork, _exit(0) in the child, waitpid
//   loop pipe N        N round trips of 1 byte between two processes
//                      over a pair of pipes
//   loop signal N      N raise(SIGUSR1)s, each running a handler
//   loop threads N     8 threads making N getpid() calls each; the time
//                      per call is wall time / (8 N)
//   loop forkexec N FILE  N times fork, execve FILE (a static no-op) in
//                      the child, waitpid
//   loop sigsys N      N getpid()s that a seccomp filter turns into SIGSYS
//                      and a handler answers: the cost of the signal alone,
//                      the floor of a seccomp-trap platform (native only)
//   loop stat N DIR    N stat()s of a small file it makes in DIR
//   loop open N DIR    N open(O_RDONLY)+close of a small file in DIR
//   loop seqread N DIR BYTES   N read()s of BYTES each, front to back
//                      through a 16 MiB file it writes in DIR first
//                      (rewinding at the end)
//   loop seqwrite N DIR BYTES  N write()s of BYTES each, front to back
//                      through a 16 MiB file in DIR (rewinding at 16 MiB)
// The DIR modes remove their file afterwards.
#define _GNU_SOURCE /* REG_RAX */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <ucontext.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#define FILE_SIZE (16L << 20)

// make_file writes size bytes to path.
static int make_file(const char *path, long size) {
	static char chunk[1 << 20];
	memset(chunk, 'x', sizeof chunk);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	for (long off = 0; off < size;) {
		long want = size - off < (long)sizeof chunk ? size - off : (long)sizeof chunk;
		ssize_t n = write(fd, chunk, want);
		if (n <= 0) {
			perror("write");
			close(fd);
			return -1;
		}
		off += n;
	}
	return close(fd);
}

// fs_mode runs the DIR modes; it returns the exit status and sets *ns to
// the time per operation.
static int fs_mode(const char *mode, long n, const char *dir, long bytes, double *ns) {
	char path[4096];
	snprintf(path, sizeof path, "%s/bench-%s-%d", dir, mode, (int)getpid());
	char *buf = NULL;
	if (bytes > 0 && !(buf = malloc(bytes))) {
		perror("malloc");
		return 1;
	}
	if (buf)
		memset(buf, 'y', bytes);
	double start = 0, end = 0;
	int rc = 0;
	if (strcmp(mode, "stat") == 0 || strcmp(mode, "open") == 0) {
		if (make_file(path, 100) != 0)
			return 1;
		int is_stat = mode[0] == 's';
		struct stat st;
		start = now_ns();
		for (long i = 0; i < n; i++) {
			if (is_stat) {
				if (stat(path, &st) != 0) {
					perror("stat");
					rc = 1;
					break;
				}
			} else {
				int fd = open(path, O_RDONLY);
				if (fd < 0 || close(fd) != 0) {
					perror("open/close");
					rc = 1;
					break;
				}
			}
		}
		end = now_ns();
	} else if (strcmp(mode, "seqread") == 0 && bytes > 0) {
		if (make_file(path, FILE_SIZE) != 0)
			return 1;
		int fd = open(path, O_RDONLY);
		if (fd < 0) {
			perror("open");
			return 1;
		}
		start = now_ns();
		for (long i = 0; i < n; i++) {
			ssize_t got = read(fd, buf, bytes);
			if (got == 0) { // end of the file: rewind and read again
				if (lseek(fd, 0, SEEK_SET) != 0) {
					perror("lseek");
					rc = 1;
					break;
				}
				got = read(fd, buf, bytes);
			}
			if (got != bytes) {
				perror("read");
				rc = 1;
				break;
			}
		}
		end = now_ns();
		close(fd);
	} else if (strcmp(mode, "seqwrite") == 0 && bytes > 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			perror("open");
			return 1;
		}
		long off = 0;
		start = now_ns();
		for (long i = 0; i < n; i++) {
			if (off + bytes > FILE_SIZE) {
				if (lseek(fd, 0, SEEK_SET) != 0) {
					perror("lseek");
					rc = 1;
					break;
				}
				off = 0;
			}
			if (write(fd, buf, bytes) != bytes) {
				perror("write");
				rc = 1;
				break;
			}
			off += bytes;
		}
		end = now_ns();
		close(fd);
	} else {
		fprintf(stderr, "bad arguments for mode %s\n", mode);
		rc = 2;
	}
	if (unlink(path) != 0 && errno != ENOENT)
		perror("unlink");
	free(buf);
	*ns = (end - start) / n;
	return rc;
}

static long thread_iters;

static void *getpid_thread(void *arg) {
	(void)arg;
	for (long i = 0; i < thread_iters; i++)
		syscall(SYS_getpid);
	return NULL;
}

static void on_sigsys(int sig, siginfo_t *info, void *ucv) {
	(void)sig;
	(void)info;
	ucontext_t *uc = ucv;
	uc->uc_mcontext.gregs[REG_RAX] = 1;
}

// trap_getpid installs a filter that makes getpid raise SIGSYS.
static int trap_getpid(void) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGSYS, &sa, NULL) != 0)
		return -1;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {sizeof f / sizeof f[0], f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

static void on_usr1(int sig) {
	(void)sig;
	handled++;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: loop getpid|read|fork|pipe|signal|stat|open|seqread|seqwrite N [FILE|DIR [BYTES]]\n");
		return 2;
	}
	long n = atol(argv[2]);
	if (n <= 0) {
		fprintf(stderr, "N must be positive\n");
		return 2;
	}
	double start, end;
	if (argc >= 4 && (strcmp(argv[1], "stat") == 0 || strcmp(argv[1], "open") == 0 ||
			  strcmp(argv[1], "seqread") == 0 || strcmp(argv[1], "seqwrite") == 0)) {
		double ns = 0;
		int rc = fs_mode(argv[1], n, argv[3], argc == 5 ? atol(argv[4]) : 0, &ns);
		if (rc == 0)
			printf("%.1f\n", ns);
		return rc;
	}
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
	} else if (strcmp(argv[1], "threads") == 0) {
		enum { nthreads = 8 };
		pthread_t t[nthreads];
		thread_iters = n;
		start = now_ns();
		for (int i = 0; i < nthreads; i++)
			if (pthread_create(&t[i], NULL, getpid_thread, NULL) != 0) {
				fprintf(stderr, "pthread_create failed\n");
				return 1;
			}
		for (int i = 0; i < nthreads; i++)
			pthread_join(t[i], NULL);
		end = now_ns();
		n *= nthreads;
	} else if (strcmp(argv[1], "forkexec") == 0 && argc == 4) {
		start = now_ns();
		for (long i = 0; i < n; i++) {
			pid_t pid = fork();
			if (pid == 0) {
				execl(argv[3], argv[3], (char *)NULL);
				_exit(127);
			}
			int st;
			if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				perror("fork/exec/waitpid");
				return 1;
			}
		}
		end = now_ns();
	} else if (strcmp(argv[1], "sigsys") == 0) {
		if (trap_getpid() != 0) {
			perror("seccomp");
			return 1;
		}
		start = now_ns();
		for (long i = 0; i < n; i++)
			if (syscall(SYS_getpid) != 1) {
				fprintf(stderr, "getpid was not trapped\n");
				return 1;
			}
		end = now_ns();
	} else {
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 2;
	}
	printf("%.1f\n", (end - start) / n);
	return 0;
}
