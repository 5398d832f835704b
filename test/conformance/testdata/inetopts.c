/*
 * inetopts: socket options of AF_INET and AF_INET6 sockets that servers
 * and language runtimes set (nginx, redis, python, Go's net package):
 * defaults, set and get back, and the errors for bad levels and values.
 */
#include "check.h"
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/time.h>

static int getint(int s, int level, int name)
{
	int v = -12345;
	socklen_t l = sizeof v;
	if (getsockopt(s, level, name, &v, &l) < 0)
		return -1000 - errno;
	CHECK(l == sizeof v);
	return v;
}

static int setint(int s, int level, int name, int v)
{
	return setsockopt(s, level, name, &v, sizeof v);
}

#define SHOW(s, level, name) printf("%-22s %d\n", #name, getint(s, level, name))

int main(void)
{
	int t = MUST(socket(AF_INET, SOCK_STREAM, 0));
	int u = MUST(socket(AF_INET, SOCK_DGRAM, 0));
	int t6 = MUST(socket(AF_INET6, SOCK_STREAM, 0));

	printf("tcp defaults\n");
	SHOW(t, SOL_SOCKET, SO_TYPE);
	SHOW(t, SOL_SOCKET, SO_DOMAIN);
	SHOW(t, SOL_SOCKET, SO_PROTOCOL);
	SHOW(t, SOL_SOCKET, SO_ERROR);
	SHOW(t, SOL_SOCKET, SO_ACCEPTCONN);
	SHOW(t, SOL_SOCKET, SO_REUSEADDR);
	SHOW(t, SOL_SOCKET, SO_REUSEPORT);
	SHOW(t, SOL_SOCKET, SO_KEEPALIVE);
	SHOW(t, SOL_SOCKET, SO_BROADCAST);
	SHOW(t, SOL_SOCKET, SO_OOBINLINE);
	SHOW(t, SOL_SOCKET, SO_RCVLOWAT);
	SHOW(t, IPPROTO_TCP, TCP_NODELAY);
	SHOW(t, IPPROTO_TCP, TCP_CORK);
	SHOW(t, IPPROTO_TCP, TCP_KEEPIDLE);
	SHOW(t, IPPROTO_TCP, TCP_KEEPINTVL);
	SHOW(t, IPPROTO_TCP, TCP_KEEPCNT);
	SHOW(t, IPPROTO_TCP, TCP_USER_TIMEOUT);
	SHOW(t, IPPROTO_IP, IP_TOS);
	SHOW(t, IPPROTO_IP, IP_TTL);
	SHOW(t6, IPPROTO_IPV6, IPV6_V6ONLY);
	SHOW(t6, SOL_SOCKET, SO_DOMAIN);
	/* (TCP_CONGESTION's default is the host's sysctl: not printed.) */
	char cc[16] = {0};
	socklen_t cl = sizeof cc;
	MUST(getsockopt(t, IPPROTO_TCP, TCP_CONGESTION, cc, &cl));
	CHECK(cc[0] != 0);

	printf("udp defaults\n");
	SHOW(u, SOL_SOCKET, SO_TYPE);
	SHOW(u, SOL_SOCKET, SO_PROTOCOL);
	SHOW(u, SOL_SOCKET, SO_BROADCAST);

	printf("set\n");
	MUST(setint(t, SOL_SOCKET, SO_REUSEADDR, 1));
	MUST(setint(t, SOL_SOCKET, SO_REUSEPORT, 1));
	MUST(setint(t, SOL_SOCKET, SO_KEEPALIVE, 1));
	MUST(setint(t, SOL_SOCKET, SO_OOBINLINE, 5));
	MUST(setint(t, IPPROTO_TCP, TCP_NODELAY, 1));
	MUST(setint(t, IPPROTO_TCP, TCP_KEEPIDLE, 60));
	MUST(setint(t, IPPROTO_TCP, TCP_KEEPINTVL, 10));
	MUST(setint(t, IPPROTO_TCP, TCP_KEEPCNT, 5));
	MUST(setint(t, IPPROTO_TCP, TCP_USER_TIMEOUT, 30000));
	MUST(setint(t, IPPROTO_IP, IP_TOS, 0x10));
	MUST(setint(t, IPPROTO_IP, IP_TTL, 33));
	MUST(setint(u, SOL_SOCKET, SO_BROADCAST, 1));
	MUST(setint(t6, IPPROTO_IPV6, IPV6_V6ONLY, 1));
	SHOW(t, SOL_SOCKET, SO_REUSEADDR);
	SHOW(t, SOL_SOCKET, SO_REUSEPORT);
	SHOW(t, SOL_SOCKET, SO_KEEPALIVE);
	SHOW(t, SOL_SOCKET, SO_OOBINLINE);
	SHOW(t, IPPROTO_TCP, TCP_NODELAY);
	SHOW(t, IPPROTO_TCP, TCP_KEEPIDLE);
	SHOW(t, IPPROTO_TCP, TCP_KEEPINTVL);
	SHOW(t, IPPROTO_TCP, TCP_KEEPCNT);
	SHOW(t, IPPROTO_TCP, TCP_USER_TIMEOUT);
	SHOW(t, IPPROTO_IP, IP_TOS);
	SHOW(t, IPPROTO_IP, IP_TTL);
	SHOW(u, SOL_SOCKET, SO_BROADCAST);
	SHOW(t6, IPPROTO_IPV6, IPV6_V6ONLY);

	struct linger lg = {1, 5};
	MUST(setsockopt(t, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
	memset(&lg, 0, sizeof lg);
	socklen_t ll = sizeof lg;
	MUST(getsockopt(t, SOL_SOCKET, SO_LINGER, &lg, &ll));
	printf("SO_LINGER              %d %d len %d\n", lg.l_onoff, lg.l_linger, (int)ll);
	struct timeval tv = {2, 500000};
	MUST(setsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
	memset(&tv, 0, sizeof tv);
	socklen_t tl = sizeof tv;
	MUST(getsockopt(t, SOL_SOCKET, SO_RCVTIMEO, &tv, &tl));
	printf("SO_RCVTIMEO            %ld.%06ld\n", (long)tv.tv_sec, (long)tv.tv_usec);

	/* Buffer sizes: Linux doubles what is asked for. */
	MUST(setint(t, SOL_SOCKET, SO_SNDBUF, 65536));
	MUST(setint(t, SOL_SOCKET, SO_RCVBUF, 65536));
	printf("SO_SNDBUF doubled      %s\n", yesno(getint(t, SOL_SOCKET, SO_SNDBUF) == 131072));
	printf("SO_RCVBUF doubled      %s\n", yesno(getint(t, SOL_SOCKET, SO_RCVBUF) == 131072));

	printf("errors\n");
	EXPECT_ERR(setint(t, IPPROTO_TCP, TCP_KEEPIDLE, 0), EINVAL);
	EXPECT_ERR(setint(t, IPPROTO_TCP, TCP_KEEPCNT, 1000), EINVAL);
	EXPECT_ERR(setint(t, SOL_SOCKET, 9999, 1), ENOPROTOOPT);
	EXPECT_ERR(setint(t, IPPROTO_IP, IP_TTL, 300), EINVAL);
	EXPECT_ERR(setint(t, IPPROTO_IPV6, IPV6_V6ONLY, 1), ENOPROTOOPT);
	int v;
	socklen_t vl = sizeof v;
	EXPECT_ERR(getsockopt(t, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl), EOPNOTSUPP);
	EXPECT_ERR(setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &v, 2), EINVAL);
	EXPECT_ERR(getsockopt(u, IPPROTO_TCP, TCP_NODELAY, &v, &vl), EOPNOTSUPP);
	EXPECT_ERR(setint(u, IPPROTO_TCP, TCP_NODELAY, 1), ENOPROTOOPT);
	/* On AF_INET6 sockets ipv6_getsockopt answers first: ENOPROTOOPT. */
	EXPECT_ERR(getsockopt(t6, 12345, 1, &v, &vl), ENOPROTOOPT);
	EXPECT_ERR(getsockopt(t, 12345, 1, &v, &vl), EOPNOTSUPP);
	int u6 = MUST(socket(AF_INET6, SOCK_DGRAM, 0));
	EXPECT_ERR(getsockopt(u6, IPPROTO_TCP, TCP_NODELAY, &v, &vl), ENOPROTOOPT);
	EXPECT_ERR(getsockopt(t6, IPPROTO_UDP, UDP_CORK, &v, &vl), ENOPROTOOPT);
	close(u6);

	close(t);
	close(u);
	close(t6);
	return check_done("inetopts");
}
