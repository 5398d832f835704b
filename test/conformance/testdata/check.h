/*
 * check.h: assertion helpers shared by the conformance programs.
 *
 * Every program asserts what Linux does, prints only deterministic facts to
 * stdout (no pids, addresses, times or sizes that change between runs), and
 * exits 0 when all checks held, 1 otherwise with a FAIL line per failed check
 * on stderr. Include this header first.
 */
#ifndef EXO_CHECK_H
#define EXO_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

static int check_failures;

static inline const char *errname(int e)
{
	static char buf[32];
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case ENOEXEC: return "ENOEXEC";
	case EBADF: return "EBADF";
	case ECHILD: return "ECHILD";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EXDEV: return "EXDEV";
	case ENODEV: return "ENODEV";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EINVAL: return "EINVAL";
	case ENFILE: return "ENFILE";
	case EMFILE: return "EMFILE";
	case ENOTTY: return "ENOTTY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case EPIPE: return "EPIPE";
	case ERANGE: return "ERANGE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOSYS: return "ENOSYS";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ELOOP: return "ELOOP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ENOTSUP: return "ENOTSUP";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENETUNREACH: return "ENETUNREACH";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EDEADLK: return "EDEADLK";
	case EOWNERDEAD: return "EOWNERDEAD";
	case ENOTRECOVERABLE: return "ENOTRECOVERABLE";
	case EOVERFLOW: return "EOVERFLOW";
	case ENOTSOCK: return "ENOTSOCK";
	case ESTALE: return "ESTALE";
	case ENODATA: return "ENODATA";
	case EMLINK: return "EMLINK";
	case ETXTBSY: return "ETXTBSY";
	case EADDRINUSE: return "EADDRINUSE";
	case EMSGSIZE: return "EMSGSIZE";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EPROTOTYPE: return "EPROTOTYPE";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case ECONNRESET: return "ECONNRESET";
	case ESOCKTNOSUPPORT: return "ESOCKTNOSUPPORT";
	case EINPROGRESS: return "EINPROGRESS";
	case EALREADY: return "EALREADY";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENOBUFS: return "ENOBUFS";
	case EDOM: return "EDOM";
	}
	snprintf(buf, sizeof buf, "errno %d", e);
	return buf;
}

static inline void check_fail(const char *file, int line, const char *what, int err)
{
	fprintf(stderr, "FAIL %s:%d: %s (errno %s)\n", file, line, what, errname(err));
	check_failures++;
}

/* CHECK(cond): cond must hold. */
#define CHECK(cond)                                                     \
	do {                                                            \
		int ok_ = !!(cond);                                     \
		int e_ = errno;                                         \
		if (!ok_)                                               \
			check_fail(__FILE__, __LINE__, #cond, e_);      \
	} while (0)

/* CHECKF(cond, fmt, ...): like CHECK with a formatted explanation. */
#define CHECKF(cond, ...)                                               \
	do {                                                            \
		int ok_ = !!(cond);                                     \
		int e_ = errno;                                         \
		if (!ok_) {                                             \
			check_fail(__FILE__, __LINE__, #cond, e_);      \
			fprintf(stderr, "     ");                        \
			fprintf(stderr, __VA_ARGS__);                   \
			fprintf(stderr, "\n");                           \
		}                                                       \
	} while (0)

/*
 * MUST(expr): expr (a syscall or libc call returning -1 or MAP_FAILED on
 * error) must succeed; evaluates to its result as a long.
 */
#define MUST(expr)                                                      \
	({                                                              \
		errno = 0;                                              \
		long r_ = (long)(expr);                                 \
		if (r_ == -1)                                           \
			check_fail(__FILE__, __LINE__, #expr " failed", errno); \
		r_;                                                     \
	})

/* EXPECT_ERR(expr, E): expr must fail with -1 (or MAP_FAILED) and errno E. */
#define EXPECT_ERR(expr, want)                                          \
	do {                                                            \
		errno = 0;                                              \
		long r_ = (long)(expr);                                 \
		int e_ = errno;                                         \
		if (r_ != -1 || e_ != (want)) {                         \
			fprintf(stderr, "FAIL %s:%d: %s: want -1/%s, got %ld/%s\n", \
				__FILE__, __LINE__, #expr, errname(want), r_, errname(e_)); \
			check_failures++;                               \
		}                                                       \
	} while (0)

/* check_done ends main: reports the outcome and gives the exit status. */
static inline int check_done(const char *name)
{
	fflush(stdout);
	if (check_failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
		return 1;
	}
	printf("%s: ok\n", name);
	fflush(stdout);
	return 0;
}

/* yesno renders a boolean fact for the deterministic output. */
static inline const char *yesno(int b) { return b ? "yes" : "no"; }

#endif
