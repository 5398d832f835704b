/*
 * sysvshm: System V shared memory. shmget by IPC_PRIVATE and by key
 * (IPC_CREAT, IPC_EXCL, EEXIST, ENOENT, a size too large), shmat read-write
 * and read-only, IPC_STAT's fields and attach count across fork and shmdt,
 * a segment removed while attached (SHM_DEST, key gone, still usable, gone
 * after the last detach), IPC_SET, SHM_RND, and the EINVAL cases.
 */
#include "check.h"
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

static struct shmid_ds stat_of(int id)
{
	struct shmid_ds ds;
	memset(&ds, 0xff, sizeof ds);
	CHECK(shmctl(id, IPC_STAT, &ds) == 0);
	return ds;
}

int main(void)
{
	int id = MUST(shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600));
	struct shmid_ds ds = stat_of(id);
	CHECK(ds.shm_segsz == 10000 && (ds.shm_perm.mode & 0777) == 0600 && ds.shm_nattch == 0);
	CHECK(ds.shm_cpid == getpid() && ds.shm_perm.uid == geteuid() && ds.shm_perm.cuid == geteuid());
	CHECK(ds.shm_perm.__key == IPC_PRIVATE && ds.shm_atime == 0);
	puts("shmget IPC_PRIVATE: size, mode, creator, no attachment");

	char *p = shmat(id, NULL, 0);
	CHECK(p != (void *)-1);
	strcpy(p, "hello");
	p[9999] = 'z';
	char *q = shmat(id, NULL, SHM_RDONLY);
	CHECK(q != (void *)-1 && q != p && strcmp(q, "hello") == 0 && q[9999] == 'z');
	ds = stat_of(id);
	CHECK(ds.shm_nattch == 2 && ds.shm_lpid == getpid() && ds.shm_atime != 0);
	puts("shmat: two attachments see the same memory");

	pid_t pid = MUST(fork());
	if (pid == 0) {
		struct shmid_ds c;
		int ok = shmctl(id, IPC_STAT, &c) == 0 && c.shm_nattch == 4;
		strcpy(p, "child");
		_exit(ok ? 0 : 1);
	}
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(strcmp(q, "child") == 0);
	CHECK(stat_of(id).shm_nattch == 2);
	CHECK(shmdt(q) == 0);
	CHECK(stat_of(id).shm_nattch == 1);
	EXPECT_ERR(shmdt(q), EINVAL);
	EXPECT_ERR(shmdt(p + 4096), EINVAL);
	puts("fork: the child's attachments count, its writes are shared; shmdt");

	key_t key = 0x5e0e0000 | (getpid() & 0xffff);
	int k = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640);
	if (k < 0 && errno == EEXIST) {
		/* A leftover from an earlier run natively. */
		shmctl(shmget(key, 0, 0), IPC_RMID, NULL);
		k = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640);
	}
	CHECK(k >= 0 && k != id);
	EXPECT_ERR(shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0640), EEXIST);
	CHECK(shmget(key, 100, 0) == k && shmget(key, 0, IPC_CREAT) == k);
	EXPECT_ERR(shmget(key, 8192, 0), EINVAL);
	EXPECT_ERR(shmget(key ^ 0x00800000 /* a key no other run uses */, 4096, 0), ENOENT);
	EXPECT_ERR(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600), EINVAL);
	CHECK(stat_of(k).shm_perm.__key == key);
	ds.shm_perm.uid = geteuid();
	ds.shm_perm.gid = getegid();
	ds.shm_perm.mode = 0604;
	CHECK(shmctl(k, IPC_SET, &ds) == 0 && (stat_of(k).shm_perm.mode & 0777) == 0604);
	CHECK(shmctl(k, IPC_RMID, NULL) == 0);
	EXPECT_ERR(shmget(key, 4096, 0), ENOENT);
	puts("shmget by key: IPC_CREAT, IPC_EXCL, EEXIST, ENOENT, EINVAL; IPC_SET; IPC_RMID of an idle segment");

	/* Removed while attached: marked, its key gone, still usable. */
	CHECK(shmctl(id, IPC_RMID, NULL) == 0);
	ds = stat_of(id);
	CHECK((ds.shm_perm.mode & SHM_DEST) && ds.shm_nattch == 1);
	strcpy(p, "still here");
	CHECK(strcmp(p, "still here") == 0);
	CHECK(shmdt(p) == 0);
	EXPECT_ERR(shmctl(id, IPC_STAT, &ds), EINVAL);
	puts("IPC_RMID while attached: SHM_DEST, usable until the last shmdt, then gone");

	int r = MUST(shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600));
	char *base = shmat(r, NULL, 0);
	CHECK(base != (void *)-1 && shmdt(base) == 0);
	EXPECT_ERR(shmat(r, base + 1, 0) == (void *)-1 ? -1 : 0, EINVAL);
	char *rnd = shmat(r, base + 1, SHM_RND);
	CHECK(rnd == base);
	CHECK(shmdt(rnd) == 0);
	EXPECT_ERR(shmat(r, NULL, SHM_REMAP) == (void *)-1 ? -1 : 0, EINVAL);
	EXPECT_ERR(shmat(123456789, NULL, 0) == (void *)-1 ? -1 : 0, EINVAL);
	EXPECT_ERR(shmctl(123456789, IPC_STAT, &ds), EINVAL);
	EXPECT_ERR(shmctl(r, IPC_STAT, NULL), EFAULT);
	struct shminfo info;
	CHECK(shmctl(0, IPC_INFO, (struct shmid_ds *)&info) >= 0 && info.shmmin == 1);
	CHECK(shmctl(r, IPC_RMID, NULL) == 0);
	puts("SHM_RND, SHM_REMAP without an address, unknown ids, IPC_INFO");
	return check_done("sysvshm");
}
