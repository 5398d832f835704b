/* hello: output through write(2) and through stdio (printf, puts, fputs). */
#include "check.h"

int main(void)
{
	static const char msg[] = "hello, world (write)\n";
	CHECK(write(1, msg, sizeof msg - 1) == (ssize_t)(sizeof msg - 1));
	CHECK(write(1, msg, 0) == 0);
	printf("hello, world (printf %d %s %c %x %.3f)\n", 42, "str", 'c', 0xbeef, 3.25);
	puts("hello, world (puts)");
	fputs("hello, world (fputs)\n", stdout);
	CHECK(fflush(stdout) == 0);
	return check_done("hello");
}
