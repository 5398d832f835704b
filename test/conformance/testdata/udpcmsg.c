/*
 * udpcmsg: ancillary data on UDP over loopback, as Linux gives it: with
 * SO_TIMESTAMP, IP_PKTINFO, IP_RECVTTL and IP_RECVTOS recvmsg returns
 * SCM_TIMESTAMP, IP_PKTINFO (lo, 127.0.0.1), IP_TTL and a one-byte IP_TOS
 * in that order; SO_TIMESTAMPNS gives SCM_TIMESTAMPNS; a control buffer
 * too small sets MSG_CTRUNC; sendmsg takes IP_TTL and IP_PKTINFO (a
 * source that is not local is EINVAL); IPV6_RECVPKTINFO gives
 * IPV6_PKTINFO on ::1; IP_RECVERR is accepted.
 */
#include "check.h"
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

static int one = 1;

static const char *name(struct cmsghdr *c)
{
	if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMP) return "SCM_TIMESTAMP";
	if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) return "SCM_TIMESTAMPNS";
	if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) return "IP_PKTINFO";
	if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) return "IP_TTL";
	if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) return "IP_TOS";
	if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) return "IPV6_PKTINFO";
	return "other";
}

/* recv1 receives one datagram and prints its control messages. */
static void recv1(int s, size_t ctlsize)
{
	char data[64], ctl[256];
	struct iovec iov = {data, sizeof(data)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = ctlsize};
	ssize_t n = recvmsg(s, &m, 0);
	CHECK(n == 5);
	printf("  %zd bytes, MSG_CTRUNC %s:", n, yesno(m.msg_flags & MSG_CTRUNC));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		printf(" %s(len %zu", name(c), (size_t)c->cmsg_len);
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			char a[16], b[16];
			inet_ntop(AF_INET, &pi.ipi_spec_dst, a, sizeof(a));
			inet_ntop(AF_INET, &pi.ipi_addr, b, sizeof(b));
			printf(" lo %s spec_dst %s addr %s", yesno(pi.ipi_ifindex == (int)if_nametoindex("lo")), a, b);
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
			int ttl;
			memcpy(&ttl, CMSG_DATA(c), sizeof(ttl));
			printf(" %d", ttl);
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
			printf(" %d", *(unsigned char *)CMSG_DATA(c));
		} else if (c->cmsg_level == SOL_SOCKET) {
			struct timespec now, ts;
			clock_gettime(CLOCK_REALTIME, &now);
			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			printf(" recent %s", yesno(ts.tv_sec <= now.tv_sec && ts.tv_sec >= now.tv_sec - 10));
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			char a[64];
			inet_ntop(AF_INET6, &pi.ipi6_addr, a, sizeof(a));
			printf(" lo %s addr %s", yesno(pi.ipi6_ifindex == if_nametoindex("lo")), a);
		}
		printf(")");
	}
	printf("\n");
}

/* recvcut receives one datagram into a control buffer of ctlsize bytes
 * and prints msg_controllen and each record's type and cmsg_len: put_cmsg
 * cuts the record that does not fit at the end of the buffer when its
 * header fits, and drops the rest. */
static void recvcut(int s, size_t ctlsize)
{
	char data[64], ctl[256];
	memset(ctl, 0, sizeof(ctl));
	struct iovec iov = {data, sizeof(data)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = ctlsize};
	CHECK(recvmsg(s, &m, 0) == 5);
	printf("  buffer %zu: controllen %zu, MSG_CTRUNC %s:", ctlsize, (size_t)m.msg_controllen, yesno(m.msg_flags & MSG_CTRUNC));
	for (size_t off = 0; off + sizeof(struct cmsghdr) <= m.msg_controllen;) {
		struct cmsghdr *c = (struct cmsghdr *)(ctl + off);
		printf(" %s(len %zu)", name(c), (size_t)c->cmsg_len);
		off += CMSG_ALIGN(c->cmsg_len);
	}
	printf("\n");
}

/* sendctl sends "hello" to a with one control message. */
static ssize_t sendctl(int s, struct sockaddr_in *a, int level, int type, const void *v, size_t len)
{
	char ctl[CMSG_SPACE(sizeof(struct in_pktinfo))];
	memset(ctl, 0, sizeof(ctl));
	struct iovec iov = {"hello", 5};
	struct msghdr m = {.msg_name = a, .msg_namelen = sizeof(*a), .msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = ctl, .msg_controllen = CMSG_SPACE(len)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), v, len);
	return sendmsg(s, &m, 0);
}

int main(void)
{
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	MUST(bind(r, (struct sockaddr *)&a, sizeof(a)));
	MUST(getsockname(r, (struct sockaddr *)&a, &al));
	MUST(setsockopt(r, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one)));
	MUST(setsockopt(r, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)));
	MUST(setsockopt(r, IPPROTO_IP, IP_RECVTTL, &one, sizeof(one)));
	MUST(setsockopt(r, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one)));
	MUST(setsockopt(r, IPPROTO_IP, IP_RECVERR, &one, sizeof(one)));

	printf("sendto, all four asked for:\n");
	MUST(sendto(s, "hello", 5, 0, (struct sockaddr *)&a, sizeof(a)));
	recv1(r, 256);
	printf("a control buffer with room for one:\n");
	MUST(sendto(s, "hello", 5, 0, (struct sockaddr *)&a, sizeof(a)));
	recv1(r, CMSG_SPACE(sizeof(struct timeval)));
	printf("control buffers that end inside a record:\n");
	size_t cuts[] = {CMSG_SPACE(sizeof(struct timeval)) + 20, CMSG_SPACE(sizeof(struct timeval)) + 8, 20, 10};
	for (int i = 0; i < 4; i++) {
		MUST(sendto(s, "hello", 5, 0, (struct sockaddr *)&a, sizeof(a)));
		recvcut(r, cuts[i]);
	}

	printf("sendmsg with IP_TTL 7:\n");
	int ttl = 7;
	CHECK(sendctl(s, &a, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) == 5);
	recv1(r, 256);
	printf("sendmsg with IP_PKTINFO from 127.0.0.1:\n");
	struct in_pktinfo pi = {.ipi_ifindex = 0};
	pi.ipi_spec_dst.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(sendctl(s, &a, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi)) == 5);
	recv1(r, 256);
	inet_pton(AF_INET, "192.0.2.1", &pi.ipi_spec_dst);
	errno = 0;
	CHECK(sendctl(s, &a, IPPROTO_IP, IP_PKTINFO, &pi, sizeof(pi)) < 0);
	printf("IP_PKTINFO from a foreign address: %s\n", errname(errno));

	printf("SO_TIMESTAMPNS alone:\n");
	int zero = 0;
	MUST(setsockopt(r, IPPROTO_IP, IP_PKTINFO, &zero, sizeof(zero)));
	MUST(setsockopt(r, IPPROTO_IP, IP_RECVTTL, &zero, sizeof(zero)));
	MUST(setsockopt(r, IPPROTO_IP, IP_RECVTOS, &zero, sizeof(zero)));
	MUST(setsockopt(r, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)));
	int v = -1;
	socklen_t vl = sizeof(v);
	MUST(getsockopt(r, SOL_SOCKET, SO_TIMESTAMP, &v, &vl));
	printf("  SO_TIMESTAMP reads %d\n", v);
	MUST(sendto(s, "hello", 5, 0, (struct sockaddr *)&a, sizeof(a)));
	recv1(r, 256);

	int r6 = socket(AF_INET6, SOCK_DGRAM, 0), s6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	al = sizeof(a6);
	MUST(bind(r6, (struct sockaddr *)&a6, sizeof(a6)));
	MUST(getsockname(r6, (struct sockaddr *)&a6, &al));
	MUST(setsockopt(r6, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)));
	printf("IPv6 with IPV6_RECVPKTINFO:\n");
	MUST(sendto(s6, "hello", 5, 0, (struct sockaddr *)&a6, sizeof(a6)));
	recv1(r6, 256);
	return check_done("udpcmsg");
}
