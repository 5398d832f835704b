#!/bin/bash
# Runs the OCI runtime-tools v0.9.0 validation suite (validation/*/*.t)
# against runc and against runsc-exo, prints per-test TAP results for both
# and fails if an assertion that passes under runc fails under runsc-exo.
#
# Run as root from anywhere:  test/runtime-tools/run.sh [TEST...]
# (TEST: names such as "default" or "process_user"; none means all of them).
#
# Environment:
#   RTV_CACHE    build and tool cache (default /var/cache/runsc-exo-ci/runtime-tools);
#                reused when present, so a second run skips every build step but runsc-exo's
#   RTV_TIMEOUT  seconds one validation test may run before it is killed (default 90)
#   RTV_OUT      where the per-test TAP logs and the summary go (default: a temp dir, kept)
#   RTV_RUNTIMES which runtimes to run, default "runc runsc-exo"
#   RTV_JOBS     tests run at once per runtime (default 3); the cgroup tests,
#                which share one cgroup path, and killsig, which races its
#                signal against the container's start, always run alone
#
# It needs only the Go module proxy, Debian packages and npm: runtime-tools
# v0.9.0 predates Go modules, so runtime-tools.go.mod and .go.sum next to
# this script pin its dependencies (runtime-spec v1.0.2: newer ones do not
# compile with it; selinux v1.10.2: 1.11 dropped label.FileLabel).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${RTV_CACHE:-/var/cache/runsc-exo-ci/runtime-tools}
TIMEOUT=${RTV_TIMEOUT:-90}
RUNTIMES=${RTV_RUNTIMES:-runc runsc-exo}
JOBS=${RTV_JOBS:-3}
RT_VERSION=v0.9.0
TAP_VERSION=12.7.0
export PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=${GOTOOLCHAIN:-local} GOFLAGS=-buildvcs=false

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "must run as root (containers need it)"
START=$(date +%s)

# --- tools -------------------------------------------------------------------
need_apt=()
command -v runc >/dev/null || need_apt+=(runc)
command -v npm >/dev/null || need_apt+=(npm)
command -v tar >/dev/null || need_apt+=(tar)
if [ ${#need_apt[@]} -gt 0 ]; then
	log "apt-get install ${need_apt[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
command -v go >/dev/null || die "go not found (expected in /usr/local/go/bin)"

mkdir -p "$CACHE"
# node-tap's parser reads the TAP: prove cannot parse runtime-tools' YAML blocks.
if [ ! -d "$CACHE/node/node_modules/tap-parser" ]; then
	log "npm install tap@$TAP_VERSION into $CACHE/node"
	mkdir -p "$CACHE/node"
	(cd "$CACHE/node" && npm install --silent --no-audit --no-fund --prefix . "tap@$TAP_VERSION" >/dev/null)
fi

# --- runtime-tools -----------------------------------------------------------
SRC=$CACHE/src-$RT_VERSION
if [ ! -f "$SRC/.built" ]; then
	log "fetch runtime-tools $RT_VERSION through the Go module proxy"
	rm -rf "$SRC"
	# A module-mode download needs no go.mod of its own when a version is given.
	dir=$(cd "$CACHE" && go mod download -json "github.com/opencontainers/runtime-tools@$RT_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir" ] || die "go mod download gave no directory for runtime-tools"
	cp -r "$dir" "$SRC" && chmod -R u+w "$SRC"
	(
		cd "$SRC"
		# v0.9.0 has Godeps, no go.mod: without pins the newest runtime-spec does not
		# compile (generate.go wants *int64) and selinux >= 1.11 drops label.FileLabel.
		cp "$REPO/test/runtime-tools/runtime-tools.go.mod" go.mod
		cp "$REPO/test/runtime-tools/runtime-tools.go.sum" go.sum
		go mod download
		# oci-runtime-tool validate fetches the schema from GitHub unless told a file.
		specdir=$(go list -m -f '{{.Dir}}' github.com/opencontainers/runtime-spec)
		mkdir -p "$CACHE/schema" && cp -r "$specdir/schema" "$CACHE/schema/v1.0.2" && chmod -R u+w "$CACHE/schema"
		log "build oci-runtime-tool, runtimetest and the validation executables"
		go build -ldflags "-X 'github.com/opencontainers/runtime-tools/validate.configSchemaTemplate=file://$CACHE/schema/v%s/config-schema.json'" \
			-o oci-runtime-tool ./cmd/oci-runtime-tool
		CGO_ENABLED=0 go build -o runtimetest ./cmd/runtimetest
		# One go command builds every test main package in parallel.
		mkdir -p .tbin
		go build -o .tbin/ $(find validation -mindepth 1 -maxdepth 1 -type d ! -name util -printf './%p ')
		for b in .tbin/*; do n=$(basename "$b"); mv "$b" "validation/$n/$n.t"; done
		rmdir .tbin
	)
	touch "$SRC/.built"
fi

# --- runsc-exo ---------------------------------------------------------------
log "build bin/runsc-exo"
(cd "$REPO" && CGO_ENABLED=0 go build -o bin/runsc-exo ./runsc-exo)

# --- run ---------------------------------------------------------------------
if [ $# -gt 0 ]; then
	TESTS=("$@")
else
	mapfile -t TESTS < <(cd "$SRC/validation" && ls -d */ | tr -d / | grep -v '^util$')
fi
OUT=${RTV_OUT:-$(mktemp -d /tmp/rtv-out.XXXXXX)}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/rtv-work.XXXXXX)

cgroup_dirs() { find /sys/fs/cgroup -mindepth 1 -type d 2>/dev/null | sort; }
cgroup_dirs >"$WORK/cgroups.before"

cleanup() {
	for rt in $RUNTIMES; do
		local bin=$WORK/$rt
		[ -x "$bin" ] || continue
		# Whatever a killed test left behind: kill, then delete by id.
		for id in $("$bin" list -q 2>/dev/null); do
			"$bin" kill "$id" KILL >/dev/null 2>&1 || true
			"$bin" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	# Cgroups the containers made and their runtimes left (deepest first).
	cgroup_dirs | comm -13 "$WORK/cgroups.before" - | sort -r | xargs -r rmdir 2>/dev/null || true
	# runc's linux_rootfs_propagation test leaves its bundle's mounts on
	# the host (shared propagation): they go before the bundles do.
	grep -F " $WORK/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
	rm -rf "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

# RUNTIME must name one executable: wrappers give each runtime a private --root.
cat >"$WORK/runc" <<W
#!/bin/sh
exec runc --root $WORK/root-runc "\$@"
W
cat >"$WORK/runsc-exo" <<W
#!/bin/sh
exec $REPO/bin/runsc-exo --root $WORK/root-runsc-exo "\$@"
W
chmod +x "$WORK/runc" "$WORK/runsc-exo"

# run_one runs validation test $2 against runtime $1, killed after TIMEOUT.
run_one() {
	local rt=$1 t=$2 exe=./validation/$2/$2.t
	# Tests read ./runtimetest and ./rootfs-amd64.tar.gz, and make bundles in TMPDIR.
	(cd "$SRC" && TMPDIR=$WORK/tmp-$rt RUNTIME=$WORK/$rt \
		timeout -k 5 "$TIMEOUT" "$exe" >"$OUT/$rt/$t.tap" 2>"$OUT/$rt/$t.stderr") ||
		echo "exit $?" >>"$OUT/$rt/$t.stderr"
}

for t in "${TESTS[@]}"; do
	[ -x "$SRC/validation/$t/$t.t" ] || die "no test $t"
done
for rt in $RUNTIMES; do
	[ -x "$WORK/$rt" ] || die "unknown runtime $rt"
	mkdir -p "$OUT/$rt" "$WORK/tmp-$rt"
	log "run ${#TESTS[@]} tests against $rt ($JOBS at once, timeout ${TIMEOUT}s each)"
	t0=$(date +%s)
	alone=()
	for t in "${TESTS[@]}"; do
		case $t in
		linux_cgroups_* | delete_resources | killsig) alone+=("$t") ;;
		*)
			while [ "$(jobs -pr | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
			run_one "$rt" "$t" &
			;;
		esac
	done
	wait
	for t in "${alone[@]}"; do run_one "$rt" "$t"; done
	echo "$rt: $(($(date +%s) - t0))s" >>"$OUT/times"
done

# killsig sends its signal a few milliseconds after start, and the shell in
# the container must have set its trap by then (an init drops signals it
# has no handler for): on a loaded machine runc loses that race too. So a
# test that runs alone and loses an assertion under runsc-exo runs once
# more, and the second run counts (the first stays as TEST.tap.1).
tapsum() { NODE_PATH=$CACHE/node/node_modules node "$REPO/test/runtime-tools/tapsum.js" "$OUT" "$@"; }
if [ -d "$OUT/runc" ] && [ -d "$OUT/runsc-exo" ]; then
	for t in $(TAPSUM_LIST=1 tapsum "${TESTS[@]}"); do
		case $t in
		linux_cgroups_* | delete_resources | killsig)
			log "run $t against runsc-exo once more"
			mv "$OUT/runsc-exo/$t.tap" "$OUT/runsc-exo/$t.tap.1"
			run_one runsc-exo "$t"
			;;
		esac
	done
fi

# --- report ------------------------------------------------------------------
# (set -e with pipefail would end the script here when tapsum fails.)
status=0
tapsum "${TESTS[@]}" | tee "$OUT/summary" || status=$?
cat "$OUT/times" >&2
log "logs in $OUT; whole run $(($(date +%s) - START))s"
exit "$status"
