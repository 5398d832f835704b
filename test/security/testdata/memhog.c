/*
 * memhog MODE: allocate and touch up to 256 MiB in 1 MiB steps with MODE
 * mmap, brk or malloc, printing "touched N MiB" after each step. Run under
 * a smaller memory quota it must be stopped before the quota is exceeded:
 * either an allocation fails with ENOMEM (brk: the break stays put), when
 * it prints "ENOMEM after N MiB" and exits 0, or touching the memory gets
 * it killed, as a memory cgroup's OOM killer does. Exits 1 if 256 MiB fit
 * or an allocation failed with something else.
 */
#include "../../conformance/testdata/check.h"
#include <stdint.h>
#include <sys/mman.h>

#define MiB (1UL << 20)
#define LIMIT 256

static int touched;

static void touch(unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i += 4096)
		p[i] = 1;
	printf("touched %d MiB\n", ++touched);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	const char *mode = argv[1];
	int n;
	if (strcmp(mode, "mmap") == 0) {
		for (n = 0; n < LIMIT; n++) {
			errno = 0;
			void *p = mmap(NULL, MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED) {
				if (errno != ENOMEM) {
					fprintf(stderr, "mmap failed with %s, not ENOMEM\n", errname(errno));
					return 1;
				}
				break;
			}
			touch(p, MiB);
		}
	} else if (strcmp(mode, "brk") == 0) {
		uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
		for (n = 0; n < LIMIT; n++) {
			uintptr_t want = cur + MiB;
			uintptr_t got = (uintptr_t)syscall(SYS_brk, want);
			if (got != want) {
				if (got != cur) {
					fprintf(stderr, "failed brk moved the break\n");
					return 1;
				}
				break;
			}
			touch((unsigned char *)cur, MiB);
			cur = want;
		}
	} else if (strcmp(mode, "malloc") == 0) {
		for (n = 0; n < LIMIT; n++) {
			errno = 0;
			void *p = malloc(MiB);
			if (p == NULL) {
				if (errno != ENOMEM) {
					fprintf(stderr, "malloc failed with %s, not ENOMEM\n", errname(errno));
					return 1;
				}
				break;
			}
			touch(p, MiB);
		}
	} else {
		fprintf(stderr, "memhog: unknown mode %s\n", mode);
		return 2;
	}
	if (n == LIMIT) {
		printf("allocated and touched %d MiB without ENOMEM\n", LIMIT);
		return 1;
	}
	printf("ENOMEM after %d MiB\n", n);
	return 0;
}
