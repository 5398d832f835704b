# Shared setup of the end-to-end tests (sourced): a scratch directory, the
# runtime binary, local images, and a containerd of our own on private sockets
# and directories, torn down on exit so no daemon, mount, cgroup or shim socket
# is left behind.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH=/usr/local/go/bin:$PATH
E2E=${E2E:-$(mktemp -d /tmp/exo-e2e.XXXXXX)}
mkdir -p "$E2E"/{bin,images,logs,tmp,containerd}
EXO=$E2E/bin/runsc-exo
CTR_NS=exo-e2e
FAILS=0
CLEANUPS=()

log() { printf '== %s\n' "$*" >&2; }
fail() { printf 'FAIL: %s\n' "$*" >&2; FAILS=$((FAILS + 1)); }
pass() { printf 'ok: %s\n' "$*" >&2; }

# expect NAME WANT GOT: a check of one output or exit code.
expect() {
	if [[ "$3" == "$2" ]]; then pass "$1"; else fail "$1: want [$2], got [$3]"; fi
}

# expect_contains NAME NEEDLE HAYSTACK
expect_contains() {
	if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail "$1: want output containing [$2], got [$3]"; fi
}

on_exit() {
	local rc=$?
	local k
	for ((k = ${#CLEANUPS[@]} - 1; k >= 0; k--)); do eval "${CLEANUPS[k]}" || true; done
	if ((FAILS > 0)); then
		echo "e2e: $FAILS check(s) failed; logs in $E2E/logs" >&2
		exit 1
	fi
	[[ -n "${KEEP_E2E:-}" ]] || rm -rf "$E2E"
	exit $rc
}
trap on_exit EXIT

install_packages() {
	local want=() p
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || want+=("$p"); done
	((${#want[@]} == 0)) && return 0
	log "apt-get install ${want[*]}"
	# Debian's service scripts must not start the system's own daemons.
	[[ -e /usr/sbin/policy-rc.d ]] || { printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; CLEANUPS+=("rm -f /usr/sbin/policy-rc.d"); }
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${want[@]}" >"$E2E/logs/apt.log" 2>&1 ||
		{ apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${want[@]}" >"$E2E/logs/apt.log" 2>&1; }
}

build_runtime() {
	log "build runsc-exo"
	(cd "$REPO" && CGO_ENABLED=0 go build -o "$EXO" ./runsc-exo)
}

# build_images writes busybox.tar (busybox-static with its applets, echoing
# "hello from busybox") and pause.tar (a static pause) into $E2E/images.
build_images() {
	log "build images"
	local r=$E2E/images/rootfs-busybox p=$E2E/images/rootfs-pause
	rm -rf "$r" "$p"
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,root,var/run} "$p"
	cp /bin/busybox "$r/bin/busybox"
	local a
	for a in $(/bin/busybox --list-full); do [[ "$a" == bin/busybox ]] || ln -sf /bin/busybox "$r/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	chmod 1777 "$r/tmp"
	printf '#include <signal.h>\n#include <unistd.h>\nstatic void bye(int s){_exit(0);}\nint main(void){signal(SIGTERM,bye);signal(SIGINT,bye);for(;;)pause();}\n' >"$E2E/images/pause.c"
	gcc -static -O2 -o "$p/pause" "$E2E/images/pause.c"
	(cd "$REPO" && go run ./test/e2e/mkimage -cmd '["/bin/echo","hello from busybox"]' "$r" localhost/exo-e2e/busybox:1 "$E2E/images/busybox.tar")
	(cd "$REPO" && go run ./test/e2e/mkimage -entrypoint '["/pause"]' "$p" localhost/exo-e2e/pause:1 "$E2E/images/pause.tar")
}

# build_debian_image writes debian.tar: dynamically linked programs of the
# host's Debian (bash, coreutils, grep, sed) with the shared libraries ldd
# names and the dynamic loader, as a Debian-based image has them.
build_debian_image() {
	log "build the Debian-based image"
	local r=$E2E/images/rootfs-debian b f
	rm -rf "$r"
	mkdir -p "$r"/{etc,tmp,proc,sys,dev,root,usr/bin,usr/lib,usr/lib64}
	ln -s usr/bin "$r/bin"
	ln -s usr/lib "$r/lib"
	ln -s usr/lib64 "$r/lib64"
	for b in bash sh ls cat id env sleep uname grep sed wc head tr date; do
		f=$(command -v "$b")
		cp -L "$f" "$r/usr/bin/$b"
		ldd "$f" | grep -o '/[^ ]*' | while read -r l; do
			mkdir -p "$r/usr$(dirname "${l#/usr}")"
			cp -Ln "$l" "$r/usr${l#/usr}" 2>/dev/null || true
		done
	done
	cp /etc/os-release "$r/etc/os-release"
	printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	chmod 1777 "$r/tmp"
	(cd "$REPO" && go run ./test/e2e/mkimage -cmd '["/bin/bash","-c","echo hello from $(grep ^ID= /etc/os-release)"]' "$r" localhost/exo-e2e/debian:1 "$E2E/images/debian.tar")
}

# start_containerd runs a containerd whose root, state, sockets and opt dir
# live in $E2E, with CRI runtime handlers runc and exo. CONTAINERD_EXTRA_TOML,
# if set, is appended to its config (whole tables with full names, e.g. the
# CRI plugin's registry settings).
start_containerd() {
	local c=$E2E/containerd
	# containerd 1.6 puts shim sockets and fifos under /run/containerd
	# whatever its config says: remove them afterwards unless they were there.
	[[ -e /run/containerd ]] || CLEANUPS+=("rm -rf /run/containerd")
	mkdir -p "$c" "$E2E/cni/net.d"
	cat >"$c/config.toml" <<TOML
version = 2
root = "$c/root"
state = "$c/state"
[grpc]
  address = "$c/containerd.sock"
[ttrpc]
  address = "$c/containerd.sock.ttrpc"
[debug]
  level = "info"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$c/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost/exo-e2e/pause:1"
    enable_selinux = false
    disable_apparmor = true
    netns_mounts_under_state_dir = true
    # Negative oom_score_adj needs CAP_SYS_RESOURCE, which root lacks on some VMs.
    restrict_oom_score_adj = true
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "/usr/lib/cni"
      conf_dir = "$E2E/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
TOML
	# The runtime handler exactly as docs/containerd-exo.toml tells users.
	sed -e "s|/usr/local/bin/runsc-exo|$EXO|" -e "s|/run/containerd/runsc-exo|$E2E/exo-root|" -e '/^version/d' \
		"$REPO/docs/containerd-exo.toml" >>"$c/config.toml"
	[[ -z "${CONTAINERD_EXTRA_TOML:-}" ]] || printf '%s\n' "$CONTAINERD_EXTRA_TOML" >>"$c/config.toml"
	log "start containerd"
	TMPDIR=$E2E/tmp containerd --config "$c/config.toml" >"$E2E/logs/containerd.log" 2>&1 &
	echo $! >"$c/containerd.pid"
	CLEANUPS+=("stop_containerd")
	local i
	for i in $(seq 1 100); do [[ -S $c/containerd.sock ]] && break; sleep 0.1; done
	[[ -S $c/containerd.sock ]] || { fail "containerd did not start (logs/containerd.log)"; return 1; }
	export CONTAINERD_ADDRESS=$c/containerd.sock
}

stop_containerd() {
	local c=$E2E/containerd pid i ns t
	# Tasks first, so the shims exit and unmount the rootfs.
	for ns in $(ctr namespaces ls -q 2>/dev/null); do
		for t in $(ctr -n "$ns" tasks ls -q 2>/dev/null); do ctr -n "$ns" tasks kill -s KILL "$t" >/dev/null 2>&1; ctr -n "$ns" tasks delete -f "$t" >/dev/null 2>&1; done
		for t in $(ctr -n "$ns" containers ls -q 2>/dev/null); do ctr -n "$ns" containers delete "$t" >/dev/null 2>&1; done
	done
	pid=$(cat "$c/containerd.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	for i in $(seq 1 100); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	# Whatever the shims left mounted under our directories.
	grep -o " $E2E[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	local cg
	for cg in /sys/fs/cgroup/*/"$CTR_NS" /sys/fs/cgroup/unified/"$CTR_NS" /sys/fs/cgroup/"$CTR_NS"; do
		[[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	true
}

# start_dockerd runs dockerd 20.10 on our containerd with its data, exec root
# and socket in $E2E, no iptables or default bridge (docker's userland proxy
# serves -p, which without iptables is the only way), and runsc-exo as runtime "exo":
# registered in daemon.json, or with --add-runtime when DOCKER_ADD_RUNTIME=1
# (the two forms users write; docker.sh uses the first, network.sh the second).
start_dockerd() {
	local d=$E2E/docker i runtimes='"runtimes": { "exo": { "path": "'"$EXO"'" } },' flags=()
	mkdir -p "$d"
	if [[ ${DOCKER_ADD_RUNTIME:-0} == 1 ]]; then
		runtimes=
		flags=(--add-runtime "exo=$EXO")
	fi
	cat >"$d/daemon.json" <<JSON
{
  $runtimes
  "deprecated-key-path": "$d/key.json"
}
JSON
	[[ -e /run/docker ]] || CLEANUPS+=("rm -rf /run/docker")
	log "start dockerd"
	/usr/sbin/dockerd --config-file "$d/daemon.json" "${flags[@]}" --data-root "$d/data" --exec-root "$d/exec" \
		--pidfile "$d/dockerd.pid" --host "unix://$d/docker.sock" --containerd "$CONTAINERD_ADDRESS" \
		--iptables=false --ip-masq=false --bridge=none --userland-proxy=true \
		--storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs >"$E2E/logs/dockerd.log" 2>&1 &
	echo $! >"$d/dockerd.bgpid"
	CLEANUPS+=("stop_dockerd")
	export DOCKER_HOST=unix://$d/docker.sock
	for i in $(seq 1 150); do
		/usr/bin/docker version >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$d/dockerd.bgpid")" 2>/dev/null || break
		sleep 0.2
	done
	fail "dockerd did not start (logs/dockerd.log)"
	return 1
}

stop_dockerd() {
	local d=$E2E/docker pid i
	/usr/bin/docker ps -aq 2>/dev/null | xargs -r /usr/bin/docker rm -f >/dev/null 2>&1
	pid=$(cat "$d/dockerd.bgpid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	for i in $(seq 1 150); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
	grep -o " $d[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	local cg
	for cg in /sys/fs/cgroup/*/docker /sys/fs/cgroup/docker; do
		[[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	true
}
