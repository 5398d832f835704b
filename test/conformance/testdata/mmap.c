/* mmap: anonymous mappings, mprotect, munmap, MAP_FIXED, and bad arguments. */
#include "check.h"
#include <stdint.h>
#include <sys/mman.h>

#define PG 4096UL

int main(void)
{
	/* Private anonymous: page aligned, zero filled, writable. */
	unsigned char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	if (p == MAP_FAILED)
		return check_done("mmap");
	CHECK(((uintptr_t)p & (PG - 1)) == 0);
	int nonzero = 0;
	for (size_t i = 0; i < 3 * PG; i++)
		nonzero |= p[i];
	CHECK(!nonzero);
	for (size_t i = 0; i < 3 * PG; i++)
		p[i] = (unsigned char)i;
	CHECK(p[0] == 0 && p[PG + 1] == 1 && p[3 * PG - 1] == 0xff);
	puts("anonymous private: zeroed, read, write");

	/* mprotect: read-only still reads; back to read-write writes. */
	CHECK(mprotect(p, PG, PROT_READ) == 0);
	CHECK(p[5] == 5);
	CHECK(mprotect(p, PG, PROT_READ | PROT_WRITE) == 0);
	p[5] = 50;
	CHECK(p[5] == 50);
	/* PROT_NONE then back: contents survive. */
	CHECK(mprotect(p + PG, PG, PROT_NONE) == 0);
	CHECK(mprotect(p + PG, PG, PROT_READ | PROT_WRITE) == 0);
	CHECK(p[PG + 1] == 1);
	puts("mprotect: ok");

	/* munmap of the middle page, then the rest; unmapping a hole is fine. */
	CHECK(munmap(p + PG, PG) == 0);
	CHECK(p[0] == 0 && p[2 * PG] == 0);
	CHECK(munmap(p, 3 * PG) == 0);
	CHECK(munmap(p, 3 * PG) == 0);
	puts("munmap: ok");

	/* MAP_FIXED inside a reserved PROT_NONE range. */
	unsigned char *r = mmap(NULL, 4 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(r != MAP_FAILED);
	if (r != MAP_FAILED) {
		unsigned char *f = mmap(r + PG, PG, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		CHECK(f == r + PG);
		if (f == r + PG) {
			f[0] = 1;
			f[PG - 1] = 2;
			CHECK(f[0] == 1 && f[PG - 1] == 2);
			/* Replacing a mapping with MAP_FIXED gives fresh zero pages. */
			unsigned char *g = mmap(f, PG, PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			CHECK(g == f);
			if (g == f)
				CHECK(g[0] == 0 && g[PG - 1] == 0);
		}
		CHECK(munmap(r, 4 * PG) == 0);
	}
	puts("MAP_FIXED: ok");

	/* Shared anonymous memory reads back what was written. */
	unsigned *s = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(s != MAP_FAILED);
	if (s != MAP_FAILED) {
		CHECK(s[0] == 0);
		s[0] = 0xdeadbeef;
		CHECK(s[0] == 0xdeadbeef);
		CHECK(munmap(s, PG) == 0);
	}
	puts("anonymous shared: ok");

	/* A larger mapping, every page touched; length not a page multiple. */
	size_t big = (32UL << 20) + 100;
	unsigned char *b = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(b != MAP_FAILED);
	if (b != MAP_FAILED) {
		for (size_t i = 0; i < big; i += PG)
			b[i] = (unsigned char)(i / PG);
		b[big - 1] = 9;
		int bad = 0;
		for (size_t i = 0; i < big; i += PG)
			bad += b[i] != (unsigned char)(i / PG);
		CHECK(bad == 0 && b[big - 1] == 9);
		CHECK(munmap(b, big) == 0);
	}
	puts("32 MiB mapping: ok");

	/* Bad arguments, as raw syscalls so that no libc check answers first. */
#define MMAP(a, l, p, f, fd, o) syscall(SYS_mmap, (a), (l), (p), (f), (fd), (o))
	EXPECT_ERR(MMAP(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	EXPECT_ERR(MMAP(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0), EINVAL);
	EXPECT_ERR(MMAP(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_SHARED | MAP_ANONYMOUS, -1, 0), EINVAL);
	EXPECT_ERR(MMAP(0x10000001UL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), EINVAL);
	EXPECT_ERR(MMAP(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1), EINVAL);
	EXPECT_ERR(MMAP(NULL, (size_t)1 << 62, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), ENOMEM);
	EXPECT_ERR(MMAP(NULL, PG, PROT_READ, MAP_PRIVATE, -1, 0), EBADF);
	/* The libc wrapper agrees on the simplest case. */
	EXPECT_ERR(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), EINVAL);
	unsigned char *u = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(u != MAP_FAILED);
	if (u != MAP_FAILED) {
		EXPECT_ERR(syscall(SYS_munmap, u + 1, PG), EINVAL);
		EXPECT_ERR(syscall(SYS_munmap, u, 0), EINVAL);
		EXPECT_ERR(syscall(SYS_mprotect, u + 1, PG, PROT_READ), EINVAL);
		/* The failed calls changed nothing. */
		u[1] = 1;
		CHECK(u[1] == 1 && u[PG] == 0);
		CHECK(munmap(u, 2 * PG) == 0);
	}
	puts("bad arguments: EINVAL/ENOMEM/EBADF");

	return check_done("mmap");
}
