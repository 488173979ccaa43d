#!/bin/sh
# The `numakeep set` figures of `tools/bench vm` (tests/bench/vm.sh ships
# this script into the guest and runs it): 100 programs under
# libnumakeep.so (nk-set-target) in one cgroup, each holding 1,000 one-page
# ranges it mbind()-ed itself, then
#   vm.set_to_applied_ms   `numakeep set --cgroup ... --ranges --wait`, from
#                          the command's start to its exit (every agent has
#                          acknowledged), median of 3 after one not timed
#   vm.bare_set_floor_ms   the same 100 x 1,000 mbind calls in a plain loop
#                          in one process (nk-set-target --bare-mbind),
#                          median of 3, in the same guest
#   vm.set_vs_bare         the first over the second
# Figures on stdout, the rest on stderr.
n=${NK_BENCH_PROCESSES:-100}
s=/run/nk-set/numakeepd.sock
export NUMAKEEP_SOCKET=$s
numakeepd --socket $s --foreground 2>/tmp/set-bench.log &
i=0; while [ ! -S $s ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
cg=/sys/fs/cgroup/nkbench
mkdir -p $cg
echo 0-3 > $cg/cpuset.mems
i=0
while [ $i -lt "$n" ]; do
    mkdir -p /tmp/b$i
    sh -c "echo \$\$ > $cg/cgroup.procs; exec numakeep run -- nk-set-target /tmp/b$i 0 1 ranges:1000" \
        > /dev/null 2>&1 &
    i=$((i + 1))
done
i=0
while [ "$(ls /tmp/b*/info 2>/dev/null | wc -l)" -lt "$n" ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
i=0
while [ "$(numakeep ps --json 2>/dev/null | grep -o '"pid":' | wc -l)" -lt "$n" ] && [ $i -lt 1200 ]; do
    sleep 0.1
    i=$((i + 1))
done
echo "$(numakeep ps --json | grep -o '"pid":' | wc -l) programs registered" >&2
sleep 2

median() { sort -n | sed -n 2p; }
set_ms=""
for policy in --interleave=0-3 --membind=0-3 --interleave=0-3 --membind=0-3; do
    nk-cli-vm time-ms numakeep set "$policy" --cgroup /nkbench --ranges --wait --json \
        > /tmp/set.json 2> /tmp/set.time || echo "set $policy failed: $(cat /tmp/set.time)" >&2
    applied=$(grep -o '"outcome": "applied"' /tmp/set.json | wc -l)
    ranges=$(sed -n 's/.*"ranges_set": \([0-9]*\).*/\1/p' /tmp/set.json | awk '{ t += $1 } END { print t }')
    ms=$(sed -n 's/^wall_ms=//p' /tmp/set.time)
    echo "set $policy: $ms ms, $applied processes applied, $ranges ranges set" >&2
    [ "$policy$warm" = --interleave=0-3 ] || set_ms="$set_ms $ms"
    warm=done
done
bare_ms=""
for run in 1 2 3; do
    ms=$(nk-set-target --bare-mbind "$n" 1000 | sed -n 's/^bare_ms //p')
    echo "bare $run: $ms ms" >&2
    bare_ms="$bare_ms $ms"
done
s_med=$(for t in $set_ms; do echo "$t"; done | median)
b_med=$(for t in $bare_ms; do echo "$t"; done | median)
echo "vm.set_to_applied_ms $s_med ms"
echo "vm.bare_set_floor_ms $b_med ms"
awk -v s="$s_med" -v b="$b_med" 'BEGIN { if (b > 0) printf "vm.set_vs_bare %.2f ratio\n", s / b }'
grep "set by pid" /tmp/set-bench.log | tail -1 >&2
