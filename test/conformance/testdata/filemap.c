/*
 * filemap: mmap of a file in a scratch directory under /tmp. MAP_SHARED:
 * stores reach the file (read back with read(), after msync and after
 * munmap), write() shows in the mapping, another process's shared mapping
 * too. MAP_PRIVATE: stores stay private, MADV_DONTNEED drops them and the
 * next access reads the file again. mremap (grow, shrink, move) keeps the
 * contents; mincore reports touched pages resident; mlock/mlock2/munlock
 * (and VmLck in /proc/self/status); and the errors (EACCES for the wrong
 * open mode, ENODEV for a directory, EINVAL, ENOMEM, EBADF).
 */
#include "check.h"
#include "fs.h"
#include <sys/mman.h>

#define PG 4096L

#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

static char buf[8 * 4096];

static void make_file(const char *path, int pages)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	for (int p = 0; p < pages; p++) {
		memset(buf, 'A' + p, PG);
		CHECK(write(fd, buf, PG) == PG);
	}
	close(fd);
}

static void shared(void)
{
	make_file(P("shared"), 3);
	int fd = MUST(open(P("shared"), O_RDWR | O_CLOEXEC));
	char *m = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	if (m == MAP_FAILED)
		return;
	CHECK(m[0] == 'A' && m[PG] == 'B' && m[3 * PG - 1] == 'C');
	memcpy(m + 10, "stored via the mapping", 22);
	memcpy(m + 2 * PG + 100, "page three", 10);
	CHECK(msync(m, 3 * PG, MS_SYNC) == 0);
	CHECK(pread(fd, buf, 22, 10) == 22 && memcmp(buf, "stored via the mapping", 22) == 0);
	CHECK(lseek(fd, 2 * PG + 100, SEEK_SET) == 2 * PG + 100);
	CHECK(read(fd, buf, 10) == 10 && memcmp(buf, "page three", 10) == 0);
	puts("MAP_SHARED: stores reach the file (read() sees them after msync)");

	memcpy(m + PG, "no msync", 8);
	CHECK(pread(fd, buf, 8, PG) == 8 && memcmp(buf, "no msync", 8) == 0);
	CHECK(pwrite(fd, "by write()", 10, PG + 50) == 10);
	CHECK(memcmp(m + PG + 50, "by write()", 10) == 0);
	CHECK(msync(m, PG, MS_ASYNC) == 0);
	CHECK(msync(m, PG, MS_INVALIDATE) == 0);
	EXPECT_ERR(msync(m, PG, MS_SYNC | MS_ASYNC), EINVAL);
	EXPECT_ERR(msync(m + 1, PG, MS_SYNC), EINVAL);
	puts("MAP_SHARED: read() sees stores at once; write() shows in the mapping; msync EINVAL for bad flags or address");

	/* Another process maps the file and writes. */
	pid_t pid = fork_child();
	if (pid == 0) {
		int cfd = open(P("shared"), O_RDWR | O_CLOEXEC);
		char *c = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		CHECK(c != MAP_FAILED);
		if (c != MAP_FAILED) {
			memcpy(c + 200, "other process", 13);
			munmap(c, PG);
		}
		close(cfd);
		child_done();
	}
	CHECK(wait_status(pid) == 0);
	CHECK(memcmp(m + 200, "other process", 13) == 0);
	puts("another process's shared mapping of the file: its stores show in ours");

	/* After munmap and close, the data is in the file. */
	memcpy(m + 300, "last words", 10);
	CHECK(munmap(m, 3 * PG) == 0);
	close(fd);
	fd = MUST(open(P("shared"), O_RDONLY | O_CLOEXEC));
	CHECK(pread(fd, buf, 10, 300) == 10 && memcmp(buf, "last words", 10) == 0);
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size == 3 * PG);
	close(fd);
	puts("after munmap: the stores are in the file, its size unchanged");
}

static void private_map(void)
{
	make_file(P("private"), 2);
	int fd = MUST(open(P("private"), O_RDWR | O_CLOEXEC));
	char *m = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK(m != MAP_FAILED);
	if (m == MAP_FAILED)
		return;
	memcpy(m, "private change", 14);
	CHECK(pread(fd, buf, 14, 0) == 14 && buf[0] == 'A' && buf[13] == 'A');
	CHECK(memcmp(m, "private change", 14) == 0);
	puts("MAP_PRIVATE: stores stay in the mapping, the file keeps its bytes");

	CHECK(madvise(m, PG, MADV_DONTNEED) == 0);
	CHECK(m[0] == 'A' && m[13] == 'A');
	memcpy(m, "again", 5);
	CHECK(pwrite(fd, "new file data", 13, 0) == 13);
	CHECK(madvise(m, PG, MADV_DONTNEED) == 0);
	CHECK(memcmp(m, "new file data", 13) == 0 && m[13] == 'A');
	puts("MADV_DONTNEED on a private file mapping drops the private copy: the file is read again");

	CHECK(madvise(m, 2 * PG, MADV_WILLNEED) == 0);
	CHECK(madvise(m, 2 * PG, MADV_SEQUENTIAL) == 0);
	CHECK(madvise(m, 2 * PG, MADV_NORMAL) == 0);
	EXPECT_ERR(madvise(m + 1, PG, MADV_DONTNEED), EINVAL);
	EXPECT_ERR(madvise(m, PG, 12345), EINVAL);
	CHECK(munmap(m, 2 * PG) == 0);
	EXPECT_ERR(madvise(m, PG, MADV_WILLNEED), ENOMEM);
	close(fd);
	puts("madvise WILLNEED/SEQUENTIAL/NORMAL; EINVAL for a bad address or advice, ENOMEM unmapped");
}

static void remap(void)
{
	make_file(P("remap"), 4);
	int fd = MUST(open(P("remap"), O_RDWR | O_CLOEXEC));
	char *m = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m != MAP_FAILED);
	if (m == MAP_FAILED)
		return;
	char *g = mremap(m, PG, 4 * PG, MREMAP_MAYMOVE);
	CHECK(g != MAP_FAILED);
	if (g == MAP_FAILED)
		return;
	CHECK(g[0] == 'A' && g[PG] == 'B' && g[2 * PG] == 'C' && g[4 * PG - 1] == 'D');
	g[3 * PG] = 'd';
	CHECK(pread(fd, buf, 1, 3 * PG) == 1 && buf[0] == 'd');
	char *s = mremap(g, 4 * PG, 2 * PG, 0);
	CHECK(s == g);
	CHECK(s[PG] == 'B');
	/* Move to a chosen address. */
	char *hole = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(hole != MAP_FAILED);
	char *moved = mremap(s, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, hole + PG);
	CHECK(moved == hole + PG);
	if (moved == hole + PG) {
		CHECK(moved[0] == 'A' && moved[PG] == 'B');
		moved[5] = 'm';
		CHECK(pread(fd, buf, 6, 0) == 6 && buf[5] == 'm');
	}
	puts("mremap of a shared file mapping: grow (new pages show the file), shrink in place, move to a fixed address");
	munmap(hole, 4 * PG);

	/* Anonymous: growing keeps the data. */
	char *a = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED);
	memcpy(a, "anon", 4);
	char *a2 = mremap(a, PG, 16 * PG, MREMAP_MAYMOVE);
	CHECK(a2 != MAP_FAILED && memcmp(a2, "anon", 4) == 0 && a2[15 * PG] == 0);
	EXPECT_ERR(mremap(a2 + 1, PG, 2 * PG, MREMAP_MAYMOVE), EINVAL);
	EXPECT_ERR(mremap(a2, PG, 2 * PG, 0x80), EINVAL);
	EXPECT_ERR(mremap(a2, PG, 2 * PG, MREMAP_FIXED), EINVAL);
	munmap(a2, 16 * PG);
	close(fd);
	puts("mremap anonymous: contents kept, new pages zero; EINVAL for bad address or flags");
}

static long vmlck_kb(void)
{
	static char status[8192];
	if (read_file("/proc/self/status", status, sizeof status) < 0)
		return -1;
	char *p = strstr(status, "\nVmLck:");
	return p ? atol(p + 7) : -1;
}

static void residency(void)
{
	char *a = mmap(NULL, 8 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(a != MAP_FAILED);
	if (a == MAP_FAILED)
		return;
	a[0] = 1;
	a[3 * PG] = 1;
	a[7 * PG + 5] = 1;
	unsigned char vec[8];
	CHECK(mincore(a, 8 * PG, vec) == 0);
	CHECK((vec[0] & 1) && (vec[3] & 1) && (vec[7] & 1));
	printf("mincore: touched pages 0, 3, 7 resident: %s\n", yesno((vec[0] & 1) && (vec[3] & 1) && (vec[7] & 1)));
	EXPECT_ERR(mincore(a + 1, PG, vec), EINVAL);
	CHECK(munmap(a + 4 * PG, 4 * PG) == 0);
	EXPECT_ERR(mincore(a, 8 * PG, vec), ENOMEM);

	long before = vmlck_kb();
	CHECK(mlock(a, 2 * PG) == 0);
	long locked = vmlck_kb();
	CHECK(locked - before == 8);
	CHECK(munlock(a, 2 * PG) == 0);
	CHECK(vmlck_kb() == before);
	CHECK(syscall(SYS_mlock2, a, PG, MLOCK_ONFAULT) == 0);
	CHECK(munlock(a, PG) == 0);
	EXPECT_ERR(syscall(SYS_mlock2, a, PG, 0x10), EINVAL);
	CHECK(munmap(a, 4 * PG) == 0);
	EXPECT_ERR(mlock(a, PG), ENOMEM);
	printf("mlock of 2 pages: VmLck +%ld kB; munlock: back; mlock2 ONFAULT; ENOMEM unmapped\n", locked - before);
}

static void errors(void)
{
	make_file(P("err"), 1);
	int ro = MUST(open(P("err"), O_RDONLY | O_CLOEXEC));
	int wo = MUST(open(P("err"), O_WRONLY | O_CLOEXEC));
	int dir = MUST(open(tmp_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	EXPECT_ERR(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0), EACCES);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_SHARED, wo, 0), EACCES);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, wo, 0), EACCES);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, dir, 0), ENODEV);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, ro, 1), EINVAL);
	EXPECT_ERR(mmap(NULL, 0, PROT_READ, MAP_PRIVATE, ro, 0), EINVAL);
	EXPECT_ERR(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 999, 0), EBADF);
	char *ok = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	CHECK(ok != MAP_FAILED);
	if (ok != MAP_FAILED) {
		ok[0] = 'z'; /* a private writable map of a read-only fd is fine */
		munmap(ok, PG);
	}
	/* The mapping outlives the descriptor. */
	char *m = mmap(NULL, PG, PROT_READ, MAP_SHARED, ro, 0);
	CHECK(m != MAP_FAILED);
	close(ro);
	if (m != MAP_FAILED) {
		CHECK(m[0] == 'A');
		munmap(m, PG);
	}
	close(wo);
	close(dir);
	puts("mmap errors: EACCES (shared writable of O_RDONLY, any of O_WRONLY), ENODEV (directory), EINVAL, EBADF");
}

int main(void)
{
	make_tmp("filemap");
	shared();
	private_map();
	remap();
	residency();
	errors();
	cleanup_tmp();
	return check_done("filemap");
}
