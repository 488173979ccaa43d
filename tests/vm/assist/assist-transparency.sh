#!/bin/sh
# get_mempolicy through libnuma and through syscall(), every mode and flag
# combination, after every write of DESIGN.md's sequence: the same answers
# with kernel assistance on as with it off (numakeepd running).
. /case-lib.sh
export NUMAKEEP_SOCKET=/run/numakeep-assist/numakeepd.sock
start_daemon
status=0
for a in 0 1; do
    echo "== NUMAKEEP_KERNEL_ASSIST=$a"
    NK_TRANSCRIPT=/tmp/transcript.$a nk-assist-check transcript $a || status=1
done
stop_daemon
if cmp /tmp/transcript.0 /tmp/transcript.1; then
    echo "PASS: transcripts identical ($(wc -l < /tmp/transcript.0) lines)"
else
    echo "FAIL: transcripts differ"
    diff /tmp/transcript.0 /tmp/transcript.1 | head -60
    status=1
fi
exit $status
