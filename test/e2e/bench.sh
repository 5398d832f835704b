#!/usr/bin/env bash
# Times `ctr run --rm` and `docker run --rm` of the busybox image with runc
# and with runsc-exo in one run (interleaved, N rounds, median) and prints
# the ratios. Not a test: timings are never asserted.
#   test/e2e/bench.sh [N]
source "$(dirname "$0")/lib.sh"
N=${1:-10}

install_packages containerd runc docker.io busybox-static gcc libc6-dev
build_runtime
build_images
start_containerd
start_dockerd
ctr -n $CTR_NS images import "$E2E/images/busybox.tar" >/dev/null
DOCKER=/usr/bin/docker
$DOCKER load -i "$E2E/images/busybox.tar" >/dev/null
IMG=localhost/exo-e2e/busybox:1

# ms CMD...: wall time of one command in milliseconds.
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A times
for i in $(seq 1 "$N"); do
	times[ctr-runc]+="$(ms ctr -n $CTR_NS run --rm $IMG b-runc-$i) "
	times[ctr-exo]+="$(ms ctr -n $CTR_NS run --rm --runtime io.containerd.runc.v2 --runc-binary "$EXO" --runc-root "$E2E/ctr-root" $IMG b-exo-$i) "
	times[docker-runc]+="$(ms $DOCKER run --rm --runtime=runc $IMG) "
	times[docker-exo]+="$(ms $DOCKER run --rm --runtime=exo $IMG) "
done
echo "median of $N, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| command (busybox echo) | runc ms | runsc-exo ms | runsc-exo ÷ runc |"
echo "| --- | --- | --- | --- |"
for c in ctr docker; do
	r=$(tr ' ' '\n' <<<"${times[$c-runc]}" | grep . | median)
	e=$(tr ' ' '\n' <<<"${times[$c-exo]}" | grep . | median)
	printf '| %s run --rm | %s | %s | %s× |\n' "$c" "$r" "$e" "$(awk -v a="$e" -v b="$r" 'BEGIN{printf "%.2f", a/b}')"
done
