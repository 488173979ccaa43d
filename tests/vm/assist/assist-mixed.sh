#!/bin/sh
# Kernel assistance on with numakeepd running: preferred, preferred_many
# and a home node converge through the daemon beside assisted ranges, which
# the daemon checks instead of re-issuing; numakeep show marks them. Then
# the daemon's kernel_assist = yes with no NUMAKEEP_KERNEL_ASSIST: a range
# made before the runtime connected becomes assisted at the Welcome.
. /case-lib.sh
export NUMAKEEP_SOCKET=/run/numakeep-assist/numakeepd.sock
start_daemon
nk-assist-check mixed
status=$?
stop_daemon
echo 'kernel_assist = yes' > /tmp/assist.conf
numakeepd --config /tmp/assist.conf --socket "$NUMAKEEP_SOCKET" --foreground 2>/tmp/numakeepd.log &
daemon_pid=$!
wait_for 100 test -S "$NUMAKEEP_SOCKET" || { echo "FAIL: no daemon"; exit 1; }
nk-assist-check daemon-default || status=1
stop_daemon
exit $status
