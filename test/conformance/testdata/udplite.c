/*
 * udplite: UDP-Lite (IPPROTO_UDPLITE) sockets over loopback, IPv4 and
 * IPv6: datagrams between UDP-Lite sockets, a port space apart from UDP's
 * (a UDP socket binds the same port and never sees UDP-Lite's datagrams),
 * SO_PROTOCOL, /proc/net/udplite, and the checksum coverage options
 * UDPLITE_SEND_CSCOV/UDPLITE_RECV_CSCOV (at least 8, at most 65535;
 * ENOPROTOOPT on a UDP socket, whose coverage reads 0).
 */
#include "check.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sys/socket.h>

#ifndef IPPROTO_UDPLITE
#define IPPROTO_UDPLITE 136
#endif
#define SOL_UDPLITE 136
#define UDPLITE_SEND_CSCOV 10
#define UDPLITE_RECV_CSCOV 11

static int getint(int s, int level, int name)
{
	int v = -1;
	socklen_t l = sizeof v;
	if (getsockopt(s, level, name, &v, &l) < 0)
		return -errno;
	return v;
}

static int setint(int s, int level, int name, int v)
{
	return setsockopt(s, level, name, &v, sizeof v) < 0 ? -errno : 0;
}

/* inproc reports whether /proc/net/FILE lists a socket on port (hex). */
static int inproc(const char *file, unsigned port)
{
	char path[64], line[512], want[16];
	snprintf(path, sizeof path, "/proc/net/%s", file);
	snprintf(want, sizeof want, ":%04X ", port);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, want))
			found = 1;
	fclose(f);
	return found;
}

static void run(int family)
{
	const char *v = family == AF_INET ? "4" : "6";
	struct sockaddr_storage ss = {0};
	socklen_t al = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
	}
	int srv = MUST(socket(family, SOCK_DGRAM, IPPROTO_UDPLITE));
	int cli = MUST(socket(family, SOCK_DGRAM, IPPROTO_UDPLITE));
	CHECK(getint(srv, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_UDPLITE);
	CHECK(getint(srv, SOL_SOCKET, SO_TYPE) == SOCK_DGRAM);
	MUST(bind(srv, (struct sockaddr *)&ss, al));
	socklen_t l = sizeof ss;
	MUST(getsockname(srv, (struct sockaddr *)&ss, &l));
	CHECK(l == al);
	unsigned port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	CHECK(port != 0);

	/* UDP's port space is apart: a UDP socket binds the same port. */
	int udp = MUST(socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0));
	CHECK(bind(udp, (struct sockaddr *)&ss, al) == 0);
	/* A second UDP-Lite socket cannot. */
	int dup = MUST(socket(family, SOCK_DGRAM, IPPROTO_UDPLITE));
	EXPECT_ERR(bind(dup, (struct sockaddr *)&ss, al), EADDRINUSE);
	close(dup);

	CHECK(inproc(family == AF_INET ? "udplite" : "udplite6", port) == 1);

	CHECK(sendto(cli, "lite", 4, 0, (struct sockaddr *)&ss, al) == 4);
	struct pollfd p = {.fd = srv, .events = POLLIN};
	CHECK(poll(&p, 1, 10000) == 1 && p.revents == POLLIN);
	char buf[16];
	struct sockaddr_storage from;
	socklen_t fl = sizeof from;
	CHECK(recvfrom(srv, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4 && memcmp(buf, "lite", 4) == 0);
	CHECK(fl == al && from.ss_family == family);
	/* The UDP socket on the same port got nothing. */
	EXPECT_ERR(recv(udp, buf, sizeof buf, 0), EAGAIN);

	/* And a UDP datagram does not reach the UDP-Lite socket. */
	int ucli = MUST(socket(family, SOCK_DGRAM, 0));
	CHECK(sendto(ucli, "udp", 3, 0, (struct sockaddr *)&ss, al) == 3);
	p.fd = udp;
	CHECK(poll(&p, 1, 10000) == 1);
	CHECK(recv(udp, buf, sizeof buf, 0) == 3);
	EXPECT_ERR(recv(srv, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);

	/* Checksum coverage: 0 (everything) by default, then at least 8. */
	CHECK(getint(cli, SOL_UDPLITE, UDPLITE_SEND_CSCOV) == 0);
	CHECK(getint(cli, SOL_UDPLITE, UDPLITE_RECV_CSCOV) == 0);
	CHECK(setint(cli, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 5) == 0);
	CHECK(getint(cli, SOL_UDPLITE, UDPLITE_SEND_CSCOV) == 8);
	CHECK(setint(cli, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 70000) == 0);
	CHECK(getint(cli, SOL_UDPLITE, UDPLITE_SEND_CSCOV) == 65535);
	CHECK(setint(cli, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 0) == 0);
	CHECK(getint(cli, SOL_UDPLITE, UDPLITE_SEND_CSCOV) == 0);
	CHECK(setint(cli, SOL_UDPLITE, UDPLITE_RECV_CSCOV, 20) == 0);
	CHECK(getint(cli, SOL_UDPLITE, UDPLITE_RECV_CSCOV) == 20);
	/* UDP's own options at either level. */
	CHECK(getint(cli, SOL_UDPLITE, UDP_CORK) == 0);
	CHECK(getint(cli, IPPROTO_UDP, UDP_CORK) == 0);
	/* A UDP socket takes no coverage and reports the whole datagram. */
	CHECK(setint(udp, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 20) == -ENOPROTOOPT);
	CHECK(setint(udp, IPPROTO_UDP, UDPLITE_RECV_CSCOV, 20) == -ENOPROTOOPT);
	CHECK(getint(udp, SOL_UDPLITE, UDPLITE_SEND_CSCOV) == 0);
	CHECK(getint(udp, SOL_UDPLITE, UDP_CORK) == 0);

	close(srv);
	close(cli);
	close(udp);
	close(ucli);
	printf("IPv%s: ok\n", v);
}

int main(void)
{
	/* Only datagrams. */
	EXPECT_ERR(socket(AF_INET, SOCK_STREAM, IPPROTO_UDPLITE), EPROTONOSUPPORT);
	int tcp = MUST(socket(AF_INET, SOCK_STREAM, 0));
	CHECK(setint(tcp, SOL_UDPLITE, UDPLITE_SEND_CSCOV, 8) == -ENOPROTOOPT);
	close(tcp);
	run(AF_INET);
	run(AF_INET6);
	printf("udplite: %s\n", check_failures ? "FAIL" : "ok");
	return check_failures != 0;
}
