#!/bin/sh
# Kernel assistance on with numakeepd running: preferred, preferred_many
# and a home node converge through the daemon beside assisted ranges, which
# the daemon checks instead of re-issuing; numakeep show marks them.
. /case-lib.sh
export NUMAKEEP_SOCKET=/run/numakeep-assist/numakeepd.sock
start_daemon
nk-assist-check mixed
status=$?
stop_daemon
exit $status
