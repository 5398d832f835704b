#!/usr/bin/env bash
# Network throughput of servers natively and in runsc-exo, in one run:
# redis-benchmark (SET and GET, 50 clients) against redis-server, wrk
# against nginx, and one iperf3 TCP stream each way. The server runs in a
# network namespace of the script's own, natively and then under
# `runsc-exo do --network=sandbox` (the library OS's TCP/IP on the same
# veth), the client natively in the peer namespace; rounds alternate and
# the median is reported as a ratio. Not a test: no figure is asserted.
# Traffic stays on the veth pair; the namespaces are removed at the end.
#   tools/bench/net.sh [ROUNDS] [SECONDS]     (ONLY=redis|nginx|iperf: one of them)
set -euo pipefail
ROUNDS=${1:-3}
SECS=${2:-10}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
export PATH=/usr/local/go/bin:$PATH
W=$(mktemp -d /var/tmp/exo-netbench.XXXXXX)
EXO=$W/runsc-exo
S=exo-nb-srv-$$ C=exo-nb-cli-$$
SIP=10.217.0.1 CIP=10.217.0.2
cleanup() {
	ip netns pids "$S" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns pids "$C" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	ip netns del "$S" 2>/dev/null || true
	ip netns del "$C" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
for p in redis-server redis-benchmark nginx wrk iperf3; do
	command -v "$p" >/dev/null || { echo "needs $p (apt-get install redis-server redis-tools nginx-light wrk iperf3)" >&2; exit 1; }
done
(cd "$REPO" && CGO_ENABLED=0 go build -o "$EXO" ./runsc-exo)
ip netns add "$S"
ip netns add "$C"
ip -n "$S" link set lo up
ip -n "$C" link set lo up
ip link add eth0 netns "$S" type veth peer name eth0 netns "$C"
ip -n "$S" addr add $SIP/24 dev eth0
ip -n "$C" addr add $CIP/24 dev eth0
ip -n "$S" link set eth0 up
ip -n "$C" link set eth0 up

mkdir -p "$W/www"
head -c 612 /dev/zero | tr '\0' x >"$W/www/index.html"
cat >"$W/nginx.conf" <<CONF
worker_processes 1;
error_log stderr warn;
pid /tmp/exo-nb-nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path /tmp/exo-nb-cb; proxy_temp_path /tmp/exo-nb-px;
  fastcgi_temp_path /tmp/exo-nb-fc; uwsgi_temp_path /tmp/exo-nb-uw; scgi_temp_path /tmp/exo-nb-sc;
  server { listen 8080; root $W/www; }
}
CONF

# server MODE PORT ARGV...: start ARGV natively or sandboxed in $S and
# wait for PORT to answer from $C.
server() {
	local mode=$1 port=$2 i
	shift 2
	if [[ $mode == native ]]; then
		ip netns exec "$S" "$@" >"$W/server.log" 2>&1 &
	else
		# The host's / is the sandbox's read-only lower layer: $W (not
		# under /tmp, which is the sandbox's own tmpfs) is there.
		ip netns exec "$S" "$EXO" do --network=sandbox -- "$@" >"$W/server.log" 2>&1 &
	fi
	SPID=$!
	# Port 0: no probe (a connection that closes at once makes iperf3
	# reopen its listener, and a client connecting meanwhile is reset);
	# the client retries instead.
	[[ $port == 0 ]] && return 0
	for i in $(seq 1 200); do
		ip netns exec "$C" bash -c "exec 3<>/dev/tcp/$SIP/$port" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "server $* ($mode) did not come up:" >&2
	cat "$W/server.log" >&2
	return 1
}
stop_server() {
	kill -INT "$SPID" 2>/dev/null || true
	for i in $(seq 1 100); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$SPID" 2>/dev/null || true
	wait "$SPID" 2>/dev/null || true
	# The sandbox gives the address back when it ends.
	for i in $(seq 1 50); do ip -n "$S" -4 addr show eth0 | grep -q $SIP && break; sleep 0.1; done
}

declare -A R
want() { [[ -z ${ONLY:-} || $ONLY == "$1" ]]; }
record() { R[$1]+="$2 "; }
median() { tr ' ' '\n' | { grep . || true; } | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for round in $(seq 1 "$ROUNDS"); do
	for mode in native sandbox; do
		echo "round $round: $mode" >&2
		want redis && {
		server $mode 6379 redis-server --port 6379 --bind 0.0.0.0 --protected-mode no --save '' --appendonly no --dir /tmp
		out=$(ip netns exec "$C" redis-benchmark -h $SIP -p 6379 -c 50 -n $((SECS * 10000)) -t set,get -q 2>&1 | tr '\r' '\n') || true
		record "redis-set-$mode" "$(grep -o '^SET: [0-9.]*' <<<"$out" | tail -1 | cut -d' ' -f2)"
		record "redis-get-$mode" "$(grep -o '^GET: [0-9.]*' <<<"$out" | tail -1 | cut -d' ' -f2)"
		stop_server
		}

		want nginx && {
		server $mode 8080 nginx -c $W/nginx.conf -g 'daemon off;'
		out=$(ip netns exec "$C" wrk -t2 -c50 -d${SECS}s http://$SIP:8080/index.html 2>&1) || true
		record "nginx-$mode" "$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
		stop_server
		}

		want iperf || continue
		for dir in in out; do
			server $mode 0 iperf3 -s -p 5201
			flag=; [[ $dir == out ]] && flag=-R
			for i in $(seq 1 40); do
				out=$(ip netns exec "$C" iperf3 -c $SIP -p 5201 -t $SECS -f m $flag 2>&1) && break
				sleep 0.25
			done
			record "iperf-$dir-$mode" "$(awk '/receiver/ {print $7}' <<<"$out" | tail -1)"
			stop_server
		done
	done
done

echo "median of $ROUNDS rounds of ${SECS}s, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| measure | unit | native | runsc-exo | runsc-exo ÷ native |"
echo "| --- | --- | --- | --- | --- |"
row() {
	local n s
	n=$(median <<<"${R[$2-native]:-}")
	s=$(median <<<"${R[$2-sandbox]:-}")
	printf '| %s | %s | %s | %s | %s× |\n' "$1" "$3" "${n:-—}" "${s:-—}" \
		"$(awk -v a="$s" -v b="$n" 'BEGIN{if (a == "" || b == "" || b == 0) print "—"; else printf "%.2f", a/b}')"
}
row "redis-benchmark SET, 50 clients" redis-set "requests/s"
row "redis-benchmark GET, 50 clients" redis-get "requests/s"
row "wrk against nginx, 612-byte page, 2 threads, 50 connections" nginx "requests/s"
row "iperf3, one TCP stream into the server" iperf-in "Mbit/s"
row "iperf3 -R, one TCP stream out of the server" iperf-out "Mbit/s"
