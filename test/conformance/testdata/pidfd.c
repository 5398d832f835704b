/*
 * pidfd: file descriptors that refer to a process. pidfd_open (flags,
 * ESRCH for a reaped pid, a thread other than the leader refused unless
 * PIDFD_THREAD, close-on-exec, PIDFD_NONBLOCK in the status flags), what
 * the file is (anon_inode:[pidfd], fdinfo's Pid and NSpid lines, -1 once
 * reaped, one inode number per process, pidfs's f_type, read and lseek
 * refused), poll and epoll readiness when the process exits (POLLIN for a
 * zombie, POLLHUP too once reaped; a PIDFD_THREAD pidfd when its thread
 * exits), pidfd_send_signal (signal 0, SI_USER from the sender, SI_TKILL
 * with PIDFD_SIGNAL_THREAD, a siginfo's value and the rule against forged
 * codes, the process group scope, 0 for a zombie, ESRCH once reaped,
 * EINVAL and EBADF), waitid(P_PIDFD) (blocking, WNOHANG, WNOWAIT, a
 * non-blocking pidfd's EAGAIN, ECHILD for a process that is not a child),
 * CLONE_PIDFD through clone and clone3 (the pidfd written where the caller
 * said, not in the child's table, EINVAL with the parent's tid at the same
 * place, EFAULT for a bad address with no child made, a thread's pidfd
 * with CLONE_THREAD), and pidfd_getfd (a close-on-exec copy of another
 * process's fd, EBADF, EINVAL, ESRCH after exit, EPERM for an
 * unprivileged caller on root's process).
 */
#include "check.h"
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define PIDFD_NONBLOCK_ O_NONBLOCK
#define PIDFD_THREAD_ O_EXCL
#define PIDFD_SIGNAL_THREAD_ 1
#define PIDFD_SIGNAL_THREAD_GROUP_ 2
#define PIDFD_SIGNAL_PROCESS_GROUP_ 4
#define PIDFS_MAGIC_ 0x50494446

static int pidfd_open(pid_t pid, unsigned flags) { return syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags)
{
	return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}
static int pidfd_getfd(int fd, int target, unsigned flags) { return syscall(SYS_pidfd_getfd, fd, target, flags); }

/* struct pidfd_info of PIDFD_GET_INFO (Linux 6.13), with 6.16's
 * coredump_mask. */
struct pidfd_info_ {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
	uint32_t coredump_mask, spare1;
};
#define PIDFD_INFO_PID_ 1
#define PIDFD_INFO_CREDS_ 2
#define PIDFD_INFO_EXIT_ 8
/* PIDFD_GET_INFO for a struct of size bytes. */
#define PIDFD_GET_INFO_(size) _IOC(_IOC_READ | _IOC_WRITE, 0xFF, 11, size)

struct clone_args_v0 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
};

/* revents polls fd once without waiting (or up to ms). */
static int revents(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT | POLLPRI};
	int n = poll(&p, 1, ms);
	return n == 1 ? p.revents : 0;
}

/* settle polls fd until its events are want (a thread's pidfd turns
 * readable as the thread exits, and hangs up a moment later when it is
 * released), for up to 5 s; it returns the last events seen. */
static int settle(int fd, int want)
{
	int r = 0;
	for (int i = 0; i < 500; i++) {
		r = revents(fd, 10);
		if (r == want)
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return r;
}

/* fdinfo_line returns the line of /proc/self/fdinfo/fd starting with key. */
static const char *fdinfo_line(int fd, const char *key)
{
	static char line[128];
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY);
	if (f < 0)
		return "";
	ssize_t n = read(f, buf, sizeof buf - 1);
	close(f);
	buf[n > 0 ? n : 0] = 0;
	for (char *s = buf; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL) {
		if (strncmp(s, key, strlen(key)) == 0) {
			size_t l = strcspn(s, "\n");
			snprintf(line, sizeof line, "%.*s", (int)l, s);
			return line;
		}
	}
	return "";
}

/* sleeper forks a child that waits until the write end of a pipe closes,
 * then exits with code; *wfd gets that write end. */
static pid_t sleeper(int code, int *wfd)
{
	int p[2];
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* Hold no other sleeper's pipe open. */
		for (int i = 3; i < 256; i++)
			if (i != p[0])
				close(i);
		char c;
		while (read(p[0], &c, 1) == -1 && errno == EINTR)
			;
		_exit(code);
	}
	close(p[0]);
	*wfd = p[1];
	return pid;
}

static void open_errors(void)
{
	EXPECT_ERR(pidfd_open(getpid(), 1), EINVAL);
	EXPECT_ERR(pidfd_open(getpid(), O_CLOEXEC), EINVAL);
	EXPECT_ERR(pidfd_open(0, 0), EINVAL);
	EXPECT_ERR(pidfd_open(-1, 0), EINVAL);
	fflush(stdout);
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	CHECK(waitpid(gone, NULL, 0) == gone);
	EXPECT_ERR(pidfd_open(gone, 0), ESRCH);
	puts("pidfd_open: EINVAL for unknown flags and pids <= 0, ESRCH for a reaped pid");
}

static void the_file(void)
{
	int fd = MUST(pidfd_open(getpid(), 0));
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
	CHECK((fcntl(fd, F_GETFL) & ~0100000) == O_RDWR);
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = 0;
	printf("link: %s\n", link);
	CHECK(strcmp(link, "anon_inode:[pidfd]") == 0);
	char want[64];
	snprintf(want, sizeof want, "Pid:\t%d", (int)getpid());
	CHECK(strcmp(fdinfo_line(fd, "Pid:"), want) == 0);
	snprintf(want, sizeof want, "NSpid:\t%d", (int)getpid());
	CHECK(strcmp(fdinfo_line(fd, "NSpid:"), want) == 0);
	printf("fdinfo: %s\n", fdinfo_line(fd, "flags:"));

	int nb = MUST(pidfd_open(getpid(), PIDFD_NONBLOCK_));
	CHECK((fcntl(nb, F_GETFL) & ~0100000) == (O_RDWR | O_NONBLOCK));
	printf("fdinfo with PIDFD_NONBLOCK: %s\n", fdinfo_line(nb, "flags:"));
	struct stat a, b;
	CHECK(fstat(fd, &a) == 0 && fstat(nb, &b) == 0);
	CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	struct statfs sf;
	CHECK(fstatfs(fd, &sf) == 0 && sf.f_type == PIDFS_MAGIC_);
	char c;
	EXPECT_ERR(read(fd, &c, 1), EINVAL);
	EXPECT_ERR(write(fd, &c, 1), EINVAL);
	EXPECT_ERR(lseek(fd, 0, SEEK_SET), ESPIPE);

	int w;
	pid_t pid = sleeper(0, &w);
	int cfd = MUST(pidfd_open(pid, 0));
	struct stat cs;
	CHECK(fstat(cfd, &cs) == 0 && cs.st_ino != a.st_ino);
	snprintf(want, sizeof want, "Pid:\t%d", (int)pid);
	CHECK(strcmp(fdinfo_line(cfd, "Pid:"), want) == 0);
	close(w);
	siginfo_t si = {0};
	CHECK(waitid(P_PIDFD, cfd, &si, WEXITED) == 0 && si.si_pid == pid);
	printf("fdinfo once reaped: %s, %s\n", fdinfo_line(cfd, "Pid:"), fdinfo_line(cfd, "NSpid:"));
	CHECK(fstat(cfd, &b) == 0 && b.st_ino == cs.st_ino);
	close(cfd);
	close(nb);
	close(fd);
	puts("the file: close-on-exec, O_RDWR, one inode per process, no read, write or lseek");
}

static void *quick_thread(void *arg)
{
	*(volatile pid_t *)arg = gettid();
	return NULL;
}

static void *waiting_thread(void *arg)
{
	int *p = arg;
	p[2] = gettid();
	char c;
	while (read(p[0], &c, 1) == -1 && errno == EINTR)
		;
	return NULL;
}

static void threads(void)
{
	int p[3];
	CHECK(pipe(p) == 0);
	p[2] = 0;
	pthread_t th;
	CHECK(pthread_create(&th, NULL, waiting_thread, p) == 0);
	while (!__atomic_load_n(&p[2], __ATOMIC_SEQ_CST))
		sched_yield();
	pid_t tid = p[2];
	errno = 0;
	int r = pidfd_open(tid, 0);
	/* ENOENT since Linux 6.15, EINVAL before. */
	CHECKF(r == -1 && (errno == ENOENT || errno == EINVAL), "pidfd_open(tid, 0) = %d, %s", r, errname(errno));
	int tfd = MUST(pidfd_open(tid, PIDFD_THREAD_));
	CHECK((fcntl(tfd, F_GETFL) & ~0100000) == (O_RDWR | O_EXCL));
	int pfd = MUST(pidfd_open(getpid(), PIDFD_THREAD_));
	CHECK(revents(tfd, 0) == 0 && revents(pfd, 0) == 0);
	/* A thread's pidfd signals that thread: SIGURG (ignored) checks the path. */
	CHECK(pidfd_send_signal(tfd, 0, NULL, 0) == 0);
	CHECK(pidfd_send_signal(tfd, SIGURG, NULL, 0) == 0);
	close(p[1]);
	CHECK(pthread_join(th, NULL) == 0);
	/* The thread is gone: readable and hung up, ESRCH to signal. */
	int ev = settle(tfd, POLLIN | POLLHUP);
	printf("thread pidfd after the thread's exit: POLLIN %s, POLLHUP %s\n", yesno(ev & POLLIN), yesno(ev & POLLHUP));
	CHECK(ev == (POLLIN | POLLHUP));
	EXPECT_ERR(pidfd_send_signal(tfd, 0, NULL, 0), ESRCH);
	CHECK(strcmp(fdinfo_line(tfd, "Pid:"), "Pid:\t-1") == 0);
	/* The process goes on: its leader's thread pidfd is not readable. */
	CHECK(revents(pfd, 0) == 0);
	close(p[0]);
	close(tfd);
	close(pfd);

	volatile pid_t qt = 0;
	CHECK(pthread_create(&th, NULL, quick_thread, (void *)&qt) == 0);
	CHECK(pthread_join(th, NULL) == 0);
	/* The join returns as the thread clears its tid, a moment before it
	 * is released. */
	for (int i = 0; i < 500; i++) {
		int fd = pidfd_open(qt, PIDFD_THREAD_);
		if (fd < 0)
			break;
		close(fd);
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	EXPECT_ERR(pidfd_open(qt, PIDFD_THREAD_), ESRCH);
	puts("threads: refused without PIDFD_THREAD, a thread pidfd readable when its thread ends");
}

static void readiness(void)
{
	int w;
	pid_t pid = sleeper(3, &w);
	int fd = MUST(pidfd_open(pid, 0));
	int ep = MUST(epoll_create1(EPOLL_CLOEXEC));
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, got;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
	CHECK(revents(fd, 0) == 0);
	CHECK(epoll_wait(ep, &got, 1, 0) == 0);
	close(w);
	/* A blocking poll woken by the exit; the zombie is readable only. */
	int r = revents(fd, 5000);
	printf("zombie: POLLIN %s, POLLHUP %s\n", yesno(r & POLLIN), yesno(r & POLLHUP));
	CHECK(r == POLLIN);
	CHECK(epoll_wait(ep, &got, 1, 5000) == 1 && got.data.fd == fd && got.events == EPOLLIN);
	CHECK(pidfd_send_signal(fd, 0, NULL, 0) == 0);
	CHECK(pidfd_send_signal(fd, SIGTERM, NULL, 0) == 0);
	char want[64];
	snprintf(want, sizeof want, "Pid:\t%d", (int)pid);
	CHECK(strcmp(fdinfo_line(fd, "Pid:"), want) == 0);
	/* The zombie still has its pid: another pidfd can be opened. */
	int fd2 = MUST(pidfd_open(pid, 0));
	close(fd2);
	CHECK(waitpid(pid, NULL, 0) == pid);
	r = revents(fd, 0);
	printf("reaped: POLLIN %s, POLLHUP %s\n", yesno(r & POLLIN), yesno(r & POLLHUP));
	CHECK(r == (POLLIN | POLLHUP));
	EXPECT_ERR(pidfd_send_signal(fd, 0, NULL, 0), ESRCH);
	EXPECT_ERR(pidfd_open(pid, 0), ESRCH);

	/* Exit of a child blocked in epoll_wait. */
	pid = sleeper(0, &w);
	int fd3 = MUST(pidfd_open(pid, 0));
	ev.data.fd = fd3;
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == 0);
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd3, &ev) == 0);
	fflush(stdout);
	pid_t closer = fork();
	if (closer == 0) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		close(w);
		_exit(0);
	}
	close(w);
	CHECK(epoll_wait(ep, &got, 1, 5000) == 1 && got.data.fd == fd3);
	CHECK(waitpid(closer, NULL, 0) == closer && waitpid(pid, NULL, 0) == pid);
	close(fd3);
	close(fd);
	close(ep);
	puts("readiness: poll and epoll wake on the exit; POLLHUP once reaped");
}

static volatile sig_atomic_t got_sig, got_code, got_pid, got_int;

static void on_usr(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_code = si->si_code;
	got_pid = si->si_pid;
	got_int = si->si_value.sival_int;
}

/* signalled forks a child that reports each SIGUSR1/SIGUSR2 it gets on a
 * pipe (signo, code, sender, value) and exits at SIGUSR2. */
static pid_t signalled(int *rfd)
{
	int p[2];
	CHECK(pipe(p) == 0);
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigaddset(&s, SIGUSR2);
	CHECK(sigprocmask(SIG_BLOCK, &s, NULL) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		for (;;) {
			siginfo_t si;
			/* Not glibc's sigwaitinfo: it shows SI_TKILL as SI_USER. */
			int sig = syscall(SYS_rt_sigtimedwait, &s, &si, NULL, 8);
			if (sig < 0)
				continue;
			int rep[4] = {sig, si.si_code, si.si_pid, si.si_value.sival_int};
			if (write(p[1], rep, sizeof rep) != sizeof rep)
				_exit(1);
			if (sig == SIGUSR2)
				_exit(0);
		}
	}
	CHECK(sigprocmask(SIG_UNBLOCK, &s, NULL) == 0);
	close(p[1]);
	*rfd = p[0];
	return pid;
}

static void send_signal(void)
{
	int r;
	pid_t pid = signalled(&r);
	int fd = MUST(pidfd_open(pid, 0));
	int rep[4];
	siginfo_t wi = {0};
	CHECK(pidfd_send_signal(fd, 0, NULL, 0) == 0);
	CHECK(pidfd_send_signal(fd, SIGUSR1, NULL, 0) == 0);
	CHECK(read(r, rep, sizeof rep) == sizeof rep);
	CHECK(rep[0] == SIGUSR1 && rep[1] == SI_USER && rep[2] == getpid());
	CHECK(pidfd_send_signal(fd, SIGUSR1, NULL, PIDFD_SIGNAL_THREAD_) == 0);
	CHECK(read(r, rep, sizeof rep) == sizeof rep);
	CHECK(rep[0] == SIGUSR1 && rep[1] == SI_TKILL && rep[2] == getpid());
	CHECK(pidfd_send_signal(fd, SIGUSR1, NULL, PIDFD_SIGNAL_THREAD_GROUP_) == 0);
	CHECK(read(r, rep, sizeof rep) == sizeof rep);
	CHECK(rep[0] == SIGUSR1 && rep[1] == SI_USER);
	puts("pidfd_send_signal: SI_USER, SI_TKILL with PIDFD_SIGNAL_THREAD");

	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = SIGUSR1;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = 4242;
	CHECK(pidfd_send_signal(fd, SIGUSR1, &si, 0) == 0);
	CHECK(read(r, rep, sizeof rep) == sizeof rep);
	CHECK(rep[0] == SIGUSR1 && rep[1] == SI_QUEUE && rep[3] == 4242);
	EXPECT_ERR(pidfd_send_signal(fd, SIGUSR2, &si, 0), EINVAL);
	si.si_code = SI_KERNEL;
	EXPECT_ERR(pidfd_send_signal(fd, SIGUSR1, &si, 0), EPERM);
	si.si_code = SI_TKILL;
	EXPECT_ERR(pidfd_send_signal(fd, SIGUSR1, &si, 0), EPERM);
	si.si_code = SI_KERNEL;
	EXPECT_ERR(pidfd_send_signal(fd, SIGUSR1, &si, PIDFD_SIGNAL_PROCESS_GROUP_), EPERM);
	si.si_code = SI_QUEUE;
	EXPECT_ERR(pidfd_send_signal(fd, SIGUSR1, (siginfo_t *)8, 0), EFAULT);

	/* A forged code is allowed to the caller's own thread. */
	struct sigaction sa = {.sa_sigaction = on_usr, .sa_flags = SA_SIGINFO};
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
	int self = MUST(pidfd_open(getpid(), 0));
	si.si_code = SI_KERNEL;
	si.si_value.sival_int = 77;
	CHECK(pidfd_send_signal(self, SIGUSR1, &si, 0) == 0);
	CHECK(got_sig == SIGUSR1 && got_code == SI_KERNEL);
	CHECK(pidfd_send_signal(self, SIGUSR1, NULL, 0) == 0);
	CHECK(got_code == SI_USER && got_pid == getpid());
	signal(SIGUSR1, SIG_DFL);
	puts("a siginfo: its value, EINVAL for another signal, EPERM for a forged code but to oneself");

	EXPECT_ERR(pidfd_send_signal(fd, 0, NULL, 8), EINVAL);
	EXPECT_ERR(pidfd_send_signal(fd, 0, NULL, PIDFD_SIGNAL_THREAD_ | PIDFD_SIGNAL_THREAD_GROUP_), EINVAL);
	EXPECT_ERR(pidfd_send_signal(fd, 99, NULL, 0), EINVAL);
	EXPECT_ERR(pidfd_send_signal(fd, -1, NULL, 0), EINVAL);
	EXPECT_ERR(pidfd_send_signal(r, 0, NULL, 0), EBADF);
	EXPECT_ERR(pidfd_send_signal(-1, 0, NULL, 0), EBADF);
	EXPECT_ERR(pidfd_send_signal(999, 0, NULL, 0), EBADF);
	/* Process group scope: the child leads no group. */
	EXPECT_ERR(pidfd_send_signal(fd, 0, NULL, PIDFD_SIGNAL_PROCESS_GROUP_), ESRCH);

	/* A /proc/<pid> directory stands for its process here, and only here. */
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d", (int)pid);
	int pd = MUST(open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(pidfd_send_signal(pd, SIGUSR1, NULL, 0) == 0);
	CHECK(read(r, rep, sizeof rep) == sizeof rep);
	CHECK(rep[0] == SIGUSR1 && rep[1] == SI_USER && rep[2] == getpid());
	EXPECT_ERR(waitid(P_PIDFD, pd, &wi, WEXITED | WNOHANG), EBADF);
	EXPECT_ERR(pidfd_getfd(pd, 0, 0), EBADF);
	int procfd = MUST(open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	EXPECT_ERR(pidfd_send_signal(procfd, 0, NULL, 0), EBADF);
	close(procfd);
	int selfdir = MUST(open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	CHECK(pidfd_send_signal(selfdir, 0, NULL, 0) == 0);
	close(selfdir);
	snprintf(dir, sizeof dir, "/proc/self/task/%d", (int)getpid());
	int taskdir = MUST(open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	EXPECT_ERR(pidfd_send_signal(taskdir, 0, NULL, 0), EBADF);
	close(taskdir);

	CHECK(pidfd_send_signal(fd, SIGUSR2, NULL, 0) == 0);
	CHECK(read(r, rep, sizeof rep) == sizeof rep && rep[0] == SIGUSR2);
	CHECK(waitid(P_PIDFD, fd, &wi, WEXITED) == 0 && wi.si_code == CLD_EXITED && wi.si_status == 0);
	EXPECT_ERR(pidfd_send_signal(fd, 0, NULL, 0), ESRCH);
	EXPECT_ERR(pidfd_send_signal(pd, 0, NULL, 0), ESRCH);
	close(pd);
	EXPECT_ERR(pidfd_send_signal(fd, SIGKILL, NULL, 0), ESRCH);
	close(fd);
	close(r);
	close(self);
	puts("EINVAL for bad flags and signals, EBADF for other files, ESRCH once reaped");
	puts("a /proc/<pid> directory's fd: signalled like a pidfd, EBADF for waitid and pidfd_getfd");

	/* SIGKILL through the pidfd. */
	int w;
	pid = sleeper(0, &w);
	fd = MUST(pidfd_open(pid, 0));
	CHECK(pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0);
	memset(&wi, 0, sizeof wi);
	CHECK(waitid(P_PIDFD, fd, &wi, WEXITED) == 0 && wi.si_code == CLD_KILLED && wi.si_status == SIGKILL);
	close(fd);
	close(w);

	/* A process group leader and its child, killed as a group. */
	int p[2];
	CHECK(pipe(p) == 0);
	int ready[2];
	CHECK(pipe(ready) == 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		close(p[0]);
		close(ready[0]);
		if (fork() == 0) {
			close(ready[1]);
			for (;;)
				pause();
		}
		close(p[1]);
		close(ready[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	close(ready[1]);
	char c;
	CHECK(read(ready[0], &c, 1) == 0); /* both are set up */
	close(ready[0]);
	fd = MUST(pidfd_open(pid, 0));
	CHECK(pidfd_send_signal(fd, SIGKILL, NULL, PIDFD_SIGNAL_PROCESS_GROUP_) == 0);
	/* Both held p's write end: EOF says both died. */
	CHECK(read(p[0], &c, 1) == 0);
	memset(&wi, 0, sizeof wi);
	CHECK(waitid(P_PIDFD, fd, &wi, WEXITED) == 0 && wi.si_status == SIGKILL);
	close(p[0]);
	close(fd);
	/* The grandchild comes to us (subreaper, or init in the sandbox). */
	CHECK(waitpid(-1, NULL, 0) > 0);
	puts("SIGKILL to the process, and to the process group it leads");
}

static void waits(void)
{
	int w1, w2;
	pid_t other = sleeper(4, &w1);
	pid_t pid = sleeper(7, &w2);
	int fd = MUST(pidfd_open(pid, 0));
	int nb = MUST(pidfd_open(pid, PIDFD_NONBLOCK_));
	siginfo_t si;
	memset(&si, 0xff, sizeof si);
	CHECK(waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0 && si.si_signo == 0);
	EXPECT_ERR(waitid(P_PIDFD, nb, &si, WEXITED), EAGAIN);
	CHECK(waitid(P_PIDFD, nb, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0);
	EXPECT_ERR(waitid(P_PIDFD, fd, &si, 0), EINVAL);
	EXPECT_ERR(waitid(P_PIDFD, -1, &si, WEXITED), EINVAL);
	EXPECT_ERR(waitid(P_PIDFD, 999, &si, WEXITED), EBADF);
	EXPECT_ERR(waitid(P_PIDFD, w1, &si, WEXITED), EBADF);
	int self = MUST(pidfd_open(getpid(), 0));
	EXPECT_ERR(waitid(P_PIDFD, self, &si, WEXITED), ECHILD);
	/* waitid writes its six fields, zeros on an error too, and no other
	 * byte; a bad siginfo address is EFAULT whatever the wait found. */
	memset(&si, 0xff, sizeof si);
	EXPECT_ERR(waitid(P_PIDFD, self, &si, WEXITED), ECHILD);
	unsigned char *raw = (unsigned char *)&si;
	CHECK(si.si_signo == 0 && si.si_errno == 0 && si.si_code == 0 && si.si_pid == 0 && si.si_uid == 0 && si.si_status == 0);
	CHECK(raw[12] == 0xff && raw[28] == 0xff && raw[sizeof si - 1] == 0xff);
	EXPECT_ERR(waitid(P_PIDFD, self, (siginfo_t *)8, WEXITED), EFAULT);
	struct rusage ru;
	memset(&ru, 0xff, sizeof ru);
	CHECK(syscall(SYS_waitid, P_PIDFD, fd, &si, WEXITED | WNOHANG, &ru) == 0 && si.si_pid == 0);
	CHECK(ru.ru_utime.tv_sec == -1);
	close(self);

	/* The other child exits first: a wait on the pidfd is not about it. */
	close(w1);
	int ofd = MUST(pidfd_open(other, 0));
	CHECK(revents(ofd, 5000) == POLLIN);
	EXPECT_ERR(waitid(P_PIDFD, nb, &si, WEXITED), EAGAIN);
	fflush(stdout);
	pid_t closer = fork();
	if (closer == 0) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
		close(w2);
		_exit(0);
	}
	close(w2);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PIDFD, fd, &si, WEXITED | WNOWAIT) == 0);
	CHECK(si.si_signo == SIGCHLD && si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 7);
	memset(&si, 0xff, sizeof si);
	CHECK(syscall(SYS_waitid, P_PIDFD, nb, &si, WEXITED, &ru) == 0 && si.si_pid == pid && si.si_status == 7);
	CHECK(si.si_signo == SIGCHLD && si.si_errno == 0 && si.si_uid == getuid() && raw[12] == 0xff && raw[28] == 0xff);
	CHECK(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0);
	EXPECT_ERR(waitid(P_PIDFD, fd, &si, WEXITED), ECHILD);
	CHECK(waitid(P_PIDFD, ofd, &si, WEXITED) == 0 && si.si_status == 4);
	close(ofd);
	CHECK(waitpid(closer, NULL, 0) == closer);
	close(fd);
	close(nb);
	puts("waitid(P_PIDFD): that child only; WNOHANG, WNOWAIT, EAGAIN when non-blocking, ECHILD, EBADF");
}

static int clone_child_fn(void *arg)
{
	(void)arg;
	return 0;
}

static void clones(void)
{
	/* clone(CLONE_PIDFD): the pidfd goes where the parent's tid would. */
	int pidfd = -1;
	int next = MUST(dup(0));
	close(next);
	fflush(stdout);
	long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);
	if (pid == 0) {
		/* The child's memory and fds were copied before the pidfd was
		 * made: it is the parent's alone. */
		_exit(pidfd == -1 && fcntl(next, F_GETFD) == -1 && errno == EBADF ? 5 : 6);
	}
	CHECK(pid > 0 && pidfd == next);
	CHECK(fcntl(pidfd, F_GETFD) == FD_CLOEXEC);
	char want[64];
	snprintf(want, sizeof want, "Pid:\t%ld", pid);
	CHECK(strcmp(fdinfo_line(pidfd, "Pid:"), want) == 0);
	siginfo_t si = {0};
	CHECK(waitid(P_PIDFD, pidfd, &si, WEXITED) == 0 && si.si_pid == pid && si.si_status == 5);
	close(pidfd);
	int tid = -1;
	EXPECT_ERR(syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &tid, 0, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_clone, CLONE_PIDFD | 0x00400000 /* CLONE_DETACHED */ | SIGCHLD, 0, &pidfd, 0, 0), EINVAL);
	puts("clone(CLONE_PIDFD): the parent's pidfd, close-on-exec, not in the child");

	/* clone3: the pidfd field, beside the parent's tid. */
	struct clone_args_v0 ca = {0};
	pidfd = -1;
	tid = -1;
	ca.flags = CLONE_PIDFD | CLONE_PARENT_SETTID;
	ca.pidfd = (uintptr_t)&pidfd;
	ca.parent_tid = (uintptr_t)&tid;
	ca.exit_signal = SIGCHLD;
	fflush(stdout);
	pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0)
		_exit(9);
	CHECK(pid > 0 && pidfd >= 0 && tid == pid);
	CHECK(fcntl(pidfd, F_GETFD) == FD_CLOEXEC);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PIDFD, pidfd, &si, WEXITED) == 0 && si.si_pid == pid && si.si_status == 9);
	close(pidfd);
	ca.parent_tid = ca.pidfd;
	EXPECT_ERR(syscall(SYS_clone3, &ca, sizeof ca), EINVAL);

	/* No exit signal: a "clone" child, which only __WCLONE or __WALL
	 * waits for (Go's probe of CLONE_PIDFD waits so). */
	memset(&ca, 0, sizeof ca);
	pidfd = -1;
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uintptr_t)&pidfd;
	fflush(stdout);
	pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0)
		_exit(3);
	CHECK(pid > 0 && pidfd >= 0);
	CHECK(revents(pidfd, 5000) == POLLIN);
	EXPECT_ERR(waitid(P_PIDFD, pidfd, &si, WEXITED), ECHILD);
	EXPECT_ERR(waitpid(pid, NULL, WNOHANG), ECHILD);
	EXPECT_ERR(waitpid(-1, NULL, WNOHANG), ECHILD);
	memset(&si, 0, sizeof si);
	CHECK(waitid(P_PIDFD, pidfd, &si, WEXITED | WNOWAIT | __WCLONE) == 0 && si.si_pid == pid && si.si_status == 3);
	CHECK(waitid(P_PIDFD, pidfd, &si, WEXITED | WNOWAIT | __WALL) == 0 && si.si_pid == pid);
	int status = 0;
	CHECK(waitpid(pid, &status, __WCLONE) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 3);
	close(pidfd);
	puts("a child with no exit signal: waited for with __WCLONE or __WALL only");
	/* A pidfd that cannot be written fails the clone: no child. */
	ca.flags = CLONE_PIDFD;
	ca.pidfd = 8;
	ca.parent_tid = 0;
	next = MUST(dup(0));
	close(next);
	fflush(stdout);
	EXPECT_ERR(syscall(SYS_clone3, &ca, sizeof ca), EFAULT);
	EXPECT_ERR(waitpid(-1, NULL, WNOHANG), ECHILD);
	int probe = MUST(dup(0));
	close(probe);
	CHECK(probe == next);
	puts("clone3(CLONE_PIDFD): the pidfd field; EINVAL at the parent's tid, EFAULT with no child");

	/* A thread's pidfd: CLONE_THREAD makes it a PIDFD_THREAD one. */
	size_t sz = 64 * 1024;
	char *stack = malloc(sz);
	CHECK(stack != NULL);
	pidfd = -1;
	int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_PIDFD;
	int t = clone(clone_child_fn, stack + sz, flags, NULL, &pidfd);
	CHECK(t > 0 && pidfd >= 0);
	CHECK((fcntl(pidfd, F_GETFL) & ~0100000) == (O_RDWR | O_EXCL));
	CHECK(settle(pidfd, POLLIN | POLLHUP) == (POLLIN | POLLHUP));
	close(pidfd);
	free(stack);
	puts("clone(CLONE_THREAD|CLONE_PIDFD): a thread pidfd, readable once the thread ends");
}

static void getfd(void)
{
	int rep[2], go[2];
	CHECK(pipe(rep) == 0 && pipe(go) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(rep[0]);
		close(go[1]);
		int p[2];
		if (pipe(p) != 0 || write(p[1], "secret", 6) != 6)
			_exit(1);
		close(p[1]);
		if (write(rep[1], &p[0], sizeof p[0]) != sizeof p[0])
			_exit(1);
		char c;
		while (read(go[0], &c, 1) == -1 && errno == EINTR)
			;
		_exit(0);
	}
	close(rep[1]);
	close(go[0]);
	int target = -1;
	CHECK(read(rep[0], &target, sizeof target) == sizeof target);
	int fd = MUST(pidfd_open(pid, 0));
	int got = MUST(pidfd_getfd(fd, target, 0));
	CHECK(fcntl(got, F_GETFD) == FD_CLOEXEC);
	char buf[16] = {0};
	CHECK(read(got, buf, sizeof buf) == 6 && memcmp(buf, "secret", 6) == 0);
	close(got);
	EXPECT_ERR(pidfd_getfd(fd, target, 1), EINVAL);
	EXPECT_ERR(pidfd_getfd(fd, 999, 0), EBADF);
	EXPECT_ERR(pidfd_getfd(fd, -1, 0), EBADF);
	EXPECT_ERR(pidfd_getfd(rep[0], 0, 0), EBADF);
	int self = MUST(pidfd_open(getpid(), 0));
	got = MUST(pidfd_getfd(self, rep[0], 0));
	struct stat a, b;
	CHECK(fstat(got, &a) == 0 && fstat(rep[0], &b) == 0 && a.st_ino == b.st_ino);
	close(got);
	puts("pidfd_getfd: a close-on-exec copy of the child's fd; EINVAL, EBADF");

	/* An unprivileged process may not take root's fds. */
	int res[2];
	CHECK(pipe(res) == 0);
	fflush(stdout);
	pid_t nobody = fork();
	if (nobody == 0) {
		close(res[0]);
		int e = 0;
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
			e = -1;
		else if (pidfd_getfd(self, 0, 0) == -1)
			e = errno;
		if (write(res[1], &e, sizeof e) != sizeof e)
			_exit(1);
		_exit(0);
	}
	close(res[1]);
	int e = -2;
	CHECK(read(res[0], &e, sizeof e) == sizeof e);
	CHECKF(e == EPERM, "got %s", errname(e));
	CHECK(waitpid(nobody, NULL, 0) == nobody);
	close(res[0]);
	close(self);

	close(go[1]);
	CHECK(revents(fd, 5000) == POLLIN);
	EXPECT_ERR(pidfd_getfd(fd, 0, 0), ESRCH);
	CHECK(waitpid(pid, NULL, 0) == pid);
	EXPECT_ERR(pidfd_getfd(fd, 0, 0), ESRCH);
	close(fd);
	close(rep[0]);
	puts("EPERM for uid 65534 on root's process, ESRCH once the process has exited");
}

static const char *self_exe;

/* exec_thread: a thread that reports its tid on fds[1], waits for a byte
 * on fds[2], then execs the program in mode --exit7, which waits for the
 * end of that pipe, then exits 7. */
static void *exec_thread(void *arg)
{
	int *fds = arg;
	pid_t tid = gettid();
	if (write(fds[1], &tid, sizeof tid) != sizeof tid)
		_exit(1);
	char c;
	while (read(fds[2], &c, 1) == -1 && errno == EINTR)
		;
	char num[16];
	snprintf(num, sizeof num, "%d", fds[2]);
	execl(self_exe, self_exe, "--exit7", num, (char *)NULL);
	_exit(1);
}

/* thread_exec: a pidfd goes on referring to its process when a thread
 * other than the leader execs (the thread takes the leader's pid); a
 * PIDFD_THREAD pidfd of that thread's old tid sees it gone. */
static void thread_exec(void)
{
	int rep[2], go[2];
	CHECK(pipe(rep) == 0 && pipe(go) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(go[1]);
		int fds[3] = {rep[0], rep[1], go[0]};
		pthread_t th;
		if (pthread_create(&th, NULL, exec_thread, fds) != 0)
			_exit(1);
		for (;;)
			pause();
	}
	close(rep[1]);
	close(go[0]);
	pid_t tid = 0;
	CHECK(read(rep[0], &tid, sizeof tid) == sizeof tid);
	int fd = MUST(pidfd_open(pid, 0));
	int tfd = MUST(pidfd_open(tid, PIDFD_THREAD_));
	int lfd = MUST(pidfd_open(pid, PIDFD_THREAD_));
	struct stat before, after;
	CHECK(fstat(fd, &before) == 0);
	CHECK(write(go[1], "x", 1) == 1);
	CHECK(settle(tfd, POLLIN | POLLHUP) == (POLLIN | POLLHUP));
	EXPECT_ERR(pidfd_send_signal(tfd, 0, NULL, 0), ESRCH);
	CHECK(strcmp(fdinfo_line(tfd, "Pid:"), "Pid:\t-1") == 0);
	/* The process runs on in the new image. */
	CHECK(revents(fd, 0) == 0 && revents(lfd, 0) == 0);
	CHECK(pidfd_send_signal(fd, 0, NULL, 0) == 0 && pidfd_send_signal(lfd, 0, NULL, 0) == 0);
	char want[64];
	snprintf(want, sizeof want, "Pid:\t%d", (int)pid);
	CHECK(strcmp(fdinfo_line(lfd, "Pid:"), want) == 0);
	close(go[1]);
	/* The leader's pid lives on in the new image until it exits 7. */
	siginfo_t si = {0};
	CHECK(waitid(P_PIDFD, fd, &si, WEXITED) == 0 && si.si_pid == pid && si.si_code == CLD_EXITED && si.si_status == 7);
	CHECK(fstat(lfd, &after) == 0 && after.st_ino == before.st_ino);
	close(fd);
	close(tfd);
	close(lfd);
	close(rep[0]);
	puts("a thread's exec: the process pidfd follows the leader's pid, the thread's old tid is gone");
}

#define SO_PEERPIDFD_ 77

/* peer_pidfd: SO_PEERPIDFD gives a pidfd of a unix socket's peer, as
 * of the connection (for a listener, of the caller of listen). */
static void peer_pidfd(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	int fd = -1;
	socklen_t len = sizeof fd;
	CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERPIDFD_, &fd, &len) == 0 && len == sizeof fd);
	CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
	int self = MUST(pidfd_open(getpid(), 0));
	struct stat a, b;
	CHECK(fstat(fd, &a) == 0 && fstat(self, &b) == 0 && a.st_ino == b.st_ino);
	close(fd);
	close(self);
	close(sv[0]);
	close(sv[1]);
	int lone = MUST(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	len = sizeof fd;
	EXPECT_ERR(getsockopt(lone, SOL_SOCKET, SO_PEERPIDFD_, &fd, &len), ENODATA);
	close(lone);

	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "pidfd-%d", (int)getpid());
	socklen_t alen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
	int l = MUST(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	CHECK(bind(l, (struct sockaddr *)&addr, alen) == 0 && listen(l, 1) == 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&addr, alen) != 0)
			_exit(1);
		char ch;
		while (read(c, &ch, 1) == -1 && errno == EINTR)
			;
		_exit(0);
	}
	int conn = MUST(accept4(l, NULL, NULL, SOCK_CLOEXEC));
	len = sizeof fd;
	CHECK(getsockopt(conn, SOL_SOCKET, SO_PEERPIDFD_, &fd, &len) == 0);
	char want[64];
	snprintf(want, sizeof want, "Pid:\t%d", (int)pid);
	CHECK(strcmp(fdinfo_line(fd, "Pid:"), want) == 0);
	close(conn);
	CHECK(revents(fd, 5000) == POLLIN);
	CHECK(waitpid(pid, NULL, 0) == pid);
	close(fd);
	/* A listener's is of whoever called listen. */
	len = sizeof fd;
	CHECK(getsockopt(l, SOL_SOCKET, SO_PEERPIDFD_, &fd, &len) == 0);
	CHECK(fstat(fd, &a) == 0 && a.st_ino == b.st_ino);
	close(fd);
	close(l);
	puts("SO_PEERPIDFD: a pidfd of a unix socket's peer, a listener's own; ENODATA without one");
}

/* get_info asks PIDFD_GET_INFO with mask in a struct of size bytes. */
static int get_info(int fd, uint64_t mask, struct pidfd_info_ *info, size_t size)
{
	static unsigned char buf[128];
	memset(buf, 0xaa, sizeof buf);
	memcpy(buf, &mask, sizeof mask);
	int r = ioctl(fd, PIDFD_GET_INFO_(size), buf);
	memcpy(info, buf, sizeof *info);
	/* Past the kernel's struct, a larger caller's gets zeros. */
	for (size_t i = sizeof *info; r == 0 && i < size; i++)
		if (buf[i] != 0)
			return -2;
	return r;
}

static void info(void)
{
	struct pidfd_info_ in;
	int self = MUST(pidfd_open(getpid(), 0));
	CHECK(get_info(self, 0, &in, 64) == 0);
	CHECK((in.mask & (PIDFD_INFO_PID_ | PIDFD_INFO_CREDS_)) == (PIDFD_INFO_PID_ | PIDFD_INFO_CREDS_));
	CHECK(!(in.mask & PIDFD_INFO_EXIT_));
	CHECK(in.pid == (uint32_t)getpid() && in.tgid == (uint32_t)getpid() && in.ppid == (uint32_t)getppid());
	CHECK(in.ruid == getuid() && in.euid == geteuid() && in.rgid == getgid() && in.egid == getegid());
	CHECK(get_info(self, PIDFD_INFO_EXIT_, &in, 96) == 0 && !(in.mask & PIDFD_INFO_EXIT_));
	EXPECT_ERR(get_info(self, 0, &in, 32), ENOTTY);
	EXPECT_ERR(ioctl(self, PIDFD_GET_INFO_(64), NULL), EINVAL);
	EXPECT_ERR(ioctl(self, _IOC(_IOC_READ | _IOC_WRITE, 0xFF, 99, 64), &in), ENOTTY);
	EXPECT_ERR(ioctl(self, PIDFD_GET_INFO_(64), (void *)8), EFAULT);
	close(self);

	int p[3];
	CHECK(pipe(p) == 0);
	p[2] = 0;
	pthread_t th;
	CHECK(pthread_create(&th, NULL, waiting_thread, p) == 0);
	while (!__atomic_load_n(&p[2], __ATOMIC_SEQ_CST))
		sched_yield();
	int tfd = MUST(pidfd_open(p[2], PIDFD_THREAD_));
	CHECK(get_info(tfd, 0, &in, 64) == 0 && in.pid == (uint32_t)p[2] && in.tgid == (uint32_t)getpid());
	close(p[1]);
	CHECK(pthread_join(th, NULL) == 0);
	close(p[0]);
	close(tfd);

	/* A child: alive, a zombie, reaped (only the exit status is left). */
	int w;
	pid_t pid = sleeper(3, &w);
	int fd = MUST(pidfd_open(pid, 0));
	CHECK(get_info(fd, 0, &in, 64) == 0 && in.pid == (uint32_t)pid && in.ppid == (uint32_t)getpid());
	close(w);
	CHECK(revents(fd, 5000) == POLLIN);
	CHECK(get_info(fd, PIDFD_INFO_EXIT_, &in, 64) == 0 && in.pid == (uint32_t)pid && !(in.mask & PIDFD_INFO_EXIT_));
	CHECK(waitpid(pid, NULL, 0) == pid);
	EXPECT_ERR(get_info(fd, 0, &in, 64), ESRCH);
	CHECK(get_info(fd, PIDFD_INFO_EXIT_, &in, 72) == 0);
	CHECK((in.mask & (PIDFD_INFO_EXIT_ | PIDFD_INFO_PID_ | PIDFD_INFO_CREDS_)) == PIDFD_INFO_EXIT_);
	CHECK(in.exit_code == 3 << 8 && in.pid == 0 && in.tgid == 0);
	close(fd);

	pid = sleeper(0, &w);
	fd = MUST(pidfd_open(pid, 0));
	CHECK(pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0);
	CHECK(waitpid(pid, NULL, 0) == pid);
	CHECK(get_info(fd, PIDFD_INFO_EXIT_, &in, 64) == 0 && (in.mask & PIDFD_INFO_EXIT_) && in.exit_code == SIGKILL);
	close(fd);
	close(w);
	puts("PIDFD_GET_INFO: pid, tgid, parent and ids while it exists, the wait status once reaped");
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--exit7") == 0) {
		char c;
		int fd = atoi(argv[2]);
		while (read(fd, &c, 1) != 0 && (errno == EINTR || errno == 0))
			errno = 0;
		_exit(7);
	}
	self_exe = argv[0];
	/* Orphaned grandchildren come here, natively as in the sandbox. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGURG, SIG_IGN);
	open_errors();
	the_file();
	threads();
	readiness();
	send_signal();
	waits();
	clones();
	getfd();
	info();
	thread_exec();
	peer_pidfd();
	return check_done("pidfd");
}
