#!/usr/bin/env bash
# Prepares everything `bazel build` and `bazel test` need so that Bazel itself
# never goes to the network. Sources: Debian's apt repositories and the Go
# module proxy (through the ordinary `go` command), nothing else. Idempotent:
# a second run changes nothing and takes a few seconds. Run as root.
#
#   Bazel       Debian 12 bazel-bootstrap 4.2.3, the only Bazel packaged here
#               (no MODULE.bazel: that needs Bazel >= 6; so WORKSPACE)
#   skylib,     /usr/share/bazel/... from Debian's bazel-skylib and
#   rules_java  bazel-rules-java, used as they are
#   rules_cc    Debian's bazel-rules-cc, copied and patched
#   rules_go    github.com/bazelbuild/rules_go from the Go module proxy, patched
#   gazelle     github.com/bazelbuild/bazel-gazelle (the version go_repository
#               runs inside Bazel) from the proxy, patched, vendored
#   Go deps     `go mod download all`; Bazel's go_repository then reads them
#               from the module cache through GOPROXY=file://... (.bazelrc.local)
#   gazelle CLI standalone generator for tools/bazel/gazelle.sh, `go install`ed
#               into .bazel-deps/bin (version pinned in gazelle.sh)
#
# The patches in tools/bazel/patches/ say, change by change, why each is needed.
# Everything this writes (.bazel-deps/, .bazelrc.local) is git-ignored.
set -euo pipefail

RULES_GO=v0.38.1 # from January 2023; loads on Bazel 4 with the patch
GAZELLE=v0.29.0  # of the same time, for go_repository inside Bazel

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
patches="$root/tools/bazel/patches"
deps="$root/.bazel-deps"
export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null || {
	echo "bazel setup: Go 1.26 must be at /usr/local/go" >&2
	exit 1
}

need=()
for pkg in bazel-bootstrap bazel-skylib bazel-rules-cc bazel-rules-java gcc libc6-dev patch; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# modcache_dir MODULE@VERSION prints the module's (read-only) directory in the
# module cache, downloading it from the proxy first if needed.
modcache_dir() {
	go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}
# patched_copy SRC DST PATCH: DST becomes a writable copy of SRC with PATCH applied.
patched_copy() {
	rm -rf "$2"
	cp -R "$1" "$2"
	chmod -R u+w "$2"
	patch -s -p1 -d "$2" <"$3"
}

mkdir -p "$deps"
# The copies are rebuilt only when a version or a patch changes.
want="$RULES_GO $GAZELLE $(cat "$patches"/*.patch | sha256sum | cut -c1-16)"
if [ "$(cat "$deps/.stamp" 2>/dev/null)" != "$want" ]; then
	rm -f "$deps/.stamp"
	patched_copy "$(modcache_dir "github.com/bazelbuild/rules_go@$RULES_GO")" \
		"$deps/rules_go" "$patches/rules_go-$RULES_GO.patch"
	patched_copy "$(modcache_dir "github.com/bazelbuild/bazel-gazelle@$GAZELLE")" \
		"$deps/bazel_gazelle" "$patches/bazel-gazelle-$GAZELLE.patch"
	# go_repository builds its helper tools from gazelle's vendor/ directory
	# (GOPATH mode), and module zips never contain vendor/.
	(cd "$deps/bazel_gazelle" && go mod vendor)
	patched_copy /usr/share/bazel/rules/cc "$deps/rules_cc" "$patches/rules_cc-0.0.4.patch"
	echo "$want" >"$deps/.stamp"
fi

# The module's own dependencies, which go_repository fetches from the module
# cache; it checks each against the go.sum hash pinned in deps.bzl.
(cd "$root" && go mod download all)
proxy="file://$(go env GOMODCACHE)/cache/download"
{
	echo "# Written by tools/bazel/setup.sh for this machine; not checked in."
	for cmd in build fetch query sync; do
		echo "$cmd --repo_env=GOPROXY=$proxy"
	done
} >"$root/.bazelrc.local"

# The standalone gazelle; its version is pinned in gazelle.sh.
"$root/tools/bazel/gazelle.sh" install

echo "bazel setup: bazel $(dpkg-query -W -f='${Version}' bazel-bootstrap), rules_go $RULES_GO," \
	"gazelle $GAZELLE in Bazel; gazelle CLI at .bazel-deps/bin/gazelle"
