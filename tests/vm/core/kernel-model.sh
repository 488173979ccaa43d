#!/bin/sh
# Runs the kernel-model check in the guest; it prints one PASS/FAIL line per
# check and exits non-zero on any failure.
exec kernel-model-check
