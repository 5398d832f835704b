/*
 * rawsyscall: host-only syscalls made with the raw `syscall` instruction
 * from the workload's own code, then from inside the platform's stub code
 * (every `syscall` instruction found in the stub's pages above the user
 * range), asking to power off. None may reach the host. Only ever run
 * inside the sandbox, inside a pid namespace of the test's: it refuses to
 * act without --sandboxed.
 */
#include "../../conformance/testdata/check.h"
#include <linux/reboot.h>
#include <sys/wait.h>

#define STUB_LO 0x7ff000000000UL
#define STUB_PAGES 4

static long raw6(long nr, long a, long b, long c, long d)
{
	register long r10 __asm__("r10") = d;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
			 : "rcx", "r11", "memory");
	return ret;
}

/* jump_in makes the reboot syscall at target: the code after it is the
 * stub's, so this never comes back. */
static void jump_in(unsigned long target)
{
	__asm__ volatile("mov %1, %%rcx\n"
			 "jmp *%%rcx\n"
			 :
			 : "a"((long)SYS_reboot), "r"(target), "D"((long)LINUX_REBOOT_MAGIC1),
			   "S"((long)LINUX_REBOOT_MAGIC2), "d"((long)LINUX_REBOOT_CMD_POWER_OFF)
			 : "rcx", "memory");
}

int main(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--sandboxed") != 0) {
		fprintf(stderr, "rawsyscall: refusing to run without --sandboxed\n");
		return 2;
	}
	int bad = 0;
	struct {
		const char *name;
		long nr, a, b, c, d;
	} calls[] = {
		{"kexec_load", SYS_kexec_load, 0, 0, 0, 0},
		{"init_module", SYS_init_module, 0, 0, 0, 0},
		{"nr 999", 999, 0, 0, 0, 0},
		{"reboot", SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0},
	};
	for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
		long r = raw6(calls[i].nr, calls[i].a, calls[i].b, calls[i].c, calls[i].d);
		printf("%s = %ld\n", calls[i].name, r);
		if (r != -ENOSYS && r != -EPERM) {
			fprintf(stderr, "rawsyscall: %s returned %ld, want -ENOSYS or -EPERM\n", calls[i].name, r);
			bad = 1;
		}
	}
	fflush(stdout);
	int sites = 0;
	for (unsigned long page = STUB_LO; page < STUB_LO + STUB_PAGES * 4096; page += 4096) {
		/* A child reads the page (it may be unmapped) and lists its
		 * syscall instructions through a pipe. */
		int p[2];
		if (pipe(p) != 0)
			return 3;
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			const unsigned char *b = (const unsigned char *)page;
			for (int off = 0; off < 4095; off++)
				if (b[off] == 0x0f && b[off + 1] == 0x05) {
					unsigned long a = page + off;
					if (write(p[1], &a, sizeof a) != sizeof a)
						_exit(1);
				}
			_exit(0);
		}
		close(p[1]);
		unsigned long addr;
		while (read(p[0], &addr, sizeof addr) == sizeof addr) {
			sites++;
			pid_t c = fork();
			if (c == 0) {
				/* The stub code after the syscall may wait forever
				 * (ptrace's park loop calls pause). */
				alarm(2);
				jump_in(addr);
				_exit(0);
			}
			int st;
			waitpid(c, &st, 0);
		}
		close(p[0]);
		waitpid(pid, NULL, 0);
	}
	printf("done (%s syscall sites in stub pages)\n", sites ? "some" : "no");
	return bad;
}
