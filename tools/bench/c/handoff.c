// handoff: what it costs on this host for one thread to hand a request to
// a thread of another process and get the answer back when neither may
// spin, the situation of every trapped syscall once the CPUs are busy.
// The floor under a trap-per-syscall design without a CPU to spare.
//
//   handoff futex N        two processes ping-pong through a futex word in
//                          shared memory (what systrap's stub and sentry do
//                          once they stop polling)
//   handoff notif N        the caller makes a syscall its seccomp filter
//                          turns into SECCOMP_RET_USER_NOTIF; the other
//                          process answers it (SECCOMP_IOCTL_NOTIF_RECV/SEND)
//   handoff notif-sync N   the same with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
//                          (Linux 6.6+): each side wakes the other on its
//                          own CPU
//
// Prints ns per round trip. Run it under `taskset -c 0` to put both sides
// on one CPU, as a busy machine does.
#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP 1
#endif

// A syscall number no kernel has: the filter sends it to the listener.
#define NOTIF_NR 0x3ff

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void futex_wait(uint32_t *w, uint32_t val)
{
	syscall(SYS_futex, w, FUTEX_WAIT, val, NULL, NULL, 0);
}

static void futex_wake(uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

// State word: 1 = request posted, 2 = answered, 3 = stop.
static double futex_loop(long n)
{
	uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED)
		die("mmap");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		for (;;) {
			uint32_t s;
			while ((s = __atomic_load_n(w, __ATOMIC_SEQ_CST)) != 1 && s != 3)
				futex_wait(w, s);
			if (s == 3)
				_exit(0);
			__atomic_store_n(w, 2, __ATOMIC_SEQ_CST);
			futex_wake(w);
		}
	}
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		__atomic_store_n(w, 1, __ATOMIC_SEQ_CST);
		futex_wake(w);
		uint32_t s;
		while ((s = __atomic_load_n(w, __ATOMIC_SEQ_CST)) != 2)
			futex_wait(w, s);
	}
	double per = (now_ns() - t0) / n;
	__atomic_store_n(w, 3, __ATOMIC_SEQ_CST);
	futex_wake(w);
	waitpid(pid, NULL, 0);
	return per;
}

static void send_fd(int sock, int fd)
{
	char byte = 0, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	if (sendmsg(sock, &m, 0) != 1)
		die("sendmsg");
}

static int recv_fd(int sock)
{
	char byte, ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {&byte, 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
	if (recvmsg(sock, &m, 0) != 1)
		die("recvmsg");
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (c == NULL || c->cmsg_type != SCM_RIGHTS)
		die("no fd");
	int fd;
	memcpy(&fd, CMSG_DATA(c), sizeof fd);
	return fd;
}

// The child installs the filter and makes the calls; the parent answers
// them until the child exits (RECV then fails with ENOENT or blocks
// forever, so the child's exit is waited for through the socket's EOF).
static double notif_loop(long n, int sync)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		die("socketpair");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct sock_filter f[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NOTIF_NR, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {sizeof f / sizeof f[0], f};
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
			die("no_new_privs");
		int fd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (fd < 0)
			die("seccomp");
		send_fd(sv[0], fd);
		close(fd);
		char go;
		if (read(sv[0], &go, 1) != 1)
			die("read");
		double t0 = now_ns();
		for (long i = 0; i < n; i++)
			if (syscall(NOTIF_NR) != 7)
				die("answer");
		double per = (now_ns() - t0) / n;
		if (write(sv[0], &per, sizeof per) != sizeof per)
			die("write");
		_exit(0);
	}
	int fd = recv_fd(sv[1]);
	if (sync && ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0) != 0)
		die("SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP");
	if (write(sv[1], "g", 1) != 1)
		die("write");
	for (long i = 0; i < n; i++) {
		struct seccomp_notif req;
		struct seccomp_notif_resp resp;
		memset(&req, 0, sizeof req);
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0)
			die("NOTIF_RECV");
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		resp.val = 7;
		if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0)
			die("NOTIF_SEND");
	}
	double per;
	if (read(sv[1], &per, sizeof per) != sizeof per)
		die("read result");
	waitpid(pid, NULL, 0);
	return per;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: handoff futex|notif|notif-sync N\n");
		return 2;
	}
	long n = atol(argv[2]);
	if (n <= 0) {
		fprintf(stderr, "handoff: N must be positive\n");
		return 2;
	}
	double per;
	if (strcmp(argv[1], "futex") == 0)
		per = futex_loop(n);
	else if (strcmp(argv[1], "notif") == 0)
		per = notif_loop(n, 0);
	else if (strcmp(argv[1], "notif-sync") == 0)
		per = notif_loop(n, 1);
	else {
		fprintf(stderr, "handoff: unknown mode %s\n", argv[1]);
		return 2;
	}
	printf("%.1f\n", per);
	return 0;
}
