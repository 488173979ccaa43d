#!/bin/sh
# tools/demo's guest side, as a test: with numakeepd and libnumakeep.so in
# the build, the preloaded copy must match the rule at every step and its
# fresh interleaved pages must spread over all four nodes, while the plain
# copy's land on two (the kernel's loss, DESIGN.md).
if ! command -v numakeepd >/dev/null || [ ! -e "$NUMAKEEP_PRELOAD" ]; then
    echo "SKIP: numakeepd or libnumakeep.so is not in this build"
    exit 77
fi
numakeep-demo >/tmp/demo.out 2>&1
status=$?
cat /tmp/demo.out
failed=0
check() {  # check DESCRIPTION COMMAND...
    what=$1
    shift
    if "$@"; then echo "PASS: $what"; else echo "FAIL: $what"; failed=1; fi
}
check "numakeep-demo exits 0 (status $status)" test "$status" -eq 0
check "numakeep matched the rule at every step" \
    grep -qx 'numakeep matched the rule at every step' /tmp/demo.out
check "the kernel alone lost nodes at steps 1, 2, 4, 5, 6" \
    grep -qx 'the kernel alone differed from the rule at steps 1, 2, 4, 5, 6' /tmp/demo.out
check "kernel-only pages on 2 nodes" grep -q '^kernel only .* on 2 nodes$' /tmp/demo.out
check "numakeep pages on 4 nodes" grep -q '^numakeep .* on 4 nodes$' /tmp/demo.out
exit $failed
