# rootfs.sh: run by busybox sh in a minimal rootfs (rootfs_test.go):
# `busybox sh /rootfs.sh ""` sandboxed with --rootfs ROOT, or
# `ROOT/bin/busybox sh ROOT/rootfs.sh ROOT` natively on a copy of ROOT.
# Changes files all over the rootfs (its /etc, the seed in /data, /tmp) and
# prints what it sees, with paths relative to the rootfs.
set -eu
P="$1"
bb="$P/bin/busybox"
umask 022
cd "$P/data"
echo "changed in the sandbox" >> hello.txt
$bb sed -i 's/host/HOST/' hello.txt
$bb cat hello.txt
$bb cp hello.txt copy.txt
$bb mv rename-me.txt moved.txt
$bb rm delete-me.txt
$bb rm -r dir
$bb mkdir -p made/deeper
echo deeper > made/deeper/file
$bb ln -s made/deeper/file sym
$bb ln moved.txt moved-hard.txt
$bb chmod 600 chmod-me.txt
: > truncate-me.txt
$bb touch -d '2001-09-09 01:46:40' truncate-me.txt
$bb mv dir2 dir2-moved
echo "--- /data"
$bb find . | $bb sort
$bb ls -ln moved.txt | $bb awk '{ print $1, $2, $5 }'
$bb stat -c '%n %s %Y' truncate-me.txt
$bb md5sum copy.txt made/deeper/file
echo "--- /etc"
echo "renamed-host" > "$P/etc/hostname"
echo "extra:x:4242:4242::/:/bin/sh" >> "$P/etc/passwd"
$bb tail -n 1 "$P/etc/passwd"
$bb cat "$P/etc/hostname"
$bb rm "$P/etc/group"
$bb ls "$P/etc" | $bb sort
echo "--- tar"
$bb tar -cf "$P/tmp/data.tar" -C "$P/data" .
$bb mkdir "$P/tmp/x"
$bb tar -xf "$P/tmp/data.tar" -C "$P/tmp/x"
$bb diff -r "$P/data" "$P/tmp/x" && echo "tar round trip: identical"
$bb rm -rf "$P/tmp/x" "$P/tmp/data.tar"
echo "--- binaries"
$bb rm "$P/fsops"
$bb ls "$P/" | $bb sort
echo "rootfs.sh: done"
