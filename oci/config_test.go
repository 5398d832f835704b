package oci

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// loadSample reads one of the config.json files containerd, docker and
// CRI really sent (testdata/), with its rootfs and bind sources moved to
// temporary ones: a directory for /dev/shm, files for the rest, as on
// the host they came from.
func loadSample(t *testing.T, name string) (*specs.Spec, string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	bundle := t.TempDir()
	os.Mkdir(filepath.Join(bundle, "rootfs"), 0o755)
	spec.Root.Path = "rootfs"
	for i, m := range spec.Mounts {
		if m.Type != "bind" {
			continue
		}
		src := filepath.Join(bundle, "src", strings.ReplaceAll(m.Destination, "/", "_"))
		os.MkdirAll(filepath.Dir(src), 0o755)
		if m.Destination == "/dev/shm" {
			os.Mkdir(src, 0o755)
		} else {
			os.WriteFile(src, []byte("x\n"), 0o644)
		}
		spec.Mounts[i].Source = src
	}
	// The namespaces CRI named belonged to processes long gone: the
	// test's own of the same kinds stand in for them.
	nsFile := map[specs.LinuxNamespaceType]string{
		specs.NetworkNamespace: "net", specs.MountNamespace: "mnt", specs.PIDNamespace: "pid",
		specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.UserNamespace: "user", specs.CgroupNamespace: "cgroup",
	}
	if spec.Linux != nil {
		for i, ns := range spec.Linux.Namespaces {
			if ns.Path != "" {
				spec.Linux.Namespaces[i].Path = "/proc/self/ns/" + nsFile[ns.Type]
			}
		}
	}
	return &spec, bundle
}

func TestTranslateSamples(t *testing.T) {
	for _, tc := range []struct {
		file    string
		mounts  []string
		memory  int64
		warning string
	}{
		{"config.ctr.json", []string{"proc:/proc", "devfs:/dev", "devpts:/dev/pts", "tmpfs:/dev/shm", "mqueue:/dev/mqueue", "sysfs:/sys", "tmpfs:/run"}, 0, ""},
		{"config.docker.json", []string{"proc:/proc", "devfs:/dev", "devpts:/dev/pts", "sysfs:/sys", "cgroup:/sys/fs/cgroup", "mqueue:/dev/mqueue", "tmpfs:/dev/shm", "bind:/etc/resolv.conf", "bind:/etc/hostname", "bind:/etc/hosts"}, 0, ""},
		{"config.docker-bridge-net.json", []string{"proc:/proc", "devfs:/dev", "devpts:/dev/pts", "sysfs:/sys", "cgroup:/sys/fs/cgroup", "mqueue:/dev/mqueue", "tmpfs:/dev/shm", "bind:/etc/resolv.conf", "bind:/etc/hostname", "bind:/etc/hosts"}, 0, ""},
		{"config.cri-container.json", []string{"proc:/proc", "devfs:/dev", "devpts:/dev/pts", "mqueue:/dev/mqueue", "sysfs:/sys", "cgroup:/sys/fs/cgroup", "bind:/etc/hostname", "bind:/etc/hosts", "bind:/etc/resolv.conf", "bind:/dev/shm"}, 128 << 20, "the pid namespace /proc/self/ns/pid is accepted, but the sandbox keeps its own"},
		{"config.cri-sandbox-cni.json", []string{"proc:/proc", "devfs:/dev", "devpts:/dev/pts", "mqueue:/dev/mqueue", "sysfs:/sys", "bind:/dev/shm", "bind:/etc/resolv.conf"}, 0, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			spec, bundle := loadSample(t, tc.file)
			sb, err := Translate(spec, bundle)
			if err != nil {
				t.Fatalf("Translate: %v", err)
			}
			var got []string
			for _, m := range sb.Mounts {
				got = append(got, m.Type+":"+m.Destination)
			}
			if strings.Join(got, " ") != strings.Join(tc.mounts, " ") {
				t.Errorf("mounts = %v, want %v", got, tc.mounts)
			}
			if sb.MemoryLimit != tc.memory {
				t.Errorf("memory limit = %d, want %d", sb.MemoryLimit, tc.memory)
			}
			if sb.Rootfs != filepath.Join(bundle, "rootfs") {
				t.Errorf("rootfs = %q", sb.Rootfs)
			}
			if tc.warning != "" && !strings.Contains(strings.Join(sb.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %q do not mention %q", sb.Warnings, tc.warning)
			}
			for _, m := range sb.Mounts {
				if m.Type == "bind" && m.File != strings.HasPrefix(m.Destination, "/etc/") {
					t.Errorf("mount %s: File = %t", m.Destination, m.File)
				}
			}
			if strings.HasPrefix(tc.file, "config.cri-") && sb.NetNS != "/proc/self/ns/net" {
				t.Errorf("network namespace = %q, want the spec's path", sb.NetNS)
			}
			if len(sb.Args) == 0 || sb.Cwd == "" {
				t.Errorf("process not translated: %+v", sb)
			}
		})
	}
}

func TestTranslateErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		edit func(*specs.Spec)
		want string
	}{
		{func(s *specs.Spec) { s.Process = nil }, "config.json: process: must be set"},
		{func(s *specs.Spec) { s.Process.Args = nil }, "config.json: process.args: must not be empty"},
		{func(s *specs.Spec) { s.Process.Env = []string{"PATH=/bin", "NOEQUALS"} }, "process.env[1]"},
		{func(s *specs.Spec) { s.Root.Path = "nope" }, `config.json: root.path: "nope": no such directory`},
		{func(s *specs.Spec) { s.Root = nil }, "root.path: must be set"},
		{func(s *specs.Spec) {
			s.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 10, Hard: 5}}
		}, "process.rlimits[0]: soft limit"},
		{func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "nfs"}) }, "type: \"nfs\""},
		{func(s *specs.Spec) { s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "bind"}) }, ".source: must be set"},
		{func(s *specs.Spec) {
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/x", Type: "tmpfs", Options: []string{"size=lots"}})
		}, "size=lots"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
		}, "linux.namespaces["},
		{func(s *specs.Spec) {
			n := int64(-5)
			s.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &n}}
		}, "linux.resources.memory.limit"},
		{func(s *specs.Spec) { s.Version = "2.0.0" }, "ociVersion"},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.NetworkNamespace, Path: "/proc/self/ns/uts"}}
		}, `linux.namespaces[0].path: "/proc/self/ns/uts" is not a network namespace`},
		{func(s *specs.Spec) {
			s.Linux.Namespaces = []specs.LinuxNamespace{{Type: specs.IPCNamespace, Path: "/nonexistent/ns"}}
		}, `linux.namespaces[0].path: "/nonexistent/ns": no such file or directory`},
		{func(s *specs.Spec) { s.Linux.Sysctl = map[string]string{"kernel.printk": "1"} }, `linux.sysctl["kernel.printk"]`},
		{func(s *specs.Spec) { s.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}} }, "linux.devices[0].type"},
		{func(s *specs.Spec) { s.Linux.MaskedPaths = []string{"proc/kcore"} }, "linux.maskedPaths[0]"},
	} {
		spec, bundle := loadSample(t, "config.ctr.json")
		tc.edit(spec)
		_, err := Translate(spec, bundle)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one containing %q", err, tc.want)
		}
	}
}

func TestTranslateProcess(t *testing.T) {
	spec, bundle := loadSample(t, "config.ctr.json")
	os.MkdirAll(filepath.Join(bundle, "rootfs", "etc"), 0o755)
	os.WriteFile(filepath.Join(bundle, "rootfs", "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n"), 0o644)
	spec.Process.User = specs.User{UID: 1000, GID: 100, AdditionalGids: []uint32{5, 6}}
	spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 100, Hard: 200}}
	spec.Process.Env = []string{"PATH=/bin"}
	pids := int64(42)
	spec.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: pids}}
	sb, err := Translate(spec, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if sb.UID != 1000 || sb.GID != 100 || len(sb.Groups) != 2 || sb.PidsLimit != 42 {
		t.Errorf("user/pids not translated: %+v", sb)
	}
	if len(sb.Rlimits) != 1 || sb.Rlimits[0] != (Rlimit{Resource: unix.RLIMIT_NOFILE, Soft: 100, Hard: 200}) {
		t.Errorf("rlimits = %+v", sb.Rlimits)
	}
	if strings.Join(sb.Env, " ") != "PATH=/bin HOME=/home/u" {
		t.Errorf("env = %q, want HOME from the rootfs's passwd added", sb.Env)
	}
}

func TestTranslateCapabilities(t *testing.T) {
	spec, bundle := loadSample(t, "config.ctr.json")
	adj := -500
	spec.Process.OOMScoreAdj = &adj
	spec.Process.NoNewPrivileges = true
	spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding:    []string{"CAP_CHOWN", "CAP_KILL", "CAP_CHECKPOINT_RESTORE"},
		Effective:   []string{"CAP_KILL"},
		Permitted:   []string{"CAP_KILL", "cap_chown"},
		Inheritable: []string{"CAP_TEST"},
	}
	sb, err := Translate(spec, bundle)
	if err != nil {
		t.Fatal(err)
	}
	want := Caps{Bounding: 1<<0 | 1<<5 | 1<<40, Effective: 1 << 5, Permitted: 1<<5 | 1<<0}
	if sb.Caps == nil || *sb.Caps != want {
		t.Errorf("caps = %+v, want %+v", sb.Caps, want)
	}
	// As runc 1.1: an unknown name is skipped with a warning.
	if len(sb.Warnings) != 1 || !strings.Contains(sb.Warnings[0], `process.capabilities.inheritable[0]: unknown capability "CAP_TEST"`) {
		t.Errorf("warnings = %q", sb.Warnings)
	}
	if !sb.NoNewPrivileges || sb.OOMScoreAdj != -500 {
		t.Errorf("noNewPrivileges/oomScoreAdj not translated: %v %d", sb.NoNewPrivileges, sb.OOMScoreAdj)
	}
	spec.Process.Capabilities = nil
	adj = 1001
	if sb, err = Translate(spec, bundle); err == nil || !strings.Contains(err.Error(), "process.oomScoreAdj") {
		t.Errorf("oomScoreAdj 1001: err = %v", err)
	} else if sb != nil && sb.Caps != nil {
		t.Errorf("no process.capabilities gave %+v, want nil (every capability)", sb.Caps)
	}
}

func TestValidateID(t *testing.T) {
	for _, id := range []string{"abc", "a-b_c.d+e", strings.Repeat("f", 64)} {
		if err := ValidateID(id); err != nil {
			t.Errorf("ValidateID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b", "a\x00"} {
		if ValidateID(id) == nil {
			t.Errorf("ValidateID(%q) accepted it", id)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"9": unix.SIGKILL, "KILL": unix.SIGKILL, "SIGTERM": unix.SIGTERM, "usr1": unix.SIGUSR1, "sigHup": unix.SIGHUP} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "65", "-1", "NOPE", "", "9x"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) accepted it", in)
		}
	}
}

func TestStore(t *testing.T) {
	s := Store{Root: filepath.Join(t.TempDir(), "root")}
	l, err := s.Create("c1")
	if err != nil {
		t.Fatal(err)
	}
	st := &State{State: specs.State{Version: specs.Version, ID: "c1", Status: StatusCreated, Pid: os.Getpid(), Bundle: "/b"}, PidStart: ProcessStart(os.Getpid())}
	if err := l.Write(st); err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if _, err := s.Create("c1"); !errors.Is(err, ErrExist) {
		t.Errorf("second Create: %v, want ErrExist", err)
	}
	if _, err := s.Get("nope"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Get of an unknown id: %v, want ErrNotExist", err)
	}
	// Concurrent updates under the lock lose nothing.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Update("c1", func(st *State) { st.ExitCode++ }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := s.Get("c1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ExitCode != 20 || got.Status != StatusCreated {
		t.Errorf("after 20 updates: %+v", got)
	}
	// A process that is gone makes the container stopped.
	s.Update("c1", func(st *State) { st.PidStart++ })
	if got, _ := s.Get("c1"); got.Status != StatusStopped {
		t.Errorf("status with a reused pid = %s, want stopped", got.Status)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].ID != "c1" {
		t.Errorf("List = %v, %v", list, err)
	}
	l, err = s.Lock("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lock("c1"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Lock after Remove: %v, want ErrNotExist", err)
	}
}

func TestRunHooks(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "in.json")
	spec := &specs.Spec{Hooks: &specs.Hooks{
		Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", `cat > "$0"`, out}}},
		Poststart: []specs.Hook{
			{Path: "/bin/sh", Args: []string{"sh", "-c", "exit 0"}},
			{Path: "/bin/sh", Args: []string{"sh", "-c", "echo nope >&2; exit 2"}},
		},
	}}
	st := specs.State{Version: specs.Version, ID: "h", Status: StatusStopped, Bundle: "/b"}
	if err := RunHooks(spec, Poststop, st); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	var got specs.State
	if err := json.Unmarshal(data, &got); err != nil || got.ID != "h" || got.Status != StatusStopped {
		t.Errorf("hook's stdin = %q (%v)", data, err)
	}
	err := RunHooks(spec, Poststart, st)
	if err == nil || !strings.Contains(err.Error(), "poststart hook #1") || !strings.Contains(err.Error(), "nope") {
		t.Errorf("failing hook: %v", err)
	}
}

// TestTranslateHostNetwork: a spec without a network namespace shares the
// runtime's network (runc's, docker --network=host's meaning); one with a
// network namespace, new or by path, does not.
func TestTranslateHostNetwork(t *testing.T) {
	spec, bundle := loadSample(t, "config.ctr.json")
	sb, err := Translate(spec, bundle)
	if err != nil {
		t.Fatal(err)
	}
	if sb.HostNetwork || !sb.NewNetNS {
		t.Errorf("with a new network namespace: HostNetwork %v, NewNetNS %v", sb.HostNetwork, sb.NewNetNS)
	}
	var kept []specs.LinuxNamespace
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace {
			kept = append(kept, ns)
		}
	}
	spec.Linux.Namespaces = kept
	if sb, err = Translate(spec, bundle); err != nil {
		t.Fatal(err)
	}
	if !sb.HostNetwork || sb.NewNetNS || sb.NetNS != "" {
		t.Errorf("without a network namespace: HostNetwork %v, NewNetNS %v, NetNS %q", sb.HostNetwork, sb.NewNetNS, sb.NetNS)
	}
}
