#!/bin/sh
# vm case exec-handoff: a task policy's request survives a change of
# cpuset.mems between an exec and the new image's start-up, the window the
# exec handoff (preload/exec_handoff.hpp) exists for, made deterministic:
# the exec'd image is held in its constructors by nk-ctor-wait.so (preloaded
# after libnumakeep.so, so its constructor runs first) while the case
# writes cpuset.mems, and the kernel remaps the inherited policy
# (mpol_rebind_nodemask) before libnumakeep.so learns it. The new image
# reads its own task policy back from the kernel (raw get_mempolicy) and
# writes it to a file; `numakeep show` gives the request it recorded.
#   shrink   interleave 0-1 asked under 0-3, mems 2-3 in the window (the
#            kernel leaves 2-3, which alone looks like "the whole cpuset"),
#            then 0-3 again: rule(0-1, 0-3, 0-3) is 0-1.
#   grow     interleave 0-1 asked under 0-1 (the whole cpuset), mems 0-3 in
#            the window (the kernel leaves 0-1): the rule is 0-3.
#   relay    interleave 0-1 asked under 0-3; mems 2-3 before the exec; the
#            exec'd image execs again at once (as `bash -c prog` does),
#            learning 2-3 under 2-3 (the whole cpuset) before its own
#            handoff arrives: the daemon carries the first request on
#            (chain_exec_handoff), so back at 0-3 the last image is on 0-1.
#   control  grow again with the exec'ing image not under numakeep (no
#            handoff): the new image learns the kernel's remap, 0-1 under
#            0-3, and stays on 0-1. Shows the window is real.
. /case-lib.sh
wait_lib=/usr/local/lib/nk-ctor-wait.so
child_preload="$NUMAKEEP_PRELOAD:$wait_lib"

# exec_through NAME PARENT_PRELOAD NODES START WINDOW: mems START; the
# parent asks for interleave NODES and execs; while the new image waits in
# its constructors the mems become WINDOW; then it goes on. Its pid: $child.
exec_through() {
    p=/tmp/eh-$1
    rm -f $p.*
    echo "$4" > $cg/cpuset.mems
    spawn env LD_PRELOAD="$2" nk-exec-handoff-vm parent "$3" "$p" "$child_preload" &
    child=$!
    wait_for 100 test -e $p.waiting
    check $? "$1: interleave $3 asked under mems $4; the exec'd image (pid $child) waits in its constructors"
    echo "$5" > $cg/cpuset.mems
    touch $p.go
}
# policy_is NAME WANT: the new image's own reading of its task policy.
own_policy() { cat /tmp/eh-$1.policy 2>/dev/null; }
own_policy_is() { [ "$(own_policy $1)" = "$2" ]; }
# shown KEY: a value of `numakeep show --json $child`'s thread, [0,1] as 0,1.
shown() {
    numakeep show --json "$child" 2>&1 | tr -d '\n ' | grep -o "\"$1\":\(\[[^]]*\]\|[^,}]*\)" |
        head -1 | sed 's/^[^:]*://; s/[]["]//g'
}
request_is() { [ "$(shown requested) under $(shown mems_at_request)" = "$1" ]; }
finish_child() {
    touch /tmp/eh-$1.exit
    wait "$child"
}

start_daemon
make_cgroup 0-3

exec_through shrink "$NUMAKEEP_PRELOAD" 0-1 0-3 2-3
wait_for 50 own_policy_is shrink "interleave 2-3"
check $? "shrink: at mems 2-3 the new image is on $(own_policy shrink)"
wait_for 50 request_is "0,1 under 0,1,2,3"
check $? "shrink: it recorded the request made before the exec: $(shown requested) under $(shown mems_at_request)"
echo 0-3 > $cg/cpuset.mems
wait_for 50 own_policy_is shrink "interleave 0-1"
check $? "shrink: back at mems 0-3 it is on rule(0-1, 0-3, 0-3): $(own_policy shrink)"
finish_child shrink

exec_through grow "$NUMAKEEP_PRELOAD" 0-1 0-1 0-3
wait_for 50 own_policy_is grow "interleave 0-3"
check $? "grow: at mems 0-3 the new image is on rule(0-1, 0-1, 0-3): $(own_policy grow)"
wait_for 50 request_is "0,1 under 0,1"
check $? "grow: it recorded $(shown requested) under $(shown mems_at_request)"
finish_child grow

p=/tmp/eh-relay
rm -f $p.*
echo 0-3 > $cg/cpuset.mems
touch $p.go
spawn env LD_PRELOAD="$NUMAKEEP_PRELOAD" nk-exec-handoff-vm parent 0-1 $p "$child_preload" relay &
child=$!
wait_for 100 test -e $p.asked
check $? "relay: interleave 0-1 asked under mems 0-3 (pid $child)"
echo 2-3 > $cg/cpuset.mems
sleep 0.5  # the parent's rebind to 2-3
touch $p.exec
wait_for 50 own_policy_is relay "interleave 2-3"
check $? "relay: exec'd twice at mems 2-3, the last image is on $(own_policy relay)"
wait_for 50 request_is "0,1 under 0,1,2,3"
check $? "relay: it recorded the first request: $(shown requested) under $(shown mems_at_request)"
echo 0-3 > $cg/cpuset.mems
wait_for 50 own_policy_is relay "interleave 0-1"
check $? "relay: back at mems 0-3 it is on rule(0-1, 0-3, 0-3): $(own_policy relay)"
finish_child relay

exec_through control "" 0-1 0-1 0-3
wait_for 50 request_is "0,1 under 0,1,2,3"
check $? "control (no handoff): the new image learned the kernel's remap: $(shown requested) under $(shown mems_at_request)"
sleep 0.5
check $([ "$(own_policy control)" = "interleave 0-1" ]; echo $?) "control: and stays on $(own_policy control)"
finish_child control

refused=$(grep -c "exec handoff from pid" /tmp/numakeepd.log)
check $([ "$refused" -eq 0 ]; echo $?) "the daemon refused no handoff ($refused)"
stop_daemon
finish
