#!/bin/sh
# vm case ancestor-change: see tests/vm/daemon/daemon_vm.cpp.
exec nk-daemon-vm ancestor-change
