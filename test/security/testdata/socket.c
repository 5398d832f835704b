/*
 * socket: the library OS's network is its own. argv[1] is the port of a
 * listener on the host's 127.0.0.1: a connect to it from the sandbox's
 * loopback must not reach it (the test also checks the listener saw
 * nothing). Sockets the library OS has no business making on the host
 * (AF_PACKET) are not there.
 */
#include "../../conformance/testdata/check.h"
#include <arpa/inet.h>
#ifndef NETLINK_ROUTE
#define NETLINK_ROUTE 0 /* <linux/netlink.h> is not in every libc's headers */
#endif
#include <netinet/in.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	int port = atoi(argv[1]);
	int bad = 0;
	struct {
		const char *what;
		int domain, type, proto;
	} tries[] = {
		{"AF_INET SOCK_STREAM", AF_INET, SOCK_STREAM, 0},
		{"AF_INET SOCK_DGRAM", AF_INET, SOCK_DGRAM, 0},
		{"AF_INET6 SOCK_STREAM", AF_INET6, SOCK_STREAM, 0},
		{"AF_NETLINK NETLINK_ROUTE", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE},
		{"AF_PACKET SOCK_RAW", AF_PACKET, SOCK_RAW, 0},
	};
	for (size_t i = 0; i < sizeof tries / sizeof *tries; i++) {
		errno = 0;
		int fd = syscall(SYS_socket, tries[i].domain, tries[i].type, tries[i].proto);
		int e = errno;
		printf("socket(%s): %s\n", tries[i].what, fd >= 0 ? "SUCCEEDED" : errname(e));
		if (fd < 0)
			continue;
		if (tries[i].domain == AF_PACKET) {
			fprintf(stderr, "socket(%s) succeeded\n", tries[i].what);
			bad++;
		}
		if (tries[i].domain == AF_INET && tries[i].type == SOCK_STREAM) {
			struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
			sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			errno = 0;
			int r = connect(fd, (struct sockaddr *)&sin, sizeof sin);
			printf("connect to the host listener: %s\n", r == 0 ? "CONNECTED" : errname(errno));
			bad += r == 0;
		}
		close(fd);
	}
	return bad ? 1 : 0;
}
