/*
 * stdio: the descriptors the harness gives every program (stdin /dev/null,
 * stdout and stderr pipes): their types, EOF, and ioctl on non-terminals.
 */
#include "check.h"
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>

int main(void)
{
	struct stat st;
	CHECK(fstat(0, &st) == 0);
	printf("stdin:  %s\n", S_ISCHR(st.st_mode) ? "char device" : S_ISFIFO(st.st_mode) ? "pipe" : "other");
	CHECK(fstat(1, &st) == 0);
	int pipe_out = S_ISFIFO(st.st_mode);
	printf("stdout: %s\n", pipe_out ? "pipe" : S_ISCHR(st.st_mode) ? "char device" : "other");
	CHECK(fstat(2, &st) == 0);
	printf("stderr: %s\n", S_ISFIFO(st.st_mode) ? "pipe" : S_ISCHR(st.st_mode) ? "char device" : "other");

	/* stdin is /dev/null: reads give EOF. */
	char c;
	CHECK(read(0, &c, 1) == 0);
	CHECK(read(0, &c, 1) == 0);

	struct termios t;
	struct winsize ws;
	if (pipe_out) {
		EXPECT_ERR(ioctl(1, TCGETS, &t), ENOTTY);
		EXPECT_ERR(ioctl(1, TIOCGWINSZ, &ws), ENOTTY);
		CHECK(!isatty(1) && errno == ENOTTY);
		puts("TCGETS/TIOCGWINSZ on the stdout pipe: ENOTTY");
	}
	EXPECT_ERR(ioctl(0, TCGETS, &t), ENOTTY);
	CHECK(!isatty(0));
	int fd = MUST(open("/etc/passwd", O_RDONLY));
	EXPECT_ERR(ioctl(fd, TCGETS, &t), ENOTTY);
	EXPECT_ERR(ioctl(fd, TIOCGWINSZ, &ws), ENOTTY);
	close(fd);
	EXPECT_ERR(ioctl(fd, TCGETS, &t), EBADF);
	puts("ioctl on non-terminals: ENOTTY/EBADF");
	return check_done("stdio");
}
