#!/bin/sh
# vm case rebinds-per-write: one write to cpuset.mems raises IN_MODIFY twice
# and IN_CLOSE_WRITE (DESIGN.md, "Test bed" facts); numakeepd must still ask
# each process for exactly one rebind per real change of its mems, and for
# none when the mems already in force are written again. Three programs
# under libnumakeep.so walk the DESIGN.md sequence; the counts come from
# `numakeep status --json` (mems_writes, rebinds_requested, rebinds).
# --- helpers: tests/vm/common/case-lib.sh, shipped beside each case ---
export NUMAKEEP_SOCKET=/run/numakeep/rebinds.sock
. /case-lib.sh
# --- the case ---
start_daemon
make_cgroup 0-3
processes=3

i=0
while [ $i -lt $processes ]; do
    spawn $nk nk-cli-vm sleeper > /tmp/sleeper-$i.out 2>&1 &
    i=$((i + 1))
done

# counter NAME: the daemon's counter NAME from status --json.
counter() {
    numakeep status --json 2>/dev/null | tr ',' '\n' | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"
}
all_current() {
    [ "$(numakeep ps --json 2>/dev/null | grep -c '"rebind_pending": false')" -eq $processes ]
}
wait_for 300 all_current
check $? "$processes programs under libnumakeep.so registered and current"

# settle: the registrations' own rebinds answered, and a moment for any
# trailing file event of the last write (the two IN_MODIFY of one write
# can arrive in two separate reports of the watcher).
settle() {
    wait_for 100 all_current
    sleep 1
}
answered_at_least() { [ "$(counter rebinds)" -ge "$1" ]; }

settle
writes=$(counter mems_writes)
requested=$(counter rebinds_requested)
answered=$(counter rebinds)
echo "start: mems_writes $writes, rebinds_requested $requested, rebinds $answered"

# write MEMS WANT_REBINDS [NOTE]: writes MEMS once and checks that it was
# seen as one write and made WANT_REBINDS rebind requests (and answers).
write() {
    echo "$1" > $cg/cpuset.mems
    if [ "$2" -gt 0 ]; then
        wait_for 100 answered_at_least $((answered + $2))
    else
        sleep 2  # past a reconcile period too
    fi
    settle
    w=$(counter mems_writes)
    r=$(counter rebinds_requested)
    a=$(counter rebinds)
    check $([ "$((w - writes))" -eq 1 ]; echo $?) \
        "mems $1${3:+ $3}: one write seen ($((w - writes)))"
    check $([ "$((r - requested))" -eq "$2" ]; echo $?) \
        "mems $1${3:+ $3}: $2 rebinds requested ($((r - requested)))"
    check $([ "$((a - answered))" -eq "$2" ]; echo $?) \
        "mems $1${3:+ $3}: $2 rebinds answered ($((a - answered)))"
    writes=$w
    requested=$r
    answered=$a
}

for mems in $walk; do
    write "$mems" $processes
    # The same mems again: no policy moved, nothing to re-issue.
    write "$mems" 0 "again"
done

# Two writes at once (0-3 -> 2-3 -> 0-3), likely between two reads of the
# daemon: the mems it reads back are those in force, but the kernel rebound
# every policy through 2-3 (an interleave over 0-3 became 0-1). Every
# process is asked again, and its range is the request once more.
echo 0-3 > $cg/cpuset.mems
settle
requested=$(counter rebinds_requested)
echo 2-3 > $cg/cpuset.mems; echo 0-3 > $cg/cpuset.mems
# ranges_at_request: every sleeper's mbind()ed range is an interleave over 0-3.
ranges_at_request() {
    for pid in $(pidof nk-cli-vm); do
        grep -q ' interleave:0-3 ' /proc/$pid/numa_maps || return 1
    done
}
wait_for 100 ranges_at_request
check $? "two writes at once: every range is interleave 0-3 again ($(cat /proc/$(pidof nk-cli-vm | cut -d' ' -f1)/numa_maps | grep -o 'interleave:[0-9,-]*' | head -1))"
settle
r=$(counter rebinds_requested)
check $([ "$((r - requested))" -ge "$processes" ]; echo $?) \
    "two writes at once: each process asked to rebind ($((r - requested)) requests)"

if [ "$failures" -gt 0 ]; then
    numakeep status
    tail -n 40 /tmp/numakeepd.log
fi
stop_daemon
finish
