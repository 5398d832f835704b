#!/usr/bin/env bash
# End-to-end: Kubernetes' view, through containerd's CRI plugin with a
# runtime handler "exo" (what a RuntimeClass with handler: exo selects) and
# crictl: a pod, a container in it, logs, exec, stats, update, stop, remove.
source "$(dirname "$0")/lib.sh"

install_packages containerd runc busybox-static gcc libc6-dev containernetworking-plugins
CRICTL_VERSION=v1.37.0
CACHE_BIN=${CACHE_BIN:-/var/cache/runsc-exo-ci/bin}
if ! "$CACHE_BIN/crictl" --version >/dev/null 2>&1; then
	log "go install crictl $CRICTL_VERSION (several minutes the first time)"
	mkdir -p "$CACHE_BIN"
	GOBIN=$CACHE_BIN GOTOOLCHAIN=local go install sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION
fi
build_runtime
build_images
start_containerd
ctr -n k8s.io images import "$E2E/images/busybox.tar" >/dev/null
ctr -n k8s.io images import "$E2E/images/pause.tar" >/dev/null
CLEANUPS+=("cri_cleanup")
cri_cleanup() {
	local p
	for p in $($CRI pods -q 2>/dev/null); do $CRI stopp "$p" >/dev/null 2>&1; $CRI rmp "$p" >/dev/null 2>&1; done
	ctr -n k8s.io images rm localhost/exo-e2e/busybox:1 localhost/exo-e2e/pause:1 >/dev/null 2>&1
	local cg
	for cg in /sys/fs/cgroup/*/k8s.io /sys/fs/cgroup/k8s.io; do
		[[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	true
}
cat >"$E2E/crictl.yaml" <<YAML
runtime-endpoint: unix://$CONTAINERD_ADDRESS
image-endpoint: unix://$CONTAINERD_ADDRESS
timeout: 60
YAML
CRI="$CACHE_BIN/crictl --config $E2E/crictl.yaml"

mkdir -p "$E2E/cri/logs"
cat >"$E2E/cri/pod.json" <<JSON
{
  "metadata": { "name": "exo-e2e-pod", "namespace": "default", "uid": "exo-e2e-uid", "attempt": 0 },
  "log_directory": "$E2E/cri/logs",
  "linux": { "security_context": { "namespace_options": { "network": 2 } } }
}
JSON
cat >"$E2E/cri/ctr.json" <<'JSON'
{
  "metadata": { "name": "hello" },
  "image": { "image": "localhost/exo-e2e/busybox:1" },
  "command": [ "/bin/sh", "-c", "echo hello-from-cri; trap 'echo got-TERM; exit 0' TERM; while :; do sleep 1; done" ],
  "log_path": "hello.log",
  "linux": { "resources": { "memory_limit_in_bytes": 134217728, "cpu_shares": 256 } }
}
JSON

log "crictl runp --runtime ${HANDLER:-exo}"
HANDLER=${HANDLER:-exo}
pod=$($CRI runp --runtime "$HANDLER" "$E2E/cri/pod.json")
expect "pod is ready" SANDBOX_READY "$($CRI inspectp -o go-template --template '{{.status.state}}' "$pod")"
expect "pod runs on the $HANDLER handler" "$HANDLER" "$($CRI inspectp -o go-template --template '{{.info.runtimeHandler}}' "$pod")"
ctr=$($CRI create "$pod" "$E2E/cri/ctr.json" "$E2E/cri/pod.json")
$CRI start "$ctr" >/dev/null
for i in $(seq 1 50); do [[ -s $E2E/cri/logs/hello.log ]] && break; sleep 0.1; done
expect_contains "crictl logs" "hello-from-cri" "$($CRI logs "$ctr" 2>&1)"
# The container runs in its pod's sandbox: one sentry (runsc-exo boot)
# under the pod's host process, none under the container's, and the
# container's own rootfs (the busybox image, not the pause image).
if [[ $HANDLER == exo ]]; then
	spid=$($CRI inspectp -o go-template --template '{{.info.pid}}' "$pod")
	cpid=$($CRI inspect -o go-template --template '{{.info.pid}}' "$ctr")
	sentries() { pgrep -P "$1" -f "$EXO .*boot" | wc -l; }
	expect "the pod's sandbox has one sentry" 1 "$(sentries "$spid")"
	expect "the container has no sentry of its own" 0 "$(sentries "$cpid")"
	expect "the container's rootfs is its image's" "busybox-rootfs" "$($CRI exec -s "$ctr" sh -c 'test -e /pause && echo pause-rootfs || echo busybox-rootfs' 2>&1)"
	# crictl's default pid mode is POD: the pause is the container's pid 1,
	# as with runc.
	expect "the container shares the pod's pid namespace" "/pause" "$($CRI exec -s "$ctr" sh -c "tr '\\0' ' ' </proc/1/cmdline" 2>&1 | tr -d ' ')"
fi
expect "crictl exec -s" "exec-sync-ok" "$($CRI exec -s "$ctr" sh -c 'echo exec-sync-ok' 2>&1)"
expect "crictl exec (streaming)" "exec-stream-ok" "$($CRI exec "$ctr" sh -c 'echo exec-stream-ok' 2>&1)"
out=$(script -qec "$CRI exec -it $ctr tty" /dev/null </dev/null 2>&1 | tr -d '\r') || true
expect_contains "crictl exec -it: a terminal" "/dev/pts/" "$out"
# A container with tty: true (kubectl run -it): its init's terminal, read
# by the shim into the container's log.
cat >"$E2E/cri/tty.json" <<'JSON'
{
  "metadata": { "name": "tty" },
  "image": { "image": "localhost/exo-e2e/busybox:1" },
  "command": [ "/bin/sh", "-c", "echo tty-is $(tty); while :; do sleep 1; done" ],
  "log_path": "tty.log",
  "tty": true
}
JSON
tctr=$($CRI create "$pod" "$E2E/cri/tty.json" "$E2E/cri/pod.json")
$CRI start "$tctr" >/dev/null
for i in $(seq 1 50); do grep -q tty-is "$E2E/cri/logs/tty.log" 2>/dev/null && break; sleep 0.1; done
expect_contains "a tty: true container's init has a terminal" "tty-is /dev/pts/" "$($CRI logs "$tctr" 2>&1)"
$CRI stop -t 2 "$tctr" >/dev/null
$CRI rm "$tctr" >/dev/null
# crictl itself exits 1 and names the command's status.
rc=0; out=$($CRI exec -s "$ctr" sh -c 'exit 6' 2>&1) || rc=$?
expect "crictl exec of a failing command fails" 1 "$rc"
expect_contains "crictl exec reports the exit code" "exited with 6" "$out"
# The library OS's /proc/meminfo shows its memory quota: the container's
# limit (a runc container sees the host's).
meminfo() { $CRI exec -s "$ctr" sh -c 'grep MemTotal /proc/meminfo | tr -s " "' 2>&1; }
[[ $HANDLER != exo ]] || expect "the container's memory limit" "MemTotal: 131072 kB" "$(meminfo)"
out=$($CRI stats -o json "$ctr" 2>&1) || true
expect_contains "crictl stats" '"workingSetBytes"' "$out"
$CRI update --memory 100000000 "$ctr" >/dev/null
[[ $HANDLER != exo ]] || expect "crictl update reaches the library OS" "MemTotal: 97656 kB" "$(meminfo)"
$CRI stop -t 10 "$ctr" >/dev/null
expect "crictl stop (TERM reaches the trap)" "got-TERM" "$($CRI logs "$ctr" 2>&1 | tail -1)"
expect "container exit code" 0 "$($CRI inspect -o go-template --template '{{.status.exitCode}}' "$ctr")"
$CRI rm "$ctr" >/dev/null
$CRI stopp "$pod" >/dev/null
$CRI rmp "$pod" >/dev/null
expect "no pods left" "" "$($CRI pods -q)"
