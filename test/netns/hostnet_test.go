package netns

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"exokernelul.dev/exo/test/internal/harness"
)

// hostNS is a fresh network namespace with only lo up: with
// `runsc-exo do --network=host` run in it, "the host's network" is that
// namespace, so no traffic leaves what the test made.
func hostNS(t *testing.T) string {
	t.Helper()
	ns := fmt.Sprintf("exo-ns-h%d-%d", netIndex(t), os.Getpid())
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	return ns
}

// hosted is argv under `runsc-exo do --network=host` in netns ns.
func hosted(t *testing.T, ns string, argv ...string) []string {
	rt := suite.Runtime(t)
	return in(ns, rt.DoArgs(harness.DoOpts{Extra: []string{"--network=host"}}, argv...)...)
}

// TestHostNetwork: with --network=host the sandbox's TCP and UDP sockets
// are the host's: a sandboxed server is reached by a native client on the
// namespace's loopback, over IPv4 and IPv6, a sandboxed client reaches a
// native server, UDP goes both ways, and raw, packet and ping sockets are
// still refused.
func TestHostNetwork(t *testing.T) {
	ns := hostNS(t)
	tool := nettool(t)

	background(t, hosted(t, ns, tool, "serve", "127.0.0.1:8090", "sandboxed-tcp"))
	expectBody(t, "native client of a sandboxed server", runFor(t, in(ns, tool, "get", "http://127.0.0.1:8090/a")), "sandboxed-tcp from /a")
	background(t, hosted(t, ns, tool, "serve", "[::1]:8094", "sandboxed-tcp6"))
	expectBody(t, "native client of a sandboxed IPv6 server", runFor(t, in(ns, tool, "get", "http://[::1]:8094/v6")), "sandboxed-tcp6 from /v6")

	background(t, in(ns, tool, "serve", "127.0.0.1:8091", "native-tcp"))
	expectBody(t, "sandboxed client of a native server", runFor(t, hosted(t, ns, tool, "get", "http://127.0.0.1:8091/b")), "native-tcp from /b")

	background(t, hosted(t, ns, tool, "udpecho", "127.0.0.1:8092", "sandboxed-udp"))
	expectBody(t, "native UDP to the sandbox", runFor(t, in(ns, tool, "udpsend", "127.0.0.1:8092", "ping1")), "sandboxed-udp got ping1")
	background(t, in(ns, tool, "udpecho", "[::1]:8093", "native-udp"))
	expectBody(t, "sandboxed UDP to the host", runFor(t, hosted(t, ns, tool, "udpsend", "[::1]:8093", "ping2")), "native-udp got ping2")

	r := runFor(t, hosted(t, ns, tool, "raw"))
	if r.err != nil || strings.Contains(string(r.out), "SUCCEEDED") {
		t.Errorf("raw, packet or ping sockets in host mode:\n%s", r)
	}
}

// TestHostNetworkCurl: curl in the sandbox fetches from a native server,
// and python3's socket module sees a refused connect and SO_ERROR as on
// Linux.
func TestHostNetworkCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl")
	}
	ns := hostNS(t)
	tool := nettool(t)
	background(t, in(ns, tool, "serve", "127.0.0.1:8095", "native-for-curl"))
	expectBody(t, "sandboxed curl", runFor(t, hosted(t, ns, "/bin/sh", "-c",
		"for i in $(seq 40); do curl -sS -m 5 http://127.0.0.1:8095/c && exit 0; sleep 0.25; done; exit 1")), "native-for-curl from /c")
	if _, err := exec.LookPath("python3"); err == nil {
		r := runFor(t, hosted(t, ns, "python3", "-c",
			"import socket; s=socket.socket(); print('refused', s.connect_ex(('127.0.0.1', 1)) == 111)"))
		expectBody(t, "python connect to a closed port", r, "refused True")
	}
}
