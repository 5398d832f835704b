# files.pl: run as `perl -e "$(cat files.pl)" DIR`. Prints deterministic
# facts only.
use strict;
use warnings;
use Digest::SHA qw(sha1_hex);
use File::Path qw(make_path remove_tree);
use POSIX qw(:sys_wait_h);

umask 022;
my $top = $ARGV[0];
mkdir "$top/pl" or die "mkdir: $!";
chdir "$top/pl" or die "chdir: $!";

open(my $fh, '>', 'a.txt') or die;
print $fh "line $_\n" for 1 .. 500;
close $fh;
open($fh, '<', 'a.txt') or die;
my @lines = <$fh>;
close $fh;
printf "a.txt: %d lines, sha1 %s\n", scalar @lines, sha1_hex(join '', @lines);

open($fh, '>>', 'a.txt') or die;
print $fh "appended\n";
close $fh;
my @st = stat 'a.txt';
printf "a.txt size %d mode %04o\n", $st[7], $st[2] & 07777;

rename 'a.txt', 'b.txt' or die;
printf "a.txt exists: %s, b.txt exists: %s\n", (-e 'a.txt' ? 'yes' : 'no'), (-e 'b.txt' ? 'yes' : 'no');
chmod 0600, 'b.txt';
utime 1000000000, 1500000000, 'b.txt';
@st = stat 'b.txt';
printf "b.txt mode %04o mtime %d\n", $st[2] & 07777, $st[9];
symlink 'b.txt', 'link' or die;
printf "link -> %s, -l %s, -f %s\n", readlink('link'), (-l 'link' ? 1 : 0), (-f 'link' ? 1 : 0);
link 'b.txt', 'hard' or die;
printf "nlink %d\n", (stat 'b.txt')[3];

make_path('d/e/f');
for my $i (1 .. 30) {
	open(my $o, '>', sprintf('d/e/f/n%02d', $i)) or die;
	print $o 'x' x $i;
	close $o;
}
opendir(my $dh, 'd/e/f') or die;
my @names = sort grep { !/^\./ } readdir $dh;
closedir $dh;
my $total = 0;
$total += -s "d/e/f/$_" for @names;
printf "d/e/f: %d names (%s .. %s), %d bytes\n", scalar @names, $names[0], $names[-1], $total;

my %count;
$count{ length($_) % 3 }++ for @lines;
print join(', ', map { "$_=$count{$_}" } sort keys %count), "\n";
my @sorted = sort { $b <=> $a } map { /(\d+)/ ? $1 : () } @lines;
print "largest: @sorted[0..2]\n";

my $pid = fork;
die "fork: $!" unless defined $pid;
if ($pid == 0) {
	open(my $c, '>', 'child.txt') or exit 1;
	print $c "from the child\n";
	close $c;
	exit 7;
}
waitpid($pid, 0);
printf "child exit %d, child.txt: %s", $? >> 8, do { local (@ARGV, $/) = ('child.txt'); <> };

my $out = `ls d/e/f | wc -l`;
$out =~ s/\s+//g;
print "backticks: $out\n";

unlink 'hard' or die;
remove_tree('d');
printf "after remove_tree: %s\n", (-d 'd' ? 'still there' : 'gone');
print "open missing: ", (open(my $m, '<', 'missing') ? 'opened' : ($!{ENOENT} ? 'ENOENT' : "$!")), "\n";
print "mkdir existing: ", (mkdir('pl-x') && !mkdir('pl-x') && $!{EEXIST} ? 'EEXIST' : 'other'), "\n";

chdir $top or die;
open($fh, '>>', 'hello.txt') or die;
print $fh "appended by perl\n";
close $fh;
unlink 'delete-me.txt' or die;
rename 'rename-me.txt', 'renamed-by-perl.txt' or die;
opendir($dh, '.') or die;
print "top: ", join(' ', sort grep { !/^\.\.?$/ } readdir $dh), "\n";
closedir $dh;
print "files.pl: done\n";
