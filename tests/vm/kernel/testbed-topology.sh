#!/bin/sh
# The guest tools/vm boots is the test bed every vm case relies on: four
# NUMA nodes of 512 MiB with one CPU each, cgroup2 with the cpuset
# controller, tmpfs where the conventions say, and the tools on PATH.
failed=0
check() {  # check DESCRIPTION COMMAND...
    what=$1
    shift
    if "$@" >/dev/null 2>&1; then echo "PASS: $what"; else echo "FAIL: $what"; failed=1; fi
}

nodes=$(ls -d /sys/devices/system/node/node* | sed 's|.*/||' | tr '\n' ' ')
echo "nodes: $nodes"
check "nodes are node0..node3" test "$nodes" = "node0 node1 node2 node3 "
for n in 0 1 2 3; do
    cpus=$(cat /sys/devices/system/node/node$n/cpulist)
    kb=$(awk '/MemTotal/ {print $4}' /sys/devices/system/node/node$n/meminfo)
    echo "node$n: cpus $cpus, MemTotal $kb kB"
    check "node$n has cpu $n" test "$cpus" = "$n"
    check "node$n has 400-512 MiB" test "$kb" -gt 409600 -a "$kb" -le 524288
done

echo "cgroup.subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
check "cgroup2 on /sys/fs/cgroup" grep -q '^cgroup2 /sys/fs/cgroup cgroup2' /proc/mounts
check "cpuset in the root's subtree_control" grep -qw cpuset /sys/fs/cgroup/cgroup.subtree_control
check "Mems_allowed_list is 0-3" grep -q '^Mems_allowed_list:[[:space:]]*0-3$' /proc/self/status
for m in /tmp /run /dev/shm; do
    check "$m is tmpfs" grep -q "^tmpfs $m tmpfs" /proc/mounts
done

# A child cgroup takes cpuset.mems, and a task in it sees them.
mkdir /sys/fs/cgroup/testbed-topology
check "child cgroup takes cpuset.mems 1-2" sh -c 'echo 1-2 >/sys/fs/cgroup/testbed-topology/cpuset.mems'
mems=$(sh -c 'echo $$ >/sys/fs/cgroup/testbed-topology/cgroup.procs &&
    sed -n "s/^Mems_allowed_list:[[:space:]]*//p" /proc/self/status')
echo "Mems_allowed_list in it: $mems"
check "a task in it has Mems_allowed_list 1-2" test "$mems" = "1-2"
rmdir /sys/fs/cgroup/testbed-topology

echo "numactl: $(numactl --hardware | head -1)"
check "numactl sees 4 nodes" sh -c 'numactl --hardware | grep -q "^available: 4 nodes (0-3)"'
check "hwloc sees 4 NUMA nodes" test "$(hwloc-calc --number-of numanode machine:0)" = 4
check "hwloc-bind runs a program" hwloc-bind node:1 -- true
check "memhog runs" memhog 1m
check "numastat runs" numastat
check "bash runs" bash -c 'exit 0'
check "NUMAKEEP_PRELOAD names libnumakeep.so" \
    test "$NUMAKEEP_PRELOAD" = /usr/local/lib/numakeep/libnumakeep.so
if [ -e /usr/local/lib/numakeep/libnumakeep.so ]; then
    check "LD_PRELOAD=\$NUMAKEEP_PRELOAD loads" env LD_PRELOAD="$NUMAKEEP_PRELOAD" true
fi
check "the project's programs are on PATH" which kernel-lossy-rebind
exit $failed
