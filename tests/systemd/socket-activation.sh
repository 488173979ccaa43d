#!/bin/sh
# systemd-socket-activation-RELEASE: the full Debian system of tools/vm
# --os, numakeepd.socket enabled as README says and numakeepd not running.
# The first program under the runtime, started with systemd-run the way
# README shows, starts numakeepd through the socket; numakeepd reports
# ready (Type=notify: active only after sd_notify READY=1); `numakeep ps`
# lists the program; after `systemctl set-property --runtime UNIT
# AllowedMemoryNodes=0-1` the rebind line is in `journalctl -u numakeepd`
# with the fields a reader filters on (NUMAKEEP_PID, NUMAKEEP_CGROUP,
# NUMAKEEP_MEMS). numakeepd runs as shipped: no drop-in loosens its
# hardening, and `systemd-analyze security` reports its exposure.
. /case-lib.sh
unit=nk-first.service

check $([ "$(systemctl is-enabled numakeepd.socket)" = enabled ]; echo $?) "numakeepd.socket is enabled"
check $([ "$(systemctl is-active numakeepd.socket)" = active ]; echo $?) "numakeepd.socket listens"
check $([ "$(systemctl is-active numakeepd.service)" = inactive ]; echo $?) \
    "numakeepd is not running before first use ($(systemctl is-active numakeepd.service))"

systemd-run --quiet --unit=$unit -p AllowedMemoryNodes=0-3 -p Environment=LD_PRELOAD=$NUMAKEEP_PRELOAD \
    numactl --interleave=all nk-hold-vm /run/nk-stop
pid=$(systemctl show -P MainPID $unit)
wait_for 200 systemctl is-active --quiet numakeepd.service
check $? "the first program under the runtime (pid $pid) started numakeepd (after $((waited * 100)) ms)"
check $([ "$(systemctl show -P Type numakeepd.service)" = notify ]; echo $?) "numakeepd.service is Type=notify"
status_text=$(systemctl show -P StatusText numakeepd.service)
check $([ -n "$status_text" ]; echo $?) "numakeepd told systemd its status: '$status_text'"
systemctl status --no-pager numakeepd.service

dropins=$(systemctl show -P DropInPaths numakeepd.service)
check $([ -z "$dropins" ]; echo $?) "numakeepd.service runs as shipped (drop-ins: '${dropins:-none}')"
hardening=$(systemctl show -p NoNewPrivileges,ProtectSystem,PrivateNetwork,RestrictAddressFamilies,CapabilityBoundingSet \
    numakeepd.service | tr '\n' ' ')
in_force=0
for want in NoNewPrivileges=yes ProtectSystem=strict PrivateNetwork=yes RestrictAddressFamilies=AF_UNIX \
    CapabilityBoundingSet=; do
    case " $hardening" in *" $want "*) ;; *) in_force=1 ;; esac
done
check $in_force "the shipped hardening is in force: $hardening"
systemd-analyze security --no-pager numakeepd.service | tail -1

in_ps() { numakeep ps 2>/dev/null | grep -q "^ *$pid "; }
wait_for 100 in_ps
check $? "numakeep ps lists pid $pid"
numakeep ps

cgroup=/system.slice/$unit
systemctl set-property --runtime $unit AllowedMemoryNodes=0-1
logged() {
    journalctl -q -u numakeepd.service NUMAKEEP_PID=$pid NUMAKEEP_CGROUP=$cgroup NUMAKEEP_MEMS=0-1 \
        -o cat 2>/dev/null | grep -q "^rebind pid $pid "
}
wait_for 100 logged
check $? "journalctl -u numakeepd NUMAKEEP_PID=$pid NUMAKEEP_CGROUP=$cgroup NUMAKEEP_MEMS=0-1 finds the rebind"
journalctl -q -u numakeepd.service NUMAKEEP_PID=$pid -o verbose --output-fields=MESSAGE,NUMAKEEP_PID,NUMAKEEP_CGROUP,NUMAKEEP_MEMS,PRIORITY
check $([ "$(task_policy $pid)" = interleave:0-1 ]; echo $?) "the kernel's task policy is $(task_policy $pid)"

touch /run/nk-stop
finish
