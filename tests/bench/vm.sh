#!/usr/bin/env bash
# tools/bench vm: numakeepd's figures (issue 5), all from one guest run of
# nk-bench-vm (tests/vm/daemon/bench_vm.cpp): 100 processes x 1,000 ranges
# rebound after a write to cpuset.mems, the bare mbind floor, the kernel's
# own write, event-to-command latency, and the daemon's idle CPU with 1,000
# registered processes. Figures on stdout, the guest's chatter on stderr.
set -uo pipefail
: "${NUMAKEEP_BUILD:?tools/bench sets NUMAKEEP_BUILD}"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
tools/vm --build "$NUMAKEEP_BUILD" --no-build --timeout 590 -- nk-bench-vm >"$out" 2>&1
rc=$?
grep -v '^vm\.' "$out" >&2
grep '^vm\.' "$out"
exit $rc
