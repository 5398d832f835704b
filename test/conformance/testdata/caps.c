/*
 * caps: capability sets (capget/capset, /proc/self/status Cap* lines,
 * prctl PR_CAPBSET_READ/DROP, PR_CAP_AMBIENT, PR_SET_KEEPCAPS), how they
 * change with setresuid, setfsuid and execve, PR_SET_NO_NEW_PRIVS (kept by
 * children and across execve) and /proc/self/oom_score_adj (inherited).
 *
 * Each scenario runs in a child, which changes its own sets; the parent
 * keeps the full sets root starts with. Run as root (the sandboxed
 * comparison always is); as another user only the refusals are checked.
 */
#include "check.h"
#include <fcntl.h>
#include <stdint.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#define CAPV3 0x20080522
#define CAPV1 0x19980330

struct caphdr {
	uint32_t version;
	int pid;
};
struct capdata {
	uint32_t eff, perm, inh;
};
struct sets {
	uint64_t eff, perm, inh;
};

enum {
	C_CHOWN = 0, C_DAC_OVERRIDE = 1, C_DAC_READ_SEARCH = 2, C_FOWNER = 3, C_FSETID = 4,
	C_KILL = 5, C_SETGID = 6, C_SETUID = 7, C_SETPCAP = 8, C_LINUX_IMMUTABLE = 9,
	C_NET_RAW = 13, C_SYS_BOOT = 22, C_MKNOD = 27, C_MAC_OVERRIDE = 32,
};
#define BIT(n) (1ULL << (n))

static const char *self;

static int getcaps(struct sets *s)
{
	struct caphdr h = {CAPV3, 0};
	struct capdata d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return -1;
	s->eff = d[0].eff | (uint64_t)d[1].eff << 32;
	s->perm = d[0].perm | (uint64_t)d[1].perm << 32;
	s->inh = d[0].inh | (uint64_t)d[1].inh << 32;
	return 0;
}

static long setcaps(const struct sets *s)
{
	struct caphdr h = {CAPV3, 0};
	struct capdata d[2] = {
		{(uint32_t)s->eff, (uint32_t)s->perm, (uint32_t)s->inh},
		{(uint32_t)(s->eff >> 32), (uint32_t)(s->perm >> 32), (uint32_t)(s->inh >> 32)},
	};
	return syscall(SYS_capset, &h, d);
}

/* status reads one hex Cap* line (or a decimal one with dec) of /proc/self/status. */
static uint64_t status(const char *key, int dec)
{
	char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY);
	if (fd < 0)
		return ~0ULL;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return ~0ULL;
	buf[n] = 0;
	char want[64];
	snprintf(want, sizeof want, "\n%s:", key);
	char *p = strstr(buf, want);
	if (!p)
		return ~0ULL;
	return strtoull(p + strlen(want), NULL, dec ? 10 : 16);
}

static uint64_t bounding(void)
{
	uint64_t b = 0;
	for (int i = 0; i < 64; i++) {
		int r = prctl(PR_CAPBSET_READ, i, 0, 0, 0);
		if (r < 0)
			break;
		if (r)
			b |= BIT(i);
	}
	return b;
}

static int wait_code(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

/* child runs fn in a fork and checks that all its checks held. */
#define CHILD(fn)                                                       \
	do {                                                            \
		fflush(stdout);                                         \
		pid_t p_ = fork();                                      \
		if (p_ == 0) {                                          \
			fn();                                           \
			fflush(stdout);                                 \
			_exit(check_failures ? 1 : 0);                  \
		}                                                       \
		CHECKF(wait_code(p_) == 0, "scenario %s failed", #fn);  \
	} while (0)

/* The sets match what /proc/self/status and PR_CAPBSET_READ show. */
static void consistent(void)
{
	struct sets s;
	CHECK(getcaps(&s) == 0);
	CHECK(status("CapEff", 0) == s.eff);
	CHECK(status("CapPrm", 0) == s.perm);
	CHECK(status("CapInh", 0) == s.inh);
	CHECK(status("CapBnd", 0) == bounding());
	EXPECT_ERR(prctl(PR_CAPBSET_READ, 64, 0, 0, 0), EINVAL);
	EXPECT_ERR(prctl(PR_CAPBSET_READ, -1, 0, 0, 0), EINVAL);
}

static void capset_rules(void)
{
	struct sets s, t;
	MUST(getcaps(&s));
	/* Dropping from the effective set and taking it back. */
	t = s;
	t.eff &= ~BIT(C_NET_RAW);
	CHECK(setcaps(&t) == 0);
	MUST(getcaps(&t));
	CHECK(!(t.eff & BIT(C_NET_RAW)) && (t.perm & BIT(C_NET_RAW)));
	CHECK(!(status("CapEff", 0) & BIT(C_NET_RAW)));
	t.eff |= BIT(C_NET_RAW);
	CHECK(setcaps(&t) == 0);
	/* Effective must stay within permitted. */
	t.perm &= ~BIT(C_NET_RAW);
	EXPECT_ERR(setcaps(&t), EPERM);
	t.eff &= ~BIT(C_NET_RAW);
	CHECK(setcaps(&t) == 0);
	/* Once out of permitted it cannot come back. */
	t.perm |= BIT(C_NET_RAW);
	EXPECT_ERR(setcaps(&t), EPERM);
	/* The inheritable set is bounded by the bounding set, even with CAP_SETPCAP. */
	MUST(prctl(PR_CAPBSET_DROP, C_SYS_BOOT, 0, 0, 0));
	CHECK(prctl(PR_CAPBSET_READ, C_SYS_BOOT, 0, 0, 0) == 0);
	CHECK(!(status("CapBnd", 0) & BIT(C_SYS_BOOT)));
	MUST(getcaps(&t));
	CHECK(t.perm & BIT(C_SYS_BOOT)); /* dropping from the bounding set leaves permitted */
	t.inh |= BIT(C_SYS_BOOT);
	EXPECT_ERR(setcaps(&t), EPERM);
	t.inh = BIT(C_KILL);
	CHECK(setcaps(&t) == 0);
	CHECK(status("CapInh", 0) == BIT(C_KILL));
	/* Another process's sets cannot be set; a bad version is answered. */
	struct caphdr h = {CAPV3, getppid()};
	struct capdata d[2] = {{0}};
	EXPECT_ERR(syscall(SYS_capset, &h, d), EPERM);
	h.version = 0x12345678;
	h.pid = 0;
	EXPECT_ERR(syscall(SYS_capget, &h, d), EINVAL);
	CHECK(h.version == CAPV3);
	h.version = 0x12345678;
	CHECK(syscall(SYS_capget, &h, NULL) == 0 && h.version == CAPV3);
	/* Version 1 sees the low 32 bits. */
	h.version = CAPV1;
	CHECK(syscall(SYS_capget, &h, d) == 0 && d[0].inh == BIT(C_KILL));
	/* Without CAP_SETPCAP, the bounding set cannot shrink. */
	MUST(getcaps(&t));
	t.eff &= ~BIT(C_SETPCAP);
	CHECK(setcaps(&t) == 0);
	EXPECT_ERR(prctl(PR_CAPBSET_DROP, C_KILL, 0, 0, 0), EPERM);
	printf("capset: ok\n");
}

static void ambient(void)
{
	struct sets s;
	MUST(getcaps(&s));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, C_KILL, 0, 0) == 0);
	/* Raising needs the capability in permitted and inheritable. */
	EXPECT_ERR(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, C_KILL, 0, 0), EPERM);
	s.inh = BIT(C_KILL) | BIT(C_CHOWN);
	CHECK(setcaps(&s) == 0);
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, C_KILL, 0, 0) == 0);
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, C_CHOWN, 0, 0) == 0);
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, C_KILL, 0, 0) == 1);
	CHECK(status("CapAmb", 0) == (BIT(C_KILL) | BIT(C_CHOWN)));
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, C_CHOWN, 0, 0) == 0);
	CHECK(status("CapAmb", 0) == BIT(C_KILL));
	EXPECT_ERR(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, 64, 0, 0), EINVAL);
	EXPECT_ERR(prctl(PR_CAP_AMBIENT, 99, C_KILL, 0, 0), EINVAL);
	/* Leaving the inheritable set leaves the ambient set too. */
	s.inh = BIT(C_CHOWN);
	CHECK(setcaps(&s) == 0);
	CHECK(status("CapAmb", 0) == 0);
	s.inh = BIT(C_KILL);
	CHECK(setcaps(&s) == 0);
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, C_KILL, 0, 0) == 0);
	CHECK(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) == 0);
	CHECK(status("CapAmb", 0) == 0);
	printf("ambient: ok\n");
}

/* Dropping every root uid drops the sets; keep-caps keeps permitted. */
static void setuid_drops(void)
{
	struct sets s;
	MUST(setresuid(1000, 1000, 1000));
	MUST(getcaps(&s));
	CHECK(s.eff == 0 && s.perm == 0 && s.inh == 0);
	EXPECT_ERR(setuid(0), EPERM);
	printf("setuid: eff %s perm %s\n", s.eff ? "kept" : "empty", s.perm ? "kept" : "empty");
}

static void keepcaps(void)
{
	struct sets s;
	CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0);
	MUST(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
	EXPECT_ERR(prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL);
	struct sets before;
	MUST(getcaps(&before));
	/* Only the effective uid: the effective set goes, to come back with it. */
	MUST(setresuid(0, 1000, 0));
	MUST(getcaps(&s));
	CHECK(s.eff == 0 && s.perm == before.perm);
	MUST(setresuid(0, 0, 0));
	MUST(getcaps(&s));
	CHECK(s.eff == before.perm);
	MUST(setresuid(1000, 1000, 1000));
	MUST(getcaps(&s));
	CHECK(s.eff == 0 && s.perm == before.perm);
	/* Permitted but not effective: raising it into effective works. */
	s.eff = BIT(C_KILL);
	CHECK(setcaps(&s) == 0);
	printf("keepcaps: perm %s\n", s.perm == before.perm ? "kept" : "lost");
}

/* setfsuid moves the file system capabilities in and out of effective. */
static void fsuid(void)
{
	struct sets before, s;
	MUST(getcaps(&before));
	setfsuid(1000);
	MUST(getcaps(&s));
	uint64_t gone = before.eff & ~s.eff;
	printf("setfsuid drops:");
	for (int i = 0; i < 64; i++)
		if (gone & BIT(i))
			printf(" %d", i);
	printf("\n");
	CHECK(s.perm == before.perm);
	setfsuid(0);
	MUST(getcaps(&s));
	CHECK(s.eff == before.eff);
}

/* After execve, as root: permitted = bounding | inheritable, all effective. */
static void exec_root(void)
{
	struct sets s;
	MUST(getcaps(&s));
	s.eff = 0;
	s.perm &= ~BIT(C_NET_RAW);
	s.inh = 0;
	CHECK(setcaps(&s) == 0);
	EXPECT_ERR(prctl(PR_CAPBSET_DROP, C_SYS_BOOT, 0, 0, 0), EPERM); /* no CAP_SETPCAP in effective */
	s.eff = BIT(C_SETPCAP);
	CHECK(setcaps(&s) == 0);
	MUST(prctl(PR_CAPBSET_DROP, C_SYS_BOOT, 0, 0, 0));
	fflush(stdout);
	execl(self, self, "exec-root", (char *)NULL);
	check_fail(__FILE__, __LINE__, "execl", errno);
}

static void after_exec_root(void)
{
	struct sets s;
	MUST(getcaps(&s));
	uint64_t b = bounding();
	CHECK(!(b & BIT(C_SYS_BOOT)));
	CHECK(s.perm == b); /* NET_RAW is back: it is in the bounding set */
	CHECK(s.eff == s.perm && s.inh == 0);
	printf("exec as root: perm %s bounding, eff %s perm\n", s.perm == b ? "==" : "!=", s.eff == s.perm ? "==" : "!=");
}

/* After execve, not root: only the ambient set remains. */
static void exec_user(void)
{
	struct sets s;
	MUST(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
	MUST(setresuid(1000, 1000, 1000));
	MUST(getcaps(&s));
	s.inh = BIT(C_KILL) | BIT(C_CHOWN);
	s.eff = 0;
	CHECK(setcaps(&s) == 0);
	MUST(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, C_KILL, 0, 0));
	fflush(stdout);
	execl(self, self, "exec-user", (char *)NULL);
	check_fail(__FILE__, __LINE__, "execl", errno);
}

static void after_exec_user(void)
{
	struct sets s;
	MUST(getcaps(&s));
	CHECK(s.perm == BIT(C_KILL) && s.eff == BIT(C_KILL));
	CHECK(s.inh == (BIT(C_KILL) | BIT(C_CHOWN)));
	CHECK(status("CapAmb", 0) == BIT(C_KILL));
	CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0); /* execve clears keep-caps */
	printf("exec as user: ambient only\n");
}

static void nonewprivs(void)
{
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
	CHECK(status("NoNewPrivs", 1) == 0);
	EXPECT_ERR(prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0), EINVAL);
	MUST(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
	CHECK(status("NoNewPrivs", 1) == 1);
	pid_t p = fork();
	if (p == 0)
		_exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1);
	CHECK(wait_code(p) == 0);
	fflush(stdout);
	execl(self, self, "exec-nnp", (char *)NULL);
	check_fail(__FILE__, __LINE__, "execl", errno);
}

static void oomadj(void)
{
	char buf[32];
	int fd = MUST(open("/proc/self/oom_score_adj", O_RDWR));
	CHECK(write(fd, "500", 3) == 3);
	close(fd);
	pid_t p = fork();
	if (p == 0) {
		int fd = open("/proc/self/oom_score_adj", O_RDONLY);
		ssize_t n = read(fd, buf, sizeof buf - 1);
		_exit(n == 4 && memcmp(buf, "500\n", 4) == 0 ? 0 : 1);
	}
	CHECK(wait_code(p) == 0);
	fd = MUST(open("/proc/self/oom_score_adj", O_WRONLY));
	EXPECT_ERR(write(fd, "1001", 4), EINVAL);
	close(fd);
	printf("oom_score_adj: inherited\n");
}

int main(int argc, char **argv)
{
	self = argv[0];
	if (argc > 1 && strncmp(argv[1], "exec-", 5) == 0) {
		if (strcmp(argv[1], "exec-root") == 0)
			after_exec_root();
		else if (strcmp(argv[1], "exec-user") == 0)
			after_exec_user();
		else if (strcmp(argv[1], "exec-nnp") == 0) {
			CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
			printf("no_new_privs: kept across fork and execve\n");
		}
		fflush(stdout);
		return check_failures ? 1 : 0;
	}
	CHILD(consistent);
	if (geteuid() != 0) {
		struct sets s;
		MUST(getcaps(&s));
		CHECK(s.eff == 0 && s.perm == 0);
		return check_done("caps");
	}
	struct sets s;
	MUST(getcaps(&s));
	printf("root: eff %s perm, inh %s, bounding %s perm\n", s.eff == s.perm ? "==" : "!=",
	       s.inh ? "set" : "empty", bounding() == s.perm ? "==" : "!=");
	CHILD(capset_rules);
	CHILD(ambient);
	CHILD(setuid_drops);
	CHILD(keepcaps);
	CHILD(fsuid);
	CHILD(exec_root);
	CHILD(exec_user);
	CHILD(nonewprivs);
	CHILD(oomadj);
	return check_done("caps");
}
