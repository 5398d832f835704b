/*
 * ping: an ICMP echo on a ping socket (SOCK_DGRAM, IPPROTO_ICMP), as
 * unprivileged ping sends it, to 127.0.0.1 comes back as an echo reply
 * with the same sequence number and payload; the socket's identifier is
 * its bound port. The same over IPv6 to ::1 with IPPROTO_ICMPV6. Where
 * net.ipv4.ping_group_range leaves the caller out (the host's default)
 * socket() is EACCES and that part is skipped silently, so the output is
 * the same either way. A ping socket of the other family's protocol is
 * EPROTONOSUPPORT. A raw ICMP socket (root has CAP_NET_RAW) sends an
 * echo with its own header and checksum and reads the reply with its IP
 * header.
 */
#include "check.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <sys/socket.h>

static int echo(int family)
{
	int proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	int s = socket(family, SOCK_DGRAM, proto);
	if (s < 0) {
		/* A host whose ping_group_range leaves us out. */
		CHECK(errno == EACCES);
		return -1;
	}
	struct sockaddr_storage to;
	socklen_t tolen;
	memset(&to, 0, sizeof(to));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&to;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		tolen = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		tolen = sizeof(*a);
	}
	unsigned char pkt[8 + 16];
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
	pkt[6] = 0x12, pkt[7] = 0x34; /* sequence */
	memcpy(pkt + 8, "exo ping payload", 16);
	ssize_t n = sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, tolen);
	CHECK(n == (ssize_t)sizeof(pkt));
	struct pollfd p = {s, POLLIN, 0};
	CHECK(poll(&p, 1, 5000) == 1);
	unsigned char buf[256];
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	n = recvfrom(s, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
	CHECK(n == (ssize_t)sizeof(pkt));
	int reply = family == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY;
	CHECK(buf[0] == reply && buf[6] == 0x12 && buf[7] == 0x34);
	CHECK(memcmp(buf + 8, pkt + 8, 16) == 0);
	CHECK(from.ss_family == family);
	/* The identifier is the socket's port. */
	struct sockaddr_storage me;
	socklen_t ml = sizeof(me);
	MUST(getsockname(s, (struct sockaddr *)&me, &ml));
	unsigned short port = family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port : ((struct sockaddr_in6 *)&me)->sin6_port;
	CHECK(memcmp(buf + 4, &port, 2) == 0);
	close(s);
	return 0;
}

static unsigned short csum(const unsigned char *p, size_t n)
{
	unsigned long sum = 0;
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

static void raw_echo(void)
{
	int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	MUST(s);
	struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	unsigned char pkt[8 + 16];
	memset(pkt, 0, sizeof(pkt));
	pkt[0] = ICMP_ECHO;
	pkt[4] = 0x5e, pkt[5] = 0x70; /* identifier */
	pkt[6] = 0x00, pkt[7] = 0x07;
	memcpy(pkt + 8, "exo raw payload!", 16);
	unsigned short c = csum(pkt, sizeof(pkt));
	pkt[2] = c >> 8, pkt[3] = c & 0xff;
	CHECK(sendto(s, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) == (ssize_t)sizeof(pkt));
	/* The socket sees every ICMP packet: the request looping back, the
	 * reply, and others' on a shared host; look for our reply. */
	int found = 0, ihl = 0;
	for (int i = 0; i < 50 && !found; i++) {
		struct pollfd p = {s, POLLIN, 0};
		if (poll(&p, 1, 5000) != 1)
			break;
		unsigned char buf[256];
		ssize_t n = recv(s, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 20)
			continue;
		ihl = (buf[0] & 0xf) * 4;
		if (n >= ihl + 8 && buf[ihl] == ICMP_ECHOREPLY && buf[ihl + 4] == 0x5e && buf[ihl + 5] == 0x70 &&
		    buf[ihl + 7] == 0x07)
			found = n == ihl + (ssize_t)sizeof(pkt) && memcmp(buf + ihl + 8, pkt + 8, 16) == 0 ? 1 : 2;
	}
	printf("raw icmp: reply %s, with an IPv4 header of %d bytes, payload same %s\n", yesno(found), ihl,
	       yesno(found == 1));
	CHECK(found == 1);
	close(s);
}

int main(void)
{
	if (echo(AF_INET) == 0)
		echo(AF_INET6);
	EXPECT_ERR(socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6), EPROTONOSUPPORT);
	EXPECT_ERR(socket(AF_INET6, SOCK_DGRAM, IPPROTO_ICMP), EPROTONOSUPPORT);
	raw_echo();
	printf("ping sockets and a raw ICMP socket checked\n");
	return check_done("ping");
}
