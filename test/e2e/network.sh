#!/usr/bin/env bash
# End-to-end networking: the library OS's TCP/IP on the interface the
# container's network setup made. docker on a user-defined bridge network
# (docker's libnetwork-setkey prestart hook puts a veth in the container's
# new netns after create): a sandboxed busybox httpd reached from the host
# at the container's IP and through -p on 127.0.0.1, the container reaching
# a server on the bridge's gateway IP; --network=host (host sockets: the
# container reaches the host's server on the gateway IP; its netlink still
# shows the library OS's lo only). Then
# a CRI pod on a CNI bridge network (containernetworking-plugins' bridge +
# host-local): the pod gets an IP, its httpd is reached from the host at it.
# Traffic stays on loopback and the test's own bridges; they are removed
# at the end.
source "$(dirname "$0")/lib.sh"

install_packages containerd runc docker.io busybox-static gcc libc6-dev containernetworking-plugins curl
CACHE_BIN=${CACHE_BIN:-/var/cache/runsc-exo-ci/bin}
build_runtime
build_images

# The bridge plugin (isGateway) and docker may turn on IPv4 forwarding.
fwd=$(cat /proc/sys/net/ipv4/ip_forward)
CLEANUPS+=("echo $fwd >/proc/sys/net/ipv4/ip_forward")
DBR=exoe2e-dkr0 CBR=exoe2e-cni0
CLEANUPS+=("ip link del $DBR 2>/dev/null; ip link del $CBR 2>/dev/null")
# (busybox-static's wget crashes, natively too, fetching from an address
# off loopback: curl on the host, nc in the containers.)
WGET="curl -sS -m 5"

# fetch URL: the body, retried while the server comes up.
fetch() {
	local i out
	for i in $(seq 1 40); do
		out=$($WGET "$1" 2>/dev/null) && { echo "$out"; return 0; }
		sleep 0.25
	done
	return 1
}

# The CNI network, read by containerd's CRI plugin at start.
mkdir -p "$E2E/cni/net.d" "$E2E/cni/ipam"
cat >"$E2E/cni/net.d/10-exo-e2e.conflist" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "exo-e2e-cni",
  "plugins": [
    {
      "type": "bridge", "bridge": "$CBR", "isGateway": true, "ipMasq": false,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "10.214.0.0/24" }]],
                "routes": [{ "dst": "0.0.0.0/0" }], "dataDir": "$E2E/cni/ipam" }
    }
  ]
}
JSON
start_containerd
DOCKER_ADD_RUNTIME=1 start_dockerd
DOCKER=/usr/bin/docker
expect "dockerd --add-runtime registers the runtime" yes "$($DOCKER info --format '{{range $k, $v := .Runtimes}}{{if eq $k "exo"}}yes{{end}}{{end}}')"
$DOCKER load -i "$E2E/images/busybox.tar" >/dev/null
IMG=localhost/exo-e2e/busybox:1

log "docker: a user-defined bridge network"
$DOCKER network create -d bridge --subnet 10.213.0.0/24 -o com.docker.network.bridge.name=$DBR exo-e2e-net >/dev/null
CLEANUPS+=("$DOCKER network rm exo-e2e-net >/dev/null 2>&1")
# busybox httpd serves /www (cwd of -h); -f keeps it in the foreground.
$DOCKER run -d --runtime=exo --network exo-e2e-net --name web -p 127.0.0.1:18213:80 $IMG \
	sh -c 'mkdir -p /www && echo hello-from-docker-net >/www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
ip=$($DOCKER inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' web)
expect_contains "the container has an address on the bridge" "10.213.0." "$ip"
expect "the host reaches the sandboxed httpd at the container's IP" hello-from-docker-net "$(fetch "http://$ip/index.html")"
expect "docker run -p 127.0.0.1:18213:80 (userland proxy)" hello-from-docker-net "$(fetch "http://127.0.0.1:18213/index.html")"
pid=$($DOCKER inspect -f '{{.State.Pid}}' web)
expect "the container's pid is in a netns of its own" different "$([[ $(readlink /proc/$pid/ns/net) != $(readlink /proc/self/ns/net) ]] && echo different)"
expect_contains "the sandbox's ip addr shows the address" "inet $ip/24" "$(timeout 30 $DOCKER exec web ip addr 2>&1)"
expect "the host side of the netns no longer holds it" "" "$(nsenter --net=/proc/$pid/ns/net ip -4 -o addr show scope global 2>&1)"
mkdir -p "$E2E/www" && echo hello-from-the-host >"$E2E/www/host.txt"
busybox httpd -f -p 10.213.0.1:18214 -h "$E2E/www" &
hpid=$!
CLEANUPS+=("kill $hpid 2>/dev/null")
expect "the container reaches a server on the bridge's gateway IP" hello-from-the-host \
	"$(timeout 60 $DOCKER run --rm --runtime=exo --network exo-e2e-net $IMG sh -c 'for i in $(seq 20); do printf "GET /host.txt HTTP/1.0\r\n\r\n" | nc 10.213.0.1 18214 | tail -1 | grep . && exit 0; sleep 0.25; done; exit 1' 2>&1)"
# docker's embedded DNS (127.0.0.11 in resolv.conf, answered through the
# namespace's iptables rules): the library OS relays through exo's socket.
expect_contains "a container resolves another's name through docker's embedded DNS" "Address: $ip" \
	"$(timeout 60 $DOCKER run --rm --runtime=exo --network exo-e2e-net $IMG sh -c 'grep nameserver /etc/resolv.conf; nslookup web 127.0.0.11' 2>&1)"
timeout 30 $DOCKER rm -f web >/dev/null
expect "docker --network=host: the host's sockets reach the host's server" hello-from-the-host \
	"$(timeout 60 $DOCKER run --rm --runtime=exo --network host $IMG sh -c 'printf "GET /host.txt HTTP/1.0\r\n\r\n" | nc 10.213.0.1 18214 | tail -1' 2>&1)"
expect "docker --network=host: netlink shows the library OS's lo only" "lo" \
	"$(timeout 60 $DOCKER run --rm --runtime=exo --network host $IMG sh -c 'ip -o link | cut -d: -f2 | tr -d " "' 2>&1)"
expect "docker --network=none: loopback only" "lo" \
	"$(timeout 60 $DOCKER run --rm --runtime=exo --network none $IMG sh -c 'ip -o link | cut -d: -f2 | tr -d " "' 2>&1)"

log "CRI: a pod on a CNI bridge network"
if ! "$CACHE_BIN/crictl" --version >/dev/null 2>&1; then
	fail "no crictl in $CACHE_BIN (cri.sh installs it)"
	exit 1
fi
ctr -n k8s.io images import "$E2E/images/busybox.tar" >/dev/null
ctr -n k8s.io images import "$E2E/images/pause.tar" >/dev/null
cat >"$E2E/crictl.yaml" <<YAML
runtime-endpoint: unix://$CONTAINERD_ADDRESS
image-endpoint: unix://$CONTAINERD_ADDRESS
timeout: 60
YAML
CRI="$CACHE_BIN/crictl --config $E2E/crictl.yaml"
CLEANUPS+=("cri_cleanup")
cri_cleanup() {
	local p
	for p in $($CRI pods -q 2>/dev/null); do $CRI stopp "$p" >/dev/null 2>&1; $CRI rmp "$p" >/dev/null 2>&1; done
	local cg
	for cg in /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/k8s.io; do
		[[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	true
}
mkdir -p "$E2E/cri/logs"
cat >"$E2E/cri/pod.json" <<JSON
{
  "metadata": { "name": "exo-e2e-netpod", "namespace": "default", "uid": "exo-e2e-netpod-uid", "attempt": 0 },
  "log_directory": "$E2E/cri/logs"
}
JSON
cat >"$E2E/cri/ctr.json" <<'JSON'
{
  "metadata": { "name": "web" },
  "image": { "image": "localhost/exo-e2e/busybox:1" },
  "command": [ "/bin/sh", "-c", "mkdir -p /www && echo hello-from-the-pod >/www/index.html && exec httpd -f -p 8080 -h /www" ],
  "log_path": "web.log"
}
JSON
pod=$($CRI runp --runtime exo "$E2E/cri/pod.json")
expect "pod is ready" SANDBOX_READY "$($CRI inspectp -o go-template --template '{{.status.state}}' "$pod")"
podip=$($CRI inspectp -o go-template --template '{{.status.network.ip}}' "$pod")
expect_contains "the pod has an IP on the CNI bridge" "10.214.0." "$podip"
ctr=$($CRI create "$pod" "$E2E/cri/ctr.json" "$E2E/cri/pod.json")
$CRI start "$ctr" >/dev/null
expect "the host reaches the pod's httpd at the pod IP" hello-from-the-pod "$(fetch "http://$podip:8080/index.html")"
expect_contains "the pod's container sees the pod IP" "inet $podip/24" "$($CRI exec -s "$ctr" ip addr 2>&1)"
$CRI stopp "$pod" >/dev/null
$CRI rmp "$pod" >/dev/null
