/* brk: the raw program break, grown, used, shrunk, and refused below its start. */
#include "check.h"
#include <stdint.h>

int main(void)
{
	uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
	CHECK(cur != 0);
	CHECK(cur == (uintptr_t)syscall(SYS_brk, 0));

	uintptr_t want = cur + (1u << 20) + 123;
	uintptr_t got = (uintptr_t)syscall(SYS_brk, want);
	CHECK(got == want);
	if (got == want) {
		/* The new pages are zeroed, and all of it is writable. */
		unsigned char *p = (unsigned char *)cur;
		const unsigned char *fresh = (const unsigned char *)((cur + 4095) & ~(uintptr_t)4095);
		int nonzero = 0;
		for (const unsigned char *q = fresh; q < p + (1u << 20); q++)
			nonzero |= *q;
		CHECK(!nonzero);
		memset(p, 0xab, 1u << 20);
		CHECK(p[0] == 0xab && p[(1u << 20) - 1] == 0xab);
	}
	/* Shrinking returns the new break. */
	CHECK((uintptr_t)syscall(SYS_brk, cur) == cur);
	/* Growing again: the released memory comes back zeroed. */
	got = (uintptr_t)syscall(SYS_brk, cur + 8192);
	CHECK(got == cur + 8192);
	if (got == cur + 8192) {
		const unsigned char *p = (const unsigned char *)((cur + 4095) & ~(uintptr_t)4095);
		if ((uintptr_t)p + 4096 <= got)
			CHECK(p[0] == 0 && p[4095] == 0);
	}
	CHECK((uintptr_t)syscall(SYS_brk, cur) == cur);

	/* A request below the initial break is refused: brk returns the current one. */
	CHECK((uintptr_t)syscall(SYS_brk, 4096) == cur);
	CHECK((uintptr_t)syscall(SYS_brk, 1) == cur);

	/* sbrk through libc agrees with the raw break. */
	void *s = sbrk(0);
	CHECK((uintptr_t)s == cur);
	puts("brk: grow, use, shrink, refuse");
	return check_done("brk");
}
