#!/usr/bin/env bash
# Tests tools/bazel/gazelle.sh check itself, on a copy of the working tree in a
# temporary directory (the real tree is never modified):
#   1. the check passes on the tree as it is, and changes nothing;
#   2. a new package imported by an existing one, without regenerating:
#      the check fails; after tools/bazel/gazelle.sh it passes;
#   3. a new module dependency (go.mod, go.sum and an import), without
#      regenerating: the check fails, naming deps.bzl and the BUILD file;
#      after tools/bazel/gazelle.sh it passes;
#   4. a regenerated tree regenerates to itself (generation is deterministic).
# Needs tools/bazel/setup.sh (or gazelle.sh install) to have run; works offline
# (the new dependency, go-cmp, is in the module cache: gazelle needs it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="/usr/local/go/bin:$PATH"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tree="$tmp/tree"
log="$tmp/log"

fail() {
	echo "FAIL: $*" >&2
	sed 's/^/    /' "$log" >&2 || true
	exit 1
}
check_passes() { "$tree/tools/bazel/gazelle.sh" check >"$log" 2>&1 || fail "$1: check failed"; }
check_fails() {
	if "$tree/tools/bazel/gazelle.sh" check >"$log" 2>&1; then fail "$1: check passed"; fi
	shift
	for want in "$@"; do grep -q -- "$want" "$log" || fail "check output does not mention $want"; done
}
fingerprint() { (cd "$tree" && find . -path ./.bazel-deps -prune -o -type f -print0 | sort -z | xargs -0 sha256sum); }

# Tracked and new (not ignored) files, as CI would see them after a commit;
# the pinned gazelle comes from the real tree instead of being reinstalled.
mkdir -p "$tree/.bazel-deps"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null) |
	tar -xf - -C "$tree"
"$root/tools/bazel/gazelle.sh" install
ln -s "$root/.bazel-deps/bin" "$tree/.bazel-deps/bin"

echo "1. up-to-date tree"
before="$(fingerprint)"
check_passes "unchanged tree"
[ "$before" = "$(fingerprint)" ] || fail "check modified the tree"

echo "2. new package, imported by libos/waiter"
mkdir -p "$tree/libos/gazellecheck"
cat >"$tree/libos/gazellecheck/gazellecheck.go" <<'EOF'
// Package gazellecheck only exists in gazelle_check_test.sh.
package gazellecheck

// Answer is imported by libos/waiter in the test.
const Answer = 42
EOF
cat >"$tree/libos/waiter/gazellecheck.go" <<'EOF'
package waiter

import "exokernelul.dev/exo/libos/gazellecheck"

var _ = gazellecheck.Answer
EOF
check_fails "new package" "libos/gazellecheck/BUILD.bazel" "libos/waiter/BUILD.bazel"
"$tree/tools/bazel/gazelle.sh" >"$log" 2>&1 || fail "gazelle.sh"
check_passes "regenerated after new package"
grep -q '"//libos/gazellecheck"' "$tree/libos/waiter/BUILD.bazel" || fail "libos/waiter does not depend on //libos/gazellecheck"

echo "3. new module dependency"
(cd "$tree" && GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off go get github.com/google/go-cmp@v0.5.9) >"$log" 2>&1 ||
	fail "go get github.com/google/go-cmp (from the module cache)"
cat >"$tree/libos/waiter/gazellecheck_dep.go" <<'EOF'
package waiter

import "github.com/google/go-cmp/cmp"

var _ = cmp.Equal
EOF
check_fails "new dependency" "deps.bzl" "com_github_google_go_cmp" "libos/waiter/BUILD.bazel"
"$tree/tools/bazel/gazelle.sh" >"$log" 2>&1 || fail "gazelle.sh"
check_passes "regenerated after new dependency"
grep -q 'importpath = "github.com/google/go-cmp"' "$tree/deps.bzl" || fail "deps.bzl has no go-cmp"
grep -q '"@com_github_google_go_cmp//cmp"' "$tree/libos/waiter/BUILD.bazel" || fail "libos/waiter does not depend on go-cmp"

echo "4. deterministic"
before="$(fingerprint)"
"$tree/tools/bazel/gazelle.sh" >"$log" 2>&1 || fail "gazelle.sh"
[ "$before" = "$(fingerprint)" ] || fail "regenerating a generated tree changed it"

echo "PASS: gazelle check test"
