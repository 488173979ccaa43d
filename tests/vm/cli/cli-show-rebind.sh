#!/bin/sh
# `numakeep run --interleave=all -- PROGRAM`, then `numakeep show PID --json`
# reports the request and the kernel's nodes, before and after cpuset.mems
# changes: the thread's task policy (from run) and the range PROGRAM mbind()s
# both ask for every node; the rule and the kernel must follow the cgroup.
# --- helpers: tests/common/case-lib.sh, shipped beside each case ---
export NUMAKEEP_SOCKET=/run/numakeep/cli.sock
. /case-lib.sh
# --- the case ---
start_daemon

cg=/sys/fs/cgroup/nkcli
mkdir -p $cg
echo 0-3 > $cg/cpuset.mems
sh -c "echo \$\$ > $cg/cgroup.procs; exec numakeep run --interleave=all -- nk-cli-vm sleeper" \
    > /tmp/sleeper.out 2>&1 &
pid=$!
wait_for 100 grep -q ready /tmp/sleeper.out
check $? "numakeep run started PROGRAM (pid $pid): $(cat /tmp/sleeper.out)"
check $([ "$(cat /tmp/sleeper.out)" = "ready $pid" ]; echo $?) "run kept the pid"

# show_matches WANT: show --json has the request (all four nodes) in both
# entries, and the rule's and the kernel's nodes are WANT in both.
show_matches() {
    numakeep show "$pid" --json > /tmp/show.json 2>/tmp/show.err || return 1
    [ "$(grep -c '"tid":' /tmp/show.json)" -eq 1 ] || return 1
    [ "$(grep -c '"start":' /tmp/show.json)" -eq 1 ] || return 1
    [ "$(grep -c '"requested": \[0, 1, 2, 3\]' /tmp/show.json)" -eq 2 ] || return 1
    [ "$(grep -c '"mems_at_request": \[0, 1, 2, 3\]' /tmp/show.json)" -eq 2 ] || return 1
    [ "$(grep -c "\"rule_now\": \[$1\]" /tmp/show.json)" -eq 2 ] || return 1
    [ "$(grep -c "\"nodes\": \[$1\]" /tmp/show.json)" -eq 2 ] || return 1
    [ "$(grep -c '"differs": false' /tmp/show.json)" -eq 2 ] || return 1
}

step() {  # step MEMS WANT
    if [ -n "$1" ]; then echo "$1" > $cg/cpuset.mems; fi
    wait_for 100 show_matches "$2"
    check $? "mems ${1:-0-3 (start)}: show --json reports request 0-3, rule and kernel [$2]"
    if [ "$failures" -gt 0 ]; then cat /tmp/show.json /tmp/show.err; fi
}

step "" "0, 1, 2, 3"
numakeep show "$pid"
step 0-1 "0, 1"
step 0-3 "0, 1, 2, 3"
step 2-3 "2, 3"
step 0-3 "0, 1, 2, 3"
numakeep show "$pid"
grep -q '"kernel": {' /tmp/show.json
check $? "the kernel's policy was read back"

numakeep ps > /tmp/ps.out
check $? "numakeep ps"
grep -q "^ *$pid  nk-cli-vm  /nkcli" /tmp/ps.out
check $? "ps lists the process with its cgroup"
cat /tmp/ps.out

kill "$pid"
kill "$daemon_pid"
finish
