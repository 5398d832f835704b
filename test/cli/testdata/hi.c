/* hi: writes "hi\n" with one write(2) and exits 0 (for the --strace test). */
#include <unistd.h>

int main(void)
{
	return write(1, "hi\n", 3) == 3 ? 0 : 1;
}
