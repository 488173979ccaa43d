#!/bin/sh
# Weighted interleave (Linux 6.9+, mode 6) under the runtime
# (tests/vm/placement/nk_weighted_vm.cpp):
#   sequence  the requests keep their intent through DESIGN.md's sequence,
#             the held pages are respread by the weights, fresh ones split
#             by them; skipped (77) on a kernel without weighted interleave
#   errno     every mode-6 call returns the same with and without the
#             runtime, on any kernel (6.1 fails them: EINVAL)
. /case-lib.sh
export NUMAKEEP_SOCKET=/run/numakeep/weighted.sock
mkdir -p /run/numakeep
echo "kernel $(uname -r)"

case "$1" in
sequence)
    if [ ! -d /sys/kernel/mm/mempolicy/weighted_interleave ]; then
        echo "SKIP: this kernel has no weighted interleave (Linux 6.9+)"
        exit 77
    fi
    start_daemon
    env LD_PRELOAD=$NUMAKEEP_PRELOAD nk-weighted-vm sequence
    check $? "nk-weighted-vm sequence"
    [ "$failures" -eq 0 ] || cat /tmp/numakeepd.log
    stop_daemon
    ;;
errno)
    nk-weighted-vm errno > /tmp/plain.out 2>&1
    start_daemon
    env LD_PRELOAD=$NUMAKEEP_PRELOAD nk-weighted-vm errno > /tmp/nk.out 2>&1
    stop_daemon
    echo "--- plain"; cat /tmp/plain.out
    echo "--- under the runtime"; cat /tmp/nk.out
    check $([ -s /tmp/plain.out ] && [ "$(cat /tmp/plain.out)" = "$(cat /tmp/nk.out)" ]; echo $?) \
        "mode-6 calls return the same with and without the runtime"
    if [ ! -d /sys/kernel/mm/mempolicy/weighted_interleave ]; then
        check $(grep -q "^mbind weighted 0-3 rc -1 errno Invalid argument" /tmp/nk.out; echo $?) \
            "without weighted interleave the kernel's EINVAL comes back"
    fi
    ;;
*)
    echo "unknown case $1"
    exit 2
    ;;
esac
finish
