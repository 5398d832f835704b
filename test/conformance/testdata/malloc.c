/*
 * malloc: the libc allocator on top of brk (small blocks) and mmap (large
 * blocks), plus realloc/calloc/posix_memalign.
 */
#include "check.h"
#include <stdint.h>

static int pattern_ok(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed))
			return 0;
	return 1;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
}

int main(void)
{
	/* Many small blocks. */
	enum { N = 4000 };
	static unsigned char *small[N];
	for (int i = 0; i < N; i++) {
		size_t sz = 8 + (i % 200);
		small[i] = malloc(sz);
		CHECK(small[i] != NULL);
		if (small[i])
			fill(small[i], sz, i);
	}
	int bad = 0;
	for (int i = 0; i < N; i++)
		if (small[i] && !pattern_ok(small[i], 8 + (i % 200), i))
			bad++;
	CHECK(bad == 0);
	for (int i = 0; i < N; i += 2)
		free(small[i]);
	for (int i = 0; i < N; i += 2) {
		small[i] = malloc(64);
		CHECK(small[i] != NULL);
		if (small[i])
			fill(small[i], 64, 7);
	}
	for (int i = 1; i < N; i += 2)
		if (small[i] && !pattern_ok(small[i], 8 + (i % 200), i))
			bad++;
	CHECK(bad == 0);
	for (int i = 0; i < N; i++)
		free(small[i]);
	puts("small blocks: ok");

	/* Large blocks: above every libc's mmap threshold. */
	size_t big = 16u << 20;
	unsigned char *b = malloc(big);
	CHECK(b != NULL);
	if (b) {
		fill(b, big, 3);
		CHECK(pattern_ok(b, big, 3));
		unsigned char *b2 = realloc(b, 2 * big);
		CHECK(b2 != NULL);
		if (b2) {
			CHECK(pattern_ok(b2, big, 3));
			memset(b2 + big, 0x5a, big);
			b = b2;
		}
		free(b);
	}
	puts("large blocks: ok");

	/* calloc zeroes; posix_memalign aligns. */
	unsigned *c = calloc(1 << 20, sizeof *c);
	CHECK(c != NULL);
	if (c) {
		int nonzero = 0;
		for (size_t i = 0; i < (1 << 20); i++)
			nonzero |= c[i] != 0;
		CHECK(!nonzero);
		free(c);
	}
	void *al = NULL;
	CHECK(posix_memalign(&al, 4096, 10000) == 0);
	CHECK(((uintptr_t)al & 4095) == 0);
	free(al);

	/* An impossible request fails cleanly. */
	errno = 0;
	void *huge = malloc(SIZE_MAX / 2);
	CHECK(huge == NULL && errno == ENOMEM);
	puts("calloc/memalign/huge: ok");

	return check_done("malloc");
}
