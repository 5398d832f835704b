/*
 * perms: permission checks against the caller's credentials. Root sets up
 * files and directories in a scratch directory under /tmp, then a child
 * that has become uid/gid 65534 (setgroups, setgid, setuid) tries to read,
 * write, create, remove, search, chmod, chown and set times: EACCES where
 * a mode bit is missing, EPERM where only the owner may act, and the sticky
 * directory rule. The child prints one line per attempt.
 */
#include "check.h"
#include "fs.h"
#include <grp.h>

#define NOBODY 65534

#define TRY(what, expr, want)                                                                   \
	do {                                                                                    \
		errno = 0;                                                                      \
		long r_ = (long)(expr);                                                         \
		int e_ = r_ == -1 ? errno : 0;                                                  \
		printf("  %-44s %s\n", what, r_ == -1 ? errname(e_) : "ok");                    \
		if (e_ != (want))                                                               \
			check_fail(__FILE__, __LINE__, what ": want " #want, e_);               \
		if (r_ >= 0 && strncmp(what, "open", 4) == 0)                                   \
			close((int)r_);                                                         \
	} while (0)

static void as_nobody(void)
{
	CHECK(setgroups(0, NULL) == 0);
	CHECK(setgid(NOBODY) == 0);
	CHECK(setuid(NOBODY) == 0);
	CHECK(getuid() == NOBODY && geteuid() == NOBODY && getgid() == NOBODY);
	struct timespec tv[2] = {{1, 0}, {2, 0}};
	char buf[64];

	puts("as uid 65534:");
	TRY("open root's 0600 file for reading", open(P("secret"), O_RDONLY), EACCES);
	TRY("open root's 0644 file for reading", open(P("public"), O_RDONLY), 0);
	TRY("open root's 0644 file for writing", open(P("public"), O_WRONLY), EACCES);
	TRY("open root's 0644 file O_RDWR", open(P("public"), O_RDWR), EACCES);
	TRY("open root's 0666 file for writing", open(P("shared"), O_WRONLY), 0);
	TRY("truncate root's 0644 file", truncate(P("public"), 0), EACCES);
	TRY("create in root's 0755 dir", open(P("new"), O_WRONLY | O_CREAT, 0644), EACCES);
	TRY("mkdir in root's 0555 dir", mkdir(P("ro/x"), 0755), EACCES);
	TRY("unlink in root's 0755 dir", unlink(P("public")), EACCES);
	TRY("rename in root's 0755 dir", rename(P("public"), P("renamed")), EACCES);
	TRY("symlink in root's 0755 dir", symlink("public", P("link")), EACCES);
	TRY("stat through root's 0700 dir", access(P("private/inner"), F_OK), EACCES);
	TRY("open through root's 0700 dir", open(P("private/inner"), O_RDONLY), EACCES);
	TRY("chdir into root's 0700 dir", chdir(P("private")), EACCES);
	TRY("opendir root's 0700 dir", open(P("private"), O_RDONLY | O_DIRECTORY), EACCES);
	TRY("list root's 0311 dir (search only)", open(P("searchonly"), O_RDONLY | O_DIRECTORY), EACCES);
	TRY("open through root's 0311 dir", open(P("searchonly/inner"), O_RDONLY), 0);
	TRY("access(R_OK) of root's 0600 file", access(P("secret"), R_OK), EACCES);
	TRY("access(R_OK) of root's 0644 file", access(P("public"), R_OK), 0);
	TRY("access(W_OK) of root's 0644 file", access(P("public"), W_OK), EACCES);
	TRY("access(X_OK) of root's 0755 file", access(P("tool"), X_OK), 0);
	TRY("faccessat2(W_OK, AT_EACCESS) 0644 file", sys_faccessat2(AT_FDCWD, P("public"), W_OK, AT_EACCESS), EACCES);
	TRY("chmod root's file", chmod(P("public"), 0777), EPERM);
	TRY("chown root's file to self", chown(P("public"), NOBODY, -1), EPERM);
	TRY("utimensat(explicit times) root's 0666 file", utimensat(AT_FDCWD, P("shared"), tv, 0), EPERM);
	TRY("utimensat(NULL) root's 0666 file", utimensat(AT_FDCWD, P("shared"), NULL, 0), 0);
	TRY("utimensat(NULL) root's 0644 file", utimensat(AT_FDCWD, P("public"), NULL, 0), EACCES);
	TRY("readlink in a 0700 dir", readlink(P("private/lnk"), buf, sizeof buf), EACCES);

	/* A world-writable sticky directory: create there, but not remove
	 * or rename what another user owns. */
	TRY("create in root's 01777 dir", open(P("sticky/mine"), O_WRONLY | O_CREAT, 0600), 0);
	TRY("unlink own file in 01777 dir", unlink(P("sticky/mine")), 0);
	TRY("unlink root's file in 01777 dir", unlink(P("sticky/roots")), EPERM);
	TRY("rename root's file in 01777 dir", rename(P("sticky/roots"), P("sticky/x")), EPERM);
	TRY("create in root's 0777 dir", open(P("open/mine"), O_WRONLY | O_CREAT, 0600), 0);
	TRY("unlink root's file in 0777 dir", unlink(P("open/roots")), 0);
	TRY("chmod own file", chmod(P("open/mine"), 0640), 0);
	TRY("chown own file to root", chown(P("open/mine"), 0, -1), EPERM);
	TRY("chown own file to own group", chown(P("open/mine"), -1, NOBODY), 0);
	TRY("chown own file to another group", chown(P("open/mine"), -1, 0), EPERM);
	TRY("setuid(0) back to root", setuid(0), EPERM);
	struct stat st;
	CHECK(stat(P("open/mine"), &st) == 0 && st.st_uid == NOBODY && st.st_gid == NOBODY &&
	      (st.st_mode & 07777) == 0640);
	fflush(stdout);
}

int main(void)
{
	make_tmp("perms");
	umask(0);
	CHECK(write_file(P("secret"), "secret\n", 0600) == 0);
	CHECK(write_file(P("public"), "public\n", 0644) == 0);
	CHECK(write_file(P("shared"), "shared\n", 0666) == 0);
	CHECK(write_file(P("tool"), "#!/bin/sh\n", 0755) == 0);
	CHECK(mkdir(P("ro"), 0555) == 0);
	CHECK(mkdir(P("private"), 0700) == 0);
	CHECK(write_file(P("private/inner"), "inner\n", 0644) == 0);
	CHECK(symlink("inner", P("private/lnk")) == 0);
	CHECK(mkdir(P("searchonly"), 0311) == 0);
	CHECK(write_file(P("searchonly/inner"), "inner\n", 0644) == 0);
	CHECK(mkdir(P("sticky"), 01777) == 0);
	CHECK(write_file(P("sticky/roots"), "root's\n", 0666) == 0);
	CHECK(mkdir(P("open"), 0777) == 0);
	CHECK(write_file(P("open/roots"), "root's\n", 0644) == 0);
	fflush(stdout);

	pid_t pid = fork_child();
	if (pid == 0) {
		as_nobody();
		child_done();
	}
	CHECK(pid > 0);
	CHECK(wait_status(pid) == 0);

	/* Root was not bound by any of it. */
	CHECK(file_is(P("secret"), "secret\n"));
	CHECK(exists(P("sticky/roots")) && !exists(P("open/roots")));
	CHECK(access(P("private/inner"), R_OK | W_OK) == 0);
	puts("root: reads 0600 files and searches 0700 directories");
	cleanup_tmp();
	return check_done("perms");
}
