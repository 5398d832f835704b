/*
 * lazymem: anonymous memory takes memory when touched, not when mapped:
 * mincore and VmRSS see only touched pages, a large mapping costs nothing
 * until used, MADV_DONTNEED gives pages back and reads zeroes, and a
 * forked child's touches do not reach its parent.
 */
#include "check.h"
#include <sys/mman.h>
#include <sys/wait.h>

#define MiB (1UL << 20)

/* vmrss is VmRSS in kB. */
static long vmrss(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int resident(char *p, size_t len)
{
	unsigned char vec[1024];
	size_t pages = len / 4096, n = 0;
	CHECK(pages <= sizeof vec && mincore(p, len, vec) == 0);
	for (size_t i = 0; i < pages; i++)
		n += vec[i] & 1;
	return (int)n;
}

int main(void)
{
	char *p = mmap(NULL, 512 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	/* Align to 2 MiB so a transparent huge page, where the host uses
	 * them, covers only what is touched below. */
	char *a = (char *)(((unsigned long)p + 2 * MiB - 1) & ~(2 * MiB - 1));
	CHECK(resident(a, 4 * MiB) == 0);
	long before = vmrss();
	a[0] = 1;
	CHECK(resident(a, 4096) == 1);
	CHECK(resident(a + 2 * MiB, 2 * MiB) == 0);
	CHECK(*(volatile char *)(a + 3 * MiB) == 0);
	puts("mincore: untouched pages are not resident, a touched one is");

	char *b = a + 64 * MiB;
	for (size_t i = 0; i < 16 * MiB; i += 4096)
		b[i] = (char)(i >> 12);
	long grown = vmrss() - before;
	CHECKF(grown >= 15 * 1024 && grown <= 24 * 1024, "VmRSS grew by %ld kB after touching 16 MiB of a 512 MiB mapping", grown);
	puts("VmRSS: 16 MiB touched in a 512 MiB mapping counts about 16 MiB");

	CHECK(madvise(b, 16 * MiB, MADV_DONTNEED) == 0);
	long after = vmrss() - before;
	CHECKF(after < 4 * 1024, "VmRSS still %ld kB above the start after MADV_DONTNEED", after);
	CHECK(b[4096] == 0 && b[15 * MiB] == 0);
	puts("MADV_DONTNEED: the pages go and read back as zeroes");

	b[0] = 7;
	pid_t pid = MUST(fork());
	if (pid == 0) {
		for (size_t i = 0; i < 8 * MiB; i += 4096)
			b[i] = 9;
		_exit(b[0] == 9 && b[8 * MiB] == 0 ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(b[0] == 7 && b[4096] == 0 && resident(b + 4 * MiB, 4 * MiB) == 0);
	puts("fork: the child's touches stay the child's");
	return check_done("lazymem");
}
