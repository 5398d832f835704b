/*
 * procnet: /proc/net shows the sockets a program makes as Linux shows its
 * network namespace's: /proc/net links to self/net; a TCP listener on
 * 127.0.0.1 is in /proc/net/tcp with state 0A and the inode fstat gives,
 * an accepted connection's ends with state 01; a bound UDP socket is in
 * /proc/net/udp with state 07, a v6 one in udp6; a bound unix socket's
 * path is in /proc/net/unix with the listening flag; /proc/net/dev has lo.
 */
#include "check.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static char buf[1 << 20];

static const char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY);
	size_t n = 0;
	ssize_t r;
	buf[0] = 0;
	if (fd < 0)
		return buf;
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	buf[n] = 0;
	close(fd);
	return buf;
}

static unsigned long ino(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return 0;
	return st.st_ino;
}

/* find returns the state of the line of file whose local address is
 * local and inode is inode, or -1. */
static int find(const char *file, const char *local, unsigned long inode)
{
	const char *p = slurp(file);
	while (p && *p) {
		char l[80], r[80];
		unsigned st;
		unsigned long i;
		if (sscanf(p, " %*d: %79s %79s %x %*s %*s %*s %*u %*u %lu", l, r, &st, &i) == 4 &&
		    strcmp(l, local) == 0 && i == inode)
			return st;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

int main(void)
{
	char link[64] = "";
	ssize_t n = readlink("/proc/net", link, sizeof(link) - 1);
	if (n > 0)
		link[n] = 0;
	printf("/proc/net -> %s\n", link);

	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	MUST(bind(l, (struct sockaddr *)&a, sizeof(a)));
	MUST(listen(l, 4));
	MUST(getsockname(l, (struct sockaddr *)&a, &al));
	char local[64];
	snprintf(local, sizeof(local), "0100007F:%04X", ntohs(a.sin_port));
	int st = find("/proc/net/tcp", local, ino(l));
	printf("tcp listener: state %02X\n", st);
	CHECK(st == 0x0A);

	int c = socket(AF_INET, SOCK_STREAM, 0);
	MUST(connect(c, (struct sockaddr *)&a, sizeof(a)));
	int s = accept(l, NULL, NULL);
	MUST(s);
	printf("accepted end: state %02X\n", find("/proc/self/net/tcp", local, ino(s)));
	struct sockaddr_in ca;
	al = sizeof(ca);
	MUST(getsockname(c, (struct sockaddr *)&ca, &al));
	snprintf(local, sizeof(local), "0100007F:%04X", ntohs(ca.sin_port));
	printf("connecting end: state %02X\n", find("/proc/net/tcp", local, ino(c)));

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	a.sin_port = 0;
	MUST(bind(u, (struct sockaddr *)&a, sizeof(a)));
	al = sizeof(a);
	MUST(getsockname(u, (struct sockaddr *)&a, &al));
	snprintf(local, sizeof(local), "0100007F:%04X", ntohs(a.sin_port));
	printf("udp: state %02X\n", find("/proc/net/udp", local, ino(u)));

	int u6 = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	MUST(bind(u6, (struct sockaddr *)&a6, sizeof(a6)));
	al = sizeof(a6);
	MUST(getsockname(u6, (struct sockaddr *)&a6, &al));
	snprintf(local, sizeof(local), "00000000000000000000000001000000:%04X", ntohs(a6.sin6_port));
	printf("udp6: state %02X\n", find("/proc/net/udp6", local, ino(u6)));

	int x = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un ua = {.sun_family = AF_UNIX};
	snprintf(ua.sun_path, sizeof(ua.sun_path), "/tmp/procnet-%d.sock", getpid());
	unlink(ua.sun_path);
	MUST(bind(x, (struct sockaddr *)&ua, sizeof(ua)));
	MUST(listen(x, 1));
	char want[160];
	snprintf(want, sizeof(want), "00010000 0001 01 %5lu %s\n", ino(x), ua.sun_path);
	printf("unix listener listed: %s\n", yesno(strstr(slurp("/proc/net/unix"), want) != NULL));
	unlink(ua.sun_path);

	printf("dev has lo: %s\n", yesno(strstr(slurp("/proc/net/dev"), "    lo: ") != NULL));
	const char *snmp = slurp("/proc/net/snmp");
	printf("snmp rows: Ip %s, Tcp %s, Udp %s\n", yesno(strncmp(snmp, "Ip: Forwarding", 14) == 0),
	       yesno(strstr(snmp, "\nTcp: RtoAlgorithm") != NULL), yesno(strstr(snmp, "\nUdp: InDatagrams") != NULL));
	return check_done("procnet");
}
