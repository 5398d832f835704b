/* random: getrandom fills buffers with bytes that differ between calls. */
#include "check.h"
#include <sys/random.h>

int main(void)
{
	unsigned char a[64], b[64], zero[64] = {0};
	CHECK(getrandom(a, sizeof a, 0) == sizeof a);
	CHECK(getrandom(b, sizeof b, 0) == sizeof b);
	CHECK(memcmp(a, b, sizeof a) != 0);
	CHECK(memcmp(a, zero, sizeof a) != 0);
	CHECK(getrandom(a, sizeof a, GRND_NONBLOCK) == sizeof a);
	CHECK(syscall(SYS_getrandom, b, 16, 0) == 16);
	CHECK(getrandom(a, 0, 0) == 0);
	static unsigned char big[1 << 16];
	long n = getrandom(big, sizeof big, 0);
	CHECK(n > 0 && n <= (long)sizeof big);
	/* Every byte value shows up in 64 KiB of random data. */
	int seen[256] = {0}, distinct = 0;
	for (long i = 0; i < n; i++)
		seen[big[i]] = 1;
	for (int i = 0; i < 256; i++)
		distinct += seen[i];
	CHECK(n < (long)sizeof big || distinct == 256);
	CHECK(getentropy(a, 32) == 0);
	EXPECT_ERR(syscall(SYS_getrandom, a, 16, 0x1000), EINVAL);
	EXPECT_ERR(syscall(SYS_getrandom, (void *)1, 16, 0), EFAULT);
	puts("getrandom: ok");
	return check_done("random");
}
