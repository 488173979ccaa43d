#!/bin/bash
# Host test: `tools/demo --host` on a machine it cannot run on (fewer than
# two NUMA nodes, cgroup v1, no cpuset controller) refuses at once with a
# clear message and exit status 2, before building or writing anything:
# no build directory appears, no cgroup is created. On a machine that does
# qualify it would run for real, so the test skips there (77).
#   demo-host-refusal.sh SOURCE_ROOT
set -u
root=$1
nodes=$(cat /sys/devices/system/node/online 2>/dev/null)
fs=$(stat -f -c %T /sys/fs/cgroup 2>/dev/null)
if [ "$fs" = cgroup2fs ] && grep -qw cpuset /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null &&
    [ "$nodes" != 0 ] && [ -n "$nodes" ] && [ "$(id -u)" -eq 0 ]; then
    echo "SKIP: this machine qualifies for tools/demo --host (nodes $nodes, $fs)"
    exit 77
fi
failures=0
check() {  # check STATUS WHAT
    if [ "$1" -eq 0 ]; then echo "PASS: $2"; else echo "FAIL: $2"; failures=$((failures + 1)); fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cgroups_before=$(find /sys/fs/cgroup -maxdepth 4 -name 'numakeep-demo*' 2>/dev/null | sort)
start=$(date +%s%N)
NUMAKEEP_BUILD=$tmp/build timeout 60 "$root/tools/demo" --host >"$tmp/out" 2>"$tmp/err"
status=$?
ms=$((($(date +%s%N) - start) / 1000000))
echo "tools/demo --host (nodes '$nodes', /sys/fs/cgroup $fs): exit $status after $ms ms"
echo "stderr: $(cat "$tmp/err")"
check $([ "$status" -eq 2 ]; echo $?) "exit status 2 (refused), got $status"
check $([ ! -s "$tmp/out" ]; echo $?) "nothing on stdout"
grep -q '^tools/demo --host: .*; nothing was changed\. Run tools/demo (the 4-node guest) instead\.$' "$tmp/err"
check $? "one clear line on stderr: why, and what to run instead"
reason_ok=1
if [ "$(id -u)" -ne 0 ]; then grep -q 'needs root' "$tmp/err" && reason_ok=0
elif [ "$nodes" = 0 ] || [ -z "$nodes" ]; then grep -q 'NUMA node.*needs two or more' "$tmp/err" && reason_ok=0
elif [ "$fs" != cgroup2fs ]; then grep -q 'not cgroup v2' "$tmp/err" && reason_ok=0
else grep -q 'cpuset controller' "$tmp/err" && reason_ok=0
fi
check $reason_ok "the reason given is this machine's"
check $([ ! -e "$tmp/build" ]; echo $?) "nothing was configured or built (no $tmp/build)"
cgroups_after=$(find /sys/fs/cgroup -maxdepth 4 -name 'numakeep-demo*' 2>/dev/null | sort)
check $([ "$cgroups_before" = "$cgroups_after" ]; echo $?) "no numakeep-demo cgroup appeared under /sys/fs/cgroup"
echo "$failures failed"
[ "$failures" -eq 0 ]
