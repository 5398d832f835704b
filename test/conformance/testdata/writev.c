/* writev: gathers buffers in order, counts bytes, rejects bad vectors. */
#include "check.h"
#include <limits.h>
#include <sys/uio.h>

int main(void)
{
	char a[] = "writev: first ", b[] = "second ", c[] = "third\n";
	struct iovec iov[4] = {
		{a, strlen(a)}, {NULL, 0}, {b, strlen(b)}, {c, strlen(c)},
	};
	CHECK(writev(1, iov, 4) == (ssize_t)(strlen(a) + strlen(b) + strlen(c)));
	CHECK(writev(1, iov, 0) == 0);
	CHECK(syscall(SYS_writev, 1, iov + 3, 1) == (long)strlen(c));
	/* Many small pieces in one call. */
	static struct iovec many[1024];
	static char digits[1024];
	for (int i = 0; i < 1023; i++) {
		digits[i] = '0' + i % 10;
		many[i].iov_base = &digits[i];
		many[i].iov_len = 1;
	}
	digits[1023] = '\n';
	many[1023].iov_base = &digits[1023];
	many[1023].iov_len = 1;
	CHECK(writev(1, many, 1024) == 1024);
	EXPECT_ERR(syscall(SYS_writev, 1, iov, -1), EINVAL);
	EXPECT_ERR(syscall(SYS_writev, 1, many, IOV_MAX + 1), EINVAL);
	struct iovec negative[1] = {{a, (size_t)-1}}; /* length < 0 as ssize_t */
	EXPECT_ERR(syscall(SYS_writev, 1, negative, 1), EINVAL);
	EXPECT_ERR(syscall(SYS_writev, 99999, iov, 1), EBADF);
	return check_done("writev");
}
