#!/usr/bin/env bash
# End-to-end: dockerd 20.10 with runsc-exo registered as runtime "exo":
# docker run --runtime=exo with the flags users pass, exec, stop, kill, top,
# stats, pause/unpause, restart, update and exit codes.
source "$(dirname "$0")/lib.sh"

install_packages containerd runc docker.io busybox-static gcc libc6-dev
build_runtime
build_images
build_debian_image
start_containerd
start_dockerd
DOCKER=/usr/bin/docker # the daemon's own client version
$DOCKER load -i "$E2E/images/busybox.tar" >/dev/null
$DOCKER load -i "$E2E/images/debian.tar" >/dev/null
IMG=localhost/exo-e2e/busybox:1

drun() { timeout 60 $DOCKER run --runtime=exo "$@"; }

log "docker run"
expect "docker info lists the runtime" yes "$($DOCKER info --format '{{range $k, $v := .Runtimes}}{{if eq $k "exo"}}yes{{end}}{{end}}')"
expect "docker run" "hello from busybox" "$(drun --rm $IMG 2>&1)"
expect "docker run of a dynamically linked Debian image" 'hello from ID=debian' "$(drun --rm localhost/exo-e2e/debian:1 2>&1)"
expect "bash and coreutils from the Debian image" "root 14" "$(drun --rm localhost/exo-e2e/debian:1 bash -c 'echo $(id -un) $(ls /usr/bin | wc -l)' 2>&1)"
rc=0; drun --rm $IMG sh -c 'exit 7' || rc=$?
expect "docker run exit code" 7 "$rc"
expect "docker run -e -w" "bar /tmp" "$(drun --rm -e FOO=bar -w /tmp $IMG sh -c 'echo $FOO $(pwd)' 2>&1)"
expect "docker run -u" "65534 65534" "$(drun --rm -u 65534:65534 $IMG sh -c 'echo $(id -u) $(id -g)' 2>&1)"
mkdir -p "$E2E/vol" && echo from-host >"$E2E/vol/in"
expect "docker run -v rw" "from-host" "$(drun --rm -v "$E2E/vol:/vol" $IMG sh -c 'cat /vol/in; echo from-ctr >/vol/out' 2>&1)"
expect "a write to a rw volume reaches the host" "from-ctr" "$(cat "$E2E/vol/out" 2>&1)"
expect_contains "docker run -v ro refuses writes" "Read-only file system" "$(drun --rm -v "$E2E/vol:/vol:ro" $IMG sh -c 'echo x >/vol/x' 2>&1)"
expect "docker run --tmpfs" "tmpfs" "$(drun --rm --tmpfs /scratch $IMG sh -c 'grep " /scratch " /proc/mounts | cut -d" " -f3' 2>&1)"
expect "docker run --memory is the library OS's memory" "MemTotal: 65536 kB" "$(drun --rm --memory 64m $IMG sh -c 'grep MemTotal /proc/meminfo | tr -s " "' 2>&1)"
expect_contains "docker run --pids-limit refuses the 6th task" "can't fork" "$(drun --rm --pids-limit 5 $IMG sh -c 'for i in 1 2 3 4 5 6; do sleep 2 & done; wait' 2>&1)"

# -it: the library OS's pty behind a host pty (script gives docker one).
out=$(script -qec "timeout --foreground -k 5 60 $DOCKER run --rm -it --runtime=exo $IMG sh -c 'tty; stty size; exit 3'" /dev/null </dev/null 2>&1 | tr -d '\r') && rc=0 || rc=$?
expect_contains "docker run -it: a terminal" "/dev/pts/0" "$out"
expect "docker run -it exit code" 3 "$rc"

log "docker run -d, exec, top, stats, pause, unpause, update, kill, stop, restart"
cid=$(drun -d --name d1 $IMG sh -c 'trap "exit 0" TERM; trap "exit 10" USR1; while true; do sleep 1000 & wait $!; done')
expect "docker exec" "in-exec" "$(timeout 30 $DOCKER exec d1 echo in-exec 2>&1)"
rc=0; timeout 30 $DOCKER exec d1 sh -c 'exit 4' || rc=$?
expect "docker exec exit code" 4 "$rc"
out=$(script -qec "timeout --foreground -k 5 30 $DOCKER exec -it d1 sh -c 'tty; exit 2'" /dev/null </dev/null 2>&1 | tr -d '\r') && rc=0 || rc=$?
expect_contains "docker exec -it: a terminal" "/dev/pts/" "$out"
expect "docker exec -it exit code" 2 "$rc"
# docker top runs the host's ps on the pids `runsc-exo ps` gives: the
# container's processes, one host process (a stub) each.
out=$(timeout 30 $DOCKER top d1 -o pid 2>&1) || true
expect "docker top lists the container's processes" "$(timeout 30 "$EXO" --root "$E2E/docker/exec/runtime-runc/moby" ps --format json "$cid" | tr -d '[]' | tr , '\n' | sort | tr '\n' ' ')" "$(echo "$out" | tail -n +2 | sort | tr '\n' ' ')"
# (busybox runs sleep by executing /proc/self/exe, "exe" until its
# PR_SET_NAME, which the host's view of the stub does not follow.)
expect_contains "docker top shows the workload's process names" " sh" "$(timeout 30 $DOCKER top d1 -o pid,comm 2>&1)"
out=$(timeout 60 $DOCKER stats --no-stream --format '{{.Name}} {{.MemUsage}}' d1 2>&1) || true
expect_contains "docker stats reads the container's cgroup" "d1 " "$out"
timeout 30 $DOCKER pause d1 >/dev/null
expect "docker pause" paused "$($DOCKER inspect -f '{{.State.Status}}' d1)"
timeout 30 $DOCKER unpause d1 >/dev/null
expect "docker unpause" running "$($DOCKER inspect -f '{{.State.Status}}' d1)"
out=$(timeout 30 $DOCKER update --memory 96m --memory-swap 96m d1 2>&1) || true
expect "docker update" d1 "$out"
expect "docker update reaches the library OS" "MemTotal: 98304 kB" "$(timeout 30 $DOCKER exec d1 sh -c 'grep MemTotal /proc/meminfo | tr -s " "' 2>&1)"
timeout 30 $DOCKER kill -s USR1 d1 >/dev/null
sleep 0.3
expect "docker kill -s USR1 reaches the trap" "exited 10" "$($DOCKER inspect -f '{{.State.Status}} {{.State.ExitCode}}' d1)"
timeout 60 $DOCKER restart d1 >/dev/null
expect "docker restart" running "$($DOCKER inspect -f '{{.State.Status}}' d1)"
timeout 60 $DOCKER stop -t 5 d1 >/dev/null
expect "docker stop (TERM, trapped)" "exited 0" "$($DOCKER inspect -f '{{.State.Status}} {{.State.ExitCode}}' d1)"
$DOCKER rm d1 >/dev/null
drun -d --name d2 $IMG sleep 1000 >/dev/null
timeout 60 $DOCKER stop -t 1 d2 >/dev/null
expect "docker stop of init without a TERM handler (KILL after the timeout)" "exited 137" "$($DOCKER inspect -f '{{.State.Status}} {{.State.ExitCode}}' d2)"
$DOCKER rm d2 >/dev/null
