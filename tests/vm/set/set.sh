#!/bin/sh
# `numakeep set` cases (tests/vm/set/meson.build): nk-set-target under
# libnumakeep.so with numakeepd running, judged by the kernel's policies
# (/proc/PID/numa_maps) and the pages it holds per node (numa_maps' Nn=
# counts, which the kernel takes from the pages themselves).
. /case-lib.sh
export NUMAKEEP_SOCKET=/run/numakeep/set.sock
mkdir -p /run/numakeep
start_daemon
cg=/sys/fs/cgroup/nkset
mkdir -p $cg
echo 0-3 > $cg/cpuset.mems

# start_target NAME THREADS MIB POLICY: nk-set-target in $cg under `numakeep
# run`, its control directory /tmp/NAME; sets $pid and $addr (hex, no 0x).
start_target() {
    dir=/tmp/$1
    rm -rf "$dir"
    mkdir -p "$dir"
    sh -c "echo \$\$ > $cg/cgroup.procs; exec numakeep run -- nk-set-target $dir $2 $3 $4" \
        > "$dir.out" 2>&1 &
    wait_for 200 test -f "$dir/info"
    pid=$(awk '{ print $1 }' "$dir/info")
    addr=$(awk '{ sub(/^0x/, "", $2); print $2 }' "$dir/info")
    len=$(awk '{ print $3 }' "$dir/info")
    wait_for 100 numakeep show "$pid" > /dev/null 2>&1
}
# count PATTERN FILE: how many times PATTERN occurs in FILE.
count() { grep -o "$1" "$2" | wc -l; }
# show_json PID: numakeep show PID --json into /tmp/show.json.
show_json() { numakeep show "$1" --json > /tmp/show.json 2>/tmp/show.err; }
# vma_start PID ADDR: the start (hex, no 0x) of the VMA holding ADDR: an
# anonymous mapping with no policy of its own may have merged with its
# neighbour.
vma_start() {
    at=$(printf '%d' "0x$2")
    while IFS='- ' read -r lo hi rest; do
        if [ "$(printf '%d' "0x$lo")" -le "$at" ] && [ "$at" -lt "$(printf '%d' "0x$hi")" ]; then
            echo "$lo"
            return
        fi
    done < /proc/"$1"/maps
}
# pages PID ADDR: the Nn=count fields of the VMA holding ADDR (hex, no 0x).
pages() {
    awk -v a="$(vma_start "$1" "$2")" \
        '$1 == a { for (i = 3; i <= NF; i++) if ($i ~ /^N[0-9]+=/) printf "%s ", $i; exit }' \
        /proc/"$1"/numa_maps
}
# pages_only PID ADDR NODES...: every page of the VMA at ADDR is on NODES.
pages_only() {
    p=$1
    a=$2
    shift 2
    for f in $(pages "$p" "$a"); do
        n=${f%%=*}
        n=${n#N}
        ok=1
        for want in "$@"; do [ "$n" = "$want" ] && ok=0; done
        [ $ok -eq 0 ] || return 1
    done
    [ -n "$(pages "$p" "$a")" ]
}
# all_threads_kernel PID NODES: every thread in show --json is from set and
# the kernel holds NODES ("0, 1") for it; also the expected thread count.
threads_are() {
    show_json "$1" || return 1
    [ "$(count '"tid":' /tmp/show.json)" -eq "$2" ] || return 1
    [ "$(count '"origin": "set"' /tmp/show.json)" -ge "$2" ] || return 1
    [ "$(count "\"nodes\": \[$3\]" /tmp/show.json)" -ge "$2" ]
}

case "$1" in
sequence)
    # A plain program (no policy of its own) set to interleave 0-3, then the
    # DESIGN.md sequence: the intent column, thread and pages.
    start_target seq 2 8 none
    echo "pages before: $(pages "$pid" "$addr")"
    numakeep set --interleave=0-3 --all --wait --move --json "$pid" > /tmp/set.json
    check $? "set --interleave=0-3 --all --wait --move $pid: $(tr -d '\n' < /tmp/set.json)"
    check $([ "$(task_policy "$pid")" = "interleave:0-3" ]; echo $?) \
        "task policy now interleave:0-3 ($(task_policy "$pid"))"
    threads_are "$pid" 3 "0, 1, 2, 3"
    check $? "show: 3 threads from set, kernel 0-3"
    echo "pages after --move: $(pages "$pid" "$addr")"
    spread=$(pages "$pid" "$addr" | tr ' ' '\n' | grep -c '^N[0-3]=[1-9]')
    check $([ "$spread" -eq 4 ]; echo $?) "--move spread the held pages over 4 nodes ($(pages "$pid" "$addr"))"
    for step in 0-1:0-1 0-3:0-3 2-3:2-3 0-3:0-3 1:1 0-3:0-3; do
        mems=${step%%:*}
        nodes=${step#*:}
        echo "$mems" > $cg/cpuset.mems
        wait_for 100 policy_is "interleave:$nodes" task_policy "$pid"
        check $? "mems $mems: task policy interleave:$nodes ($(task_policy "$pid"))"
        wait_for 50 threads_are "$pid" 3 "$(expand "$nodes" | sed 's/ $//; s/ /, /g')"
        check $? "mems $mems: every thread holds $nodes"
    done
    ;;
threads)
    # Every thread of an 8-thread program, and threads created afterwards.
    start_target thr 7 1 none
    numakeep set --interleave=0-3 --task --wait "$pid" > /tmp/set.out
    check $? "set --task --wait on 8 threads: $(cat /tmp/set.out)"
    threads_are "$pid" 8 "0, 1, 2, 3"
    check $? "show: 8 threads from set, kernel 0-3"
    for tid in $(cat /tmp/thr/tids); do
        grep -q "\"tid\": $tid," /tmp/show.json
        check $? "thread $tid is listed"
    done
    touch /tmp/thr/spawn
    wait_for 100 test -f /tmp/thr/spawned
    threads_are "$pid" 10 "0, 1, 2, 3"
    check $? "2 threads created afterwards carry it too (10 listed)"
    echo 0-1 > $cg/cpuset.mems
    wait_for 100 threads_are "$pid" 10 "0, 1"
    check $? "mems 0-1: all 10 threads hold 0-1"
    echo 0-3 > $cg/cpuset.mems
    wait_for 100 threads_are "$pid" 10 "0, 1, 2, 3"
    check $? "mems 0-3 again: all 10 threads hold 0-3 (the intent kept)"
    ;;
range)
    # Part of a range: the record and the kernel's vma split at --range's end.
    start_target rng 0 4 interleave
    a=$(printf '%d' "0x$addr")
    mid=$(printf '%x' $((a + 1048576)))
    numakeep set --membind=1 --ranges --range="0x$addr-0x$mid" --wait "$pid"
    check $? "set --membind=1 --ranges --range=0x$addr-0x$mid"
    check $([ "$(range_policy "$pid" "$addr")" = "bind:1" ]; echo $?) \
        "the first MiB is bind:1 ($(range_policy "$pid" "$addr"))"
    check $([ "$(range_policy "$pid" "$mid")" = "interleave:0-3" ]; echo $?) \
        "the rest stays interleave:0-3 ($(range_policy "$pid" "$mid"))"
    show_json "$pid"
    check $([ "$(count '"start":' /tmp/show.json)" -eq 2 ] && [ "$(count '"origin": "set"' /tmp/show.json)" -eq 1 ]; echo $?) \
        "show: two range records, one from set"
    echo 0-1 > $cg/cpuset.mems
    wait_for 100 policy_is "bind:1" range_policy "$pid" "$addr"
    check $? "mems 0-1: set's piece stays bind:1"
    echo 0-3 > $cg/cpuset.mems
    wait_for 100 policy_is "interleave:0-3" range_policy "$pid" "$mid"
    check $? "mems 0-3: the program's piece back on interleave:0-3"
    # The program's own mbind afterwards wins, and show says so.
    touch /tmp/rng/mbind
    wait_for 100 test -f /tmp/rng/mbind.done
    check $([ "$(range_policy "$pid" "$addr")" = "bind:0" ]; echo $?) \
        "its own mbind: bind:0 ($(range_policy "$pid" "$addr"))"
    show_json "$pid"
    check $([ "$(count '"origin": "set"' /tmp/show.json)" -eq 0 ]; echo $?) \
        "show: no request from set is left, the program's own replaced it"
    echo 0-1 > $cg/cpuset.mems
    sleep 0.5
    check $([ "$(range_policy "$pid" "$addr")" = "bind:0" ]; echo $?) \
        "mems 0-1: the program's bind:0 is kept, not set's ($(range_policy "$pid" "$addr"))"
    echo 0-3 > $cg/cpuset.mems
    ;;
refusals)
    start_target ref 0 1 none
    chmod 755 /tmp/ref
    nk-set-target --as-uid 65534 numakeep set --interleave=0-3 "$pid" > /tmp/ref.out 2>&1
    rc=$?
    check $([ $rc -eq 4 ] && grep -q "another user" /tmp/ref.out; echo $?) \
        "another user's process: exit $rc, $(cat /tmp/ref.out)"
    grep -q "refused: permission denied" /tmp/numakeepd.log
    check $? "the refusal is in the daemon's log"
    sleep 60 &
    plain=$!
    numakeep set --interleave=0-3 "$plain" > /tmp/ref.out 2>&1
    rc=$?
    check $([ $rc -eq 3 ] && grep -q "numakeep run" /tmp/ref.out; echo $?) \
        "a process not under numakeep: exit $rc, $(cat /tmp/ref.out)"
    kill $plain
    echo 0-1 > $cg/cpuset.mems
    numakeep set --membind=2-3 --wait "$pid" > /tmp/ref.out 2>&1
    rc=$?
    check $([ $rc -eq 6 ] && grep -q "refused the policy" /tmp/ref.out; echo $?) \
        "nodes outside the cpuset (EINVAL): exit $rc, $(cat /tmp/ref.out)"
    echo 0-3 > $cg/cpuset.mems
    numakeep set --interleave=0-3 --cgroup /nope > /tmp/ref.out 2>&1
    rc=$?
    check $([ $rc -eq 3 ] && grep -q "no such cgroup" /tmp/ref.out; echo $?) \
        "a cgroup that does not exist: exit $rc"
    # A process that exits while the set waits for it: SIGSTOP holds its
    # agent, then it is killed.
    kill -STOP "$pid"
    (sleep 1; kill -KILL "$pid"; kill -CONT "$pid") &
    numakeep set --interleave=0-3 --wait "$pid" > /tmp/ref.out 2>&1
    rc=$?
    check $([ $rc -eq 3 ] && grep -q "exited" /tmp/ref.out; echo $?) \
        "a process that exits before it answers: exit $rc, $(cat /tmp/ref.out)"
    ;;
cgroup)
    # --cgroup over 50 processes in two child cgroups, --wait --move: every
    # process's held pages end on the nodes asked for.
    echo +cpuset > $cg/cgroup.subtree_control
    mkdir -p $cg/a $cg/b
    echo 0-3 > $cg/a/cpuset.mems
    echo 0-3 > $cg/b/cpuset.mems
    i=0
    while [ $i -lt 50 ]; do
        sub=a
        [ $((i % 2)) -eq 1 ] && sub=b
        mkdir -p /tmp/c$i
        sh -c "echo \$\$ > $cg/$sub/cgroup.procs; exec numakeep run -- nk-set-target /tmp/c$i 0 2 none" \
            > /tmp/c$i.out 2>&1 &
        i=$((i + 1))
    done
    started() { [ "$(ls /tmp/c*/info 2>/dev/null | wc -l)" -ge 50 ]; }
    wait_for 600 started
    check $? "50 programs started"
    listed() { [ "$(numakeep ps --json 2>/dev/null | grep -o '"pid":' | wc -l)" -ge 50 ]; }
    wait_for 600 listed
    check $? "all 50 registered"
    nk-cli-vm time-ms numakeep set --interleave=2-3 --cgroup /nkset --all --wait --move --json \
        > /tmp/set.json 2> /tmp/set.time
    rc=$?
    check $([ $rc -eq 0 ]; echo $?) "set --cgroup /nkset --wait --move: exit $rc ($(cat /tmp/set.time))"
    check $([ "$(count '"outcome": "applied"' /tmp/set.json)" -eq 50 ]; echo $?) \
        "50 outcomes, all applied ($(count '"outcome": "applied"' /tmp/set.json))"
    check $([ "$(count '"moved": true' /tmp/set.json)" -eq 50 ]; echo $?) \
        "every process says its pages moved ($(count '"moved": true' /tmp/set.json))"
    bad=0
    i=0
    while [ $i -lt 50 ]; do
        p=$(awk '{ print $1 }' /tmp/c$i/info)
        a=$(awk '{ sub(/^0x/, "", $2); print $2 }' /tmp/c$i/info)
        if ! pages_only "$p" "$a" 2 3; then
            bad=$((bad + 1))
            echo "pid $p: $(pages "$p" "$a") $(task_policy "$p"); set said:" \
                "$(grep -A14 "\"pid\": $p," /tmp/set.json | tr -d '\n')"
        fi
        i=$((i + 1))
    done
    check $([ $bad -eq 0 ]; echo $?) "every process's pages are on 2-3 ($bad not)"
    grep -q "cgroup /nkset (3 cgroups, walked by libcgroup)" /tmp/numakeepd.log
    check $? "libcgroup walked the cgroup v2 subtree: /nkset, /nkset/a, /nkset/b"
    i=0
    while [ $i -lt 50 ]; do touch /tmp/c$i/quit; i=$((i + 1)); done
    ;;
*)
    echo "unknown case $1"
    exit 2
    ;;
esac
grep "set by pid" /tmp/numakeepd.log | head -3
stop_daemon
finish
