#!/bin/sh
# vm cases programs-numactl-interleave and programs-numactl-membind:
# `sh programs-numactl.sh interleave|membind`, i.e. `numactl --interleave=all
# memhog` or `numactl --membind=0-3 memhog` under libnumakeep.so with
# numakeepd running. numactl sets the task policy and execs memhog; the
# runtime in memhog learns that policy at start-up (a request for every node
# made under mems 0-3). Through the DESIGN.md sequence of cpuset.mems the
# kernel's task policy of the running memhog (/proc/PID/numa_maps) must be
# intent's rule, interleave (or bind) over the mems of now, where the kernel
# alone keeps only 0-1, then 0 (DESIGN.md's first table).
# Output: a memhog that lives through the whole walk is killed at its end,
# so its output is checked line by line (each line is one repetition's,
# identical to a plain run's line); a second, finite memhog started beside
# it must print exactly what the same command prints without numakeep, with
# the same exit status.
case ${1:-} in
interleave)
    policy_option="--interleave=all"
    mode=interleave
    ;;
membind)
    policy_option="--membind=0-3"
    mode=bind
    ;;
*)
    echo "usage: programs-numactl.sh interleave|membind (got '${1:-}')"
    exit 2
    ;;
esac
# --- helpers: shared by every programs-* case (tests/common/case-lib.sh,
# shipped beside each case by tools/vm) ---
. /case-lib.sh
# --- the case ---
start_daemon
make_cgroup 0-3

# The reference: the same commands without numakeep, mems never changing.
in_cgroup numactl $policy_option memhog 16M > /tmp/plain-line.out 2>&1
in_cgroup numactl $policy_option memhog -r20 16M > /tmp/plain-finite.out 2>&1
plain_status=$?
plain_line=$(cat /tmp/plain-line.out)
echo "plain memhog line: '$plain_line', finite run exit status $plain_status"

spawn $nk numactl $policy_option memhog -r1000000 16M > /tmp/long.out 2>&1 &
long_pid=$!
spawn $nk numactl $policy_option memhog -r20 16M > /tmp/finite.out 2>&1 &
finite_pid=$!

policies_match() {
    policy_is "$mode:$1" task_policy "$long_pid"
}
wait_for 50 policies_match 0-3
check $? "start: memhog (pid $long_pid) runs with task policy $mode:0-3 ($(task_policy $long_pid))"
for mems in $walk; do
    step "$mems"
    [ "$failures" -gt 0 ] && echo "  memhog's task policy: $(task_policy $long_pid)"
done

kill "$long_pid"
wait "$long_pid"
wait "$finite_pid"
finite_status=$?
bad_lines=$(grep -cvx "$plain_line" /tmp/long.out)
lines=$(wc -l < /tmp/long.out)
# The last line may be cut short by the kill.
check $([ "$bad_lines" -le 1 ] && [ "$lines" -ge 1 ]; echo $?) \
    "the long memhog printed $lines repetitions, each the plain run's line ($bad_lines cut short)"
cmp /tmp/plain-finite.out /tmp/finite.out
check $? "memhog -r20 under numakeep printed exactly what it prints without"
check $([ "$finite_status" -eq "$plain_status" ]; echo $?) \
    "memhog -r20 exit status $finite_status, without numakeep $plain_status"
stop_daemon
finish
