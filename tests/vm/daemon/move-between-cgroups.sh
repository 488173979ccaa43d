#!/bin/sh
# vm case move-between-cgroups: see tests/vm/daemon/daemon_vm.cpp.
exec nk-daemon-vm move-between-cgroups
