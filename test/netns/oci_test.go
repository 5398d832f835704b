package netns

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"exokernelul.dev/exo/test/internal/harness"
)

// ociBundle writes a bundle whose rootfs holds nettool and busybox, running
// args, with a network namespace at netPath ("": a new one) and hooks.
func ociBundle(t *testing.T, args []string, netPath string, hooks map[string]any) string {
	t.Helper()
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "proc", "dev", "tmp", "sys"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := harness.CopyExecutable(nettool(t), filepath.Join(rootfs, "bin", "nettool")); err != nil {
		t.Fatal(err)
	}
	if bb, err := exec.LookPath("busybox"); err == nil {
		harness.CopyExecutable(bb, filepath.Join(rootfs, "bin", "busybox"))
	}
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"args": args, "cwd": "/", "user": map[string]any{"uid": 0, "gid": 0},
			"env": []string{"PATH=/bin"},
		},
		"root":     map[string]any{"path": "rootfs"},
		"hostname": "netns-oci",
		"mounts":   []any{map[string]any{"destination": "/proc", "type": "proc", "source": "proc"}},
		"hooks":    hooks,
		"linux": map[string]any{"namespaces": []any{
			map[string]any{"type": "pid"}, map[string]any{"type": "mount"},
			map[string]any{"type": "network", "path": netPath},
		}},
	}
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ociRun creates and starts container id from bundle under a root of its
// own and deletes it when the test ends; it returns the state's pid.
func ociRun(t *testing.T, bundle, id string) (root string, pid int) {
	t.Helper()
	rt := suite.Runtime(t)
	root = t.TempDir()
	exo := func(args ...string) ([]byte, error) {
		return exec.Command(rt.Bin, append([]string{"--root", root}, args...)...).CombinedOutput()
	}
	// exo stays behind holding create's stdio: a file, not a pipe
	// CombinedOutput would wait on.
	outF, err := os.Create(filepath.Join(root, "create.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	create := exec.Command(rt.Bin, "--root", root, "create", "--bundle", bundle, id)
	create.Stdout, create.Stderr = outF, outF
	if err := create.Run(); err != nil {
		out, _ := os.ReadFile(outF.Name())
		t.Fatalf("create: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		exo("kill", id, "KILL")
		for i := 0; i < 50; i++ {
			if out, _ := exo("state", id); strings.Contains(string(out), `"stopped"`) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		exo("delete", "--force", id)
	})
	out, err := exo("state", id)
	if err != nil {
		t.Fatalf("state: %v\n%s", err, out)
	}
	var st struct{ Pid int }
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("state: %v\n%s", err, out)
	}
	if out, err := exo("start", id); err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	return root, st.Pid
}

// TestOCINetNSPath: a container whose spec names a network namespace (a
// CRI pod's, set up by CNI before create) gets its interface.
func TestOCINetNSPath(t *testing.T) {
	p := newPair(t)
	tool := nettool(t)
	b := ociBundle(t, []string{"/bin/nettool", "serve", ":8084", "oci-path"}, "/var/run/netns/"+p.sandbox, nil)
	root, _ := ociRun(t, b, "netns-path")
	expectBody(t, "server in the container", runFor(t, in(p.peer, tool, "get", "http://"+p.sandboxIP+":8084/")), "oci-path from /")
	background(t, in(p.peer, tool, "serve", p.peerIP+":8085", "peer-of-oci"))
	expectBody(t, "the container reaches the peer", ociExec(t, root, "netns-path", "/bin/nettool", "get", "http://"+p.peerIP+":8085/v"), "peer-of-oci from /v")
}

// ociExec runs argv in the container, a few times until the server it
// talks to is up.
func ociExec(t *testing.T, root, id string, argv ...string) result {
	t.Helper()
	rt := suite.Runtime(t)
	var r result
	for i := 0; i < 20; i++ {
		r = runFor(t, append([]string{rt.Bin, "--root", root, "exec", id}, argv...))
		if r.err == nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	return r
}

// TestOCINewNetNS: a network namespace without a path is a new one, the
// container's pid's; a prestart hook moves a veth into it and configures
// it, as docker's libnetwork-setkey does, and the sandbox gets it. The
// hook runs in the runtime's network namespace, as runc runs it.
func TestOCINewNetNS(t *testing.T) {
	harness.RequireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("needs nsenter")
	}
	tool := nettool(t)
	peer := "exo-nsh-" + strconv.Itoa(os.Getpid())
	run(t, "ip", "netns", "add", peer)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", peer).Run() })
	dir := t.TempDir()
	hookLog := filepath.Join(dir, "hook.log")
	hook := filepath.Join(dir, "hook.sh")
	script := `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
exec >>` + hookLog + ` 2>&1
pid=$(sed 's/.*"pid":\([0-9]*\).*/\1/')
echo "hook netns $(readlink /proc/self/ns/net) container netns $(readlink /proc/$pid/ns/net)"
ip link add exonshc type veth peer name eth0 netns ` + peer + ` || exit 1
ip link set exonshc netns /proc/$pid/ns/net || exit 1
nsenter --net=/proc/$pid/ns/net sh -c 'ip link set exonshc name eth0 && ip addr add 10.216.9.2/24 dev eth0 && ip link set eth0 up && ip route add default via 10.216.9.1' || exit 1
ip -n ` + peer + ` addr add 10.216.9.1/24 dev eth0
ip -n ` + peer + ` link set eth0 up
`
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	hooks := map[string]any{"prestart": []any{map[string]any{"path": hook, "args": []string{"hook.sh"}}}}
	b := ociBundle(t, []string{"/bin/nettool", "serve", ":8086", "oci-new"}, "", hooks)
	root, pid := ociRun(t, b, "netns-new")
	logged, _ := os.ReadFile(hookLog)
	own, _ := os.Readlink("/proc/self/ns/net")
	ctr, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if ctr == own || ctr == "" {
		t.Errorf("the container's pid %d is in netns %q, want a new one (this test's: %q)", pid, ctr, own)
	}
	if want := "hook netns " + own + " container netns " + ctr; !strings.Contains(string(logged), want) {
		t.Errorf("hook log: want %q\n%s", want, logged)
	}
	expectBody(t, "server in the container", runFor(t, in(peer, tool, "get", "http://10.216.9.2:8086/")), "oci-new from /")
	background(t, in(peer, tool, "serve", "10.216.9.1:8087", "peer-of-new"))
	expectBody(t, "the container reaches the peer", ociExec(t, root, "netns-new", "/bin/nettool", "get", "http://10.216.9.1:8087/w"), "peer-of-new from /w")
	host := runFor(t, []string{"nsenter", "--net=/proc/" + strconv.Itoa(pid) + "/ns/net", "ip", "addr", "show", "eth0"})
	if strings.Contains(string(host.out), "10.216.9.2") {
		t.Errorf("the host side of the container's netns holds the address the sandbox took:\n%s", host)
	}
}

// annotate adds annotations to the bundle's config.json.
func annotate(t *testing.T, bundle string, ann map[string]string) {
	t.Helper()
	p := filepath.Join(bundle, "config.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	spec["annotations"] = ann
	if data, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestOCINetworkRate: the dev.runsc-exo.network-rate annotation caps what
// the container sends: 1 MiB served at 200K (bytes per second, with a
// bucket of one second's worth) takes at least 3 s to reach the peer. A
// value that is not a rate fails create with the annotation's name.
func TestOCINetworkRate(t *testing.T) {
	p := newPair(t)
	tool := nettool(t)
	rt := suite.Runtime(t)
	bad := ociBundle(t, []string{"/bin/nettool", "serve", ":8088", "x"}, "/var/run/netns/"+p.sandbox, nil)
	annotate(t, bad, map[string]string{"dev.runsc-exo.network-rate": "fast"})
	out, err := exec.Command(rt.Bin, "--root", t.TempDir(), "create", "--bundle", bad, "rate-bad").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "dev.runsc-exo.network-rate") {
		t.Errorf("create with a bad rate: %v, want an error naming the annotation\n%s", err, out)
	}

	b := ociBundle(t, []string{"/bin/nettool", "serve", ":8089", "rated"}, "/var/run/netns/"+p.sandbox, nil)
	annotate(t, b, map[string]string{"dev.runsc-exo.network-rate": "200K"})
	ociRun(t, b, "rate-ok")
	expectBody(t, "server in the container", runFor(t, in(p.peer, tool, "get", "http://"+p.sandboxIP+":8089/")), "rated from /")
	start := time.Now()
	r := runFor(t, in(p.peer, tool, "count", "http://"+p.sandboxIP+":8089/bytes/1048576"))
	took := time.Since(start)
	expectBody(t, "1 MiB from the container", r, "1048576 bytes")
	t.Logf("1 MiB at 200K/s took %v", took)
	if took < 3*time.Second {
		t.Errorf("1 MiB at 200K/s took %v, want at least 3s", took)
	}
}
