#!/bin/sh
# vm case programs-shell-pipeline: bash under libnumakeep.so, started by
# `numactl --interleave=all`, forks and execs without pause (a memhog | cat
# pipeline inside a command substitution, over and over) and every second
# round leaves a child behind (nk-hold-vm, dynamic, so the runtime loads in
# it) while cpuset.mems walks through the DESIGN.md sequence. bash's own
# task policy must be the rule's after each step, and at the end every
# child still alive, whenever it was forked, must be on interleave over the
# mems of now (0-3): a task policy inherited over fork and exec is a request
# for the whole cpuset made under the mems of its start, also for a child
# exec'd while a change was under way (the exec handoff,
# preload/exec_handoff.hpp; the exec-handoff case makes that window
# deterministic).
# Output: the loop prints only what it did not expect, then "stopped":
# the same with and without numakeep.
# --- helpers: shared by every programs-* case (tests/common/case-lib.sh,
# shipped beside each case by tools/vm) ---
. /case-lib.sh
# --- the case ---
# The loop: stops when /tmp/stop exists; holders live until /tmp/release.
loop='
i=0
while [ ! -e /tmp/stop ]; do
    out=$(memhog 1M | cat)
    [ "$out" = "." ] || echo "memhog printed: $out"
    i=$((i + 1))
    if [ $((i % 2)) -eq 0 ] && [ "$i" -le 200 ]; then
        nk-hold-vm /tmp/release &
    fi
done
echo stopped
'
start_daemon
make_cgroup 0-3

# hold_pids: the nk-hold-vm processes alive now, one a line. One pidof,
# not a $(cat) per /proc entry: forks are slow in the emulated guest.
hold_pids() {
    pidof nk-hold-vm | tr ' ' '\n'
}

rm -f /tmp/stop /tmp/release
in_cgroup numactl --interleave=all bash -c "(sleep 1; touch /tmp/stop) & $loop" \
    > /tmp/plain.out 2>&1
plain_status=$?
touch /tmp/release
sleep 0.3
rm -f /tmp/stop /tmp/release
echo "without numakeep (exit status $plain_status): $(cat /tmp/plain.out)"

spawn $nk numactl --interleave=all bash -c "$loop" > /tmp/nk.out 2>&1 &
bash_pid=$!
policies_match() {
    policy_is "interleave:$1" task_policy "$bash_pid"
}
wait_for 50 policies_match 0-3
check $? "start: bash (pid $bash_pid) runs with task policy interleave:0-3"
for mems in $walk; do
    sleep 1  # let bash fork and exec a few rounds under these mems
    step "$mems"
done
sleep 0.5
touch /tmp/stop
wait "$bash_pid"
status=$?

# all_held_match: every holder alive is on interleave:0-3; prints the
# others. Of those, the ones on the rule for the request their runtime
# recorded (numakeep show: no "differs") learned the kernel's remap as
# their request: exec'd while a change of mems was under way, without the
# exec handoff. Leaves their count in $late.
all_held_match() {
    ok=0
    late=0
    for p in $(hold_pids); do
        got=$(task_policy "$p")
        [ -z "$got" ] || [ "$got" = "interleave:0-3" ] && continue
        shown=$(numakeep show --json "$p" 2>&1 | tr -d '\n')
        # field KEY: a value of the JSON, a node list [0,1] as "0,1".
        field() { echo "$shown" | grep -o "\"$1\": *\(\[[^]]*\]\|[^,}]*\)" | head -1 | sed 's/^[^:]*: *//; s/[]["]//g'; }
        if [ "$(field differs)" = false ]; then
            late=$((late + 1))
            echo "  holder $p: $got, the rule for the request it recorded at start-up:" \
                "$(field requested) under mems $(field mems_at_request)"
        else
            echo "  holder $p: $got; numakeep show: $shown"
        fi
        ok=1
    done
    return $ok
}
held=$(hold_pids | wc -l)
check $([ "$held" -ge 1 ]; echo $?) "$held children forked and exec'd during the walk are alive"
# A child exec'd while the mems changed learns its task policy in its
# constructor after the kernel remapped it (lossily, mpol_rebind_nodemask);
# the exec handoff gives it the request made before the exec instead.
wait_for 50 all_held_match > /tmp/held.out
check $? "every one is on interleave:0-3 (after $((waited * 100)) ms)"
all_held_match > /tmp/held.out
check $([ "$late" -eq 0 ]; echo $?) "none learned a remapped request (exec'd while the mems changed): $late of $held"
sort -u /tmp/held.out | head -20
touch /tmp/release

cmp /tmp/plain.out /tmp/nk.out
check $? "bash printed exactly what it prints without numakeep: $(cat /tmp/nk.out)"
check $([ "$status" -eq "$plain_status" ]; echo $?) "exit status $status, without numakeep $plain_status"
stop_daemon
finish
