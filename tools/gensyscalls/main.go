// Command gensyscalls generates sentry/syscalls/names_amd64.go: the x86-64
// syscall numbers (as SysXxx constants), their names, and how many arguments
// each one takes.
//
// The numbers and names come from the kernel UAPI header
// (asm/unistd_64.h). Syscalls added to Linux after the header installed on the
// build machine are supplemented from a table kept here, so a workload built
// against a newer libc still gets its syscalls named. Argument counts are kept
// here too, since no header carries them.
//
// Run it from sentry/syscalls through `go generate`, or directly:
//
//	go run ./tools/gensyscalls -header /usr/include/x86_64-linux-gnu/asm/unistd_64.h -out sentry/syscalls/names_amd64.go
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"io"
	"log"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// newer lists x86-64 syscalls that may be missing from an older
// asm/unistd_64.h. Entries the header has are checked against it.
var newer = []struct {
	nr   int
	name string
}{
	{335, "uretprobe"},
	{336, "uprobe"},
	{451, "cachestat"},
	{452, "fchmodat2"},
	{453, "map_shadow_stack"},
	{454, "futex_wake"},
	{455, "futex_wait"},
	{456, "futex_requeue"},
	{457, "statmount"},
	{458, "listmount"},
	{459, "lsm_get_self_attr"},
	{460, "lsm_set_self_attr"},
	{461, "lsm_list_modules"},
	{462, "mseal"},
	{463, "setxattrat"},
	{464, "getxattrat"},
	{465, "listxattrat"},
	{466, "removexattrat"},
	{467, "open_tree_attr"},
	{468, "file_getattr"},
	{469, "file_setattr"},
	{470, "listns"},
}

// argCounts is the number of arguments each syscall takes in the x86-64
// kernel ABI (the raw syscall, not the libc wrapper).
var argCounts = map[string]int{
	"read": 3, "write": 3, "open": 3, "close": 1, "stat": 2, "fstat": 2,
	"lstat": 2, "poll": 3, "lseek": 3, "mmap": 6, "mprotect": 3, "munmap": 2,
	"brk": 1, "rt_sigaction": 4, "rt_sigprocmask": 4, "rt_sigreturn": 0,
	"ioctl": 3, "pread64": 4, "pwrite64": 4, "readv": 3, "writev": 3,
	"access": 2, "pipe": 1, "select": 5, "sched_yield": 0, "mremap": 5,
	"msync": 3, "mincore": 3, "madvise": 3, "shmget": 3, "shmat": 3,
	"shmctl": 3, "dup": 1, "dup2": 2, "pause": 0, "nanosleep": 2,
	"getitimer": 2, "alarm": 1, "setitimer": 3, "getpid": 0, "sendfile": 4,
	"socket": 3, "connect": 3, "accept": 3, "sendto": 6, "recvfrom": 6,
	"sendmsg": 3, "recvmsg": 3, "shutdown": 2, "bind": 3, "listen": 2,
	"getsockname": 3, "getpeername": 3, "socketpair": 4, "setsockopt": 5,
	"getsockopt": 5, "clone": 5, "fork": 0, "vfork": 0, "execve": 3,
	"exit": 1, "wait4": 4, "kill": 2, "uname": 1, "semget": 3, "semop": 3,
	"semctl": 4, "shmdt": 1, "msgget": 2, "msgsnd": 4, "msgrcv": 5,
	"msgctl": 3, "fcntl": 3, "flock": 2, "fsync": 1, "fdatasync": 1,
	"truncate": 2, "ftruncate": 2, "getdents": 3, "getcwd": 2, "chdir": 1,
	"fchdir": 1, "rename": 2, "mkdir": 2, "rmdir": 1, "creat": 2, "link": 2,
	"unlink": 1, "symlink": 2, "readlink": 3, "chmod": 2, "fchmod": 2,
	"chown": 3, "fchown": 3, "lchown": 3, "umask": 1, "gettimeofday": 2,
	"getrlimit": 2, "getrusage": 2, "sysinfo": 1, "times": 1, "ptrace": 4,
	"getuid": 0, "syslog": 3, "getgid": 0, "setuid": 1, "setgid": 1,
	"geteuid": 0, "getegid": 0, "setpgid": 2, "getppid": 0, "getpgrp": 0,
	"setsid": 0, "setreuid": 2, "setregid": 2, "getgroups": 2,
	"setgroups": 2, "setresuid": 3, "getresuid": 3, "setresgid": 3,
	"getresgid": 3, "getpgid": 1, "setfsuid": 1, "setfsgid": 1, "getsid": 1,
	"capget": 2, "capset": 2, "rt_sigpending": 2, "rt_sigtimedwait": 4,
	"rt_sigqueueinfo": 3, "rt_sigsuspend": 2, "sigaltstack": 2, "utime": 2,
	"mknod": 3, "uselib": 1, "personality": 1, "ustat": 2, "statfs": 2,
	"fstatfs": 2, "sysfs": 3, "getpriority": 2, "setpriority": 3,
	"sched_setparam": 2, "sched_getparam": 2, "sched_setscheduler": 3,
	"sched_getscheduler": 1, "sched_get_priority_max": 1,
	"sched_get_priority_min": 1, "sched_rr_get_interval": 2, "mlock": 2,
	"munlock": 2, "mlockall": 1, "munlockall": 0, "vhangup": 0,
	"modify_ldt": 3, "pivot_root": 2, "_sysctl": 1, "prctl": 5,
	"arch_prctl": 2, "adjtimex": 1, "setrlimit": 2, "chroot": 1, "sync": 0,
	"acct": 1, "settimeofday": 2, "mount": 5, "umount2": 2, "swapon": 2,
	"swapoff": 1, "reboot": 4, "sethostname": 2, "setdomainname": 2,
	"iopl": 1, "ioperm": 3, "create_module": 2, "init_module": 3,
	"delete_module": 2, "get_kernel_syms": 1, "query_module": 5,
	"quotactl": 4, "nfsservctl": 3, "getpmsg": 5, "putpmsg": 5,
	"afs_syscall": 5, "tuxcall": 3, "security": 3, "gettid": 0,
	"readahead": 3, "setxattr": 5, "lsetxattr": 5, "fsetxattr": 5,
	"getxattr": 4, "lgetxattr": 4, "fgetxattr": 4, "listxattr": 3,
	"llistxattr": 3, "flistxattr": 3, "removexattr": 2, "lremovexattr": 2,
	"fremovexattr": 2, "tkill": 2, "time": 1, "futex": 6,
	"sched_setaffinity": 3, "sched_getaffinity": 3, "set_thread_area": 1,
	"io_setup": 2, "io_destroy": 1, "io_getevents": 5, "io_submit": 3,
	"io_cancel": 3, "get_thread_area": 1, "lookup_dcookie": 3,
	"epoll_create": 1, "epoll_ctl_old": 4, "epoll_wait_old": 4,
	"remap_file_pages": 5, "getdents64": 3, "set_tid_address": 1,
	"restart_syscall": 0, "semtimedop": 4, "fadvise64": 4,
	"timer_create": 3, "timer_settime": 4, "timer_gettime": 2,
	"timer_getoverrun": 1, "timer_delete": 1, "clock_settime": 2,
	"clock_gettime": 2, "clock_getres": 2, "clock_nanosleep": 4,
	"exit_group": 1, "epoll_wait": 4, "epoll_ctl": 4, "tgkill": 3,
	"utimes": 2, "vserver": 5, "mbind": 6, "set_mempolicy": 3,
	"get_mempolicy": 5, "mq_open": 4, "mq_unlink": 1, "mq_timedsend": 5,
	"mq_timedreceive": 5, "mq_notify": 2, "mq_getsetattr": 3,
	"kexec_load": 4, "waitid": 5, "add_key": 5, "request_key": 4,
	"keyctl": 5, "ioprio_set": 3, "ioprio_get": 2, "inotify_init": 0,
	"inotify_add_watch": 3, "inotify_rm_watch": 2, "migrate_pages": 4,
	"openat": 4, "mkdirat": 3, "mknodat": 4, "fchownat": 5, "futimesat": 3,
	"newfstatat": 4, "unlinkat": 3, "renameat": 4, "linkat": 5,
	"symlinkat": 3, "readlinkat": 4, "fchmodat": 3, "faccessat": 3,
	"pselect6": 6, "ppoll": 5, "unshare": 1, "set_robust_list": 2,
	"get_robust_list": 3, "splice": 6, "tee": 4, "sync_file_range": 4,
	"vmsplice": 4, "move_pages": 6, "utimensat": 4, "epoll_pwait": 6,
	"signalfd": 3, "timerfd_create": 2, "eventfd": 1, "fallocate": 4,
	"timerfd_settime": 4, "timerfd_gettime": 2, "accept4": 4,
	"signalfd4": 4, "eventfd2": 2, "epoll_create1": 1, "dup3": 3,
	"pipe2": 2, "inotify_init1": 1, "preadv": 5, "pwritev": 5,
	"rt_tgsigqueueinfo": 4, "perf_event_open": 5, "recvmmsg": 5,
	"fanotify_init": 2, "fanotify_mark": 5, "prlimit64": 4,
	"name_to_handle_at": 5, "open_by_handle_at": 3, "clock_adjtime": 2,
	"syncfs": 1, "sendmmsg": 4, "setns": 2, "getcpu": 3,
	"process_vm_readv": 6, "process_vm_writev": 6, "kcmp": 5,
	"finit_module": 3, "sched_setattr": 3, "sched_getattr": 4,
	"renameat2": 5, "seccomp": 3, "getrandom": 3, "memfd_create": 2,
	"kexec_file_load": 5, "bpf": 3, "execveat": 5, "userfaultfd": 1,
	"membarrier": 3, "mlock2": 3, "copy_file_range": 6, "preadv2": 6,
	"pwritev2": 6, "pkey_mprotect": 4, "pkey_alloc": 2, "pkey_free": 1,
	"statx": 5, "io_pgetevents": 6, "rseq": 4, "uretprobe": 0, "uprobe": 0,
	"pidfd_send_signal": 4, "io_uring_setup": 2, "io_uring_enter": 6,
	"io_uring_register": 4, "open_tree": 3, "move_mount": 5, "fsopen": 2,
	"fsconfig": 5, "fsmount": 3, "fspick": 3, "pidfd_open": 2, "clone3": 2,
	"close_range": 3, "openat2": 4, "pidfd_getfd": 3, "faccessat2": 4,
	"process_madvise": 5, "epoll_pwait2": 6, "mount_setattr": 5,
	"quotactl_fd": 4, "landlock_create_ruleset": 3, "landlock_add_rule": 4,
	"landlock_restrict_self": 2, "memfd_secret": 1, "process_mrelease": 2,
	"futex_waitv": 5, "set_mempolicy_home_node": 4, "cachestat": 4,
	"fchmodat2": 4, "map_shadow_stack": 3, "futex_wake": 4,
	"futex_wait": 6, "futex_requeue": 4, "statmount": 4, "listmount": 4,
	"lsm_get_self_attr": 4, "lsm_set_self_attr": 4, "lsm_list_modules": 3,
	"mseal": 3, "setxattrat": 6, "getxattrat": 6, "listxattrat": 5,
	"removexattrat": 4, "open_tree_attr": 5, "file_getattr": 5,
	"file_setattr": 5, "listns": 4,
}

var defineRE = regexp.MustCompile(`^#define\s+__NR_([A-Za-z0-9_]+)\s+([0-9]+)\s*$`)

type syscall struct {
	nr    int
	name  string
	nargs int
}

// parse reads the __NR_ definitions of a unistd_64.h.
func parse(r io.Reader) (map[int]string, error) {
	out := map[int]string{}
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := defineRE.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		nr, err := strconv.Atoi(m[2])
		if err != nil {
			return nil, fmt.Errorf("bad number for %s: %v", m[1], err)
		}
		if prev, ok := out[nr]; ok && prev != m[1] {
			return nil, fmt.Errorf("syscall %d defined as both %s and %s", nr, prev, m[1])
		}
		if prev, ok := seen[m[1]]; ok && prev != nr {
			return nil, fmt.Errorf("%s defined as both %d and %d", m[1], prev, nr)
		}
		out[nr] = m[1]
		seen[m[1]] = nr
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no __NR_ definitions found")
	}
	return out, nil
}

// goName turns a syscall name into its constant name: rt_sigaction ->
// SysRtSigaction, _sysctl -> SysSysctl.
func goName(name string) string {
	var b strings.Builder
	b.WriteString("Sys")
	for _, part := range strings.Split(name, "_") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	return b.String()
}

func generate(defs map[int]string, warn io.Writer) ([]byte, error) {
	for _, n := range newer {
		if have, ok := defs[n.nr]; ok {
			if have != n.name {
				return nil, fmt.Errorf("header names syscall %d %s, supplement says %s", n.nr, have, n.name)
			}
			continue
		}
		defs[n.nr] = n.name
	}
	var list []syscall
	consts := map[string]string{}
	for nr, name := range defs {
		c := goName(name)
		if other, ok := consts[c]; ok {
			return nil, fmt.Errorf("%s and %s both map to %s", other, name, c)
		}
		consts[c] = name
		n, ok := argCounts[name]
		if !ok {
			fmt.Fprintf(warn, "gensyscalls: no argument count for %s (%d); assuming 6\n", name, nr)
			n = 6
		}
		list = append(list, syscall{nr, name, n})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].nr < list[j].nr })
	max := list[len(list)-1].nr

	var b bytes.Buffer
	b.WriteString("// Code generated by tools/gensyscalls; DO NOT EDIT.\n\n")
	b.WriteString("package syscalls\n\n")
	b.WriteString("// x86-64 syscall numbers.\nconst (\n")
	for _, s := range list {
		fmt.Fprintf(&b, "\t%s = %d\n", goName(s.name), s.nr)
	}
	b.WriteString(")\n\n")
	fmt.Fprintf(&b, "// MaxSyscall is one more than the highest syscall number known.\nconst MaxSyscall = %d\n\n", max+1)
	b.WriteString("// names holds each syscall's name, indexed by number; gaps are empty.\n")
	b.WriteString("var names = [MaxSyscall]string{\n")
	for _, s := range list {
		fmt.Fprintf(&b, "\t%d: %q,\n", s.nr, s.name)
	}
	b.WriteString("}\n\n")
	b.WriteString("// argCounts holds how many arguments each syscall takes, indexed by\n// number; gaps are 0 and are not syscalls.\n")
	b.WriteString("var argCounts = [MaxSyscall]uint8{\n")
	for _, s := range list {
		fmt.Fprintf(&b, "\t%d: %d, // %s\n", s.nr, s.nargs, s.name)
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

func main() {
	header := flag.String("header", "/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "path of the kernel's asm/unistd_64.h")
	out := flag.String("out", "names_amd64.go", "file to write")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("gensyscalls: ")

	f, err := os.Open(*header)
	if err != nil {
		log.Fatal(err)
	}
	defs, err := parse(f)
	f.Close()
	if err != nil {
		log.Fatalf("%s: %v", *header, err)
	}
	src, err := generate(defs, os.Stderr)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
