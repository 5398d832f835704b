# script.sh: a busybox sh script run natively and sandboxed by TestShellScript
# (`/bin/busybox sh script.sh`); both runs must print the same and exit 3.
# It prints only what does not depend on timing or pids.
BB=/bin/busybox
echo "start: $# arguments"

# Pipelines.
printf 'banana\napple\ncherry\napple\n' | sort | uniq -c | sed 's/^ *//'
echo "one two three" | tr ' ' '\n' | wc -l
seq 1 20000 | awk '{ s += $1 } END { print "seq sum", s }'
yes | head -n 100000 | wc -l
false | true
echo "pipeline status is the last command's: $?"
! false
echo "negated: $?"

# Command substitution.
n=$(echo hello | wc -c)
echo "chars: $n"
echo "nested: $(echo "outer $(echo inner)")"
lines=`printf 'a\nb\n' | wc -l`
echo "backquotes: $lines"
echo "arithmetic: $((3 + 4 * 5)) $(( (7 % 4) << 2 ))"
v=
echo "expansions: ${v:-default} ${#BB} ${BB##*/}"

# Subshells and exit statuses.
x=1
(x=2; echo "in subshell x=$x")
echo "after subshell x=$x"
(exit 7)
echo "subshell status: $?"
false
echo "false: $?"
true
echo "true: $?"
$BB sh -c 'exit 42'
echo "sh -c 'exit 42': $?"
$BB sh -c 'kill -KILL $$'
echo "shell that killed itself with SIGKILL: $?"
ls /nonexistent 2>/dev/null
echo "ls of a missing file: $?"
(exec echo "exec in a subshell")
{ echo out; echo err >&2; } 2>&1 | sort

# set -e in a subshell.
(set -e; echo "set -e: before false"; false; echo "set -e: not reached")
echo "set -e subshell status: $?"
(set -e; if false; then :; fi; false || true; echo "set -e: conditions are exempt")

# Background jobs and wait.
$BB sleep 0.2 &
p1=$!
(sleep 0.1; exit 3) &
p2=$!
wait $p2
echo "job 2 exited $?"
wait $p1
echo "job 1 exited $?"
for i in 1 2 3; do (exit $i) & done
wait
echo "wait with no arguments: $?"

# kill of a background job.
$BB sleep 100 &
p=$!
kill $p
wait $p
echo "killed job: $?"
sleep 100 &
p=$!
kill -9 $p
wait $p
echo "SIGKILLed job: $?"

# trap ... TERM, in a child shell and in this one.
$BB sh -c 'trap "echo child shell caught TERM; exit 5" TERM; kill -TERM $$; echo not reached'
echo "child shell exited $?"
trap 'echo "main shell: TERM trapped"' TERM
kill -TERM $$
echo "main shell continues"
trap - TERM
(trap 'echo "subshell: EXIT trap"' EXIT; echo "subshell: body")

# Here-documents.
cat <<EOF
here-document: x is $x
  indented line kept
EOF
cat <<'EOF'
quoted here-document: $x stays
EOF
cat <<-EOF
	tabs stripped by <<-
	EOF
while read num word; do
	echo "read from a here-document: $num=$word"
done <<EOF
1 one
2 two
EOF

# read from a pipe.
printf 'l1\nl2\nl3\n' | while read line; do echo "got $line"; done
count=0
printf 'a\nb\nc\n' | { while read l; do count=$((count + 1)); done; echo "count inside the pipeline: $count"; }
echo "count in this shell: $count"
IFS=: read user rest <<EOF
root:x:0:0
EOF
echo "IFS read: $user"
echo 1 2 3 | xargs -n 1 echo arg

# Functions, loops, case.
f() { echo "f got $#: $*"; return 4; }
f a "b c"
echo "f returned $?"
set -- p q r
shift
echo "positional after shift: $# $1 $2"
i=0
while [ $i -lt 3 ]; do i=$((i + 1)); done
echo "while loop: $i"
for w in apple kiwi; do
	case $w in
	a*) echo "$w starts with a" ;;
	*) echo "$w does not" ;;
	esac
done

echo "end"
exit 3
