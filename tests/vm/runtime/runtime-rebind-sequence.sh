#!/bin/sh
# DESIGN.md's sequence of cpuset.mems writes against libnumakeep.so, with a
# test driver standing in for the daemon: every range and thread ends on
# rule(request, M0, M_now) after each write, under intent (and DESIGN.md's
# table), static and relative semantics.
status=0
for sem in intent static relative; do
    echo "== $sem"
    rt-rebind-sequence "$sem" || status=1
done
exit $status
