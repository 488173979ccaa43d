#!/bin/sh
# systemd-set-property-RELEASE and systemd-numapolicy-RELEASE: a program
# under the runtime in a unit, its nodes changed the way systemd users
# change a service's nodes: `systemctl set-property --runtime UNIT
# AllowedMemoryNodes=...` through the DESIGN.md sequence. Its task policy
# asks for every node, and so does the 1 MiB range it mbind()s
# (nk-cli-vm sleeper); after each step every policy of the process follows
# the rule (interleave over the mems of now), checked from outside with
# `numakeep show --json` and from the kernel (/proc/PID/numa_maps).
#   set-property.sh run        systemd-run -p AllowedMemoryNodes=0-3
#                              -p Environment=LD_PRELOAD=... numactl
#                              --interleave=all PROGRAM
#   set-property.sh numapolicy a service with NUMAPolicy=interleave and
#                              NUMAMask=all: systemd sets the task policy
#                              before exec, the runtime must learn it
. /case-lib.sh
unit=nk-walk.service
case ${1:-} in
run)
    systemd-run --quiet --unit=$unit -p AllowedMemoryNodes=0-3 \
        -p Environment=LD_PRELOAD=$NUMAKEEP_PRELOAD numactl --interleave=all nk-cli-vm sleeper
    ;;
numapolicy)
    cat >/run/systemd/system/$unit <<UNIT
[Service]
ExecStart=/usr/local/bin/nk-cli-vm sleeper
Environment=LD_PRELOAD=$NUMAKEEP_PRELOAD
AllowedMemoryNodes=0-3
NUMAPolicy=interleave
NUMAMask=all
UNIT
    systemctl daemon-reload
    systemctl start $unit
    ;;
*)
    echo "usage: set-property.sh run|numapolicy (got '${1:-}')"
    exit 2
    ;;
esac
pid=$(systemctl show -P MainPID $unit)
ready() { journalctl -q -u $unit -o cat | grep -q "^ready $pid"; }
wait_for 100 ready
check $? "$unit runs PROGRAM (pid $pid) under the runtime: $(journalctl -q -u $unit -o cat)"
systemctl show -p AllowedMemoryNodes,NUMAPolicy,NUMAMask $unit

# kernel_follows NODES: every mapping of the process shows interleave over
# NODES (its range's own policy, the task policy on the rest), a mode flag
# ("=relative") dropped as the nodes printed are those in force.
kernel_follows() {
    [ "$(awk '{ sub(/=[a-z]*:/, ":", $2); print $2 }' /proc/$pid/numa_maps | sort -u)" = "interleave:$1" ]
}
# show_follows LIST: show --json has the request (every node) for the
# thread and the range, and the rule's and the kernel's nodes are LIST.
show_follows() {
    numakeep show "$pid" --json >/tmp/show.json 2>/tmp/show.err || return 1
    [ "$(grep -c '"requested": \[0, 1, 2, 3\]' /tmp/show.json)" -eq 2 ] || return 1
    [ "$(grep -c "\"rule_now\": \[$1\]" /tmp/show.json)" -eq 2 ] || return 1
    [ "$(grep -c "\"nodes\": \[$1\]" /tmp/show.json)" -eq 2 ] || return 1
    [ "$(grep -c '"differs": false' /tmp/show.json)" -eq 2 ] || return 1
}
walk_step() {  # walk_step MEMS: set-property, then both views must follow
    [ "$1" = start ] || systemctl set-property --runtime $unit AllowedMemoryNodes="$1"
    nodes=${1#start}
    nodes=${nodes:-0-3}
    wait_for 100 kernel_follows "$nodes"
    check $? "AllowedMemoryNodes=$nodes: the kernel's policies are interleave:$nodes (after $((waited * 100)) ms)"
    [ "$failures" -gt 0 ] && awk '{ print $1, $2 }' /proc/$pid/numa_maps | head -5
    list=$(expand "$nodes" | sed 's/ $//; s/ /, /g')
    wait_for 50 show_follows "$list"
    check $? "AllowedMemoryNodes=$nodes: numakeep show --json: request 0-3, rule and kernel [$list]"
    [ "$failures" -gt 0 ] && cat /tmp/show.json /tmp/show.err
}
walk_step start
for mems in $walk; do walk_step "$mems"; done
numakeep show "$pid"
systemctl stop $unit
finish
