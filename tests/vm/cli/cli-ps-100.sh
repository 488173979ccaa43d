#!/bin/sh
# `numakeep ps` lists 100 processes under numakeep in under 200 ms of wall
# time (the median of 5 runs, each timed from fork to exit, once the
# registrations have settled).
# --- helpers: tests/common/case-lib.sh, shipped beside each case ---
export NUMAKEEP_SOCKET=/run/numakeep/cli.sock
. /case-lib.sh
# --- the case ---
start_daemon

i=0
while [ $i -lt 100 ]; do
    numakeep run --interleave=all -- nk-cli-vm sleeper > /dev/null 2>&1 &
    i=$((i + 1))
done

listed() { [ "$(numakeep ps --json 2>/dev/null | grep -c '"pid":')" -ge 100 ]; }
wait_for 600 listed
check $? "all 100 processes registered: $(numakeep ps --json | grep -c '"pid":') listed"

# Let the start-up churn (100 registrations and their first rebinds) settle,
# so the figure is ps's own.
current() { [ "$(numakeep ps --json 2>/dev/null | grep -c '"rebind_pending": false')" -ge 100 ]; }
wait_for 300 current
check $? "every process has applied its mems"
sleep 5
nk-cli-vm time-ms numakeep --version > /dev/null 2> /tmp/version.time
echo "for reference, numakeep --version (start-up alone): $(cat /tmp/version.time)"

times=""
i=0
while [ $i -lt 5 ]; do
    nk-cli-vm time-ms numakeep ps > /tmp/ps.out 2> /tmp/ps.time
    rc=$?
    ms=$(sed -n 's/^wall_ms=//p' /tmp/ps.time)
    times="$times $ms"
    lines=$(wc -l < /tmp/ps.out)
    check $([ $rc -eq 0 ] && [ "$lines" -eq 101 ]; echo $?) "numakeep ps run $i: exit $rc, $lines lines, $ms ms"
    i=$((i + 1))
done
median=$(for t in $times; do echo "$t"; done | sort -n | sed -n 3p)
echo "cli.ps_100_ms $median ms (runs:$times)"
check $(awk -v m="$median" 'BEGIN { exit !(m < 200) }'; echo $?) "median wall time of ps with 100 processes: $median ms < 200 ms"

nk-cli-vm time-ms numakeep ps --json > /dev/null 2> /tmp/ps.time
echo "ps --json: $(cat /tmp/ps.time)"
kill "$daemon_pid"
finish
