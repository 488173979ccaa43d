#!/usr/bin/env bash
# tools/bench vm: numakeepd's figures, all from one guest run of
# nk-bench-vm (tests/vm/daemon/bench_vm.cpp): 100 programs under the real
# libnumakeep.so x 1,000 ranges rebound after a write to cpuset.mems (timed
# from the write's return: on cgroup v2 the write itself migrates pages, see
# vm.kernel_write_ms), the same with the stand-in agent, the bare mbind
# floor, event-to-command latency, and the daemon's idle CPU with 1,000
# registered processes, and vm.rebinds_per_write (the Rebind commands the
# daemon requested over processes x writes: 1.00 when one write makes one
# rebind per process). Figures on stdout, the guest's chatter on stderr.
#
# Every figure twice: on Debian 12's 6.1 kernel under its own name, and on
# Debian 13's 6.12 with the suffix .6_12 (vm.rebind_vs_bare.6_12). Then the
# boot to the command, from QEMU's start to the command's start:
# vm.boot_busybox_s (busybox as /init), vm.boot_systemd_s (a full Debian 12
# with systemd as PID 1, tools/vm --os bookworm), each .6_12 on Debian 13.
# Then placement's figures (vm.placement_*, 6.1 only), and `numakeep set`'s
# (vm.set_to_applied_ms, vm.set_vs_bare, 6.1 only), each from a guest run
# of its own. With the rebind figures, the rebind signal's:
# vm.blocked_threads_rebind_ms and vm.app_call_stall_max_ms
# (rt-signal-workers), on both kernels.
#
# NUMAKEEP_BENCH_VM_PARTS picks parts (default all four):
#   NUMAKEEP_BENCH_VM_PARTS=placement tools/bench vm
# of: rebind (the rebind and window figures on both kernels), boot, placement,
# set.
set -uo pipefail
: "${NUMAKEEP_BUILD:?tools/bench sets NUMAKEEP_BUILD}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
parts=" ${NUMAKEEP_BENCH_VM_PARTS:-rebind boot placement set} "
wanted() { [[ $parts == *" $1 "* ]]; }

# figures SUFFIX: the guest's figures on stdout, renamed NAME.SUFFIX.
figures() {
    grep -v '^vm\.' "$out" >&2
    grep '^vm\.' "$out" | awk -v sfx="$1" '{ if (sfx != "") $1 = $1 "." sfx; print }'
}

for kernel in 6.1 6.12; do
    wanted rebind || break
    suffix=
    [ "$kernel" = 6.1 ] || suffix=${kernel//./_}
    NUMAKEEP_VM_KERNEL=$kernel tools/vm --build "$NUMAKEEP_BUILD" --no-build --timeout 590 -- nk-bench-vm \
        >"$out" 2>&1 || rc=1
    figures "$suffix"

    # The rebind signal's figures, its own guest run: rt-signal-workers
    # (tests/vm/runtime/rt_signal_workers.cpp), 16 workers that block every
    # signal through DESIGN.md's sequence: vm.blocked_threads_rebind_ms (a
    # write's return to the last thread carrying the intent, the worst
    # step) and vm.app_call_stall_max_ms (the longest of the program's
    # mbind calls that slept during a rebind).
    NUMAKEEP_VM_KERNEL=$kernel tools/vm --build "$NUMAKEEP_BUILD" --no-build --timeout 300 -- \
        rt-signal-workers plain >"$out" 2>&1 || rc=1
    figures "$suffix"

    # Kernel assistance's window, its own guest run: nk-bench-window
    # (tests/vm/assist/bench_window.cpp) under a numakeepd, once re-issuing
    # and once kernel-assisted: vm.window_{reissue,assisted}_ms and
    # vm.misplaced_pages_{reissue,assisted}.
    NUMAKEEP_VM_KERNEL=$kernel tools/vm --build "$NUMAKEEP_BUILD" --no-build --timeout 300 -- sh -c '
        s=/run/nk-window/numakeepd.sock
        numakeepd --socket $s --foreground 2>/dev/null &
        i=0; while [ ! -S $s ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
        NUMAKEEP_SOCKET=$s nk-bench-window' >"$out" 2>&1 || rc=1
    figures "$suffix"
done

# boot_s NAME OS: seconds from the packed initramfs (QEMU starts) to the
# guest's READY (the command starts), from tools/vm --verbose's timings.
boot_s() {
    tools/vm --build "$NUMAKEEP_BUILD" --no-build --verbose --os "$2" -- true >"$out" 2>&1 || { rc=1; return; }
    awk -v name="$1" '/initramfs packed/ { packed = $2 } / guest ready$/ { ready = $2 }
        END { if (ready == "") exit 1; printf "%s %.1f s\n", name, ready - packed }' "$out" || rc=1
}
if wanted boot; then
    boot_s vm.boot_busybox_s busybox
    NUMAKEEP_VM_KERNEL=6.12 boot_s vm.boot_busybox_s.6_12 busybox
    boot_s vm.boot_systemd_s bookworm
    boot_s vm.boot_systemd_s.6_12 trixie
fi

# Placement (tests/vm/placement/bench_placement.cpp), its own guest run:
# vm.placement_on_intent_pct and vm.placement_move_vs_migratepages from one
# program, vm.placement_app_slowdown from streaming programs, placement
# off and on at the default rate, one after the other in the same guest
# (three such pairs, the median).
if wanted placement; then
tools/vm --build "$NUMAKEEP_BUILD" --no-build --timeout 590 -- sh -c '
    s=/run/nk-place/numakeepd.sock
    numakeepd --socket $s --foreground 2>/tmp/place.log &
    i=0; while [ ! -S $s ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    export NUMAKEEP_SOCKET=$s
    env LD_PRELOAD=$NUMAKEEP_PRELOAD nk-bench-placement /tmp/place.log main
    # Three pairs, off and on in turn, the median ratio: the guest shares
    # the host with whatever else runs, and one pass of either is seconds.
    ratios=
    for round in 1 2 3; do
        off=$(env NUMAKEEP_PLACEMENT=0 LD_PRELOAD=$NUMAKEEP_PRELOAD nk-bench-placement /tmp/place.log stream 10 | sed -n "s/^passes //p")
        on=$(env LD_PRELOAD=$NUMAKEEP_PRELOAD nk-bench-placement /tmp/place.log stream 10 | sed -n "s/^passes //p")
        echo "stream passes: placement off $off, on $on" >&2
        ratios="$ratios $(awk -v off="$off" -v on="$on" "BEGIN { if (on > 0) printf \"%.4f\", off / on }")"
    done
    echo $ratios | tr " " "\n" | sort -n | sed -n 2p | awk "{ printf \"vm.placement_app_slowdown %.2f ratio\n\", \$1 }"' >"$out" 2>&1 || rc=1
figures ""
fi

# numakeep set (tests/vm/set/bench_set.sh), its own guest run:
# vm.set_to_applied_ms, `numakeep set --cgroup` over 100 programs x 1,000
# ranges from the command's start to its last acknowledgement, and
# vm.set_vs_bare over the bare-mbind floor of the same work in the same
# guest (vm.bare_set_floor_ms).
wanted set || exit $rc
tools/vm --build "$NUMAKEEP_BUILD" --no-build --timeout 590 \
    --add tests/vm/set/bench_set.sh:/bench_set.sh -- sh /bench_set.sh >"$out" 2>&1 || rc=1
figures ""
exit $rc
