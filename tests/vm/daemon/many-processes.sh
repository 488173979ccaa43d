#!/bin/sh
# vm case many-processes: real programs under libnumakeep.so and a private numakeepd;
# see tests/vm/daemon/daemon_vm.cpp.
NK_AGENT=preload exec nk-daemon-vm many-processes
