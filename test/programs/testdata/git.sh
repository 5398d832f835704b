# git.sh: run as `sh git.sh DIR` with HOME=DIR and fixed
# GIT_AUTHOR_*/GIT_COMMITTER_* (names, emails, dates), so that commit ids
# are the same natively and sandboxed.
set -eu
umask 022
cd "$1"
mkdir repo
cd repo
git init -q -b main .
printf 'hello\n' > README
mkdir src
printf 'int main(void) { return 0; }\n' > src/main.c
printf '*.o\n' > .gitignore
git add README src/main.c .gitignore
git commit -q -m "first commit"
printf 'more\n' >> README
: > src/ignored.o
git commit -q -am "second commit"
git mv README README.md
git commit -q -m "rename readme"
git rm -q src/main.c
git commit -q -m "remove main.c"
git tag v1
git checkout -q -b feature
printf 'feature\n' > feature.txt
git add feature.txt
git commit -q -m "feature work"
git checkout -q main
git merge -q --no-ff -m "merge feature" feature
echo "--- git log --format=%s"
git log --format=%s
echo "--- ids"
git rev-parse HEAD HEAD^{tree} v1
git log -1 --format='%an <%ae> %ad / %cn <%ce> %cd' --date=raw
echo "--- ls-files"
git ls-files
echo "--- status"
git status --porcelain --ignored
git cat-file -p HEAD:README.md
git diff --stat v1 HEAD
git gc -q
git count-objects -v | grep -E '^(count|in-pack|packs|garbage):'
git fsck --no-progress --strict
git log --oneline | wc -l
echo "--- clone"
cd ..
git clone -q repo clone
git -C clone log --format=%s -n 2
git -C clone rev-parse HEAD
ls clone
