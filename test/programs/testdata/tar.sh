# tar.sh: run as `sh tar.sh DIR`. Makes a tree, tar czf's
# it, tar xzf's it elsewhere and compares.
set -eu
umask 022
cd "$1"
mkdir -p tarsrc/a/b/c
seq 1 20000 > tarsrc/a/numbers.txt
head -c 1048576 /dev/zero | tr '\0' 'z' > tarsrc/a/b/c/big
printf 'x%.0s' $(seq 1 100) > tarsrc/a/b/xs
ln -s ../numbers.txt tarsrc/a/b/link
mkdir tarsrc/empty
chmod 0640 tarsrc/a/b/xs
chmod 0700 tarsrc/a/b/c
cp -a dir tarsrc/seed-dir
touch -d @1600000000 tarsrc/a/numbers.txt
tar czf tree.tgz -C tarsrc .
gzip -t tree.tgz && echo "gzip -t: ok"
mkdir out
tar xzf tree.tgz -C out
diff -r tarsrc out && echo "diff -r: identical"
echo "--- tar tzf"
tar tzf tree.tgz | sort
echo "--- extracted"
cd out
find . ! -type d -printf '%y %m %s %p\n' | sort
find . -type d -printf '%y %m %p\n' | sort
find . -name numbers.txt -printf '%TY-%Tm-%Td %p\n'
md5sum a/numbers.txt a/b/c/big
