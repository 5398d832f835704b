/*
 * netif: what a process learns about the loopback interface (the one
 * interface both the host and the sandbox are sure to have): getifaddrs
 * (rtnetlink underneath), if_nametoindex, the SIOCGIF* ioctls and
 * SIOCGIFCONF, and a raw NETLINK_ROUTE RTM_GETLINK dump with its sequence
 * numbers, port id and NLMSG_DONE, and an NLMSG_ERROR.
 */
#include "check.h"
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

/*
 * The netlink ABI, spelled out here: musl's headers have no <linux/...>.
 */
struct nlmsghdr {
	unsigned int nlmsg_len;
	unsigned short nlmsg_type, nlmsg_flags;
	unsigned int nlmsg_seq, nlmsg_pid;
};
struct nlmsgerr {
	int error;
	struct nlmsghdr msg;
};
struct sockaddr_nl {
	unsigned short nl_family, nl_pad;
	unsigned int nl_pid, nl_groups;
};
struct ifinfomsg {
	unsigned char ifi_family, ifi_pad;
	unsigned short ifi_type;
	int ifi_index;
	unsigned int ifi_flags, ifi_change;
};
struct rtattr {
	unsigned short rta_len, rta_type;
};
#define NETLINK_ROUTE 0
#define NLM_F_REQUEST 0x1
#define NLM_F_MULTI 0x2
#define NLM_F_DUMP 0x300
#define NLMSG_ERROR 0x2
#define NLMSG_DONE 0x3
#define RTM_NEWLINK 16
#define RTM_GETLINK 18
#define IFLA_IFNAME 3
#define ALIGN4(n) (((n) + 3) & ~3u)
#define NLMSG_HDRLEN ((int)ALIGN4(sizeof(struct nlmsghdr)))
#define NLMSG_LENGTH(n) ((n) + NLMSG_HDRLEN)
#define NLMSG_DATA(h) ((void *)((char *)(h) + NLMSG_HDRLEN))
#define NLMSG_OK(h, n) ((n) >= (int)sizeof(struct nlmsghdr) && (h)->nlmsg_len >= sizeof(struct nlmsghdr) && (h)->nlmsg_len <= (unsigned)(n))
#define NLMSG_NEXT(h, n) ((n) -= ALIGN4((h)->nlmsg_len), (struct nlmsghdr *)((char *)(h) + ALIGN4((h)->nlmsg_len)))
#define IFLA_RTA(i) ((struct rtattr *)((char *)(i) + ALIGN4(sizeof(struct ifinfomsg))))
#define IFLA_PAYLOAD(h) ((int)((h)->nlmsg_len - NLMSG_LENGTH(ALIGN4(sizeof(struct ifinfomsg)))))
#define RTA_OK(a, n) ((n) >= (int)sizeof(struct rtattr) && (a)->rta_len >= sizeof(struct rtattr) && (a)->rta_len <= (unsigned)(n))
#define RTA_NEXT(a, n) ((n) -= ALIGN4((a)->rta_len), (struct rtattr *)((char *)(a) + ALIGN4((a)->rta_len)))
#define RTA_DATA(a) ((void *)((char *)(a) + ALIGN4(sizeof(struct rtattr))))

static void addrs(void)
{
	struct ifaddrs *ifa;
	MUST(getifaddrs(&ifa));
	int v4 = 0, v6 = 0, flags = 0;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		if (strcmp(i->ifa_name, "lo") != 0 || !i->ifa_addr)
			continue;
		flags = i->ifa_flags;
		if (i->ifa_addr->sa_family == AF_INET) {
			struct sockaddr_in *a = (void *)i->ifa_addr, *m = (void *)i->ifa_netmask;
			v4 = a->sin_addr.s_addr == htonl(INADDR_LOOPBACK) && m->sin_addr.s_addr == htonl(0xff000000);
		}
		if (i->ifa_addr->sa_family == AF_INET6)
			v6 = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr);
	}
	freeifaddrs(ifa);
	printf("lo 127.0.0.1/8: %s\n", yesno(v4));
	printf("lo ::1: %s\n", yesno(v6));
	printf("lo up loopback running: %s\n", yesno((flags & (IFF_UP | IFF_LOOPBACK | IFF_RUNNING)) == (IFF_UP | IFF_LOOPBACK | IFF_RUNNING)));
	printf("if_nametoindex(lo) = %u\n", if_nametoindex("lo"));
	char name[IF_NAMESIZE];
	printf("if_indextoname(1) = %s\n", if_indextoname(1, name) ? name : "?");
	CHECK(if_nametoindex("nosuchif0") == 0);
}

static void ioctls(void)
{
	int s = MUST(socket(AF_INET, SOCK_DGRAM, 0));
	struct ifreq r;
	memset(&r, 0, sizeof r);
	strcpy(r.ifr_name, "lo");
	MUST(ioctl(s, SIOCGIFINDEX, &r));
	printf("SIOCGIFINDEX %d\n", r.ifr_ifindex);
	MUST(ioctl(s, SIOCGIFMTU, &r));
	printf("SIOCGIFMTU %d\n", r.ifr_mtu);
	MUST(ioctl(s, SIOCGIFFLAGS, &r));
	printf("SIOCGIFFLAGS up %s loopback %s\n", yesno(r.ifr_flags & IFF_UP), yesno(r.ifr_flags & IFF_LOOPBACK));
	MUST(ioctl(s, SIOCGIFADDR, &r));
	printf("SIOCGIFADDR %s\n", inet_ntoa(((struct sockaddr_in *)&r.ifr_addr)->sin_addr));
	MUST(ioctl(s, SIOCGIFNETMASK, &r));
	printf("SIOCGIFNETMASK %s\n", inet_ntoa(((struct sockaddr_in *)&r.ifr_netmask)->sin_addr));
	MUST(ioctl(s, SIOCGIFHWADDR, &r));
	printf("SIOCGIFHWADDR family %d\n", r.ifr_hwaddr.sa_family);
	r.ifr_ifindex = 1;
	MUST(ioctl(s, SIOCGIFNAME, &r));
	printf("SIOCGIFNAME %s\n", r.ifr_name);
	strcpy(r.ifr_name, "nosuchif0");
	EXPECT_ERR(ioctl(s, SIOCGIFINDEX, &r), ENODEV);

	struct ifreq rs[64];
	struct ifconf c = {.ifc_len = sizeof rs, .ifc_req = rs};
	MUST(ioctl(s, SIOCGIFCONF, &c));
	int found = 0;
	for (int i = 0; i < c.ifc_len / (int)sizeof(struct ifreq); i++)
		if (strcmp(rs[i].ifr_name, "lo") == 0)
			found = ((struct sockaddr_in *)&rs[i].ifr_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	printf("SIOCGIFCONF has lo 127.0.0.1: %s\n", yesno(found));
	CHECK(c.ifc_len % sizeof(struct ifreq) == 0);
	close(s);
}

static void rtnl(void)
{
	int s = MUST(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	MUST(bind(s, (struct sockaddr *)&sa, sizeof sa));
	socklen_t sl = sizeof sa;
	MUST(getsockname(s, (struct sockaddr *)&sa, &sl));
	CHECK(sl == sizeof sa && sa.nl_family == AF_NETLINK && sa.nl_pid != 0);
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 42},
		.i = {.ifi_family = AF_UNSPEC},
	};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	CHECK(sendto(s, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) == sizeof req);
	char buf[32768];
	int done = 0, lo = 0, bad = 0;
	while (!done) {
		struct sockaddr_nl from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (n <= 0) {
			CHECK(n > 0);
			break;
		}
		CHECK(from.nl_pid == 0);
		for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != 42 || h->nlmsg_pid != sa.nl_pid)
				bad++;
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type != RTM_NEWLINK || !(h->nlmsg_flags & NLM_F_MULTI)) {
				bad++;
				continue;
			}
			struct ifinfomsg *ifi = NLMSG_DATA(h);
			int alen = IFLA_PAYLOAD(h);
			for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == IFLA_IFNAME && strcmp(RTA_DATA(a), "lo") == 0)
					lo = ifi->ifi_index == 1 && (ifi->ifi_flags & IFF_LOOPBACK);
		}
	}
	printf("RTM_GETLINK dump: done %s, lo index 1 %s, bad %d\n", yesno(done), yesno(lo), bad);

	/* A request for an interface that does not exist gets an
	 * NLMSG_ERROR naming it. (Only queries here: a change request would
	 * change the host's interfaces in the native run.) */
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} get = {
		.h = {.nlmsg_len = sizeof get, .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 43},
		.i = {.ifi_family = AF_UNSPEC, .ifi_index = 99999},
	};
	CHECK(send(s, &get, sizeof get, 0) == sizeof get);
	ssize_t n = recv(s, buf, sizeof buf, 0);
	struct nlmsghdr *h = (void *)buf;
	CHECK(n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && h->nlmsg_type == NLMSG_ERROR);
	struct nlmsgerr *e = NLMSG_DATA(h);
	printf("RTM_GETLINK of index 99999: %s, seq %u\n", errname(-e->error), e->msg.nlmsg_seq);
	close(s);
	EXPECT_ERR(socket(AF_NETLINK, SOCK_RAW, 99), EPROTONOSUPPORT);
	printf("rtnetlink ok\n");
}

int main(void)
{
	addrs();
	ioctls();
	rtnl();
	return check_done("netif");
}
