/*
 * numa: memory policies on a one-node machine (get_mempolicy,
 * set_mempolicy, mbind: modes, flags, node masks, MPOL_F_* queries,
 * inheritance across fork) and protection keys that were never allocated
 * (pkey_free, pkey_mprotect, pkey_alloc's argument checks).
 */
#include "check.h"
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2
#define MPOL_F_MEMS_ALLOWED 4

static long get_mempolicy(int *mode, unsigned long *mask, unsigned long maxnode, void *addr, unsigned long flags)
{
	return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}

static long set_mempolicy(int mode, const unsigned long *mask, unsigned long maxnode)
{
	return syscall(SYS_set_mempolicy, mode, mask, maxnode);
}

static long mbind(void *addr, unsigned long len, int mode, const unsigned long *mask, unsigned long maxnode, unsigned flags)
{
	return syscall(SYS_mbind, addr, len, mode, mask, maxnode, flags);
}

int main(void)
{
	struct stat st;
	if (stat("/sys/devices/system/node/node1", &st) == 0) {
		/* Written for one node: say so rather than fail. */
		puts("numa: more than one node here, nothing checked");
		return check_done("numa");
	}
	int mode = -1;
	unsigned long mask[2] = {~0UL, ~0UL};
	CHECK(get_mempolicy(&mode, mask, 65, NULL, 0) == 0);
	CHECK(mode == MPOL_DEFAULT && mask[0] == 0 && mask[1] == ~0UL);
	CHECK(get_mempolicy(NULL, mask, 65, NULL, MPOL_F_MEMS_ALLOWED) == 0 && mask[0] == 1);
	EXPECT_ERR(get_mempolicy(&mode, NULL, 0, NULL, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE), EINVAL);
	EXPECT_ERR(get_mempolicy(&mode, NULL, 0, NULL, 8), EINVAL);
	EXPECT_ERR(get_mempolicy(&mode, NULL, 0, (void *)4096, 0), EINVAL);
	EXPECT_ERR(get_mempolicy(&mode, NULL, 0, NULL, MPOL_F_NODE), EINVAL);
	EXPECT_ERR(get_mempolicy((int *)8, NULL, 0, NULL, 0), EFAULT);
	puts("get_mempolicy: the default policy, the allowed nodes, EINVAL, EFAULT");

	unsigned long node0 = 1, node1 = 2, none = 0;
	CHECK(set_mempolicy(MPOL_BIND, &node0, 64) == 0);
	CHECK(get_mempolicy(&mode, mask, 65, NULL, 0) == 0 && mode == MPOL_BIND && mask[0] == 1);
	EXPECT_ERR(set_mempolicy(MPOL_BIND, &node1, 64), EINVAL);
	EXPECT_ERR(set_mempolicy(MPOL_BIND, &none, 64), EINVAL);
	EXPECT_ERR(set_mempolicy(MPOL_DEFAULT, &node0, 64), EINVAL);
	EXPECT_ERR(set_mempolicy(99, NULL, 0), EINVAL);
	EXPECT_ERR(set_mempolicy(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, &node0, 64), EINVAL);
	EXPECT_ERR(set_mempolicy(MPOL_BIND, (unsigned long *)8, 64), EFAULT);
	/* A failed call leaves the policy alone. */
	CHECK(get_mempolicy(&mode, NULL, 0, NULL, 0) == 0 && mode == MPOL_BIND);
	CHECK(set_mempolicy(MPOL_PREFERRED, NULL, 0) == 0);
	CHECK(get_mempolicy(&mode, NULL, 0, NULL, 0) == 0 && mode == MPOL_LOCAL);
	CHECK(set_mempolicy(MPOL_INTERLEAVE | MPOL_F_STATIC_NODES, &node0, 64) == 0);
	CHECK(get_mempolicy(&mode, mask, 65, NULL, 0) == 0 && mode == (MPOL_INTERLEAVE | MPOL_F_STATIC_NODES) && mask[0] == 1);
	int node = -1;
	CHECK(get_mempolicy(&node, NULL, 0, NULL, MPOL_F_NODE) == 0 && node == 0);
	pid_t pid = MUST(fork());
	if (pid == 0) {
		int m = -1;
		_exit(get_mempolicy(&m, NULL, 0, NULL, 0) == 0 && m == (MPOL_INTERLEAVE | MPOL_F_STATIC_NODES) ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(set_mempolicy(MPOL_DEFAULT, NULL, 0) == 0);
	CHECK(get_mempolicy(&mode, mask, 65, NULL, 0) == 0 && mode == MPOL_DEFAULT && mask[0] == 0);
	puts("set_mempolicy: bind, preferred without nodes is local, interleave's next node, kept across fork, EINVAL, EFAULT");

	char *p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 1;
	CHECK(munmap(p + 2 * 4096, 4096) == 0);
	CHECK(mbind(p, 2 * 4096, MPOL_BIND, &node0, 64, 0) == 0);
	CHECK(mbind(p, 0, MPOL_BIND, &node0, 64, 0) == 0);
	EXPECT_ERR(mbind(p + 1, 4096, MPOL_BIND, &node0, 64, 0), EINVAL);
	EXPECT_ERR(mbind(p, 3 * 4096, MPOL_BIND, &node0, 64, 0), EFAULT);
	EXPECT_ERR(mbind(p, 4096, MPOL_BIND, &node0, 64, 8), EINVAL);
	EXPECT_ERR(mbind(p, 4096, MPOL_BIND, &node1, 64, 0), EINVAL);
	CHECK(get_mempolicy(&node, NULL, 0, p, MPOL_F_NODE | MPOL_F_ADDR) == 0 && node == 0);
	EXPECT_ERR(get_mempolicy(&node, NULL, 0, p + 2 * 4096, MPOL_F_ADDR), EFAULT);
	puts("mbind: a mapped range, EINVAL, EFAULT; the node of a page");

	EXPECT_ERR(syscall(SYS_pkey_alloc, 1, 0), EINVAL);
	EXPECT_ERR(syscall(SYS_pkey_alloc, 0, 4), EINVAL);
	EXPECT_ERR(syscall(SYS_pkey_free, 15), EINVAL);
	EXPECT_ERR(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, 15), EINVAL);
	CHECK(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, -1) == 0);
	CHECK(syscall(SYS_pkey_mprotect, p, 0, PROT_READ, 15) == 0);
	puts("pkeys: pkey_alloc's arguments, an unallocated key, key -1 is mprotect");
	return check_done("numa");
}
