/*
 * shm: POSIX shared memory and named semaphores, which the C libraries
 * keep in /dev/shm (a tmpfs). shm_open + ftruncate + mmap MAP_SHARED seen
 * across fork, O_EXCL, shm_unlink; sem_open/sem_post/sem_wait between a
 * parent and a child, sem_getvalue, sem_unlink.
 */
#include "check.h"
#include <fcntl.h>
#include <semaphore.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

static void devshm(void)
{
	struct stat st;
	MUST(stat("/dev/shm", &st));
	printf("/dev/shm dir=%s sticky=%s mode=%o\n", yesno(S_ISDIR(st.st_mode)),
	       yesno(st.st_mode & S_ISVTX), (unsigned)(st.st_mode & 0777));
	struct stat dev;
	MUST(stat("/dev", &dev));
	printf("/dev/shm own device: %s\n", yesno(st.st_dev != dev.st_dev));
}

static void shared_memory(void)
{
	char name[64];
	snprintf(name, sizeof name, "/exo-shm-%d", getpid());
	int fd = MUST(shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600));
	EXPECT_ERR(shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST);
	MUST(ftruncate(fd, 8192));
	struct stat st;
	MUST(fstat(fd, &st));
	printf("shm size %ld regular=%s\n", (long)st.st_size, yesno(S_ISREG(st.st_mode)));
	char path[96];
	snprintf(path, sizeof path, "/dev/shm%s", name);
	CHECK(access(path, F_OK) == 0);

	volatile int *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 1;
	p[1024] = 0;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		/* The child reopens by name and maps again. */
		int cfd = shm_open(name, O_RDWR, 0);
		if (cfd < 0)
			_exit(2);
		volatile int *q = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		if (q == MAP_FAILED || q[0] != 1)
			_exit(3);
		q[1024] = 42;
		p[1] = 7; /* the inherited mapping too */
		_exit(0);
	}
	int ws;
	MUST(waitpid(pid, &ws, 0));
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	printf("parent sees child's writes: %d %d\n", p[1], p[1024]);
	int v = 0;
	MUST(pread(fd, &v, sizeof v, 1024 * sizeof(int)));
	printf("read through fd: %d\n", v);
	munmap((void *)p, 8192);
	close(fd);
	MUST(shm_unlink(name));
	EXPECT_ERR(shm_open(name, O_RDWR, 0), ENOENT);
	EXPECT_ERR(shm_unlink(name), ENOENT);
}

static void semaphores(void)
{
	char name[64];
	snprintf(name, sizeof name, "/exo-sem-%d", getpid());
	sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
	CHECK(s != SEM_FAILED);
	sem_t *again = sem_open(name, O_CREAT | O_EXCL, 0600, 0);
	CHECK(again == SEM_FAILED && errno == EEXIST);
	char path[96];
	snprintf(path, sizeof path, "/dev/shm/sem.%s", name + 1);
	printf("semaphore file in /dev/shm: %s\n", yesno(access(path, F_OK) == 0));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		sem_t *c = sem_open(name, 0);
		if (c == SEM_FAILED)
			_exit(2);
		/* Wait for the parent's post, answer with two. */
		if (sem_wait(c) != 0)
			_exit(3);
		sem_post(c);
		sem_post(c);
		_exit(0);
	}
	MUST(sem_post(s));
	int ws;
	MUST(waitpid(pid, &ws, 0));
	CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	int val = -1;
	MUST(sem_getvalue(s, &val));
	printf("semaphore value after child: %d\n", val);
	MUST(sem_trywait(s));
	MUST(sem_trywait(s));
	CHECK(sem_trywait(s) == -1 && errno == EAGAIN);
	MUST(sem_close(s));
	MUST(sem_unlink(name));
	CHECK(sem_open(name, 0) == SEM_FAILED && errno == ENOENT);
}

int main(void)
{
	devshm();
	shared_memory();
	semaphores();
	return check_done("shm");
}
