#!/usr/bin/env bash
# Host test: tools/vm answers each way a guest run can end with its own exit
# status and a one-line reason, never with a hang.
#   tools-vm-exit-codes.sh TOOLS_VM BUILD_DIR
set -u
vm=$1
build=$2
failed=0
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# expect WHAT STATUS STDOUT STDERR_PATTERN -- ARGS...: run tools/vm, check all.
expect() {
    local what=$1 want_rc=$2 want_out=$3 want_err=$4
    shift 5
    local start=$SECONDS rc
    "$vm" --build "$build" --no-build "$@" >"$out" 2>"$err"
    rc=$?
    local got_out got_err
    got_out=$(cat "$out")
    got_err=$(cat "$err")
    if [ "$rc" -eq "$want_rc" ] && [ "$got_out" = "$want_out" ] && [[ $got_err =~ $want_err ]]; then
        echo "PASS: $what: exit $rc in $((SECONDS - start)) s, stderr: $got_err"
    else
        echo "FAIL: $what: exit $rc (want $want_rc), stdout '$got_out' (want '$want_out'), stderr '$got_err' (want /$want_err/)"
        failed=1
    fi
}

expect "bad argument" 125 "" "^tools/vm: unknown argument" -- --frobnicate -- true
expect "command's own status and both streams" 7 "out" "^err$" -- \
    -- sh -c 'echo out; echo err >&2; exit 7'
# The console's end comes first on stderr, the reason last.
expect "hang past --timeout, not run again" 124 "started" \
    "console: .*"$'\n'"tools/vm: timeout: COMMAND still running after 2 s" -- \
    --timeout 2 -- sh -c 'echo started; sleep 1000'
# A panic under COMMAND: run once more in a fresh guest, which panics too.
expect "kernel panic, run again once" 123 "" \
    "^tools/vm: the guest stopped while COMMAND ran, without an exit status; running COMMAND once more.*console: .*Kernel panic - not syncing: sysrq triggered crash.*"$'\n'"tools/vm: guest kernel panic: Kernel panic - not syncing: sysrq triggered crash$" -- \
    -- sh -c 'echo c >/proc/sysrq-trigger; sleep 1000'
exit $failed
