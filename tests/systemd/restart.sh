#!/bin/sh
# systemd-restart-RELEASE: 20 programs under the runtime in one unit
# (numactl --interleave=all, so each asks for every node), their nodes
# changed with `systemctl set-property --runtime`. `systemctl restart
# numakeepd` right after the change from 0-1 back to 0-3 (where the kernel
# alone leaves them on 0-1): every one still ends on 0-3, nothing lost.
# Then `systemctl stop numakeepd.socket numakeepd`: the programs keep
# running through another change and end as they would have (exit 0).
. /case-lib.sh
unit=nk-many.service
n=20
systemd-run --quiet --unit=$unit -p AllowedMemoryNodes=0-3 -p Environment=LD_PRELOAD=$NUMAKEEP_PRELOAD \
    sh -c "for i in \$(seq $n); do numactl --interleave=all nk-hold-vm /run/nk-stop & done; wait"
programs() { pgrep -x nk-hold-vm | sort -n; }
all_registered() { [ "$(numakeep ps 2>/dev/null | grep -c nk-hold-vm)" -eq $n ]; }
wait_for 300 all_registered
check $? "numakeep ps lists the $n programs of $unit"
pids=$(programs)
# all_on NODES: every program's task policy is interleave over NODES.
all_on() {
    for p in $pids; do [ "$(task_policy $p)" = "interleave:$1" ] || return 1; done
}
systemctl set-property --runtime $unit AllowedMemoryNodes=0-1
wait_for 100 all_on 0-1
check $? "AllowedMemoryNodes=0-1: every program on interleave:0-1"

# The change lands while numakeepd stops and starts again: the agents
# reconnect through the socket systemd holds, and the new numakeepd
# re-issues against the mems of now.
systemctl restart --no-block numakeepd.service
systemctl set-property --runtime $unit AllowedMemoryNodes=0-3
wait_for 100 systemctl is-active --quiet numakeepd.service
check $? "numakeepd restarted around the change ($(systemctl show -P NRestarts,InvocationID numakeepd.service | tr '\n' ' '))"
wait_for 200 all_on 0-3
check $? "AllowedMemoryNodes=0-3 across the restart: every program on interleave:0-3 (after $((waited * 100)) ms)"
[ "$failures" -gt 0 ] && for p in $pids; do echo "pid $p: $(task_policy $p)"; done
journalctl -q -u numakeepd.service -o cat | grep -c '^rebind pid' | sed 's/^/rebind lines in the journal: /'

systemctl stop numakeepd.socket numakeepd.service
check $([ "$(systemctl is-active numakeepd.service)" != active ]; echo $?) "numakeepd and its socket stopped"
systemctl set-property --runtime $unit AllowedMemoryNodes=2-3
sleep 1
alive=0
for p in $pids; do kill -0 $p 2>/dev/null && alive=$((alive + 1)); done
check $([ $alive -eq $n ]; echo $?) "with numakeepd stopped, $alive of $n programs run on through a change of nodes"
touch /run/nk-stop
wait_for 200 sh -c "! systemctl is-active --quiet $unit"
result=$(systemctl show -P Result $unit 2>/dev/null)
check $([ -z "$(programs)" ] && [ "${result:-success}" = success ]; echo $?) \
    "the programs ended as without numakeep (unit result '${result:-gone}')"
finish
