// Package netns runs sandboxes with --network=sandbox in network
// namespaces the test makes (two, joined by a veth pair): a server in the
// sandbox reached from the peer namespace, the sandbox reaching a server
// there, a static Go HTTP server and client (testdata/nettool, built with
// CGO_ENABLED=0) and python3's http.server fetched with curl. Traffic
// stays inside the namespaces; they are removed at the end.
package netns

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"exokernelul.dev/exo/test/internal/harness"
)

var suite *harness.Suite

func TestMain(m *testing.M) {
	flag.Parse()
	harness.LimitParallel()
	s, err := harness.NewSuite("netns")
	if err != nil {
		fmt.Fprintln(os.Stderr, "netns: cannot create a scratch directory:", err)
		os.Exit(1)
	}
	suite = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}

var (
	buildOnce sync.Once
	toolBin   string
	buildErr  error
)

func nettool(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := harness.RepoRoot()
		if err != nil {
			buildErr = err
			return
		}
		toolBin = filepath.Join(suite.Dir, "nettool")
		cmd := exec.Command("go", "build", "-o", toolBin, "./test/netns/testdata/nettool")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build nettool: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return toolBin
}

// pair is two network namespaces joined by a veth pair: the sandbox's
// side (10.215.N.1/24) and the peer (10.215.N.2/24).
type pair struct {
	sandbox, peer     string
	sandboxIP, peerIP string
}

var nextNet = struct {
	sync.Mutex
	n int
}{}

func run(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// netIndex checks that t can make network namespaces and numbers the
// next ones, so that the tests' names and subnets never collide.
func netIndex(t *testing.T) int {
	t.Helper()
	harness.RequireRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip")
	}
	nextNet.Lock()
	defer nextNet.Unlock()
	nextNet.n++
	return nextNet.n
}

func newPair(t *testing.T) pair {
	t.Helper()
	n := netIndex(t)
	p := pair{
		sandbox: fmt.Sprintf("exo-ns-s%d-%d", n, os.Getpid()), peer: fmt.Sprintf("exo-ns-p%d-%d", n, os.Getpid()),
		sandboxIP: fmt.Sprintf("10.215.%d.1", n), peerIP: fmt.Sprintf("10.215.%d.2", n),
	}
	for _, ns := range []string{p.sandbox, p.peer} {
		run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "link", "add", "eth0", "netns", p.sandbox, "type", "veth", "peer", "name", "eth0", "netns", p.peer)
	run(t, "ip", "-n", p.sandbox, "addr", "add", p.sandboxIP+"/24", "dev", "eth0")
	run(t, "ip", "-n", p.peer, "addr", "add", p.peerIP+"/24", "dev", "eth0")
	run(t, "ip", "-n", p.sandbox, "link", "set", "eth0", "up")
	run(t, "ip", "-n", p.peer, "link", "set", "eth0", "up")
	return p
}

// in is argv run in netns ns.
func in(ns string, argv ...string) []string {
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

// sandboxed is argv under `runsc-exo do --network=sandbox` in the
// sandbox's netns.
func (p pair) sandboxed(t *testing.T, argv ...string) []string {
	rt := suite.Runtime(t)
	return in(p.sandbox, rt.DoArgs(harness.DoOpts{Extra: []string{"--network=sandbox"}}, argv...)...)
}

// The servers and clients here run without the harness's machine-wide
// slots: a server holds its slot for the whole test, and the client that
// talks to it must not wait for one.

// background starts args and stops it (and what it started) when the
// test ends.
func background(t *testing.T, args []string) {
	t.Helper()
	t.Logf("background: %s", harness.ShellQuote(args))
	var out strings.Builder
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("output of %s:\n%s", args[0], out.String())
		}
	})
}

// result is a finished client.
type result struct {
	args []string
	out  []byte
	err  error
}

func (r result) String() string {
	return fmt.Sprintf("$ %s\n%s(%v)", harness.ShellQuote(r.args), r.out, r.err)
}

// runFor runs args for at most two minutes and returns its output.
func runFor(t *testing.T, args []string) result {
	t.Helper()
	t.Logf("run: %s", harness.ShellQuote(args))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := cmd.CombinedOutput()
	return result{args: args, out: out, err: err}
}

func expectBody(t *testing.T, what string, r result, want string) {
	t.Helper()
	if r.err != nil || !strings.Contains(string(r.out), want) {
		t.Errorf("%s: want %q in the output\n%s", what, want, r)
	}
}

// TestServerInSandbox: a Go HTTP server in the sandbox, fetched from the
// peer namespace by the same program run natively and by curl.
func TestServerInSandbox(t *testing.T) {
	p := newPair(t)
	tool := nettool(t)
	background(t, p.sandboxed(t, tool, "serve", ":8080", "sandboxed-go"))
	url := "http://" + p.sandboxIP + ":8080/x"
	expectBody(t, "native Go client", runFor(t, in(p.peer, tool, "get", url)), "sandboxed-go from /x")
	if _, err := exec.LookPath("curl"); err == nil {
		expectBody(t, "curl", runFor(t, in(p.peer, "curl", "-sS", "-m", "10", url)), "sandboxed-go from /x")
	}
}

// TestClientInSandbox: the sandbox fetches from a server in the peer
// namespace, with the Go client and with curl.
func TestClientInSandbox(t *testing.T) {
	p := newPair(t)
	tool := nettool(t)
	background(t, in(p.peer, tool, "serve", p.peerIP+":8081", "native-go"))
	url := "http://" + p.peerIP + ":8081/y"
	expectBody(t, "sandboxed Go client", runFor(t, p.sandboxed(t, tool, "get", url)), "native-go from /y")

	// A sandbox takes the interface's addresses: the next one gets a
	// pair of its own.
	if _, err := exec.LookPath("curl"); err == nil {
		p := newPair(t)
		background(t, in(p.peer, tool, "serve", p.peerIP+":8082", "peer-server"))
		expectBody(t, "sandboxed curl", runFor(t, p.sandboxed(t, "/bin/sh", "-c",
			"for i in $(seq 40); do curl -sS -m 5 http://"+p.peerIP+":8082/z && exit 0; sleep 0.25; done; exit 1")), "peer-server from /z")
	}
}

// TestPythonHTTPServer: python3 -m http.server in the sandbox, fetched
// with curl from the peer namespace.
func TestPythonHTTPServer(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("needs python3")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl")
	}
	p := newPair(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello from python in the sandbox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := suite.Runtime(t)
	args := in(p.sandbox, rt.DoArgs(harness.DoOpts{Extra: []string{"--network=sandbox", "--mount", "type=bind,src=" + dir + ",dst=/mnt,ro"}},
		py, "-m", "http.server", "-d", "/mnt", "8000")...)
	background(t, args)
	url := "http://" + p.sandboxIP + ":8000/hello.txt"
	var r result
	for i := 0; i < 120; i++ {
		r = runFor(t, in(p.peer, "curl", "-sS", "-m", "5", url))
		if r.err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	expectBody(t, "curl from the peer", r, "hello from python in the sandbox")

}

// TestIPAddrInSandbox: the sandbox's ip addr shows the interface with its
// address, which the host side does not hold while the sandbox runs and
// gets back when it ends; a second sandbox then gets the interface again.
func TestIPAddrInSandbox(t *testing.T) {
	p := newPair(t)
	hostHas := func() bool {
		host := runFor(t, []string{"ip", "-n", p.sandbox, "addr", "show", "eth0"})
		return strings.Contains(string(host.out), "inet "+p.sandboxIP+"/24")
	}
	r := runFor(t, p.sandboxed(t, "/bin/sh", "-c", "ip addr; ip route"))
	expectBody(t, "ip addr", r, "inet "+p.sandboxIP+"/24")
	expectBody(t, "ip addr", r, "inet 127.0.0.1/8 scope host lo")
	expectBody(t, "ip route", r, p.sandboxIP[:strings.LastIndex(p.sandboxIP, ".")]+".0/24 dev eth0")
	if !hostHas() {
		t.Errorf("the host side did not get %s back after the sandbox ended", p.sandboxIP)
	}
	tool := nettool(t)
	background(t, p.sandboxed(t, tool, "serve", ":8083", "second-sandbox"))
	expectBody(t, "second sandbox on the same interface", runFor(t, in(p.peer, tool, "get", "http://"+p.sandboxIP+":8083/")), "second-sandbox from /")
	if hostHas() {
		t.Errorf("the host side holds %s while a sandbox has the interface", p.sandboxIP)
	}
}

// TestProcNetInSandbox: /proc/net/dev and /proc/net/route inside the
// sandbox show the granted interface, its on-link route and lo, and
// netstat (net-tools), which reads them, lists the interface.
func TestProcNetInSandbox(t *testing.T) {
	p := newPair(t)
	r := runFor(t, p.sandboxed(t, "/bin/sh", "-c", "cat /proc/net/dev /proc/net/route; netstat -rn"))
	expectBody(t, "/proc/net/dev", r, "  eth0: ")
	expectBody(t, "/proc/net/dev", r, "    lo: ")
	// 10.215.N.0/24 as the kernel prints it: the network-order word as
	// a little-endian number, then the mask 255.255.255.0 likewise.
	ip := net.ParseIP(p.sandboxIP).To4()
	route := fmt.Sprintf("eth0\t%02X%02X%02X%02X\t00000000\t0001\t0\t0\t0\t00FFFFFF\t", 0, ip[2], ip[1], ip[0])
	expectBody(t, "/proc/net/route", r, route)
	if _, err := exec.LookPath("netstat"); err == nil {
		expectBody(t, "netstat -rn", r, p.sandboxIP[:strings.LastIndex(p.sandboxIP, ".")]+".0")
	}
}

// TestPingInSandbox: iputils' ping in the sandbox (a raw ICMP socket,
// root having CAP_NET_RAW) reaches 127.0.0.1 and the peer across the
// veth.
func TestPingInSandbox(t *testing.T) {
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("needs iputils-ping")
	}
	p := newPair(t)
	for _, dst := range []string{"127.0.0.1", p.peerIP} {
		r := runFor(t, p.sandboxed(t, "ping", "-c1", "-W5", dst))
		expectBody(t, "ping "+dst, r, "1 received")
	}
}
