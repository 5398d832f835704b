/*
 * sysfs: the files of /sys that programs read to size themselves. The
 * online CPU list agrees with the CPUs the process may run on (glibc's
 * get_nprocs reads it), every CPU named there has a directory, and the
 * directories that tools list exist.
 */
#include "check.h"
#include "fs.h"
#include <sched.h>
#include <sys/stat.h>

/* count_list counts the CPUs in a list such as "0-3,5\n". */
static int count_list(const char *s)
{
	int n = 0;
	while (*s && *s != '\n') {
		char *end;
		long a = strtol(s, &end, 10), b = a;
		if (end == s)
			return -1;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		n += (int)(b - a + 1);
		s = *end == ',' ? end + 1 : end;
	}
	return n;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(void)
{
	static char buf[256];
	CHECK(is_dir("/sys"));
	CHECK(read_file("/sys/devices/system/cpu/online", buf, sizeof buf) > 0);
	int online = count_list(buf);
	cpu_set_t set;
	CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
	CHECK(online == CPU_COUNT(&set));
	printf("online CPUs match the affinity mask: %s\n", yesno(online == CPU_COUNT(&set)));
	CHECK(read_file("/sys/devices/system/cpu/possible", buf, sizeof buf) > 0 && count_list(buf) >= online);
	int dirs = 1;
	for (int i = 0; i < online; i++) {
		char p[64];
		snprintf(p, sizeof p, "/sys/devices/system/cpu/cpu%d", i);
		dirs &= is_dir(p);
	}
	CHECK(dirs);
	printf("a directory per online CPU: %s\n", yesno(dirs));
	int tools = is_dir("/sys/class/net") && is_dir("/sys/fs/cgroup") && is_dir("/sys/kernel/mm/transparent_hugepage");
	CHECK(tools);
	printf("class/net, fs/cgroup, kernel/mm/transparent_hugepage: %s\n", yesno(tools));
	CHECK(read_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf) > 0 && strchr(buf, '[') != NULL);
	puts("transparent_hugepage/enabled names the policy in brackets");
	return check_done("sysfs");
}
