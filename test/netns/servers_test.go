package netns

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"exokernelul.dev/exo/test/internal/harness"
)

// needs skips t unless every program is installed (tools/setup installs
// them, so a CI run always has them).
func needs(t *testing.T, progs ...string) {
	t.Helper()
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("needs %s (tools/setup installs it)", p)
		}
	}
}

// waitFor runs args in the peer until it succeeds and its output contains
// want, for up to a minute. On failure it also shows the sandbox side's
// addresses: still there means exo never took them off, that is never
// opened the NIC; gone means the sandbox's stack answered.
func (p pair) waitFor(t *testing.T, args []string, want string) result {
	t.Helper()
	var r result
	for i := 0; i < 120; i++ {
		r = runFor(t, in(p.peer, args...))
		if r.err == nil && strings.Contains(string(r.out), want) {
			return r
		}
		time.Sleep(500 * time.Millisecond)
	}
	addrs, _ := exec.Command("ip", "-n", p.sandbox, "addr", "show", "eth0").CombinedOutput()
	t.Fatalf("never answered %q:\n%s\nthe sandbox's netns:\n%s", want, r, addrs)
	return r
}

// TestRedisInSandbox: redis-server in the sandbox, driven from the peer
// namespace by redis-cli and by redis-benchmark with 50 clients; every
// request must be answered.
func TestRedisInSandbox(t *testing.T) {
	needs(t, "redis-server", "redis-cli", "redis-benchmark")
	p := newPair(t)
	background(t, p.sandboxed(t, "redis-server", "--port", "6379", "--bind", "0.0.0.0", "--protected-mode", "no",
		"--save", "", "--appendonly", "no", "--dir", "/tmp"))
	p.waitFor(t, []string{"redis-cli", "-h", p.sandboxIP, "ping"}, "PONG")
	expectBody(t, "redis-cli set", runFor(t, in(p.peer, "redis-cli", "-h", p.sandboxIP, "set", "greeting", "from-the-peer")), "OK")
	expectBody(t, "redis-cli get", runFor(t, in(p.peer, "redis-cli", "-h", p.sandboxIP, "get", "greeting")), "from-the-peer")
	const n = 20000
	r := runFor(t, in(p.peer, "redis-benchmark", "-h", p.sandboxIP, "-c", "50", "-n", strconv.Itoa(n), "-t", "set,get", "--csv"))
	if r.err != nil {
		t.Fatalf("redis-benchmark failed:\n%s", r)
	}
	for _, test := range []string{"SET", "GET"} {
		m := regexp.MustCompile(`"` + test + `","([0-9.]+)"`).FindSubmatch(r.out)
		if m == nil {
			t.Errorf("redis-benchmark: no %s result:\n%s", test, r)
			continue
		}
		if rps, _ := strconv.ParseFloat(string(m[1]), 64); rps <= 0 {
			t.Errorf("redis-benchmark %s: %s requests per second:\n%s", test, m[1], r)
		}
	}
	// Every SET and GET above went through: the server counted them.
	r = runFor(t, in(p.peer, "redis-cli", "-h", p.sandboxIP, "info", "stats"))
	m := regexp.MustCompile(`total_commands_processed:([0-9]+)`).FindSubmatch(r.out)
	if m == nil {
		t.Fatalf("redis-cli info stats:\n%s", r)
	}
	if got, _ := strconv.Atoi(string(m[1])); got < 2*n {
		t.Errorf("the sandboxed redis processed %d commands, want at least %d", got, 2*n)
	}
}

// TestNginxInSandbox: nginx in the sandbox serving a static page, fetched
// by curl and loaded by wrk (50 connections) from the peer namespace with
// no socket errors and only 200s.
func TestNginxInSandbox(t *testing.T) {
	needs(t, "nginx", "wrk", "curl")
	p := newPair(t)
	dir := t.TempDir()
	page := strings.Repeat("x", 600) + "\n"
	if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "www", "index.html"), []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := `worker_processes 1;
error_log stderr warn;
pid /tmp/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path /tmp/cb; proxy_temp_path /tmp/px;
  fastcgi_temp_path /tmp/fc; uwsgi_temp_path /tmp/uw; scgi_temp_path /tmp/sc;
  server { listen 8080; root /mnt/www; }
}
`
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	rt := suite.Runtime(t)
	background(t, in(p.sandbox, rt.DoArgs(harness.DoOpts{Extra: []string{"--network=sandbox", "--mount", "type=bind,src=" + dir + ",dst=/mnt,ro"}},
		"nginx", "-c", "/mnt/nginx.conf", "-g", "daemon off;")...))
	url := "http://" + p.sandboxIP + ":8080/index.html"
	p.waitFor(t, []string{"curl", "-sS", "-m", "5", url}, page[:100])
	r := runFor(t, in(p.peer, "wrk", "-t2", "-c50", "-d3s", url))
	if r.err != nil {
		t.Fatalf("wrk failed:\n%s", r)
	}
	out := string(r.out)
	m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("wrk: no request count:\n%s", r)
	}
	if n, _ := strconv.Atoi(m[1]); n < 50 {
		t.Errorf("wrk: %d requests, want at least one per connection:\n%s", n, r)
	}
	for _, bad := range []string{"Socket errors", "Non-2xx"} {
		if strings.Contains(out, bad) {
			t.Errorf("wrk reports %s:\n%s", bad, r)
		}
	}
}

// TestIperf3InSandbox: an iperf3 server in the sandbox takes a stream each
// way from the peer namespace, after a client that connected and closed at
// once (a port probe). The probe makes iperf3 close its listener and open
// a new one; a client that connects in between is reset, as on Linux,
// where the window is only shorter: the client retries.
func TestIperf3InSandbox(t *testing.T) {
	needs(t, "iperf3")
	p := newPair(t)
	background(t, p.sandboxed(t, "iperf3", "-s", "-p", "5201"))
	p.waitFor(t, []string{"bash", "-c", "exec 3<>/dev/tcp/" + p.sandboxIP + "/5201 && echo connected"}, "connected")
	for _, dir := range [][]string{nil, {"-R"}} {
		args := append([]string{"iperf3", "-c", p.sandboxIP, "-p", "5201", "-t", "1", "-f", "m"}, dir...)
		var r result
		for i := 0; i < 20; i++ {
			if r = runFor(t, in(p.peer, args...)); r.err == nil {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		m := regexp.MustCompile(`([0-9.]+) Mbits/sec\s+receiver`).FindSubmatch(r.out)
		if r.err != nil || m == nil {
			t.Errorf("iperf3 %v:\n%s", dir, r)
			continue
		}
		if v, _ := strconv.ParseFloat(string(m[1]), 64); v <= 0 {
			t.Errorf("iperf3 %v: %s Mbit/s:\n%s", dir, m[1], r)
		}
	}
}
