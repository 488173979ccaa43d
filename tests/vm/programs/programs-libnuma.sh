#!/bin/sh
# vm case programs-libnuma: nk-libnuma-vm under libnumakeep.so with
# numakeepd running: ranges from numa_alloc_interleaved (interleave over
# every node, the whole cpuset), numa_alloc_onnode(node 2) and
# numa_tonode_memory(node 3) (bind to one node). libnuma reaches mbind
# through its PLT, which the runtime interposes. Through the DESIGN.md
# sequence of cpuset.mems, /proc/PID/numa_maps must show intent's rule for
# each range after each step: the interleave follows the mems, the one-node
# binds move by position (2 -> 0 under 0-1, back to 2 under 0-3; 3 -> 1,
# back to 3), where the kernel alone never gets back.
# The program's stdout (addresses go to a file) must be exactly what it
# prints without numakeep, with the same exit status.
# --- helpers: shared by every programs-* case (tests/common/case-lib.sh,
# shipped beside each case by tools/vm) ---
. /case-lib.sh
# --- the case ---
start_daemon
make_cgroup 0-3

in_cgroup nk-libnuma-vm /tmp/plain-addrs < /dev/null > /tmp/plain.out 2>&1
plain_status=$?
echo "without numakeep (exit status $plain_status):"
cat /tmp/plain.out

rm -f /tmp/ctl
mkfifo /tmp/ctl
spawn $nk nk-libnuma-vm /tmp/addrs < /tmp/ctl > /tmp/nk.out 2>&1 &
pid=$!
exec 3> /tmp/ctl
wait_for 100 grep -q ready /tmp/nk.out
check $? "nk-libnuma-vm (pid $pid) is ready"
interleaved=$(awk '$1 == "interleaved" { print $2 }' /tmp/addrs)
onnode=$(awk '$1 == "onnode" { print $2 }' /tmp/addrs)
tonode=$(awk '$1 == "tonode" { print $2 }' /tmp/addrs)

policies_match() {
    policy_is "interleave:$1" range_policy "$pid" "$interleaved" &&
        policy_is "bind:$(rule_remap 2 "$1")" range_policy "$pid" "$onnode" &&
        policy_is "bind:$(rule_remap 3 "$1")" range_policy "$pid" "$tonode"
}
show_policies() {
    echo "  interleaved $(range_policy $pid $interleaved), onnode $(range_policy $pid $onnode)," \
        "tonode $(range_policy $pid $tonode)"
}
wait_for 50 policies_match 0-3
check $? "start: interleave:0-3, bind:2, bind:3"
show_policies
walk_echoing_program nk-libnuma-vm
stop_daemon
finish
