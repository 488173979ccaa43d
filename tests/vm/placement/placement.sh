#!/bin/sh
# Placement cases (tests/vm/placement/meson.build): one program under
# libnumakeep.so with numakeepd running, mems 0-3 -> 0-1 -> 0-3, the held
# pages judged page by page; and the daemon's one log line per respread.
. /case-lib.sh
export NUMAKEEP_SOCKET=/run/numakeep/placement.sock
mkdir -p /run/numakeep
start_daemon

run() {
    echo "+ $*"
    "$@"
    check $? "nk-placement-vm $*"
}

case "$1" in
interleave | bind | preferred | preferred_many) run $nk nk-placement-vm "$1" ;;
task)
    # A real program's task policy, set by numactl around it: the heap and
    # anonymous memory have no range policy at all.
    run $nk numactl --interleave=all nk-placement-vm task
    ;;
off) run env NUMAKEEP_PLACEMENT=0 LD_PRELOAD=$NUMAKEEP_PRELOAD nk-placement-vm interleave --expect-off ;;
thp)
    if ! grep -q '\[always\]\|\[madvise\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null; then
        echo "SKIP: no transparent huge pages"
        exit 77
    fi
    run $nk nk-placement-vm interleave --thp
    ;;
many) run $nk nk-placement-vm interleave --mib 32 --ranges 1000 ;;
unmap)
    # Slow enough that the unmap lands inside the respread.
    run env NUMAKEEP_PLACEMENT_RATE_MIB=16 LD_PRELOAD=$NUMAKEEP_PRELOAD nk-placement-vm interleave --unmap-during
    ;;
change) run env NUMAKEEP_PLACEMENT_RATE_MIB=16 LD_PRELOAD=$NUMAKEEP_PRELOAD nk-placement-vm interleave --change-during ;;
*)
    echo "unknown case $1"
    exit 2
    ;;
esac

if [ "$1" != off ]; then
    wait_for 50 grep -q 'respread pid' /tmp/numakeepd.log
    check $? "numakeepd logs the respread: $(grep 'respread pid' /tmp/numakeepd.log | tail -1)"
fi
stop_daemon
finish
