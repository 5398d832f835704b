#!/usr/bin/env bash
# The one way to write this repository's Bazel files: per-package BUILD.bazel
# files from the Go sources and deps.bzl from go.mod, with a pinned standalone
# gazelle (no Bazel needed, takes about a second).
#
#   tools/bazel/gazelle.sh           rewrite BUILD.bazel files and deps.bzl
#   tools/bazel/gazelle.sh check     change nothing; exit 1 and print the diff if
#                                    any of them is out of date (CI runs this)
#   tools/bazel/gazelle.sh install   only install the pinned gazelle
#
# Run it after adding or removing a package, an import, a test file or a module
# dependency. Hand edits in generated files survive only on lines marked
# `# keep` (for example a test's tags with the reason next to them).
set -euo pipefail

GAZELLE_CLI=v0.53.0 # v0.54.0 does not build with `go install`

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="/usr/local/go/bin:$PATH"
gazelle="$root/.bazel-deps/bin/gazelle"

# install_gazelle puts the pinned gazelle in .bazel-deps/bin unless it is there.
install_gazelle() {
	if ! go version -m "$gazelle" 2>/dev/null | grep -q "bazel-gazelle[[:space:]]*$GAZELLE_CLI[[:space:]]"; then
		GOBIN="$root/.bazel-deps/bin" go install "github.com/bazelbuild/bazel-gazelle/cmd/gazelle@$GAZELLE_CLI"
	fi
}

# drop_new_std_imports filters gazelle's stderr. gazelle v0.53.0's list of
# standard packages ends at Go 1.23, so for newer ones (weak, crypto/hkdf, ...)
# it logs "finding module path for import weak: ..." and, rightly, adds no
# dependency. Those lines are dropped when `go list std` has the package; every
# other message passes through.
drop_new_std_imports() {
	awk -v std=" $(go list std | tr '\n' ' ') " '
		match($0, /finding module path for import [^ :]+:/) &&
			index(std, " " substr($0, RSTART + 31, RLENGTH - 32) " ") { next }
		{ print }' >&2
}

# run_gazelle ARGS... runs the pinned gazelle with its stderr filtered.
run_gazelle() {
	{ "$gazelle" "$@" 2>&1 1>&3 3>&- | drop_new_std_imports; } 3>&1
}

# update_repos DIR rewrites DIR/deps.bzl from DIR/go.mod: one go_repository per
# module in the build list, pinned by its go.sum hash; -prune drops the rest.
update_repos() {
	run_gazelle update-repos -repo_root="$1" -from_file="$1/go.mod" \
		-to_macro=deps.bzl%go_dependencies -prune
}

mode="${1:-fix}"
case "$mode" in
install)
	install_gazelle
	;;
fix)
	install_gazelle
	cd "$root"
	update_repos "$root"
	run_gazelle -repo_root="$root" -mode=fix
	;;
check)
	install_gazelle
	cd "$root"
	stale=0
	# update-repos edits files in place (deps.bzl, and WORKSPACE if its
	# directives are missing), so it runs on copies.
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	cp go.mod go.sum deps.bzl WORKSPACE BUILD.bazel "$tmp/"
	update_repos "$tmp" >/dev/null
	for f in deps.bzl WORKSPACE; do
		diff -u --label "a/$f" --label "b/$f" "$f" "$tmp/$f" || stale=1
	done
	# -mode=diff prints a patch for every BUILD.bazel that would change and
	# exits non-zero if there is one.
	run_gazelle -repo_root="$root" -mode=diff || stale=1
	if ((stale)); then
		echo "gazelle check: Bazel files are out of date; run tools/bazel/gazelle.sh and commit the result" >&2
		exit 1
	fi
	echo "gazelle check: BUILD.bazel files and deps.bzl are up to date"
	;;
*)
	echo "usage: $0 [fix|check|install]" >&2
	exit 2
	;;
esac
