package oci

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"exokernelul.dev/exo/test/internal/harness"
)

// TestFileBindMounts: docker's and CRI's single-file binds appear at
// their destinations (made as empty files where missing), read-write
// ones write through to the host file, read-only ones refuse writes.
func TestFileBindMounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	host := t.TempDir()
	os.Chmod(host, 0o755)
	hosts := filepath.Join(host, "hosts")
	resolv := filepath.Join(host, "resolv.conf")
	term := filepath.Join(host, "termination-log")
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n"), 0o644)
	os.WriteFile(resolv, []byte("nameserver 10.0.0.1\n"), 0o644)
	os.WriteFile(term, nil, 0o666)
	script := `cat /etc/hosts; echo "10.1.1.1 extra" >> /etc/hosts; cat /etc/resolv.conf;` +
		` echo x > /etc/resolv.conf || echo resolv-ro;` +
		` echo bye > /dev/termination-log; cat /new/dir/hosts; ls -l /new/dir | wc -l;` +
		` grep -c ' /etc/hosts ' /proc/mounts`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Root.Readonly = false
		s.Mounts = append(s.Mounts,
			specs.Mount{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "rw"}},
			specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: resolv, Options: []string{"rbind", "ro"}},
			specs.Mount{Destination: "/dev/termination-log", Type: "bind", Source: term, Options: []string{"rbind", "rw"}},
			specs.Mount{Destination: "/new/dir/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "ro"}},
		)
	})
	r := e.run("run", "--bundle", b, "filebinds")
	harness.CheckExit(t, "run", r, 0)
	want := "127.0.0.1 localhost\nnameserver 10.0.0.1\nresolv-ro\n127.0.0.1 localhost\n10.1.1.1 extra\n2\n1\n"
	if got := string(r.Stdout); got != want {
		t.Errorf("container printed %q, want %q\n%s", got, want, r)
	}
	for p, want := range map[string]string{hosts: "127.0.0.1 localhost\n10.1.1.1 extra\n", resolv: "nameserver 10.0.0.1\n", term: "bye\n"} {
		if data, err := os.ReadFile(p); err != nil || string(data) != want {
			t.Errorf("host %s = %q, %v; want %q", filepath.Base(p), data, err, want)
		}
	}
	// The root is writable, so, as runc does, the missing mount point is
	// made in the bundle's rootfs (an empty file under the bind).
	if fi, err := os.Stat(filepath.Join(b, "rootfs", "new", "dir", "hosts")); err != nil || fi.Size() != 0 {
		t.Errorf("the mount point in the bundle's rootfs: %v, %v; want an empty file", fi, err)
	}
}

// TestMaskedAndReadonlyPaths: maskedPaths hide a directory under an
// empty read-only tmpfs and a file under /dev/null; readonlyPaths refuse
// writes; missing paths are skipped, as runc does.
func TestMaskedAndReadonlyPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `cat /etc/secret; echo "[$(cat /etc/secret)]"; ls /etc/secretdir | wc -l; touch /etc/secretdir/x || echo dir-ro;` +
		` ls -l /etc/secret | cut -c1; echo y > /data/f || echo data-ro; echo 1 > /proc/sys/kernel/shmmax || echo sys-ro;` +
		` ls /sys/firmware | wc -l; echo ok`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "tmpfs", Source: "tmpfs"})
		s.Linux.MaskedPaths = []string{"/etc/secret", "/etc/secretdir", "/does/not/exist", "/sys/firmware"}
		s.Linux.ReadonlyPaths = []string{"/data", "/proc/sys", "/no/such/path"}
	})
	os.WriteFile(filepath.Join(b, "rootfs", "etc", "secret"), []byte("password\n"), 0o644)
	os.MkdirAll(filepath.Join(b, "rootfs", "etc", "secretdir"), 0o755)
	os.WriteFile(filepath.Join(b, "rootfs", "etc", "secretdir", "key"), []byte("k\n"), 0o644)
	os.MkdirAll(filepath.Join(b, "rootfs", "data"), 0o755)
	r := e.run("run", "--bundle", b, "masked")
	harness.CheckExit(t, "run", r, 0)
	want := "[]\n0\ndir-ro\nc\ndata-ro\nsys-ro\n0\nok\n"
	if got := string(r.Stdout); got != want {
		t.Errorf("container printed %q, want %q\n%s", got, want, r)
	}
	compareRunc(t, e, b, r)
}

// compareRunc runs bundle b with runc too, when installed, and wants the
// same stdout as r.
func compareRunc(t *testing.T, e *env, b string, r *harness.Result) {
	t.Helper()
	runc, err := exec.LookPath("runc")
	if err != nil {
		return
	}
	nr := harness.Run(harness.Cmd{Args: []string{runc, "--root", filepath.Join(e.root, "runc"), "run", "--bundle", b, "cmp-" + filepath.Base(b)}})
	if string(nr.Stdout) != string(r.Stdout) {
		t.Errorf("stdout differs from runc's:\n%s", harness.FirstDifference("runsc-exo", r.Stdout, "runc", nr.Stdout))
	}
}

// TestMountTypesAndOptions: mqueue and cgroup mounts are where the spec
// puts them, the cgroup files show the container's limits, and noexec,
// nodev and ro mount options are honoured.
func TestMountTypesAndOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	limit := int64(96 << 20)
	quota, period := int64(50000), uint64(100000)
	script := `grep -o '^mqueue /dev/mqueue mqueue [a-z,]*' /proc/mounts; ls -d /dev/mqueue;` +
		` cp /bin/busybox /x/bb && /x/bb true || echo noexec-refused;` +
		` grep -o ' /x tmpfs [a-z]*,nosuid,nodev,noexec' /proc/mounts;` +
		` if [ -e /sys/fs/cgroup/cgroup.controllers ]; then cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max /sys/fs/cgroup/cpu.max;` +
		` else cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us | tr '\n' ' '; echo; fi;` +
		` echo 1 > /sys/fs/cgroup/pids.max 2>/dev/null || echo cgroup-ro`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "noexec"}})
		s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}, Pids: &specs.LinuxPids{Limit: 40},
			CPU: &specs.LinuxCPU{Quota: &quota, Period: &period}}
	})
	os.MkdirAll(filepath.Join(b, "rootfs", "x"), 0o755)
	r := e.run("run", "--bundle", b, "mtypes")
	harness.CheckExit(t, "run", r, 0)
	out := string(r.Stdout)
	for _, want := range []string{"mqueue /dev/mqueue mqueue rw,nosuid,nodev,noexec,relatime\n/dev/mqueue\n", "noexec-refused\n", " /x tmpfs rw,nosuid,nodev,noexec\n",
		"100663296\n40\n", "cgroup-ro\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("container printed %q, want %q in it\n%s", out, want, r)
		}
	}
	if !strings.Contains(out, "50000 100000") {
		t.Errorf("cpu quota not shown: %q", out)
	}
}

// TestSysctl: namespaced sysctls show under /proc/sys with the spec's
// values (kernel.domainname in uname too); one of the host's own kernel
// is refused, as runc refuses it.
func TestSysctl(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	script := `cat /proc/sys/kernel/domainname /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max /proc/sys/net/ipv4/ip_unprivileged_port_start`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		s.Linux.Sysctl = map[string]string{
			"kernel.domainname": "example.org", "kernel.shmmax": "123456", "fs.mqueue.msg_max": "20",
			"net.ipv4.ip_unprivileged_port_start": "0",
		}
	})
	r := e.run("run", "--bundle", b, "sysctl")
	harness.CheckExit(t, "run", r, 0)
	if want := "example.org\n123456\n20\n0\n"; !strings.HasPrefix(string(r.Stdout), want) {
		t.Errorf("container printed %q, want %q first\n%s", r.Stdout, want, r)
	}
	bad := e.bundle([]string{"true"}, func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"vm.swappiness": "10"} })
	e.fails(`linux.sysctl["vm.swappiness"]: sysctl "vm.swappiness" is not in a separate kernel namespace`, "run", "--bundle", bad, "badsysctl")
}

// TestDevices: linux.devices nodes appear with their mode and owner; one
// the library OS models is served whatever its name, one it does not
// gives ENXIO, and one the device rules deny gives EPERM.
func TestDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mode := os.FileMode(0o620)
	uid, gid := uint32(1000), uint32(5)
	script := `stat -c '%A %u %g %t:%T' /dev/mynull /dev/fakedisk /dev/kmsg; echo hi > /dev/mynull && echo mynull-ok;` +
		` cat /dev/fakedisk || echo disk-enxio; cat /dev/kmsg || echo kmsg-eperm; head -c 4 /dev/zero | wc -c`
	b := e.bundle([]string{"sh", "-c", script}, func(s *specs.Spec) {
		major8, minor0, major1, minor11 := int64(8), int64(0), int64(1), int64(11)
		s.Linux.Devices = []specs.LinuxDevice{
			{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, FileMode: &mode, UID: &uid, GID: &gid},
			{Path: "/dev/fakedisk", Type: "b", Major: 8, Minor: 0},
			{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11},
		}
		s.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
			{Allow: false, Access: "rwm"},
			{Allow: true, Type: "b", Major: &major8, Minor: &minor0, Access: "r"},
			{Allow: false, Type: "c", Major: &major1, Minor: &minor11, Access: "rwm"},
		}}
	})
	r := e.run("run", "--bundle", b, "devices")
	harness.CheckExit(t, "run", r, 0)
	want := "crw--w---- 1000 5 1:3\nbrw-rw-rw- 0 0 8:0\ncrw-rw-rw- 0 0 1:b\nmynull-ok\ndisk-enxio\nkmsg-eperm\n4\n"
	if got := string(r.Stdout); got != want {
		t.Errorf("container printed %q, want %q\n%s", got, want, r)
	}
	for _, msg := range []string{"fakedisk': No such device or address", "kmsg': Operation not permitted"} {
		if !strings.Contains(string(r.Stderr), msg) {
			t.Errorf("stderr lacks %q\n%s", msg, r)
		}
	}
}

// TestNetworkNamespacePath: a network namespace path (as CRI gives for a
// pod's containers) is joined by the sandbox's host process; a path that
// is not a network namespace is an error naming the field.
func TestNetworkNamespacePath(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	holder := exec.Command("unshare", "--net", "sleep", "60")
	if err := holder.Start(); err != nil {
		t.Skipf("unshare --net: %v", err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	nsPath := "/proc/" + strconv.Itoa(holder.Process.Pid) + "/ns/net"
	var want string
	for range 100 {
		if want, _ = os.Readlink(nsPath); want != "" && want != mustReadlink(t, "/proc/self/ns/net") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	withNS := func(p string) func(*specs.Spec) {
		return func(s *specs.Spec) {
			for i := range s.Linux.Namespaces {
				if s.Linux.Namespaces[i].Type == specs.NetworkNamespace {
					s.Linux.Namespaces[i].Path = p
				}
			}
		}
	}
	b := e.bundle([]string{"sleep", "30"}, withNS(nsPath))
	c := e.create(b, "netns")
	if got := mustReadlink(t, "/proc/"+strconv.Itoa(c.pid)+"/ns/net"); got != want {
		t.Errorf("the container's host process is in %s, want the spec's %s", got, want)
	}
	bad := e.bundle([]string{"true"}, withNS("/proc/self/ns/uts"))
	e.fails(`linux.namespaces[`, "run", "--bundle", bad, "badns")
	r := e.fails("is not a network namespace", "run", "--bundle", bad, "badns")
	if !strings.Contains(string(r.Stderr), "].path") {
		t.Errorf("the error does not name the path field\n%s", r)
	}
	missing := e.bundle([]string{"true"}, withNS("/proc/999999999/ns/net"))
	e.fails("no such file or directory", "run", "--bundle", missing, "missingns")
}

func mustReadlink(t *testing.T, p string) string {
	t.Helper()
	s, err := os.Readlink(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
