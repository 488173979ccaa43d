#!/bin/sh
# vm case programs-transparency: with numakeepd running and cpuset.mems
# never changing, each command below prints the same stdout and stderr and
# exits with the same status with and without libnumakeep.so: numactl's own
# checks that apply to one guest (--show under each policy option,
# --hardware, bad arguments, a tmpfs file policy with --dump), memhog under
# each of its policies, hwloc-bind, and the programs of the other
# programs-* cases. Each command runs in a cgroup with mems 0-3.
# What cannot be compared, and is left out or filtered, and why:
#  - `numactl --hardware` prints each node's free memory, which changes from
#    one run to the next: its "free" lines are dropped.
#  - `numactl --show` under an interleave policy prints the task's next
#    interleave node ("preferred node: N (interleave next)",
#    "interleavenode: N"), which advances with every page the task faulted
#    under that policy; the runtime faults a few pages of its own records at
#    start-up (the inherited policy is recorded), so the next node differs:
#    those two lines are dropped for the interleave cases.
#  - numastat prints counters of pages allocated since boot, which every run
#    changes; numactl's test/regress checks placement through them, which is
#    not output: not run here.
#  - nk-libnuma-vm and nk-hwloc-area-vm print their addresses to a file, not
#    to stdout, so their stdout is compared in full.
# --- helpers: shared by every programs-* case (tests/common/case-lib.sh,
# shipped beside each case by tools/vm) ---
. /case-lib.sh
# --- the case ---
start_daemon
make_cgroup 0-3

# same CMD...: CMD (a shell command line) without and then with
# libnumakeep.so: output and exit status must be identical.
same() {
    in_cgroup sh -c "$*" > /tmp/plain.out 2>&1
    plain_status=$?
    in_cgroup $nk sh -c "$*" > /tmp/nk.out 2>&1
    nk_status=$?
    if cmp -s /tmp/plain.out /tmp/nk.out && [ "$plain_status" -eq "$nk_status" ]; then
        check 0 "$* (exit status $nk_status, $(wc -l < /tmp/nk.out) lines)"
    else
        check 1 "$*: exit status $plain_status without numakeep, $nk_status with; output:"
        diff /tmp/plain.out /tmp/nk.out
    fi
}

same numactl --show
same numactl --hardware '|' grep -v free
same numactl --interleave=all --show '|' grep -v -e interleave.next -e ^interleavenode
same numactl --interleave=1-2 --show '|' grep -v -e interleave.next -e ^interleavenode
same numactl --membind=1 --show
same numactl --membind=0-3 --show
same numactl --preferred=2 --show
same numactl --preferred-many=1-2 --show
same numactl --localalloc --show
same numactl --cpunodebind=1 --show
same numactl --physcpubind=2 --show
same numactl --interleave=all --cpunodebind=0 --show '|' grep -v -e interleave.next -e ^interleavenode
same numactl --membind=7 true
same numactl --interleave=foo true
same numactl --preferred=0-1 true
same numactl --bogus
same numactl
same numactl --length=8m --file /dev/shm/nk-shm --interleave=0-1 --touch --dump
same numactl --length=8m --file /dev/shm/nk-shm --membind=2 --touch --dump-nodes
same memhog
same memhog 20M
same memhog 20M interleave 0-3
same memhog 20M membind 1
same memhog 20M preferred 2
same memhog 20M preferred-many 1-2
same memhog 20M local
same memhog 20M default
same memhog -r3 12M interleave 0-1
same memhog 20M membind 9
same numactl --interleave=all memhog 20M
same numactl --membind=0-3 memhog 20M
same numactl --preferred=3 memhog -r2 20M
same hwloc-bind --membind node:1 -- numactl --show
same hwloc-bind --membind node:1-2 -- hwloc-bind --get --membind
same hwloc-calc --number-of numanode machine:0
same nk-libnuma-vm /tmp/addrs '<' /dev/null
same nk-hwloc-area-vm /tmp/addrs '<' /dev/null
same bash -c "'for i in 1 2 3; do memhog 1M | cat; done; echo \$?'"
same numactl --interleave=all bash -c "'numactl --show | head -1; exit 3'"
# The reserved signal (SIGRTMAX): bash's own trap on it, its query of every
# trap, a SIGRTMAX it sends itself, ignored and then the default (which
# ends it), under a task policy (the runtime's agent runs).
same numactl --interleave=all bash -c "'trap -p; trap \"echo caught RTMAX\" RTMAX; kill -s RTMAX \$\$; trap -p RTMAX; trap \"\" RTMAX; kill -s RTMAX \$\$; trap -p; trap - RTMAX; kill -s RTMAX \$\$; echo not reached'"
same numactl --interleave=all bash -c "'trap \"echo caught RTMIN\" RTMIN; kill -s RTMIN \$\$; trap -p'"
rm -f /dev/shm/nk-shm
stop_daemon
finish
