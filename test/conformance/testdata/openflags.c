/*
 * openflags: open/openat flags in a scratch directory under /tmp:
 * O_CREAT|O_EXCL (also on a dangling symlink), O_TRUNC, O_APPEND (pwrite
 * appends too; two processes appending at once lose nothing), O_DIRECTORY,
 * O_NOFOLLOW, O_PATH (fstat works, I/O and most fcntl commands are
 * EBADF), O_TMPFILE (unnamed, then
 * linked in with linkat AT_EMPTY_PATH; O_EXCL forbids that), O_CLOEXEC,
 * O_LARGEFILE (set by every open, openat and openat2 but O_PATH ones, not
 * on pipes, sockets or eventfds, as F_GETFL and fdinfo show), and the
 * errors: EEXIST, EISDIR, ENOTDIR, ENOENT, EINVAL, EBADF, ENAMETOOLONG.
 */
#include "check.h"
#include "fs.h"
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* The kernel's O_LARGEFILE: the libcs' x86-64 headers define it as 0. */
#define O_LARGEFILE_ 0100000

/* fdinfo_flags is the flags: line of /proc/self/fdinfo/fd, parsed. */
static long fdinfo_flags(int fd)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	int f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return -1;
	ssize_t n = read(f, buf, sizeof buf - 1);
	close(f);
	buf[n > 0 ? n : 0] = 0;
	char *s = strstr(buf, "flags:");
	return s ? strtol(s + 6, NULL, 8) : -1;
}

static void largefile(void)
{
	int fd = MUST(open(P("t"), O_RDONLY));
	CHECK((fcntl(fd, F_GETFL) & O_LARGEFILE_) != 0 && (fdinfo_flags(fd) & O_LARGEFILE_) != 0);
	close(fd);
	fd = MUST(openat(AT_FDCWD, P("t"), O_WRONLY | O_CLOEXEC));
	CHECK(fcntl(fd, F_GETFL) == (O_WRONLY | O_LARGEFILE_) && fdinfo_flags(fd) == (O_WRONLY | O_LARGEFILE_ | O_CLOEXEC));
	close(fd);
	fd = MUST(open(P("t"), O_PATH));
	CHECK((fcntl(fd, F_GETFL) & O_LARGEFILE_) == 0);
	close(fd);
	uint64_t how[3] = {O_RDONLY, 0, 0};
	fd = MUST(syscall(SYS_openat2, AT_FDCWD, P("t"), how, sizeof how));
	CHECK(fcntl(fd, F_GETFL) == O_LARGEFILE_);
	close(fd);
	how[0] = O_RDONLY | O_LARGEFILE_;
	fd = MUST(syscall(SYS_openat2, AT_FDCWD, P("t"), how, sizeof how));
	CHECK(fcntl(fd, F_GETFL) == O_LARGEFILE_);
	close(fd);
	how[0] = O_PATH | O_LARGEFILE_;
	EXPECT_ERR(syscall(SYS_openat2, AT_FDCWD, P("t"), how, sizeof how), EINVAL);
	how[0] = O_PATH;
	fd = MUST(syscall(SYS_openat2, AT_FDCWD, P("t"), how, sizeof how));
	CHECK((fcntl(fd, F_GETFL) & O_LARGEFILE_) == 0);
	close(fd);

	int p[2];
	CHECK(pipe(p) == 0);
	CHECK(fcntl(p[0], F_GETFL) == O_RDONLY && fdinfo_flags(p[0]) == O_RDONLY);
	CHECK(fcntl(p[1], F_GETFL) == O_WRONLY && fdinfo_flags(p[1]) == O_WRONLY);
	close(p[0]);
	close(p[1]);
	fd = MUST(eventfd(0, 0));
	CHECK(fcntl(fd, F_GETFL) == O_RDWR && fdinfo_flags(fd) == O_RDWR);
	close(fd);
	fd = MUST(socket(AF_UNIX, SOCK_STREAM, 0));
	CHECK(fcntl(fd, F_GETFL) == O_RDWR && fdinfo_flags(fd) == O_RDWR);
	close(fd);
	puts("O_LARGEFILE: on opened files (not O_PATH), not on pipes, eventfds, sockets");
}
#include <signal.h>

static void creat_excl(void)
{
	umask(022);
	int fd = MUST(open(P("new"), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0644 && st.st_size == 0);
	CHECK(st.st_uid == geteuid() && st.st_gid == getegid());
	CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY);
	close(fd);
	EXPECT_ERR(open(P("new"), O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	fd = MUST(open(P("new"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600)); /* exists: mode unchanged */
	CHECK(fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0644);
	close(fd);
	CHECK(symlink("nowhere", P("dangling")) == 0);
	EXPECT_ERR(open(P("dangling"), O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	CHECK(!exists(P("nowhere")));
	CHECK(symlink("new", P("tonew")) == 0);
	EXPECT_ERR(open(P("tonew"), O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
	int dfd = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	fd = MUST(openat(dfd, "viaat", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
	close(fd);
	CHECK(exists(P("viaat")));
	close(dfd);
	fd = MUST(creat(P("creat"), 0600));
	CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY);
	close(fd);
	puts("O_CREAT|O_EXCL: new file with mode & ~umask, owned by the caller; EEXIST for a file or any symlink");
}

static void trunc_append(void)
{
	struct stat st;
	char buf[64] = {0};
	CHECK(write_file(P("t"), "abcdef", 0644) == 0);
	int fd = MUST(open(P("t"), O_WRONLY | O_TRUNC | O_CLOEXEC));
	CHECK(fstat(fd, &st) == 0 && st.st_size == 0);
	CHECK(write(fd, "xy", 2) == 2);
	close(fd);
	CHECK(file_is(P("t"), "xy"));
	fd = MUST(open(P("t"), O_RDWR | O_CLOEXEC)); /* without O_TRUNC: contents kept */
	CHECK(read(fd, buf, sizeof buf) == 2);
	close(fd);
	puts("O_TRUNC empties the file; without it the contents stay");

	fd = MUST(open(P("t"), O_RDWR | O_APPEND | O_CLOEXEC));
	CHECK(lseek(fd, 0, SEEK_CUR) == 0);
	CHECK(write(fd, "12", 2) == 2);
	CHECK(lseek(fd, 0, SEEK_CUR) == 4);
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	CHECK(write(fd, "34", 2) == 2); /* still at the end */
	CHECK(pwrite(fd, "56", 2, 0) == 2); /* Linux: pwrite appends with O_APPEND */
	CHECK(file_is(P("t"), "xy123456"));
	CHECK(fcntl(fd, F_SETFL, 0) == 0);
	CHECK((fcntl(fd, F_GETFL) & O_APPEND) == 0);
	CHECK(pwrite(fd, "XY", 2, 0) == 2);
	CHECK(file_is(P("t"), "XY123456"));
	close(fd);
	puts("O_APPEND: every write goes to the end, pwrite too; F_SETFL clears it");
}

/* Two processes append records through their own descriptions. */
#define RECORDS 2000
#define RECLEN 32

static void appender(char who)
{
	int fd = open(P("log"), O_WRONLY | O_APPEND | O_CLOEXEC);
	CHECK(fd >= 0);
	char rec[RECLEN + 1];
	for (int i = 0; i < RECORDS; i++) {
		memset(rec, '.', RECLEN);
		char head[16];
		int n = snprintf(head, sizeof head, "%c %06d ", who, i);
		memcpy(rec, head, n);
		rec[RECLEN - 1] = '\n';
		if (write(fd, rec, RECLEN) != RECLEN) {
			check_fail(__FILE__, __LINE__, "append write", errno);
			break;
		}
	}
	close(fd);
}

static void concurrent_append(void)
{
	CHECK(write_file(P("log"), "", 0644) == 0);
	int go[2];
	CHECK(pipe(go) == 0);
	fflush(stdout);
	pid_t kids[2];
	for (int k = 0; k < 2; k++) {
		kids[k] = fork_child();
		if (kids[k] == 0) {
			close(go[1]);
			char c;
			if (read(go[0], &c, 1) != 0) /* wait for the start (EOF) */
				_exit(3);
			appender(k ? 'B' : 'A');
			child_done();
		}
	}
	close(go[0]);
	close(go[1]);
	for (int k = 0; k < 2; k++)
		CHECK(wait_status(kids[k]) == 0);
	static char data[2 * RECORDS * RECLEN + 1];
	ssize_t n = read_file(P("log"), data, sizeof data);
	CHECK(n == 2 * RECORDS * RECLEN);
	int next[2] = {0, 0}, bad = 0;
	for (ssize_t off = 0; off + RECLEN <= n; off += RECLEN) {
		char *r = data + off;
		int who = r[0] == 'A' ? 0 : r[0] == 'B' ? 1 : -1;
		int seq = atoi(r + 2);
		if (who < 0 || r[RECLEN - 1] != '\n' || seq != next[who])
			bad++;
		else
			next[who]++;
	}
	CHECK(bad == 0 && next[0] == RECORDS && next[1] == RECORDS);
	printf("two processes appending %d records each: %zd bytes, %d+%d records intact and in order\n", RECORDS,
	       n, next[0], next[1]);
}

static void directory_and_nofollow(void)
{
	CHECK(mkdir(P("dir"), 0755) == 0);
	CHECK(symlink("dir", P("dirlink")) == 0);
	int fd = MUST(open(P("dir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	close(fd);
	fd = MUST(open(P("dirlink"), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	close(fd);
	fd = MUST(open(P("dir"), O_RDONLY | O_CLOEXEC)); /* a directory opens read-only without O_DIRECTORY */
	close(fd);
	EXPECT_ERR(open(P("t"), O_RDONLY | O_DIRECTORY), ENOTDIR);
	EXPECT_ERR(open(P("dir"), O_WRONLY), EISDIR);
	EXPECT_ERR(open(P("dir"), O_RDWR), EISDIR);
	EXPECT_ERR(open(P("dir"), O_WRONLY | O_CREAT, 0644), EISDIR);
	EXPECT_ERR(open(P("newdir/"), O_WRONLY | O_CREAT, 0644), EISDIR);
	EXPECT_ERR(open(P("dir"), O_RDONLY | O_DIRECTORY | O_CREAT, 0644), EINVAL);
	EXPECT_ERR(open(P("t/"), O_RDONLY), ENOTDIR);
	EXPECT_ERR(open(P("t/x"), O_RDONLY), ENOTDIR);
	EXPECT_ERR(open(P("nodir/x"), O_RDONLY | O_CREAT, 0644), ENOENT);
	EXPECT_ERR(open(P("absent"), O_RDONLY), ENOENT);
	EXPECT_ERR(open("", O_RDONLY), ENOENT);
	char longname[300];
	memset(longname, 'n', 256);
	longname[256] = '\0';
	EXPECT_ERR(open(P("%s", longname), O_RDONLY | O_CREAT, 0644), ENAMETOOLONG);
	puts("O_DIRECTORY: ENOTDIR on a file; writing a directory: EISDIR; O_DIRECTORY|O_CREAT: EINVAL");

	CHECK(symlink("t", P("tlink")) == 0);
	EXPECT_ERR(open(P("tlink"), O_RDONLY | O_NOFOLLOW), ELOOP);
	EXPECT_ERR(open(P("tlink"), O_WRONLY | O_CREAT | O_NOFOLLOW, 0644), ELOOP);
	fd = MUST(open(P("dirlink/../t"), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
	close(fd);
	puts("O_NOFOLLOW: ELOOP for a final symlink only");

	EXPECT_ERR(openat(999, "t", O_RDONLY), EBADF);
	int ffd = MUST(open(P("t"), O_RDONLY | O_CLOEXEC));
	EXPECT_ERR(openat(ffd, "x", O_RDONLY), ENOTDIR);
	fd = MUST(openat(ffd, P("t"), O_RDONLY | O_CLOEXEC)); /* absolute: dirfd ignored */
	close(fd);
	char c;
	EXPECT_ERR(write(ffd, "x", 1), EBADF);
	close(ffd);
	ffd = MUST(open(P("t"), O_WRONLY | O_CLOEXEC));
	EXPECT_ERR(read(ffd, &c, 1), EBADF);
	close(ffd);
	EXPECT_ERR(close(ffd), EBADF);
	EXPECT_ERR(read(-1, &c, 1), EBADF);
	puts("EBADF: openat with a bad dirfd, read of O_WRONLY, write of O_RDONLY, close twice");
}

static void opath(void)
{
	struct stat st;
	char buf[16];
	int fd = MUST(open(P("t"), O_PATH | O_CLOEXEC));
	CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 8);
	CHECK((fcntl(fd, F_GETFL) & O_PATH) != 0);
	EXPECT_ERR(read(fd, buf, 1), EBADF);
	EXPECT_ERR(write(fd, "x", 1), EBADF);
	EXPECT_ERR(pread(fd, buf, 1, 0), EBADF);
	/* (Raw calls: musl retries fchmod/fchown on EBADF through /proc/self/fd.) */
	EXPECT_ERR(syscall(SYS_fchmod, fd, 0600), EBADF);
	EXPECT_ERR(syscall(SYS_fchown, fd, 0, 0), EBADF);
	EXPECT_ERR(ftruncate(fd, 0), EBADF);
	EXPECT_ERR(mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0), EBADF);
	struct stat est;
	CHECK(fstatat(fd, "", &est, AT_EMPTY_PATH) == 0 && est.st_ino == st.st_ino);
	int d = MUST(dup(fd));
	CHECK(fstat(d, &est) == 0 && est.st_ino == st.st_ino);
	/* fcntl: F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD, F_GETFL and
	 * F_DUPFD_QUERY work; every other command is EBADF. (Raw calls: libc
	 * turns some commands into others.) */
	CHECK(syscall(SYS_fcntl, fd, F_SETFD, 0) == 0 && syscall(SYS_fcntl, fd, F_GETFD) == 0);
	CHECK(syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC) == 0);
	int d2 = MUST(syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0));
	CHECK(syscall(SYS_fcntl, fd, 1027 /* F_DUPFD_QUERY */, d2) == 1);
	close(d2);
	struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
	EXPECT_ERR(syscall(SYS_fcntl, fd, F_SETFL, O_NONBLOCK), EBADF);
	EXPECT_ERR(syscall(SYS_fcntl, fd, F_GETLK, &fl), EBADF);
	EXPECT_ERR(syscall(SYS_fcntl, fd, F_SETSIG, SIGIO), EBADF);
	EXPECT_ERR(syscall(SYS_fcntl, fd, F_GETSIG), EBADF);
	EXPECT_ERR(syscall(SYS_fcntl, fd, F_SETOWN, getpid()), EBADF);
	EXPECT_ERR(syscall(SYS_fcntl, fd, F_GETOWN), EBADF);
	EXPECT_ERR(syscall(SYS_fcntl, fd, F_GETLEASE), EBADF);
	EXPECT_ERR(syscall(SYS_fcntl, fd, F_GETPIPE_SZ), EBADF);
	EXPECT_ERR(syscall(SYS_fcntl, fd, F_GET_SEALS), EBADF);
	close(d);
	close(fd);
	CHECK(file_is(P("t"), "XY123456"));

	int dfd = MUST(open(P("dir"), O_PATH | O_DIRECTORY | O_CLOEXEC));
	CHECK(write_file(P("dir/inner"), "inner\n", 0644) == 0);
	fd = MUST(openat(dfd, "inner", O_RDONLY | O_CLOEXEC));
	CHECK(read(fd, buf, sizeof buf) == 6);
	close(fd);
	static char dents[4096];
	EXPECT_ERR(syscall(SYS_getdents64, dfd, dents, sizeof dents), EBADF);
	EXPECT_ERR(syscall(SYS_fcntl, dfd, F_NOTIFY, DN_CREATE), EBADF);
	close(dfd);
	puts("O_PATH: fstat, fstatat(AT_EMPTY_PATH), dup, openat and fcntl F_DUPFD/F_GETFD/F_SETFD/F_GETFL work; read, write, fchmod, mmap, getdents, other fcntl commands: EBADF");
}

static void o_tmpfile(void)
{
	struct stat st;
	char buf[32] = {0};
	CHECK(mkdir(P("tmpdir"), 0755) == 0);
	int fd = open(P("tmpdir"), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	CHECKF(fd >= 0, "O_TMPFILE in a directory of the scratch area");
	if (fd < 0)
		return;
	CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 0 && (st.st_mode & 0777) == 0600);
	CHECK(write(fd, "anonymous\n", 10) == 10);
	CHECK(pread(fd, buf, sizeof buf, 0) == 10 && strcmp(buf, "anonymous\n") == 0);
	DIR *d = opendir(P("tmpdir"));
	int entries = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		entries++;
	if (d)
		closedir(d);
	CHECK(entries == 2); /* only . and .. */
	CHECK(linkat(fd, "", AT_FDCWD, P("tmpdir/named"), AT_EMPTY_PATH) == 0);
	CHECK(fstat(fd, &st) == 0 && st.st_nlink == 1);
	CHECK(file_is(P("tmpdir/named"), "anonymous\n"));
	close(fd);
	printf("O_TMPFILE: unnamed (nlink 0, not listed), then linked in with linkat(AT_EMPTY_PATH)\n");

	fd = MUST(open(P("tmpdir"), O_TMPFILE | O_WRONLY | O_EXCL | O_CLOEXEC, 0600));
	EXPECT_ERR(linkat(fd, "", AT_FDCWD, P("tmpdir/never"), AT_EMPTY_PATH), ENOENT);
	close(fd);
	EXPECT_ERR(open(P("tmpdir"), O_TMPFILE | O_RDONLY, 0600), EINVAL);
	EXPECT_ERR(open(P("t"), O_TMPFILE | O_RDWR, 0600), ENOTDIR);
	EXPECT_ERR(open(P("absent"), O_TMPFILE | O_RDWR, 0600), ENOENT);
	puts("O_TMPFILE|O_EXCL cannot be linked (ENOENT); EINVAL read-only, ENOTDIR on a file");
}

int main(void)
{
	make_tmp("openflags");
	creat_excl();
	trunc_append();
	concurrent_append();
	directory_and_nofollow();
	opath();
	largefile();
	o_tmpfile();
	cleanup_tmp();
	return check_done("openflags");
}
