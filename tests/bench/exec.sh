#!/usr/bin/env bash
# tools/bench exec: what the exec handoff (preload/exec_handoff_calls.hpp) adds to an
# exec, timed on the host as the median of 2,000 execs of a missing file
# (the handoff's whole work, without the kernel's), by nk-exec-handoff-host
# (tests/host/exec_handoff) against a private numakeepd:
#   exec.failed_exec_plain_us      no preload
#   exec.failed_exec_no_policy_us  preloaded, no task policy: the exec calls only
#   exec.failed_exec_kernel_us     a task policy, kernel semantics: no handoff
#   exec.failed_exec_no_daemon_us  a task policy, no daemon: the handoff's
#                                  connect fails at once
#   exec.failed_exec_handoff_us    a task policy, the daemon running: the
#                                  handoff, its answer, and the cancel
#   exec.handoff_us                the last minus failed_exec_kernel_us
set -uo pipefail
: "${NUMAKEEP_BUILD:?tools/bench sets NUMAKEEP_BUILD}"
prog=$NUMAKEEP_BUILD/tests/host/exec_handoff/nk-exec-handoff-host
lib=$NUMAKEEP_BUILD/preload/libnumakeep.so
daemon=$NUMAKEEP_BUILD/daemon/numakeepd
for f in "$prog" "$lib" "$daemon"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "tools/bench exec: $f not built" >&2; exit 1; }
done
tmp=$(mktemp -d)
mkdir "$tmp/cgroup"
echo "cgroup_root = $tmp/cgroup" >"$tmp/numakeepd.conf"
"$daemon" --config "$tmp/numakeepd.conf" --socket "$tmp/s" --foreground --log-level warning \
    2>"$tmp/log" &
dpid=$!
trap 'kill $dpid 2>/dev/null; wait $dpid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -S "$tmp/s" ] && break; sleep 0.05; done
n=2000
run() { env "$@" "$prog" bench $n "${policy:-1}"; }
plain=$(policy=1 run)
no_policy=$(policy=0 run LD_PRELOAD="$lib" NUMAKEEP_SOCKET="$tmp/s")
kernel=$(run LD_PRELOAD="$lib" NUMAKEEP_SOCKET="$tmp/s" NUMAKEEP_SEMANTICS=kernel)
no_daemon=$(run LD_PRELOAD="$lib" NUMAKEEP_SOCKET="$tmp/none")
handoff=$(run LD_PRELOAD="$lib" NUMAKEEP_SOCKET="$tmp/s")
for v in "$plain" "$no_policy" "$kernel" "$no_daemon" "$handoff"; do
    [[ $v =~ ^[0-9.]+$ ]] || { echo "tools/bench exec: a run failed ($v)" >&2; exit 1; }
done
echo "exec.failed_exec_plain_us $plain us"
echo "exec.failed_exec_no_policy_us $no_policy us"
echo "exec.failed_exec_kernel_us $kernel us"
echo "exec.failed_exec_no_daemon_us $no_daemon us"
echo "exec.failed_exec_handoff_us $handoff us"
echo "exec.handoff_us $(awk -v a="$handoff" -v b="$kernel" 'BEGIN { printf "%.2f", a - b }') us"
