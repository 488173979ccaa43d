#!/bin/sh
# The runtime's host test programs (tests/host/runtime) again on the 4-node
# guest and its 6.1 kernel, plain and under the preload: the EIO case of
# MPOL_MF_STRICT needs two nodes, and everything else must hold on the
# kernel numakeep targets.
status=0
for t in mbind set-mempolicy home-node syscall munmap mremap mmap-fixed shmdt libnuma errno \
         ctor fork threads fd-hygiene sigwait fork-threaded; do
    for how in plain preload; do
        if [ $how = plain ]; then out=$(rt-$t 2>&1); rc=$?
        else out=$(rt-$t --preload="$NUMAKEEP_PRELOAD" 2>&1); rc=$?; fi
        if [ $rc -eq 0 ]; then echo "PASS: rt-$t $how"
        elif [ $rc -eq 77 ]; then echo "SKIP: rt-$t $how"
        else echo "FAIL: rt-$t $how (exit $rc)"; echo "$out" | grep -v '^PASS'; status=1; fi
    done
done
exit $status
