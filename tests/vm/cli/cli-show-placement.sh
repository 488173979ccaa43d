#!/bin/sh
# `numakeep show PID` counts the pages of each range where the intent wants
# them and still to move (tools/numakeep/placement_tally.hpp), checked
# against the program's own count with move_pages(2) and a model of
# interleave (page offset modulo the nodes). The program holds 16 MiB
# interleaved over 0-3 with placement off, so after 0-3 -> 0-1 -> 0-3 the
# pages the cgroup moved stay where it left them (about half to move); a
# second one with placement on ends with nothing to move.
# --- helpers: tests/common/case-lib.sh, shipped beside each case ---
export NUMAKEEP_SOCKET=/run/numakeep/cli.sock
. /case-lib.sh
# --- the case ---
start_daemon

cg=/sys/fs/cgroup/nkcliplace
mkdir -p $cg
echo 0-3 > $cg/cpuset.mems

# start NAME PLACEMENT: a holder in the cgroup, its pid in $pid.
start() {
    sh -c "echo \$\$ > $cg/cgroup.procs; exec env NUMAKEEP_PLACEMENT=$2 LD_PRELOAD=$NUMAKEEP_PRELOAD nk-cli-vm holder 16" \
        > /tmp/$1.out 2>&1 &
    pid=$!
    wait_for 100 grep -q ready /tmp/$1.out
    check $? "holder $1 started (pid $pid): $(cat /tmp/$1.out)"
}
start off 0
off=$pid
start on 1
on=$pid
sleep 1
echo 0-1 > $cg/cpuset.mems
sleep 2
echo 0-3 > $cg/cpuset.mems

# counts PID NAME: show --json's range counts and the program's own, as
# "placed P to_move M absent A" each, in /tmp/NAME.show and /tmp/NAME.own.
counts() {
    numakeep show "$1" --json > /tmp/$2.json 2>&1
    tr -d '\n ' < /tmp/$2.json | sed -n 's/.*"ranges":\[.*"placement":{"placed":\([0-9]*\),"to_move":\([0-9]*\),"absent":\([0-9]*\)}.*/placed \1 to_move \2 absent \3/p' > /tmp/$2.show
    n=$(grep -c placed /tmp/$2.out)
    kill -USR1 "$1"
    wait_for 50 sh -c "[ \$(grep -c placed /tmp/$2.out) -gt $n ]"
    grep placed /tmp/$2.out | tail -1 > /tmp/$2.own
}

# The one held with placement off: the cgroup's moves stay.
sleep 2
counts $off off
echo "show: $(cat /tmp/off.show)   own: $(cat /tmp/off.own)"
check $([ -s /tmp/off.show ] && [ "$(cat /tmp/off.show)" = "$(cat /tmp/off.own)" ]; echo $?) \
    "placement off: show's counts equal the program's own"
set -- $(cat /tmp/off.own)
check $([ "$4" -ge 1024 ] && [ "$4" -le 3072 ]; echo $?) "placement off: about half of 4096 pages to move ($4)"

# The one with placement on: once its respread is logged, nothing to move.
wait_for 300 grep -q "respread pid $on .*: [1-9]" /tmp/numakeepd.log
check $? "the respread of pid $on is logged"
counts $on on
echo "show: $(cat /tmp/on.show)   own: $(cat /tmp/on.own)"
check $([ -s /tmp/on.show ] && [ "$(cat /tmp/on.show)" = "$(cat /tmp/on.own)" ]; echo $?) \
    "placement on: show's counts equal the program's own"
check $(grep -q "to_move 0 absent" /tmp/on.show; echo $?) "placement on: nothing left to move"

numakeep show "$off" | sed -n '/^pages of the ranges/,/all ranges/p' | tee /tmp/off.txt
check $(grep -q "^  all ranges: .* on intent, .* to move" /tmp/off.txt; echo $?) "show prints the pages of the ranges"
grep -q "placement " /tmp/off.txt
check $? "show's heading has placement's setting"

kill $off $on 2>/dev/null
stop_daemon
finish
