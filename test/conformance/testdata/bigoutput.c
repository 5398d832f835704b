/*
 * bigoutput: more output than a pipe buffer holds (the harness reads stdout
 * through a pipe), through write(2) and stdio, so writes must block and resume.
 */
#include "check.h"

int main(void)
{
	static char chunk[8192];
	unsigned sum = 0;
	for (size_t i = 0; i < sizeof chunk; i++)
		chunk[i] = (i % 64 == 63) ? '\n' : 'a' + (i % 26);
	for (int i = 0; i < 32; i++) { /* 256 KiB */
		size_t off = 0;
		while (off < sizeof chunk) {
			ssize_t n = write(1, chunk + off, sizeof chunk - off);
			if (n <= 0) {
				CHECK(n > 0);
				return check_done("bigoutput");
			}
			off += n;
		}
		sum += sizeof chunk;
	}
	for (int i = 0; i < 5000; i++)
		printf("line %05d %s\n", i, (i % 7) ? "regular" : "seventh");
	printf("wrote %u bytes with write(2)\n", sum);
	return check_done("bigoutput");
}
