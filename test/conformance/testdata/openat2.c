/*
 * openat2: RESOLVE_BENEATH (no escape by "..", absolute paths or symlinks:
 * EXDEV), RESOLVE_IN_ROOT ("/" and ".." stop at the directory, absolute
 * symlinks resolve inside it), RESOLVE_NO_SYMLINKS (ELOOP), and the
 * argument checks (EINVAL for unknown flags, a mode without O_CREAT, a
 * short struct; E2BIG for a longer one with nonzero tail), in a scratch
 * directory under /tmp laid out as
 *   root/sub/file  root/link -> sub  root/up -> ../outside
 *   root/abs -> /sub/file  root/escape -> /  outside
 */
#include "check.h"
#include "fs.h"

static int rootfd;

/* content opens path beneath root with resolve flags and returns the
 * first line of the file, or the error name. */
static const char *content(const char *path, uint64_t resolve)
{
	static char buf[64];
	errno = 0;
	long fd = sys_openat2(rootfd, path, O_RDONLY | O_CLOEXEC, 0, resolve);
	if (fd < 0)
		return errname(errno);
	ssize_t n = read((int)fd, buf, sizeof buf - 1);
	close((int)fd);
	if (n < 0)
		return "read failed";
	buf[n] = '\0';
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = '\0';
	return buf;
}

static void expect(const char *path, uint64_t resolve, const char *rname, const char *want)
{
	const char *got = content(path, resolve);
	printf("%-13s %-22s %s\n", rname, path, got);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "FAIL openat2(%s, %s): want %s, got %s\n", path, rname, want, got);
		check_failures++;
	}
}

int main(void)
{
	make_tmp("openat2");
	CHECK(mkdir(P("root"), 0755) == 0);
	CHECK(mkdir(P("root/sub"), 0755) == 0);
	CHECK(write_file(P("root/sub/file"), "inside\n", 0644) == 0);
	CHECK(write_file(P("outside"), "OUTSIDE\n", 0644) == 0);
	CHECK(symlink("sub", P("root/link")) == 0);
	CHECK(symlink("../outside", P("root/up")) == 0);
	CHECK(symlink("/sub/file", P("root/abs")) == 0);
	CHECK(symlink("/", P("root/escape")) == 0);
	CHECK(mkdir(P("sub"), 0755) == 0); /* so that /sub/file outside root would also exist */
	CHECK(write_file(P("sub/file"), "OUTSIDE sub\n", 0644) == 0);
	rootfd = MUST(open(P("root"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));

	const uint64_t B = EXO_RESOLVE_BENEATH, R = EXO_RESOLVE_IN_ROOT, N = EXO_RESOLVE_NO_SYMLINKS;
	expect("sub/file", 0, "0", "inside");
	expect("../outside", 0, "0", "OUTSIDE");
	expect("up", 0, "0", "OUTSIDE");
	expect("sub/file", B, "BENEATH", "inside");
	expect("sub/../sub/file", B, "BENEATH", "inside");
	expect("link/file", B, "BENEATH", "inside");
	expect("../outside", B, "BENEATH", "EXDEV");
	expect("sub/../../outside", B, "BENEATH", "EXDEV");
	expect("up", B, "BENEATH", "EXDEV");
	expect("abs", B, "BENEATH", "EXDEV");
	char abspath[PATH_MAX];
	snprintf(abspath, sizeof abspath, "%s", P("root/sub/file"));
	{
		const char *got = content(abspath, B);
		printf("%-13s %-22s %s\n", "BENEATH", "(absolute path)", got);
		if (strcmp(got, "EXDEV") != 0) {
			fprintf(stderr, "FAIL openat2(absolute, BENEATH): want EXDEV, got %s\n", got);
			check_failures++;
		}
	}
	expect("sub/file", R, "IN_ROOT", "inside");
	expect("/sub/file", R, "IN_ROOT", "inside");
	expect("../../../sub/file", R, "IN_ROOT", "inside");
	expect("abs", R, "IN_ROOT", "inside");
	expect("escape/sub/file", R, "IN_ROOT", "inside");
	expect("up", R, "IN_ROOT", "ENOENT");
	expect("sub/file", N, "NO_SYMLINKS", "inside");
	expect("link/file", N, "NO_SYMLINKS", "ELOOP");
	expect("abs", N, "NO_SYMLINKS", "ELOOP");
	expect("link/file", B | N, "BENEATH|NO_SYMLINKS", "ELOOP");

	/* Argument checks. */
	struct exo_open_how how = {O_RDONLY, 0, 0};
	EXPECT_ERR(syscall(SYS_openat2, rootfd, "sub/file", &how, (size_t)8), EINVAL);
	struct {
		struct exo_open_how how;
		uint64_t extra;
	} big = {{O_RDONLY, 0, 0}, 1};
	EXPECT_ERR(syscall(SYS_openat2, rootfd, "sub/file", &big, sizeof big), E2BIG);
	big.extra = 0;
	long fd = syscall(SYS_openat2, rootfd, "sub/file", &big, sizeof big);
	CHECKF(fd >= 0, "a longer struct with a zero tail is accepted");
	if (fd >= 0)
		close((int)fd);
	EXPECT_ERR(sys_openat2(rootfd, "sub/file", O_RDONLY, 0, 1ULL << 40), EINVAL);
	EXPECT_ERR(sys_openat2(rootfd, "sub/file", O_RDONLY, 0644, 0), EINVAL);
	EXPECT_ERR(sys_openat2(rootfd, "sub/file", 1ULL << 40, 0, 0), EINVAL);
	EXPECT_ERR(sys_openat2(rootfd, "sub/file", O_RDONLY, 0, B | R), EINVAL);
	EXPECT_ERR(sys_openat2(999, "sub/file", O_RDONLY, 0, B), EBADF);
	fd = sys_openat2(rootfd, "sub/new", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600, B);
	CHECKF(fd >= 0, "O_CREAT beneath the root");
	if (fd >= 0)
		close((int)fd);
	struct stat st;
	CHECK(stat(P("root/sub/new"), &st) == 0 && (st.st_mode & 0777) == (0600 & ~022));
	puts("openat2: EINVAL for a short struct, unknown flags, a mode without O_CREAT, BENEATH|IN_ROOT; E2BIG for a nonzero tail");

	close(rootfd);
	cleanup_tmp();
	return check_done("openat2");
}
