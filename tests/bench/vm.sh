#!/usr/bin/env bash
# tools/bench vm: numakeepd's figures, all from one guest run of
# nk-bench-vm (tests/vm/daemon/bench_vm.cpp): 100 programs under the real
# libnumakeep.so x 1,000 ranges rebound after a write to cpuset.mems (timed
# from the write's return: on cgroup v2 the write itself migrates pages, see
# vm.kernel_write_ms), the same with the stand-in agent, the bare mbind
# floor, event-to-command latency, and the daemon's idle CPU with 1,000
# registered processes. Figures on stdout, the guest's chatter on stderr.
set -uo pipefail
: "${NUMAKEEP_BUILD:?tools/bench sets NUMAKEEP_BUILD}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
tools/vm --build "$NUMAKEEP_BUILD" --no-build --timeout 590 -- nk-bench-vm >"$out" 2>&1
rc=$?
grep -v '^vm\.' "$out" >&2
grep '^vm\.' "$out"

# Kernel assistance's window, its own guest run: nk-bench-window
# (tests/vm/assist/bench_window.cpp) under a numakeepd, once re-issuing and
# once kernel-assisted: vm.window_{reissue,assisted}_ms and
# vm.misplaced_pages_{reissue,assisted}.
tools/vm --build "$NUMAKEEP_BUILD" --no-build --timeout 300 -- sh -c '
    s=/run/nk-window/numakeepd.sock
    numakeepd --socket $s --foreground 2>/dev/null &
    i=0; while [ ! -S $s ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    NUMAKEEP_SOCKET=$s nk-bench-window' >"$out" 2>&1
rc_window=$?
grep -v '^vm\.' "$out" >&2
grep '^vm\.' "$out"
[ "$rc" -eq 0 ] && rc=$rc_window
exit $rc
