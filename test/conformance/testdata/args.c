/*
 * args: argv, envp and the auxiliary vector as the loader laid them out.
 * The harness runs every program with the arguments "one", "two three", ""
 * and EXO_CONFORMANCE=1 in the environment.
 */
#include "check.h"
#include <elf.h>
#include <link.h>
#include <sys/auxv.h>

extern char _start[];
extern const ElfW(Ehdr) __ehdr_start;

int main(int argc, char **argv, char **envp)
{
	CHECK(argc == 4);
	CHECK(argv[0] != NULL && argv[0][0] != '\0');
	CHECK(argv[argc] == NULL);
	for (int i = 1; i < argc; i++)
		printf("argv[%d]=\"%s\"\n", i, argv[i]);

	/* envp follows argv's NULL; auxv follows envp's NULL. */
	CHECK(envp == argv + argc + 1);
	const char *v = getenv("EXO_CONFORMANCE");
	CHECKF(v != NULL && strcmp(v, "1") == 0, "EXO_CONFORMANCE=%s", v ? v : "(unset)");
	printf("EXO_CONFORMANCE=%s\n", v ? v : "(unset)");
	char **e = envp;
	while (*e) {
		CHECK(strchr(*e, '=') != NULL);
		e++;
	}

	ElfW(auxv_t) *av = (ElfW(auxv_t) *)(e + 1);
	int n = 0, seen_pagesz = 0, seen_random = 0, seen_entry = 0, seen_phdr = 0;
	for (; av->a_type != AT_NULL; av++, n++) {
		/* (libc may adjust others, such as AT_HWCAP, for its own use.) */
		switch (av->a_type) {
		case AT_PAGESZ: case AT_RANDOM: case AT_ENTRY: case AT_PHDR: case AT_PHNUM:
		case AT_PHENT: case AT_UID: case AT_EUID: case AT_GID: case AT_EGID:
			CHECKF(av->a_un.a_val == getauxval(av->a_type),
			       "auxv entry %lu differs from getauxval", (unsigned long)av->a_type);
		}
		seen_pagesz |= av->a_type == AT_PAGESZ;
		seen_random |= av->a_type == AT_RANDOM;
		seen_entry |= av->a_type == AT_ENTRY;
		seen_phdr |= av->a_type == AT_PHDR;
		if (n > 100)
			break;
	}
	CHECK(n > 0 && n <= 100);
	CHECK(seen_pagesz && seen_random && seen_entry && seen_phdr);

	CHECK(getauxval(AT_PAGESZ) == 4096);
	CHECK(sysconf(_SC_PAGESIZE) == 4096);

	const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
	CHECK(rnd != NULL);
	if (rnd) {
		unsigned char copy[16], zero[16] = {0};
		memcpy(copy, rnd, 16);
		CHECK(memcmp(copy, zero, 16) != 0);
	}

	CHECKF(getauxval(AT_ENTRY) == (unsigned long)_start,
	       "AT_ENTRY does not point at _start");
	CHECK(memcmp(__ehdr_start.e_ident, ELFMAG, SELFMAG) == 0);
	CHECK(getauxval(AT_PHENT) == sizeof(ElfW(Phdr)));
	CHECK(getauxval(AT_PHNUM) == __ehdr_start.e_phnum);
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
	CHECKF(ph == (const ElfW(Phdr) *)((const char *)&__ehdr_start + __ehdr_start.e_phoff),
	       "AT_PHDR does not point at the program headers of the loaded image");
	int loads = 0;
	if (ph)
		for (unsigned i = 0; i < getauxval(AT_PHNUM); i++)
			loads += ph[i].p_type == PT_LOAD;
	CHECK(loads > 0);

	/* Linux always provides these; when present they must be consistent. */
	errno = 0;
	unsigned long uid = getauxval(AT_UID);
	if (errno == 0)
		CHECK(uid == getuid());
	errno = 0;
	unsigned long euid = getauxval(AT_EUID);
	if (errno == 0)
		CHECK(euid == geteuid());
	errno = 0;
	unsigned long gid = getauxval(AT_GID);
	if (errno == 0)
		CHECK(gid == getgid());
	errno = 0;
	unsigned long egid = getauxval(AT_EGID);
	if (errno == 0)
		CHECK(egid == getegid());
	CHECK(getauxval(AT_SECURE) == 0);
	CHECK(getauxval(AT_BASE) == 0); /* static: no interpreter */
	errno = 0;
	const char *plat = (const char *)getauxval(AT_PLATFORM);
	if (errno == 0 && plat)
		CHECK(strcmp(plat, "x86_64") == 0);
	errno = 0;
	const char *execfn = (const char *)getauxval(AT_EXECFN);
	if (errno == 0)
		CHECK(execfn != NULL && execfn[0] != '\0');
	errno = 0;
	unsigned long clk = getauxval(AT_CLKTCK);
	if (errno == 0)
		CHECK(clk == 100);
	puts("auxv: consistent");

	return check_done("args");
}
