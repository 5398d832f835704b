#!/usr/bin/env bash
# End-to-end: containerd 1.6's runc shim (io.containerd.runc.v2) driving
# runsc-exo as its runc binary, through ctr: run, exit codes, exec, ps,
# pause/resume, kill and delete, each checked against what runc gives.
source "$(dirname "$0")/lib.sh"

install_packages containerd runc busybox-static gcc libc6-dev
build_runtime
build_images
start_containerd
ctr -n $CTR_NS images import "$E2E/images/busybox.tar" >/dev/null
IMG=localhost/exo-e2e/busybox:1
EXOCTR=(--runtime io.containerd.runc.v2 --runc-binary "$EXO" --runc-root "$E2E/ctr-root")

# ctrrun ARGS...: ctr run with runsc-exo; prints the output, returns its status.
ctrrun() { timeout 60 ctr -n $CTR_NS run "${EXOCTR[@]}" "$@"; }

log "ctr run"
out=$(ctrrun --rm $IMG t1 2>&1) || true
expect "ctr run prints the image's command output" "hello from busybox" "$out"
rc=0; ctrrun --rm $IMG t2 sh -c 'exit 3' || rc=$?
expect "ctr run exit code" 3 "$rc"
# Linux's pid-namespace init ignores signals it has no handler for, even
# SIGKILL from inside: as with runc, the shell goes on and exits 0.
rc=0; ctrrun --rm $IMG t3 sh -c 'kill -9 $$; echo survived' || rc=$?
expect "init survives its own SIGKILL" 0 "$rc"
out=$(ctrrun --rm --env FOO=bar --cwd /tmp $IMG t4 sh -c 'echo $FOO $(pwd) $(id -u)' 2>&1) || true
expect "ctr run --env --cwd" "bar /tmp 0" "$out"
out=$(ctrrun --rm --memory-limit $((64 << 20)) $IMG t6 sh -c 'echo started' 2>&1) || true
expect "ctr run --memory-limit" "started" "$out"
# The shim reports why create failed from the runtime's --log file.
out=$(ctrrun --rm $IMG t7 /nosuchprogram 2>&1) || true
expect_contains "a failed create's reason reaches ctr" "/nosuchprogram" "$out"

# -t: the library OS's pty behind the host pty the shim gets (script gives
# ctr a terminal).
out=$(script -qec "timeout --foreground -k 5 60 ctr -n $CTR_NS run -t --rm ${EXOCTR[*]} $IMG tt sh -c 'tty; exit 4'" /dev/null </dev/null 2>&1 | tr -d '\r') && rc=0 || rc=$?
expect_contains "ctr run -t: a terminal" "/dev/pts/0" "$out"
expect "ctr run -t exit code" 4 "$rc"

log "ctr run -d, exec, ps, pause, resume, kill, delete"
ctrrun -d $IMG d1 sleep 1000 >/dev/null
out=$(timeout 30 ctr -n $CTR_NS task exec --exec-id e1 d1 sh -c 'echo in-exec; exit 5' 2>&1) && rc=0 || rc=$?
expect "task exec output" "in-exec" "$out"
expect "task exec exit code" 5 "$rc"
out=$(script -qec "timeout --foreground -k 5 30 ctr -n $CTR_NS task exec -t --exec-id e2 d1 sh -c 'tty; exit 3'" /dev/null </dev/null 2>&1 | tr -d '\r') && rc=0 || rc=$?
expect_contains "task exec -t: a terminal" "/dev/pts/" "$out"
expect "task exec -t exit code" 3 "$rc"
out=$(timeout 30 ctr -n $CTR_NS task ps d1 2>&1) || true
expect_contains "task ps lists the init pid" "$(ctr -n $CTR_NS task ls | awk '$1=="d1"{print $2}')" "$out"
timeout 30 ctr -n $CTR_NS task pause d1
expect "task pause" PAUSED "$(ctr -n $CTR_NS task ls | awk '$1=="d1"{print $3}')"
timeout 30 ctr -n $CTR_NS task resume d1
expect "task resume" RUNNING "$(ctr -n $CTR_NS task ls | awk '$1=="d1"{print $3}')"
# sleep as init has no SIGTERM handler, so TERM does nothing (as in runc);
# KILL from outside the container kills it.
timeout 30 ctr -n $CTR_NS task kill -s TERM d1
sleep 0.5
expect "task kill TERM leaves init without a handler running" RUNNING "$(ctr -n $CTR_NS task ls | awk '$1=="d1"{print $3}')"
timeout 30 ctr -n $CTR_NS task kill -s KILL d1
for i in $(seq 1 100); do [[ $(ctr -n $CTR_NS task ls | awk '$1=="d1"{print $3}') == STOPPED ]] && break; sleep 0.1; done
expect "task kill KILL stops it" STOPPED "$(ctr -n $CTR_NS task ls | awk '$1=="d1"{print $3}')"
out=$(timeout 30 ctr -n $CTR_NS task delete d1 2>&1) || true
expect_contains "task delete reports the SIGKILL status" "137" "$out"
timeout 30 ctr -n $CTR_NS container delete d1
expect "no state left in the runtime root" "" "$("$EXO" --root "$E2E/ctr-root/$CTR_NS" list -q 2>/dev/null)"
