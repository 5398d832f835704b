/* exit3: exit(3) flushes stdio, runs atexit handlers, and the status is 3. */
/* expect-exit: 3 */
#include "check.h"

static void bye(void) { printf("atexit handler ran\n"); }

int main(void)
{
	CHECK(atexit(bye) == 0);
	printf("exiting with status 3 (buffered, no newline yet)");
	printf("\n");
	if (check_failures)
		return check_done("exit3");
	exit(3);
}
