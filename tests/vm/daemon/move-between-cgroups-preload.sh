#!/bin/sh
# vm case move-between-cgroups with programs under the real libnumakeep.so (its agent
# does the rebinds): see tests/vm/daemon/daemon_vm.cpp.
NK_AGENT=preload exec nk-daemon-vm move-between-cgroups
