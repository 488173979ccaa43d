#!/bin/sh
# vm case programs-hwloc: Debian's hwloc under libnumakeep.so with numakeepd
# running. `hwloc-bind --membind node:1-2 -- nk-hwloc-area-vm` sets a BIND
# task policy over nodes 1-2 before exec (learned by the runtime at
# start-up); nk-hwloc-area-vm then binds two areas with
# hwloc_set_area_membind, which issues a raw syscall(__NR_mbind): one
# INTERLEAVE over 0-3 (the whole cpuset) and one BIND over 1-2. Through the
# DESIGN.md sequence of cpuset.mems, /proc/PID/numa_maps must show intent's
# rule for all three after each step: 1-2 is remapped by position
# (0-1 -> 0-1, 2-3 -> 2-3, 1 -> 1, 0-3 -> 1-2 again, where the kernel alone
# is left with 0-1 for good), 0-3 follows the mems.
# The program's stdout (addresses go to a file) must be exactly what it
# prints without numakeep, with the same exit status.
# --- helpers: shared by every programs-* case (tests/common/case-lib.sh,
# shipped beside each case by tools/vm) ---
. /case-lib.sh
# --- the case ---
start_daemon
make_cgroup 0-3

in_cgroup hwloc-bind --membind node:1-2 -- nk-hwloc-area-vm /tmp/plain-addrs \
    < /dev/null > /tmp/plain.out 2>&1
plain_status=$?
echo "without numakeep (exit status $plain_status):"
cat /tmp/plain.out

rm -f /tmp/ctl
mkfifo /tmp/ctl
spawn $nk hwloc-bind --membind node:1-2 -- nk-hwloc-area-vm /tmp/addrs \
    < /tmp/ctl > /tmp/nk.out 2>&1 &
pid=$!
exec 3> /tmp/ctl
wait_for 100 grep -q ready /tmp/nk.out
check $? "nk-hwloc-area-vm (pid $pid) is ready"
interleave_addr=$(awk '$1 == "interleave-0-3" { print $2 }' /tmp/addrs)
bind_addr=$(awk '$1 == "bind-1-2" { print $2 }' /tmp/addrs)

policies_match() {
    policy_is "preferred_many:$(rule_remap 1-2 "$1")" task_policy "$pid" &&
        policy_is "interleave:$1" range_policy "$pid" "$interleave_addr" &&
        policy_is "preferred_many:$(rule_remap 1-2 "$1")" range_policy "$pid" "$bind_addr"
}
show_policies() {
    echo "  task $(task_policy $pid), area interleave-0-3 $(range_policy $pid $interleave_addr)," \
        "area bind-1-2 $(range_policy $pid $bind_addr)"
}
wait_for 50 policies_match 0-3
check $? "start: task preferred_many:1-2, areas interleave:0-3 and preferred_many:1-2"
show_policies
walk_echoing_program nk-hwloc-area-vm
stop_daemon
finish
