/*
 * sysvsem: System V semaphores. semget by IPC_PRIVATE and by key,
 * SETVAL/GETVAL/SETALL/GETALL/GETPID/GETNCNT, semop applying all of its
 * operations or none, IPC_NOWAIT and semtimedop's EAGAIN, a wait ended by
 * another process (a decrement, a wait for zero), SEM_UNDO undone at exit,
 * IPC_RMID waking a waiter with EIDRM, IPC_STAT, and the error cases.
 */
#include "check.h"
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static int op(int id, unsigned short num, short delta, short flags)
{
	struct sembuf b = {num, delta, flags};
	return semop(id, &b, 1);
}

static int val(int id, int num) { return semctl(id, num, GETVAL); }

int main(void)
{
	int id = MUST(semget(IPC_PRIVATE, 3, IPC_CREAT | 0600));
	CHECK(val(id, 0) == 0 && val(id, 2) == 0);
	union semun u = {.val = 1};
	CHECK(semctl(id, 0, SETVAL, u) == 0 && val(id, 0) == 1 && semctl(id, 0, GETPID) == getpid());
	unsigned short all[3] = {1, 2, 0}, got[3];
	u.array = all;
	CHECK(semctl(id, 0, SETALL, u) == 0);
	u.array = got;
	CHECK(semctl(id, 0, GETALL, u) == 0 && got[0] == 1 && got[1] == 2 && got[2] == 0);
	struct semid_ds ds;
	u.buf = &ds;
	CHECK(semctl(id, 0, IPC_STAT, u) == 0 && ds.sem_nsems == 3 && (ds.sem_perm.mode & 0777) == 0600 && ds.sem_otime == 0);
	puts("semget, SETVAL, GETVAL, GETPID, SETALL, GETALL, IPC_STAT");

	CHECK(op(id, 0, -1, 0) == 0 && val(id, 0) == 0);
	EXPECT_ERR(op(id, 0, -1, IPC_NOWAIT), EAGAIN);
	struct sembuf two[2] = {{1, -1, 0}, {0, -1, IPC_NOWAIT}};
	EXPECT_ERR(semop(id, two, 2), EAGAIN);
	CHECK(val(id, 1) == 2);
	struct timespec ts = {0, 50 * 1000000L};
	struct sembuf dec = {0, -1, 0};
	EXPECT_ERR(semtimedop(id, &dec, 1, &ts), EAGAIN);
	CHECK(semctl(id, 0, IPC_STAT, u) == 0 && ds.sem_otime != 0);
	puts("all or nothing, IPC_NOWAIT, semtimedop's timeout");

	pid_t pid = MUST(fork());
	if (pid == 0) {
		usleep(100 * 1000);
		_exit(op(id, 0, 1, 0) == 0 ? 0 : 1);
	}
	CHECK(op(id, 0, -1, 0) == 0);
	CHECK(semctl(id, 0, GETPID) == getpid());
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	pid = MUST(fork());
	if (pid == 0) {
		usleep(100 * 1000);
		_exit(op(id, 1, -2, 0) == 0 ? 0 : 1);
	}
	CHECK(op(id, 1, 0, 0) == 0 && val(id, 1) == 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	puts("waits ended by another process: a decrement, a wait for zero");

	pid = MUST(fork());
	if (pid == 0)
		_exit(op(id, 2, -1, 0) == 0 ? 0 : 1);
	int n = 0;
	for (int i = 0; i < 500 && (n = semctl(id, 2, GETNCNT)) != 1; i++)
		usleep(10 * 1000);
	CHECK(n == 1);
	CHECK(op(id, 2, 1, 0) == 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(val(id, 2) == 0 && semctl(id, 2, GETNCNT) == 0);
	puts("GETNCNT counts a waiter");

	pid = MUST(fork());
	if (pid == 0)
		_exit(op(id, 0, 5, SEM_UNDO) == 0 && val(id, 0) == 5 ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(val(id, 0) == 0);
	puts("SEM_UNDO: undone when the process exits");

	pid = MUST(fork());
	if (pid == 0)
		_exit(op(id, 2, -1, 0) == -1 && errno == EIDRM ? 0 : 1);
	for (int i = 0; i < 500 && semctl(id, 2, GETNCNT) != 1; i++)
		usleep(10 * 1000);
	CHECK(semctl(id, 0, IPC_RMID) == 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_ERR(val(id, 0), EINVAL);
	puts("IPC_RMID: a waiter fails with EIDRM, the set is gone");

	key_t key = 0x5e0f0000 | (getpid() & 0xffff);
	int k = MUST(semget(key, 2, IPC_CREAT | IPC_EXCL | 0600));
	EXPECT_ERR(semget(key, 2, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	CHECK(semget(key, 1, 0) == k);
	EXPECT_ERR(semget(key, 3, 0), EINVAL);
	EXPECT_ERR(semget(key ^ 0x00800000 /* a key no other run uses */, 1, 0), ENOENT);
	EXPECT_ERR(semget(IPC_PRIVATE, 0, IPC_CREAT | 0600), EINVAL);
	EXPECT_ERR(op(k, 5, 1, 0), EFBIG);
	EXPECT_ERR(semop(k, &dec, 0), EINVAL);
	u.val = 40000;
	EXPECT_ERR(semctl(k, 0, SETVAL, u), ERANGE);
	u.val = 32767;
	CHECK(semctl(k, 0, SETVAL, u) == 0);
	EXPECT_ERR(op(k, 0, 1, 0), ERANGE);
	EXPECT_ERR(semctl(123456789, 0, GETVAL), EINVAL);
	CHECK(semctl(k, 0, IPC_RMID) == 0);
	puts("by key: EEXIST, ENOENT, EINVAL; EFBIG, ERANGE");
	return check_done("sysvsem");
}
