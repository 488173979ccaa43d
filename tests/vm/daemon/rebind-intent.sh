#!/bin/sh
# vm case rebind-intent: see tests/vm/daemon/daemon_vm.cpp.
exec nk-daemon-vm rebind-intent
