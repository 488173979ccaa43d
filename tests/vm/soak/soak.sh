#!/bin/sh
# Soak (issue 8): random cpuset.mems writes, moves between two cgroups,
# and in every process mmap/mbind/mremap/munmap churn, thread churn and
# forks (nk-soak-churn under libnumakeep.so), for SOAK_SECONDS; then every
# process must be alive and every record of `numakeep show PID --json` must
# agree with the kernel ("differs": false), and numakeepd's RSS must be
# flat (end <= first sample + 1 MiB).
#   sh soak.sh SECONDS PROCESSES
secs=${1:-60}
nprocs=${2:-20}
sock=/run/numakeep/soak.sock
log=/tmp/numakeepd-soak.log
export NUMAKEEP_SOCKET=$sock
fail=0
cg=/sys/fs/cgroup
mkdir -p $cg/nk-soak-a $cg/nk-soak-b
echo 0-3 > $cg/nk-soak-a/cpuset.mems
echo 0-3 > $cg/nk-soak-b/cpuset.mems
numakeepd --socket $sock --foreground 2> $log &
dpid=$!
i=0
while [ ! -S $sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S $sock ] || { echo "FAIL: numakeepd did not start"; cat $log; exit 1; }

pids=""
i=0
while [ $i -lt $nprocs ]; do
    sh -c "echo \$\$ > $cg/nk-soak-a/cgroup.procs; exec env LD_PRELOAD=$NUMAKEEP_PRELOAD nk-soak-churn > /tmp/soak-out-\$\$" &
    pids="$pids $!"
    i=$((i + 1))
done
sleep 3
rss() { awk '/VmRSS/ {print $2}' /proc/$dpid/status; }
rss0=$(rss)
echo "$nprocs processes churning; numakeepd RSS $rss0 KiB; soaking $secs s"

sets="0 1 2 3 0-1 2-3 0,2 1,3 0-3 1-2 0-2 1-3 0,3"
nsets=13
writes=0
moves=0
end=$(($(date +%s) + secs))
while [ "$(date +%s)" -lt "$end" ]; do
    n=$((RANDOM % nsets + 1))
    m=$(echo $sets | cut -d' ' -f$n)
    if [ $((RANDOM % 2)) -eq 0 ]; then g=a; else g=b; fi
    echo $m > $cg/nk-soak-$g/cpuset.mems && writes=$((writes + 1))
    k=$((RANDOM % nprocs + 1))
    p=$(echo $pids | cut -d' ' -f$k)
    if [ $((RANDOM % 2)) -eq 0 ]; then g=a; else g=b; fi
    echo $p > $cg/nk-soak-$g/cgroup.procs 2>/dev/null && moves=$((moves + 1))
    sleep 0.$((RANDOM % 3 + 1))
done
rss1=$(rss)
echo "$writes mems writes, $moves moves; numakeepd RSS $rss0 -> $rss1 KiB"

# Quiet every process, then compare the records with the kernel.
for p in $pids; do kill -USR1 $p 2>/dev/null; done
crashed=0
for p in $pids; do
    i=0
    while ! grep -q quiet /tmp/soak-out-$p 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -0 $p 2>/dev/null || { echo "FAIL: pid $p crashed"; crashed=$((crashed + 1)); }
done
echo 0-3 > $cg/nk-soak-a/cpuset.mems
echo 0-3 > $cg/nk-soak-b/cpuset.mems
mismatches=0
checked=0
for p in $pids; do
    kill -0 $p 2>/dev/null || continue
    i=0
    while :; do
        out=$(numakeep show $p --json 2>&1)
        rc=$?
        bad=$(echo "$out" | grep -c '"differs": true')
        [ $rc -eq 0 ] && [ "$bad" -eq 0 ] && break
        i=$((i + 1))
        [ $i -ge 50 ] && break
        sleep 0.2
    done
    n=$(echo "$out" | grep -c '"differs"')
    checked=$((checked + n))
    if [ $rc -ne 0 ] || [ "$bad" -ne 0 ]; then
        echo "FAIL: pid $p: show exit $rc, $bad of $n records differ from the kernel"
        echo "$out" | head -60
        mismatches=$((mismatches + bad))
        fail=1
    fi
done
echo "records checked: $checked, mismatches: $mismatches, crashes: $crashed"
[ $crashed -eq 0 ] || fail=1
kill -0 $dpid 2>/dev/null || { echo "FAIL: numakeepd died"; fail=1; }
if [ "$rss1" -gt $((rss0 + 1024)) ]; then echo "FAIL: numakeepd RSS grew $rss0 -> $rss1 KiB"; fail=1; fi
[ $checked -gt 0 ] || { echo "FAIL: no record checked"; fail=1; }
[ $writes -ge $((secs / 4)) ] || echo "NOTE: only $writes mems writes in $secs s: the emulated CPUs were saturated by the churn"
for p in $pids; do kill -9 $p 2>/dev/null; done
kill $dpid
wait 2>/dev/null
rmdir $cg/nk-soak-a $cg/nk-soak-b 2>/dev/null
[ $fail -eq 0 ] && echo "PASS: soak $secs s, $nprocs processes" || { echo "--- numakeepd log (tail) ---"; tail -40 $log; }
exit $fail
