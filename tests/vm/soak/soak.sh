#!/bin/sh
# Soak: PROCESSES nk-soak-churn under libnumakeep.so (mmap/mbind/
# mremap/munmap churn, thread churn, forks), random cpuset.mems writes and
# moves between five cgroups (nk-soak-driver) for SECONDS; then every
# process must be alive, every record of `numakeep show PID --json` must
# agree with the kernel ("differs": false), and numakeepd's RSS must be
# flat (end <= warm sample + 1 MiB).
#   sh soak.sh SECONDS PROCESSES [INTERVAL_MS [PAUSE_MS]]
# INTERVAL_MS: at least this between two mems writes (each with a move),
# default 250; the kernel's page migration of each write sets the pace.
# PAUSE_MS: each process's pause between two churn steps, default 20 per
# process (1 s for 50): scaled so the emulated guest keeps up.
secs=${1:-60}
nprocs=${2:-50}
interval=${3:-250}
pause=${4:-$((nprocs * 20))}
sock=/run/numakeep/soak.sock
log=/tmp/numakeepd-soak.log
export NUMAKEEP_SOCKET=$sock
fail=0
cg=/sys/fs/cgroup
numakeepd --socket $sock --foreground 2> $log &
dpid=$!
i=0
while [ ! -S $sock ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S $sock ] || { echo "FAIL: numakeepd did not start"; cat $log; exit 1; }

t0=$(date +%s)
nk-soak-driver $secs $nprocs $interval $pause $dpid | tee /tmp/soak-driver.out
pids=$(sed -n 's/^soak-pids //p' /tmp/soak-driver.out)
[ -n "$pids" ] || { echo "FAIL: the driver gave no pid"; fail=1; }
rss0=$(sed -n 's/^numakeepd RSS \([-0-9]*\) -> .*/\1/p' /tmp/soak-driver.out)
rss1=$(sed -n 's/^numakeepd RSS .* -> \([-0-9]*\) KiB/\1/p' /tmp/soak-driver.out)

crashed=0
for p in $pids; do
    kill -0 $p 2>/dev/null && grep -q quiet /tmp/soak-out-$p ||
        { echo "FAIL: pid $p crashed or never went quiet"; crashed=$((crashed + 1)); }
done
cat /tmp/soak-out-* | awk '/^counts/ { for (i = 2; i < NF; i += 2) n[$i] += $(i + 1) }
    END { printf "churn: %d mmaps, %d mremaps, %d munmaps, %d threads, %d forks\n",
          n["mmaps"], n["mremaps"], n["munmaps"], n["threads"], n["forks"] }'

mismatches=0
checked=0
echo "checking the records of $(echo $pids | wc -w) processes against the kernel"
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
if [ -z "$rss0" ] || [ "$rss0" -lt 0 ] || [ "$rss1" -gt $((rss0 + 1024)) ]; then
    echo "FAIL: numakeepd RSS not flat: $rss0 -> $rss1 KiB"
    fail=1
fi
[ $checked -gt 0 ] || { echo "FAIL: no record checked"; fail=1; }
for p in $pids; do kill -9 $p 2>/dev/null; done
kill $dpid
wait 2>/dev/null
rmdir $cg/nk-soak-[0-4] 2>/dev/null
echo "soak took $(($(date +%s) - t0)) s in all"
[ $fail -eq 0 ] && echo "PASS: soak $secs s, $nprocs processes" || { echo "--- numakeepd log (tail) ---"; tail -40 $log; }
exit $fail
