#!/bin/sh
# Shell helpers shared by the vm cases of tests/vm/programs (and any case
# that wants them): tools/vm ships this file beside every case as
# /case-lib.sh; a case sources it with `. /case-lib.sh`.
failures=0
checks=0
cg=/sys/fs/cgroup/nkprograms

check() {  # check STATUS WHAT: STATUS 0 is a pass
    checks=$((checks + 1))
    if [ "$1" -eq 0 ]; then echo "PASS: $2"; else echo "FAIL: $2"; failures=$((failures + 1)); fi
}

finish() {
    echo "$checks checks, $failures failed"
    [ "$failures" -eq 0 ]
    exit $?
}

# wait_for TENTHS COMMAND...: runs COMMAND every 0.1 s until it succeeds;
# leaves the tenths it waited in $waited.
wait_for() {
    wf_limit=$1
    shift
    waited=0
    while [ "$waited" -lt "$wf_limit" ]; do
        "$@" && return 0
        sleep 0.1
        waited=$((waited + 1))
    done
    "$@"
}

# The daemon on $NUMAKEEP_SOCKET when the case exported one (the runtime
# and the CLI read it too), else on the default socket.
start_daemon() {
    sock=${NUMAKEEP_SOCKET:-/run/numakeep/numakeepd.sock}
    numakeepd --socket "$sock" --foreground 2>/tmp/numakeepd.log &
    daemon_pid=$!
    if ! wait_for 100 test -S "$sock"; then
        echo "FAIL: numakeepd did not create $sock"
        cat /tmp/numakeepd.log
        exit 1
    fi
}

stop_daemon() {
    kill "$daemon_pid"
    wait "$daemon_pid" 2>/dev/null
}

# make_cgroup MEMS: the case's cgroup, its cpuset.mems set to MEMS.
make_cgroup() {
    mkdir -p $cg
    echo "$1" > $cg/cpuset.mems
}

# in_cgroup CMD...: runs CMD inside the case's cgroup, in the foreground.
in_cgroup() {
    sh -c 'echo $$ > '"$cg"'/cgroup.procs && exec "$@"' sh "$@"
}
# spawn CMD... &: the same in the background, with $! CMD's own pid (the
# background shell execs the sh that execs CMD).
spawn() {
    exec sh -c 'echo $$ > '"$cg"'/cgroup.procs && exec "$@"' sh "$@"
}
# "$nk CMD": CMD under libnumakeep.so.
nk="env LD_PRELOAD=$NUMAKEEP_PRELOAD"

# The kernel's policies of a running process, as /proc/PID/numa_maps prints
# them (mpol_to_str): "MODE:NODES", with a mode flag ("=relative",
# "=static") dropped, since the nodes printed are the ones in force.
# task_policy PID: the main thread's task policy (the stack has no policy of
# its own, so show_numa_map prints the task's).
task_policy() {
    sed 's/prefer (many)/preferred_many/' /proc/"$1"/numa_maps 2>/dev/null | awk '/ stack/ { print $2; exit }' | sed 's/=[a-z]*//'
}
# range_policy PID ADDR: the policy of the VMA that starts at ADDR (hex).
range_policy() {
    sed 's/prefer (many)/preferred_many/' /proc/"$1"/numa_maps 2>/dev/null | awk -v a="$2" '$1 == a { print $2; exit }' | sed 's/=[a-z]*//'
}
# policy_is WANT CMD...: CMD prints WANT.
policy_is() {
    want=$1
    shift
    [ "$("$@")" = "$want" ]
}

# rule_remap NODES MEMS: intent's rule for a set request NODES made under
# 0-3 that is not the whole cpuset, at MEMS: remap(NODES, 0-3 -> MEMS),
# the kernel's bitmap_remap (node n has position n in 0-3, and lands on the
# node at position n mod |MEMS| of MEMS). Lists are "a,b" or "a-b".
rule_remap() {
    set -- "$(expand "$1")" "$(expand "$2")"
    out=""
    for n in $1; do
        i=0
        for m in $2; do i=$((i + 1)); done
        k=$((n % i))
        j=0
        for m in $2; do
            if [ $j -eq $k ]; then out="$out $m"; fi
            j=$((j + 1))
        done
    done
    compress $(echo $out | tr ' ' '\n' | sort -n | uniq)
}
expand() {  # "0-1,3" -> "0 1 3"
    for part in $(echo "$1" | tr ',' ' '); do
        case $part in
        *-*) seq "${part%-*}" "${part#*-}" ;;
        *) echo "$part" ;;
        esac
    done | tr '\n' ' '
}
compress() {  # "0 1 3" -> "0-1,3" (the kernel's %*pbl)
    out=""
    lo=""
    prev=""
    for n in "$@" x; do
        if [ -n "$prev" ] && [ "$n" != x ] && [ "$n" -eq $((prev + 1)) ]; then
            prev=$n
            continue
        fi
        if [ -n "$lo" ]; then
            if [ "$lo" = "$prev" ]; then out="$out,$lo"; else out="$out,$lo-$prev"; fi
        fi
        lo=$n
        prev=$n
    done
    echo "${out#,}"
}

# The DESIGN.md sequence of cpuset.mems, after the start under 0-3.
walk="0-1 0-3 2-3 0-3 1 0-3"

# step MEMS: writes MEMS, then waits (up to 5 s) for the case's
# policies_match MEMS, and reports how long the rebind took to arrive.
step() {
    echo "$1" > $cg/cpuset.mems
    wait_for 50 policies_match "$1"
    check $? "mems $1: kernel policies are the rule's (after $((waited * 100)) ms)"
}

# walk_echoing_program NAME: the end of the cases whose program NAME ($pid)
# reads control lines from fd 3 and echoes them: walks the DESIGN.md
# sequence (a step, the case's show_policies, a "step MEMS" line to the
# program), closes its input, and checks that its output less those lines
# (/tmp/nk.out) and its exit status are the plain run's (/tmp/plain.out,
# $plain_status).
walk_echoing_program() {
    for mems in $walk; do
        step "$mems"
        show_policies
        echo "step $mems" >&3
    done
    exec 3>&-
    wait "$pid"
    status=$?
    grep -v '^step ' /tmp/nk.out > /tmp/nk-program.out
    cmp /tmp/plain.out /tmp/nk-program.out
    check $? "$1 printed exactly what it prints without numakeep"
    check $([ "$status" -eq "$plain_status" ]; echo $?) "exit status $status, without numakeep $plain_status"
}
