/*
 * sysvmsg: System V message queues. msgsnd and msgrcv by type (0, a type,
 * MSG_EXCEPT, the lowest type up to a bound), IPC_STAT's counts, IPC_NOWAIT
 * (ENOMSG, EAGAIN on a full queue), E2BIG and MSG_NOERROR, a receive and a
 * send woken by another process, IPC_RMID waking a waiter with EIDRM,
 * IPC_SET of the queue size, and the error cases.
 */
#include "check.h"
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/wait.h>

struct m {
	long type;
	char text[64];
};

static int snd(int id, long type, const char *s, int flags)
{
	struct m b = {.type = type};
	strcpy(b.text, s);
	return msgsnd(id, &b, strlen(s), flags);
}

static long rcv(int id, long type, int flags, char *out, size_t size, long *gottype)
{
	struct m b;
	memset(&b, 0, sizeof b);
	ssize_t n = msgrcv(id, &b, size, type, flags);
	if (n >= 0) {
		memcpy(out, b.text, n);
		out[n] = 0;
		if (gottype)
			*gottype = b.type;
	}
	return n;
}

int main(void)
{
	int id = MUST(msgget(IPC_PRIVATE, IPC_CREAT | 0600));
	CHECK(snd(id, 1, "one", 0) == 0 && snd(id, 2, "two", 0) == 0 && snd(id, 1, "three", 0) == 0);
	struct msqid_ds ds;
	CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 3 && ds.__msg_cbytes == 11 && ds.msg_qbytes == 16384 &&
	      ds.msg_lspid == getpid() && ds.msg_lrpid == 0 && (ds.msg_perm.mode & 0777) == 0600);
	char buf[64];
	long type;
	CHECK(rcv(id, 2, 0, buf, 64, &type) == 3 && strcmp(buf, "two") == 0 && type == 2);
	CHECK(rcv(id, 0, 0, buf, 64, &type) == 3 && strcmp(buf, "one") == 0);
	CHECK(snd(id, 7, "seven", 0) == 0 && snd(id, 3, "3", 0) == 0);
	CHECK(rcv(id, 1, MSG_EXCEPT, buf, 64, &type) == 5 && strcmp(buf, "seven") == 0 && type == 7);
	CHECK(rcv(id, -5, 0, buf, 64, &type) == 5 && strcmp(buf, "three") == 0 && type == 1);
	CHECK(rcv(id, -5, 0, buf, 64, &type) == 1 && type == 3);
	EXPECT_ERR(rcv(id, 0, IPC_NOWAIT, buf, 64, NULL), ENOMSG);
	CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 0 && ds.msg_lrpid == getpid());
	puts("by type: 0, a type, MSG_EXCEPT, the lowest up to a bound; IPC_STAT; ENOMSG");

	CHECK(snd(id, 4, "toolong", 0) == 0);
	EXPECT_ERR(rcv(id, 0, 0, buf, 3, NULL), E2BIG);
	CHECK(rcv(id, 0, MSG_NOERROR, buf, 3, NULL) == 3 && strcmp(buf, "too") == 0);
	puts("E2BIG, MSG_NOERROR cuts the message");

	pid_t pid = MUST(fork());
	if (pid == 0) {
		usleep(100 * 1000);
		_exit(snd(id, 9, "late", 0) == 0 ? 0 : 1);
	}
	CHECK(rcv(id, 9, 0, buf, 64, NULL) == 4 && strcmp(buf, "late") == 0);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);

	ds.msg_qbytes = 8;
	CHECK(msgctl(id, IPC_SET, &ds) == 0);
	CHECK(msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qbytes == 8);
	CHECK(snd(id, 1, "12345678", 0) == 0);
	EXPECT_ERR(snd(id, 1, "x", IPC_NOWAIT), EAGAIN);
	pid = MUST(fork());
	if (pid == 0) {
		char b[64];
		usleep(100 * 1000);
		_exit(rcv(id, 0, 0, b, 64, NULL) == 8 ? 0 : 1);
	}
	CHECK(snd(id, 1, "x", 0) == 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(rcv(id, 0, 0, buf, 64, NULL) == 1);
	puts("waits: a receive and a send ended by another process; a full queue's EAGAIN");

	pid = MUST(fork());
	if (pid == 0) {
		char b[64];
		_exit(rcv(id, 0, 0, b, 64, NULL) == -1 && errno == EIDRM ? 0 : 1);
	}
	usleep(100 * 1000);
	CHECK(msgctl(id, IPC_RMID, NULL) == 0);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_ERR(msgctl(id, IPC_STAT, &ds), EINVAL);
	puts("IPC_RMID: a waiter fails with EIDRM, the queue is gone");

	key_t key = 0x5e100000 | (getpid() & 0xffff);
	int k = MUST(msgget(key, IPC_CREAT | IPC_EXCL | 0600));
	EXPECT_ERR(msgget(key, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
	CHECK(msgget(key, 0) == k);
	EXPECT_ERR(msgget(key ^ 0x00800000 /* a key no other run uses */, 0), ENOENT);
	EXPECT_ERR(snd(k, 0, "x", 0), EINVAL);
	struct m big = {.type = 1};
	EXPECT_ERR(msgsnd(k, &big, 8193, 0), EINVAL);
	EXPECT_ERR(msgsnd(k, (void *)8, 1, 0), EFAULT);
	EXPECT_ERR(msgsnd(123456789, &big, 1, 0), EINVAL);
	CHECK(msgctl(k, IPC_RMID, NULL) == 0);
	puts("by key: EEXIST, ENOENT; EINVAL, EFAULT");
	return check_done("sysvmsg");
}
